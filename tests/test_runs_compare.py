"""The run store's index, meta, trash and columnar metrics reader, and the Qt-free comparison functions."""

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vitstudio.config import Config, apply_overrides
from vitstudio.train.compare import (
    COLUMNS,
    MISSING,
    Smoother,
    config_diff,
    curves_table,
    diff_table,
    ema,
    flatten,
    markdown_table,
    metric_names,
    table,
    write_csv,
    x_values,
)
from vitstudio.train.events import Event
from vitstudio.train.export import export_tensorboard
from vitstudio.train.runs import CACHE, CACHE_MIN_EVENTS, Run, create_run, delete_run, list_runs, restore_run


def fake_run(
    root, steps=20, top1=(40.0, 60.0, 55.0), overrides=(), t0=1000.0, finish=True, world_size=None, **kw
) -> Run:
    """A run written through the run store as the trainer would, with a clock we control (`world_size` None:
    as an older version, which did not record it)."""
    run = create_run(apply_overrides(Config(), list(overrides)), root)
    per_epoch = steps // len(top1)
    started = {"total_steps": steps, "steps_per_epoch": per_epoch, "params": 1234}
    if world_size is not None:
        started["world_size"] = world_size
    run.record(Event("started", 0, 0.0, t0, started))
    for s in range(1, steps + 1):
        run.record(Event("step", s, s / per_epoch, t0 + s, {"loss": 3.0 / s, "lr": 1e-3, "images_per_sec": 50.0}))
        if s % per_epoch == 0 and s // per_epoch <= len(top1):
            acc = top1[s // per_epoch - 1]
            run.record(
                Event("eval", s, s / per_epoch, t0 + s, {"val_loss": 2.0 - acc / 100, "top1": acc, "top5": 99.0})
            )
    if finish:
        run.record(Event("finished", steps, steps / per_epoch, t0 + steps + 1))
    return run


def lines(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


# -- index ------------------------------------------------------------------------------------------


def test_summary_has_best_and_last_results_time_and_params(tmp_path):
    s = fake_run(tmp_path, steps=30, top1=(40.0, 60.0, 55.0)).summary()
    assert s["state"] == "finished" and s["name"] == s["id"] and s["params"] == 1234
    assert s["best"]["top1"] == 60.0 and s["best"]["val_loss"] == pytest.approx(2.0 - 0.6)
    assert s["last_eval"]["top1"] == 55.0 and s["seconds"] == pytest.approx(31.0)
    header, rows = table([s], ("name", "state", "best_top1", "last_top1", "params", "seconds"))
    assert header == ["run", "status", "best top-1 %", "last top-1 %", "params", "time"]
    assert rows == [[s["id"], "finished", "60.00", "55.00", "1.2k", "31s"]]


def test_best_results_from_the_status_and_from_the_log_agree(tmp_path):
    run = fake_run(tmp_path, steps=30, top1=(40.0, 60.0, 55.0))
    best = run.summary()["best"]  # folded event by event into status.json
    assert best == run.metrics().status()["best"]  # computed from the log's columns (runs without a status file)
    assert best["top1"] == 60.0 and best["val_loss"] == pytest.approx(2.0 - 0.6) and best["top5"] == 99.0


def test_training_time_leaves_out_pauses_and_the_gap_before_a_resume(tmp_path):
    run = create_run(Config(), tmp_path)
    for e in [
        Event("started", 0, 0.0, 100.0),
        Event("step", 1, 0.1, 110.0, {"loss": 1.0}),
        Event("paused", 1, 0.1, 111.0),
        Event("resumed", 1, 0.1, 500.0),
        Event("step", 2, 0.2, 505.0, {"loss": 0.9}),
        Event("stopped", 2, 0.2, 506.0),
        Event("started", 2, 0.2, 9000.0),
        Event("step", 3, 0.3, 9004.0, {"loss": 0.8}),
    ]:
        run.record(e)
    expected = 11 + 6 + 4
    assert run.summary()["seconds"] == pytest.approx(expected)
    log = run.metrics()
    assert log.seconds == pytest.approx(expected)
    assert log.curves["loss"].seconds.tolist() == pytest.approx([10.0, 16.0, 21.0])


def test_run_of_an_older_version_is_read_from_its_log(tmp_path):
    """No status.json or meta.json, a config with an unknown and a missing field, records lacking fields,
    non-numeric values and a truncated last line."""
    folder = tmp_path / "20240101-000000-old"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"model": {"name": "vit_micro_patch4_32", "retired": 1}, "optim": {"epochs": 4}})
    )
    (folder / "metrics.jsonl").write_text(
        lines(
            {"kind": "started", "step": 0, "time": 50.0, "data": {"total_steps": 8}},
            {
                "kind": "step",
                "step": 4,
                "epoch": 2.0,
                "time": 60.0,
                "data": {"loss": 1.5, "note": "text", "flag": True},
            },
            {"kind": "eval", "step": 4, "time": 61.0, "data": {"val_loss": 1.1, "top1": 30.0}},
            {"kind": "step", "step": "eight", "data": {"loss": 1.0}},
            {"kind": "eval", "step": 8, "epoch": 4.0, "time": 70.0, "data": {"val_loss": 1.3, "top1": 20.0}},
            {"kind": "finished", "step": 8, "epoch": 4.0, "time": 71.0},
        )
        + '{"kind": "step", "step": 9, "da'
    )
    [run] = list_runs(tmp_path)
    s = run.summary()
    assert (s["state"], s["step"], s["epoch"], s["total_steps"], s["model"]) == (
        "finished",
        8,
        4.0,
        8,
        "vit_micro_patch4_32",
    )
    assert s["best"] == {"val_loss": 1.1, "top1": 30.0} and s["last_eval"] == {"val_loss": 1.3, "top1": 20.0, "step": 8}
    assert s["seconds"] == 21.0 and s["created"] == 50.0 and s["params"] is None
    curves = run.metrics().curves
    assert sorted(curves) == ["loss", "top1", "val_loss"]
    assert curves["top1"].epoch.tolist() == [0.0, 4.0] and curves["loss"].step.dtype == np.int64


