"""Charts: one layout drawn as PNG pixels and as SVG, thinned without losing extremes, broken at gaps."""

import re

import numpy as np

from vitstudio.charts import CATEGORY_COLORS, Chart, Series, category_color, hex_rgb, nice_ticks


def colours(image: np.ndarray) -> set:
    return {tuple(c) for c in image.reshape(-1, 3)}


def test_png_and_svg_draw_the_same_lines_legend_and_labels():
    x = np.arange(50.0)
    chart = Chart(
        (Series(x, x**2, CATEGORY_COLORS[0], "run a"), Series(x, 100 + x, CATEGORY_COLORS[1], "run b", markers=True)),
        xlabel="step",
        ylabel="loss",
        title="loss",
        size=(300, 500),
    )
    png = chart.image()
    assert png.shape == (300, 500, 3)
    assert {hex_rgb(CATEGORY_COLORS[0]), hex_rgb(CATEGORY_COLORS[1])} <= colours(png)
    svg = chart.svg()
    assert svg.startswith("<svg")
    for color in CATEGORY_COLORS[:2]:  # the line and its legend key
        assert len(re.findall(f'<polyline [^>]*stroke="{color}"', svg)) == 2
    assert svg.count("<circle") == 50 and ">run a<" in svg and ">run b<" in svg and ">step<" in svg


def test_dense_lines_are_thinned_but_keep_their_extremes():
    x = np.arange(10_000.0)
    y = np.zeros_like(x)
    y[5_000] = 1.0  # one spike
    chart = Chart((Series(x, y, CATEGORY_COLORS[2]),), size=(300, 400), ylim=(-0.5, 1.5))
    [line] = re.findall(f'<polyline points="([^"]+)" fill="none" stroke="{CATEGORY_COLORS[2]}"', chart.svg())
    points = np.array([p.split(",") for p in line.split()], dtype=float)
    assert len(points) < 4 * 400
    assert points[:, 1].min() < points[:, 1].max() - 100, "the spike is drawn"
    spike_rows = np.flatnonzero((chart.image() == hex_rgb(CATEGORY_COLORS[2])).all(-1).any(1))
    assert spike_rows.max() - spike_rows.min() > 100


def test_non_finite_values_break_the_line_and_log_scale_labels_powers_of_ten():
    y = np.array([1.0, 10.0, np.nan, 100.0, 1000.0, 0.0, 10000.0])  # 0 has no logarithm: a gap
    svg = Chart((Series(np.arange(7.0), y, "#000000"),), size=(300, 400), log_y=True).svg()
    assert svg.count('stroke="#000000"') == 2  # (1, 10), (100, 1000); the last point alone draws no line
    labels = re.findall(r'text-anchor="end"[^>]*>([^<]+)<', svg)
    assert labels == ["1", "10", "100", "1000", "10000"]


def test_colours_and_ticks():
    assert [category_color(i, 3) for i in range(3)] == CATEGORY_COLORS[:3]
    many = [category_color(i, 16) for i in range(16)]
    assert len(set(many)) == 16
    np.testing.assert_allclose(nice_ticks(-0.07, 3.1), [0, 1, 2, 3])
    assert str(nice_ticks(-0.07, 3.1)[0]) == "0.0"  # not -0.0
