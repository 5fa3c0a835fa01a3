"""Training objectives: how a batch becomes a loss, and how a model is scored on validation data.

An objective's `loss(model, images, targets)` returns a scalar; `evaluate(model, images, labels)` returns
per-batch sums named by its `metrics` (loss, correct top-1 / top-5, count) that the trainer adds up
(across ranks too) and reports as val_loss and percentages.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config, ConfigError


class Supervised:
    """Cross-entropy on labels, with label smoothing; soft (Mixup/CutMix) targets are class probabilities."""

    metrics = ("loss", "top1", "top5", "count")

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def loss(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(images).float(), targets, label_smoothing=self.label_smoothing)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return classification_sums(model(images), labels)


def classification_sums(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Summed cross-entropy and top-1 / top-5 hits of a batch (top-5 is top-k for fewer than 5 classes)."""
    logits = logits.float()
    top = logits.topk(min(5, logits.shape[1]), dim=1).indices
    hits = top == labels[:, None]
    return {
        "loss": F.cross_entropy(logits, labels, reduction="sum"),
        "top1": hits[:, 0].sum().float(),
        "top5": hits.any(dim=1).sum().float(),
        "count": torch.tensor(float(labels.shape[0]), device=logits.device),
    }


def build_objective(cfg: Config, model: nn.Module, device: torch.device):
    """The objective `cfg.objective.name` names, set up for `model`."""
    o = cfg.objective
    if o.name == "supervised":
        return Supervised(o.label_smoothing)
    raise ConfigError("objective.name", f"objective {o.name!r} is not available in this build")
