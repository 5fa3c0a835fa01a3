"""What one inspection holds: how a model turns an image into tokens, and the analyses of one image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .filters import FilterComponents
from .predictions import Prediction


@dataclass
class Geometry:
    """How a model turns an image into tokens."""

    img_size: tuple[int, int]  # input (H, W) in pixels
    grid: tuple[int, int]  # patch grid (gh, gw)
    num_prefix_tokens: int  # class, distillation, ... tokens before the patches
    readout_token: int | None = 0  # the query the head reads: a prefix token, or None for the patch tokens' mean

    @property
    def patch_px(self) -> tuple[int, int]:
        """Pixels one token covers (a hybrid's total stride)."""
        return self.img_size[0] // self.grid[0], self.img_size[1] // self.grid[1]


def geometry(model) -> Geometry:
    return Geometry(
        tuple(model.patch_embed.img_size), tuple(model.grid_size), int(model.num_prefix_tokens), model.readout_token
    )


@dataclass
class Inspection:
    """The analyses of one image that do not depend on view settings; views are drawn from these."""

    image: np.ndarray  # (H, W, 3) uint8, fitted to the model's input size
    x: torch.Tensor  # the normalised model input (1, 3, H, W)
    geometry: Geometry
    attention: np.ndarray  # (layers, heads, N, N)
    distance: np.ndarray  # (layers, heads) mean attention distance in pixels
    similarity: np.ndarray | None  # (gh, gw, gh, gw) position-embedding cosine similarity
    position_note: str  # why there is no similarity, if there is none
    filters: FilterComponents
    predictions: dict[str, Prediction] | None  # None for models without a classifier (pretraining models)
    domain_note: str = ""  # why the predictions may mean nothing for this image (see `domain_note`), or ""
