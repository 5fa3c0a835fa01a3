"""What the position embeddings learned: cosine similarity between the patch positions (Figure 7, centre)."""

from __future__ import annotations

import numpy as np
import torch

from ._arrays import as_numpy, pair


@torch.no_grad()
def patch_position_embedding(model) -> np.ndarray:
    """The position embedding of each patch of `model`'s grid, prefix tokens left out: (gh*gw, D)."""
    gh, gw = model.grid_size
    pos = model.grid_pos_embed((gh, gw))
    if pos is None:
        raise ValueError("this model has no position embedding (pos_embed='none')")
    pos = as_numpy(pos).reshape(-1, pos.shape[-1])
    return pos[len(pos) - gh * gw :]


def position_similarity(pos_embed, grid) -> np.ndarray:
    """Cosine similarity of every patch's position embedding with every other's.

    (gh*gw, D) -> (gh, gw, gh, gw): entry [i, j] is the map of patch (i, j)'s similarity to all patches.
    """
    pos = as_numpy(pos_embed).astype(np.float64)
    gh, gw = pair(grid)
    if pos.ndim != 2 or pos.shape[0] != gh * gw:
        raise ValueError(f"expected ({gh * gw}, D) patch position embeddings for a {gh}x{gw} grid, got {pos.shape}")
    unit = pos / np.maximum(np.linalg.norm(pos, axis=1, keepdims=True), 1e-12)
    return (unit @ unit.T).reshape(gh, gw, gh, gw)
