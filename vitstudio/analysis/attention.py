"""Where the transformer looks: attention maps, attention rollout and mean attention distance.

Attention weights come as one array per layer, stacked to (layers, ..., heads, N, N), where the
N tokens are `num_prefix_tokens` prefix tokens (class, distillation, ...) followed by the patch
tokens in row-major order of the (gh, gw) patch grid. Leading batch axes are allowed everywhere.
"""

from __future__ import annotations

import numpy as np
import torch

from ..models import family_of
from ._arrays import as_numpy, pair

HEAD_FUSIONS = ("mean", "max", "min")


@torch.no_grad()
def features_and_attention(model, x: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """One forward pass through the model's explicit attention path: the final tokens (B, N, D)
    and every block's attention weights (layers, B, heads, N, N) as float32."""
    if not family_of(model).transformer:
        raise TypeError(f"{type(model).__name__} is not a transformer: it has no attention to show")
    feats, attns = model.forward_features(x, return_attention=True)
    return feats, np.stack([as_numpy(a) for a in attns])


def collect_attention(model, x: torch.Tensor) -> np.ndarray:
    """Every block's attention weights for the images `x`: (layers, B, heads, N, N), float32."""
    return features_and_attention(model, x)[1]


def _check_tokens(attn: np.ndarray, grid, num_prefix_tokens: int) -> tuple[int, int]:
    gh, gw = pair(grid)
    n = attn.shape[-1]
    if attn.shape[-2] != n or n != num_prefix_tokens + gh * gw:
        raise ValueError(
            f"attention of shape {attn.shape} does not hold {num_prefix_tokens} prefix tokens "
            f"and a {gh}x{gw} patch grid ({num_prefix_tokens + gh * gw} tokens)"
        )
    return gh, gw


def _query_row(a: np.ndarray, token: int | None, num_prefix_tokens: int) -> np.ndarray:
    """Row `token` of (..., N, N), or for `token=None` the mean of the patch tokens' rows."""
    return a[..., num_prefix_tokens:, :].mean(axis=-2) if token is None else a[..., token, :]


def token_attention(attn, grid, num_prefix_tokens: int = 1, token: int | None = 0) -> np.ndarray:
    """How much token `token` (0: the class token; 1: DeiT's distillation token) attends to each patch.

    (..., N, N) -> (..., gh, gw): the raw weights on the patch keys, not renormalised (what the
    prefix tokens receive is left out, so a map may sum to less than 1). `token=None` averages
    over the patch tokens as queries: what global average pooling reads (the model's `readout_token`).
    """
    attn = as_numpy(attn)
    gh, gw = _check_tokens(attn, grid, num_prefix_tokens)
    return _query_row(attn, token, num_prefix_tokens)[..., num_prefix_tokens:].reshape(*attn.shape[:-2], gh, gw)


def fuse_heads(attn, head_fusion: str = "mean") -> np.ndarray:
    """Combine the heads axis (-3) of (..., heads, N, N) by their mean, max or min."""
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
    return getattr(np, head_fusion)(as_numpy(attn), axis=-3)


def attention_rollout(
    attn, grid, num_prefix_tokens: int = 1, head_fusion: str = "mean", discard_ratio: float = 0.0, token: int | None = 0
) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020) read at `token`'s row (None: the mean of the patch tokens' rows):
    (layers, ..., heads, N, N) -> (..., gh, gw).

    Per layer: fuse the heads; optionally zero the lowest `discard_ratio` fraction of the fused
    weights (per image); add the identity for the residual connection; renormalise each row to sum
    to 1. The layers' matrices are multiplied, last layer leftmost: R = A_L ... A_1.
    """
    attn = as_numpy(attn).astype(np.float64)
    gh, gw = _check_tokens(attn, grid, num_prefix_tokens)
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}")
    n = attn.shape[-1]
    eye = np.eye(n)
    rollout = np.broadcast_to(eye, attn.shape[1:-3] + (n, n))
    for layer in attn:
        a = fuse_heads(layer, head_fusion)
        if discard_ratio > 0:
            flat = a.reshape(*a.shape[:-2], n * n)
            k = int(n * n * discard_ratio)
            if k:
                lowest = np.argpartition(flat, k - 1, axis=-1)[..., :k]
                flat = flat.copy()
                np.put_along_axis(flat, lowest, 0.0, axis=-1)
                a = flat.reshape(a.shape)
        a = a + eye
        a = a / a.sum(axis=-1, keepdims=True)
        rollout = a @ rollout
    return _query_row(rollout, token, num_prefix_tokens)[..., num_prefix_tokens:].reshape(*rollout.shape[:-2], gh, gw)


def patch_centres(grid, patch_px) -> np.ndarray:
    """Pixel centres (gh*gw, 2) as (y, x) of the patches of a (gh, gw) grid of (ph, pw)-pixel patches."""
    gh, gw = pair(grid)
    ph, pw = (float(p) for p in (patch_px if not np.isscalar(patch_px) else (patch_px, patch_px)))
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    return np.stack([(rows.ravel() + 0.5) * ph, (cols.ravel() + 0.5) * pw], axis=1)


def patch_distances(grid, patch_px) -> np.ndarray:
    """Euclidean pixel distance between every pair of patch centres: (gh*gw, gh*gw)."""
    c = patch_centres(grid, patch_px)
    return np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))


def mean_attention_distance(attn, grid, patch_px, num_prefix_tokens: int = 1) -> np.ndarray:
    """Mean attention distance in pixels per layer and head (the ViT paper's Figure 7, right).

    `attn` is (layers, B, heads, N, N) (or (layers, heads, N, N) for one image); `patch_px` is the
    size in input pixels that one token covers (the patch size; a hybrid's total stride).
    Queries are the patch tokens and keys the patch tokens: prefix tokens have no position, so
    each query's weights on the patches are renormalised to sum to 1 before weighting the
    query-key centre distances. The result is averaged over queries and images: (layers, heads).
    """
    attn = as_numpy(attn).astype(np.float64)
    _check_tokens(attn, grid, num_prefix_tokens)
    if attn.ndim == 4:
        attn = attn[:, None]
    p = num_prefix_tokens
    w = attn[..., p:, p:]
    w = w / np.maximum(w.sum(-1, keepdims=True), np.finfo(np.float64).tiny)
    per_query = (w * patch_distances(grid, patch_px)).sum(-1)  # (L, B, H, Np)
    return per_query.mean(axis=(1, 3))
