"""The runs panel and compare view on runs made by the real trainer (tiny models, a few steps each)."""

import csv
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from train_helpers import tiny_config

from vitstudio.cli import main
from vitstudio.train import Trainer
from vitstudio.train.build import model_label
from vitstudio.train.compare import ema, flatten, resolved_config
from vitstudio.train.runs import list_runs

pytestmark = pytest.mark.slow  # the runs fixture trains three runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished runs that differ only in the learning rate, and one stopped before its first step."""
    root = tmp_path_factory.mktemp("runs")
    made = {}
    for key, overrides in (("a", ["optim.lr=0.002"]), ("b", ["optim.lr=0.001"])):
        trainer = Trainer(tiny_config(*overrides), runs_dir=root)
        assert trainer.run().kind == "finished"
        made[key] = trainer.run_record
    stopped = Trainer(tiny_config(), runs_dir=root)
    stopped.stop()
    assert stopped.run().kind == "stopped"
    made["c"] = stopped.run_record
    made["root"] = root
    return made


@pytest.fixture
def panel(qtbot, runs):
    from vitstudio.gui.panels.runs import RunsPanel

    panel = RunsPanel(runs["root"])
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    return panel


def row_of(panel, run) -> int:
    return [r.path for r in panel.model.runs].index(run.path)


def test_table_lists_every_run_with_its_status_and_best_top1(panel, runs):
    assert panel.model.rowCount() == 3 and panel.proxy.rowCount() == 3
    for key, state in (("a", "finished"), ("b", "finished"), ("c", "stopped")):
        run, row = runs[key], row_of(panel, runs[key])
        assert panel.model.text(row, "state") == state
        evals = [e.data["top1"] for e in run.events() if e.kind == "eval"]
        assert panel.model.text(row, "best_top1") == (f"{max(evals):.2f}" if evals else "")
        # the tiny runs change vit_nano_patch4_32's shape: the table names what they are
        assert panel.model.text(row, "params") != "" and panel.model.text(row, "model") == model_label(run.config())
        assert panel.model.text(row, "model") == "vit_custom_w32_d1_h2_mlp4_p8_32"
    assert not runs["c"].metrics().curves.get("top1")


def test_sorting_and_filtering(panel, runs):
    col = panel.model.column_index("state")
    panel.view.sortByColumn(col, Qt.AscendingOrder)
    states = [panel.proxy.index(r, col).data() for r in range(3)]
    assert states == sorted(states)
    runs["a"].update_meta(tags=["keeper"])
    panel.refresh()
    panel.filter_edit.setText("KEEPER finished")
    assert panel.proxy.rowCount() == 1
    assert panel.proxy.mapToSource(panel.proxy.index(0, 0)).row() == row_of(panel, runs["a"])
    panel.filter_edit.setText("")
    runs["a"].update_meta(tags=[])


def test_user_chooses_columns(panel):
    panel.set_visible_columns(["name", "state", "best_top1"])
    assert panel.visible_columns() == ["name", "state", "best_top1"]
    action = next(a for a in panel.columns_button.menu().actions() if a.data() == "params")
    action.setChecked(True)
    assert "params" in panel.visible_columns()


