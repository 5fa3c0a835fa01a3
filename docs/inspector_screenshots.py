"""Screenshots of the inspector for the README.

`python docs/inspector_screenshots.py --run RUN` writes docs/inspector/<view>.png, every view for a run's model;
`python docs/inspector_screenshots.py --compare RUN RUN` writes docs/inspector/side-by-side.png, two runs side by
side in the Inspector tab (1440x860, the last layer's attention of every head);
`python docs/inspector_screenshots.py --pretrained vit_base_patch16_224.augreg2_in21k_ft_in1k --image
vitstudio/resources/images/chelsea.jpg --prefix pretrained_` does it for pretrained weights (downloaded once: this
needs the network, or the weights in the hub cache).
Run it under Xvfb (`xvfb-run -a python docs/inspector_screenshots.py ...`) or with QT_QPA_PLATFORM=offscreen.
The image is a bundled shape image unless `--image` names another.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from vitstudio.analysis import bundled_images
from vitstudio.analysis.sources import from_pretrained, from_run
from vitstudio.gui.panels.inspector import InspectorBase, InspectorPanel
from vitstudio.gui.panels.inspector_tab import InspectorTab
from vitstudio.models import family_of
from vitstudio.train.runs import find_run


def settle(app: QApplication, panel: InspectorBase, seconds: float = 0.3) -> None:
    """Let queued analyses finish and their results reach the views."""
    panel.runner.wait()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    panel.runner.wait()
    app.processEvents()


def select_tab(tabs, text: str) -> None:
    tabs.setCurrentIndex([tabs.tabText(i) for i in range(tabs.count())].index(text))


def every_view(app: QApplication, args, out: Path) -> None:
    panel = InspectorPanel()
    panel.resize(1280, 820)
    panel.show()
    panel.set_source(
        from_pretrained(args.pretrained) if args.pretrained else from_run(args.run, runs_dir=args.runs_dir)
    )
    panel.load_image(args.image)
    settle(app, panel)

    def shot(name: str, tab: str) -> None:
        select_tab(panel.column.tabs, tab)
        settle(app, panel)
        panel.grab().save(str(out / f"{args.prefix}{name}.png"))
        print(out / f"{args.prefix}{name}.png")

    controls = panel.controls
    shot("patches", "Patches")
    controls.layer_slider.setValue(controls.layer_slider.maximum())
    controls.all_heads.setChecked(True)
    shot("attention_heads", "Attention")
    controls.rollout_check.setChecked(True)
    shot("rollout", "Attention")
    controls.rollout_check.setChecked(False)
    shot("position", "Position embedding")
    shot("filters", "Filters")
    panel.column.views["distance"].over_box.setCurrentIndex(1)  # over many images, as the paper
    shot("distance", "Attention distance")
    mae = family_of(panel.source.model).reconstructs
    shot("mae" if mae else "predictions", "MAE" if mae else "Predictions")


def side_by_side(app: QApplication, args, out: Path) -> None:
    tab = InspectorTab()
    tab.resize(1440, 860)
    tab.show()
    panel = tab.side_by_side
    panel.load_image(args.image)
    tab.compare_runs([find_run(ref, args.runs_dir).path for ref in args.compare])
    settle(app, panel)
    settle(app, panel)  # the models load first, then their inspections run
    controls = panel.controls
    controls.layer_slider.setValue(controls.layer_slider.maximum())
    controls.all_heads.setChecked(True)
    select_tab(panel.columns[0].tabs, "Attention")
    settle(app, panel)
    path = out / f"{args.prefix}side-by-side.png"
    tab.grab().save(str(path))
    print(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--run", help="a training run (folder or id): every view of its model")
    what.add_argument("--compare", nargs=2, metavar="RUN", help="two training runs side by side")
    what.add_argument(
        "--pretrained", metavar="NAME.TAG", help="pretrained weights (see `vitstudio models --pretrained`)"
    )
    parser.add_argument("--runs-dir")
    parser.add_argument("--image", default=str(next(p for p in bundled_images() if p.stem == "shape_star")))
    parser.add_argument("--out", default=str(Path(__file__).parent / "inspector"))
    parser.add_argument("--prefix", default="", help="file name prefix (e.g. 'mae_')")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication([])
    (side_by_side if args.compare else every_view)(app, args, out)


if __name__ == "__main__":
    main()
