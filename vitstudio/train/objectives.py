"""Training objectives: how a batch becomes a loss, and how a model is scored on validation data.

An objective's `loss(model, images, targets)` returns a scalar; `evaluate(model, images, labels)` returns
per-batch sums named by its `metrics` (loss, correct top-1 / top-5, count) that the trainer adds up
(across ranks too) and reports as val_loss and percentages.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config, ConfigError
from ..models import family_of


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

    The student is a distilled model (`(cls_logits, dist_logits)` in training, their mean in evaluation);
    the frozen teacher sees the same (augmented) images."""

    def __init__(
        self, teacher: nn.Module, kind: str = "hard", alpha: float = 0.5, tau: float = 1.0, label_smoothing: float = 0.0
    ):
        from ..models import DistillationLoss

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


def build_objective(cfg: Config, model: nn.Module, device: torch.device, num_classes: int, runs_dir=None):
    """The objective `cfg.objective.name` names, set up for `model` (a distillation teacher is loaded to `device`)."""
    o, family = cfg.objective, family_of(model)
    if o.name not in family.objectives:
        raise ConfigError(
            "objective.name",
            f"{cfg.model.name} is a {family.label} model: it trains with {' or '.join(map(repr, family.objectives))}",
        )
    if family.pretraining:
        return MaskedPretraining(o.mask_ratio)
    if o.name == "distill":
        teacher = load_teacher(o.teacher, num_classes, cfg.data.img_size, runs_dir).to(device)
        return Distillation(teacher, o.distill_type, o.distill_alpha, o.distill_tau, o.label_smoothing)
    return Supervised(o.label_smoothing)


def load_teacher(ref: str, num_classes: int, img_size: int, runs_dir=None) -> nn.Module:
    """A frozen teacher: a run of ours (its final weights), or what `create_teacher` builds (a torchvision
    classifier, a vitstudio model, a model file)."""
    from ..models import create_teacher
    from .runs import find_run

    try:
        run = find_run(ref, runs_dir)
    except LookupError:
        run = None
    if run is not None:
        return run.load_model().eval().requires_grad_(False)
    try:
        return create_teacher(ref, num_classes=num_classes, img_size=img_size)
    except ValueError as e:
        raise ConfigError("objective.teacher", f"{e}; or give a run of ours (see `vitstudio runs list`)") from None


def init_for_finetuning(model: nn.Module, source: str, runs_dir=None) -> list[str]:
    """Load pretrained weights (a run of ours, a weights file in any layout `load_pretrained` reads: timm,
    DeiT, MAE, Google .npz, transformers, torchvision; or a pretrained tag, `model.tag` / `hf-hub:...`,
    downloaded once) into `model`; returns notes on what was adapted or left new."""
    from ..models import load_pretrained
    from .runs import find_run

    try:
        path = find_run(source, runs_dir).weights_file()
    except LookupError:
        path = source
    tag = pretrained_tag(source) if not Path(path).is_file() else None
    try:
        with warnings.catch_warnings(record=True) as caught:  # returned as notes, for the run's log
            warnings.simplefilter("always")
            if tag is not None:
                from ..models.hub import load_pretrained_weights

                notes = [f"pretrained weights {tag.name} from {tag.source}", *load_pretrained_weights(model, tag)]
            else:
                notes = load_pretrained(model, str(path)).notes
    except (ValueError, OSError) as e:
        raise ConfigError("objective.init_from", str(e)) from None
    return list(dict.fromkeys([*notes, *(str(w.message) for w in caught)]))


def pretrained_tag(source: str | None):
    """The `PretrainedCfg` that `objective.init_from` names (`model.tag` or `hf-hub:...`), or None for a run or
    a file; an unknown tag raises `ConfigError` listing the model's tags. (Hook for the reference resolver.)"""
    from ..models import is_pretrained_name
    from ..models.catalogue import is_known_model
    from ..models.hub import resolve_pretrained

    if not source or not is_pretrained_name(source) or Path(source).exists():
        return None
    try:
        return resolve_pretrained(source)
    except KeyError as e:
        if source.startswith("hf-hub:") or is_known_model(source.partition(".")[0]):
            raise ConfigError("objective.init_from", str(e.args[0])) from None
        return None  # a file name that does not exist: reported as a missing file
    except OSError as e:  # a timm repository's config.json could not be had
        raise ConfigError("objective.init_from", str(e)) from None


def freeze_for_linear_probe(model: nn.Module) -> None:
    """Train only the classifier head (a linear probe of the pretrained features)."""
    model.requires_grad_(False)
    model.head.requires_grad_(True)
