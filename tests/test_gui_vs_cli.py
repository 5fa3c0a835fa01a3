"""benchmarks/gui_vs_cli.py: how it measures a run's speed, and that it runs end to end (issue 16.1)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_runs_compare import fake_run

from vitstudio.train.events import Event

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "gui_vs_cli.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gui_vs_cli", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_images_per_sec_leaves_out_the_first_window_and_weighs_windows_by_their_steps(tmp_path):
    run = fake_run(tmp_path, steps=1, top1=(50.0,), finish=False)  # its one step window: 50 images/s
    run.record(Event("step", 3, 3.0, 2000.0, {"loss": 1.0, "images_per_sec": 100.0}))  # 2 steps
    run.record(Event("step", 9, 9.0, 2001.0, {"loss": 1.0, "images_per_sec": 25.0}))  # 6 steps
    assert load_script().images_per_sec(run) == pytest.approx(8 / (2 / 100 + 6 / 25))


@pytest.mark.slow
def test_the_benchmark_trains_from_both_sides_and_prints_the_ratio(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VITSTUDIO_CACHE": str(tmp_path)}
    tiny = ["data.num_train=256", "optim.epochs=1", "runtime.log_every=1", "model.depth=1"]
    args = [a for s in tiny for a in ("--set", s)]
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--conditions", "idle", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("| idle |"))
    cli, window, ratio = (cell.strip("* ") for cell in row.split("|")[2:5])
    assert float(cli) > 0 and float(window) > 0
    assert float(ratio) == pytest.approx(float(window) / float(cli), abs=0.02 + 0.01 * float(ratio))
