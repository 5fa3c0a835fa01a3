"""The model panel's derived figures: analytic formulas checked against counts on built models."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from vitstudio.models import VisionTransformer, model_args
from vitstudio.models.stats import OPTIMIZER_BYTES_PER_PARAM, vit_stats

CONFIGS = [
    dict(img_size=32, patch_size=4, embed_dim=64, depth=2, num_heads=4, num_classes=10),
    dict(img_size=(32, 48), patch_size=8, embed_dim=48, depth=3, num_heads=3, num_classes=7, mlp_ratio=2.5,
         pos_embed="learned_2d", global_pool="avg", class_token=False, representation_size=20, qkv_bias=False),
    dict(img_size=24, patch_size=(4, 6), embed_dim=32, depth=1, num_heads=2, num_classes=0, pos_embed="sincos_2d",
         global_pool="avg", fc_norm=False),
]


def counted_macs(model, x):
    """Multiply-accumulates by torch's counter (explicit attention path, so q k^T and attn @ v count)."""
    with FlopCounterMode(display=False) as counter:
        model(x, return_attention=True)
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


@pytest.mark.parametrize("kw", CONFIGS)
def test_formulas_match_counts_on_the_built_model(kw):
    model = VisionTransformer(**kw).train()
    stats = vit_stats(**kw)
    h, w = (kw["img_size"],) * 2 if isinstance(kw["img_size"], int) else kw["img_size"]
    x = torch.randn(4, 3, h, w)
    assert stats.params == sum(p.numel() for p in model.parameters())
    assert stats.macs == counted_macs(model, x[:1])
    assert stats.seq_len == model.patch_embed.num_patches + model.num_prefix_tokens
    assert abs(4 * stats.activations - saved_activations(model, x)) <= 0.05 * 4 * stats.activations


def test_vit_base_16_has_the_papers_figures():
    stats = vit_stats(**model_args("vit_base_patch16_224"))
    assert stats.params == 86_567_656
    assert stats.seq_len == 197
    assert round(stats.gmacs, 1) == 17.6
    # ViT-B/16 trains a 64-image fp32 batch in a few GB: 1.4 GB of weights and AdamW state plus activations
    assert stats.train_memory(64) == 86_567_656 * OPTIMIZER_BYTES_PER_PARAM + 64 * 4 * stats.activations
    assert 5e9 < stats.train_memory(64) < 15e9
