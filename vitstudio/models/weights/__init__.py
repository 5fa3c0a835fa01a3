"""Weights in and out: one `load_pretrained(model, source)` for timm, DeiT, MAE, Google, transformers and
torchvision ViT checkpoints (detected from their keys). Our own exports are `models/export.py`'s."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .adapt import FRESH_OK, fit_state_dict, pretrained_to_vit, resample_patch_embed
from .files import UnsafeCheckpointError, check_weights_file, read_weights, unwrap_state_dict
from .google import convert_google, is_google_layout
from .hf import convert_transformers, is_transformers_layout
from .torchvision_vit import convert_torchvision_vit, is_torchvision_vit_layout

__all__ = [
    "LoadReport",
    "UnsafeCheckpointError",
    "check_weights_file",
    "load_pretrained",
    "pretrained_to_vit",
    "read_weights",
    "resample_patch_embed",
    "to_timm_layout",
]


class LoadReport(NamedTuple):
    missing: list[str]  # model weights the source lacked: they keep their fresh initialisation
    unexpected: list[str]  # source weights the model has no place for (ignored; only with strict=False)
    notes: list[str]  # adaptations made (resampling, dropped heads, ...)


def to_timm_layout(state_dict: Mapping) -> dict[str, torch.Tensor]:
    """Detect the layout (Google .npz, transformers, torchvision, timm/DeiT/MAE/ours) and rename to timm's keys."""
    sd = unwrap_state_dict({k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in state_dict.items()})
    if is_google_layout(sd):
        return convert_google(sd)
    if is_transformers_layout(sd):
        return convert_transformers(sd)
    if is_torchvision_vit_layout(sd):
        return convert_torchvision_vit(sd)
    return sd


def load_pretrained(model: nn.Module, source, strict: bool = True) -> LoadReport:
    """Load weights from a file path or an in-memory state dict in any supported layout.

    Position embeddings are resampled to the model's grid, patch-embedding kernels to its patch
    size; a class head of another size, a distillation token or pre-logits layer the model lacks
    are dropped with a warning; MAE / masked-patch-prediction weights load into a classification ViT.
    With `strict`, anything else that does not fit raises `ValueError` naming the keys; the new head
    (and `fc_norm`, `dist_token`) may be missing and keep their initialisation (with a warning).
    """
    if isinstance(source, (str, os.PathLike)):
        name, raw = str(source), read_weights(source)
    elif isinstance(source, Mapping):
        name, raw = "the given state dict", source
    else:
        raise TypeError(f"source must be a file path or a state dict, got {type(source).__name__}")
    sd, notes, warns = fit_state_dict(model, to_timm_layout(raw))
    target = model.state_dict()
    missing = [k for k in target if k not in sd]
    unexpected = [k for k in sd if k not in target]
    not_fresh = [k for k in missing if not FRESH_OK.match(k)]
    if strict and (unexpected or not_fresh):
        raise ValueError(
            f"weights from {name} do not fit {type(model).__name__}: "
            + "; ".join(
                f"{what} {_few(keys)}" for what, keys in (("unexpected", unexpected), ("missing", not_fresh)) if keys
            )
            + ". Is it the right model (size, depth, options)? strict=False loads what fits."
        )
    try:
        model.load_state_dict({k: v for k, v in sd.items() if k in target}, strict=False)
    except RuntimeError as e:
        raise ValueError(f"weights from {name} do not fit {type(model).__name__}: {e}") from None
    for w in warns:
        warnings.warn(w, stacklevel=2)
    if missing:
        warnings.warn(f"not in {name}, left as initialised: {_few(missing)}", stacklevel=2)
    if unexpected:
        warnings.warn(f"ignored from {name}: {_few(unexpected)}", stacklevel=2)
    return LoadReport(missing, unexpected, notes + warns)


def _few(keys: list[str], n: int = 8) -> str:
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")
