"""Compare runs: overlaid curves of any logged metric, the config diff and a summary of results.

`CompareView` is a standalone widget (the runs panel embeds it); `OverlayPlot` draws the curves on screen.
The files it exports are written by the core (`vitstudio.train.compare`), as `vitstudio runs compare` writes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...charts import Chart, category_color
from ...train.compare import (
    DEFAULT_SMOOTHING,
    FAINT,
    FEW_RUNS,
    MARKERS_UP_TO,
    SUMMARY_COLUMNS,
    X_AXES,
    config_diff,
    curves_table,
    ema,
    format_config_value,
    key_config,
    metric_chart,
    metric_label,
    metric_names,
    resolved_config,
    table,
    write_csv,
    x_values,
)
from ...train.runs import Run

HOVER_PX = 12  # how close (in pixels) the pointer must be to a curve to name it


def run_color(i: int, n: int):
    return pg.mkColor(category_color(i, n))


class GridAxis(pg.AxisItem):
    """An axis whose grid lines are opaque and lie behind the curves.

    pyqtgraph draws grid lines translucent, over the curves; Qt blends translucent lines many times more
    slowly than it draws opaque ones (a full grid took about 10 ms of each repaint). Each line's colour
    blended over the plot's background beforehand looks the same.
    """

    def __init__(self, orientation: str, background):
        super().__init__(orientation)
        self.background = pg.mkColor(background)
        self._opaque_pens: dict[int, pg.QtGui.QPen] = {}  # a translucent pen's colour (rgba) -> its opaque twin

    def generateDrawSpecs(self, p):
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis, ticks, texts = specs
        return axis, [(self._opaque(pen), a, b) for pen, a, b in ticks], texts

    def _opaque(self, pen):
        key = pen.color().rgba()
        if key not in self._opaque_pens:
            c, bg, a = pen.color(), self.background, pen.color().alphaF()
            opaque = self._opaque_pens[key] = pg.QtGui.QPen(pen)
            opaque.setColor(
                pg.QtGui.QColor.fromRgbF(
                    *(a * getattr(c, f)() + (1 - a) * getattr(bg, f)() for f in ("redF", "greenF", "blueF"))
                )
            )
        return self._opaque_pens[key]


class Curve(pg.PlotDataItem):
    """A PlotDataItem that can be updated in a batch, and whose extent is its whole data's.

    pyqtgraph clips and downsamples a curve again whenever its data or the view range changes. A redraw
    changes both, the data and then the auto-range that follows it, so each curve would do that work twice,
    the second time while painting, which makes the view paint twice. Between `hold` and `release` the
    changes only mark the curve stale; `release` brings it up to date once. Auto-ranging in between asks
    `dataBounds`, which therefore reads the data given, not what is drawn.
    """

    _held = _stale = False

    def setData(self, *args, **kwargs):
        self._extent: dict[tuple[int, bool], tuple] = {}  # (axis, log scale) -> (min, max) of the data
        super().setData(*args, **kwargs)

    def clear(self):
        self._extent = {}
        super().clear()

    def updateItems(self, styleUpdate: bool = True):
        if self._held:
            self._stale = True
        else:
            super().updateItems(styleUpdate)

    def hold(self) -> None:
        self._held = True

    def release(self) -> None:
        self._held = False
        if self._stale:
            self._stale = False
            super().updateItems()

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        """What auto-ranging asks: the extent of all the data (what pyqtgraph gives too, as its peak
        downsampling keeps the extremes), on a log scale where the axis has one; computed once per data."""
        if frac < 1.0 or orthoRange is not None:
            return super().dataBounds(ax, frac, orthoRange)
        log = bool(self.opts["logMode"][ax])
        if (ax, log) not in self._extent:
            self._extent[(ax, log)] = _extent(self.getOriginalDataset()[ax], log)
        return self._extent[(ax, log)]


class Series(NamedTuple):
    """One run's curve: `y` raw, `smooth` the smoothed values drawn instead (None: draw `y`); `finite`
    says that neither x nor y holds a NaN or infinity (pyqtgraph then skips its own checks); `label` is
    what hovering the line shows (default: the name)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    smooth: np.ndarray | None = None
    finite: bool = False
    label: str = ""


