"""The inspector panel (offscreen): images in, views update, latest request wins, views export."""

import numpy as np
import pytest
from conftest import QT_TIMEOUT, wait_view
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from vitstudio.analysis import bundled_images, figures
from vitstudio.analysis.sources import from_weights
from vitstudio.gui.panels.inspector import InspectorPanel
from vitstudio.models import VisionTransformer, create_model, export_safetensors


def tiny_vit(**kw):
    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2, num_classes=4)
    return VisionTransformer(**{**args, **kw}).eval()


@pytest.fixture
def panel(qtbot):
    p = InspectorPanel()
    qtbot.addWidget(p)
    yield p
    p.runner.wait()


@pytest.fixture
def loaded(qtbot, panel):
    panel.set_model(tiny_vit(), class_names=["circle", "square", "star", "ring"])
    wait_view(qtbot, panel, "attention", lambda: panel.load_image(bundled_images()[0]))
    return panel


def test_loading_an_image_fills_every_view(loaded):
    for name in ("patches", "sequence", "attention", "position", "filters", "distance", "predictions"):
        figure = loaded.view_figure(name)
        assert figure is not None and figure.dtype == np.uint8 and figure.ndim == 3, name
    assert loaded.view_figure("mae") is None  # not a masked autoencoder
    view = loaded.column.views["attention"]
    shown, room, figure = view.label.pixmap().size(), view.scroll.viewport().size(), loaded.view_figure("attention")
    assert 0 < shown.width() <= max(room.width(), figure.shape[1]) and shown.height() > 0  # fitted to the view
    assert shown.width() / shown.height() == pytest.approx(figure.shape[1] / figure.shape[0], rel=0.02)
    assert loaded.column.views["distance"].distance.shape == (3, 2)
    assert not loaded.controls.mae_box.isEnabled()


def test_layer_head_grid_and_rollout_controls_change_the_attention_view(qtbot, loaded):
    first = loaded.view_figure("attention")
    second_layer = wait_view(qtbot, loaded, "attention", lambda: loaded.controls.layer_slider.setValue(2))
    assert second_layer.shape == first.shape and not np.array_equal(second_layer, first)
    other_head = wait_view(qtbot, loaded, "attention", lambda: loaded.controls.head_slider.setValue(1))
    assert not np.array_equal(other_head, second_layer)
    expected = figures.attention_figure(loaded.column.static.inspection, layer=2, head=1)
    np.testing.assert_array_equal(other_head, expected)
    grid = wait_view(qtbot, loaded, "attention", lambda: loaded.controls.all_heads.setChecked(True))
    assert grid.shape != other_head.shape  # two heads side by side
    rollout = wait_view(qtbot, loaded, "attention", lambda: loaded.controls.rollout_check.setChecked(True))
    np.testing.assert_array_equal(rollout, figures.attention_figure(loaded.column.static.inspection, rollout=True))
    assert not loaded.controls.layer_slider.isEnabled() and loaded.controls.fusion_box.isEnabled()
    fused = wait_view(qtbot, loaded, "attention", lambda: loaded.controls.fusion_box.setCurrentText("max"))
    assert not np.array_equal(fused, rollout)
    faint = wait_view(qtbot, loaded, "attention", lambda: loaded.controls.opacity_slider.setValue(10))
    assert not np.array_equal(faint, fused)


def test_a_new_model_resizes_the_sliders_and_refreshes_the_views(qtbot, loaded):
    before = loaded.view_figure("filters")
    wait_view(qtbot, loaded, "attention", lambda: loaded.set_model(tiny_vit(depth=5, num_heads=4)))
    assert loaded.controls.layer_slider.maximum() == 4 and loaded.controls.head_slider.maximum() == 3
    assert not np.array_equal(loaded.view_figure("filters"), before)


def test_latest_request_wins_when_the_layer_moves_fast(qtbot, loaded):
    with qtbot.waitSignal(loaded.viewUpdated, check_params_cb=lambda n: n == "attention", timeout=QT_TIMEOUT):
        for layer in (1, 2, 0, 1, 2):
            loaded.controls.layer_slider.setValue(layer)
    loaded.runner.wait()
    qtbot.wait(50)  # deliver anything still queued: nothing stale may arrive
    np.testing.assert_array_equal(
        loaded.view_figure("attention"), figures.attention_figure(loaded.column.static.inspection, layer=2)
    )


