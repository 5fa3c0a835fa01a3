"""How MAE fills in what it never saw: the authors' four panels for a mask ratio and a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..models import family_of
from .image import IMAGENET_MEAN, IMAGENET_STD, denormalize

NORM_PIX_NOTE = (
    "This model predicts each patch normalised by that patch's own mean and variance (norm_pix_loss). "
    "A masked patch's statistics are unknown, so its prediction cannot be put back into true colours; "
    "as in the MAE authors' demo it is shown as if it were a normalised image: shapes and edges are "
    "meaningful, each patch's brightness and contrast are not."
)


@dataclass
class MAEPanels:
    """original, masked input, reconstruction, reconstruction with the visible patches pasted back: (H, W, 3) uint8."""

    original: np.ndarray
    masked: np.ndarray
    reconstruction: np.ndarray
    pasted: np.ndarray
    mask_ratio: float
    seed: int
    note: str  # empty, or why the reconstruction's colours are not the true ones

    def panels(self) -> dict[str, np.ndarray]:
        return {
            "original": self.original,
            "masked": self.masked,
            "reconstruction": self.reconstruction,
            "reconstruction + visible": self.pasted,
        }


def masking_noise(model, seed: int, batch: int = 1) -> torch.Tensor:
    """The per-patch noise MAE argsorts to choose its mask, drawn reproducibly from `seed`."""
    gh, gw = model.grid_size
    return torch.rand(batch, gh * gw, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def mae_reconstruction(
    model, x: torch.Tensor, mask_ratio: float = 0.75, seed: int = 0, mean=IMAGENET_MEAN, std=IMAGENET_STD
) -> MAEPanels:
    """Mask the normalised image `x` (1, 3, H, W) with `mask_ratio` and `seed`, and reconstruct it.

    Uses `model.reconstruct(x, mask_ratio, noise)`; the four panels are de-normalised with the
    model's `mean`/`std`. For a norm_pix model the reconstruction is the per-patch normalised
    prediction, never one un-normalised with the hidden patches' own statistics, which would leak
    what the model was not shown.
    """
    if not family_of(model).reconstructs:
        raise TypeError(f"{type(model).__name__} is not a masked autoencoder (it has no reconstruct())")
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    noise = masking_noise(model, seed).to(x.device)
    out = model.reconstruct(x, mask_ratio=mask_ratio, noise=noise)
    return MAEPanels(
        original=denormalize(x[0], mean, std),
        masked=denormalize(out["masked"][0], mean, std),
        reconstruction=denormalize(out["pred"][0], mean, std),
        pasted=denormalize(out["pasted"][0], mean, std),
        mask_ratio=mask_ratio,
        seed=seed,
        note=NORM_PIX_NOTE if out["norm_pix"] else "",
    )
