"""Two-process DistributedDataParallel with gloo on the CPU: identical weights on both ranks, one run folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import tiny_config

from vitstudio.train import list_runs

pytestmark = pytest.mark.slow  # trains in two processes
REPO = Path(__file__).resolve().parents[1]
WORKER = """
import json, os, sys, torch
from vitstudio.config import Config
from vitstudio.train import Trainer
cfg = Config.from_dict(json.loads(open(sys.argv[1]).read()))
trainer = Trainer(cfg, runs_dir=sys.argv[2])
final = trainer.run()
assert final.kind == "finished", final.data
torch.save(trainer.model.state_dict(), os.path.join(sys.argv[3], f"rank{os.environ['RANK']}.pt"))
"""


def test_two_ranks_train_in_step(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "config.json").write_text(tiny_config("data.num_train=96", "optim.batch_size=8").to_json())
    env = {
        **os.environ,
        "VITSTUDIO_CACHE": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(tmp_path / "worker.py"),
            str(tmp_path / "config.json"),
            str(tmp_path / "runs"),
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    runs = list_runs(tmp_path / "runs")
    assert len(runs) == 1 and runs[0].status()["state"] == "finished"
    started = next(e for e in runs[0].events() if e.kind == "started")
    assert started.data["steps_per_epoch"] == 6  # 96 images / (2 ranks x 8)
    assert runs[0].summary()["world_size"] == 2  # images seen: 16 a step
    steps = [e.step for e in runs[0].events() if e.kind == "step"]
    assert steps == list(range(1, 13)), "only rank 0 writes"
    assert json.loads((runs[0].path / "config.json").read_text())["optim"]["batch_size"] == 8
