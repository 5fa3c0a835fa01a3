"""`build_datasets`: every dataset kind behind one call (`datasets_from_config` for a config's data section),
and `sample_images` for showing a few."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from torch.utils.data import Dataset

from ..user_dirs import user_cache_dir
from .datasets import ArrayDataset, PILDataset
from .folder import ImageFiles, scan_image_folder
from .folder_arrays import load_folder_arrays, rgb_pixels, small_images
from .public import SOURCES, load_public
from .shapes import CLASSES, load_shapes
from .transforms import IMAGENET_MEAN, IMAGENET_STD, Augmentation

#: Names `build_datasets` accepts.
DATASETS = ("builtin", *SOURCES, "folder")


@dataclass
class DatasetBundle:
    """A train and a val dataset, each yielding `(normalised float CHW tensor, int label)`."""

    train: Dataset
    val: Dataset
    num_classes: int
    class_names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]


def build_datasets(
    name: str = "builtin",
    root: str | Path | None = None,
    img_size: int = 32,
    augment: str = "standard",
    val_fraction: float = 0.1,
    seed: int = 0,
    hflip: bool | None = None,
    **kw,
) -> DatasetBundle:
    """Build the train and val datasets of `name` at `img_size` x `img_size`.

    name: 'builtin' (the synthetic shapes; the default, no download), 'cifar10', 'cifar100', 'mnist',
        'fashion_mnist', 'stl10', 'flowers102', 'pets' (torchvision's datasets, read from `root`), or
        'folder' (any ImageFolder-layout folder at `root`).
    root: where the files are. Public datasets default to `<user cache>/datasets` (see `user_cache_dir`);
        'folder' requires it.
    augment: training augmentation, 'none', 'standard' (crop + flip) or 'deit' (plus RandAugment m9 and
        random erasing 0.25; pair it with `build_batch_augment('deit', num_classes)` for Mixup/CutMix and
        label smoothing). Val is never augmented. 'none' means the whole image, resized, in training and val.
    val_fraction: builtin: val size = round(num_train * val_fraction); folder without a val/ subfolder:
        the share of each class held out (split by `seed`). Public datasets use their official test split.
    seed: builtin: which images are drawn; folder: the split.
    hflip: random horizontal flips in training; None chooses from the dataset: off for MNIST and for folders
        of small images (digits, glyphs, icons: a mirror can change their meaning), on for the others.

    Keyword arguments:
        num_train (builtin, default 20000): training images; classes are balanced.
        cache_dir (builtin, folder): where drawn or decoded images are cached (default `user_cache_dir()`,
            `$VITSTUDIO_CACHE`).
        download (public, default True): fetch missing files with torchvision; without network a
            `DatasetNotFound` error names the folder and the files to put there.
        mean, std: override the normalisation constants.
        randaugment_ops, randaugment_magnitude, erasing: override the DeiT recipe's numbers.

    Small images (builtin, CIFAR, MNIST, Fashion-MNIST, STL-10) are held in memory as uint8 arrays,
    resized on the fly to img_size and, for training, randomly cropped from the image zero-padded by
    img_size // 8; photos (Flowers-102, Pets, folders of larger images) use RandomResizedCrop for training
    and a resize + centre crop for val. A folder of small images (at most 96 px a side) is decoded once,
    cached like the built-in dataset, served from memory like CIFAR, and normalised with its own mean and
    std. Greyscale, palette, alpha and 16-bit images become 8-bit RGB.
    """
    aug_kw = {k: kw.pop(k) for k in ("randaugment_ops", "randaugment_magnitude", "erasing") if k in kw}
    norm = {k: tuple(kw.pop(k)) for k in ("mean", "std") if k in kw}
    if name == "builtin":
        num_train = kw.pop("num_train", 20000)
        cache_dir = kw.pop("cache_dir", None)
        _no_extra(name, kw)
        train_x, train_y = load_shapes("train", num_train, img_size, seed, cache_dir)
        val_x, val_y = load_shapes("val", max(1, round(num_train * val_fraction)), img_size, seed, cache_dir)
        mean, std = _channel_stats(train_x[:2000])
        return _in_memory(
            train_x,
            train_y,
            val_x,
            val_y,
            list(CLASSES),
            augment,
            img_size,
            aug_kw,
            norm.get("mean", mean),
            norm.get("std", std),
            True if hflip is None else hflip,
        )
    if name in SOURCES:
        download = kw.pop("download", True)
        _no_extra(name, kw)
        root = Path(root) if root is not None else user_cache_dir() / "datasets"
        src = SOURCES[name]
        mean, std = norm.get("mean", src.mean), norm.get("std", src.std)
        train_x, train_y, classes = load_public(name, root, train=True, download=download)
        val_x, val_y, _ = load_public(name, root, train=False, download=False)
        hflip = src.hflip if hflip is None else hflip
        if src.in_memory:
            return _in_memory(train_x, train_y, val_x, val_y, classes, augment, img_size, aug_kw, mean, std, hflip)
        return _photos(train_x, val_x, classes, augment, img_size, aug_kw, mean, std, hflip)
    if name == "folder":
        cache_dir = kw.pop("cache_dir", None)
        _no_extra(name, kw)
        if root is None:
            raise ValueError("dataset 'folder' needs a root: the folder holding <class>/<image> (or train/ and val/)")
        train, val, classes = scan_image_folder(root, val_fraction, seed)
        small, fits = small_images(train + val)
        hflip = not small if hflip is None else hflip
        if not fits:  # photos, or too many small images to hold: read file by file
            train_files, val_files = ImageFiles(train), ImageFiles(val)
            mean, std = _channel_stats(_spread_pixels(train_files)) if small else (IMAGENET_MEAN, IMAGENET_STD)
            mean, std = norm.get("mean", mean), norm.get("std", std)
            crop = "pad" if small else "resized"
            return _photos(train_files, val_files, classes, augment, img_size, aug_kw, mean, std, hflip, crop)
        files = sorted(train + val)  # one cache entry whatever the split
        images = load_folder_arrays(files, cache_dir)
        where = {sample: i for i, sample in enumerate(files)}
        train_x, val_x = (images[[where[s] for s in part]] for part in (train, val))
        mean, std = _channel_stats(train_x[np.linspace(0, len(train_x) - 1, min(len(train_x), 5000)).astype(int)])
        return _in_memory(
            train_x,
            [label for _, label in train],
            val_x,
            [label for _, label in val],
            classes,
            augment,
            img_size,
            aug_kw,
            norm.get("mean", mean),
            norm.get("std", std),
            hflip,
            bases=(ImageFiles(train), ImageFiles(val)),
        )
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def datasets_from_config(d, seed: int = 0, download: bool | None = None, **norm) -> DatasetBundle:
    """The datasets a config's data section `d` describes; `download=False` never fetches (a preview, an analysis);
    `norm`: `mean` and `std` that replace the dataset's (those of the pretrained weights a model starts from)."""
    if d.name == "builtin":
        extra = {"num_train": d.num_train}
    elif d.name == "folder":
        extra = {}
    else:
        extra = {"download": d.download if download is None else download}
    return build_datasets(
        name=d.name,
        root=d.root,
        img_size=d.img_size,
        augment=d.augment,
        val_fraction=d.val_fraction,
        seed=seed,
        hflip=d.hflip,
        **extra,
        **norm,
    )


def _no_extra(name: str, kw: dict) -> None:
    if kw:
        raise TypeError(f"build_datasets({name!r}) got unexpected keyword arguments: {', '.join(sorted(kw))}")


def _channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in [0, 1]; a channel that never varies gets a std of one grey level."""
    x = images.reshape(-1, images.shape[-1]).astype(np.float32) / 255
    return tuple(round(float(v), 4) for v in x.mean(0)), tuple(round(max(float(v), 1 / 255), 4) for v in x.std(0))


def _spread_pixels(files: ImageFiles, n: int = 500) -> np.ndarray:
    """The RGB pixels of `n` evenly spaced images, as one (1, P, 3) array for `_channel_stats`."""
    idx = np.unique(np.linspace(0, len(files) - 1, min(n, len(files))).astype(int))
    return np.concatenate([rgb_pixels(files, i).reshape(-1, 3) for i in idx])[None]


def _augmentations(augment, img_size, crop, aug_kw, mean, std, hflip):
    common = dict(img_size=img_size, mean=tuple(mean), std=tuple(std), crop=crop, hflip=hflip, **aug_kw)
    return Augmentation(augment, train=True, **common), Augmentation(augment, train=False, **common)


def _in_memory(
    train_x, train_y, val_x, val_y, classes, augment, img_size, aug_kw, mean, std, hflip, bases=(None, None)
) -> DatasetBundle:
    train_aug, val_aug = _augmentations(augment, img_size, "pad", aug_kw, mean, std, hflip)
    return DatasetBundle(
        ArrayDataset(train_x, train_y, train_aug, base=bases[0]),
        ArrayDataset(val_x, val_y, val_aug, base=bases[1]),
        len(classes),
        list(classes),
        tuple(mean),
        tuple(std),
    )


def _photos(train, val, classes, augment, img_size, aug_kw, mean, std, hflip, crop="resized") -> DatasetBundle:
    train_aug, val_aug = _augmentations(augment, img_size, crop, aug_kw, mean, std, hflip)
    return DatasetBundle(
        PILDataset(train, train_aug), PILDataset(val, val_aug), len(classes), list(classes), tuple(mean), tuple(std)
    )


class Sample(NamedTuple):
    image: np.ndarray  # uint8 (H, W, 3), un-normalised, evaluation geometry
    label: int
    name: str


def sample_images(bundle: DatasetBundle, n: int = 16, split: str = "val", seed: int = 0) -> list[Sample]:
    """`n` labelled images of `split` ('train' or 'val'), chosen by `seed`, for a sample grid."""
    ds = {"train": bundle.train, "val": bundle.val}[split]
    idx = np.random.default_rng(seed).permutation(len(ds))[:n]
    return [Sample(image, label, bundle.class_names[label]) for image, label in map(ds.raw, idx.tolist())]
