"""Figures as (H, W, 3) uint8 RGB arrays, shared by the GUI inspector and `vitstudio inspect`.

Colormaps, heatmap overlays, labelled tile grids and a small scatter plot, drawn with numpy and PIL.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._arrays import as_numpy, pair

#: evenly spaced stops of matplotlib's perceptually uniform maps (and jet and gray), interpolated linearly.
COLORMAPS = {
    "inferno": ["#000004", "#1f0c48", "#550f6d", "#88226a", "#ba3655", "#e35933", "#f98e09", "#f9cb35", "#fcffa4"],
    "viridis": ["#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81", "#5cc863", "#aadc32", "#fde725"],
    "jet": ["#00007f", "#0000ff", "#007fff", "#00ffff", "#7fff7f", "#ffff00", "#ff7f00", "#ff0000", "#7f0000"],
    "gray": ["#000000", "#ffffff"],
}
#: distinct colours for categories (one per attention head): Tableau 10, then 10 darker or cooler ones that differ
#: from all of them, so up to 20 heads (ViT-L and ViT-H have 16) never share a colour.
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
    "#17becf",
    "#bcbd22",
    "#393b79",
    "#843c39",
    "#637939",
    "#7b4173",
    "#8c6d31",
    "#000080",
    "#006d2c",
    "#ff00ff",
]
WHITE, BLACK, GRAY = (255, 255, 255), (0, 0, 0), (128, 128, 128)


def hex_rgb(h: str) -> tuple[int, int, int]:
    return tuple(int(h[i : i + 2], 16) for i in (1, 3, 5))


def normalize01(values, vmin=None, vmax=None) -> np.ndarray:
    """Scale to [0, 1] between vmin and vmax (default: the array's min and max); constant arrays give 0."""
    v = as_numpy(values).astype(np.float64)
    lo = np.nanmin(v) if vmin is None else vmin
    hi = np.nanmax(v) if vmax is None else vmax
    return np.zeros_like(v) if hi <= lo else np.clip((v - lo) / (hi - lo), 0.0, 1.0)


def colormap(values, cmap: str = "inferno", vmin=None, vmax=None) -> np.ndarray:
    """Map an array of values to RGB: (...) -> (..., 3) uint8."""
    if cmap not in COLORMAPS:
        raise ValueError(f"unknown colormap {cmap!r}; choose from {sorted(COLORMAPS)}")
    stops = np.array([hex_rgb(h) for h in COLORMAPS[cmap]], dtype=np.float64)
    t = normalize01(values, vmin, vmax) * (len(stops) - 1)
    i = np.minimum(t.astype(int), len(stops) - 2)
    f = (t - i)[..., None]
    return ((1 - f) * stops[i] + f * stops[i + 1]).round().astype(np.uint8)


def to_uint8_rgb(img) -> np.ndarray:
    """(H, W), (H, W, 1) or (H, W, 3) float in [0, 1] or uint8 -> (H, W, 3) uint8."""
    a = as_numpy(img)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    if a.ndim == 2:
        a = a[..., None]
    return np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a


def resize(img, size, smooth: bool = False) -> np.ndarray:
    """Resize an (H, W, 3) uint8 image to `size` (H, W): nearest keeps patches crisp, smooth is bilinear."""
    H, W = pair(size)
    return np.asarray(Image.fromarray(to_uint8_rgb(img)).resize((W, H), Image.BILINEAR if smooth else Image.NEAREST))


def scale_up(img, factor: int) -> np.ndarray:
    """Enlarge by an integer factor with nearest-neighbour sampling (for tiny tiles)."""
    a = to_uint8_rgb(img)
    return a if factor <= 1 else a.repeat(factor, axis=0).repeat(factor, axis=1)


def overlay(
    image, heat, alpha: float = 0.6, cmap: str = "inferno", smooth: bool = False, vmin=None, vmax=None
) -> np.ndarray:
    """Blend a colour-mapped heatmap (h, w) over an (H, W, 3) uint8 image with opacity `alpha`."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {alpha}")
    image = to_uint8_rgb(image)
    colored = resize(colormap(heat, cmap, vmin, vmax), image.shape[:2], smooth)
    out = (1 - alpha) * image.astype(np.float64) + alpha * colored
    return out.round().astype(np.uint8)


def load_font(size: int = 11):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def text_size(text: str, font) -> tuple[int, int]:
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def fit_text(text: str, width: int, font) -> str:
    """Shorten `text` with an ellipsis until it fits in `width` pixels."""
    if text_size(text, font)[0] <= width:
        return text
    while text and text_size(text + "…", font)[0] > width:
        text = text[:-1]
    return text + "…"


def tile_grid(
    tiles, ncols: int | None = None, gap: int = 2, background=WHITE, labels=None, font_size: int = 11
) -> np.ndarray:
    """Lay out equally sized tiles (n, h, w, 3) in rows of `ncols` with `gap` pixels between them.

    `labels` (one string per tile) are written under the tiles, shortened to the tile width.
    """
    tiles = [to_uint8_rgb(t) for t in tiles]
    if not tiles:
        raise ValueError("no tiles to lay out")
    h, w = tiles[0].shape[:2]
    if any(t.shape[:2] != (h, w) for t in tiles):
        raise ValueError("tiles must all have the same size")
    n = len(tiles)
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = -(-n // ncols)
    font = load_font(font_size)
    label_h = text_size("Ag", font)[1] + 4 if labels else 0
    cell_h = h + label_h
    H, W = nrows * cell_h + (nrows + 1) * gap, ncols * w + (ncols + 1) * gap
    canvas = Image.new("RGB", (W, H), tuple(background))
    draw = ImageDraw.Draw(canvas)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, ncols)
        x, y = gap + c * (w + gap), gap + r * (cell_h + gap)
        canvas.paste(Image.fromarray(tile), (x, y))
        if labels:
            text = fit_text(str(labels[k]), w, font)
            draw.text((x + (w - text_size(text, font)[0]) // 2, y + h + 1), text, fill=BLACK, font=font)
    return np.asarray(canvas)


def colorbar(width: int, cmap: str, low: str, high: str, caption: str = "", font_size: int = 11) -> np.ndarray:
    """A horizontal colour scale `width` pixels wide: `low` | the colour map | `high`, with a caption after it."""
    font = load_font(font_size)
    th = text_size("Ag", font)[1]
    h = th + 10
    canvas = Image.new("RGB", (width, h), WHITE)
    d = ImageDraw.Draw(canvas)
    x = 6
    d.text((x, 4), low, fill=BLACK, font=font)
    x += text_size(low, font)[0] + 6
    bar_w = max(min(160, width - x - text_size(high, font)[0] - 12), 16)
    ramp = colormap(np.linspace(0.0, 1.0, bar_w), cmap)
    canvas.paste(Image.fromarray(np.repeat(ramp[None], th, axis=0)), (x, 5))
    d.rectangle([x - 1, 4, x + bar_w, 5 + th], outline=GRAY)
    x += bar_w + 6
    d.text((x, 4), high, fill=BLACK, font=font)
    x += text_size(high, font)[0] + 10
    if caption:
        d.text((x, 4), fit_text(caption, max(width - x - 4, 0), font), fill=BLACK, font=font)
    return np.asarray(canvas)


def with_colorbar(img, cmap: str, low: str, high: str, caption: str = "") -> np.ndarray:
    """`img` with a `colorbar` of its width below it."""
    img = to_uint8_rgb(img)
    return np.concatenate([img, colorbar(img.shape[1], cmap, low, high, caption)], axis=0)


def titled(img, title: str, font_size: int = 13, background=WHITE) -> np.ndarray:
    """Add a title line (wrapped to the image width) above an image."""
    img = to_uint8_rgb(img)
    font = load_font(font_size)
    lines = wrap_text(title, img.shape[1] - 8, font)
    line_h = text_size("Ag", font)[1] + 4
    top = line_h * len(lines) + 6
    canvas = Image.new("RGB", (img.shape[1], img.shape[0] + top), tuple(background))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((4, 3 + i * line_h), line, fill=BLACK, font=font)
    canvas.paste(Image.fromarray(img), (0, top))
    return np.asarray(canvas)


def wrap_text(text: str, width: int, font) -> list[str]:
    """Greedy word wrap of `text` to lines of at most `width` pixels."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}".strip()
            if line and text_size(trial, font)[0] > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def _nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    span = max(hi - lo, 1e-9)
    raw = span / n
    decade = 10 ** np.floor(np.log10(raw))
    step = min(m * decade for m in (1, 2, 2.5, 5, 10) if m * decade >= raw)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-6, step)


