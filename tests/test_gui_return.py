"""Finding the way back (issue 16.4): a run stopped in one session is shown and resumable in the next; a file
that is not weights is refused with a message before any question about it."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog
from train_helpers import tiny_config

from vitstudio.gui.main_window import MainWindow
from vitstudio.gui.panels.inspector import InspectorPanel
from vitstudio.models import create_model, export_safetensors
from vitstudio.models.weights import check_weights_file
from vitstudio.train import Trainer


def open_window(qtbot, tmp_path) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(runs_dir=tmp_path / "runs", settings=settings)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.core_ready, timeout=60_000):
        w.show()
    return w


@pytest.mark.slow
def test_a_relaunch_shows_the_stopped_run_and_the_run_menu_resumes_it(qtbot, tmp_path):
    trainer = Trainer(tiny_config("optim.epochs=50"), runs_dir=tmp_path / "runs")
    trainer.listeners.append(lambda e: trainer.stop() if e.kind == "step" and e.step >= 2 else None)
    assert trainer.run().kind == "stopped"

    w = open_window(qtbot, tmp_path)
    panel = w.training_panel
    assert panel.run == trainer.run_record and "stopped" in panel.progress_label.text()
    assert not panel.resume_button.isHidden() and w.resume_latest_action.isEnabled()
    with qtbot.waitSignal(panel.run_started, timeout=60_000) as started:
        w.resume_latest_action.trigger()
    assert started.args[0] == 2 and panel.run == trainer.run_record
    assert not w.resume_latest_action.isEnabled()  # not while it trains
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)


def test_with_no_runs_the_tab_says_so_and_there_is_nothing_to_resume(qtbot, tmp_path):
    w = open_window(qtbot, tmp_path)
    assert w.training_panel.run is None and w.training_panel.progress_label.text() == "No run yet"
    assert not w.resume_latest_action.isEnabled()


@pytest.mark.parametrize("name", ["notes.pth", "notes.safetensors", "notes.txt"])
def test_a_text_file_is_refused_as_weights_before_any_question(qtbot, tmp_path, monkeypatch, name):
    text = tmp_path / name
    text.write_text("these are my notes, not weights\n")
    with pytest.raises(ValueError, match=rf"{name} is not a (readable safetensors|weights) file"):
        check_weights_file(text)
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(text), ""))
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: asked.append(a) or ("vit_nano_patch4_32", True))
    panel = InspectorPanel()
    qtbot.addWidget(panel)
    action = next(a for a in panel.column.chooser.menu.actions() if a.text() == "Weights file…")
    action.trigger()
    assert not asked and f"{name} is not a" in panel.status.text()
    panel.runner.wait()


def test_real_weights_files_pass_the_check(tmp_path):
    model = create_model("vit_nano_patch4_32", depth=1)
    check_weights_file(export_safetensors(model, tmp_path / "m.safetensors"))
    torch.save(model.state_dict(), tmp_path / "m.pth")
    check_weights_file(tmp_path / "m.pth")
    torch.save(model.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    check_weights_file(tmp_path / "legacy.pt")
    np.savez(tmp_path / "m.npz", w=np.zeros(3))
    check_weights_file(tmp_path / "m.npz")


def test_import_weights_refuses_a_text_file_with_a_message(qtbot, tmp_path, monkeypatch):
    w = open_window(qtbot, tmp_path)
    text = tmp_path / "notes.bin"
    text.write_text("not weights")
    before = w.form.value("objective.name")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(text), ""))
    w.import_action.trigger()  # File > Import weights…
    assert w.dialog is not None and "notes.bin is not a weights file" in w.dialog.text()
    assert w.form.value("objective.name") == before


def test_a_missing_dataset_is_explained_in_the_windows_terms(qtbot, tmp_path):
    w = open_window(qtbot, tmp_path)
    panel = w.data_panel
    folder = tmp_path / "datasets"
    w.form.update({"data.name": "cifar10", "data.root": str(folder), "data.download": False})
    assert panel.download.isEnabled() and not panel.download.isChecked()
    w.show_panel(panel)
    qtbot.waitUntil(lambda: "Cannot load samples" in panel.status.text(), timeout=30_000)
    text = panel.status.text()
    assert str(folder / "cifar-10-batches-py") in text and "data_batch_1" in text
    assert "Tick Download if missing" in text and "download=True" not in text
    qtbot.mouseClick(panel.download, Qt.LeftButton)
    assert w.form.value("data.download") is True
    qtbot.waitUntil(lambda: "A run downloads it when it starts" in panel.status.text(), timeout=30_000)
    w.form.update({"data.name": "builtin"})
    assert not panel.download.isEnabled()
