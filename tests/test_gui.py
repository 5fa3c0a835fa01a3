"""The studio window driven as a user would (pytest-qt, offscreen), with a tiny model on the built-in data."""

import itertools
import subprocess
import sys
import time

import pytest
import torch
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from vitstudio import data
from vitstudio.config import load_config
from vitstudio.gui.main_window import MainWindow
from vitstudio.train import load_checkpoint
from vitstudio.train.runs import Run

# A model and run small enough to train in seconds on a shared CPU.
TINY = {
    "model.name": "vit_nano_patch4_32",
    "model.embed_dim": 32,
    "model.depth": 1,
    "model.num_heads": 2,
    "data.img_size": 16,
    "data.num_train": 2000,
    "data.num_workers": 0,
    "data.augment": "none",
    "optim.epochs": 1,
    "optim.batch_size": 100,
    "optim.warmup_epochs": 0.0,
    "runtime.device": "cpu",
    "runtime.log_every": 1,
}


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory):
    """The built-in images, drawn once for all tests."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def window(qtbot, tmp_path, data_cache, monkeypatch):
    monkeypatch.setenv("VITSTUDIO_CACHE", str(data_cache))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(runs_dir=tmp_path / "runs", settings=settings)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.core_ready, timeout=60_000):
        w.show()
    w.form.update(TINY)
    yield w
    panel = w.training_panel
    if panel.running:  # never leave a thread running past the test
        panel.stop()
        qtbot.waitUntil(lambda: not panel.running, timeout=60_000)


def train(qtbot, w, timeout=120_000) -> str:
    """Press Start and wait for the run to end; returns how it ended."""
    with qtbot.waitSignal(w.training_panel.run_ended, timeout=timeout) as ended:
        qtbot.mouseClick(w.training_panel.start_button, Qt.LeftButton)
    return ended.args[0]


def test_the_window_paints_before_torch_is_imported():
    code = (
        "import sys; import vitstudio.gui.main_window, vitstudio.cli; "
        "print(sorted(m for m in ('torch', 'pyqtgraph') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


@pytest.mark.slow
def test_start_trains_to_the_end_and_the_plots_hold_the_run(qtbot, window):
    panel = window.training_panel
    assert train(qtbot, window) == "finished"
    run = panel.run
    assert run.path.is_dir() and run.weights.is_file() and run.status()["state"] == "finished"
    steps = [e for e in run.events() if e.kind == "step"]
    evals = [e for e in run.events() if e.kind == "eval"]
    assert steps and evals
    x, y = panel.plots.curves["loss"].getData()
    assert list(x) == [e.step for e in steps]
    assert list(y) == pytest.approx([e.data["loss"] for e in steps])
    assert list(panel.plots.curves["top1"].getData()[1]) == pytest.approx([e.data["top1"] for e in evals])
    assert panel.plots.point_count("lr") == panel.plots.point_count("images_per_sec") == len(steps)
    assert panel.progress.value() == panel.progress.maximum() == steps[-1].step
    assert "finished" in panel.progress_label.text()
    assert panel.results["top1"].text() == f"{evals[-1].data['top1']:.2f}%"
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()

    panel.set_x_axis("epoch")  # the same curves, redrawn in place against epochs
    curve = panel.plots.curves["loss"]
    assert list(curve.getData()[0]) == pytest.approx([e.epoch for e in steps])
    assert panel.plots.curves["loss"] is curve


@pytest.mark.slow
def test_pause_resume_and_stop_mid_run_with_a_resumable_checkpoint(qtbot, window):
    panel = window.training_panel
    window.form.update({"optim.epochs": 20})
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.running and not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: panel.plots.point_count("loss") >= 2, timeout=60_000)
    qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.pause_button.text() == "Resume", timeout=60_000)
    paused_at = panel.plots.point_count("loss")
    qtbot.wait(300)
    assert panel.plots.point_count("loss") == paused_at and "paused" in panel.progress_label.text()
    qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.plots.point_count("loss") > paused_at, timeout=60_000)
    with qtbot.waitSignal(panel.run_ended, timeout=60_000) as ended:
        qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
    assert ended.args[0] == "stopped"
    run = panel.run
    state = load_checkpoint(run.last_checkpoint)
    assert state["step"] >= 2 and run.status()["state"] == "stopped"
    assert 0 < panel.progress.value() < panel.progress.maximum()
    assert not panel.resume_button.isHidden()

    # the checkpoint really resumes: the run continues from its step
    with qtbot.waitSignal(panel.run_started, timeout=60_000) as resumed:
        qtbot.mouseClick(panel.resume_button, Qt.LeftButton)
    assert resumed.args[0] == state["step"]
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)


def test_an_invalid_form_disables_start_and_says_why(qtbot, window):
    panel, model = window.training_panel, window.model_panel
    assert panel.start_button.isEnabled()
    model.patch_box.setValue(5)  # 16 px images do not split into 5 px patches
    assert not panel.start_button.isEnabled()
    assert "model.patch_size: 5 does not divide data.img_size 16" in model.problems.text()
    assert not model.problems.isHidden() and model.patch_box.property("invalid")
    assert "model.patch_size" in panel.problems.text()
    model.patch_box.setValue(4)
    assert panel.start_button.isEnabled() and model.problems.isHidden()

    lr = window.form.widgets("optim.lr")[0]
    qtbot.keyClicks(lr, "x")  # "0.001x" is not a number
    assert not panel.start_button.isEnabled()
    assert "optim.lr: expected a number" in panel.problems.text()
    qtbot.keyClick(lr, Qt.Key_Backspace)
    assert panel.start_button.isEnabled() and not lr.property("invalid")


@pytest.mark.slow
def test_an_exception_in_training_shows_the_error_and_the_app_keeps_working(qtbot, window, monkeypatch):
    from vitstudio.train import trainer

    real = trainer.build_objective

    class Exploding:
        def __init__(self, objective):
            self.objective = objective

        def loss(self, *args):
            raise RuntimeError("injected failure in the loss")

        def __getattr__(self, name):
            return getattr(self.objective, name)

    monkeypatch.setattr(trainer, "build_objective", lambda *a, **k: Exploding(real(*a, **k)))
    assert train(qtbot, window) == "failed"
    box = window.dialog  # shown without blocking: we got here
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "injected failure in the loss" in box.text()
    assert "Traceback" in box.detailedText() and "Traceback" not in box.text()
    assert window.training_panel.run.status()["state"] == "failed"
    box.close()

    monkeypatch.setattr(trainer, "build_objective", real)
    assert train(qtbot, window) == "finished"


@pytest.mark.slow
def test_an_exception_escaping_the_trainer_marks_the_run_failed(qtbot, window, monkeypatch):
    from vitstudio.train import Trainer

    def run(self):
        raise MemoryError("injected")

    monkeypatch.setattr(Trainer, "run", run)
    assert train(qtbot, window) == "failed"
    assert "MemoryError: injected" in window.dialog.text()
    assert window.training_panel.run.status()["state"] == "failed"
    assert window.training_panel.start_button.isEnabled()


@pytest.mark.slow
def test_closing_while_training_stops_with_a_checkpoint(qtbot, window):
    panel = window.training_panel
    window.form.update({"optim.epochs": 20})
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.plots.point_count("loss") >= 1, timeout=60_000)
    window.close()
    box = window.dialog
    assert window.isVisible() and "still training" in box.text()
    keep = next(b for b in box.buttons() if b.text() == "Keep training")
    qtbot.mouseClick(keep, Qt.LeftButton)
    assert window.isVisible() and panel.running

    window.close()
    stop = next(b for b in window.dialog.buttons() if b.text() == "Stop and close")
    qtbot.mouseClick(stop, Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert panel.run.status()["state"] == "stopped" and panel.run.last_checkpoint.is_file()


@pytest.mark.slow
def test_the_event_loop_stays_responsive_during_training(qtbot, window):
    """A 1 ms timer keeps ticking while a CPU training runs (the figure to beat is in benchmarks/)."""
    qtbot.waitUntil(lambda: window.is_warm and not window.data_panel.loading, timeout=60_000)  # start when idle
    ticks = []
    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    assert train(qtbot, window) == "finished"
    timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 100
    assert max(gaps) < 0.5, f"the UI froze for {max(gaps) * 1000:.0f} ms"


@pytest.mark.slow
def test_a_run_folder_opens_with_its_curves_and_settings_persist(qtbot, window, tmp_path):
    assert train(qtbot, window) == "finished"
    run_path = window.training_panel.run.path
    window.tabs.setCurrentIndex(1)
    window.close()

    again = MainWindow(runs_dir=tmp_path / "runs", settings=window.settings)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.core_ready, timeout=60_000):
        again.show()
    assert again.form.value("model.embed_dim") == 32 and again.tabs.currentIndex() == 1
    again.open_run(run_path)
    steps = [e for e in Run(run_path).events() if e.kind == "step"]
    assert again.training_panel.plots.point_count("loss") == len(steps)
    assert again.training_panel.progress.value() == again.training_panel.progress.maximum()
    assert again.current_panel() is again.training_panel


def test_the_model_panel_shows_the_papers_figures(qtbot, window):
    panel = window.model_panel
    panel.variant.setCurrentIndex(panel.variant.findData("base"))
    panel.variant.activated.emit(panel.variant.currentIndex())
    panel.patch_box.setValue(16)
    panel.img_box.setValue(224)
    assert window.form.value("model.embed_dim") is None  # a registered base model, not overrides
    # the patch and image size moved the form to the registered model they make: its name is not stale
    assert window.form.value("model.name") == "vit_base_patch16_224" and not window.form.config.model.overrides()
    assert "<b>vit_base_patch16_224</b>" in panel.name_label.text() and "patch8" not in panel.name_label.text()
    assert panel.figures["seq_len"][0].text() == "197"
    assert panel.figures["gmacs"][0].text() == "17.6"
    assert panel.drawing.shape.depth == 12 and panel.drawing.shape.grid == (14, 14)
    panel.depth_box.setValue(6)
    assert panel.variant.currentData() == "custom" and panel.drawing.shape.depth == 6
    assert "<b>vit_custom_w768_d6_h12_mlp4_p16_224</b>" in panel.name_label.text()


@pytest.mark.parametrize("amx", [True, False], ids=["amx", "no-amx"])
def test_the_memory_estimate_is_for_the_precision_a_run_would_train_in(qtbot, window, monkeypatch, amx):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    panel, form = window.model_panel, window.form
    form.update({"runtime.device": "cpu", "runtime.precision": "auto", "model.embed_dim": 192, "model.num_heads": 3})
    assert panel.figures["memory"][1].text().endswith(f"{'bf16' if amx else 'fp32'} activations, AdamW")
    wide = panel.figures["memory"][0].text()
    form.update({"model.embed_dim": 96})  # narrower than bf16 pays for on a CPU: fp32 either way
    assert panel.figures["memory"][1].text().endswith("fp32 activations, AdamW")
    form.update({"model.embed_dim": 192})
    (choice,) = form.widgets("runtime.precision")  # the Training tab's drop-down
    choice.setCurrentIndex(choice.findData("fp32"))
    choice.activated.emit(choice.currentIndex())
    assert form.config.runtime.precision == "fp32"
    assert panel.figures["memory"][1].text().endswith("fp32 activations, AdamW")
    assert (panel.figures["memory"][0].text() != wide) is amx, "bf16 activations take half the bytes"


def test_a_hybrid_shows_its_patch_size_on_the_feature_map(qtbot, window):
    panel = window.model_panel
    window.form.update({"model.name": "vit_pico_r1_s4_p1_32", "model.patch_size": None})
    assert panel.patch_box.value() == 1 and panel.patch_label.text() == "Patch (CNN map)"
    assert panel.backbone.currentText() == "ResNetV2, 1 stage (1 block)"
    window.form.update({"model.name": "vit_nano_patch4_32"})
    assert panel.patch_box.value() == 4 and panel.patch_label.text() == "Patch size"


@pytest.mark.parametrize("argv", [[], ["gui", "--runs-dir", "elsewhere"]])
def test_vitstudio_without_a_command_opens_the_studio(monkeypatch, argv):
    from vitstudio import cli
    from vitstudio.gui import app

    opened = []
    monkeypatch.setattr(app, "main", lambda runs_dir=None: opened.append(runs_dir) or 0)
    assert cli.main(argv) == 0
    assert opened == [argv[-1] if argv else None]


def test_the_data_panel_shows_labelled_samples_when_opened(qtbot, window, tmp_path):
    panel = window.data_panel
    assert not panel.loading  # nothing is built while the tab is hidden
    with qtbot.waitSignal(panel.samples_shown, timeout=60_000):
        window.show_panel(panel)
    captions = [caption.text() for _, caption in panel.cells]
    assert set(captions) <= set(data.SHAPE_CLASSES) and len(set(captions)) > 1
    assert not panel.cells[0][0].pixmap().isNull()
    assert window.model_panel.num_classes == len(data.SHAPE_CLASSES)

    window.form.update({"data.name": "folder", "data.root": str(tmp_path / "nowhere")})
    qtbot.waitUntil(lambda: "Cannot load samples" in panel.status.text(), timeout=30_000)
    assert panel.cells[0][0].pixmap().isNull()


def test_choosing_a_family_picks_its_model_and_objective(qtbot, window):
    panel = window.model_panel
    panel.family.setCurrentIndex(panel.family.findData("mae"))
    panel.family.activated.emit(panel.family.currentIndex())
    assert window.form.value("model.name").startswith("mae_") and window.form.value("objective.name") == "mae"
    assert window.form.value("model.embed_dim") == 32  # the shape the form showed is kept as overrides
    assert "decoder" in panel.drawing.shape.head
    panel.family.setCurrentIndex(panel.family.findData("hybrid"))
    panel.family.activated.emit(panel.family.currentIndex())
    assert window.form.value("objective.name") == "supervised" and panel.backbone.currentData()
    assert panel.figures["params"][0].text() != "—"
    panel.backbone.setCurrentIndex(panel.backbone.findData(""))  # no backbone: a plain ViT again
    panel.backbone.activated.emit(panel.backbone.currentIndex())
    assert panel.family.currentData() == "vit" and window.form.value("model.name").startswith("vit_")


def test_menus_load_presets_import_weights_and_list_shortcuts(qtbot, window, tmp_path):
    window.new_run_from_preset("quick")
    assert window.form.config == load_config("quick")
    weights = tmp_path / "pretrained.safetensors"
    window.import_weights(str(weights))
    assert window.form.value("objective.name") == "finetune"
    assert window.form.value("objective.init_from") == str(weights)
    assert window.current_panel() is window.training_panel and window.training_panel.init_from.isEnabled()
    assert window.training_panel.init_from.findText("vit_tiny_patch16_224.augreg_in21k_ft_in1k") >= 0  # offered
    assert window.training_panel.start_button.isEnabled()
    text = window.show_shortcuts().text()
    assert "Start training" in text and "Ctrl+Return" in text
    assert "vitstudio" in window.show_about().text()


@pytest.mark.slow
def test_the_runs_tab_resumes_a_run_and_starts_from_its_config(qtbot, window):
    panel = window.training_panel
    window.form.update({"optim.epochs": 20})
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.plots.point_count("loss") >= 1, timeout=60_000)
    with qtbot.waitSignal(panel.run_ended, timeout=60_000):
        panel.stop()
    run = panel.run
    window.form.update({"optim.epochs": 3})
    with qtbot.waitSignal(panel.run_started, timeout=60_000) as started:
        window.runs_panel.resume_requested.emit(str(run.path))
    assert started.args[0] > 0 and panel.run.path == run.path
    assert window.form.value("optim.epochs") == 20  # the run's own settings
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)

    window.runs_panel.new_run_requested.emit(load_config("quick"))
    assert window.form.config == load_config("quick") and window.current_panel() is window.model_panel
