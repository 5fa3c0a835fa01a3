"""Each objective on a tiny model: finite loss that decreases over a few steps on a fixed batch."""

import pytest
import torch

from vitstudio.config import Config, ConfigError, apply_overrides, check
from vitstudio.models import create_model
from vitstudio.train.objectives import (
    Distillation,
    MaskedPretraining,
    Supervised,
    freeze_for_linear_probe,
    init_for_finetuning,
    load_teacher,
)
from vitstudio.train.optim import build_optimizer

TINY = dict(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2)


def _fit(objective, model, images, targets, steps=8, lr=3e-3):
    opt = build_optimizer(model, lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        torch.manual_seed(1)  # the same masks every step: the batch is fixed, only the weights change
        loss = objective.loss(model, images, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses))), losses
    assert losses[-1] < 0.9 * losses[0], losses
    return losses


@pytest.fixture
def batch():
    return torch.randn(8, 3, 16, 16), torch.arange(8) % 4


def test_supervised_hard_and_soft_targets(batch):
    images, labels = batch
    model = create_model("vit_nano_patch4_32", num_classes=4, **TINY)
    _fit(Supervised(label_smoothing=0.1), model, images, labels)
    soft = torch.nn.functional.one_hot(labels, 4).float() * 0.7 + 0.075
    _fit(Supervised(), create_model("vit_nano_patch4_32", num_classes=4, **TINY), images, soft)
    sums = Supervised().evaluate(model.eval(), images, labels)
    assert sums["count"] == 8 and 0 <= sums["top1"] <= sums["top5"] <= 8


def test_distillation_from_a_teacher(batch):
    images, labels = batch
    teacher = load_teacher("resnet18", num_classes=4, img_size=16)
    assert not any(p.requires_grad for p in teacher.parameters())
    student = create_model("deit_nano_distilled_patch4_32", num_classes=4, **TINY)
    for kind in ("hard", "soft"):
        _fit(Distillation(teacher, kind=kind, alpha=0.5, tau=2.0), student, images, labels)
    student.eval()
    assert Distillation(teacher).evaluate(student, images, labels)["count"] == 8


def test_usual_distillation_into_a_plain_vit(batch):
    """DeiT Table 3's "usual distillation": a ViT without a distillation token learns from the teacher on its head."""
    images, labels = batch
    teacher = load_teacher("resnet18", num_classes=4, img_size=16)
    student = create_model("vit_nano_patch4_32", num_classes=4, **TINY)
    _fit(Distillation(teacher, kind="soft", alpha=0.5, tau=2.0), student, images, labels)
    cfg = apply_overrides(Config(), ["objective.name=distill", "objective.teacher=resnet18"])
    assert not [e for e in check(cfg) if e.field == "objective.name"]


@pytest.mark.parametrize("name", ["mae_vit_nano_patch4_32", "mpp_vit_nano_patch4_32"])
def test_masked_pretraining(batch, name):
    images, _ = batch
    model = create_model(name, **TINY)
    _fit(MaskedPretraining(mask_ratio=0.5), model, images, None)
    model.eval()
    a = MaskedPretraining().evaluate(model, images, None)
    b = MaskedPretraining().evaluate(model, images, None)
    assert a["loss"] == b["loss"], "validation masks must be the same every time"


def test_finetune_from_pretrained_weights(batch, tmp_path):
    images, labels = batch
    mae = create_model("mae_vit_nano_patch4_32", **TINY)
    path = tmp_path / "mae.pt"
    torch.save(mae.state_dict(), path)
    model = create_model("vit_nano_patch4_32", num_classes=4, global_pool="avg", **TINY)
    notes = init_for_finetuning(model, str(path))
    assert any("head.weight" in n for n in notes), notes
    assert torch.equal(model.blocks[1].attn.qkv.weight, mae.blocks[1].attn.qkv.weight)
    _fit(Supervised(), model, images, labels)

    freeze_for_linear_probe(model)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained == {"head.weight", "head.bias"}
    before = model.blocks[0].mlp.fc1.weight.clone()
    _fit(Supervised(), model, images, labels, lr=3e-2)
    assert torch.equal(before, model.blocks[0].mlp.fc1.weight)

    with pytest.raises(ConfigError, match="objective.init_from"):
        init_for_finetuning(model, str(tmp_path / "missing.safetensors"))
