"""A training process killed with SIGKILL mid-epoch resumes from its checkpoint: every step logged once,
and on the CPU with fixed seeds the same final weights as a run that was never interrupted."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import tiny_config

from vitstudio.train import Trainer, find_run, list_runs
from vitstudio.train.checkpoint import load_weights

pytestmark = pytest.mark.slow  # trains, kills and resumes a run
REPO = Path(__file__).resolve().parents[1]
SETUP = ("data.num_train=128", "optim.batch_size=8", "runtime.checkpoint_every=4")  # 16 steps an epoch, 32 in all
# Trains, and kills itself with SIGKILL right after logging step 10: two steps past the step-8 checkpoint.
VICTIM = """
import os, signal, sys
from vitstudio.config import Config
from vitstudio.train import Trainer
def kill_at_10(event):
    if event.kind == "step" and event.step == 10:
        os.kill(os.getpid(), signal.SIGKILL)
Trainer(Config.from_dict(__import__("json").loads(sys.argv[1])), runs_dir=sys.argv[2], listeners=[kill_at_10]).run()
"""


def test_sigkill_mid_epoch_then_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path / "cache"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    killed = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", VICTIM, tiny_config(*SETUP).to_json(), str(killed)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    run = list_runs(killed)[0]
    assert run.status()["state"] == "interrupted"
    assert [e.step for e in run.events() if e.kind == "step"][-1] == 10

    resumed = Trainer(runs_dir=killed, resume=run.id).run()
    assert resumed.kind == "finished", resumed.data
    events = run.events()
    restart = [e for e in events if e.kind == "started"][1]
    assert restart.data["resumed_from"] == 8
    assert [e.step for e in events if e.kind == "step"] == list(range(1, 33)), "each step logged once"

    fresh = Trainer(tiny_config(*SETUP), runs_dir=tmp_path / "fresh")
    assert fresh.run().kind == "finished"
    ours, reference = load_weights(run.weights), load_weights(find_run(fresh.run_dir).weights)
    assert ours.keys() == reference.keys()
    assert all(torch.equal(ours[k], reference[k]) for k in ours)
