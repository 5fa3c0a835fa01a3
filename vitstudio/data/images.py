"""Opening image files: the one function that training, the inspector and the CLI read pixels through.

`open_image` applies the EXIF orientation (a phone photo stands the way it was taken), refuses images
too large to decode safely (a decompression bomb) with a message, and converts every mode to 8-bit RGB
(`to_rgb`), so every part of vitstudio sees the same pixels for the same file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class ImageFileError(ValueError):
    """An image file that cannot be opened: missing, unreadable, or too large to decode safely."""


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode: 16/32-bit and float greyscale rescaled (not clipped), palette and
    alpha composited onto white, CMYK/YCbCr/L/1 converted."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        a = np.clip(a / top * 255 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        img = img.convert("RGBA")
        back = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(back, img).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def open_image(path: str | Path) -> Image.Image:
    """The image file at `path` as an upright 8-bit RGB PIL image, decoded; `ImageFileError` names the file
    when it is missing, unreadable, or more pixels than `Image.MAX_IMAGE_PIXELS` (a decompression bomb)."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            if img.width * img.height > Image.MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError(f"{img.width} x {img.height} pixels")
            img.load()
            return to_rgb(ImageOps.exif_transpose(img))
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such image file") from None
    except Image.DecompressionBombError as e:
        raise ImageFileError(
            f"{path}: refused, the image is too large to decode safely ({e}; the limit is "
            f"{Image.MAX_IMAGE_PIXELS} pixels, a guard against decompression bombs)"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageFileError(f"{path}: not a readable image ({e})") from None
