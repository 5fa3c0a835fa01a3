"""One image opener for training, the inspector and the CLI: the same pixels everywhere, upright, 8-bit RGB,
and an oversized image refused with a message."""

import numpy as np
import pytest
from PIL import Image

from vitstudio.analysis import load_image
from vitstudio.cli import main
from vitstudio.data import ImageFileError, open_image
from vitstudio.data.folder import ImageFiles


def _png16(path):
    ramp = (np.arange(16 * 20, dtype=np.uint16).reshape(16, 20) * 200).astype(np.uint16)  # 0 .. 63800
    Image.fromarray(ramp).save(path)  # 16-bit greyscale PNG
    return ramp


def _rotated_jpeg(path):
    """A 40x20 (landscape) picture stored with EXIF orientation 6: it stands upright as 20x40 portrait."""
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 10, 20))  # a red band on the left of the stored picture
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    img.save(path, exif=exif.tobytes(), quality=95)


def test_training_and_inspector_see_the_same_pixels(tmp_path):
    png, jpg = tmp_path / "deep.png", tmp_path / "phone.jpg"
    ramp = _png16(png)
    _rotated_jpeg(jpg)
    with Image.open(png) as raw:
        assert raw.mode.startswith("I"), raw.mode  # really a 16-bit file
    training = ImageFiles([(png, 0), (jpg, 1)])
    for i, path in enumerate((png, jpg)):
        seen_by_training = np.asarray(training[i][0])
        assert np.array_equal(seen_by_training, load_image(path)), path.name
    grey = load_image(png)[..., 0].astype(int)
    assert np.abs(grey - np.round(ramp / 65535 * 255)).max() <= 1  # rescaled from 16 bits, not clipped
    upright = load_image(jpg)
    assert upright.shape == (40, 20, 3)  # EXIF orientation applied
    assert upright[2, 10, 0] > 200 and upright[2, 10, 2] < 60  # the red band is now on top
    assert upright[-2, 10, 2] > 200


def test_a_decompression_bomb_is_refused_with_a_message(tmp_path, monkeypatch, capsys):
    # The same guard as for a 20000x20000 PNG, with the limit lowered so the test makes a small file.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    bomb = tmp_path / "bomb.png"
    Image.new("L", (300, 300)).save(bomb)
    with pytest.raises(ImageFileError, match="too large to decode safely"):
        open_image(bomb)
    rc = main(["inspect", str(bomb), "--model", "vit_nano_patch4_32", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "bomb.png" in err and "too large" in err and "Traceback" not in err
