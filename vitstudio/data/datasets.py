"""The two dataset shapes everything is served as: uint8 arrays in memory, or images decoded on demand.

Both yield `(normalised float CHW tensor, int label)` and offer `raw(i)`: `(uint8 HWC image, label)`,
un-normalised, at evaluation geometry, for showing.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .images import to_rgb
from .transforms import Augmentation


class ArrayDataset(Dataset):
    """Images held in memory as uint8 (N, H, W, C), C = 1 or 3, with int64 labels.

    The GPU-resident loader reads `images`, `labels` and `aug` directly and applies `aug` per batch.
    `base`: the files they were decoded from, for a folder (`ImageFiles`: each image's path and label).
    """

    def __init__(self, images, labels, aug: Augmentation, base=None):
        self.images = torch.as_tensor(images)
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[-1] not in (1, 3):
            raise ValueError(
                f"images must be uint8 (N, H, W, 1 or 3), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        self.labels = torch.as_tensor(labels, dtype=torch.int64)
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        self.aug = aug
        self.base = base
        self.transform = aug.build()
        self._display = aug.display()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images[i].permute(2, 0, 1)), int(self.labels[i])

    def raw(self, i: int) -> tuple[np.ndarray, int]:
        return self._display(self.images[i].permute(2, 0, 1)).permute(1, 2, 0).numpy(), int(self.labels[i])


class PILDataset(Dataset):
    """Wraps a dataset of `(PIL image, label)` (an image folder, torchvision's Flowers-102, ...)."""

    def __init__(self, base, aug: Augmentation):
        self.base = base
        self.aug = aug
        self.transform = aug.build()
        self._display = aug.display()

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img, label = self.base[i]
        return self.transform(to_rgb(img)), int(label)

    def raw(self, i: int) -> tuple[np.ndarray, int]:
        img, label = self.base[i]
        return self._display(to_rgb(img)).permute(1, 2, 0).numpy(), int(label)
