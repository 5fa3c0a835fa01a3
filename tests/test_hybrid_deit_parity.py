"""Hybrid and DeiT against timm with the same state dict: fp32, CPU, max relative error <= 1e-5."""

import pytest
import torch
from conftest import rel_err, timm_pair

timm = pytest.importorskip("timm")

TOL = 1e-5


@pytest.mark.parametrize(
    "name,params",
    [
        ("vit_base_r50_s16_224", 97_890_112),  # REFERENCE.md: R50+B/16
        ("vit_small_r26_s32_224", 36_431_912),  # R26+S/32
        ("vit_tiny_r_s16_p8_224", 6_337_704),  # stem-only backbone, patch 8 on the stride-4 map
    ],
)
def test_hybrid_parity(name, params):
    ours, ref = timm_pair(name)
    assert sum(p.numel() for p in ours.parameters()) == params
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        err = rel_err(ours(x), ref(x))
        feat_err = rel_err(ours.forward_features(x), ref.forward_features(x))
    print(f"{name}: output {err:.2e}, features {feat_err:.2e}")
    assert err <= TOL and feat_err <= TOL


def test_hybrid_at_a_new_resolution_matches_timm():
    """Same weights, a smaller image (96 px) and a shallow ViT: the 'same' padding is input-size dependent."""
    kw = dict(img_size=96, depth=2, embed_dim=128, num_heads=4)
    ours, ref = timm_pair("vit_small_r26_s32_224", **kw)
    assert ours.grid_size == (3, 3)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        err = rel_err(ours(x), ref(x))
    print(f"vit_small_r26_s32 at 96 px: {err:.2e}")
    assert err <= TOL


def test_deit_distilled_parity_train_and_eval():
    ours, ref = timm_pair("deit_base_distilled_patch16_224")
    assert sum(p.numel() for p in ours.parameters()) == 87_338_192
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        eval_err = rel_err(ours(x), ref(x))
        ours.train(), ref.train()
        ref.set_distilled_training(True)
        (cls, dist), (ref_cls, ref_dist) = ours(x), ref(x)
    cls_err, dist_err = rel_err(cls, ref_cls), rel_err(dist, ref_dist)
    print(f"deit_base_distilled_patch16_224: eval {eval_err:.2e}, train cls {cls_err:.2e}, dist {dist_err:.2e}")
    assert max(eval_err, cls_err, dist_err) <= TOL


def test_deit_plain_is_a_vit_with_timm_names():
    ours, ref = timm_pair("deit_tiny_patch16_224")
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        err = rel_err(ours(x), ref(x))
    print(f"deit_tiny_patch16_224: {err:.2e}")
    assert err <= TOL
