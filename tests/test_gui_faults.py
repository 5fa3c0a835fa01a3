"""The GUI under run-store faults: Resume respects the run lock, and a damaged run is listed and compared
with the others without breaking the Runs tab."""

import shutil

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


@pytest.mark.slow
def test_the_runs_tab_lists_and_compares_a_damaged_run(qtbot, tmp_path, monkeypatch):
    from vitstudio.gui.panels.runs import RunsPanel

    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path / "cache"))
    trainer = Trainer(tiny_config("optim.epochs=1"), runs_dir=tmp_path / "runs")
    assert trainer.run().kind == "finished"
    damaged = tmp_path / "runs" / "zz-damaged"
    shutil.copytree(trainer.run_dir, damaged)
    (damaged / "config.json").write_text("[1, 2]")
    panel = RunsPanel(tmp_path / "runs")
    qtbot.addWidget(panel)
    panel.show()
    states = {r.id: panel.model.text(i, "state") for i, r in enumerate(panel.model.runs)}
    assert states == {trainer.run_dir.name: "finished", "zz-damaged": "damaged"}
    panel.select_runs(panel.model.runs)  # the compare view takes both: the damaged one has no config to diff
    assert len(panel.compare.runs) == 2
