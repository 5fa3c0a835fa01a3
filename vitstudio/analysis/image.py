"""Images in and out: reading files safely, fitting them to a model, and (de)normalising."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data.images import open_image
from ..models.catalogue import IMAGENET_MEAN, IMAGENET_STD  # used when a model's own normalisation is unknown
from ._arrays import as_numpy, pair


def load_image(path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, exactly as training reads it (`data.open_image`: upright,
    8-bit); a missing, unreadable or oversized file raises ValueError naming it."""
    return np.asarray(open_image(path))


def fit_image(image, size, crop_pct: float = 1.0) -> np.ndarray:
    """Resize (bicubic) so the image covers `size` (H, W) / `crop_pct` (timm's evaluation crop, e.g. 0.9 for
    pretrained weights), then crop the centre `size`: (H, W, 3) uint8."""
    img = Image.fromarray(np.asarray(image, dtype=np.uint8))
    H, W = pair(size)
    scale = max(H / img.height, W / img.width) / crop_pct
    w, h = max(W, round(img.width * scale)), max(H, round(img.height * scale))
    img = img.resize((w, h), Image.BICUBIC)
    left, top = (w - W) // 2, (h - H) // 2
    return np.asarray(img.crop((left, top, left + W, top + H)))


def normalize(image, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float tensor with the model's normalisation."""
    x = torch.tensor(np.asarray(image, dtype=np.uint8)).permute(2, 0, 1).float().div(255)
    x = (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    return x.unsqueeze(0)


def denormalize(x, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """A normalised (3, H, W) (or (1, 3, H, W)) image back to (H, W, 3) uint8, clipped."""
    x = as_numpy(x).astype(np.float64).reshape(3, *np.shape(x)[-2:])
    x = x * np.asarray(std).reshape(3, 1, 1) + np.asarray(mean).reshape(3, 1, 1)
    return (x.transpose(1, 2, 0).clip(0, 1) * 255).round().astype(np.uint8)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def bundled_images() -> list[Path]:
    """The bundled sample images (`resources/images/`, credited in CREDITS.md there), sorted by name:
    photographs, then `shape_*.png` drawn by the built-in dataset's generator."""
    folder = resources.files("vitstudio.resources") / "images"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.lower().endswith(IMAGE_SUFFIXES))
