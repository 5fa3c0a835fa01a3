"""Any folder of images in the ImageFolder layout: `root/<class>/<image>`, or `root/train/<class>/...` with
an optional `root/val/<class>/...`. Without a val folder, a deterministic per-class split by seed.

Every file is checked once, cheaply (PIL parses its header and structure without decoding), when the
folder is scanned; files that fail are skipped and logged by name with a count. A file that passes the
check but fails to decode later (a truncated JPEG) is logged and replaced by the next good image, so
training never crashes on a bad file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .images import open_image

log = logging.getLogger(__name__)

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pbm", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _is_readable(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            img.verify()
        return True
    except Exception:
        return False


def _class_dirs(root: Path) -> list[str]:
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))


def _scan(root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    """(path, label) for every readable image under root/<class>/ (recursively); logs the rest."""
    samples, bad = [], []
    for label, name in enumerate(classes):
        for dirpath, dirnames, filenames in os.walk(root / name, followlinks=True):
            dirnames.sort()
            for f in sorted(filenames):
                if f.startswith(".") or not f.lower().endswith(IMG_EXTENSIONS):
                    continue
                path = Path(dirpath) / f
                (samples if _is_readable(path) else bad).append((path, label))
    if bad:
        log.warning(
            "skipped %d unreadable or corrupt image(s) under %s: %s",
            len(bad),
            root,
            ", ".join(str(p.relative_to(root)) for p, _ in bad),
        )
    return samples


def _split(samples: list[tuple[Path, int]], val_fraction: float, seed: int):
    """Per-class random split: each class gives round(n * val_fraction) images (at least one if it has two)."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    labels = np.array([label for _, label in samples])
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_val = round(len(idx) * val_fraction)
        if val_fraction > 0 and len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        val += [samples[i] for i in sorted(idx[:n_val])]
        train += [samples[i] for i in sorted(idx[n_val:])]
    return train, val


def scan_image_folder(root: str | Path, val_fraction: float = 0.1, seed: int = 0):
    """(train samples, val samples, class names); samples are lists of (path, label)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    train_root = root / "train" if (root / "train").is_dir() else root
    classes = _class_dirs(train_root)
    if not classes:
        raise FileNotFoundError(f"no class folders in {train_root}: expected {train_root}/<class name>/<image files>")
    train = _scan(train_root, classes)
    if not train:
        raise FileNotFoundError(
            f"no readable images in {train_root}/<class name>/ (extensions: {' '.join(IMG_EXTENSIONS)})"
        )
    val_root = next((root / v for v in ("val", "valid", "validation") if (root / v).is_dir()), None)
    if train_root is root or val_root is None:
        train, val = _split(train, val_fraction, seed)
    else:
        unknown = sorted(set(_class_dirs(val_root)) - set(classes))
        if unknown:
            raise ValueError(f"{val_root} has classes that {train_root} lacks: {', '.join(unknown)}")
        val = _scan(val_root, classes)
    counts = np.bincount([label for _, label in train], minlength=len(classes))
    if (counts == 0).any():
        empty = [c for c, n in zip(classes, counts) if n == 0]
        log.warning("classes with no training images in %s: %s", train_root, ", ".join(empty))
    return train, val, classes


class ImageFiles:
    """A list of (path, label) served as (PIL image, label), upright 8-bit RGB (see `open_image`).

    An image that fails to decode is logged once and replaced by the next one that decodes.
    """

    def __init__(self, samples: list[tuple[Path, int]]):
        self.samples = samples
        self._failed: set[int] = set()

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        for k in range(len(self.samples)):
            j = (i + k) % len(self.samples)
            if j in self._failed:
                continue
            path, label = self.samples[j]
            try:
                return open_image(path), label
            except Exception as e:
                self._failed.add(j)
                log.warning("cannot decode %s (%s); using the next image instead", path, e)
        raise RuntimeError("no image in this folder could be decoded")
