import itertools
import math

import pytest
import torch

from vitstudio.models import create_model
from vitstudio.train.optim import build_optimizer, layer_id, lr_at, param_groups, set_lr


def _tiny():
    return create_model("vit_nano_patch4_32", img_size=16, depth=2, embed_dim=32, num_heads=2)


def test_no_decay_on_norms_biases_tokens_and_positions():
    model = _tiny()
    names = {id(p): n for n, p in model.named_parameters()}
    groups = param_groups(model, weight_decay=0.05)
    no_decay = {names[id(p)] for g in groups if g["weight_decay"] == 0 for p in g["params"]}
    decay = {names[id(p)] for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    assert {"cls_token", "pos_embed", "blocks.0.norm1.weight", "blocks.0.attn.qkv.bias", "head.bias"} <= no_decay
    assert {"patch_embed.proj.weight", "blocks.1.mlp.fc1.weight", "head.weight"} <= decay
    assert len(no_decay) + len(decay) == len(names)


def test_layer_decay_scales_lr_by_depth():
    model = _tiny()
    assert layer_id("pos_embed", 2) == 0 and layer_id("blocks.1.attn.qkv.weight", 2) == 2
    assert layer_id("head.weight", 2) == 3
    opt = build_optimizer(model, lr=1.0, weight_decay=0.05, layer_decay=0.5)
    set_lr(opt, 1.0)
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert lr_of[id(model.head.weight)] == 1.0
    assert lr_of[id(model.blocks[1].mlp.fc1.weight)] == 0.5
    assert lr_of[id(model.blocks[0].mlp.fc1.weight)] == 0.25
    assert lr_of[id(model.patch_embed.proj.weight)] == lr_of[id(model.cls_token)] == 0.125


def test_frozen_parameters_are_left_out():
    model = _tiny()
    for p in model.blocks.parameters():
        p.requires_grad_(False)
    kept = {id(p) for g in param_groups(model, 0.05) for p in g["params"]}
    assert kept and not kept & {id(p) for p in model.blocks.parameters()}


def test_warmup_then_cosine():
    lrs = [lr_at(s, total_steps=100, warmup_steps=10, lr=1.0, min_lr=0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in itertools.pairwise(lrs[:10]))
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))
    assert lrs[55] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_at(100, 100, 10, 1.0, 0.1) == pytest.approx(0.1)


def test_fused_adamw_only_on_cuda():
    opt = build_optimizer(_tiny(), lr=1e-3, weight_decay=0.05, device=torch.device("cpu"))
    assert not opt.defaults["fused"]
