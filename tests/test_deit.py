"""DeiT: the distilled model's outputs, the distillation loss, and teachers."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vitstudio.models import (
    DistillationLoss,
    DistilledVisionTransformer,
    create_model,
    create_teacher,
    export_safetensors,
)
from vitstudio.models.torchvision_nets import adapt_to_small_images


def tiny(**kw):
    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=5)
    return DistilledVisionTransformer(**{**args, **kw})


def test_train_returns_both_heads_eval_their_mean():
    m = tiny()
    assert m.pos_embed.shape == (1, 16 + 2, 32) and m.num_prefix_tokens == 2
    x = torch.randn(3, 3, 32, 32)
    cls, dist = m.train()(x)
    assert cls.shape == dist.shape == (3, 5) and not torch.allclose(cls, dist)
    with torch.no_grad():
        assert torch.allclose(m.eval()(x), (cls + dist) / 2, atol=1e-6)
        feats = m.forward_features(x)
        assert torch.allclose(m.forward_head(feats, pre_logits=True), (feats[:, 0] + feats[:, 1]) / 2)
    logits, attns = m(x, return_attention=True)
    assert logits.shape == (3, 5) and attns[0].shape == (3, 4, 18, 18)


def test_distillation_token_and_head_are_trained_and_reset():
    m = tiny()
    _cls, dist = m.train()(torch.randn(2, 3, 32, 32))
    dist.sum().backward()
    assert m.dist_token.grad.abs().sum() > 0 and m.head_dist.weight.grad.abs().sum() > 0
    assert m.head.weight.grad is None
    assert "dist_token" in m.no_weight_decay()
    m.reset_classifier(7)
    assert m.head.out_features == m.head_dist.out_features == 7


def test_bad_configurations_are_explained():
    with pytest.raises(ValueError, match="global_pool='token'"):
        tiny(global_pool="avg")
    with pytest.raises(ValueError, match="representation_size"):
        tiny(representation_size=16)


class Teacher(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.logits


def test_distillation_loss_kinds():
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 5, (4,))
    cls, dist, t = torch.randn(4, 5), torch.randn(4, 5), torch.randn(4, 5)
    ce = nn.CrossEntropyLoss()
    teacher = Teacher(t)
    none = DistillationLoss(ce, teacher, "none")(x, (cls, dist), y)
    assert torch.allclose(none, F.cross_entropy(cls, y)) and teacher.calls == 0
    hard = DistillationLoss(ce, teacher, "hard", alpha=0.3)(x, (cls, dist), y)
    assert torch.allclose(hard, 0.7 * F.cross_entropy(cls, y) + 0.3 * F.cross_entropy(dist, t.argmax(1)))
    tau = 3.0
    soft = DistillationLoss(ce, teacher, "soft", alpha=0.5, tau=tau)(x, (cls, dist), y)
    p_t = F.softmax(t / tau, 1)
    kl = (p_t * (p_t.log() - F.log_softmax(dist / tau, 1))).sum() / dist.numel() * tau**2  # DeiT's scaling
    assert torch.allclose(soft, 0.5 * F.cross_entropy(cls, y) + 0.5 * kl, atol=1e-6)


def test_distillation_into_a_single_head_and_a_valid_setup():
    """A model with one head takes both terms on it: DeiT Table 3's "usual distillation"."""
    ce = nn.CrossEntropyLoss()
    logits, t, y = torch.randn(2, 5), torch.randn(2, 5), torch.tensor([0, 1])
    hard = DistillationLoss(ce, Teacher(t), "hard", alpha=0.3)(None, logits, y)
    assert torch.allclose(hard, 0.7 * F.cross_entropy(logits, y) + 0.3 * F.cross_entropy(logits, t.argmax(1)))
    with pytest.raises(ValueError, match="needs a teacher"):
        DistillationLoss(ce, None, "soft")
    with pytest.raises(ValueError, match="kind"):
        DistillationLoss(ce, None, "medium")


def test_teacher_stays_frozen_in_eval_mode():
    teacher = create_teacher("resnet18", num_classes=5, img_size=32)
    loss_fn = DistillationLoss(nn.CrossEntropyLoss(), teacher, "hard").train()
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    student = tiny().train()
    x = torch.randn(2, 3, 32, 32)
    loss = loss_fn(x, student(x), torch.tensor([0, 1]))
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.head_dist.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["resnet18", "regnet_y_400mf", "mobilenet_v3_small"])
def test_torchvision_teachers_adapt_to_small_images(name):
    teacher = create_teacher(name, num_classes=10, img_size=32)
    stem = next(m for m in teacher.modules() if isinstance(m, nn.Conv2d))
    assert stem.stride == (1, 1) and stem.kernel_size == (3, 3)
    assert not any(isinstance(m, nn.MaxPool2d) for m in teacher.modules())
    with torch.no_grad():
        assert teacher(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    big = create_teacher(name, num_classes=10, img_size=224)
    assert next(m for m in big.modules() if isinstance(m, nn.Conv2d)).stride == (2, 2)


def test_a_cnn_built_to_train_here_updates_its_batchnorm_statistics_at_pytorchs_rate():
    """MobileNetV3's own 0.01 leaves the running statistics near their start after a short run: the teacher
    then evaluates at chance (seen in the DeiT study)."""
    import torchvision

    from vitstudio.models.torchvision_nets import BN_MOMENTUM, torchvision_classifier

    assert {m.momentum for m in torchvision.models.mobilenet_v3_small().modules() if isinstance(m, nn.BatchNorm2d)} == {
        0.01
    }
    net = torchvision_classifier("mobilenet_v3_small", num_classes=10, img_size=32)
    assert {m.momentum for m in net.modules() if isinstance(m, nn.BatchNorm2d)} == {BN_MOMENTUM} == {0.1}


def test_adapted_resnet_keeps_spatial_detail():
    import torchvision

    net = adapt_to_small_images(torchvision.models.resnet18(num_classes=10))
    feats = nn.Sequential(*list(net.children())[:-2])(torch.randn(1, 3, 32, 32))
    assert feats.shape[-2:] == (4, 4)  # stride 8 instead of 32


def test_teachers_from_vitstudio_files_and_weights(tmp_path):
    trained = create_model("deit_nano_distilled_patch4_32").eval()
    path = export_safetensors(trained, tmp_path / "teacher.safetensors")
    teacher = create_teacher(str(path), num_classes=10, img_size=32)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(teacher(x), trained(x))
    cnn = create_teacher("resnet18", num_classes=10, img_size=32)
    again = create_teacher("resnet18", num_classes=10, img_size=32, weights=cnn.state_dict())
    assert torch.equal(again.fc.weight, cnn.fc.weight)
    with pytest.raises(ValueError, match="unknown teacher"):
        create_teacher("resnet9000", num_classes=10)


def test_named_deit_models():
    m = create_model("deit_small_distilled_patch16_224")
    assert isinstance(m, DistilledVisionTransformer) and m.embed_dim == 384 and m.pos_embed.shape[1] == 198
    assert not isinstance(create_model("deit_small_patch16_224"), DistilledVisionTransformer)
    assert create_model("deit_micro_distilled_patch4_32").num_classes == 10
