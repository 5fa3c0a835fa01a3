"""Screenshots of the studio for the README: a real window before, during and after a training run.

    xvfb-run -a -s "-screen 0 1440x900x24" python docs/screenshots.py [--epochs 3] [--runs-dir DIR] [--out docs]

Writes window-model.png and window-data.png (before), window-training.png (during: the first
evaluations are in) and window-finished.png (after) for a run of the `quick` preset, then the Runs tab
comparing every classification run in the runs folder (runs-panel.png, runs-config-diff.png). Runs go to
`--runs-dir` (add other runs there first to compare them) or to a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer

from vitstudio.config import CLASSIFICATION_OBJECTIVES
from vitstudio.gui.app import create_app
from vitstudio.gui.main_window import MainWindow
from vitstudio.train.runs import list_runs


def wait_until(done, timeout: float = 1800) -> None:
    """Run the event loop until `done()`."""
    loop, check = QEventLoop(), QTimer()
    deadline = time.time() + timeout
    check.timeout.connect(lambda: loop.quit() if done() or time.time() > deadline else None)
    check.start(50)
    loop.exec()
    check.stop()
    if not done():
        raise TimeoutError("waited too long")


def settle(seconds: float = 0.5) -> None:
    """Let pending paints and plot redraws happen."""
    end = time.time() + seconds
    wait_until(lambda: time.time() > end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).parent))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs-dir", help="where the run goes, next to any runs to compare it with")
    args = parser.parse_args()
    out = Path(args.out)

    create_app()
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(args.runs_dir or Path(tmp) / "runs")
        w = MainWindow(runs_dir=runs_dir, settings=QSettings(f"{tmp}/settings.ini", QSettings.IniFormat))
        w.resize(1360, 860)
        w.show()
        wait_until(lambda: w.is_warm)
        w.new_run_from_preset("quick")
        w.form.update({"optim.epochs": args.epochs})

        def shoot(name: str) -> None:
            settle()
            w.grab().save(str(out / f"window-{name}.png"))
            print("wrote", out / f"window-{name}.png")

        w.show_panel(w.model_panel)
        shoot("model")
        w.show_panel(w.data_panel)
        wait_until(lambda: not w.data_panel.loading and w.data_panel.status.text().endswith("px"))
        shoot("data")

        panel = w.training_panel
        w.show_panel(panel)
        ended = []
        panel.run_ended.connect(ended.append)
        panel.start()
        wait_until(lambda: panel.plots.point_count("top1") >= 1 and panel.progress.value() > 0.4 * panel.total_steps)
        shoot("training")
        wait_until(lambda: ended)
        panel.plots.redraw()
        shoot("finished")

        runs = w.runs_panel
        w.show_panel(runs)
        runs.refresh()
        runs.select_runs([r for r in list_runs(runs_dir) if r.config().objective.name in CLASSIFICATION_OBJECTIVES])
        settle(1.0)
        w.grab().save(str(out / "runs-panel.png"))
        runs.compare.tabs.setCurrentIndex(1)
        settle()
        w.grab().save(str(out / "runs-config-diff.png"))
        print("wrote", out / "runs-panel.png", out / "runs-config-diff.png")
        w.close()


if __name__ == "__main__":
    main()
