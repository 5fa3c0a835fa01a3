"""The model panel's derived figures: analytic formulas checked against counts on built models."""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from vitstudio.models import VisionTransformer, create_model, model_args
from vitstudio.models.stats import OPTIMIZER_BYTES_PER_PARAM, model_stats, vit_stats

CONFIGS = [
    dict(img_size=32, patch_size=4, embed_dim=64, depth=2, num_heads=4, num_classes=10),
    dict(
        img_size=(32, 48),
        patch_size=8,
        embed_dim=48,
        depth=3,
        num_heads=3,
        num_classes=7,
        mlp_ratio=2.5,
        pos_embed="learned_2d",
        global_pool="avg",
        class_token=False,
        representation_size=20,
        qkv_bias=False,
    ),
    dict(
        img_size=24,
        patch_size=(4, 6),
        embed_dim=32,
        depth=1,
        num_heads=2,
        num_classes=0,
        pos_embed="sincos_2d",
        global_pool="avg",
        fc_norm=False,
    ),
]


def counted_macs(model, x):
    """Multiply-accumulates by torch's counter (math attention, so q k^T and attn @ v count as matmuls)."""
    with FlopCounterMode(display=False) as counter, sdpa_kernel(SDPBackend.MATH):
        model(x)
    return counter.get_total_flops() // 2


def saved_activations(model, x):
    """Values autograd keeps for backward, each storage once, parameters excluded."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes() // t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(seen.values())


def per_image_activations(model, x):
    """What one more image adds (some tensors, e.g. standardised conv weights, are saved once a batch)."""
    return (saved_activations(model, x) - saved_activations(model, x[:2].clone())) / (len(x) - 2)


@pytest.mark.parametrize("kw", CONFIGS)
def test_formulas_match_counts_on_the_built_model(kw):
    model = VisionTransformer(**kw).train()
    stats = vit_stats(**kw)
    h, w = (kw["img_size"],) * 2 if isinstance(kw["img_size"], int) else kw["img_size"]
    x = torch.randn(4, 3, h, w)
    assert stats.params == sum(p.numel() for p in model.parameters())
    assert stats.macs == counted_macs(model, x[:1])
    assert stats.seq_len == model.patch_embed.num_patches + model.num_prefix_tokens
    assert stats.patches == model.patch_embed.num_patches
    assert per_image_activations(model, x) == pytest.approx(stats.activations, rel=0.05)


def test_vit_base_16_has_the_papers_figures():
    stats = vit_stats(**model_args("vit_base_patch16_224"))
    assert stats.params == 86_567_656
    assert stats.seq_len == 197
    assert round(stats.gmacs, 1) == 17.6
    # ViT-B/16 trains a 64-image fp32 batch in a few GB: 1.4 GB of weights and AdamW state plus activations
    assert stats.train_memory(64) == 86_567_656 * OPTIMIZER_BYTES_PER_PARAM + 64 * 4 * stats.activations
    assert 5e9 < stats.train_memory(64) < 15e9


SMALL = dict(embed_dim=32, depth=2, num_heads=2, img_size=16)


@pytest.mark.parametrize(
    "name",
    [
        "vit_nano_patch4_32",
        "deit_nano_distilled_patch4_32",
        "mae_vit_nano_patch4_32",
        "mpp_vit_nano_patch4_32",
        "vit_micro_r_s4_p1_32",
        "vit_micro_resnet18_s4_32",
    ],
)
def test_every_family_matches_its_built_model(name):
    model = create_model(name, **SMALL).train()
    stats = model_stats(name, **SMALL)
    x = torch.randn(4, 3, 16, 16)
    assert stats.params == sum(p.numel() for p in model.parameters())
    assert stats.macs == counted_macs(model, x[:1])
    assert stats.patches == model.patch_embed.num_patches
    assert per_image_activations(model, x) == pytest.approx(stats.activations, rel=0.05)


def test_mae_encodes_only_the_visible_patches():
    full = model_stats("mae_vit_base_patch16", mask_ratio=0.0)
    default = model_stats("mae_vit_base_patch16")
    assert (full.seq_len, default.seq_len, default.patches) == (197, 1 + 49, 196)
    assert default.macs < full.macs / 2 and default.params == full.params
