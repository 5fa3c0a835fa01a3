"""Where the inspected model comes from: a named model, an imported weights file or a training run."""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from .image import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class ModelSource:
    """A model ready to inspect, with what is needed to feed it and to name its outputs."""

    model: nn.Module
    label: str  # what to call it in a title bar or a report
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    class_names: list[str] | None = field(default=None)


def from_name(name: str, **overrides) -> ModelSource:
    """A registered model with freshly initialised (random) weights."""
    from ..models import create_model

    model = create_model(name, **overrides).eval()
    return ModelSource(model, f"{name} (random weights)")
