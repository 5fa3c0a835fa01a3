"""Masked patch prediction (ViT paper): 80/10/10 corruption, 3-bit mean-colour targets, pixel targets."""

import pytest
import torch
import torch.nn.functional as F
from conftest import pretraining_losses

from vitstudio.models import MaskedPatchPredictionViT, create_model


def tiny(**kw):
    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4)
    return MaskedPatchPredictionViT(**{**args, **kw})


def test_corruption_shares_follow_the_noise():
    m = tiny()
    N = 40
    x, noise = torch.randn(2, N, 32), torch.rand(2, N)
    out, mask = m.corrupt(x, 0.5, noise)
    order = noise.argsort(1)
    assert mask.sum(1).tolist() == [20, 20]
    for b in range(2):
        token, random, unchanged, kept = order[b, :16], order[b, 16:18], order[b, 18:20], order[b, 20:]
        assert torch.equal(out[b, token], m.mask_token[0].expand(16, -1))
        assert torch.equal(out[b, random], x[b, order[b].flip(0)[:2]])  # other patches of the same image
        assert not set(order[b].flip(0)[:2].tolist()) & set(order[b, :20].tolist())
        assert torch.equal(out[b, unchanged], x[b, unchanged]) and torch.equal(out[b, kept], x[b, kept])
        assert torch.equal(mask[b, order[b, :20]], torch.ones(20)) and mask[b, kept].sum() == 0


@pytest.mark.parametrize("mean,std", [((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), ((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])
def test_mean_colour_classes_use_unnormalised_pixels(mean, std):
    m = tiny(mean=mean, std=std)
    # four 8x8 patches per row; each patch a solid colour with a known 3-bit code
    colours = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.3, 0.6, 0.9], [0.99, 0.13, 0.55]])
    img = torch.zeros(1, 3, 32, 32)
    for j, c in enumerate(colours):
        img[0, :, :8, 8 * j : 8 * j + 8] = c.view(3, 1, 1)
    normalised = (img - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    classes = m.mean_color_class(normalised)
    bins = [[0, 0, 0], [7, 7, 7], [2, 4, 7], [7, 1, 4]]
    assert classes.shape == (1, 16)
    assert classes[0, :4].tolist() == [r * 64 + g * 8 + b for r, g, b in bins]
    assert classes[0, 4:].eq(0).all()


def test_colour_loss_is_cross_entropy_on_corrupted_patches():
    torch.manual_seed(0)
    m = tiny().eval()
    x, noise = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 16)
    loss, pred, mask = m(x, noise=noise)
    assert pred.shape == (2, 16, 512) and mask.sum() == 16
    target = m.mean_color_class(x)
    expected = F.cross_entropy(pred[mask.bool()], target[mask.bool()])
    assert torch.allclose(loss, expected)


def test_pixel_target_and_a_training_step():
    torch.manual_seed(0)
    m = tiny(target="pixels")
    losses, (_, pred, _) = pretraining_losses(m, torch.randn(4, 3, 32, 32), torch.rand(4, 16), lr=3e-3)
    assert pred.shape == (4, 16, 8 * 8 * 3) and losses[-1] < losses[0]
    assert m.mask_token.grad is not None and m.mask_token.grad.abs().sum() > 0


def test_bad_options_are_explained():
    with pytest.raises(ValueError, match="target"):
        tiny(target="rgb")
    with pytest.raises(ValueError, match="replace_probs"):
        tiny(replace_probs=(0.8, 0.1, 0.2))
    with pytest.raises(ValueError, match="one value per input channel"):
        tiny(mean=(0.5,))
    with pytest.raises(ValueError, match="mask_ratio"):
        tiny()(torch.randn(1, 3, 32, 32), mask_ratio=0.0)


def test_named_models():
    base = create_model("mpp_vit_base_patch16_224")
    assert base.embed_dim == 768 and base.mpp_head.out_features == 512 and base.patch_embed.num_patches == 196
    micro = create_model("mpp_vit_micro_patch4_32")
    loss, pred, mask = micro(torch.randn(2, 3, 32, 32))
    assert pred.shape == (2, 64, 512) and mask.sum().item() == 64 and torch.isfinite(loss)
