"""AdamW parameter groups (no decay on norms, biases, tokens, position tables; layer-wise lr decay) and the schedule."""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from ..models import family_of

_EMBEDDING = re.compile(r"^(cls_token|dist_token|mask_token|reg_token|pos_embed\w*|patch_embed)(\.|$)")
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


def layer_id(name: str, num_layers: int) -> int:
    """Depth of a ViT parameter for layer-wise lr decay: 0 for embeddings, i + 1 for block i, then the head."""
    if _EMBEDDING.match(name):
        return 0
    block = _BLOCK.match(name)
    return int(block.group(1)) + 1 if block else num_layers + 1


def param_groups(model: nn.Module, weight_decay: float, layer_decay: float = 1.0) -> list[dict]:
    """AdamW groups: decay only matrices that are not tokens or position tables; with `layer_decay` < 1 each
    group also carries `lr_scale` = layer_decay ** (depth from the top), as in BEiT / MAE fine-tuning."""
    transformer = family_of(model).transformer
    if layer_decay < 1 and not transformer:
        raise ValueError("optim.layer_decay needs a transformer with `blocks`; set it to 1 for this model")
    skip = model.no_weight_decay() if transformer else set()
    num_layers = len(model.blocks) if layer_decay < 1 else 0
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decay = p.ndim > 1 and name not in skip
        layer = layer_id(name, num_layers) if layer_decay < 1 else 0
        group = groups.setdefault(
            (layer, decay),
            {
                "params": [],
                "weight_decay": weight_decay if decay else 0.0,
                "lr_scale": layer_decay ** (num_layers + 1 - layer) if layer_decay < 1 else 1.0,
            },
        )
        group["params"].append(p)
    return list(groups.values())


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas=(0.9, 0.999),
    layer_decay: float = 1.0,
    device: torch.device | None = None,
) -> torch.optim.AdamW:
    """AdamW over `param_groups`; the fused CUDA kernel on CUDA."""
    fused = device is not None and device.type == "cuda"
    return torch.optim.AdamW(param_groups(model, weight_decay, layer_decay), lr=lr, betas=tuple(betas), fused=fused)


def lr_at(step: int, total_steps: int, warmup_steps: int, lr: float, min_lr: float) -> float:
    """Linear warm-up from 0 over `warmup_steps`, then a half-cosine from `lr` down to `min_lr` at `total_steps`."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