def test_reader_takes_appends_incrementally_and_rereads_a_replaced_log(tmp_path):
    run = fake_run(tmp_path, steps=6, top1=(50.0,), finish=False)
    assert len(run.metrics().curves["loss"]) == 6
    with open(run.metrics_path, "a") as f:
        f.write(json.dumps(Event("step", 7, 7 / 6, 1007.0, {"loss": 0.1}).to_dict()))  # no newline yet
    log = run.metrics()
    assert log.curves["loss"].value[-1] == 0.1, "a whole record without its newline is read"
    with open(run.metrics_path, "a") as f:
        f.write('\n{"kind": "step", "step": 8, "epoch": 1.3, "time": 1008.0, "data": {"loss"')  # being written
    assert len(run.metrics().curves["loss"]) == 7
    with open(run.metrics_path, "a") as f:
        f.write(": 0.05}}\n")
    assert run.metrics().curves["loss"].step.tolist()[-2:] == [7, 8]
    run.truncate_metrics(3)  # what a resume does: the log is rewritten, shorter
    assert run.metrics().curves["loss"].step.tolist() == [1, 2, 3]
    run.record(Event("step", 4, 0.66, 1004.0, {"loss": 0.7}))
    run.record(Event("step", 5, 0.83, 1005.0, {"loss": 0.6}))
    assert run.metrics().curves["loss"].value.tolist() == pytest.approx([3.0, 1.5, 1.0, 0.7, 0.6])


