"""What the studio says about training (issue 16.3): progress between logged steps, the state after a pause,
plots that belong to the run shown, metrics named in words, a run's average images/s."""

import pytest
from PySide6.QtCore import Qt
from test_gui import data_cache, train, window  # noqa: F401 (fixtures)
from test_runs_compare import fake_run
from train_helpers import tiny_config

from vitstudio.gui.panels.compare import CompareView
from vitstudio.train import Trainer
from vitstudio.train import trainer as trainer_module
from vitstudio.train.compare import COLUMNS, metric_label
from vitstudio.train.events import Event
from vitstudio.train.runs import Run


@pytest.mark.slow
def test_progress_events_report_every_step_between_logged_steps_and_stay_out_of_the_log(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "PROGRESS_SECONDS", 0.0)  # every step: no waiting in a test
    events = []
    trainer = Trainer(tiny_config("runtime.log_every=3"), runs_dir=tmp_path, listeners=[events.append])
    assert trainer.run().kind == "finished"
    total = next(e for e in events if e.kind == "started").data["total_steps"]
    moved = sorted({e.step for e in events if e.kind in ("step", "progress")})
    assert moved == list(range(1, total + 1))
    assert {e.step for e in events if e.kind == "progress"}.isdisjoint(range(0, total + 1, 3))
    assert "progress" not in {e.kind for e in trainer.run_record.events()}


@pytest.mark.slow
def test_the_progress_bar_moves_every_step_while_curves_wait_for_log_every(qtbot, window, monkeypatch):  # noqa: F811
    monkeypatch.setattr(trainer_module, "PROGRESS_SECONDS", 0.0)
    panel = window.training_panel
    window.form.update({"runtime.log_every": 1000})  # one step event, at the end of the epoch
    values = []
    panel.progress.valueChanged.connect(values.append)
    assert train(qtbot, window) == "finished"
    total = panel.total_steps
    assert set(range(1, total + 1)) <= set(values)
    assert panel.plots.point_count("loss") == 1


@pytest.mark.slow
def test_after_resume_the_status_no_longer_says_paused(qtbot, window, monkeypatch):  # noqa: F811
    monkeypatch.setattr(trainer_module, "PROGRESS_SECONDS", 0.0)
    panel = window.training_panel
    window.form.update({"optim.epochs": 50, "runtime.log_every": 100_000})
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.progress.value() >= 2, timeout=60_000)
    qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "paused" in panel.progress_label.text(), timeout=60_000)
    assert "ETA" not in panel.progress_label.text()
    qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "paused" not in panel.progress_label.text(), timeout=60_000)
    assert panel.progress_label.text().startswith("epoch ")
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)


@pytest.mark.slow
def test_a_new_run_fits_its_own_ranges_and_hides_plots_it_does_not_log(qtbot, window):  # noqa: F811
    panel = window.training_panel
    assert train(qtbot, window) == "finished"
    first = panel.run
    top1, loss = panel.plots.plots["top1"], panel.plots.plots["loss"]
    assert not top1.isHidden()
    window.show_panel(panel)
    qtbot.waitUntil(lambda: loss.viewRange()[1][1] > 1, timeout=10_000)  # the loss, from about ln(10) down
    old_range = loss.viewRange()[1]
    window.form.update({"model.name": "mae_vit_nano_patch4_32", "objective.name": "mae"})
    with qtbot.waitSignal(panel.run_ended, timeout=120_000) as ended:
        qtbot.mouseClick(panel.start_button, Qt.LeftButton)
        at_start = top1.isHidden(), loss.viewRange()[1]
    assert at_start[0], "top-1 is hidden from the start, before the run logs anything"
    assert at_start[1] != pytest.approx(old_range), "the last run's range is gone"
    assert ended.args[0] == "finished" and panel.plots.point_count("loss") > 0
    assert top1.isHidden()
    window.open_run(first.path)  # a classification run shown again shows its top-1
    assert not top1.isHidden() and panel.plots.point_count("top1") > 0


def test_a_runs_images_per_sec_is_its_average_not_its_last_window(tmp_path):
    run = fake_run(tmp_path, steps=6, finish=False)  # 50 images/s at every step
    t = 2000.0
    run.record(Event("step", 10, 1.0, t, {"loss": 1.0, "images_per_sec": 10.0}))  # 4 slower steps
    expected = 10 / (6 / 50 + 4 / 10)  # images over the seconds their steps took, per batch
    assert run.summary()["images_per_sec"] == pytest.approx(expected)
    assert COLUMNS["images_per_sec"].format(run.summary()) == f"{expected:.0f}"
    (run.path / "status.json").unlink()  # a run of an older version: read from its log
    assert Run(run.path).summary()["images_per_sec"] == pytest.approx(expected)


def test_the_compare_view_names_metrics_in_words(qtbot, tmp_path):
    view = CompareView()
    qtbot.addWidget(view)
    view.set_runs([fake_run(tmp_path)])
    shown = [view.metric_box.itemText(i) for i in range(view.metric_box.count())]
    assert shown == [
        "train loss",
        "learning rate",
        "images / s",
        "validation loss",
        "validation top-1 %",
        "validation top-5 %",
    ]
    view.metric_box.setCurrentIndex(view.metric_box.findData("val_loss"))
    assert view.plot.getAxis("left").labelText == "validation loss"
    assert metric_label("grad_norm") == "grad norm"


def test_runs_table_columns_fit_runs_that_arrive_later_and_fill_the_width(qtbot, tmp_path):
    from vitstudio.gui.panels.runs import RunsPanel

    panel = RunsPanel(tmp_path)  # opened before any run exists, as at a first launch
    qtbot.addWidget(panel)
    panel.resize(1300, 700)
    panel.show()
    qtbot.waitExposed(panel)
    fake_run(tmp_path, steps=6).update_meta(name="a rather long run name that needs its room")
    panel.refresh()
    view = panel.view
    shown = [i for i in range(panel.model.columnCount()) if not view.isColumnHidden(i)]
    last = max(shown, key=view.horizontalHeader().visualIndex)
    for i in shown:
        assert view.columnWidth(i) >= view.sizeHintForColumn(i), panel.model.columns[i].key
    assert sum(view.columnWidth(i) for i in shown) >= view.viewport().width() - 1
    assert view.columnWidth(last) > 0


@pytest.mark.slow
def test_pause_state_is_a_field_and_a_pause_taken_back_leaves_the_run_running(qtbot, window):  # noqa: F811
    panel = window.training_panel
    window.form.update({"optim.epochs": 50})
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.plots.point_count("loss") >= 1, timeout=60_000)
    panel.toggle_pause()
    assert panel.pause_state == "pausing" and panel.pause_button.text() == "Pausing…"
    panel.toggle_pause()  # taken back at once
    assert panel.pause_state == "running"
    before = panel.plots.point_count("loss")
    qtbot.waitUntil(lambda: panel.plots.point_count("loss") > before + 2, timeout=60_000)
    assert panel.pause_state == "running" and panel.pause_button.text() == "Pause"
    panel.toggle_pause()
    qtbot.waitUntil(lambda: panel.pause_state == "paused", timeout=60_000)
    assert panel.pause_button.text() == "Resume"
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
