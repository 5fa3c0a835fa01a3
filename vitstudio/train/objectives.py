"""Training objectives: how a batch becomes a loss, and how a model is scored on validation data.

An objective's `loss(model, images, targets)` returns a scalar; `evaluate(model, images, labels)` returns
per-batch sums named by its `metrics` (loss, correct top-1 / top-5, count) that the trainer adds up
(across ranks too) and reports as val_loss and percentages.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config, ConfigError
from ..models import DistillationLoss, family_of
from .references import Reference, resolve


class Supervised:
    """Cross-entropy on labels, with label smoothing; soft (Mixup/CutMix) targets are class probabilities
    (already smoothed by `MixupCutmix`). A distilled model trained without a teacher fits both heads to the labels."""

    metrics = ("loss", "top1", "top5", "count")

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def loss(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        smoothing = self.label_smoothing if targets.ndim == 1 else 0.0
        outputs = model(images)
        heads = outputs if isinstance(outputs, tuple) else (outputs,)
        return sum(F.cross_entropy(h.float(), targets, label_smoothing=smoothing) for h in heads) / len(heads)

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


class Distillation(Supervised):
    """DeiT: (1 - alpha) * CE(class head, label) + alpha * distillation of the teacher into the distillation head.

    A distilled student gives `(cls_logits, dist_logits)` in training (their mean in evaluation); a student
    with one head takes both terms on it (DeiT's "usual distillation"). The frozen teacher sees the same
    (augmented) images."""

    def __init__(
        self, teacher: nn.Module, kind: str = "hard", alpha: float = 0.5, tau: float = 1.0, label_smoothing: float = 0.0
    ):
        super().__init__(label_smoothing)
        base = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.criterion = DistillationLoss(base, teacher, kind, alpha, tau)

    def loss(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.criterion(images, model(images), targets)


class MaskedPretraining:
    """MAE or masked patch prediction: the model computes its own loss,
    `model(images, mask_ratio) -> (loss, pred, mask)`.

    Validation uses the same masks every epoch (noise from a fixed seed), so its loss is comparable over time."""

    metrics = ("loss", "count")

    def __init__(self, mask_ratio: float | None = None):
        self.kwargs = {} if mask_ratio is None else {"mask_ratio": mask_ratio}

    def loss(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return model(images, **self.kwargs)[0]

    @torch.no_grad()
    def evaluate(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        g = torch.Generator(device=images.device).manual_seed(0)
        noise = torch.rand(images.shape[0], model.patch_embed.num_patches, generator=g, device=images.device)
        n = torch.tensor(float(images.shape[0]), device=images.device)
        return {"loss": model(images, noise=noise, **self.kwargs)[0].float() * n, "count": n}


def check_objective(cfg: Config, model: nn.Module) -> None:
    """Raise a `ConfigError` when `model` cannot be trained with objective `cfg.objective.name`."""
    family = family_of(model)
    if cfg.objective.name not in family.objectives:
        raise ConfigError(
            "objective.name",
            f"{cfg.model.name} is a {family.label} model: it trains with {' or '.join(map(repr, family.objectives))}",
        )


def build_objective(cfg: Config, model: nn.Module, device: torch.device, num_classes: int, runs_dir=None):
    """The objective `cfg.objective.name` names, set up for `model` (a distillation teacher is loaded to `device`)."""
    o, family = cfg.objective, family_of(model)
    check_objective(cfg, model)
    if family.pretraining:
        return MaskedPretraining(o.mask_ratio)
    if o.name == "distill":
        teacher = load_teacher(o.teacher, num_classes, cfg.data.img_size, runs_dir)
        return Distillation(teacher.to(device), o.distill_type, o.distill_alpha, o.distill_tau, o.label_smoothing)
    return Supervised(o.label_smoothing)


def load_teacher(ref: str | Reference, num_classes: int, img_size: int, runs_dir=None) -> nn.Module:
    """The frozen teacher `ref` names (see `references`), checked to predict `num_classes` classes for
    `img_size` images."""
    if not isinstance(ref, Reference):
        ref = resolve("objective.teacher", ref, runs_dir)
    teacher = ref.model(num_classes, img_size).requires_grad_(False)
    try:
        with torch.no_grad():
            out = teacher(torch.zeros(1, 3, img_size, img_size))
    except (RuntimeError, ValueError, AssertionError) as e:
        raise ConfigError(ref.field, f"{ref} cannot take {img_size}x{img_size} images ({e})") from None
    classes = (out[0] if isinstance(out, tuple) else out).shape[-1]
    if classes != num_classes:
        raise ConfigError(ref.field, f"{ref} predicts {classes} classes; the data has {num_classes}")
    return teacher


def init_for_finetuning(model: nn.Module, source: str | Reference, runs_dir=None) -> list[str]:
    """Load the weights `source` names (a run of ours; a weights file in any layout `load_pretrained` reads:
    timm, DeiT, MAE, Google .npz, transformers, torchvision; or a pretrained tag, downloaded once) into `model`;
    returns notes on what was adapted or left new."""
    if not isinstance(source, Reference):
        source = resolve("objective.init_from", source, runs_dir)
    try:
        with warnings.catch_warnings(record=True) as caught:  # returned as notes, for the run's log
            warnings.simplefilter("always")
            notes = source.load_into(model)
    except (ValueError, OSError) as e:
        raise ConfigError("objective.init_from", str(e)) from None
    return list(dict.fromkeys([*notes, *(str(w.message) for w in caught)]))


def freeze_for_linear_probe(model: nn.Module) -> None:
    """Train only the classifier head (a linear probe of the pretrained features)."""
    model.requires_grad_(False)
    model.head.requires_grad_(True)
