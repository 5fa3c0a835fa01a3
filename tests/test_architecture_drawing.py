"""The Model tab's drawing (issue 16.6): a hybrid's CNN named in full, DeiT's two heads, MAE's hidden patches."""

import pytest
from PySide6.QtGui import QColor

from vitstudio.gui.architecture import DISTILLATION_HEAD, HIDDEN, ArchitectureView, Shape


@pytest.fixture
def view(qtbot):
    v = ArchitectureView()
    qtbot.addWidget(v)
    v.resize(560, 280)  # the smallest it gets
    return v


def draw(view, shape: Shape):
    view.set_shape(shape)
    return view.grab().toImage()  # paints


def test_a_hybrids_cnn_has_its_own_box_with_its_whole_name(view):
    stem = "ResNetV2, 1 stage (1 block)"
    draw(view, Shape(patch_size=1, grid=(8, 8), stem=stem, head="average → Linear → 5 classes"))
    assert stem in view.texts and "feature map:" in view.texts
    assert not [t for t in view.texts if "…" in t], view.texts


def test_deit_draws_its_distillation_head(view):
    draw(view, Shape(prefix=("cls", "dist"), head="class token → Linear → 10 classes"))
    assert DISTILLATION_HEAD in view.texts and "class token → Linear → 10 classes" in view.texts
    draw(view, Shape(prefix=("cls",)))
    assert DISTILLATION_HEAD not in view.texts


def test_mae_greys_out_the_hidden_patches(view):
    image = draw(view, Shape(grid=(8, 8), visible=16, head="decoder → pixels of the hidden patches"))
    assert len(view.hidden) == 48 == len(set(view.hidden))
    assert "48 of 64 patches hidden" in view.texts
    grey = HIDDEN.rgb()
    assert sum(image.pixel(x, y) == grey for x in range(0, 120, 2) for y in range(0, 280, 2)) > 100
    draw(view, Shape(grid=(8, 8), visible=64))
    assert view.hidden == [] and QColor(grey).name() == "#9e9e9e"
