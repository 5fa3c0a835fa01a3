"""The Studies panel: a study's queue trained on the training worker (smoke budget), stopped and resumed,
its report shown, its runs opened as a comparison; and the window's Studies tab."""

import pytest
from PySide6.QtCore import QSettings, Qt
from train_helpers import TINY_STUDY_BASE

from vitstudio.gui.panels.studies import StudiesPanel
from vitstudio.gui.worker import wait_for_tasks

STUDY = f"""
[study]
title = "Panel study"
source = "a test"
claim = "b fine-tuned from a is no worse than a"
seeds = [0]

[base]
{TINY_STUDY_BASE}model.global_pool = "avg"

[budgets.smoke]
data.num_train = 64
optim.epochs = 1
optim.batch_size = 32
optim.warmup_epochs = 0.0
runtime.log_every = 1

[arms.a]

[arms.b]
objective = {{ name = "finetune", init_from = "@a" }}

[[claims]]
text = "b is about as good as a"
metric = "best_top1"
left = "b"
op = "~"
right = "a"
margin = 100.0
"""


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path / "cache"))
    (tmp_path / "panel_study.toml").write_text(STUDY)
    p = StudiesPanel(runs_dir=tmp_path / "runs")
    qtbot.addWidget(p)
    p.set_study(tmp_path / "panel_study.toml")
    p.set_budget("smoke")
    p.show()
    yield p
    p.stop()
    wait_for_tasks()


def states(panel) -> list[str]:
    return [panel.queue.item(row, 2).text() for row in range(panel.queue.rowCount())]


@pytest.mark.slow
def test_queue_trains_stops_resumes_and_reports(qtbot, panel):
    assert panel.study.name == "panel_study" and "Panel study" in panel.about.text()
    assert states(panel) == ["waiting", "waiting"]
    panel.start()
    panel.stop()  # before the first run has taken a step: it saves a checkpoint and the queue ends
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    assert states(panel) == ["stopped", "waiting"]
    first = panel.jobs[0].run
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()

    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.running and not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    assert states(panel) == ["finished", "finished"]
    assert panel.jobs[0].run == first  # resumed, not made again
    assert panel.queue.item(0, 3).text() == "100%"
    qtbot.waitUntil(lambda: panel.report_path is not None, timeout=60_000)  # written when the queue is done
    assert panel.report_path.name == "panel_study.md"
    text = panel.report.toPlainText()
    assert "Verdicts" in text and "held" in text
    with qtbot.waitSignal(panel.compare_requested) as compared:
        qtbot.mouseClick(panel.compare_button, Qt.LeftButton)
    assert compared.args[0] == [j.run.path for j in panel.jobs]


def test_a_bad_study_file_is_reported(qtbot, panel, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[arms.x]\nobjective.teacher = "@nobody"\n')
    with qtbot.waitSignal(panel.error) as error:
        panel.set_study(bad)
    assert "study bad, arm x: objective.teacher refers to @nobody" in error.args[1]
    assert panel.study.name == "panel_study"  # the shown study stays


def test_the_window_has_a_studies_tab(qtbot, tmp_path):
    from vitstudio.gui.main_window import MainWindow

    w = MainWindow(runs_dir=tmp_path / "runs", settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.core_ready, timeout=60_000):
        w.show()
    assert w.tabs.tabText(w.tabs.count() - 1) == "Studies"
    assert w.studies_panel.study_box.count() == 5 and w.studies_panel.budget == "cpu"
    w.studies_panel.device_busy = lambda: True
    with qtbot.waitSignal(w.studies_panel.error):
        w.studies_panel.start()
    assert not w.studies_panel.running
