"""BiT ResNetV2 as the ViT paper's Hybrid backbone (non-pre-activation, timm's port and parameter names).

Convolutions standardise their weights per output channel, (w - mean) / sqrt(var + eps); every conv is
followed by GroupNorm (32 groups, eps 1e-5). With `padding='same'` convolutions and the stem max-pool pad
like TensorFlow's 'SAME' (asymmetric, computed from the input size), which the Google checkpoints and timm's
`vit_*_r*` models need for numerical parity; `padding='symmetric'` is PyTorch's usual k//2 padding.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

PADDINGS = ("same", "symmetric")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) of one spatial side: output size ceil(size / stride)."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    (top, bottom), (left, right) = (same_padding(s, kernel, stride) for s in x.shape[-2:])
    return F.pad(x, (left, right, top, bottom), value=value)


class StdConv2d(nn.Conv2d):
    """Conv2d with weight standardisation (Qiao et al. 2019), no bias, square kernels."""

    def __init__(self, in_chs, out_chs, kernel_size, stride=1, padding="symmetric", eps=1e-6, bias=False):
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        # 'same' with stride 1 and an odd kernel is the symmetric k//2: pad statically then.
        self.dynamic_pad = padding == "same" and stride > 1
        super().__init__(
            in_chs, out_chs, kernel_size, stride, padding=0 if self.dynamic_pad else kernel_size // 2, bias=bias
        )
        self.eps = eps

    def standardized_weight(self) -> torch.Tensor:
        """(w - mean) / sqrt(var + eps) per output channel, as one fused batch-norm call."""
        w = self.weight.reshape(1, self.out_channels, -1)
        return F.batch_norm(w, None, None, training=True, momentum=0.0, eps=self.eps).reshape_as(self.weight)

    def forward(self, x):
        if self.dynamic_pad:
            x = pad_same(x, self.kernel_size[0], self.stride[0])
        return F.conv2d(x, self.standardized_weight(), self.bias, self.stride, self.padding)

    def extra_repr(self):
        return super().extra_repr() + f", eps={self.eps}" + (", padding=same" if self.dynamic_pad else "")


class GroupNormAct(nn.GroupNorm):
    """GroupNorm (32 groups) optionally followed by ReLU; timm's `GroupNormAct` under the same name."""

    def __init__(self, num_channels, num_groups=32, eps=1e-5, act=True):
        super().__init__(num_groups, num_channels, eps=eps)
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x):
        return self.act(super().forward(x))


class MaxPool2dSame(nn.MaxPool2d):
    """3x3/2 max-pool with TensorFlow 'SAME' padding (pads with -inf)."""

    def forward(self, x):
        return F.max_pool2d(pad_same(x, self.kernel_size, self.stride, value=-math.inf), self.kernel_size, self.stride)


def stem_layers(in_chans=3, out_chs=64, padding="same", conv_eps=1e-8, gn_eps=1e-5) -> OrderedDict:
    """7x7/2 weight-standardised conv, GroupNorm + ReLU, 3x3/2 max-pool: stride 4."""
    return OrderedDict(
        conv=StdConv2d(in_chans, out_chs, 7, stride=2, padding=padding, eps=conv_eps),
        norm=GroupNormAct(out_chs, eps=gn_eps),
        pool=MaxPool2dSame(3, 2) if padding == "same" else nn.MaxPool2d(3, 2, padding=1),
    )


class DownsampleConv(nn.Module):
    """Projection shortcut: 1x1 conv (strided) + GroupNorm."""

    def __init__(self, in_chs, out_chs, stride, conv, norm):
        super().__init__()
        self.conv = conv(in_chs, out_chs, 1, stride=stride)
        self.norm = norm(out_chs, act=False)

    def forward(self, x):
        return self.norm(self.conv(x))


class Bottleneck(nn.Module):
    """Non-pre-activation bottleneck (ResNet v1.5: the stride sits on the 3x3 conv)."""

    def __init__(self, in_chs, out_chs, stride, conv, norm, bottle_ratio=0.25):
        super().__init__()
        mid = int(out_chs * bottle_ratio)
        needs_projection = stride > 1 or in_chs != out_chs
        self.downsample = DownsampleConv(in_chs, out_chs, stride, conv, norm) if needs_projection else None
        self.conv1 = conv(in_chs, mid, 1)
        self.norm1 = norm(mid)
        self.conv2 = conv(mid, mid, 3, stride=stride)
        self.norm2 = norm(mid)
        self.conv3 = conv(mid, out_chs, 1)
        self.norm3 = norm(out_chs, act=False)
        self.act3 = nn.ReLU(inplace=True)

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.norm1(self.conv1(x))
        x = self.norm2(self.conv2(x))
        x = self.norm3(self.conv3(x))
        return self.act3(x + shortcut)


class ResNetStage(nn.Module):
    def __init__(self, in_chs, out_chs, stride, depth, conv, norm):
        super().__init__()
        self.blocks = nn.Sequential(
            *[
                Bottleneck(in_chs if i == 0 else out_chs, out_chs, stride if i == 0 else 1, conv, norm)
                for i in range(depth)
            ]
        )

    def forward(self, x):
        return self.blocks(x)


class ResNetV2(nn.Module):
    """Stem then bottleneck stages; returns the last feature map (no head).

    `layers=(3, 4, 9)` is the ViT paper's R50 with stage 4 folded into stage 3 (stride 16, 1024 channels);
    `(2, 2, 2, 2)` is R26 (stride 32, 2048 channels). Stage i has `channels[i]` output channels and
    stride 2 except the first.
    """

    def __init__(
        self,
        layers=(3, 4, 9),
        channels=(256, 512, 1024, 2048),
        in_chans=3,
        stem_chs=64,
        padding="same",
        conv_eps=1e-8,
        gn_eps=1e-5,
    ):
        super().__init__()
        if not layers or len(layers) > len(channels):
            raise ValueError(f"layers must name 1 to {len(channels)} stage depths, got {tuple(layers)}")
        conv = partial(StdConv2d, padding=padding, eps=conv_eps)
        norm = partial(GroupNormAct, eps=gn_eps)
        self.stem = nn.Sequential(stem_layers(in_chans, stem_chs, padding, conv_eps, gn_eps))
        self.stages = nn.Sequential()
        prev = stem_chs
        for i, (depth, chs) in enumerate(zip(layers, channels)):
            self.stages.add_module(str(i), ResNetStage(prev, chs, 1 if i == 0 else 2, depth, conv, norm))
            prev = chs
        self.num_features = prev
        self.reduction = 4 * 2 ** (len(layers) - 1)
        init_conv_weights(self)

    def forward(self, x):
        return self.stages(self.stem(x))


class ResNetV2Stem(nn.Sequential):
    """The stem alone as a backbone (timm's `vit_tiny_r_s16_p8_*`): 64 channels at stride 4."""

    def __init__(self, in_chans=3, stem_chs=64, padding="same", conv_eps=1e-8, gn_eps=1e-5):
        super().__init__(stem_layers(in_chans, stem_chs, padding, conv_eps, gn_eps))
        self.num_features = stem_chs
        self.reduction = 4
        init_conv_weights(self)


def resnetv2_backbone(layers=(3, 4, 9), in_chans=3, **kwargs) -> nn.Module:
    """A ResNetV2 with these stage depths, or its stem alone when `layers` is empty."""
    return ResNetV2(tuple(layers), in_chans=in_chans, **kwargs) if layers else ResNetV2Stem(in_chans, **kwargs)


def init_conv_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
