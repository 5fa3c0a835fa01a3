"""The ViT paper's Hybrid: a CNN's feature map, projected 1x1 (or PxP), becomes the token sequence.

`HybridEmbed` plugs into `VisionTransformer(embed_layer=...)` in place of `PatchEmbed`; the backbone is
a BiT ResNetV2 (`resnetv2.py`, GroupNorm, as in the paper and timm's `vit_*_r*` models) or a torchvision
ResNet 18/34/50 cut after its third stage (stride 16, BatchNorm).
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

import torch
from torch import nn

from .layers import check_img_size, to_2tuple
from .resnetv2 import resnetv2_backbone
from .torchvision_nets import adapt_to_small_images
from .vit import VisionTransformer

TORCHVISION_RESNETS = ("resnet18", "resnet34", "resnet50")
BACKBONES = ("resnetv2",) + TORCHVISION_RESNETS


class HybridEmbed(nn.Module):
    """Backbone feature map -> `proj` (conv, kernel = stride = `patch_size` on the map) -> (B, gh, gw, D).

    The backbone exposes `num_features` (channels) and `reduction` (total stride); the image side must be
    a multiple of `reduction * patch_size`.
    """

    def __init__(self, backbone: nn.Module, img_size=224, patch_size=1, in_chans=3, embed_dim=768):
        super().__init__()
        self.backbone = backbone
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        self.reduction = tuple(backbone.reduction * p for p in self.patch_size)
        for side, r in zip(self.img_size, self.reduction):
            if side % r:
                raise ValueError(
                    f"image size {self.img_size} is not divisible by the backbone stride "
                    f"{backbone.reduction} x patch size {self.patch_size}"
                )
        self.grid_size = (self.img_size[0] // self.reduction[0], self.img_size[1] // self.reduction[1])
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.strict_img_size = True
        self.proj = nn.Conv2d(backbone.num_features, embed_dim, kernel_size=self.patch_size, stride=self.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_img_size(x, self.img_size, self.reduction, self.strict_img_size)
        return self.proj(self.backbone(x)).permute(0, 2, 3, 1)


class TorchvisionResNet(nn.Sequential):
    """A torchvision ResNet up to `layer3` (stride 16, BatchNorm), keeping torchvision's parameter names.

    With `cifar_stem` the 7x7/2 stem conv becomes 3x3/1 and the max-pool goes (stride 4), for 32-64 px images.
    """

    def __init__(self, name: str = "resnet50", in_chans: int = 3, cifar_stem: bool = False):
        import torchvision  # deferred: its model zoo takes a second to import, and only this backbone needs it

        if name not in TORCHVISION_RESNETS:
            raise ValueError(f"torchvision backbone must be one of {TORCHVISION_RESNETS}, got {name!r}")
        net = getattr(torchvision.models, name)(weights=None)
        if in_chans != 3:
            net.conv1 = nn.Conv2d(in_chans, net.conv1.out_channels, 7, 2, 3, bias=False)
        if cifar_stem:
            adapt_to_small_images(net)
        super().__init__(
            OrderedDict((n, getattr(net, n)) for n in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3"))
        )
        self.num_features = net.layer4[0].conv1.in_channels
        self.reduction = 4 if cifar_stem else 16


def create_backbone(
    backbone: str = "resnetv2", in_chans: int = 3, layers=(3, 4, 9), padding: str = "same", cifar_stem: bool = False
) -> nn.Module:
    """`resnetv2` (stage depths `layers`, empty = stem only; `padding` 'same' or 'symmetric'),
    or a torchvision ResNet (`cifar_stem` for small images)."""
    if backbone == "resnetv2":
        return resnetv2_backbone(layers, in_chans=in_chans, padding=padding)
    if backbone in TORCHVISION_RESNETS:
        return TorchvisionResNet(backbone, in_chans, cifar_stem)
    raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")


class HybridVisionTransformer(VisionTransformer):
    """A ViT whose tokens are a CNN's features; `kwargs` are `VisionTransformer`'s (`patch_size` is on the map)."""

    family = "hybrid"

    def __init__(
        self,
        backbone: str = "resnetv2",
        layers=(3, 4, 9),
        padding: str = "same",
        cifar_stem: bool = False,
        patch_size=1,
        in_chans: int = 3,
        **kwargs,
    ):
        net = create_backbone(backbone, in_chans, layers, padding, cifar_stem)
        super().__init__(embed_layer=partial(HybridEmbed, net), patch_size=patch_size, in_chans=in_chans, **kwargs)
