"""torchvision's classification CNNs as models of the studio: teachers for DeiT, hybrid backbones, baselines.

For small images a CNN's stem is adapted (3x3 stride-1 first conv, no max-pool) so a 32x32 input is not
reduced to a single pixel before its last stage.
"""

from __future__ import annotations

from functools import cache

from torch import nn

#: images this small (or smaller) get the adapted stem unless told otherwise.
SMALL_IMAGE_SIZE = 64
#: BatchNorm momentum of a CNN built to be trained here (no weights): PyTorch's default. MobileNetV3 sets 0.01 for
#: ImageNet's long schedules; after a run of a few hundred steps its running statistics are still far from the
#: data's, and it evaluates at chance (a MobileNetV3-small on 3,000 shapes for 3 epochs: 10% with 0.01, 61% with 0.1).
BN_MOMENTUM = 0.1


@cache
def torchvision_classifiers() -> frozenset[str]:
    """Names of torchvision's classification models."""
    import torchvision  # deferred: torchvision's model zoo takes a second to import

    return frozenset(torchvision.models.list_models(module=torchvision.models))


def torchvision_classifier(
    name: str, num_classes: int = 1000, img_size: int = 224, adapt_stem: bool | None = None, weights=None
) -> nn.Module:
    """torchvision's `name` with `num_classes` outputs (`weights`: one of its weight enums' members, or None);
    `adapt_stem` (default: `img_size <= 64`) adapts its stem to small images. Without weights, its BatchNorm
    layers get `BN_MOMENTUM`."""
    import torchvision  # deferred, as above

    if name not in torchvision_classifiers():
        raise ValueError(f"{name!r} is not a torchvision classification model")
    model = torchvision.models.get_model(name, weights=weights, num_classes=num_classes)
    if adapt_stem if adapt_stem is not None else img_size <= SMALL_IMAGE_SIZE:
        adapt_to_small_images(model)
    if weights is None:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = BN_MOMENTUM
    model.family = "torchvision"
    return model


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


def _replace(root: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for name, module in root.named_modules():
        if module is old:
            parent_name, _, child = name.rpartition(".")
            setattr(root.get_submodule(parent_name) if parent_name else root, child, new)
            return
