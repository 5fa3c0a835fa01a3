"""Live training curves: events are buffered as they arrive and drawn by a timer, never per step."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QWidget

X_AXES = {"step": "step", "epoch": "epoch", "time": "wall time (s)"}
REDRAW_HZ = 20
SMOOTHING = 0.9  # weight of the past in the smoothed loss (debiased exponential moving average)


class Series:
    """A growing table of points; each point is (step, epoch, seconds since start, value)."""

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
        self.series = {k: Series() for k in ("loss", "smooth", "val_loss", "top1", "lr", "images_per_sec")}
        self._ema = self._ema_weight = 0.0
        self._start_time = None
        self._steps_per_epoch = None
        self._dirty = False

        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.plots = {}
        for i, (key, title, unit) in enumerate([
            ("loss", "Loss", ""), ("top1", "Validation top-1", "%"),
            ("lr", "Learning rate", ""), ("images_per_sec", "Throughput", "img/s"),
        ]):
            plot = pg.PlotWidget(background="w")
            plot.setTitle(title, color="#333", size="10pt")
            plot.showGrid(x=True, y=True, alpha=0.25)
            if unit:
                plot.setLabel("left", unit)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setMinimumSize(220, 150)
            layout.addWidget(plot, i // 2, i % 2)
            self.plots[key] = plot
        self.plots["loss"].addLegend(offset=(-10, 10), labelTextSize="8pt")
        blue, orange = (31, 119, 180), (255, 127, 14)
        self.curves = {
            "loss": self.plots["loss"].plot(pen=pg.mkPen((*blue, 70)), name="train (raw)"),
            "smooth": self.plots["loss"].plot(pen=pg.mkPen(blue, width=2), name="train (smoothed)"),
            "val_loss": self.plots["loss"].plot(pen=pg.mkPen(orange, width=2), symbol="o", symbolSize=5,
                                                symbolBrush=orange, symbolPen=None, name="validation"),
            "top1": self.plots["top1"].plot(pen=pg.mkPen(orange, width=2), symbol="o", symbolSize=5,
                                            symbolBrush=orange, symbolPen=None),
            "lr": self.plots["lr"].plot(pen=pg.mkPen((44, 160, 44), width=2)),
            "images_per_sec": self.plots["images_per_sec"].plot(pen=pg.mkPen((148, 103, 189), width=2)),
        }
        self.set_x_axis("step")

        self.timer = QTimer(self)
        self.timer.setInterval(1000 // REDRAW_HZ)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    # -- data ---------------------------------------------------------------------------------

    def add_event(self, event) -> None:
        """Buffer the points an event carries; drawing waits for the next timer tick."""
        if event.kind == "started":
            self._steps_per_epoch = event.data.get("steps_per_epoch")
            if self._start_time is None:  # a resumed run keeps its clock
                self._start_time = event.time
            return
        if self._start_time is None:
            self._start_time = event.time
        point = (event.step, event.epoch, event.time - self._start_time)
        d = event.data
        if event.kind == "step":
            loss = d.get("loss")
            if loss is not None and np.isfinite(loss):
                self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * loss
                self._ema_weight = SMOOTHING * self._ema_weight + (1 - SMOOTHING)
                self.series["loss"].append(*point, loss)
                self.series["smooth"].append(*point, self._ema / self._ema_weight)
            for key in ("lr", "images_per_sec"):
                if d.get(key) is not None:
                    self.series[key].append(*point, d[key])
        elif event.kind == "eval":
            for key in ("val_loss", "top1"):
                if d.get(key) is not None:
                    self.series[key].append(*point, d[key])
        else:
            return
        self._dirty = True

    def clear(self) -> None:
        for s in self.series.values():
            s.clear()
        self._ema = self._ema_weight = 0.0
        self._start_time = None
        self._dirty = True
        self.redraw()

    def point_count(self, key: str) -> int:
        return self.series[key].n

    # -- drawing ------------------------------------------------------------------------------

    def set_x_axis(self, axis: str) -> None:
        if axis not in X_AXES:
            raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, got {axis!r}")
        self.x_axis = axis
        for plot in self.plots.values():
            plot.setLabel("bottom", X_AXES[axis])
        self._dirty = True
        self.redraw()

    def redraw(self) -> None:
        """Push the buffered points to the curves in place (`setData`), if anything changed."""
        if not self._dirty:
            return
        self._dirty = False
        for key, curve in self.curves.items():
            s = self.series[key]
            curve.setData(s.x(self.x_axis), s.y())
