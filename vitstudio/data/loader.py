"""Loaders the trainer calls: one epoch order for every path (shuffled by seed and epoch, optionally with
DeiT's repeated augmentation and a distributed shard), served by a DataLoader or resident on the device."""

from __future__ import annotations

import math
import os

import torch
from torch.utils.data import DataLoader, Sampler

from .device import DeviceLoader, fits_on_device


class EpochSampler(Sampler[int]):
    """Indices for one epoch: a permutation seeded by (seed, epoch), or 0..n-1 when `shuffle` is false.

    repeats > 1 is DeiT's repeated augmentation (RASampler): each drawn index appears `repeats` times in a
    row, and the epoch keeps its length, so it covers about n / repeats distinct images, each seen under
    `repeats` augmentations. With num_replicas > 1 the order is padded to a multiple of the replica count
    and rank r takes every num_replicas-th index from r, as DistributedSampler does (repeated copies then
    land on different ranks). Call `set_epoch(e)` before each epoch.
    """

    def __init__(
        self, n: int, shuffle: bool = True, seed: int = 0, repeats: int = 1, num_replicas: int = 1, rank: int = 0
    ):
        if repeats < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"need repeats >= 1 and 0 <= rank < num_replicas (got {repeats}, {rank}, {num_replicas})")
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.repeats, self.num_replicas, self.rank = repeats, num_replicas, rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.n / self.num_replicas)

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        else:
            order = torch.arange(self.n)
        order = order.repeat_interleave(self.repeats)
        total = len(self) * self.num_replicas * self.repeats
        order = torch.cat([order, order[: total - len(order)]]) if total > len(order) else order
        return iter(order[self.rank :: self.num_replicas][: len(self)].tolist())


def default_workers(device: str | torch.device) -> int:
    """Worker processes for a DataLoader: most cores when feeding a GPU; on a CPU, one (the rest train)."""
    cores = os.cpu_count() or 1
    return min(8, max(1, cores - 1)) if torch.device(device).type == "cuda" else min(2, max(0, cores // 2))


def build_loader(
    dataset,
    batch_size: int,
    *,
    train: bool,
    device: str | torch.device = "cpu",
    resident: bool | str = "auto",
    seed: int = 0,
    repeats: int = 1,
    num_replicas: int = 1,
    rank: int = 0,
    num_workers: int | None = None,
    drop_last: bool | None = None,
):
    """An iterable of `(images, labels)` batches over `dataset` (a `DatasetBundle`'s train or val).

    train: shuffle (by seed and epoch) and drop the last partial batch; for val, keep the order and all images.
    resident: 'auto' serves in-memory datasets from `device` memory when they fit (`fits_on_device`),
        True/'on' insists (ValueError if impossible), False/'off' always uses a DataLoader.
    repeats, num_replicas, rank: repeated augmentation and distributed sharding (`EpochSampler`).
    num_workers: DataLoader worker processes (default `default_workers(device)`); pinned memory when the
        device is CUDA; workers persist across epochs.
    Call `loader.sampler.set_epoch(epoch)` before each epoch. Resident batches are already on `device`;
    DataLoader batches are on the CPU (pinned), ready for `.to(device, non_blocking=True)`.
    """
    resident = {"auto": "auto", "on": True, "off": False}.get(resident, resident)
    if resident not in ("auto", True, False):
        raise ValueError(f"resident must be 'auto', 'on' or 'off', got {resident!r}")
    drop_last = train if drop_last is None else drop_last
    sampler = EpochSampler(
        len(dataset), shuffle=train, seed=seed, repeats=repeats if train else 1, num_replicas=num_replicas, rank=rank
    )
    fits = fits_on_device(dataset, device)
    if resident is True and not fits:
        raise ValueError(
            f"{type(dataset).__name__} cannot be served resident on {device}: only in-memory datasets "
            "(built-in, CIFAR, MNIST, Fashion-MNIST, STL-10, folders of small images) that fit in half the free "
            "memory can"
        )
    if resident is True or (resident == "auto" and fits):
        return DeviceLoader(dataset, batch_size, sampler, device=device, drop_last=drop_last, seed=seed)
    workers = default_workers(device) if num_workers is None else num_workers
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=workers,
        pin_memory=torch.device(device).type == "cuda",
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )
