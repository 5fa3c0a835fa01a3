"""A training process killed with SIGKILL mid-epoch resumes from its checkpoint: every step logged once,
and on the CPU with fixed seeds the same final weights as a run that was never interrupted."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from train_helpers import tiny_args, tiny_config
from vitstudio.train import Trainer, find_run, list_runs
from vitstudio.train.checkpoint import load_weights

REPO = Path(__file__).resolve().parents[1]
SETUP = ("data.num_train=256", "optim.batch_size=8", "runtime.checkpoint_every=4")  # 32 steps an epoch


def test_sigkill_mid_epoch_then_resume(tmp_path):
    env = {**os.environ, "VITSTUDIO_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "vitstudio", "train", *tiny_args(*SETUP), "--runs-dir", str(killed)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            runs = list_runs(killed)
            if runs and any(e.kind == "checkpoint" for e in runs[0].events()):
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    run = list_runs(killed)[0]
    assert run.status()["state"] == "interrupted"

    os.environ["VITSTUDIO_CACHE"] = env["VITSTUDIO_CACHE"]
    try:
        resumed = Trainer(runs_dir=killed, resume=run.id).run()
        fresh = Trainer(tiny_config(*SETUP), runs_dir=tmp_path / "fresh")
        assert fresh.run().kind == "finished"
    finally:
        del os.environ["VITSTUDIO_CACHE"]
    assert resumed.kind == "finished", resumed.data

    events = run.events()
    restart = [e for e in events if e.kind == "started"][1]
    start_step = restart.data["resumed_from"]
    assert start_step % 4 == 0 and 0 < start_step < 32, "resumed from a mid-epoch checkpoint"
    assert [e.step for e in events if e.kind == "step"] == list(range(1, 65)), "each step logged once"
    assert events.index(restart) == max(i for i, e in enumerate(events) if e.step <= start_step and e.kind != "started") + 1
    ours, reference = load_weights(run.weights), load_weights(find_run(fresh.run_dir).weights)
    assert ours.keys() == reference.keys()
    assert all(torch.equal(ours[k], reference[k]) for k in ours)
