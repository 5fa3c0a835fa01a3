"""Our ViT against timm's with the same weights: fp32, CPU, max relative error <= 1e-5."""

import pytest
import torch
from conftest import rel_err, timm_pair

from vitstudio.models import create_model

timm = pytest.importorskip("timm")
from timm.models.vision_transformer import checkpoint_filter_fn  # noqa: E402

TOL = 1e-5


@pytest.mark.parametrize(
    "name",
    [
        "vit_tiny_patch16_224",
        "vit_small_patch16_224",
        "vit_base_patch32_224",
        "vit_base_patch16_224",
    ],
)
def test_classification_parity(name):
    ours, ref = timm_pair(name)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        err = rel_err(ours(x), ref(x))
        feat_err = rel_err(ours.forward_features(x), ref.forward_features(x))
    print(f"{name}: logits {err:.2e}, features {feat_err:.2e}")
    assert err <= TOL and feat_err <= TOL


@pytest.mark.parametrize("kwargs", [dict(global_pool="avg"), dict(global_pool="avg", class_token=False)])
def test_global_average_pool_parity(kwargs):
    ours, ref = timm_pair("vit_small_patch16_224", **kwargs)
    assert "fc_norm.weight" in ours.state_dict() and "norm.weight" not in ours.state_dict()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        err = rel_err(ours(x), ref(x))
    print(f"vit_small_patch16_224 {kwargs}: {err:.2e}")
    assert err <= TOL


def test_resolution_change_matches_timm_resampling():
    """ViT-S/16 at 384 built from 224 weights: our load-time resampling equals timm's filter."""
    weights = timm.create_model("vit_small_patch16_224", pretrained=False).state_dict()
    ref = timm.create_model("vit_small_patch16_384", pretrained=False).eval()
    ref.load_state_dict(checkpoint_filter_fn(dict(weights), ref), strict=True)
    ours = create_model("vit_small_patch16_384").eval()
    ours.load_state_dict(weights, strict=True)
    assert ours.pos_embed.shape == (1, 1 + 24 * 24, 384)
    x = torch.randn(2, 3, 384, 384)
    with torch.no_grad():
        err = rel_err(ours(x), ref(x))
    print(f"vit_small_patch16_384 from 224 weights: {err:.2e}")
    assert err <= TOL


def test_timm_loads_our_state_dict_strictly():
    ours = create_model("vit_tiny_patch16_224", num_classes=10)
    ref = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10)
    ref.load_state_dict(ours.state_dict(), strict=True)