def test_selecting_two_runs_overlays_both_curves(qtbot, panel, runs):
    a, b = runs["a"], runs["b"]
    panel.select_runs([a, b])
    compare = panel.compare
    assert [r.path for r in compare.runs] == [a.path, b.path]
    compare.metric_box.setCurrentIndex(compare.metric_box.findData("loss"))
    for line, run in zip(compare.plot.lines, (a, b)):
        steps = [e for e in run.events() if e.kind == "step"]
        x, y = line.xData, line.yData
        assert x.tolist() == [e.step for e in steps]
        np.testing.assert_allclose(y, ema([e.data["loss"] for e in steps], compare.weight))
    compare.x_box.setCurrentIndex(compare.x_box.findData("images"))
    assert compare.plot.lines[0].xData[0] == a.config().optim.batch_size
    compare.metric_box.setCurrentIndex(compare.metric_box.findData("top1"))
    assert compare.plot.lines[1].yData.tolist() == [e.data["top1"] for e in b.events() if e.kind == "eval"]

    # hovering a point of run b's loss curve names the run and its differing config
    compare.x_box.setCurrentIndex(compare.x_box.findData("step"))
    compare.metric_box.setCurrentIndex(compare.metric_box.findData("loss"))
    texts = []
    compare.hovered.connect(texts.append)
    la, lb = compare.plot.lines[:2]
    k = int(np.argmax(np.abs(la.yData - lb.yData)))
    lo, hi = sorted((la.yData[k], lb.yData[k]))
    vb = compare.plot.getPlotItem().vb
    vb.setRange(xRange=(lb.xData[0], lb.xData[-1]), yRange=(lo - (hi - lo) / 4, hi + (hi - lo) / 4), padding=0)
    qtbot.wait(50)  # painted at that range
    point = vb.mapViewToScene(QPointF(float(lb.xData[k]), float(lb.yData[k])))
    compare._on_mouse((point,))
    assert texts[-1].startswith(b.id) and "optim.lr = 0.001" in texts[-1]
    between = (point + vb.mapViewToScene(QPointF(float(la.xData[k]), float(la.yData[k])))) / 2
    compare._on_mouse((between,))
    assert texts[-1] == ""

    header = [compare.summary_table.horizontalHeaderItem(c).text() for c in range(compare.summary_table.columnCount())]
    best = header.index("best top-1 %")
    assert [compare.summary_table.item(r, best).text() for r in range(2)] == [
        panel.model.text(row_of(panel, run), "best_top1") for run in (a, b)
    ]


def test_auto_range_shows_every_curve_whole_and_the_drawn_curves_follow_each_change(qtbot, panel, runs):
    a, b = runs["a"], runs["b"]
    panel.select_runs([a, b])
    compare = panel.compare
    compare.smoothing.setValue(0)
    vb = compare.plot.getPlotItem().vb
    for axis, metric, log_y in (("images", "loss", False), ("step", "val_loss", True), ("epoch", "loss", True)):
        compare.x_box.setCurrentIndex(compare.x_box.findData(axis))
        compare.metric_box.setCurrentIndex(compare.metric_box.findData(metric))
        compare.log_y.setChecked(log_y)
        qtbot.wait(20)  # painted
        (x0, x1), (y0, y1) = vb.viewRange()
        for line in compare.plot.lines[:2]:
            x, y = line.xData, np.log10(line.yData) if log_y else line.yData
            drawn_x, drawn_y = line.curve.getData()  # what is painted: the latest data, log-mapped
            assert drawn_x.tolist() == x.tolist() and np.allclose(drawn_y, y)
            assert x0 <= x.min() and x.max() <= x1 and y0 <= y.min() and y.max() <= y1
    compare.log_y.setChecked(False)


def test_config_diff_shows_exactly_the_differing_fields(panel, runs):
    panel.select_runs([runs["a"], runs["b"]])
    table = panel.compare.diff_table
    cells = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert cells == [["optim.lr", "0.002", "0.001"]]
    panel.compare.differences_only.setChecked(False)
    assert table.rowCount() == len(flatten(resolved_config(runs["a"])))  # the model as built, every argument


def test_delete_then_undo_restores_the_run(panel, runs):
    c = runs["c"]
    summary = c.summary()
    panel.select_runs([c])
    moved = panel.delete_selected()
    assert panel.model.rowCount() == 2 and not c.path.exists() and moved[0].is_dir()
    assert panel.undo_action.isEnabled()
    panel.undo_action.trigger()
    assert panel.model.rowCount() == 3 and c.path.is_dir() and c.summary() == summary
    assert not panel.undo_action.isEnabled()


def test_rename_tag_and_note_show_in_the_table(panel, runs):
    a = runs["a"]
    panel.rename(a, "baseline")
    panel.set_tags([a], ["cpu", "tiny"])
    panel.set_note(a, "first try")
    row = row_of(panel, a)
    assert (panel.model.text(row, "name"), panel.model.text(row, "tags")) == ("baseline", "cpu, tiny")
    assert "first try" in panel.model.index(row, 0).data(Qt.ToolTipRole)
    panel.rename(a, "")
    panel.set_tags([a], [])
    panel.set_note(a, "")
    assert panel.model.text(row, "name") == a.id


def test_a_value_that_grows_widens_its_column(panel, runs):
    a = runs["a"]
    column = panel.model.column_index("name")
    before = panel.view.columnWidth(column)
    panel.rename(a, "a much longer name than any run id in this table, to be seen whole")
    assert panel.view.columnWidth(column) > before
    assert panel.view.columnWidth(column) >= panel.view.sizeHintForColumn(column)
    panel.rename(a, "")
    assert panel.view.columnWidth(column) > before  # never narrowed: a user may have widened it


