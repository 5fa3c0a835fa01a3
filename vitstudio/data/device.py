"""The GPU-resident path for datasets that fit in device memory (built-in shapes, CIFAR, MNIST, ...).

The whole dataset lives on the device as uint8; each batch is gathered, augmented and normalised there
with tensor ops: no DataLoader worker, no host-to-device copy of images in the loop. The augmentations
are those of the per-image path (`Augmentation.build()`), drawn independently per image: random crop
from the zero-padded image and horizontal flip (one gather), RandAugment (images grouped by the op they
drew, each group transformed by torchvision's own op), random erasing with per-pixel normal noise.
On the CPU the same class serves in-memory data without worker processes.
"""

from __future__ import annotations

import math

import torch
from torchvision.transforms.v2 import functional as F

from .datasets import ArrayDataset
from .transforms import Augmentation


def fits_on_device(dataset, device: str | torch.device, fraction: float = 0.5) -> bool:
    """Whether `dataset` can be served resident on `device`: an in-memory dataset whose uint8 images
    take at most `fraction` of the device's free memory (always true on the CPU, where they already are)."""
    if not isinstance(dataset, ArrayDataset) or dataset.aug.crop != "pad":
        return False
    device = torch.device(device)
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return dataset.images.numel() <= fraction * free
    return False


def _crop_flip(x: torch.Tensor, pad: int, g: torch.Generator, hflip: bool = True) -> torch.Tensor:
    """Per-image random crop of the zero-padded batch and (with `hflip`) horizontal flip, as one gather.
    x: (B, C, H, W)."""
    b, _, h, w = x.shape
    top = torch.randint(0, 2 * pad + 1, (b,), generator=g).to(x.device)
    left = torch.randint(0, 2 * pad + 1, (b,), generator=g).to(x.device)
    flip = (torch.rand(b, generator=g) < (0.5 if hflip else 0.0)).to(x.device)  # drawn either way: same stream
    rows = top[:, None] + torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = left[:, None] + torch.where(flip[:, None], w - 1 - cols, cols)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)


def _randaugment(x: torch.Tensor, aug: Augmentation, g: torch.Generator) -> torch.Tensor:
    """torchvision's RandAugment with every image drawing its own ops and signs. x: uint8 (B, C, H, W)."""
    ra = aug.randaugment()
    space = list(ra._AUGMENTATION_SPACE.items())
    h, w = x.shape[-2:]
    x = x.clone()
    for _ in range(ra.num_ops):
        op = torch.randint(len(space), (len(x),), generator=g)
        negative = torch.rand(len(x), generator=g) <= 0.5
        for k, (name, (magnitudes_fn, signed)) in enumerate(space):
            magnitudes = magnitudes_fn(ra.num_magnitude_bins, h, w)
            magnitude = float(magnitudes[ra.magnitude]) if magnitudes is not None else 0.0
            for sign in (1, -1) if signed and magnitude != 0 else (1,):
                chosen = (op == k) & (negative == (sign < 0)) if signed and magnitude != 0 else op == k
                idx = chosen.nonzero()[:, 0].to(x.device)
                if len(idx):
                    x[idx] = ra._apply_image_or_video_transform(
                        x[idx], name, sign * magnitude, interpolation=ra.interpolation, fill=ra._fill
                    )
    return x


def _erase(
    x: torch.Tensor,
    p: float,
    g: torch.Generator,
    noise_g: torch.Generator,
    scale=(0.02, 0.33),
    ratio=(0.3, 3.3),
    attempts: int = 10,
) -> torch.Tensor:
    """Per-image random erasing with normal noise (v2.RandomErasing(value='random')). x: float (B, C, H, W)."""
    b, _, h, w = x.shape
    area = h * w * torch.empty(b, attempts).uniform_(*scale, generator=g)
    aspect = torch.exp(torch.empty(b, attempts).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=g))
    eh, ew = (area * aspect).sqrt().round().long(), (area / aspect).sqrt().round().long()
    ok = (eh < h) & (ew < w)
    first = ok.float().argmax(1)  # torchvision keeps the first attempt that fits
    do = (torch.rand(b, generator=g) < p) & ok.any(1)
    eh, ew = eh.gather(1, first[:, None])[:, 0], ew.gather(1, first[:, None])[:, 0]
    top = (torch.rand(b, generator=g) * (h - eh + 1)).long()
    left = (torch.rand(b, generator=g) * (w - ew + 1)).long()
    r, col = torch.arange(h), torch.arange(w)
    inside = (
        (r[None, :, None] >= top[:, None, None])
        & (r[None, :, None] < (top + eh)[:, None, None])
        & (col[None, None, :] >= left[:, None, None])
        & (col[None, None, :] < (left + ew)[:, None, None])
    )
    mask = (inside & do[:, None, None])[:, None].to(x.device)
    noise = torch.randn(x.shape, generator=noise_g, device=x.device, dtype=x.dtype)
    return torch.where(mask, noise, x)


def augment_batch(
    x: torch.Tensor, aug: Augmentation, g: torch.Generator, noise_g: torch.Generator | None = None
) -> torch.Tensor:
    """What `aug.build()` does to one image, done to a uint8 (B, H, W, C) batch on its device.

    `g` (a CPU generator) draws every per-image decision; `noise_g` (on x's device) the erasing noise.
    Returns normalised float32 (B, 3, img_size, img_size).
    """
    if aug.crop != "pad":
        raise ValueError("the resident path serves images kept whole (crop='pad'); photos need the DataLoader path")
    size = aug.img_size
    x = x.permute(0, 3, 1, 2)
    if x.shape[1] == 1:
        x = F.grayscale_to_rgb(x)
    x = F.resize(x, [size, size], antialias=True)
    if aug.random:
        x = _crop_flip(x, aug.padding, g, aug.hflip)
        if aug.augment == "deit":
            x = _randaugment(x, aug, g)
    x = F.normalize(F.to_dtype(x, torch.float32, scale=True), list(aug.mean), list(aug.std))
    if aug.random and aug.augment == "deit" and aug.erasing > 0:
        x = _erase(x, aug.erasing, g, noise_g if noise_g is not None else torch.Generator(x.device).manual_seed(0))
    return x


class DeviceLoader:
    """Batches of an `ArrayDataset` served from `device` memory: `(images float (B, 3, S, S), labels (B,))`,
    both on `device`.

    `sampler` (an `EpochSampler`) gives the order; call `loader.sampler.set_epoch(e)` before each epoch,
    which also reseeds the augmentations, so an epoch is reproducible from (seed, epoch) alone.
    """

    def __init__(
        self,
        dataset: ArrayDataset,
        batch_size: int,
        sampler,
        device: str | torch.device = "cpu",
        drop_last: bool = False,
        seed: int = 0,
    ):
        self.device = torch.device(device)
        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)
        self.aug = dataset.aug
        self.batch_size = batch_size
        self.sampler = sampler
        self.drop_last = drop_last
        self.seed = seed

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        epoch = getattr(self.sampler, "epoch", 0)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        noise_g = torch.Generator(self.device).manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.as_tensor(list(self.sampler), dtype=torch.long).to(self.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield augment_batch(self.images[idx], self.aug, g, noise_g), self.labels[idx]
