"""Image folders: layouts, deterministic splits, corrupt files skipped and logged, every mode made RGB."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from vitstudio.data import build_datasets, build_loader, sample_images, to_rgb


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
