"""The report's curves, drawn by the one chart path of the studio (`vitstudio.charts`)."""

from __future__ import annotations

import numpy as np

from ..charts import Chart, Series, category_color


def line_chart(
    series: list[tuple[str, np.ndarray, np.ndarray]],
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (420, 640),
    markers: bool = False,
) -> np.ndarray:
    """Lines `(label, x, y)`, coloured by label (series sharing a label share a colour and one legend entry)."""
    series = [(label, np.asarray(x, float), np.asarray(y, float)) for label, x, y in series if len(x)]
    if not series:
        raise ValueError("line_chart needs at least one series with points")
    labels = list(dict.fromkeys(label for label, _, _ in series))
    drawn, named = [], set()
    for label, x, y in series:
        color = category_color(labels.index(label), len(labels))
        drawn.append(Series(x, y, color, "" if label in named else label, markers=markers or len(x) == 1))
        named.add(label)
    return Chart(tuple(drawn), xlabel, ylabel, title, size=size).image()