def test_parsed_log_is_cached_on_disk_and_a_stale_or_broken_cache_is_ignored(tmp_path):
    run = create_run(Config(), tmp_path)
    run.metrics_path.write_text(
        lines(
            *(Event("step", s, s / 100, 1000.0 + s, {"loss": 1 / s}).to_dict() for s in range(1, CACHE_MIN_EVENTS + 1))
        )
    )
    first = run.metrics()
    cache = run.path / CACHE
    assert cache.is_file()

    from vitstudio.train import runs as store

    fresh = store._LogReader(run.metrics_path)  # a new session
    fresh._add = None  # must not parse a single event: everything comes from the cache
    again = fresh.read()
    assert again.events == first.events and np.array_equal(again.curves["loss"].value, first.curves["loss"].value)

    run.truncate_metrics(10)  # the log no longer starts with what the cache describes
    assert store._LogReader(run.metrics_path).read().curves["loss"].step.tolist() == list(range(1, 11))
    cache.write_bytes(b"not a zip file")
    assert store._LogReader(run.metrics_path).read().events == 10


# -- meta, trash ----------------------------------------------------------------------------------


def test_rename_tag_and_note_are_stored_in_the_run_folder(tmp_path):
    run = fake_run(tmp_path)
    run.update_meta(name="  baseline ", tags=["vit", " cpu", "vit", ""], note="first try")
    again = Run(run.path)
    assert again.meta() == {"name": "baseline", "tags": ["vit", "cpu"], "note": "first try"}
    assert again.summary()["name"] == "baseline" and COLUMNS["tags"].format(again.summary()) == "vit, cpu"
    run.update_meta(name="")
    assert run.summary()["name"] == run.id and run.meta()["tags"] == ["vit", "cpu"]
    assert not [p for p in run.path.iterdir() if ".tmp" in p.name]
    with pytest.raises(TypeError, match="colour"):
        run.update_meta(colour="red")


def test_delete_moves_to_trash_and_restore_brings_it_back(tmp_path):
    keep, gone = fake_run(tmp_path), fake_run(tmp_path)
    trashed = delete_run(gone)
    assert [r.id for r in list_runs(tmp_path)] == [keep.id]
    assert trashed.is_dir() and (trashed / "metrics.jsonl").is_file()
    restored = restore_run(trashed)
    assert restored.path == gone.path and restored.summary()["best"]["top1"] == 60.0
    assert sorted(r.id for r in list_runs(tmp_path)) == sorted([keep.id, gone.id])
    assert not any((tmp_path / ".trash").iterdir())


def test_a_run_still_being_written_cannot_be_deleted(tmp_path):
    live = fake_run(tmp_path, finish=False)  # this process is its writer, so it is running
    with pytest.raises(RuntimeError, match="stop it before deleting"):
        delete_run(live)
    assert live.path.is_dir()


# -- curves ---------------------------------------------------------------------------------------


def tensorboard_smoothing(values, weight):
    """TensorBoard's scalar-dashboard loop, as written in its source."""
    last, debias, out = 0.0, 0.0, []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        debias = debias * weight + (1 - weight)
        out.append(last / debias)
    return np.array(out)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.95, 0.999])
def test_ema_matches_tensorboard(weight):
    y = np.random.default_rng(0).normal(size=3000).cumsum()
    y[[5, 100, 2000]] = [np.nan, np.inf, np.nan]
    ours, ref = ema(y, weight), tensorboard_smoothing(y, weight)
    assert np.array_equal(np.isfinite(ours), np.isfinite(ref))
    f = np.isfinite(ref)
    assert np.abs(ours[f] - ref[f]).max() <= 1e-9 * np.abs(ref[f]).max()
    assert ema([2.0, 4.0], 0.5)[0] == 2.0  # debiased: the first point is the first value
    with pytest.raises(ValueError, match="smoothing"):
        ema(y, 1.0)
    smoother = Smoother(weight)  # the same average a point at a time (the training tab's live curve)
    one_by_one = np.array([smoother.add(v) for v in y])
    assert np.array_equal(np.isfinite(one_by_one), f)
    assert np.abs(one_by_one[f] - ours[f]).max() <= 1e-9 * np.abs(ref[f]).max()


