"""A folder of small images, decoded once into one uint8 array and cached, then served like CIFAR.

Small images (at most `SMALL_SIDE` px a side, like the public datasets kept in memory) are decoded the
way `ImageFiles` decodes them, brought to the folder's most common size, and stored in the per-user cache
under a key made of every file's path, label, size and modification time: adding, removing, replacing or
relabelling a file decodes the folder again. A file that fails to decode is logged the first time and
replaced by the next good image, as on the file-by-file path.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

from .cache import cached_arrays
from .datasets import to_rgb
from .folder import ImageFiles

SMALL_SIDE = 96  # px: up to STL-10's images, a folder's images are kept whole and cropped from a padded copy
MAX_BYTES = 2 << 30  # a folder of small images that decodes to more is read file by file each epoch
PROBE = 64  # evenly spaced files whose headers tell small images from photos
VERSION = 1  # bump when decoding changes: it is part of the cache key


def _probe_sizes(samples: list[tuple[Path, int]]) -> list[tuple[int, int]]:
    """(width, height) of up to PROBE evenly spaced files, from their headers (nothing is decoded)."""
    sizes = []
    for i in np.unique(np.linspace(0, len(samples) - 1, min(PROBE, len(samples))).round().astype(int)):
        try:
            with Image.open(samples[i][0]) as img:
                sizes.append(img.size)
        except Exception:  # a corrupt file: decoding reports it
            continue
    return sizes


def small_images(samples: list[tuple[Path, int]]) -> tuple[bool, bool]:
    """(small, fits): whether the probed images are all at most SMALL_SIDE a side, and whether the whole
    folder decoded as uint8 RGB at the largest probed size stays under MAX_BYTES."""
    sizes = _probe_sizes(samples)
    small = bool(sizes) and max(max(s) for s in sizes) <= SMALL_SIDE
    fits = small and len(samples) * max(w * h for w, h in sizes) * 3 <= MAX_BYTES
    return small, fits


def rgb_pixels(files: ImageFiles, i: int) -> np.ndarray:
    """Image `i` of `files` as uint8 (H, W, 3), decoded as the file-by-file path decodes it."""
    return np.asarray(to_rgb(files[i][0]))


def _decode(samples: list[tuple[Path, int]]) -> dict[str, np.ndarray]:
    files = ImageFiles(samples)
    decoded = [rgb_pixels(files, i) for i in range(len(files))]
    (h, w), _ = Counter(a.shape[:2] for a in decoded).most_common(1)[0]
    images = np.empty((len(decoded), h, w, 3), np.uint8)
    for i, a in enumerate(decoded):
        if a.shape[:2] != (h, w):  # the odd one out, squeezed to the common size as the loader would
            a = F.resize(torch.from_numpy(a.copy()).permute(2, 0, 1), [h, w], antialias=True).permute(1, 2, 0).numpy()
        images[i] = a
    return {"images": images}


def load_folder_arrays(samples: list[tuple[Path, int]], cache_dir: str | Path | None = None) -> np.ndarray:
    """uint8 (N, H, W, 3): the images of `samples` in their order, from the cache or decoded now."""
    listing = hashlib.sha256()
    for path, label in samples:
        st = path.stat()
        listing.update(f"{path.resolve()}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    key = {"dataset": "folder", "version": VERSION, "files": listing.hexdigest()}
    return cached_arrays(key, lambda: _decode(samples), cache_dir=cache_dir)["images"]
