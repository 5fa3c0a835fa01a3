"""Line and scatter charts drawn from one layout as a PNG image (numpy and PIL) or as SVG text.

This is the one way every exported plot is drawn: `vitstudio runs compare`, the compare view's PNG and SVG
export, the inspector's attention-distance view and `vitstudio inspect`. pyqtgraph draws only the live,
interactive curves on screen. Needs numpy and PIL only (no Qt, no torch), so the whole core can use it.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: distinct colours for categories (runs, attention heads), Tableau 10.
CATEGORY_COLORS = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
GRID = (221, 221, 221)


def hex_rgb(h: str) -> tuple[int, int, int]:
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)


def category_color(i: int, n: int) -> str:
    """The colour of category `i` of `n`: Tableau 10 up to ten, else `n` evenly spaced hues."""
    if n <= len(CATEGORY_COLORS):
        return CATEGORY_COLORS[i % len(CATEGORY_COLORS)]
    r, g, b = colorsys.hsv_to_rgb((i % n) / n, 1.0, 220 / 255)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def load_font(size: int = 11):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def text_size(text: str, font) -> tuple[int, int]:
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    return int(right - left), int(bottom - top)


def fit_text(text: str, width: int, font) -> str:
    """Shorten `text` with an ellipsis until it fits in `width` pixels."""
    if text_size(text, font)[0] <= width:
        return text
    while text and text_size(text + "…", font)[0] > width:
        text = text[:-1]
    return text + "…"


def nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About `n` round values (steps of 1, 2, 2.5 or 5 times a power of ten) from `lo` to `hi`."""
    span = max(hi - lo, 1e-9)
    raw = span / n
    decade = 10 ** np.floor(np.log10(raw))
    step = min(m * decade for m in (1, 2, 2.5, 5, 10) if m * decade >= raw)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-6, step) + 0.0  # + 0.0: no '-0' label


@dataclass(frozen=True)
class Series:
    """One set of points: joined by a line of `width` pixels and/or drawn as `markers`; `alpha` < 1 is a faint
    line (blended over white). A `label` puts it in the legend."""

    x: np.ndarray
    y: np.ndarray
    color: str
    label: str = ""
    width: float = 2.0
    alpha: float = 1.0
    line: bool = True
    markers: bool = False