def scatter_plot(
    x,
    y,
    groups=None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    size=(360, 480),
    xlim=None,
    ylim=None,
    legend_title: str = "",
    legend_labels: list[str] | None = None,
) -> np.ndarray:
    """A scatter plot with axes, ticks and labels: (H, W, 3) uint8.

    `groups` (an int per point) colours the points by category and adds a legend (`legend_labels`, one per
    group; default the group numbers).
    """
    x, y = as_numpy(x).astype(np.float64).ravel(), as_numpy(y).astype(np.float64).ravel()
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"scatter_plot needs x and y of the same non-zero length, got {x.size} and {y.size}")
    groups = np.zeros(x.size, int) if groups is None else as_numpy(groups).astype(int).ravel()
    H, W = pair(size)
    font = load_font(11)
    n_groups = int(groups.max()) + 1
    legend_w = 64 if n_groups > 1 else 0
    left, right, top, bottom = 52, 12 + legend_w, 28 if title else 12, 40
    xlo, xhi = xlim or (x.min() - 0.5, x.max() + 0.5)
    ylo, yhi = ylim or (0.0, max(y.max() * 1.05, 1e-9))
    px = lambda v: left + (v - xlo) / (xhi - xlo) * (W - left - right)
    py = lambda v: H - bottom - (v - ylo) / (yhi - ylo) * (H - top - bottom)

    canvas = Image.new("RGB", (W, H), WHITE)
    d = ImageDraw.Draw(canvas)
    d.rectangle([left, top, W - right, H - bottom], outline=BLACK)
    for t in _nice_ticks(ylo, yhi):
        d.line([left - 4, py(t), left, py(t)], fill=BLACK)
        d.line([left + 1, py(t), W - right - 1, py(t)], fill=(230, 230, 230))
        label = f"{t:g}"
        d.text((left - 6 - text_size(label, font)[0], py(t) - 6), label, fill=BLACK, font=font)
    xticks = np.unique(np.round(x)) if len(np.unique(x)) <= 16 else _nice_ticks(xlo, xhi)
    for t in xticks:
        d.line([px(t), H - bottom, px(t), H - bottom + 4], fill=BLACK)
        label = f"{t:g}"
        d.text((px(t) - text_size(label, font)[0] / 2, H - bottom + 6), label, fill=BLACK, font=font)
    for xi, yi, g in zip(x, y, groups):
        color = hex_rgb(CATEGORY_COLORS[g % len(CATEGORY_COLORS)])
        d.ellipse([px(xi) - 3.5, py(yi) - 3.5, px(xi) + 3.5, py(yi) + 3.5], fill=color, outline=BLACK)
    if xlabel:
        d.text((left + (W - left - right - text_size(xlabel, font)[0]) / 2, H - 18), xlabel, fill=BLACK, font=font)
    if ylabel:
        tw, th = text_size(ylabel, font)
        lab = Image.new("RGB", (tw + 4, th + 6), WHITE)
        ImageDraw.Draw(lab).text((2, 1), ylabel, fill=BLACK, font=font)
        lab = lab.rotate(90, expand=True)
        canvas.paste(lab, (2, int(top + (H - top - bottom - lab.height) / 2)))
    if title:
        d.text(((W - text_size(title, font)[0]) / 2, 8), title, fill=BLACK, font=font)
    if n_groups > 1:
        lx = W - legend_w + 2
        if legend_title:
            d.text((lx, top), legend_title, fill=BLACK, font=font)
        for g in range(n_groups):
            yy = top + 16 * (g + bool(legend_title)) + 2
            color = hex_rgb(CATEGORY_COLORS[g % len(CATEGORY_COLORS)])
            d.ellipse([lx, yy + 2, lx + 8, yy + 10], fill=color, outline=BLACK)
            d.text((lx + 12, yy), legend_labels[g] if legend_labels else str(g), fill=BLACK, font=font)
    return np.asarray(canvas)


