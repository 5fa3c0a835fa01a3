"""Per-image transforms, Mixup/CutMix with label smoothing, and the epoch sampler."""

import pytest
import torch

from vitstudio.data import Augmentation, EpochSampler, MixupCutmix, build_batch_augment


def test_augment_names_are_checked():
    with pytest.raises(ValueError, match="augment must be one of"):
        Augmentation("strong")
    with pytest.raises(ValueError, match="crop must be"):
        Augmentation("standard", crop="centre")
    with pytest.raises(ValueError, match="augment must be one of"):
        build_batch_augment("mixup", 10)


@pytest.mark.parametrize("crop", ["pad", "resized"])
@pytest.mark.parametrize("augment", ["none", "standard", "deit"])
def test_pipelines_output_normalised_float_at_img_size(augment, crop):
    img = torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8)
    for train in (True, False):
        aug = Augmentation(augment, 24, (0.5,) * 3, (0.25,) * 3, crop=crop, train=train)
        x = aug.build()(img)
        assert x.shape == (3, 24, 24) and x.dtype == torch.float32
        if not (augment == "deit" and train):  # random erasing writes N(0, 1) noise
            assert x.abs().max() <= 2 + 1e-6  # (0 - 0.5) / 0.25 .. (1 - 0.5) / 0.25
        display = aug.display()(img)
        assert display.shape == (3, 24, 24) and display.dtype == torch.uint8


def test_eval_and_none_are_deterministic_and_standard_is_not():
    img = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    for aug in (Augmentation("deit", 32, train=False), Augmentation("none", 32, train=True)):
        t = aug.build()
        assert torch.equal(t(img), t(img))
    t = Augmentation("standard", 32).build()
    assert any(not torch.equal(t(img), t(img)) for _ in range(5))


def test_mixup_cutmix_soft_targets_with_label_smoothing():
    mix = MixupCutmix(10, label_smoothing=0.1)
    x = torch.randn(8, 3, 16, 16)
    y = torch.arange(8)
    seen_mixed = False
    for _ in range(10):
        xm, t = mix(x, y)
        assert xm.shape == x.shape and t.shape == (8, 10)
        assert torch.allclose(t.sum(1), torch.ones(8))
        assert t.min() >= 0.01 - 1e-6  # smoothing gives every class at least 0.1 / 10
        # Each image mixes with the batch rolled by one (torchvision's pairing): its mass is on y and y - 1.
        top2 = t.topk(2, dim=1).indices.sort(1).values
        pairs = torch.stack([y, y.roll(1)], 1).sort(1).values
        lam = t[torch.arange(8), y]
        assert torch.equal(top2, pairs) or bool((lam > 0.9 - 1e-6).all())
        seen_mixed |= bool((lam < 0.85).any())
    assert seen_mixed
    # Cross-entropy takes the soft targets as class probabilities.
    loss = torch.nn.functional.cross_entropy(torch.randn(8, 10), t)
    assert torch.isfinite(loss)


def test_batch_augment_only_for_deit():
    assert build_batch_augment("standard", 10) is None
    assert build_batch_augment("none", 10) is None
    assert isinstance(build_batch_augment("deit", 10, mixup_alpha=0.0), MixupCutmix)
    with pytest.raises(ValueError, match="at least one"):
        MixupCutmix(10, mixup_alpha=0, cutmix_alpha=0)


def test_epoch_sampler_shuffles_by_seed_and_epoch():
    s = EpochSampler(10, seed=1)
    a = list(s)
    assert sorted(a) == list(range(10)) and a == list(s)
    s.set_epoch(1)
    assert list(s) != a and sorted(s) == list(range(10))
    assert list(EpochSampler(10, shuffle=False)) == list(range(10))


def test_repeated_augmentation_repeats_in_a_row_and_keeps_the_epoch_length():
    s = EpochSampler(12, repeats=3, seed=0)
    idx = list(s)
    assert len(idx) == len(s) == 12
    assert all(idx[i] == idx[i + 1] == idx[i + 2] for i in range(0, 12, 3))
    assert len(set(idx)) == 4


def test_replicas_shard_one_epoch_between_them():
    shards = [list(EpochSampler(10, seed=2, num_replicas=3, rank=r)) for r in range(3)]
    assert all(len(s) == 4 for s in shards)  # padded to 12 by wrapping around
    assert set().union(*shards) == set(range(10))
    ra = [list(EpochSampler(9, seed=2, repeats=3, num_replicas=3, rank=r)) for r in range(3)]
    assert ra[0] == ra[1] == ra[2]  # the three copies of each image go to three ranks
    with pytest.raises(ValueError):
        EpochSampler(10, num_replicas=2, rank=2)


@pytest.mark.parametrize("crop", ["pad", "resized"])
@pytest.mark.parametrize("train", [True, False])
def test_none_means_the_whole_image(crop, train):
    """A 40x40 image whose border is white: 'none' keeps the border (no centre crop), in training and evaluation."""
    img = torch.zeros(3, 40, 40, dtype=torch.uint8)
    img[:, :2], img[:, -2:], img[:, :, :2], img[:, :, -2:] = 255, 255, 255, 255
    aug = Augmentation("none", 32, (0.0,) * 3, (1.0,) * 3, crop=crop, train=train)
    for out in (aug.build()(img), aug.display()(img).float() / 255):
        assert out.shape == (3, 32, 32)
        assert out[:, 0].min() > 0.9 and out[:, :, -1].min() > 0.9 and out[:, 16, 16].max() == 0


def test_describe_says_what_training_and_evaluation_do():
    small = Augmentation("standard", 32, (0.5,) * 3, (0.25,) * 3, hflip=False).describe()
    assert "padded by 4 px" in small and "never flipped" in small and "Evaluation: the whole image" in small
    photo = Augmentation("deit", 224, crop="resized", train=False).describe()
    assert "random-resized" in photo and "RandAugment m9" in photo and "centre crop 224" in photo
    assert "Training: the whole image" in Augmentation("none", 32, crop="resized").describe()
