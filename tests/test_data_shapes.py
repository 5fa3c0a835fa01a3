"""The built-in shapes dataset: deterministic, balanced, cached atomically, and a real task."""

import numpy as np
import pytest
import torch

from vitstudio.data import SHAPE_CLASSES, build_datasets, sample_images, shapes
from vitstudio.data.cache import user_cache_dir


def test_render_is_deterministic_and_balanced():
    a, la = shapes.render_shapes(200, 32, seed=3)
    b, lb = shapes.render_shapes(200, 32, seed=3)
    c, _ = shapes.render_shapes(200, 32, seed=4)
    assert a.shape == (200, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)
    assert np.bincount(la, minlength=10).tolist() == [20] * 10


def test_render_64px_and_too_small():
    x, _ = shapes.render_shapes(20, 64, seed=0)
    assert x.shape == (20, 64, 64, 3)
    with pytest.raises(ValueError, match="too small"):
        shapes.render_shapes(4, 8)


def test_each_shape_is_drawn_in_the_foreground():
    # On a flat background (no texture, no noise) the shape's pixels differ from the background and cover
    # a plausible part of the image for every class.
    x, y = shapes.render_shapes(100, 32, seed=1)
    for k in range(10):
        imgs = x[y == k].astype(np.int16)
        corner = imgs[:, :1, :1]
        changed = (np.abs(imgs - corner).max(-1) > 60).mean((1, 2))
        assert 0.04 < np.median(changed) < 0.8, (SHAPE_CLASSES[k], np.median(changed))


def test_colours_do_not_depend_on_the_class():
    # Estimate each image's shape colour (its brightest 5% of pixels) and background colour (darkest 30%):
    # their averages per class agree with the overall average to within sampling noise.
    x, y = shapes.render_shapes(2000, 32, seed=2)
    f = x.reshape(len(x), -1, 3).astype(np.float32)
    lum = f.mean(-1)
    for mask in (
        lum >= np.percentile(lum, 95, axis=1, keepdims=True),
        lum <= np.percentile(lum, 30, axis=1, keepdims=True),
    ):
        colour = (f * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        per_class = np.stack([colour[y == k].mean(0) for k in range(10)])
        assert np.abs(per_class - colour.mean(0)).max() < 12  # out of 255; colours spread with std ~40


def test_cache_is_keyed_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path))
    assert user_cache_dir() == tmp_path
    a = build_datasets(num_train=100, img_size=32)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and all(f.endswith(".npz") for f in files)  # train and val, no temp files left
    calls = []
    monkeypatch.setattr(shapes, "render_shapes", lambda *args: calls.append(args))
    b = build_datasets(num_train=100, img_size=32)
    assert calls == []  # served from the cache
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.val.labels, b.val.labels)
    monkeypatch.undo()
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path))
    build_datasets(num_train=100, img_size=32, seed=1)  # other parameters: other entries
    assert len(list(tmp_path.iterdir())) == 4


def test_corrupt_cache_entry_is_rebuilt(tmp_path):
    a = build_datasets(num_train=50, cache_dir=tmp_path)
    for f in tmp_path.iterdir():
        f.write_bytes(b"garbage")
    b = build_datasets(num_train=50, cache_dir=tmp_path)
    assert torch.equal(a.train.images, b.train.images)


def test_bundle_fields_and_samples(tmp_path):
    b = build_datasets(num_train=100, val_fraction=0.2, cache_dir=tmp_path)
    assert (len(b.train), len(b.val), b.num_classes) == (100, 20, 10)
    assert b.class_names == list(SHAPE_CLASSES)
    x, y = b.train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and isinstance(y, int)
    train_ids = {hash(im.tobytes()) for im in b.train.images.numpy()}
    assert not train_ids & {hash(im.tobytes()) for im in b.val.images.numpy()}  # no image in both splits
    samples = sample_images(b, n=6, split="train", seed=1)
    assert len(samples) == 6
    for s in samples:
        assert s.image.shape == (32, 32, 3) and s.image.dtype == np.uint8
        assert s.name == SHAPE_CLASSES[s.label]
        assert any(np.array_equal(s.image, im) for im in b.train.images.numpy())  # raw, not augmented


def test_logistic_regression_on_raw_pixels_stays_weak(tmp_path):
    """The dataset is a real task: a linear classifier on standardised raw pixels scores <= 50% top-1."""
    b = build_datasets(num_train=5000, val_fraction=0.2, cache_dir=tmp_path)

    def features(ds):
        return ds.images.reshape(len(ds), -1).float() / 255, ds.labels

    xt, yt = features(b.train)
    xv, yv = features(b.val)
    mu, sd = xt.mean(0), xt.std(0) + 1e-3
    xt, xv = (xt - mu) / sd, (xv - mu) / sd
    lin = torch.nn.Linear(xt.shape[1], 10)
    opt = torch.optim.Adam(lin.parameters(), lr=2e-3, weight_decay=1e-4)
    for _ in range(60):  # validation accuracy peaks about here; longer fits only overfit
        loss = torch.nn.functional.cross_entropy(lin(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        train_acc = (lin(xt).argmax(1) == yt).float().mean().item()
        val_acc = (lin(xv).argmax(1) == yv).float().mean().item()
    assert train_acc > 0.2  # the classifier did fit what it could
    assert val_acc <= 0.5, val_acc
