"""How fast the runs panel opens and the overlay redraws with many long runs.

    QT_QPA_PLATFORM=offscreen python benchmarks/runs_panel.py [--runs 50] [--steps 10000] [--root DIR]

Writes `--runs` synthetic runs of `--steps` logged training steps each (an evaluation every 100 steps) with
the run store's own writer, then reports, each in a fresh state where it matters:
  open panel          RunsPanel(root) until its table lists every run (targets < 1 s)
  load curves         selecting every run: parsing the logs cold, from the on-disk cache, from memory
  redraw overlay      one redraw of all runs' curves after a change of smoothing, x axis or metric,
                      including the paint (target < 50 ms)

A redraw is timed from the change until the event loop is idle again, with the whole plot marked for
repainting, so it counts every paint the change causes (the script checks there was one and prints how
many). An earlier version forced one synchronous repaint instead, which left the updates the scene had
queued meanwhile, and any second paint they asked for, outside the timing.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vitstudio.config import Config, apply_overrides
from vitstudio.train import runs as store
from vitstudio.train.events import Event


def write_runs(root: Path, n_runs: int, steps: int, per_epoch: int = 100) -> None:
    """`n_runs` finished runs with different learning rates and noisy, decaying losses."""
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(n_runs):
        lr = 10 ** rng.uniform(-4, -2)
        cfg = apply_overrides(
            Config(),
            [
                f"optim.lr={lr:.3g}",
                f"optim.epochs={steps // per_epoch}",
                f"model.depth={1 + i % 4}",
                f"runtime.name=bench{i:02d}",
            ],
        )
        run = store.create_run(cfg, root)
        t0 = 1.7e9 + i * 1e5
        events = [
            Event("started", 0, 0.0, t0, {"total_steps": steps, "steps_per_epoch": per_epoch, "params": 5000 + i})
        ]
        decay = 2.3 * np.exp(-np.arange(1, steps + 1) / (steps * (0.2 + lr * 30))) + rng.normal(0, 0.08, steps)
        for s in range(1, steps + 1):
            t = t0 + 0.05 * s
            events.append(
                Event("step", s, s / per_epoch, t, {"loss": float(decay[s - 1]), "lr": lr, "images_per_sec": 900.0})
            )
            if s % per_epoch == 0:
                top1 = 100 * (1 - math.exp(-s / steps * 3 * (1 + i / n_runs)))
                events.append(
                    Event(
                        "eval",
                        s,
                        s / per_epoch,
                        t,
                        {"val_loss": float(decay[s - 1]) + 0.1, "top1": top1, "top5": min(100.0, top1 + 20)},
                    )
                )
        events.append(Event("finished", steps, steps / per_epoch, t0 + 0.05 * steps + 1))
        run.record(*events)


def forget_parsed_logs(root: Path, disk_too: bool) -> None:
    store._readers.clear()
    if disk_too:
        for cache in root.glob(f"*/{store.CACHE}"):
            cache.unlink()


def timed(fn, repeat: int = 1) -> str:
    """Median wall-clock and CPU milliseconds of `repeat` calls (CPU time is what an idle machine would take
    when other processes compete for the cores)."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return f"{1e3 * statistics.median(wall):8.1f} ms wall {1e3 * statistics.median(cpu):8.1f} ms CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--root", help="reuse/keep the runs here (default: a temporary folder)")
    args = parser.parse_args()

    import pyqtgraph as pg
    from PySide6.QtCore import QEvent, QObject

    from vitstudio.gui.panels.runs import RunsPanel

    class PaintCounter(QObject):
        def __init__(self):
            super().__init__()
            self.n = 0

        def eventFilter(self, obj, event):
            self.n += event.type() == QEvent.Paint
            return False

    root = Path(args.root or tempfile.mkdtemp(prefix="vitstudio-bench-"))
    if len(store.list_runs(root)) < args.runs:
        t = time.perf_counter()
        write_runs(root, args.runs - len(store.list_runs(root)), args.steps)
        print(f"wrote {args.runs} runs x {args.steps} steps in {time.perf_counter() - t:.1f} s to {root}")
    app = pg.mkQApp()

    panels = []

    def open_panel():
        panel = RunsPanel(root)
        panel.resize(1400, 900)
        panel.show()
        app.processEvents()
        assert panel.model.rowCount() == args.runs
        panels.append(panel)

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"open panel ({args.runs} runs)             {timed(open_panel)}   (target < 1000)")
    panel = panels[-1]
    panel.timer.stop()
    runs = list(panel.model.runs)
    compare = panel.compare

    forget_parsed_logs(root, disk_too=True)
    print(f"select all: parse every log          {timed(lambda: compare.set_runs(runs))}")
    forget_parsed_logs(root, disk_too=False)
    print(f"            logs from the disk cache {timed(lambda: compare.set_runs(runs))}")
    print(f"            logs already in memory   {timed(lambda: compare.set_runs(runs), repeat=3)}")

    points = sum(len(c) for r in runs for c in r.metrics().curves.values())
    print(f"({points:,} points in all)")
    plot = compare.plot
    paints = PaintCounter()
    plot.viewport().installEventFilter(paints)
    counts: list[int] = []  # paints per redraw

    def redraw(change):
        before = paints.n
        change()
        plot.viewport().update()
        while True:  # until a pass of the event loop paints nothing more
            n = paints.n
            app.processEvents()
            if paints.n == n:
                break
        assert paints.n > before, "the plot was not painted"
        counts.append(paints.n - before)

    def timed_redraw(change) -> str:
        counts.clear()
        result = timed(lambda: redraw(change), repeat=10)
        return f"{result}   {statistics.mean(counts):.1f} paints"

    redraw(lambda: None)  # settle what opening the panel left queued

    weights = iter([0.3, 0.9] * 50)
    axes = iter(["epoch", "seconds", "images", "step"] * 25)
    metrics = iter(["val_loss", "loss"] * 50)
    for label, change in [
        ("smoothing", lambda: compare.smoothing.setValue(round(100 * next(weights)))),
        ("x axis", lambda: compare.x_box.setCurrentIndex(compare.x_box.findData(next(axes)))),
        ("metric", lambda: compare.metric_box.setCurrentIndex(compare.metric_box.findData(next(metrics)))),
    ]:
        print(f"redraw overlay, new {label:10s}      {timed_redraw(change)}   (target < 50)")
    compare.metric_box.setCurrentIndex(compare.metric_box.findData("loss"))
    plot.getPlotItem().vb.scaleBy((0.1, 1))
    print(f"pan while zoomed in 10x              {timed_redraw(lambda: plot.getPlotItem().vb.translateBy(x=50))}")


if __name__ == "__main__":
    main()
