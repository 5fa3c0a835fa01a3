"""The pyqtgraph internals the compare view relies on for its redraw speed, each checked on the installed version.

`pyproject.toml` caps pyqtgraph below the next minor release; these tests say what to check before raising the cap:
`PlotDataItem.updateItems` is what every data or view change goes through, `ViewBox.prepareForPaint` applies a
pending auto-range, `opts["autoDownsampleFactor"]` sets the samples kept per pixel and `AxisItem.generateDrawSpecs`
gives the pens of the grid lines.
"""

import numpy as np
import pytest

from vitstudio.gui.panels.compare import Curve, OverlayPlot, Series


@pytest.fixture
def plot(qtbot):
    plot = OverlayPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def test_a_held_curve_is_updated_once_on_release(plot):
    curve = Curve()
    plot.addItem(curve)
    curve.hold()
    curve.setData(np.arange(5.0), np.arange(5.0) ** 2)  # setData goes through updateItems: only marked stale
    drawn = curve.curve.getData()[0]
    assert drawn is None or len(drawn) == 0
    curve.release()
    assert curve.curve.getData()[1].tolist() == [0.0, 1.0, 4.0, 9.0, 16.0]


def test_prepare_for_paint_applies_the_auto_range_before_painting(plot):
    plot.show_series([Series("a", np.arange(10.0), np.arange(10.0), finite=True)])
    plot.show_series([Series("a", np.arange(1000.0), -np.arange(1000.0), finite=True)])  # no event loop between
    (x0, x1), (y0, y1) = plot.getPlotItem().vb.viewRange()
    assert x0 <= 0 and x1 >= 999 and y0 <= -999 and y1 >= 0
    x, _ = plot.lines[0].curve.getData()  # what is painted was computed for that range
    assert x.min() <= 1 and x.max() >= 998  # not clipped to the range before (0 to 9)


def test_auto_downsample_factor_keeps_about_two_points_per_pixel(plot):
    y = np.sin(np.arange(10_000) / 50.0)
    plot.show_series([Series("a", np.arange(10_000.0), y, finite=True)])
    x, shown = plot.lines[0].curve.getData()
    width = plot.getPlotItem().vb.width()
    assert 0 < width < 1000 and len(x) <= 2.5 * width  # pyqtgraph's default factor (5) would keep about 5 times more
    assert shown.max() == pytest.approx(y.max(), abs=1e-3) and shown.min() == pytest.approx(y.min(), abs=1e-3)


def test_grid_lines_are_drawn_opaque(plot):
    from PySide6.QtGui import QImage, QPainter

    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    _axis, ticks, _texts = plot.getAxis("left").generateDrawSpecs(painter)  # what AxisItem.paint draws
    painter.end()
    assert ticks and all(pen.color().alpha() == 255 for pen, _a, _b in ticks)
