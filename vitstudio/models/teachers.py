"""Teachers for DeiT distillation: torchvision classification CNNs, or models saved by vitstudio.

The DeiT paper's finding is that a convnet teaches a ViT better than an equally accurate transformer;
any torchvision classification model (ResNet, RegNet, ConvNeXt, EfficientNet, ...) can teach, built
with `num_classes` outputs and, for small images, with its stem adapted (3x3 stride-1 first conv, no
max-pool) so a 32x32 input is not reduced to a single pixel.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

#: images this small (or smaller) get the adapted stem unless told otherwise.
SMALL_IMAGE_SIZE = 64


def adapt_to_small_images(model: nn.Module) -> nn.Module:
    """Replace the first strided conv by a 3x3 stride-1 conv and drop the first max-pool, in place."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d) and m.stride != (1, 1)), None)
    if conv is None:
        raise ValueError(f"{type(model).__name__} has no strided stem convolution to adapt")
    _replace(model, conv, nn.Conv2d(conv.in_channels, conv.out_channels, 3, 1, 1, bias=conv.bias is not None))
    pool = next((m for m in model.modules() if isinstance(m, nn.MaxPool2d)), None)
    if pool is not None:
        _replace(model, pool, nn.Identity())
    return model


def torchvision_classifiers() -> list[str]:
    """Names of torchvision's classification models."""
    import torchvision

    return torchvision.models.list_models(module=torchvision.models)


def create_teacher(
    name: str, num_classes: int, img_size: int = 224, weights=None, adapt_stem: bool | None = None
) -> nn.Module:
    """A frozen teacher in eval mode.

    name: a torchvision classification model (`resnet50`, `regnet_y_400mf`, ...), a vitstudio model name,
    or the path of a model file written by `export_safetensors` (which carries its own architecture).
    weights: optional source for `load_pretrained` (path or state dict), e.g. the teacher's trained weights.
    adapt_stem: adapt a torchvision model's stem for small images; default: `img_size <= 64`.
    """
    from .registry import create_model, list_models
    from .weights import load_model_file, load_pretrained

    if Path(name).suffix == ".safetensors" or Path(name).is_file():
        model = load_model_file(name)
    elif name in list_models():
        model = create_model(name, num_classes=num_classes, img_size=img_size)
    elif name in torchvision_classifiers():
        import torchvision

        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
        if adapt_stem if adapt_stem is not None else img_size <= SMALL_IMAGE_SIZE:
            adapt_to_small_images(model)
    else:
        raise ValueError(f"unknown teacher {name!r}: not a file, a vitstudio model or a torchvision classifier")
    if weights is not None:
        load_pretrained(model, weights)
    return model.eval().requires_grad_(False)


def _replace(root: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for name, module in root.named_modules():
        if module is old:
            parent_name, _, child = name.rpartition(".")
            setattr(root.get_submodule(parent_name) if parent_name else root, child, new)
            return