class OverlayPlot(pg.PlotWidget):
    """One metric of several runs on one plot: per run a line (smoothed when smoothing is on) and, for a
    few runs, the raw values faintly behind it.

    Curves are kept between redraws and updated with `setData`; pyqtgraph clips them to the view and
    peak-downsamples them to about two points per pixel, so 50 runs of 10,000 points redraw quickly.
    Past `FEW_RUNS` runs, lines are thin, raw values are not drawn and the legend gives way to hovering.
    """

    def __init__(self, parent=None):
        super().__init__(parent, background="w", axisItems={k: GridAxis(k, "w") for k in ("bottom", "left")})
        self.showGrid(x=True, y=True, alpha=0.25)
        for k in ("bottom", "left"):
            self.getAxis(k).setZValue(self.getPlotItem().vb.zValue() - 1)  # the grid behind the curves
        self.setDownsampling(auto=True, mode="peak")
        self.setClipToView(True)
        self.legend = self.addLegend(
            offset=(-10, 10), labelTextSize="8pt", labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 200)
        )
        self.lines: list[Curve] = []  # one per run
        self._faint: list[Curve] = []  # the raw values behind a smoothed line, for the first FEW_RUNS runs
        self._legend_names: list[str] = []
        self.labels: list[str] = []  # what hovering each run's line shows

    def _item(self, z: int = 0) -> Curve:
        item = Curve()
        self.addItem(item)  # takes the plot's downsampling and clipping
        item.setZValue(z)
        item.opts["autoDownsampleFactor"] = 1.0  # samples per pixel (pyqtgraph's default 5 barely thins 10k points)
        return item

    def show_series(self, series: list[Series]):
        """Draw `series`, reusing the curves already there."""
        n = len(series)
        few = n <= FEW_RUNS
        while len(self.lines) < n:
            self.lines.append(self._item())
        while len(self._faint) < min(n, FEW_RUNS):
            self._faint.append(self._item(z=-1))
        curves = self.lines + self._faint
        for c in curves:
            c.hold()
        for i, line in enumerate(self.lines):
            if i >= n:
                _clear(line)
                continue
            s = series[i]
            color = run_color(i, n)
            markers = s.smooth is None and len(s.x) <= MARKERS_UP_TO
            line.setData(
                s.x,
                s.y if s.smooth is None else s.smooth,
                pen=pg.mkPen(color, width=2 if few else 1),
                symbol="o" if markers else None,
                symbolSize=5,
                symbolBrush=color,
                symbolPen=None,
                **_connect(s.finite),
            )
        for i, faint in enumerate(self._faint):
            if few and i < n and series[i].smooth is not None:
                pale = pg.mkColor(run_color(i, n))
                pale.setAlphaF(FAINT)
                faint.setData(series[i].x, series[i].y, pen=pg.mkPen(pale, width=1), **_connect(series[i].finite))
            else:
                _clear(faint)
        # What the view would do as it starts painting, done now: auto-range (from the curves' extents) and
        # the new transform. The curves are then updated once, for the final range, and painted once.
        self.getPlotItem().vb.prepareForPaint()
        for c in curves:
            c.release()
        names = [s.name for s in series] if few else []
        if names != self._legend_names:
            self.legend.clear()
            for name, line in zip(names, self.lines):
                self.legend.addItem(line, name)
            self._legend_names = names
        self.labels = [s.label or s.name for s in series]

    def nearest(self, scene_pos) -> int | None:
        """The index of the run whose curve passes within `HOVER_PX` pixels of a scene position, if any."""
        vb = self.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        vx = vb.mapSceneToView(scene_pos).x()
        best, best_d = None, float(HOVER_PX)
        for i, line in enumerate(self.lines[: len(self.labels)]):
            x, y = line.getData()  # as displayed: log-transformed, downsampled
            if x is None or len(x) == 0:
                continue
            j = int(np.clip(np.searchsorted(x, vx), 1, max(len(x) - 1, 1)))
            for k in {j - 1, min(j, len(x) - 1)}:
                pt = vb.mapViewToScene(QPointF(float(x[k]), float(y[k])))
                d = float(np.hypot(pt.x() - scene_pos.x(), pt.y() - scene_pos.y()))
                if d < best_d:
                    best, best_d = i, d
        return best


