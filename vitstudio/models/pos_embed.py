"""Position embeddings: fixed 2-D sin-cos tables and resampling of learned tables to a new grid."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def sincos_1d(embed_dim: int, pos: torch.Tensor) -> torch.Tensor:
    """Transformer sin-cos code of positions `pos` (any shape) -> (pos.numel(), embed_dim), in float64."""
    if embed_dim % 2:
        raise ValueError(f"sin-cos embedding needs an even dimension, got {embed_dim}")
    omega = torch.arange(embed_dim // 2, dtype=torch.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000**omega
    out = pos.reshape(-1, 1).double() * omega[None]
    return torch.cat([out.sin(), out.cos()], dim=1)


def sincos_2d(embed_dim: int, grid_size: tuple[int, int], num_prefix_tokens: int = 0) -> torch.Tensor:
    """Fixed 2-D sin-cos table (1, prefix + gh*gw, D) laid out as in MAE.

    The first half of the channels codes the column, the second half the row; prefix tokens
    (class, distillation) get zeros. Identical to MAE's `get_2d_sincos_pos_embed`, also for
    rectangular grids.
    """
    if embed_dim % 4:
        raise ValueError(f"2-D sin-cos embedding needs a dimension divisible by 4, got {embed_dim}")
    gh, gw = grid_size
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    emb = torch.cat([sincos_1d(embed_dim // 2, cols), sincos_1d(embed_dim // 2, rows)], dim=1)
    emb = torch.cat([torch.zeros(num_prefix_tokens, embed_dim, dtype=emb.dtype), emb], dim=0)
    return emb.float().unsqueeze(0)


def resample_abs_pos_embed(
    posemb: torch.Tensor,
    new_size: tuple[int, int],
    old_size: tuple[int, int] | None = None,
    num_prefix_tokens: int = 1,
    interpolation: str = "bicubic",
    antialias: bool = True,
) -> torch.Tensor:
    """Resample a (1, prefix + gh*gw, D) position embedding to a new grid; prefix tokens are kept.

    `old_size` defaults to a square grid. Interpolation is done in float32 on the (gh, gw) grid.
    """
    num_pos = posemb.shape[1] - num_prefix_tokens
    if old_size is None:
        side = math.isqrt(num_pos)
        if side * side != num_pos:
            raise ValueError(f"cannot infer the grid of {num_pos} positions; pass old_size")
        old_size = (side, side)
    old_size, new_size = tuple(old_size), tuple(new_size)
    if old_size[0] * old_size[1] != num_pos:
        raise ValueError(f"position embedding has {num_pos} positions, not a {old_size[0]}x{old_size[1]} grid")
    if old_size == new_size:
        return posemb
    dtype = posemb.dtype
    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:].float()
    dim = grid.shape[-1]
    grid = grid.reshape(1, *old_size, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new_size, mode=interpolation, antialias=antialias)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, dim).to(dtype)
    return torch.cat([prefix, grid], dim=1)
