"""Training speed in the window against the CLI: the same short run, images/s from each run's metrics log.

    python benchmarks/gui_vs_cli.py                 # idle, then with two busy processes on the cores
    python benchmarks/gui_vs_cli.py --conditions busy --set optim.epochs=1

Each side runs in a fresh interpreter whose environment has no OMP_WAIT_POLICY, so what is measured is the
thread set-up each entry point makes itself (`vitstudio.runtime.configure_threads`): `vitstudio train` for
the CLI, and for the window the studio's `MainWindow` (offscreen unless $DISPLAY is set), which is filled
with the same settings and started with its Start button once it says Ready. "busy" starts two processes
that spin on the CPU for the whole measurement. images/s is the run's images over the seconds its step
windows took (the first window, which includes the first step's set-up, is left out); the ratio is
window / CLI per condition (target >= 0.9).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vitstudio.train.runs import list_runs  # noqa: E402

SETTINGS = [
    "data.num_train=3200",
    "data.num_workers=0",
    "optim.epochs=2",
    "runtime.device=cpu",
    "runtime.log_every=10",
]

WINDOW_CHILD = """
import sys, time
from PySide6.QtCore import QEventLoop, QSettings, QTimer
from vitstudio.gui.app import create_app
from vitstudio.gui.main_window import MainWindow

runs_dir, overrides = sys.argv[1], sys.argv[2:]
app = create_app()
w = MainWindow(runs_dir=runs_dir, settings=QSettings(runs_dir + "/settings.ini", QSettings.IniFormat))
w.show()

def wait(done):
    loop, check = QEventLoop(), QTimer()
    check.timeout.connect(lambda: loop.quit() if done() else None)
    check.start(20)
    loop.exec()

wait(lambda: w.is_warm)
from vitstudio.config import apply_overrides  # only now: torch is the window's to import, as in `vitstudio`
w.form.load(apply_overrides(w.form.config, overrides))
w.show_panel(w.training_panel)
ended = []
w.training_panel.run_ended.connect(ended.append)
w.training_panel.start_button.click()
wait(lambda: ended)
w.close()
"""


def images_per_sec(run) -> float:
    """Images over seconds of the run's step windows, the first left out."""
    batch = run.config().optim.batch_size
    steps = [e for e in run.events() if e.kind == "step"]
    images = seconds = 0.0
    for prev, e in itertools.pairwise(steps):
        n = (e.step - prev.step) * batch
        images += n
        seconds += n / e.data["images_per_sec"]
    return images / seconds


def train(side: str, settings: list[str]) -> float:
    """Run the training from `side` ('cli' or 'window') in a fresh interpreter; its images/s."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env.setdefault("QT_QPA_PLATFORM", "xcb" if env.get("DISPLAY") else "offscreen")
    with tempfile.TemporaryDirectory() as runs_dir:
        if side == "cli":
            sets = [a for s in settings for a in ("--set", s)]
            cmd = [sys.executable, "-m", "vitstudio", "train", "--preset", "quick", "--runs-dir", runs_dir, *sets]
        else:
            cmd = [sys.executable, "-c", WINDOW_CHILD, runs_dir, *settings]
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=3600)
        (run,) = list_runs(runs_dir)
        return images_per_sec(run)


@contextlib.contextmanager
def busy(n: int):
    """`n` processes spinning on the CPU while the block runs."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conditions", nargs="+", choices=("idle", "busy"), default=["idle", "busy"])
    parser.add_argument("--busy", type=int, default=2, help="spinning processes for the busy condition")
    parser.add_argument("--repeats", type=int, default=1, help="CLI/window pairs per condition, alternating")
    parser.add_argument("--set", action="append", default=[], help="extra config overrides, KEY=VALUE")
    args = parser.parse_args()
    settings = SETTINGS + args.set

    print(f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}; quick preset with {' '.join(settings)}")
    print("| condition | CLI img/s | window img/s | window / CLI |")
    print("| --- | ---: | ---: | ---: |")
    for condition in args.conditions:
        with busy(args.busy) if condition == "busy" else contextlib.nullcontext():
            for _ in range(args.repeats):
                cli = train("cli", settings)
                window = train("window", settings)
                print(f"| {condition} | {cli:.0f} | {window:.0f} | **{window / cli:.2f}** |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
