"""Screenshots of every inspector view for the README: `python docs/inspector_screenshots.py --run RUN`.

Run it under Xvfb (`xvfb-run -a python docs/inspector_screenshots.py ...`) or with QT_QPA_PLATFORM=offscreen.
Writes docs/inspector/<view>.png for a run's model on one image (default: a bundled shape image).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from vitstudio.analysis import bundled_images, is_mae
from vitstudio.analysis.sources import from_run
from vitstudio.gui.panels.inspector import InspectorPanel


def settle(app: QApplication, panel: InspectorPanel, seconds: float = 0.3) -> None:
    """Let queued analyses finish and their results reach the views."""
    panel.runner.wait()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    panel.runner.wait()
    app.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, help="a training run (folder or id)")
    parser.add_argument("--runs-dir")
    parser.add_argument("--image", default=str(next(p for p in bundled_images() if p.stem == "shape_star")))
    parser.add_argument("--out", default=str(Path(__file__).parent / "inspector"))
    parser.add_argument("--prefix", default="", help="file name prefix (e.g. 'mae_')")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    app = QApplication([])
    panel = InspectorPanel()
    panel.resize(1280, 820)
    panel.show()
    panel.set_source(from_run(args.run, runs_dir=args.runs_dir))
    panel.load_image(args.image)
    settle(app, panel)

    def shot(name: str, tab: str) -> None:
        panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index(tab))
        settle(app, panel)
        panel.grab().save(str(out / f"{args.prefix}{name}.png"))
        print(out / f"{args.prefix}{name}.png")

    shot("patches", "Patches")
    panel.layer_slider.setValue(panel.layer_slider.maximum())
    panel.all_heads.setChecked(True)
    shot("attention_heads", "Attention")
    panel.rollout_check.setChecked(True)
    shot("rollout", "Attention")
    panel.rollout_check.setChecked(False)
    shot("position", "Position embedding")
    shot("filters", "Filters")
    shot("distance", "Attention distance")
    shot("mae" if is_mae(panel.source.model) else "predictions", "MAE" if is_mae(panel.source.model) else "Predictions")


if __name__ == "__main__":
    main()
