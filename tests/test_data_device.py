"""The resident (GPU) loader, checked on the CPU against the per-image torchvision path."""

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from vitstudio.data import ArrayDataset, Augmentation, DeviceLoader, augment_batch, build_loader
from vitstudio.data.datasets import PILDataset
from vitstudio.data.device import _erase, _randaugment, fits_on_device

PAD = 4  # img_size 32 // 8


def _random_images(n=64, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.integers(0, 10, n)


def _coordinate_images(n, size=32):
    """Pixel (r, c) holds R = 8r, G = 8c: where a pixel came from can be read back after cropping."""
    r, c = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    img = np.stack([8 * r, 8 * c, np.full_like(r, 255)], -1).astype(np.uint8)
    return np.repeat(img[None], n, 0)


def _crop_params(x_uint8):
    """(top, left, flipped) of each crop of coordinate images, from the always-inside centre pixels."""
    r = x_uint8[:, 0, 16, 16].long() // 8
    g16, g17 = x_uint8[:, 1, 16, 16].long() // 8, x_uint8[:, 1, 16, 17].long() // 8
    flipped = g17 < g16
    top = r - 16 + PAD
    left = torch.where(flipped, g16 - (31 - 16) + PAD, g16 - 16 + PAD)
    return top, left, flipped


def _unnormalise(x, aug):
    mean, std = torch.tensor(aug.mean)[:, None, None], torch.tensor(aug.std)[:, None, None]
    return (x * std + mean).mul(255).round().to(torch.uint8)


def test_no_augment_equals_the_per_image_path_exactly():
    images, labels = _random_images(50)
    ds = ArrayDataset(images, labels, Augmentation("standard", 32, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3), train=False))
    loader = build_loader(ds, 16, train=False, resident=True)
    assert isinstance(loader, DeviceLoader) and len(loader) == 4
    got = torch.cat([x for x, _ in loader])
    ref = torch.stack([ds[i][0] for i in range(50)])
    assert torch.equal(got, ref)
    assert torch.equal(torch.cat([y for _, y in loader]), ds.labels)


def test_crop_and_flip_match_torchvision_in_family_and_frequency():
    n = 4000
    aug = Augmentation("standard", 32, (0.0,) * 3, (1.0,) * 3)
    batch = torch.from_numpy(_coordinate_images(n))
    ours = _unnormalise(augment_batch(batch, aug, torch.Generator().manual_seed(0)), aug)
    tv = aug.build()
    one = torch.from_numpy(_coordinate_images(1)[0]).permute(2, 0, 1)
    theirs = _unnormalise(torch.stack([tv(one) for _ in range(n)]), aug)
    for x in (ours, theirs):
        top, left, flipped = _crop_params(x)
        assert 0.46 < flipped.float().mean() < 0.54
        for shift in (top, left):
            counts = torch.bincount(shift, minlength=2 * PAD + 1)
            assert len(counts) == 2 * PAD + 1  # never shifted beyond the padding
            assert (counts > n / (2 * PAD + 1) * 0.75).all()  # every shift within it, about uniformly
        # What the crop shows is the padded image, shifted: zero fill exactly where it left the image.
        row0_outside = top < PAD
        assert (x[row0_outside, :, 0].float().sum((1, 2)) == 0).all()
        assert (x[~row0_outside, 2, 0, 8] == 255).all()


@pytest.mark.parametrize("augment", ["standard", "deit"])
def test_batch_statistics_match_the_per_image_path(augment):
    images, labels = _random_images(256, seed=1)
    images[:, 8:24, 8:24, 0] = 250  # structure, so augmentations change statistics
    aug = Augmentation(augment, 32, (0.45, 0.5, 0.55), (0.25, 0.3, 0.2))
    ds = ArrayDataset(images, labels, aug)
    draws = 4 if augment == "standard" else 2  # augmentations of each image, per path
    torch.manual_seed(0)
    ref = torch.stack([ds[i % 256][0] for i in range(256 * draws)])
    loader = build_loader(ds, 128, train=True, resident=True)
    got = []
    for epoch in range(draws):
        loader.sampler.set_epoch(epoch)
        got += [x for x, _ in loader]
    got = torch.cat(got)
    per_channel = (0, 2, 3)
    tol = 0.03 if augment == "standard" else 0.08  # RandAugment's ops (Solarize, ...) make a noisier mean
    assert torch.allclose(got.mean(per_channel), ref.mean(per_channel), atol=tol)
    assert torch.allclose(got.std(per_channel), ref.std(per_channel), rtol=tol)
    # Mean image over many draws: the spatial layout of augmented content agrees too.
    assert (got.mean(0) - ref.mean(0)).abs().mean() < 0.08


