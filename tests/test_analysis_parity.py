"""Attention maps from our explicit path equal attention computed by hand from timm's qkv weights."""

import timm
import torch
from conftest import rel_err

from vitstudio import analysis as A
from vitstudio.models import VisionTransformer


def attention_by_hand(timm_model, x):
    """softmax(q k^T / sqrt(d)) from each timm block's own qkv weights, on its own block inputs, in float64."""
    inputs = []
    hooks = [blk.norm1.register_forward_hook(lambda m, i, o: inputs.append(o.double())) for blk in timm_model.blocks]
    with torch.no_grad():
        timm_model(x)
    for h in hooks:
        h.remove()
    out = []
    for blk, h in zip(timm_model.blocks, inputs):
        attn = blk.attn
        B, N, C = h.shape
        qkv = h @ attn.qkv.weight.double().T + attn.qkv.bias.double()  # rows ordered q | k | v
        q, k, _ = qkv.reshape(B, N, 3, attn.num_heads, C // attn.num_heads).permute(2, 0, 3, 1, 4)
        out.append((q @ k.transpose(-2, -1) / (C // attn.num_heads) ** 0.5).softmax(-1))
    return torch.stack(out)


def test_our_attention_maps_match_timm_qkv_by_hand():
    ref = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=(32, 48), patch_size=8, depth=3, num_classes=5
    ).eval()
    ours = VisionTransformer(img_size=(32, 48), patch_size=8, embed_dim=192, depth=3, num_heads=3, num_classes=5).eval()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 32, 48)
    expected = attention_by_hand(ref, x)
    attn = torch.from_numpy(A.collect_attention(ours, x)).double()
    assert attn.shape == (3, 2, 3, 1 + 4 * 6, 1 + 4 * 6)
    assert rel_err(attn, expected) < 1e-5
    maps = A.token_attention(attn, (4, 6), num_prefix_tokens=1)
    assert torch.allclose(torch.from_numpy(maps), expected[..., 0, 1:].reshape(3, 2, 3, 4, 6), atol=1e-6)
