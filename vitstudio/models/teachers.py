"""Teachers for DeiT distillation: any model of the catalogue (a torchvision classifier first of all) or a
model file saved by vitstudio, frozen in eval mode.

The DeiT paper's finding is that a convnet teaches a ViT better than an equally accurate transformer;
any torchvision classification model (ResNet, RegNet, ConvNeXt, EfficientNet, ...) can teach.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .catalogue import create_model, model_entry
from .export import load_model_file
from .weights import load_pretrained


def create_teacher(
    name: str, num_classes: int, img_size: int = 224, weights=None, adapt_stem: bool | None = None
) -> nn.Module:
    """A frozen teacher in eval mode.

    name: a torchvision classification model (`resnet50`, `regnet_y_400mf`, ...), a vitstudio model name,
    or the path of a model file written by `export_safetensors` (which carries its own architecture).
    weights: optional source for `load_pretrained` (path or state dict), e.g. the teacher's trained weights.
    adapt_stem: adapt a torchvision model's stem for small images; default: `img_size <= 64`.
    """
    if Path(name).suffix == ".safetensors" or Path(name).is_file():
        model = load_model_file(name)
    else:
        try:
            entry = model_entry(name)
        except KeyError:
            raise ValueError(
                f"unknown teacher {name!r}: not a file, a vitstudio model or a torchvision classifier"
            ) from None
        extra = {"adapt_stem": adapt_stem} if entry.family.name == "torchvision" else {}
        model = create_model(name, num_classes=num_classes, img_size=img_size, **extra)
    if weights is not None:
        load_pretrained(model, weights)
    return model.eval().requires_grad_(False)
