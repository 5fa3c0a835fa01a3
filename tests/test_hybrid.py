"""Hybrid behaviour beyond parity: weight standardisation, 'same' padding, backbones, sizes, errors."""

import pytest
import torch

from vitstudio.models import HybridEmbed, HybridVisionTransformer, ResNetV2, VisionTransformer, create_model
from vitstudio.models.hybrid import TorchvisionResNet
from vitstudio.models.resnetv2 import StdConv2d, same_padding


def test_weight_standardisation():
    conv = StdConv2d(8, 16, 3, eps=1e-8)
    with torch.no_grad():
        conv.weight.mul_(5).add_(3)
    w = conv.standardized_weight().flatten(1)
    assert torch.allclose(w.mean(1), torch.zeros(16), atol=1e-5)
    assert torch.allclose(w.var(1, unbiased=False), torch.ones(16), atol=1e-4)


@pytest.mark.parametrize("size", [224, 223, 97, 32])
def test_same_padding_gives_ceil_sizes(size):
    assert same_padding(224, 7, 2) == (2, 3)  # TensorFlow pads more at the end
    net = ResNetV2(layers=(1, 1, 1))
    out = net(torch.randn(1, 3, size, size))
    expected = size
    for _ in range(4):
        expected = -(-expected // 2)
    assert out.shape == (1, 1024, expected, expected) and net.reduction == 16


def test_backbone_depths_and_stem_only():
    assert len(create_model("vit_base_r50_s16_224").patch_embed.backbone.stages[2].blocks) == 9
    r26 = create_model("vit_small_r26_s32_224").patch_embed
    assert [len(s.blocks) for s in r26.backbone.stages] == [2, 2, 2, 2] and r26.grid_size == (7, 7)
    stem = create_model("vit_tiny_r_s16_p8_224").patch_embed
    assert not hasattr(stem.backbone, "stages") and stem.backbone.reduction == 4 and stem.grid_size == (7, 7)
    assert "patch_embed.backbone.conv.weight" in create_model("vit_micro_r_s4_p1_32").state_dict()


@pytest.mark.parametrize("name,channels", [("resnet18", 256), ("resnet34", 256), ("resnet50", 1024)])
def test_torchvision_backbones_cut_at_stride_16(name, channels):
    import torchvision

    m = HybridVisionTransformer(backbone=name, img_size=64, embed_dim=32, depth=1, num_heads=2, num_classes=3)
    backbone = m.patch_embed.backbone
    assert isinstance(backbone, TorchvisionResNet) and backbone.num_features == channels
    assert m.grid_size == (4, 4) and m(torch.randn(2, 3, 64, 64)).shape == (2, 3)
    assert any(isinstance(x, torch.nn.BatchNorm2d) for x in backbone.modules())
    # torchvision's own weights load into it by name (layer4 and fc are not part of it)
    tv = getattr(torchvision.models, name)().state_dict()
    missing, unexpected = backbone.load_state_dict(tv, strict=False)
    assert not missing and all(k.startswith(("layer4", "fc")) for k in unexpected)


def test_embed_layer_contract_and_sizes():
    m = create_model("vit_micro_r_s4_p1_32", depth=1)
    assert isinstance(m.patch_embed, HybridEmbed) and m.patch_embed(torch.randn(2, 3, 32, 32)).shape == (2, 8, 8, 192)
    with pytest.raises(ValueError, match="built for 32x32"):
        m(torch.randn(1, 3, 64, 64))
    dynamic = create_model("vit_micro_r_s4_p1_32", depth=1, dynamic_img_size=True)
    assert dynamic(torch.randn(1, 3, 48, 64)).shape == (1, 10)
    with pytest.raises(ValueError, match="not divisible by the backbone stride"):
        create_model("vit_micro_r_s4_p1_32", img_size=30)
    with pytest.raises(ValueError, match="backbone must be one of"):
        HybridVisionTransformer(backbone="vgg16")
    with pytest.raises(ValueError, match="padding"):
        HybridVisionTransformer(padding="reflect", layers=(1,), img_size=32, depth=1)
    assert isinstance(create_model("vit_micro_resnet18_s4_32", depth=1), VisionTransformer)