def test_export_writes_the_figure_shown(tmp_path, loaded):
    from PIL import Image

    for name in ("attention", "distance", "predictions"):
        path = loaded.export_view(name, tmp_path / f"{name}.png")
        np.testing.assert_array_equal(np.asarray(Image.open(path)), loaded.view_figure(name))


def test_drop_and_bad_files(qtbot, tmp_path, loaded):
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert not loaded.load_image(tmp_path / "broken.png")
    assert "broken.png: not a readable image" in loaded.status.text()
    before = loaded.view_figure("patches")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bundled_images()[1]))])
    event = QDropEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    wait_view(qtbot, loaded, "patches", lambda: loaded.dropEvent(event))
    assert loaded.image_label == bundled_images()[1].name
    assert not np.array_equal(loaded.view_figure("patches"), before)


def test_a_failing_analysis_is_reported_not_raised(qtbot, panel):
    broken = tiny_vit(num_extra_tokens=1)  # a position embedding for a prefix token it never adds
    panel.set_image(np.zeros((32, 32, 3), np.uint8))
    with qtbot.waitSignal(panel.statusChanged, check_params_cb=lambda t: "failed" in t, timeout=QT_TIMEOUT):
        panel.set_model(broken)
    assert "the inspection failed" in panel.status.text()


def test_a_model_source_loads_on_the_worker(qtbot, panel, tmp_path):
    path = export_safetensors(create_model("vit_nano_patch4_32", depth=2), tmp_path / "tiny.safetensors")
    panel.add_source("tiny file", lambda: lambda: from_weights(path))
    panel.set_image(np.zeros((32, 32, 3), np.uint8))
    action = next(a for a in panel.column.chooser.menu.actions() if a.text() == "tiny file")
    wait_view(qtbot, panel, "attention", action.trigger)
    assert panel.column.chooser.label.text() == "tiny.safetensors" and panel.controls.layer_slider.maximum() == 1
    panel.add_source("missing file", lambda: lambda: from_weights(tmp_path / "nothing.safetensors"))
    missing = next(a for a in panel.column.chooser.menu.actions() if a.text() == "missing file")
    with qtbot.waitSignal(panel.statusChanged, check_params_cb=lambda t: "failed" in t, timeout=QT_TIMEOUT):
        missing.trigger()
    assert "loading the model failed" in panel.status.text() and "no such weights file" in panel.status.text()


def test_attention_distance_over_many_images_and_back(qtbot, loaded, tmp_path):
    from vitstudio.analysis import attention_distance, load_image

    view = loaded.column.views["distance"]
    one = view.distance.copy()
    wait_view(qtbot, loaded, "distance", lambda: view.over_box.setCurrentIndex(1))
    samples = [load_image(p) for p in bundled_images()]
    np.testing.assert_allclose(view.distance, attention_distance(loaded.source.model, samples), rtol=1e-6)
    assert f"the {len(samples)} bundled sample images" in view.note.text()
    assert not np.allclose(view.distance, one)
    wait_view(qtbot, loaded, "distance", lambda: loaded.load_image(bundled_images()[1]))
    assert "bundled sample images" in view.note.text()  # a new image keeps the choice (it does not depend on it)
    wait_view(qtbot, loaded, "distance", lambda: view.over_box.setCurrentIndex(0))
    assert view.note.text() == "averaged over the inspected image"
    np.testing.assert_array_equal(view.distance, loaded.column.static.inspection.distance)
    # the screen shows the figure the export writes, fitted to the view (its aspect ratio kept)
    from PIL import Image

    shown = view.label.pixmap()
    assert abs(shown.width() / shown.height() - view.figure.shape[1] / view.figure.shape[0]) < 0.02
    exported = Image.open(loaded.column.export_view("distance", tmp_path / "distance.png"))
    np.testing.assert_array_equal(np.asarray(exported.convert("RGB")), view.figure)