def bar_chart(groups: dict[str, list[tuple[str, float]]], width: int = 440, row_height: int = 20) -> np.ndarray:
    """Horizontal bars of values in [0, 1] with their labels and percentages, under a heading per group."""
    f = load_font(12)
    n_rows = sum(len(rows) + 1 for rows in groups.values())
    canvas = Image.new("RGB", (width, n_rows * row_height + 8), WHITE)
    d = ImageDraw.Draw(canvas)
    label_w = int(width * 0.4)
    bar_w = width - label_w - 64
    y = 4
    for heading, rows in groups.items():
        d.text((4, y + 3), heading, fill=BLACK, font=f)
        y += row_height
        for label, value in rows:
            d.text((14, y + 3), fit_text(str(label), label_w - 20, f), fill=BLACK, font=f)
            end = label_w + max(1, round(value * bar_w))
            d.rectangle([label_w, y + 4, end, y + row_height - 4], fill=hex_rgb(CATEGORY_COLORS[0]))
            d.text((end + 4, y + 3), f"{100 * value:.1f}%", fill=BLACK, font=f)
            y += row_height
    return np.asarray(canvas)


def save_png(img, path) -> Path:
    """Write an (H, W, 3) uint8 image as PNG (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8_rgb(img)).save(path, format="PNG")
    return path