def test_x_axes(tmp_path):
    run = fake_run(tmp_path, steps=6, top1=(50.0, 60.0))
    loss, batch = run.metrics().curves["loss"], run.config().optim.batch_size
    assert x_values(loss, "step", batch).tolist() == [1, 2, 3, 4, 5, 6]
    assert x_values(loss, "epoch", batch).tolist() == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    assert x_values(loss, "seconds", batch).tolist() == pytest.approx([1, 2, 3, 4, 5, 6])
    assert x_values(loss, "images", batch).tolist() == [batch * s for s in range(1, 7)]
    with pytest.raises(ValueError, match="x axis"):
        x_values(loss, "minutes", batch)


def test_images_seen_count_the_batches_of_every_process(tmp_path):
    """Under torchrun each of the run's processes takes a batch per step; a run that did not record how many
    (written by an older version) had one."""
    runs = {ws: fake_run(tmp_path, steps=6, top1=(50.0, 60.0), world_size=ws) for ws in (1, 2, None)}
    batch = runs[1].config().optim.batch_size
    for ws, run in runs.items():
        s = run.summary()
        assert s["world_size"] == (ws or 1)
        images = x_values(run.metrics().curves["loss"], "images", s["batch_size"], s["world_size"])
        assert images.tolist() == [(ws or 1) * batch * k for k in range(1, 7)]
    header, rows = curves_table([runs[2], runs[None]], metrics=["loss"])
    assert [r[header.index("images")] for r in rows] == [2 * batch * k for k in range(1, 7)] + [
        batch * k for k in range(1, 7)
    ]
    (runs[2].path / "status.json").unlink()  # read from the log alone
    assert runs[2].summary()["world_size"] == 2


# -- config diff, tables, exports -------------------------------------------------------------------


def test_config_diff_lists_exactly_the_differing_fields(tmp_path):
    a = fake_run(tmp_path, overrides=["optim.lr=0.002", "model.depth=3"])
    b = fake_run(tmp_path, overrides=["optim.lr=0.001", "model.depth=3", "optim.betas=0.9,0.95"])
    header, rows = diff_table([a, b])
    assert header == ["field", a.id, b.id]
    assert rows == [["optim.lr", "0.002", "0.001"], ["optim.betas", "0.9, 0.999", "0.9, 0.95"]]
    every = config_diff([a.config().to_dict(), b.config().to_dict()], only_differences=False)
    assert [k for k, _ in every] == list(flatten(Config().to_dict()))
    assert config_diff([{"a": {"x": 1}}, {"a": {"x": 1, "y": None}}]) == [("a.y", [MISSING, None])]


def test_the_diff_compares_the_architectures_that_ran_not_the_overrides(tmp_path):
    """The quick hybrid against a plain ViT of the same width, depth, heads and MLP ratio: what differs is the
    backbone, the patch size and the pooling, not the transformer's shape."""
    hybrid = fake_run(tmp_path, overrides=["model.name=vit_pico_r1_s4_p1_32"])
    plain = fake_run(
        tmp_path, overrides=["model.embed_dim=96", "model.depth=3", "model.num_heads=3", "model.mlp_ratio=2"]
    )
    rows = dict((field, values) for field, *values in diff_table([hybrid, plain])[1])
    for key in ("model.embed_dim", "model.depth", "model.num_heads", "model.mlp_ratio"):
        assert key not in rows
    assert rows["model.patch_size"] == ["1", "4"] and rows["model.global_pool"] == ["avg", "token"]
    assert rows["model.backbone"] == ["resnetv2", "(absent)"] and rows["model.layers"] == ["1", "(absent)"]
    assert rows["model.label"] == ["vit_pico_r1_s4_p1_32", "vit_nano_patch4_32"]  # no status yet: the name


