"""Image folders: layouts, deterministic splits, corrupt files skipped and logged, every mode made RGB."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from vitstudio.data import ArrayDataset, DeviceLoader, PILDataset, build_datasets, build_loader, sample_images, to_rgb
from vitstudio.data.transforms import IMAGENET_MEAN


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Decoded folders are cached: here, not in the user's cache folder."""
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _image(path, mode="RGB", size=(20, 16), value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        Image.fromarray(np.full(size[::-1], value * 257, np.uint16)).save(path)
    elif mode == "P":
        Image.new("RGB", size, (value, 0, 0)).convert("P").save(path)
    elif mode == "RGBA":
        Image.new("RGBA", size, (value, value, value, 255)).save(path)
    else:
        Image.new(mode, size, value if mode in ("L", "1") else (value, value // 2, 10)).save(path)


def _folder(root, classes=("cat", "dog"), n=10):
    for c in classes:
        for i in range(n):
            _image(root / c / f"{i}.png", value=10 * i + 5)
    return root


def test_corrupt_files_are_skipped_counted_and_named(tmp_path, caplog):
    root = _folder(tmp_path / "imgs")
    (root / "cat" / "empty.jpg").write_bytes(b"")
    (root / "cat" / "text.png").write_text("not an image")
    (root / "dog" / "noise.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    good = (root / "dog" / "0.png").read_bytes()
    (root / "dog" / "cut.png").write_bytes(good[: len(good) // 2])
    (root / "dog" / "notes.txt").write_text("ignored: not an image extension")
    with caplog.at_level(logging.WARNING, logger="vitstudio.data.folder"):
        b = build_datasets("folder", root=root, img_size=16, val_fraction=0.2)
    assert len(b.train) + len(b.val) == 20
    msg = caplog.text
    assert "skipped 4 unreadable or corrupt image(s)" in msg
    for name in ("empty.jpg", "text.png", "noise.jpg", "cut.png"):
        assert name in msg
    assert "notes.txt" not in msg


def test_file_that_fails_only_when_decoded_is_replaced_not_fatal(tmp_path, caplog):
    root = tmp_path / "imgs"
    (root / "a").mkdir(parents=True)
    for i in range(3):
        pixels = np.random.default_rng(i).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "a" / f"{i}.jpg")
    data = (root / "a" / "1.jpg").read_bytes()
    (root / "a" / "1.jpg").write_bytes(data[: len(data) // 3])  # truncated JPEG: passes the cheap header check
    b = build_datasets("folder", root=root, img_size=16, val_fraction=0.0, augment="none")
    assert len(b.train) == 3
    with caplog.at_level(logging.WARNING, logger="vitstudio.data.folder"):
        x, _ = b.train[1]
        x2, _ = b.train[2]
    assert torch.equal(x, x2)  # the next good image stood in
    assert "cannot decode" in caplog.text and "1.jpg" in caplog.text


def test_split_is_deterministic_stratified_and_disjoint(tmp_path):
    root = _folder(tmp_path / "imgs", classes=("a", "b", "c"), n=10)
    b1 = build_datasets("folder", root=root, img_size=16, val_fraction=0.3, seed=0)
    b2 = build_datasets("folder", root=root, img_size=16, val_fraction=0.3, seed=0)
    b3 = build_datasets("folder", root=root, img_size=16, val_fraction=0.3, seed=1)
    val1 = [p for p, _ in b1.val.base.samples]
    assert val1 == [p for p, _ in b2.val.base.samples]
    assert val1 != [p for p, _ in b3.val.base.samples]
    assert np.bincount([y for _, y in b1.val.base.samples]).tolist() == [3, 3, 3]
    assert not set(val1) & {p for p, _ in b1.train.base.samples}
    assert b1.class_names == ["a", "b", "c"] and b1.num_classes == 3


def test_train_and_val_subfolders_are_used_as_given(tmp_path):
    _folder(tmp_path / "train", n=4)
    _folder(tmp_path / "val", n=2)
    b = build_datasets("folder", root=tmp_path, img_size=16, val_fraction=0.5)
    assert (len(b.train), len(b.val)) == (8, 4)
    assert all("val" in str(p) for p, _ in b.val.base.samples)
    _image(tmp_path / "val" / "bird" / "0.png")
    with pytest.raises(ValueError, match="bird"):
        build_datasets("folder", root=tmp_path)


def test_empty_or_missing_folder_has_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_datasets("folder", root=tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no class folders"):
        build_datasets("folder", root=tmp_path / "empty")
    (tmp_path / "empty" / "x").mkdir()
    (tmp_path / "empty" / "x" / "readme.txt").write_text("hi")
    with pytest.raises(FileNotFoundError, match="no readable images"):
        build_datasets("folder", root=tmp_path / "empty")
    with pytest.raises(ValueError, match="needs a root"):
        build_datasets("folder")


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "I;16", "CMYK", "1"])
def test_every_mode_becomes_8bit_rgb(tmp_path, mode):
    path = tmp_path / f"x.{'tif' if mode == 'CMYK' else 'png'}"
    _image(path, mode=mode, value=200 if mode != "1" else 1)
    with Image.open(path) as img:
        rgb = to_rgb(img)
    a = np.asarray(rgb)
    assert rgb.mode == "RGB" and a.dtype == np.uint8 and a.shape == (16, 20, 3)
    if mode in ("L", "I;16"):
        assert abs(int(a[0, 0, 0]) - 200) <= 1  # 16-bit rescaled, not clipped to white
    if mode == "RGBA":
        assert a[0, 0].tolist() == [200, 200, 200]


def test_transparent_pixels_are_composited_on_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert np.asarray(to_rgb(img))[0, 0].tolist() == [255, 255, 255]


def test_mixed_modes_load_and_batch(tmp_path):
    root = tmp_path / "imgs"
    for i, mode in enumerate(["L", "P", "RGBA", "I;16", "RGB", "RGB"]):
        _image(root / ("a" if i % 2 else "b") / f"{i}.png", mode=mode, size=(30 + i, 20))
    b = build_datasets("folder", root=root, img_size=24, augment="deit", val_fraction=0.34)
    xb, _ = next(iter(build_loader(b.train, 4, train=True, num_workers=0)))
    assert xb.shape == (4, 3, 24, 24) and torch.isfinite(xb).all()
    assert all(s.image.shape == (24, 24, 3) for s in sample_images(b, n=2))


def test_small_images_get_their_own_recipe_in_memory(tmp_path):
    """32x32 images: pad-and-crop, the folder's own mean and std, no flips, served by the resident loader."""
    root = tmp_path / "digits"
    rng = np.random.default_rng(0)
    for c in ("0", "1"):
        for i in range(6):
            _image(root / c / f"{i}.png", size=(32, 32), value=int(rng.integers(20, 60)))
    b = build_datasets("folder", root=root, img_size=32, val_fraction=0.34)
    assert isinstance(b.train, ArrayDataset) and b.train.images.shape[1:] == (32, 32, 3)
    aug = b.train.aug
    assert aug.crop == "pad" and aug.hflip is False
    pixels = b.train.images.float() / 255
    assert b.mean != IMAGENET_MEAN and abs(b.mean[0] - pixels[..., 0].mean().item()) < 1e-3
    assert min(b.std) > 0  # the blue channel never varies: one grey level, not a division by zero
    assert isinstance(build_loader(b.train, 4, train=True), DeviceLoader)
    assert build_datasets("folder", root=root, img_size=32, hflip=True).train.aug.hflip is True


def test_photos_keep_the_photo_recipe(tmp_path):
    root = tmp_path / "photos"
    for c in ("a", "b"):
        for i in range(3):
            _image(root / c / f"{i}.jpg", size=(160, 120), value=40 * i + 10)
    b = build_datasets("folder", root=root, img_size=32, val_fraction=0.34)
    assert isinstance(b.train, PILDataset) and b.train.aug.crop == "resized" and b.train.aug.hflip is True
    assert b.mean == IMAGENET_MEAN


def test_decoded_folder_is_cached_and_invalidated_when_a_file_changes(tmp_path, _cache):
    root = tmp_path / "imgs"
    for i in range(4):
        _image(root / "a" / f"{i}.png", size=(16, 16), value=10 * i)
    first = build_datasets("folder", root=root, img_size=16, val_fraction=0.0, augment="none")
    again = build_datasets("folder", root=root, img_size=16, val_fraction=0.5, seed=3, augment="none")
    assert len(list(_cache.glob("folder-*.npz"))) == 1  # one entry, whatever the split
    served = torch.cat([again.train.images, again.val.images])
    assert sorted(served.sum((1, 2, 3)).tolist()) == sorted(first.train.images.sum((1, 2, 3)).tolist())
    _image(root / "a" / "0.png", size=(16, 16), value=250)
    changed = build_datasets("folder", root=root, img_size=16, val_fraction=0.0, augment="none")
    assert len(list(_cache.glob("folder-*.npz"))) == 2
    assert changed.train.images[0, ..., 0].min() == 250 and first.train.images[0, ..., 0].max() == 0


def test_none_on_a_folder_trains_and_evaluates_on_the_whole_image(tmp_path):
    root = tmp_path / "imgs"
    for i in range(2):
        path = root / "a" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.zeros((40, 40, 3), np.uint8)
        pixels[:2], pixels[-2:], pixels[:, :2], pixels[:, -2:] = 255, 255, 255, 255
        Image.fromarray(pixels).save(path)
    b = build_datasets("folder", root=root, img_size=32, val_fraction=0.5, augment="none")
    for ds in (b.train, b.val):
        image, _ = ds.raw(0)
        assert image.shape == (32, 32, 3) and image[0].min() > 200 and image[:, -1].min() > 200


def test_small_images_too_many_to_hold_keep_their_recipe_file_by_file(tmp_path, monkeypatch):
    from vitstudio.data import folder_arrays

    monkeypatch.setattr(folder_arrays, "MAX_BYTES", 0)
    root = _folder(tmp_path / "imgs", n=4)  # 20x16 images
    b = build_datasets("folder", root=root, img_size=16, val_fraction=0.25)
    assert isinstance(b.train, PILDataset) and b.train.aug.crop == "pad" and b.train.aug.hflip is False
    assert b.mean != IMAGENET_MEAN and min(b.std) > 0
    assert not isinstance(build_loader(b.train, 2, train=True, num_workers=0), DeviceLoader)