def test_context_menu_resumes_a_stopped_run_and_starts_a_new_one_from_a_config(qtbot, panel, runs):
    def action(runs_, text):
        return next(a for a in panel.context_menu(runs_).actions() if a.text() == text)

    assert not action([runs["a"]], "Resume training").isEnabled()  # finished
    assert not action([runs["a"], runs["c"]], "Rename…").isEnabled()
    resume = action([runs["c"]], "Resume training")
    assert resume.isEnabled()
    with qtbot.waitSignal(panel.resume_requested) as resumed:
        resume.trigger()
    assert resumed.args == [str(runs["c"].path)]
    with qtbot.waitSignal(panel.new_run_requested) as new:
        action([runs["b"]], "New run from this config").trigger()
    assert new.args[0] == runs["b"].config()


def test_exports(panel, runs, tmp_path):
    a, b = runs["a"], runs["b"]
    panel.select_runs([a, b])
    table = panel.export_table(tmp_path / "runs.csv")
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and {"run", "status", "best top-1 %"} <= set(rows[0])
    png = panel.compare.export_plot("png", str(tmp_path / "loss.png"))
    svg = panel.compare.export_plot("svg", str(tmp_path / "loss.svg"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    from vitstudio.charts import category_color, hex_rgb

    image = np.asarray(Image.open(png).convert("RGB"))
    plot = panel.compare.plot
    assert image.shape[:2] == (plot.height(), plot.width())  # at its size on screen
    colours = {tuple(c) for c in image.reshape(-1, 3)}
    assert {hex_rgb(category_color(0, 2)), hex_rgb(category_color(1, 2))} <= colours
    text = svg.read_text()
    # each run in the legend (long names are cut to the legend's width: their date-time prefix stays)
    assert text.startswith("<svg") and text.count("<polyline") >= 2 and a.id[:15] in text and b.id[:15] in text
    metrics = panel.compare.export_metrics(str(tmp_path / "metrics.csv"))
    with open(metrics, newline="") as f:
        assert {r["run"] for r in csv.DictReader(f)} == {a.id, b.id}


def test_headless_compare_writes_plots_diff_and_summary(runs, tmp_path, capsys):
    a, b = runs["a"], runs["b"]
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "runs",
                "compare",
                a.id,
                b.id,
                "--out",
                str(out),
                "--metrics",
                "loss,top1",
                "--x",
                "epoch",
                "--runs-dir",
                str(runs["root"]),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "config_diff.csv",
        "config_diff.md",
        "loss.png",
        "metrics.csv",
        "summary.csv",
        "summary.md",
        "top1.png",
    ]
    assert (out / "config_diff.md").read_text().splitlines()[2] == "| optim.lr | 0.002 | 0.001 |"
    assert a.id in (out / "summary.md").read_text()
    assert (
        main(["runs", "compare", a.id, "--out", str(out), "--metrics", "accuracy", "--runs-dir", str(runs["root"])])
        == 2
    )
    assert "no run logged accuracy" in capsys.readouterr().err


def test_a_run_started_meanwhile_appears_and_updates_while_it_trains(qtbot, tmp_path):
    from vitstudio.gui.panels.runs import RunsPanel

    panel = RunsPanel(tmp_path)
    qtbot.addWidget(panel)
    panel.timer.setInterval(50)
    assert panel.model.rowCount() == 0

    def pause_after_two_steps(event):
        if event.kind == "step" and event.step == 2:
            trainer.pause()

    trainer = Trainer(tiny_config(), runs_dir=tmp_path, listeners=[pause_after_two_steps])
    thread = threading.Thread(target=trainer.run)
    thread.start()
    try:
        qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=10_000)
        [run] = list_runs(tmp_path)
        panel.select_runs([run])
        qtbot.waitUntil(lambda: panel.model.text(0, "state") == "paused", timeout=60_000)
        assert len(panel.compare.plot.lines[0].xData) == 2
        trainer.resume()
        qtbot.waitUntil(lambda: panel.model.text(0, "state") == "finished", timeout=60_000)
        qtbot.waitUntil(lambda: len(panel.compare.plot.lines[0].xData) == trainer.total_steps, timeout=10_000)
        assert panel.model.text(0, "best_top1") != ""
    finally:
        trainer.stop()
        thread.join()
