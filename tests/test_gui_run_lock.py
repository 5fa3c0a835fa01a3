"""The GUI's Resume respects the run lock: a run another process writes cannot be resumed from the window."""

import pytest
from PySide6.QtCore import QSettings
from train_helpers import tiny_config

from vitstudio.gui.main_window import MainWindow
from vitstudio.train import Run, Trainer


@pytest.mark.slow
def test_resume_is_off_while_another_process_owns_the_run(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path / "cache"))
    trainer = Trainer(tiny_config(), runs_dir=tmp_path / "runs")
    trainer.stop()
    assert trainer.run().kind == "stopped"
    w = MainWindow(runs_dir=tmp_path / "runs", settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.core_ready, timeout=60_000):
        w.show()
    w.open_run(trainer.run_dir)
    panel = w.training_panel
    assert not panel.resume_button.isHidden() and panel.resume_button.isEnabled()
    lock = Run(trainer.run_dir).lock()  # as another process writing it would hold it
    w.open_run(trainer.run_dir)  # shown again
    assert not panel.resume_button.isEnabled()
    lock.release()
    w.open_run(trainer.run_dir)  # shown again
    assert panel.resume_button.isEnabled()