def test_each_randaugment_op_on_a_batch_equals_it_per_image():
    x = torch.from_numpy(_random_images(16)[0]).permute(0, 3, 1, 2).contiguous()
    x[:, 0, 8:24, 8:24] = 250
    ra = Augmentation("deit", 32).randaugment()
    for name, (magnitudes_fn, signed) in ra._AUGMENTATION_SPACE.items():
        magnitudes = magnitudes_fn(ra.num_magnitude_bins, 32, 32)
        m = float(magnitudes[ra.magnitude]) if magnitudes is not None else 0.0
        magnitude = -m if signed else m
        batch = ra._apply_image_or_video_transform(x, name, magnitude, ra.interpolation, ra._fill)
        each = [ra._apply_image_or_video_transform(im, name, magnitude, ra.interpolation, ra._fill) for im in x]
        assert torch.equal(batch, torch.stack(each)), name


def test_randaugment_draws_per_image():
    x = torch.from_numpy(_random_images(1)[0]).permute(0, 3, 1, 2).repeat(64, 1, 1, 1)
    out = _randaugment(x, Augmentation("deit", 32), torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == x.shape
    distinct = {o.numpy().tobytes() for o in out}
    assert len(distinct) > 20  # v2.RandAugment on a batch would give one result for all 64
    changed = (out != x).flatten(1).any(1).float().mean()
    ra = Augmentation("deit", 32).randaugment()
    torch.manual_seed(0)
    ref_changed = torch.tensor([(ra(x[0]) != x[0]).any().item() for _ in range(150)]).float().mean()
    assert abs(changed - ref_changed) < 0.15


def test_erasing_rate_and_size_match_torchvision():
    n = 3000
    x = torch.zeros(n, 3, 32, 32)
    ours = _erase(x, 0.25, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)) != 0
    erase = v2.RandomErasing(p=0.25, value="random")
    torch.manual_seed(0)
    theirs = torch.stack([erase(x[0]) for _ in range(n)]) != 0
    for m in (ours, theirs):
        hit = m.flatten(1).any(1)
        assert 0.22 < hit.float().mean() < 0.28
    area = lambda m: m[:, 0].flatten(1).float().sum(1)
    a, b = area(ours)[area(ours) > 0], area(theirs)[area(theirs) > 0]
    assert abs(a.mean() - b.mean()) / b.mean() < 0.12
    # The erased region is a rectangle of the same noise on no other image.
    i = int(area(ours).argmax())
    rows, cols = ours[i, 0].any(1).nonzero(), ours[i, 0].any(0).nonzero()
    assert ours[i, 0].sum() == len(rows) * len(cols)


def test_epochs_are_reproducible_and_reshuffled():
    images, labels = _random_images(24)
    ds = ArrayDataset(images, labels, Augmentation("deit", 32))
    loader = build_loader(ds, 6, train=True, resident=True, seed=3)

    def epoch(e):
        loader.sampler.set_epoch(e)
        return [(x.clone(), y.clone()) for x, y in loader]

    a, b, c = epoch(0), epoch(0), epoch(1)
    assert len(a) == 4
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    assert not torch.equal(torch.cat([y for _, y in a]), torch.cat([y for _, y in c]))
    assert sorted(torch.cat([y for _, y in c]).tolist()) == sorted(labels.tolist())


def test_auto_chooses_resident_only_when_it_can():
    images, labels = _random_images(8)
    ds = ArrayDataset(images, labels, Augmentation("standard", 32))
    assert fits_on_device(ds, "cpu")
    assert isinstance(build_loader(ds, 4, train=True), DeviceLoader)
    assert isinstance(build_loader(ds, 4, train=True, resident="off", num_workers=0), torch.utils.data.DataLoader)
    photos = PILDataset([], Augmentation("standard", 32, crop="resized"))
    assert not fits_on_device(photos, "cpu")
    assert isinstance(build_loader(photos, 4, train=True, num_workers=0), torch.utils.data.DataLoader)
    with pytest.raises(ValueError, match="cannot be served resident"):
        build_loader(photos, 4, train=True, resident="on")
    with pytest.raises(ValueError, match="resident must be"):
        build_loader(ds, 4, train=True, resident="maybe")


def test_dataloader_path_gives_the_same_batches_without_augmentation():
    images, labels = _random_images(20)
    ds = ArrayDataset(images, labels, Augmentation("none", 32))
    for e in (0, 1):
        a = build_loader(ds, 8, train=True, resident="on", seed=5)
        b = build_loader(ds, 8, train=True, resident="off", seed=5, num_workers=0)
        a.sampler.set_epoch(e)
        b.sampler.set_epoch(e)
        assert len(a) == len(b) == 2
        for (xa, ya), (xb, yb) in zip(a, b):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_hflip_off_never_flips_on_either_path():
    n = 400
    aug = Augmentation("standard", 32, (0.0,) * 3, (1.0,) * 3, hflip=False)
    batch = torch.from_numpy(_coordinate_images(n))
    ours = _unnormalise(augment_batch(batch, aug, torch.Generator().manual_seed(0)), aug)
    one = torch.from_numpy(_coordinate_images(1)[0]).permute(2, 0, 1)
    theirs = _unnormalise(torch.stack([aug.build()(one) for _ in range(n)]), aug)
    for x in (ours, theirs):
        _, left, flipped = _crop_params(x)
        assert not flipped.any() and len(torch.unique(left)) == 2 * PAD + 1  # still cropped, never mirrored
