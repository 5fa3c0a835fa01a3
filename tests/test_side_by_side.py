"""Two models side by side in the inspector (offscreen): one image and one set of settings drive both columns."""

import numpy as np
import pytest
from conftest import QT_TIMEOUT
from PIL import Image
from PySide6.QtCore import QSettings
from train_helpers import tiny_config

from vitstudio.analysis import bundled_images, figures
from vitstudio.analysis.image import fit_image, load_image
from vitstudio.analysis.sources import ModelSource
from vitstudio.gui.panels.side_by_side import SideBySidePanel
from vitstudio.models import VisionTransformer, create_model
from vitstudio.train import Trainer

STAR = next(p for p in bundled_images() if p.stem == "shape_star")


def tiny_vit(depth, num_heads):
    return VisionTransformer(
        img_size=32, patch_size=8, embed_dim=32, depth=depth, num_heads=num_heads, num_classes=4
    ).eval()


def wait_views(qtbot, columns, name, action):
    """Run `action` and wait until view `name` of every column in `columns` shows a new figure."""
    with qtbot.waitSignals(
        [c.viewUpdated for c in columns], check_params_cbs=[lambda n: n == name] * len(columns), timeout=QT_TIMEOUT
    ):
        action()
    return [c.view_figure(name) for c in columns]


@pytest.fixture
def panel(qtbot):
    """A 2-layer, 2-head ViT on the left, a 3-layer, 4-head ViT on the right, both looking at the star."""
    p = SideBySidePanel()
    qtbot.addWidget(p)
    left, right = p.columns
    left.set_source(ModelSource(tiny_vit(2, 2), "shallow"))
    right.set_source(ModelSource(tiny_vit(3, 4), "deep"))
    wait_views(qtbot, p.columns, "attention", lambda: p.load_image(STAR))
    yield p
    p.runner.wait()


def inspections(panel):
    return [c.static.inspection for c in panel.columns]


def test_both_columns_inspect_the_same_image(panel):
    left, right = panel.columns
    image = fit_image(load_image(STAR), (32, 32))
    for insp in inspections(panel):
        np.testing.assert_array_equal(insp.image, image)
    np.testing.assert_array_equal(left.view_figure("patches"), figures.patches_figure(image, (8, 8)))
    np.testing.assert_array_equal(right.view_figure("patches"), left.view_figure("patches"))
    assert not np.array_equal(left.view_figure("attention"), right.view_figure("attention"))  # two models
    assert left.chooser.label.text() == "shallow" and right.chooser.label.text() == "deep"
    assert left.chooser.title() == "Left model" and right.chooser.title() == "Right model"
    controls = panel.controls
    assert controls.layer_slider.maximum() == 2 and controls.head_slider.maximum() == 3  # the larger model's


def test_layer_and_head_move_both_columns_and_a_smaller_model_says_what_it_shows(qtbot, panel):
    controls, (left, right) = panel.controls, panel.columns
    (shallow, deep) = inspections(panel)
    before = [c.view_figure("attention") for c in panel.columns]
    after = wait_views(qtbot, panel.columns, "attention", lambda: controls.layer_slider.setValue(1))
    for old, new, insp in zip(before, after, (shallow, deep)):
        assert not np.array_equal(old, new)
        np.testing.assert_array_equal(new, figures.attention_figure(insp, layer=1))
    assert left.view_note("attention") == right.view_note("attention") == ""

    third = wait_views(qtbot, panel.columns, "attention", lambda: controls.layer_slider.setValue(2))
    np.testing.assert_array_equal(third[1], figures.attention_figure(deep, layer=2))
    np.testing.assert_array_equal(third[0], figures.attention_figure(shallow, layer=1))  # its last layer
    assert left.view_note("attention") == "this model has 2 layers: showing layer 2, not 3"
    assert right.view_note("attention") == ""

    head = wait_views(qtbot, panel.columns, "attention", lambda: controls.head_slider.setValue(3))
    np.testing.assert_array_equal(head[1], figures.attention_figure(deep, layer=2, head=3))
    np.testing.assert_array_equal(head[0], figures.attention_figure(shallow, layer=1, head=1))
    assert "this model has 2 heads: showing head 2, not 4" in left.view_note("attention")

    grid = wait_views(qtbot, panel.columns, "attention", lambda: controls.all_heads.setChecked(True))
    np.testing.assert_array_equal(grid[0], figures.attention_figure(shallow, layer=1, all_heads=True))
    np.testing.assert_array_equal(grid[1], figures.attention_figure(deep, layer=2, all_heads=True))
    assert "heads" not in left.view_note("attention")


def test_rollout_and_opacity_update_both_columns(qtbot, panel):
    controls = panel.controls
    controls.layer_slider.setValue(2)  # a layer the left model lacks: rollout does not care
    rollout = wait_views(qtbot, panel.columns, "attention", lambda: controls.rollout_check.setChecked(True))
    for figure, insp, column in zip(rollout, inspections(panel), panel.columns):
        np.testing.assert_array_equal(figure, figures.attention_figure(insp, rollout=True))
        assert column.view_note("attention") == ""
    faint = wait_views(qtbot, panel.columns, "attention", lambda: controls.opacity_slider.setValue(10))
    for figure, insp in zip(faint, inspections(panel)):
        np.testing.assert_array_equal(figure, figures.attention_figure(insp, rollout=True, alpha=0.1))


