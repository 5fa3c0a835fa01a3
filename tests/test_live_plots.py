"""The training tab's live curves use the runs panel's training time and smoothing: the same events give the
same curves in both."""

import numpy as np
import pytest

from vitstudio.config import Config
from vitstudio.train.compare import DEFAULT_SMOOTHING, ema, metric_series
from vitstudio.train.events import Event
from vitstudio.train.runs import create_run

EVENTS = [
    Event("started", 0, 0.0, 100.0, {"total_steps": 6, "steps_per_epoch": 3}),
    Event("step", 1, 1 / 3, 110.0, {"loss": 2.0, "lr": 1e-3}),
    Event("step", 2, 2 / 3, 112.0, {"loss": 1.5, "lr": 1e-3}),
    Event("paused", 2, 2 / 3, 113.0),
    Event("resumed", 2, 2 / 3, 500.0),  # 387 s paused
    Event("step", 3, 1.0, 505.0, {"loss": 1.2, "lr": 1e-3}),
    Event("eval", 3, 1.0, 506.0, {"val_loss": 1.1, "top1": 40.0}),
    Event("stopped", 3, 1.0, 507.0),
    Event("started", 3, 1.0, 9000.0, {"total_steps": 6, "steps_per_epoch": 3}),  # resumed the next day
    Event("step", 4, 4 / 3, 9004.0, {"loss": float("nan"), "lr": 1e-3}),
    Event("step", 5, 5 / 3, 9006.0, {"loss": 0.9, "lr": 1e-3}),
]


@pytest.fixture
def plots(qtbot):
    from vitstudio.gui.plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    return plots


def test_live_curves_match_the_runs_panel(plots, tmp_path):
    run = create_run(Config(), tmp_path)
    for e in EVENTS:
        run.record(e)
        plots.add_event(e)
    plots.set_x_axis("seconds")
    [(_, x, y, smooth)] = metric_series([run], "loss", "seconds", DEFAULT_SMOOTHING)
    shown_x, shown_y = plots.curves["loss"].getData()
    finite = np.isfinite(y)  # the live plot leaves out a diverged (non-finite) loss
    np.testing.assert_allclose(shown_x, x[finite])
    np.testing.assert_allclose(shown_x, [10.0, 12.0, 18.0, 26.0])  # training time: no pause, no overnight gap
    np.testing.assert_allclose(shown_y, y[finite])
    np.testing.assert_allclose(plots.curves["smooth"].getData()[1], smooth[finite])  # the average skips the NaN
    assert smooth[finite] == pytest.approx(ema(y[finite], DEFAULT_SMOOTHING))
    [(_, x_top1, _, _)] = metric_series([run], "top1", "seconds")
    np.testing.assert_allclose(plots.curves["top1"].getData()[0], x_top1)
