"""What the inspector's figures show (issue 16.6): a colour scale under attention maps, heads numbered from 1
as layers are, a colour per head up to 20 heads."""

import numpy as np
import pytest
from PySide6.QtGui import QImage

from vitstudio import charts
from vitstudio.analysis import figures, render
from vitstudio.gui.panels.inspector_views import attention_view


def has_color(img: np.ndarray, hex_color: str) -> bool:
    return bool((img.reshape(-1, 3) == np.array(charts.hex_rgb(hex_color))).all(1).any())


@pytest.mark.parametrize("cmap", ["inferno", "viridis"])
def test_attention_figures_carry_their_colour_scale(cmap):
    image = np.full((32, 32, 3), 128, np.uint8)
    heat = np.linspace(0.01, 0.2, 64).reshape(8, 8)
    low, high = render.COLORMAPS[cmap][0], render.COLORMAPS[cmap][-1]
    single = figures.overlay_figure(image, heat, cmap=cmap, title="t")
    grid = figures.head_grid_figure(image, np.stack([heat, heat[::-1]]), cmap=cmap, title="t")
    for fig in (single, grid):  # the ramp's end colours appear unblended, in the strip below the maps
        strip = fig[-24:]
        assert has_color(strip, low) and has_color(strip, high)
        assert not has_color(fig[:-24], high)


def test_every_head_of_a_large_model_has_its_own_colour():
    for heads in (12, 16, 20):
        assert len({charts.category_color(h, heads) for h in range(heads)}) == heads
    fig = figures.distance_figure(np.arange(12 * 12, dtype=float).reshape(12, 12) / 10)
    assert all(has_color(fig, charts.category_color(h, 12)) for h in range(12))


def test_heads_are_numbered_from_one_like_layers(qtbot):
    from vitstudio.gui.panels.inspector_controls import InspectorControls
    from vitstudio.models import VisionTransformer

    controls = InspectorControls()
    qtbot.addWidget(controls)
    controls.fit_models([VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4)])
    controls.layer_slider.setValue(0)
    controls.head_slider.setValue(0)
    assert controls.layer_label.text() == "layer 1" and controls.head_label.text() == "head 1"
    controls.head_slider.setValue(3)
    assert controls.head_label.text() == "head 4"


def test_a_missing_head_is_named_from_one_in_the_note():
    from vitstudio.analysis.report import inspect_image
    from vitstudio.models import VisionTransformer

    model = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2).eval()
    insp = inspect_image(model, np.zeros((32, 32, 3), np.uint8))
    options = {"layer": 0, "head": 5, "all_heads": False, "token": "readout", "rollout": False}
    _, note = attention_view(insp, options)
    assert note == "this model has 2 heads: showing head 2, not 6"


def pixels(pixmap) -> np.ndarray:
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()  # before image is freed


def test_figures_fill_their_view_small_ones_enlarged_sharply_large_ones_scaled_down(qtbot):
    from vitstudio.gui.panels.inspector_views import FigureView

    view = FigureView(lambda: None)
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    qtbot.waitExposed(view)
    room = view.scroll.viewport().size()
    small = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    view.show_figure(small)
    k = int(min(room.width() / 40, room.height() / 30))
    assert k >= 2
    np.testing.assert_array_equal(pixels(view.label.pixmap()), small.repeat(k, 0).repeat(k, 1))
    for size in ((1500, 3000), (room.height() * 2 // 3, room.width() * 2 // 3)):  # larger; between 1/2 and 1
        view.show_figure(np.zeros((*size, 3), np.uint8))
        shown = view.label.pixmap().size()
        assert shown.width() <= room.width() and shown.height() <= room.height()
        assert max(shown.width() / room.width(), shown.height() / room.height()) > 0.98  # it fills one side
    view.resize(900, 700)  # the window grows: the figure with it
    qtbot.waitUntil(lambda: view.label.pixmap().width() > shown.width(), timeout=5_000)


def test_a_loaded_image_is_shown_before_any_model_is_chosen(qtbot):
    from vitstudio.analysis.image import bundled_images
    from vitstudio.gui.panels.inspector import InspectorPanel

    panel = InspectorPanel()
    qtbot.addWidget(panel)
    assert panel.source is None and panel.controls.thumbnail.isHidden()
    assert panel.load_image(bundled_images()[0])
    thumb = panel.controls.thumbnail.pixmap()
    assert not panel.controls.thumbnail.isHidden() and not thumb.isNull()
    assert max(thumb.width(), thumb.height()) == 160
    assert pixels(thumb).std() > 10  # the picture, not a blank
