"""How responsive the studio stays: launch-to-first-paint, and the UI event loop while a CPU training runs.

    python benchmarks/gui_responsiveness.py                 # offscreen, or a real window when $DISPLAY is set
    xvfb-run -a -s "-screen 0 1440x900x24" python benchmarks/gui_responsiveness.py

1. Launch: a fresh interpreter opens the window (as `vitstudio` does); reported is the time from the
   process start to the first painted window (target <= 2 s) and to the panels being live (torch imported).
2. Event loop: a 1 ms QTimer ticks while the window trains the model on the built-in data; reported is the
   largest gap between ticks (target <= 50 ms) and the 99th percentile. With --baseline the same training
   also runs in a bare QThread with no window, the floor the app's own work adds to.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUNCH_CHILD = """
import sys, time
from PySide6.QtCore import QSettings
from vitstudio.gui.app import create_app
from vitstudio.gui.main_window import MainWindow
app = create_app()
w = MainWindow(runs_dir=sys.argv[1], settings=QSettings(sys.argv[1] + "/settings.ini", QSettings.IniFormat))
w.painted.connect(lambda: print("painted", time.time(), flush=True))
w.core_ready.connect(lambda: (print("ready", time.time(), flush=True), w.close()))
w.show()
app.exec()
"""


def measure_launch(repeats: int) -> tuple[list[float], list[float]]:
    """Seconds from process start to first paint and to core ready, per fresh interpreter."""
    paint, ready = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.time()
            out = subprocess.run(
                [sys.executable, "-c", LAUNCH_CHILD, tmp], capture_output=True, text=True, check=True, timeout=120
            ).stdout
        times = dict(line.split() for line in out.splitlines() if line.split()[0] in ("painted", "ready"))
        paint.append(float(times["painted"]) - start)
        ready.append(float(times["ready"]) - start)
    return paint, ready


class TickRecorder:
    """A 1 ms QTimer's tick times."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def gaps_ms(self) -> list[float]:
        return [1000 * (b - a) for a, b in zip(self.ticks, self.ticks[1:])]


def config_overrides(args) -> dict:
    return {
        "model.name": args.model,
        "data.img_size": args.img_size,
        "data.num_workers": 0,
        "optim.epochs": args.epochs,
        "optim.batch_size": args.batch_size,
        "optim.warmup_epochs": 0.0,
        "runtime.device": "cpu",
        "runtime.log_every": 1,
    }


def measure_window(app, args, runs_dir: Path) -> tuple[list[float], int]:
    """Gaps (ms) of a 1 ms timer while the studio window trains; and the number of steps."""
    from PySide6.QtCore import QSettings

    from vitstudio.gui.main_window import MainWindow

    w = MainWindow(runs_dir=runs_dir, settings=QSettings(str(runs_dir / "settings.ini"), QSettings.IniFormat))
    w.show()
    _wait(app, lambda: w.is_warm, 120)  # as a user would, start once the status bar says Ready
    w.form.update(config_overrides(args))
    w.show_panel(w.training_panel)  # the live plots are on screen
    ended = []
    w.training_panel.run_ended.connect(ended.append)
    recorder = TickRecorder()
    recorder.timer.start()
    w.training_panel.start()
    _wait(app, lambda: ended, 3600)
    recorder.timer.stop()
    steps = w.training_panel.plots.point_count("loss")
    w.close()
    return recorder.gaps_ms(), steps


def measure_bare_thread(app, args, runs_dir: Path) -> list[float]:
    """The same training in a QThread with no window: the gaps torch alone causes."""
    from vitstudio.config import Config
    from vitstudio.gui.worker import TrainingJob

    nested: dict = {}
    for key, value in config_overrides(args).items():
        section, name = key.split(".")
        nested.setdefault(section, {})[name] = value
    job, ended = TrainingJob(Config.from_dict(nested), runs_dir=runs_dir), []
    job.finished.connect(lambda: ended.append(True))
    recorder = TickRecorder()
    recorder.timer.start()
    job.start()
    _wait(app, lambda: ended, 3600)
    recorder.timer.stop()
    return recorder.gaps_ms()


def _wait(app, done, timeout: float) -> None:
    """Run the real event loop until `done()` (checked every 10 ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop, check = QEventLoop(), QTimer()
    deadline = time.time() + timeout
    check.timeout.connect(lambda: loop.quit() if done() or time.time() > deadline else None)
    check.start(10)
    loop.exec()
    check.stop()
    if not done():
        raise TimeoutError("the benchmark waited too long")


def summary(gaps: list[float]) -> str:
    q = statistics.quantiles(gaps, n=100)
    return f"max gap {max(gaps):.1f} ms, p99 {q[98]:.1f} ms, median {statistics.median(gaps):.2f} ms, {len(gaps)} ticks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--launches", type=int, default=3, help="fresh launches to time")
    parser.add_argument("--model", default="vit_nano_patch4_32")
    parser.add_argument("--img-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--baseline", action="store_true", help="also time a bare QThread training")
    args = parser.parse_args()

    platform = os.environ.get("QT_QPA_PLATFORM") or ("xcb" if os.environ.get("DISPLAY") else "offscreen")
    os.environ["QT_QPA_PLATFORM"] = platform
    print(f"platform {platform}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")

    paint, ready = measure_launch(args.launches)
    print(
        f"launch -> first painted window: median {statistics.median(paint):.2f} s, max {max(paint):.2f} s "
        f"(target <= 2 s); -> panels live (torch imported): median {statistics.median(ready):.2f} s"
    )

    from vitstudio.gui.app import create_app

    app = create_app()
    with tempfile.TemporaryDirectory() as tmp:
        gaps, steps = measure_window(app, args, Path(tmp))
        print(f"window training {args.model} ({steps} step events): {summary(gaps)} (target max <= 50 ms)")
        if args.baseline:
            print(f"bare QThread, same training: {summary(measure_bare_thread(app, args, Path(tmp)))}")


if __name__ == "__main__":
    main()