def test_summary_and_curve_exports(tmp_path):
    a, b = fake_run(tmp_path, steps=6, top1=(50.0, 70.0)), fake_run(tmp_path, steps=9, top1=(10.0, 20.0, 30.0))
    assert metric_names([a, b]) == ["loss", "lr", "images_per_sec", "val_loss", "top1", "top5"]
    header, rows = table([a.summary(), b.summary()], ("name", "best_top1"), text=False)
    assert markdown_table(header, rows).splitlines() == [
        "| run | best top-1 % |",
        "| --- | --- |",
        f"| {a.id} | 70.0 |",
        f"| {b.id} | 30.0 |",
    ]
    header, rows = curves_table([a, b], metrics=["loss"], smoothing=0.5)
    path = write_csv(tmp_path / "curves.csv", header, rows)
    with open(path, newline="") as f:
        got = list(csv.DictReader(f))
    assert [r["run"] for r in got] == [a.id] * 6 + [b.id] * 9 and {r["metric"] for r in got} == {"loss"}
    first_b = got[6]
    assert (first_b["step"], float(first_b["value"]), float(first_b["smoothed"])) == ("1", 3.0, 3.0)
    assert float(got[1]["smoothed"]) == pytest.approx(tensorboard_smoothing([3.0, 1.5], 0.5)[1])
    assert int(got[1]["images"]) == 2 * a.config().optim.batch_size


def test_tensorboard_export_round_trips(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = fake_run(tmp_path / "runs", steps=6, top1=(50.0, 70.0))
    out = export_tensorboard(run, tmp_path / "tb")
    acc = EventAccumulator(str(out))
    acc.Reload()
    assert {"train/loss", "val/top1"} <= set(acc.Tags()["scalars"])
    top1 = acc.Scalars("val/top1")
    assert [(e.step, e.value) for e in top1] == [(3, 50.0), (6, 70.0)]
    assert top1[1].wall_time - top1[0].wall_time == pytest.approx(3.0)


def test_tensorboard_export_without_tensorboard_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(RuntimeError, match="pip install tensorboard"):
        export_tensorboard(fake_run(tmp_path), tmp_path / "tb")
    assert not (tmp_path / "tb").exists()


NO_QT = """
import importlib.abc, sys

class NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")

sys.meta_path.insert(0, NoQt())
from vitstudio.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_runs_compare_writes_every_file_where_qt_cannot_be_imported(tmp_path):
    from PIL import Image

    from vitstudio.charts import CATEGORY_COLORS, hex_rgb

    root, out = tmp_path / "runs", tmp_path / "cmp"
    a = fake_run(root, steps=30, overrides=["optim.lr=0.002"])
    b = fake_run(root, steps=30, top1=(30.0, 50.0, 65.0), overrides=["optim.lr=0.001"], t0=5000.0)
    args = ["runs", "compare", a.id, b.id, "--out", str(out), "--runs-dir", str(root), "--x", "seconds"]
    repo = Path(__file__).resolve().parents[1]  # `-c` imports vitstudio from the working folder
    done = subprocess.run([sys.executable, "-c", NO_QT, *args], capture_output=True, text=True, cwd=repo)
    assert done.returncode == 0, done.stderr
    metrics = ["images_per_sec", "loss", "lr", "top1", "top5", "val_loss"]
    tables = ["config_diff.csv", "config_diff.md", "metrics.csv", "summary.csv", "summary.md"]
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{m}.png" for m in metrics] + tables)
    assert sorted(done.stdout.split()) == sorted(str(p) for p in out.iterdir())
    for m in metrics:
        colours = {tuple(c) for c in np.asarray(Image.open(out / f"{m}.png").convert("RGB")).reshape(-1, 3)}
        assert {hex_rgb(CATEGORY_COLORS[0]), hex_rgb(CATEGORY_COLORS[1])} <= colours, f"{m}.png lacks a run's line"
    assert (out / "config_diff.md").read_text().splitlines()[2] == "| optim.lr | 0.002 | 0.001 |"
    with open(out / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert [(r["run"], r["best top-1 %"]) for r in summary] == [(a.id, "60.00"), (b.id, "65.00")]
    with open(out / "metrics.csv", newline="") as f:
        loss = [r for r in csv.DictReader(f) if r["metric"] == "loss" and r["run"] == b.id]
    assert [float(r["seconds"]) for r in loss] == [float(s) for s in range(1, 31)]
    assert [float(r["smoothed"]) for r in loss] == pytest.approx(ema([3.0 / s for s in range(1, 31)], 0.6))