@dataclass(frozen=True)
class Chart:
    """A chart's content; `image()` draws it as an (H, W, 3) uint8 array, `svg()` as an SVG document, `save`
    either by the file's extension. `size` is (height, width) in pixels; `xlim`/`ylim` default to the data's
    extent (y from 0 for `y_from_zero`); `log_y` plots log10 of y (positive values only); `integer_x` puts a
    tick on every whole x (layers)."""

    series: tuple[Series, ...]
    xlabel: str = ""
    ylabel: str = ""
    title: str = ""
    legend_title: str = ""
    size: tuple[int, int] = (480, 800)
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    log_y: bool = False
    integer_x: bool = False
    y_from_zero: bool = False

    def image(self) -> np.ndarray:
        canvas = _Raster(*self.size)
        _draw(self, canvas)
        return canvas.result()

    def svg(self) -> str:
        canvas = _Svg(*self.size)
        _draw(self, canvas)
        return canvas.result()

    def save(self, path: str | Path) -> Path:
        """Write the chart as SVG for a `.svg` path, else as PNG (parent folders are created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".svg":
            path.write_text(self.svg(), encoding="utf-8")
        else:
            Image.fromarray(self.image()).save(path, format="PNG")
        return path


# -- layout, shared by both outputs --------------------------------------------------------------------


def _points(chart: Chart, s: Series) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(s.x, dtype=np.float64).ravel(), np.asarray(s.y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"a series needs x and y of the same length, got {x.size} and {y.size}")
    if chart.log_y:
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)
    return x, y


def _limits(values: list[np.ndarray], given, from_zero: bool = False, pad: float = 0.03) -> tuple[float, float]:
    if given is not None:
        return float(given[0]), float(given[1])
    finite = [v[np.isfinite(v)] for v in values]
    finite = [v for v in finite if v.size]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(float(v.min()) for v in finite), max(float(v.max()) for v in finite)
    if from_zero:
        lo = min(lo, 0.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    margin = (hi - lo) * pad
    return (lo if from_zero and lo == 0 else lo - margin), hi + margin


def _tick_label(v: float, log: bool) -> str:
    return f"{float(f'{10**v:.3g}'):g}" if log else f"{v:.6g}"  # log: 3 digits, 1000 not 1e+03


def _segments(px: np.ndarray, py: np.ndarray, width: int) -> list[np.ndarray]:
    """The finite runs of points as (n, 2) pixel arrays; a run much denser than the pixels is thinned to the
    lowest and highest point of each pixel column (what a line through all of them covers)."""
    ok = np.isfinite(px) & np.isfinite(py)
    out = []
    for part in np.split(np.arange(px.size), np.flatnonzero(np.diff(ok.astype(np.int8))) + 1):
        if part.size == 0 or not ok[part[0]]:
            continue
        x, y = px[part], py[part]
        if x.size > 4 * width and np.all(np.diff(x) >= 0):
            col = np.floor(x).astype(np.int64)
            starts = np.r_[0, np.flatnonzero(np.diff(col)) + 1]
            lo, hi = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
            cx = np.add.reduceat(x, starts) / np.diff(np.r_[starts, x.size])
            x, y = np.repeat(cx, 2), np.stack([lo, hi], 1).ravel()
        out.append(np.stack([x, y], 1))
    return out


def _draw(chart: Chart, c: _Raster | _Svg) -> None:
    H, W = chart.size
    font = c.font
    data = [_points(chart, s) for s in chart.series]
    x0, x1 = _limits([x for x, _ in data], chart.xlim, pad=0.0 if chart.integer_x else 0.02)
    y0, y1 = _limits([y for _, y in data], chart.ylim, from_zero=chart.y_from_zero)
    legend = [s for s in chart.series if s.label]
    label_w = min(200, max([text_size(s.label, font)[0] for s in legend] + [text_size(chart.legend_title, font)[0]]))
    legend_w = label_w + 34 if legend else 0
    line_h = text_size("Ag", font)[1]
    left, right = 60, 14 + legend_w
    top, bottom = (16 + line_h if chart.title else 12), 44
    pw, ph = W - left - right, H - top - bottom
    if pw < 20 or ph < 20:
        raise ValueError(f"a chart of {W}x{H} pixels has no room for its plot")
    px = lambda v: left + (v - x0) / (x1 - x0) * pw
    py = lambda v: top + (y1 - v) / (y1 - y0) * ph

    c.rect(left, top, pw, ph)  # clip area
    if chart.integer_x:
        xticks = np.arange(np.ceil(x0), np.floor(x1) + 1)
        if xticks.size > 16:
            xticks = nice_ticks(x0, x1)
    else:
        xticks = nice_ticks(x0, x1, max(2, pw // 90))
    yticks = np.arange(np.ceil(y0), np.floor(y1) + 1) if chart.log_y and y1 - y0 >= 2 else nice_ticks(y0, y1)
    for t in xticks:
        c.line([(px(t), top), (px(t), top + ph)], GRID, 1, clip=True)
        c.text(px(t), top + ph + 5, _tick_label(t, False), "middle")
    for t in yticks:
        c.line([(left, py(t)), (left + pw, py(t))], GRID, 1, clip=True)
        c.text(left - 6, py(t) - line_h / 2 - 1, _tick_label(t, chart.log_y), "end")
    for s, (x, y) in zip(chart.series, data):
        color: tuple[int, ...] = hex_rgb(s.color)
        if s.alpha < 1:  # faint: blended over the white background
            color = tuple(round(s.alpha * v + (1 - s.alpha) * 255) for v in color)
        for seg in _segments(px(x), py(y), pw):
            if s.line and len(seg) > 1:
                c.line(seg, color, s.width, clip=True)
            if s.markers:
                for a, b in seg:
                    c.dot(a, b, 3.5 if not s.line else 2.5, color, outline=not s.line, clip=True)
    c.frame(left, top, pw, ph)
    if chart.xlabel:
        c.text(left + pw / 2, H - 6 - line_h, chart.xlabel, "middle")
    if chart.ylabel:
        c.text(4, top + ph / 2, chart.ylabel, "middle", vertical=True)
    if chart.title:
        c.text(left + pw / 2, 6, chart.title, "middle")
    if legend:
        lx, ly = W - legend_w + 4, top
        if chart.legend_title:
            c.text(lx, ly, chart.legend_title, "start")
            ly += line_h + 6
        for s in legend:
            color = hex_rgb(s.color)
            if s.line:
                c.line([(lx, ly + line_h / 2 + 1), (lx + 20, ly + line_h / 2 + 1)], color, 2)
            else:
                c.dot(lx + 8, ly + line_h / 2 + 1, 4, color, outline=True)
            c.text(lx + 26, ly, fit_text(s.label, label_w, font), "start")
            ly += line_h + 6


# -- the two outputs --------------------------------------------------------------------------------


class _Raster:
    """Draws on a PIL image. What is drawn with `clip` stays inside the rectangle given to `rect`, drawn at
    `SUPERSAMPLE` times the resolution and scaled down, so lines and dots are smooth (antialiased)."""

    SUPERSAMPLE = 2

    def __init__(self, height: int, width: int):
        self.font = load_font(11)
        self.image = Image.new("RGB", (width, height), WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.area = Image.new("RGB", (1, 1), WHITE)  # the plot area, made by `rect`
        self.area_draw = ImageDraw.Draw(self.area)
        self.origin = (0, 0)

    def rect(self, x: float, y: float, w: float, h: float) -> None:
        self.origin, k = (round(x), round(y)), self.SUPERSAMPLE
        self.area = Image.new("RGB", (k * (round(w) + 1), k * (round(h) + 1)), WHITE)
        self.area_draw = ImageDraw.Draw(self.area)

    def _to(self, clip: bool):
        """The drawing, an offset and a scale for coordinates on the chart."""
        return (self.area_draw, self.origin, self.SUPERSAMPLE) if clip else (self.draw, (0, 0), 1)

    def line(self, points, color, width: float, clip: bool = False) -> None:
        draw, (ox, oy), k = self._to(clip)
        xy = [(k * (a - ox), k * (b - oy)) for a, b in points]
        draw.line(xy, fill=tuple(color), width=max(1, round(k * width)), joint="curve")

    def dot(self, x: float, y: float, r: float, color, outline: bool = False, clip: bool = False) -> None:
        draw, (ox, oy), k = self._to(clip)
        box = [k * (x - ox - r), k * (y - oy - r), k * (x - ox + r), k * (y - oy + r)]
        draw.ellipse(box, fill=tuple(color), outline=BLACK if outline else None, width=k)

    def frame(self, x: float, y: float, w: float, h: float) -> None:
        k = self.SUPERSAMPLE
        self.image.paste(
            self.area.resize((self.area.width // k, self.area.height // k), Image.Resampling.BOX), self.origin
        )
        self.draw.rectangle([x, y, x + w, y + h], outline=(136, 136, 136))

    def text(self, x: float, y: float, s: str, anchor: str, vertical: bool = False) -> None:
        tw, th = text_size(s, self.font)
        if vertical:
            label = Image.new("RGB", (tw + 4, th + 6), WHITE)
            ImageDraw.Draw(label).text((2, 1), s, fill=BLACK, font=self.font)
            label = label.rotate(90, expand=True)
            self.image.paste(label, (round(x), round(y - label.height / 2)))
            return
        shift = {"start": 0, "middle": tw / 2, "end": tw}[anchor]
        self.draw.text((x - shift, y), s, fill=BLACK, font=self.font)

    def result(self) -> np.ndarray:
        return np.asarray(self.image)


class _Svg:
    """Writes the same drawing as SVG elements; clipped ones go in a group clipped to the plot area."""

    def __init__(self, height: int, width: int):
        self.font = load_font(11)  # for the same layout as the PNG
        self.head = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
        ]
        self.clipped: list[str] = []
        self.top: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float) -> None:
        area = f'<rect x="{x}" y="{y}" width="{w}" height="{h}"/>'
        self.head.append(f'<defs><clipPath id="area">{area}</clipPath></defs>')

    def line(self, points, color, width: float, clip: bool = False) -> None:
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
        el = f'<polyline points="{pts}" fill="none" stroke="{_css(color)}" stroke-width="{width:g}"/>'
        (self.clipped if clip else self.top).append(el)

    def dot(self, x: float, y: float, r: float, color, outline: bool = False, clip: bool = False) -> None:
        stroke = ' stroke="black"' if outline else ""
        el = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:g}" fill="{_css(color)}"{stroke}/>'
        (self.clipped if clip else self.top).append(el)

    def frame(self, x: float, y: float, w: float, h: float) -> None:
        self.top.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="none" stroke="#888888"/>')

    def text(self, x: float, y: float, s: str, anchor: str, vertical: bool = False) -> None:
        baseline = y + text_size("A", self.font)[1] + 1
        # as wide as in the PNG, whatever font the viewer has: the layout was made for that width
        fit = f'textLength="{text_size(s, self.font)[0]}" lengthAdjust="spacingAndGlyphs"'
        if vertical:
            el = f'<text transform="translate({x + 10:.1f} {y:.1f}) rotate(-90)" text-anchor="middle" {fit}>'
        else:
            el = f'<text x="{x:.1f}" y="{baseline:.1f}" text-anchor="{anchor}" {fit}>'
        self.top.append(el + escape(s) + "</text>")

    def result(self) -> str:
        body = ['<g clip-path="url(#area)" stroke-linejoin="round">', *self.clipped, "</g>", *self.top, "</svg>"]
        return "\n".join(self.head + body) + "\n"


def _css(color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)
