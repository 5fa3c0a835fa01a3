"""Behaviour of the ViT family beyond parity: options, attention capture, registry, errors."""

import pytest
import torch

from vitstudio.models import VisionTransformer, create_model, list_models, model_args
from vitstudio.models.layers import Block, drop_path
from vitstudio.models.pos_embed import resample_abs_pos_embed, sincos_2d


def tiny(**kw):
    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=5)
    return VisionTransformer(**{**args, **kw}).eval()


def test_named_models_have_the_papers_shapes():
    m = create_model("vit_base_patch16_224")
    assert sum(p.numel() for p in m.parameters()) == 86_567_656
    assert m.patch_embed.num_patches + m.num_prefix_tokens == 197
    assert {"vit_tiny_patch16_224", "vit_huge_patch14_224", "vit_base_patch8_224"} <= set(list_models("vit_*"))
    assert model_args("vit_large_patch32_224")["depth"] == 24


def test_unknown_model_is_named_in_the_error():
    with pytest.raises(KeyError, match="vit_gigantic"):
        create_model("vit_gigantic_patch16_224")


@pytest.mark.parametrize("pos", ["learned", "learned_2d", "sincos_2d", "none"])
@pytest.mark.parametrize("pool,cls", [("token", True), ("avg", True), ("avg", False)])
def test_position_embeddings_and_pooling(pos, pool, cls):
    m = tiny(pos_embed=pos, global_pool=pool, class_token=cls)
    out = m(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    trainable = {n for n, p in m.named_parameters()}
    assert ("pos_embed" in trainable) == (pos == "learned")
    assert ({"pos_embed_h", "pos_embed_w"} <= trainable) == (pos == "learned_2d")
    assert ("pos_embed" in m.state_dict()) == (pos in ("learned", "sincos_2d"))


def test_position_embedding_changes_the_output_except_none():
    x = torch.randn(1, 3, 32, 32)
    # permuting the patches changes a model with position embeddings, but not one without (avg pool)
    perm = x.reshape(1, 3, 4, 8, 4, 8).flip(2).reshape(1, 3, 32, 32)
    for pos, changes in [("learned", True), ("sincos_2d", True), ("learned_2d", True), ("none", False)]:
        m = tiny(pos_embed=pos, global_pool="avg", class_token=False)
        with torch.no_grad():
            moved = ((m(x) - m(perm)).abs().max() / m(x).abs().max()).item()
        assert moved > 1e-4 if changes else moved < 1e-6, (pos, moved)


def test_rectangular_images_and_dynamic_size():
    m = tiny(img_size=(32, 64))
    assert m.grid_size == (4, 8) and m(torch.randn(2, 3, 32, 64)).shape == (2, 5)
    with pytest.raises(ValueError, match="built for 32x64"):
        m(torch.randn(2, 3, 32, 32))
    d = tiny(dynamic_img_size=True)
    assert d(torch.randn(1, 3, 48, 64)).shape == (1, 5)
    with pytest.raises(ValueError, match="not divisible"):
        d(torch.randn(1, 3, 30, 32))


def test_bad_configurations_are_explained():
    with pytest.raises(ValueError, match="not divisible by patch size"):
        tiny(img_size=30)
    with pytest.raises(ValueError, match="num_heads"):
        tiny(num_heads=5)
    with pytest.raises(ValueError, match="class token"):
        tiny(class_token=False, global_pool="token")
    with pytest.raises(ValueError, match="pos_embed"):
        tiny(pos_embed="relative")


def test_pre_logits_layer():
    m = tiny(representation_size=16)
    assert m.pre_logits.fc.out_features == 16 and isinstance(m.pre_logits.act, torch.nn.Tanh)
    assert m.forward_head(m.forward_features(torch.randn(2, 3, 32, 32)), pre_logits=True).abs().max() <= 1


def test_explicit_attention_reproduces_the_fast_path():
    m = tiny(embed_dim=64, depth=3)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        fast = m(x)
        slow, attns = m(x, return_attention=True)
        tokens = m._pos_embed(m.patch_embed(x))
        for blk in m.blocks:
            y_fast = blk(tokens)
            y_slow, _ = blk(tokens, return_attention=True)
            assert (y_fast - y_slow).abs().max() <= 1e-6
            tokens = y_fast
    assert (fast - slow).abs().max() <= 1e-6
    assert len(attns) == 3
    for a in attns:
        assert a.shape == (2, 4, 17, 17)
        torch.testing.assert_close(a.sum(-1), torch.ones(2, 4, 17), atol=1e-6, rtol=0)


def test_drop_path_is_per_sample_and_identity_in_eval():
    x = torch.ones(1000, 4, 8)
    y = drop_path(x, 0.25, training=True)
    kept = (y[:, 0, 0] != 0).float().mean().item()
    assert 0.65 < kept < 0.85
    assert torch.all((y == 0) | (y == 1 / 0.75))
    assert torch.equal(drop_path(x, 0.25, training=False), x)
    blk = Block(8, 2, drop_path=0.5).eval()
    assert torch.equal(blk(x[:2]), blk(x[:2]))


def test_stochastic_depth_rates_grow_linearly():
    m = tiny(depth=4, drop_path_rate=0.3)
    assert [b.drop_path1.p for b in m.blocks] == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_sincos_table_layout():
    t = sincos_2d(8, (2, 3), num_prefix_tokens=1)[0]
    assert t.shape == (7, 8) and torch.equal(t[0], torch.zeros(8))
    # first half codes the column, second half the row
    assert torch.equal(t[1 + 0 * 3 + 2, :4], t[1 + 1 * 3 + 2, :4])
    assert torch.equal(t[1 + 1 * 3 + 0, 4:], t[1 + 1 * 3 + 2, 4:])


def test_resample_keeps_prefix_and_identity():
    pos = torch.randn(1, 1 + 16, 8)
    assert resample_abs_pos_embed(pos, (4, 4)) is pos
    out = resample_abs_pos_embed(pos, (6, 2))
    assert out.shape == (1, 13, 8) and torch.equal(out[:, :1], pos[:, :1])
    with pytest.raises(ValueError, match="grid"):
        resample_abs_pos_embed(torch.randn(1, 1 + 15, 8), (4, 4))


def test_loading_weights_from_another_resolution():
    small = tiny()
    big = tiny(img_size=64)
    big.load_state_dict(small.state_dict())
    assert big.pos_embed.shape == (1, 1 + 64, 32)
    assert torch.equal(big.cls_token, small.cls_token)


def test_no_weight_decay_names():
    assert tiny().no_weight_decay() == {"cls_token", "pos_embed"}
    assert tiny(pos_embed="learned_2d").no_weight_decay() == {"cls_token", "pos_embed_h", "pos_embed_w"}
    assert tiny(pos_embed="sincos_2d", class_token=False, global_pool="avg").no_weight_decay() == set()
