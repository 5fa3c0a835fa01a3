import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from vitstudio.config import Config
from vitstudio.train import CheckpointError, Event, find_run, list_runs, load_checkpoint, read_metrics, runs_root
from vitstudio.train.checkpoint import load_weights, save_checkpoint
from vitstudio.train.runs import create_run
from vitstudio.user_dirs import RUNS_ENV


def test_runs_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "env"))
    assert runs_root(tmp_path / "flag") == tmp_path / "flag"
    assert runs_root() == tmp_path / "env"
    monkeypatch.delenv(RUNS_ENV)
    assert runs_root().parts[-2:] == ("vitstudio", "runs")


def test_run_folder_records_events_and_status(tmp_path):
    run = create_run(Config(), tmp_path)
    assert run.config() == Config() and run.status()["state"] == "created"
    run.record(Event("started", 0, 0.0, data={"total_steps": 10, "steps_per_epoch": 5, "run_dir": str(run.path)}))
    run.record(Event("step", 5, 1.0, data={"loss": 1.5, "lr": 1e-3, "images_per_sec": 10.0}))
    run.record(Event("eval", 5, 1.0, data={"val_loss": 1.2, "top1": 50.0, "top5": 90.0}))
    status = run.status()
    assert status["state"] == "running" and status["step"] == 5 and status["last_eval"]["top1"] == 50.0
    run.record(Event("finished", 10, 2.0))
    assert run.status()["state"] == "finished"
    assert [e.kind for e in run.events()] == ["started", "step", "eval", "finished"]
    assert list_runs(tmp_path)[0].id == run.id and find_run(run.id[-8:], tmp_path).path == run.path


def test_dead_writer_shows_interrupted(tmp_path):
    run = create_run(Config(), tmp_path)
    run.record(Event("started", 0, 0.0, data={"total_steps": 1, "steps_per_epoch": 1}))
    status = json.loads((run.path / "status.json").read_text())
    status["pid"] = 2**22 + 12345  # beyond pid_max: no such process
    run.write_status(status)
    assert run.status()["state"] == "interrupted"


def test_metrics_reader_tolerates_torn_line_and_unknown_fields(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        json.dumps(
            {"kind": "step", "step": 1, "epoch": 0.5, "time": 1.0, "data": {"loss": 2.0}, "added_by_a_later_version": 1}
        )
        + "\n"
        + json.dumps({"kind": "eval", "step": 2, "epoch": 1.0, "time": 2.0})
        + "\n"
        + '{"kind": "step", "step": 3, "ep'
    )
    events = read_metrics(path)
    assert [(e.kind, e.step) for e in events] == [("step", 1), ("eval", 2)] and events[1].data == {}


def test_truncate_metrics_drops_records_after_step(tmp_path):
    run = create_run(Config(), tmp_path)
    for s in (2, 4, 6, 8):
        run.record(Event("step", s, s / 4, data={"loss": 1.0}))
    run.truncate_metrics(4)
    assert [e.step for e in run.events()] == [2, 4]


def test_find_run_errors(tmp_path):
    create_run(Config(), tmp_path)
    create_run(Config(), tmp_path)
    with pytest.raises(LookupError, match="matches 2 runs"):
        find_run("vit_nano", tmp_path)
    with pytest.raises(LookupError, match="no run 'zzz'"):
        find_run("zzz", tmp_path)


def test_checkpoint_round_trip_and_bad_files(tmp_path):
    good = tmp_path / "last.pt"
    save_checkpoint(good, {"model": {"w": torch.ones(3)}, "step": 7, "best": None, "config": {"a": [1, 2]}})
    state = load_checkpoint(good)
    assert state["step"] == 7 and torch.equal(state["model"]["w"], torch.ones(3))
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir()), "temporary file left behind"

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt, truncated"):
        load_checkpoint(truncated)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "vitstudio-checkpoint", "model": Evil()}, evil)  # a pickle that would run code
    with pytest.raises(CheckpointError, match="not a plain-tensor checkpoint"):
        load_checkpoint(evil)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a vitstudio training checkpoint"):
        load_checkpoint(foreign)
    (tmp_path / "pickle.pt").write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_weights_safetensors_round_trip_and_corruption(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"a": torch.arange(6.0).view(2, 3).t().contiguous()}, str(path))
    assert torch.equal(load_weights(path)["a"], torch.arange(6.0).view(2, 3).t())
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointError, match="unreadable"):
        load_weights(path)