def test_both_columns_show_the_same_view(panel):
    left, right = panel.columns
    left.tabs.setCurrentIndex(2)
    assert right.tabs.currentIndex() == 2 and right.tabs.tabText(2) == "Position"
    right.tabs.setCurrentIndex(5)
    assert left.tabs.currentIndex() == 5


def test_mae_settings_drive_the_mae_column_only(qtbot, panel):
    left, right = panel.columns
    mae = create_model("mae_vit_nano_patch4_32", depth=1, decoder_depth=1)
    first = wait_views(qtbot, [right], "mae", lambda: right.set_source(ModelSource(mae, "mae")))[0]
    controls = panel.controls
    assert controls.mae_box.isEnabled()
    assert controls.layer_slider.maximum() == 1  # the deep ViT is gone: the shallow one is now the deepest
    assert left.view_figure("mae") is None and "not a masked autoencoder" in left.view_note("mae")
    fewer = wait_views(qtbot, [right], "mae", lambda: controls.mask_slider.setValue(40))[0]
    assert fewer.shape == first.shape and not np.array_equal(fewer, first)
    assert left.view_figure("mae") is None


def test_a_figure_wider_than_its_column_is_scaled_down_to_fit(qtbot, panel):
    panel.resize(900, 600)
    panel.show()
    qtbot.waitExposed(panel)
    right = panel.columns[1]
    figure = wait_views(qtbot, [right], "attention", lambda: panel.controls.all_heads.setChecked(True))[0]
    view = right.views["attention"]
    shown, room = view.label.pixmap().size(), view.scroll.viewport().size()
    assert figure.shape[1] > room.width()  # four heads side by side do not fit the column
    assert 0 < shown.width() <= room.width() and 0 < shown.height() <= room.height()
    assert shown.width() / shown.height() == pytest.approx(figure.shape[1] / figure.shape[0], rel=0.02)


def test_each_column_exports_its_own_figure(tmp_path, panel):
    for column in panel.columns:
        path = column.export_view("attention", tmp_path / f"{column.name}.png")
        np.testing.assert_array_equal(np.asarray(Image.open(path)), column.view_figure("attention"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished runs made by the trainer, with different learning rates."""
    root = tmp_path_factory.mktemp("runs")
    made = []
    for lr in ("0.004", "0.001"):
        trainer = Trainer(tiny_config(f"optim.lr={lr}"), runs_dir=root)
        assert trainer.run().kind == "finished"
        made.append(trainer.run_record)
    return root, made


@pytest.mark.slow
def test_the_runs_tab_opens_two_runs_side_by_side(qtbot, tmp_path, runs):
    from vitstudio.gui.main_window import MainWindow

    root, (a, b) = runs
    window = MainWindow(runs_dir=root, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.core_ready, timeout=60_000):
        window.show()
    runs_panel, tab = window.runs_panel, window.inspector_tab
    runs_panel.select_runs([a])
    assert not runs_panel.inspect_button.isEnabled()
    runs_panel.select_runs([a, b])
    assert runs_panel.inspect_button.isEnabled()
    action = next(
        x for x in runs_panel.context_menu(runs_panel.selected_runs()).actions() if x.text() == "Inspect side by side"
    )
    sbs = tab.side_by_side
    wait_views(qtbot, sbs.columns, "attention", action.trigger)
    assert window.current_panel() is tab and tab.stack.currentWidget() is sbs
    assert sbs.image_label == "shape_star.png"
    for column, run in zip(sbs.columns, runs_panel.selected_runs()):
        assert column.chooser.label.text().startswith(f"run {run.id}")
        weights = run.load_model().state_dict()
        for key, value in column.source.model.state_dict().items():
            assert value.equal(weights[key]), key
    left, right = sbs.columns
    assert not np.array_equal(left.view_figure("attention"), right.view_figure("attention"))
    tab.show_mode(0)  # the single inspector takes the image along
    assert tab.stack.currentWidget() is tab.single and tab.single.image_label == "shape_star.png"
    sbs.runner.wait()
    tab.single.runner.wait()
    window.shutdown()


@pytest.mark.slow
def test_a_run_from_the_model_menu_offers_its_final_best_and_last_weights(qtbot, monkeypatch, runs):
    from vitstudio.gui.panels import inspector_views
    from vitstudio.gui.panels.inspector_views import ModelChooser

    _, (run, _) = runs
    offered = []

    def pick_last(parent, title, label, items, *args):
        offered.extend(items)
        return next(i for i in items if i.startswith("last")), True

    monkeypatch.setattr(inspector_views.QFileDialog, "getExistingDirectory", lambda *a: str(run.path))
    monkeypatch.setattr(inspector_views.QInputDialog, "getItem", pick_last)
    chooser = ModelChooser()
    qtbot.addWidget(chooser)
    source = chooser._ask_run()()
    assert offered == ["final weights (model.safetensors)", "best checkpoint (best.pt)", "last checkpoint (last.pt)"]
    assert source.label == f"run {run.id} (last.pt)"
    monkeypatch.setattr(inspector_views.QInputDialog, "getItem", lambda *a: ("", False))
    assert chooser._ask_run() is None  # cancelled
