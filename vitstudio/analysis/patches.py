"""How an image becomes tokens: the patch grid and the flattened patch sequence."""

from __future__ import annotations

import numpy as np

from ._arrays import as_numpy, pair


def patchify(image, patch_size) -> np.ndarray:
    """Cut an (H, W, C) image into its patch grid (gh, gw, ph, pw, C), as the patch embedding does.

    `patch_size` is an int or (ph, pw); H and W must be multiples of it.
    """
    image = as_numpy(image)
    if image.ndim != 3:
        raise ValueError(f"expected an (H, W, C) image, got shape {image.shape}")
    ph, pw = pair(patch_size)
    H, W, C = image.shape
    if H % ph or W % pw:
        raise ValueError(f"image {H}x{W} is not divisible by the patch size {ph}x{pw}")
    return image.reshape(H // ph, ph, W // pw, pw, C).transpose(0, 2, 1, 3, 4)


def patch_sequence(patches: np.ndarray) -> np.ndarray:
    """The patch grid (gh, gw, ph, pw, C) flattened row by row to (gh*gw, ph, pw, C): the token order."""
    return patches.reshape(-1, *patches.shape[2:])


def unpatchify(patches: np.ndarray) -> np.ndarray:
    """Reassemble a patch grid (gh, gw, ph, pw, C) into the (gh*ph, gw*pw, C) image."""
    gh, gw, ph, pw, C = patches.shape
    return patches.transpose(0, 2, 1, 3, 4).reshape(gh * ph, gw * pw, C)