class CompareView(QWidget):
    """Curves, config diff and summary of the runs given to `set_runs`."""

    hovered = Signal(str)  # the text shown for the curve under the pointer ('' when none)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: list[Run] = []
        self._logs, self._summaries, self._configs, self._diff, self._hover = [], [], [], [], []
        self._smoothed: dict[tuple[int, str], tuple[float, np.ndarray]] = {}  # (run, metric) -> (weight, values)
        self._x: dict[tuple[int, str, str], tuple[np.ndarray, bool]] = {}  # (run, metric, axis) -> (x, all finite)

        self.metric_box = QComboBox()
        self.metric_box.setMinimumContentsLength(12)
        self.x_box = QComboBox()
        for key, label in X_AXES.items():
            self.x_box.addItem(label, key)
        self.smoothing = QSlider(Qt.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(round(DEFAULT_SMOOTHING * 100))
        self.smoothing.setFixedWidth(140)
        self.smoothing_label = QLabel()
        self.log_y = QCheckBox("log y")
        export = QToolButton(text="Export")
        export.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(export)
        menu.addAction("Plot as PNG…", lambda: self.export_plot("png"))
        menu.addAction("Plot as SVG…", lambda: self.export_plot("svg"))
        menu.addAction("Metrics as CSV (raw and smoothed)…", self.export_metrics)
        menu.addAction("Config diff as CSV…", lambda: self._export_table(self.diff_table, "config_diff.csv"))
        menu.addAction("Summary as CSV…", lambda: self._export_table(self.summary_table, "summary.csv"))
        export.setMenu(menu)

        controls = QHBoxLayout()
        for w in (
            QLabel("metric"),
            self.metric_box,
            QLabel("x"),
            self.x_box,
            QLabel("smoothing"),
            self.smoothing,
            self.smoothing_label,
            self.log_y,
        ):
            controls.addWidget(w)
        controls.addStretch(1)
        controls.addWidget(export)

        self.plot = OverlayPlot()
        self.hover_label = pg.TextItem(color="#222", fill=pg.mkBrush(255, 255, 255, 230), border=pg.mkPen("#999"))
        self.hover_label.setZValue(100)
        self.hover_label.hide()
        self.plot.addItem(self.hover_label, ignoreBounds=True)
        self._mouse = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse)

        self.differences_only = QCheckBox("differences only")
        self.differences_only.setChecked(True)
        self.diff_table = _table()
        diff_page = QWidget()
        dl = QVBoxLayout(diff_page)
        dl.addWidget(self.differences_only)
        dl.addWidget(self.diff_table)
        self.summary_table = _table()

        curves_page = QWidget()
        cl = QVBoxLayout(curves_page)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(controls)
        cl.addWidget(self.plot, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(curves_page, "Curves")
        self.tabs.addTab(diff_page, "Config diff")
        self.tabs.addTab(self.summary_table, "Summary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

        self.metric_box.currentIndexChanged.connect(self.redraw)
        self.x_box.currentIndexChanged.connect(self.redraw)
        self.smoothing.valueChanged.connect(self.redraw)
        self.log_y.toggled.connect(self._on_log_y)
        self.differences_only.toggled.connect(self._fill_diff)
        self.redraw()

    # -- data -----------------------------------------------------------------------------------

    def set_runs(self, runs: list[Run]) -> None:
        """Show these runs (in this order); their logs are read now and re-read by `refresh`."""
        self.runs = list(runs)
        self._configs = [resolved_config(r) for r in self.runs]
        self._diff = config_diff(self._configs)
        self._read([r.metrics() for r in self.runs])
        self._fill_diff()
        self.redraw()

    def refresh(self) -> None:
        """Re-read the logs of the shown runs; redraw if any grew (runs still training)."""
        logs = [r.metrics() for r in self.runs]
        if any(a is not b for a, b in zip(logs, self._logs)):
            self._read(logs)
            self.redraw()

    def _read(self, logs: list) -> None:
        """Take the runs' (new) logs and summaries, forgetting what was computed from the old ones."""
        self._logs = logs
        self._smoothed.clear()
        self._x.clear()
        self._summaries = [r.summary() for r in self.runs]
        self._hover = [f"{s['name']}\n{key_config(self._diff, i)}".strip() for i, s in enumerate(self._summaries)]
        self._fill_metrics()
        self._fill_summary()

    def _fill_metrics(self) -> None:
        names = metric_names(self.runs) if self.runs else []
        current = self.metric_box.currentData()
        if names == [self.metric_box.itemData(i) for i in range(self.metric_box.count())]:
            return
        self.metric_box.blockSignals(True)
        self.metric_box.clear()
        for name in names:
            self.metric_box.addItem(metric_label(name), name)
        index = names.index(current) if current in names else 0
        self.metric_box.setCurrentIndex(index)
        self.metric_box.blockSignals(False)

    def _fill_diff(self) -> None:
        rows = self._diff if self.differences_only.isChecked() else config_diff(self._configs, only_differences=False)
        names = [s["name"] for s in self._summaries]
        _fill(self.diff_table, ["field", *names], [[k, *map(format_config_value, v)] for k, v in rows])

    def _fill_summary(self) -> None:
        header, rows = table(self._summaries, SUMMARY_COLUMNS)
        _fill(self.summary_table, header, rows)

    # -- drawing ---------------------------------------------------------------------------------

    @property
    def weight(self) -> float:
        return self.smoothing.value() / 100

    def series(self) -> list[Series]:
        """The chosen metric of each run that logged it, on the chosen x axis.

        Training curves are smoothed; validation ones, a point per evaluation, are not."""
        metric, axis, w = self.metric_box.currentData(), self.x_box.currentData(), self.weight
        out = []
        for i, (log, s) in enumerate(zip(self._logs, self._summaries)):
            curve = log.curves.get(metric)
            if curve is None:
                continue
            if (i, metric, axis) not in self._x:  # kept until the logs are read again
                x = x_values(curve, axis, s["batch_size"], s["world_size"])
                self._x[(i, metric, axis)] = x, bool(np.isfinite(x).all() and np.isfinite(curve.value).all())
            x, finite = self._x[(i, metric, axis)]
            smooth = self._smooth(i, metric, curve.value, w) if w > 0 and curve.kind == "step" else None
            out.append(Series(s["name"], x, curve.value, smooth, finite, self._hover[i]))
        return out

    def _smooth(self, run: int, metric: str, values: np.ndarray, weight: float) -> np.ndarray:
        """`ema(values, weight)`, kept until the weight or the log changes (a new x axis needs no new average)."""
        kept = self._smoothed.get((run, metric))
        if kept is None or kept[0] != weight:
            kept = self._smoothed[(run, metric)] = (weight, ema(values, weight))
        return kept[1]

    def redraw(self) -> None:
        self.smoothing_label.setText(f"{self.weight:.2f}")
        self.plot.show_series(self.series())
        labels = {"left": self.metric_box.currentText(), "bottom": X_AXES[self.x_box.currentData()]}
        for side, label in labels.items():
            if self.plot.getAxis(side).labelText != label:  # setting one lays the plot out again
                self.plot.setLabel(side, label)

    def _on_log_y(self, on: bool) -> None:
        self.plot.setLogMode(y=on)

    def _on_mouse(self, event) -> None:
        pos = event[0]
        i = self.plot.nearest(pos)
        if i is None:
            self.hover_label.hide()
            self.hovered.emit("")
            return
        text = self.plot.labels[i]
        view = self.plot.getPlotItem().vb.mapSceneToView(pos)
        self.hover_label.setText(text)
        self.hover_label.setPos(view)
        self.hover_label.show()
        self.hovered.emit(text)

    # -- export ----------------------------------------------------------------------------------

    def chart(self) -> Chart:
        """The plot as shown (its range, scale, curves and legend, at its size on screen), drawn by the core's
        charts, as `vitstudio runs compare` draws it."""
        (x0, x1), (y0, y1) = self.plot.getPlotItem().vb.viewRange()
        series = [(s.name, s.x, s.y, s.smooth) for s in self.series()]
        size = (max(self.plot.height(), 300), max(self.plot.width(), 400))
        metric, axis = self.metric_box.currentData() or "", self.x_box.currentData()
        return metric_chart(series, metric, axis, self.log_y.isChecked(), size, (x0, x1), (y0, y1))

    def export_plot(self, fmt: str, path: str | None = None) -> Path | None:
        path = path or _save_name(self, f"{self.metric_box.currentData() or 'plot'}.{fmt}", f"{fmt.upper()} (*.{fmt})")
        if path:
            return self.chart().save(Path(path).with_suffix(f".{fmt}"))
        return None

    def export_metrics(self, path: str | None = None) -> Path | None:
        path = path or _save_name(self, "metrics.csv", "CSV (*.csv)")
        if path:
            return write_csv(path, *curves_table(self.runs, smoothing=self.weight))
        return None

    def _export_table(self, widget: QTableWidget, default: str, path: str | None = None) -> Path | None:
        path = path or _save_name(self, default, "CSV (*.csv)")
        if path:
            return write_csv(path, *_contents(widget))
        return None


def _clear(item: pg.PlotDataItem) -> None:
    if item.xData is not None and len(item.xData):
        item.setData([], [])


def _connect(finite: bool) -> dict:
    """setData's options for data known to be finite: pyqtgraph then checks nothing, else it breaks the line
    at non-finite values."""
    return {"connect": "all", "skipFiniteCheck": True} if finite else {"connect": "auto", "skipFiniteCheck": False}


def _extent(values: np.ndarray | None, log: bool) -> tuple[float, float] | tuple[None, None]:
    """(min, max) of the finite values (the positive ones, as log10, on a log scale); (None, None) if none."""
    if values is None or len(values) == 0:
        return None, None
    v = values[values > 0] if log else values
    if v.size and not (np.isfinite(v.min()) and np.isfinite(v.max())):
        v = v[np.isfinite(v)]
    if v.size == 0:
        return None, None
    lo, hi = float(v.min()), float(v.max())
    return (float(np.log10(lo)), float(np.log10(hi))) if log else (lo, hi)


# -- small table helpers ------------------------------------------------------------------------


def _table() -> QTableWidget:
    t = QTableWidget()
    t.setEditTriggers(QTableWidget.NoEditTriggers)
    t.verticalHeader().hide()
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    t.setAlternatingRowColors(True)
    return t


def _fill(t: QTableWidget, header: list[str], rows: list[list]) -> None:
    t.clear()
    t.setColumnCount(len(header))
    t.setRowCount(len(rows))
    t.setHorizontalHeaderLabels(header)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            t.setItem(r, c, QTableWidgetItem("" if value is None else str(value)))


def _contents(t: QTableWidget) -> tuple[list[str], list[list[str]]]:
    header = [t.horizontalHeaderItem(c).text() for c in range(t.columnCount())]
    return header, [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def _save_name(parent, default: str, filters: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Export", default, filters)
    return path
