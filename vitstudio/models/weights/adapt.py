"""Fit a timm-layout state dict to a model: pretraining heads, prefix tokens, grids, patch size, class heads."""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from ..pos_embed import resample_abs_pos_embed
from ..vit import resample_1d

#: weights that only pretraining models (MAE decoder, masked patch prediction) have.
PRETRAINING_ONLY = re.compile(r"^(mask_token|decoder_.*|mpp_head\..*)$")
#: weights a classifier may lack in a checkpoint; they keep their fresh initialisation.
FRESH_OK = re.compile(r"^((head|head_dist|fc_norm)\.(weight|bias)|dist_token)$")


def pretrained_to_vit(state_dict: dict, global_pool: str = "token") -> dict:
    """MAE or masked-patch-prediction weights -> the matching classification ViT's (without a head).

    `global_pool='token'` keeps the encoder as it is (class token, final norm). `'avg'` follows MAE's
    fine-tuning: the patch tokens are averaged and normalised by a new `fc_norm` (identity at start),
    the encoder's final `norm` is not used.
    """
    sd = {k: v for k, v in state_dict.items() if not PRETRAINING_ONLY.match(k)}
    if global_pool == "avg":
        dim = sd.pop("norm.weight").shape[0]
        sd.pop("norm.bias")
        sd["fc_norm.weight"], sd["fc_norm.bias"] = torch.ones(dim), torch.zeros(dim)
    elif global_pool != "token":
        raise ValueError(f"global_pool must be 'token' or 'avg', got {global_pool!r}")
    return sd


def resample_patch_embed(weight: torch.Tensor, new_size, interpolation="bicubic", antialias=True) -> torch.Tensor:
    """Resize a (O, I, h, w) patch-embedding kernel so that embedding a resized patch gives the same token.

    FlexiViT's pseudo-inverse resize (Beyer et al., 2023): with R the matrix that resizes an h x w patch
    to the new size, the new kernel is pinv(R^T) w; exact for upsampling, least-squares for downsampling.
    """
    old_size, new_size = tuple(weight.shape[-2:]), tuple(new_size)
    if old_size == new_size:
        return weight
    n_old = old_size[0] * old_size[1]
    basis = torch.eye(n_old, dtype=torch.float32, device=weight.device).reshape(n_old, 1, *old_size)
    resize_t = F.interpolate(basis, size=new_size, mode=interpolation, antialias=antialias).reshape(n_old, -1)
    pinv = torch.linalg.pinv(resize_t.double())  # (new, old)
    out = weight.flatten(2).double() @ pinv.T
    return out.reshape(*weight.shape[:2], *new_size).to(weight.dtype)


def fit_state_dict(model: nn.Module, state_dict: dict) -> tuple[dict, list[str], list[str]]:
    """Adapt `state_dict` to `model`; returns (state dict, notes on what changed, warnings)."""
    target = model.state_dict()
    sd = dict(state_dict)
    notes, warns = [], []

    extra = [k for k in sd if PRETRAINING_ONLY.match(k) and k not in target]
    if extra:
        for k in extra:
            del sd[k]
        notes.append(f"dropped {len(extra)} pretraining-only tensors (decoder / mask token / prediction head)")
    if "norm.weight" in sd and "norm.weight" not in target and "fc_norm.weight" in target:
        del sd["norm.weight"], sd["norm.bias"]
        notes.append("average pooling + fc_norm: the encoder's final norm is not used (as in MAE fine-tuning)")
    if "pre_logits.fc.weight" in sd and "pre_logits.fc.weight" not in target:
        del sd["pre_logits.fc.weight"], sd["pre_logits.fc.bias"]
        warns.append("the checkpoint's pre-logits layer was dropped (the model has no representation_size)")

    fixed = dict(model.named_buffers())
    for key in ("pos_embed", "decoder_pos_embed"):
        if key in sd and key in fixed and sd[key].shape != fixed[key].shape:
            del sd[key]
            notes.append(f"the model keeps its own fixed sin-cos {key} for its grid")

    src_tokens = [t for t in ("cls_token", "dist_token") if t in sd]
    if "dist_token" in sd and "dist_token" not in target:
        for k in ("dist_token", "head_dist.weight", "head_dist.bias"):
            sd.pop(k, None)
        warns.append("the checkpoint's distillation token and head were dropped (the model has none)")
    if "pos_embed" in sd:
        if "pos_embed" not in target:
            del sd["pos_embed"]
            notes.append("the checkpoint's position embedding was dropped (the model has none of that kind)")
        elif sd["pos_embed"].shape != target["pos_embed"].shape:
            sd["pos_embed"] = _fit_pos_embed(model, sd["pos_embed"], src_tokens, target["pos_embed"])
            notes.append(f"position embedding resampled to {tuple(sd['pos_embed'].shape)}")
    for key in ("pos_embed_h", "pos_embed_w"):
        if key in sd and key in target and sd[key].shape != target[key].shape:
            sd[key] = resample_1d(sd[key], target[key].shape[1])

    for key in [k for k in sd if k.endswith("patch_embed.proj.weight") and k in target]:
        src, dst = sd[key], target[key]
        if src.shape[:2] == dst.shape[:2] and src.shape[2:] != dst.shape[2:]:
            sd[key] = resample_patch_embed(src, dst.shape[2:])
            notes.append(f"patch embedding resampled from {tuple(src.shape[2:])} to {tuple(dst.shape[2:])}")

    for head in ("head", "head_dist"):
        w = sd.get(f"{head}.weight")
        if w is None or (f"{head}.weight" in target and target[f"{head}.weight"].shape == w.shape):
            continue
        del sd[f"{head}.weight"], sd[f"{head}.bias"]
        if f"{head}.weight" in target:
            classes = target[f"{head}.weight"].shape[0]
            warns.append(
                f"the checkpoint's {head} has {w.shape[0]} classes, the model {classes}: "
                f"{head} dropped, the model keeps its freshly initialised one"
            )
        else:
            warns.append(f"the checkpoint's {head} ({w.shape[0]} classes) was dropped: the model has no head")
    return sd, notes, warns


def _fit_pos_embed(model, pos, src_tokens, target_pos):
    """Match prefix slots by token (class, distillation), then resample the grid to the model's."""
    model_tokens = [t for t in ("cls_token", "dist_token") if getattr(model, t, None) is not None]
    n_src = len(src_tokens)
    prefix = [
        pos[:, src_tokens.index(t)][:, None] if t in src_tokens else target_pos[:, i][:, None]
        for i, t in enumerate(model_tokens)
    ]
    grid = pos[:, n_src:]
    new_size = tuple(model.grid_size)
    if grid.shape[1] == new_size[0] * new_size[1]:
        old_size = new_size
    else:
        side = math.isqrt(grid.shape[1])
        if side * side != grid.shape[1]:
            raise ValueError(
                f"cannot infer the grid of the checkpoint's {grid.shape[1]} positions "
                f"(not square) to resample it to {new_size}"
            )
        old_size = (side, side)
    grid = resample_abs_pos_embed(grid, new_size, old_size, num_prefix_tokens=0)
    return torch.cat(prefix + [grid], dim=1)
