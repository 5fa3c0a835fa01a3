"""Live training curves: events are buffered as they arrive and drawn by a timer, never per step.

Each timer tick redraws at most one plot (the one waiting longest), so no single pass of the event
loop paints all four: a pyqtgraph repaint is Python work that competes for the GIL with the training
thread, and four in a row were the UI's longest stall.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QWidget

from ..config import CLASSIFICATION_OBJECTIVES
from ..train import compare
from ..train.events import TrainingClock

X_AXES = {k: compare.X_AXES[k] for k in ("step", "epoch", "seconds")}  # seconds: training time, as in the runs
REDRAW_HZ = 20
# plot -> (title, y label); series -> the plot that shows it
PLOTS = {
    "loss": ("Loss", ""),
    "top1": ("Validation top-1", "%"),
    "lr": ("Learning rate", ""),
    "images_per_sec": ("Throughput", "images / s"),
}
SERIES = {
    "loss": "loss",
    "smooth": "loss",
    "val_loss": "loss",
    "top1": "top1",
    "lr": "lr",
    "images_per_sec": "images_per_sec",
}


class Series:
    """A growing table of points; each point is (step, epoch, seconds of training, value)."""

    def __init__(self):
        self._data = np.empty((256, 4))
        self.n = 0

    def append(self, step: float, epoch: float, seconds: float, value: float) -> None:
        if self.n == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self.n] = (step, epoch, seconds, value)
        self.n += 1

    def x(self, axis: str) -> np.ndarray:
        return self._data[: self.n, list(X_AXES).index(axis)]

    def y(self) -> np.ndarray:
        return self._data[: self.n, 3]

    def clear(self) -> None:
        self.n = 0


class LivePlots(QWidget):
    """Train loss (raw and smoothed) with validation loss, top-1, learning rate and throughput."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.x_axis = "step"
        self.series = {k: Series() for k in SERIES}
        self._smoother = compare.Smoother()  # the runs panel's smoothing, a point at a time
        self._clock = TrainingClock()
        self._x_limits: dict[str, float] = {}  # the run's whole extent on the step and epoch axes
        self._dirty: list[str] = []  # plots waiting for a redraw, oldest first

        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.plots = {}
        for i, (key, (title, unit)) in enumerate(PLOTS.items()):
            plot = pg.PlotWidget(background="w")
            plot.setTitle(title, color="#333", size="10pt")
            if unit:
                plot.setLabel("left", unit)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setMinimumSize(220, 150)
            layout.addWidget(plot, i // 2, i % 2)
            self.plots[key] = plot
        self.plots["loss"].addLegend(offset=(-10, 10), labelTextSize="9pt")
        blue, orange = (31, 119, 180), (255, 127, 14)
        marker = dict(symbol="o", symbolSize=6, symbolBrush=orange, symbolPen=None)
        self.curves = {
            "loss": self.plots["loss"].plot(pen=pg.mkPen((*blue, 90)), name="train (raw)"),
            "smooth": self.plots["loss"].plot(pen=pg.mkPen(blue, width=2), name="train (smoothed)"),
            "val_loss": self.plots["loss"].plot(pen=pg.mkPen(orange, width=2), name="validation", **marker),
            "top1": self.plots["top1"].plot(pen=pg.mkPen(orange, width=2), **marker),
            "lr": self.plots["lr"].plot(pen=pg.mkPen((44, 160, 44), width=2)),
            "images_per_sec": self.plots["images_per_sec"].plot(pen=pg.mkPen((148, 103, 189), width=2)),
        }
        self.set_x_axis("step")

        self.timer = QTimer(self)
        self.timer.setInterval(1000 // REDRAW_HZ)
        self.timer.timeout.connect(self.redraw_next)
        self.timer.start()

    # -- data ---------------------------------------------------------------------------------

    def add_event(self, event) -> None:
        """Buffer the points an event carries; drawing waits for the timer."""
        seconds = self._clock.tick(event)  # every event: a pause or a resume's gap is left out
        if event.kind == "started":
            total, per_epoch = event.data.get("total_steps"), event.data.get("steps_per_epoch")
            if total and per_epoch:
                self._x_limits = {"step": total, "epoch": total / per_epoch}
                self._fit_x()
            return
        if event.kind not in ("step", "eval"):
            return
        point = (event.step, event.epoch, seconds)
        d = event.data
        keys = ("lr", "images_per_sec") if event.kind == "step" else ("val_loss", "top1")
        if event.kind == "step" and d.get("loss") is not None and np.isfinite(d["loss"]):
            self._append("loss", point, d["loss"])
            self._append("smooth", point, self._smoother.add(d["loss"]))
        for key in keys:
            if d.get(key) is not None:
                self._append(key, point, d[key])

    def _append(self, key: str, point: tuple, value: float) -> None:
        self.series[key].append(*point, value)
        if SERIES[key] not in self._dirty:
            self._dirty.append(SERIES[key])

    def clear(self) -> None:
        """Forget the points and the ranges: the next run's axes fit its own values."""
        for s in self.series.values():
            s.clear()
        self._smoother = compare.Smoother()
        self._clock = TrainingClock()
        self._x_limits = {}
        for curve in self.curves.values():
            curve.setData([], [])
        for plot in self.plots.values():
            plot.setRange(xRange=(0, 1), yRange=(0, 1))
            plot.enableAutoRange()
        self._fit_x()
        self._dirty = []

    def show_objective(self, objective: str) -> None:
        """Show only the plots a run of `objective` logs: top-1 belongs to classification objectives."""
        self.plots["top1"].setVisible(objective in CLASSIFICATION_OBJECTIVES)

    def point_count(self, key: str) -> int:
        return self.series[key].n

    # -- drawing ------------------------------------------------------------------------------

    def set_x_axis(self, axis: str) -> None:
        if axis not in X_AXES:
            raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, got {axis!r}")
        self.x_axis = axis
        for plot in self.plots.values():
            plot.setLabel("bottom", X_AXES[axis])
        self._fit_x()
        self._dirty = list(self.plots)
        self.redraw()

    def _fit_x(self) -> None:
        """Show the whole run on the x axis from the start, when its extent is known (steps, epochs).

        Curves then grow across a fixed axis, which also spares redrawing the x axis on every update.
        """
        limit = self._x_limits.get(self.x_axis)
        for plot in self.plots.values():
            if limit:
                plot.setXRange(0, limit, padding=0.02)
            else:
                plot.enableAutoRange(x=True)

    def redraw_next(self) -> None:
        """The timer's tick: push the buffered points of the plot waiting longest into its curves."""
        if self._dirty:
            self._draw(self._dirty.pop(0))

    def redraw(self) -> None:
        """Bring every plot up to date now (after a run, or when switching the x axis)."""
        while self._dirty:
            self._draw(self._dirty.pop(0))

    def _draw(self, plot: str) -> None:
        for key, curve in self.curves.items():
            if SERIES[key] == plot:
                s = self.series[key]
                curve.setData(s.x(self.x_axis), s.y())  # in place: the curve item is reused
