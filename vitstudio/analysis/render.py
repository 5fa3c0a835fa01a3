"""Figures as (H, W, 3) uint8 RGB arrays, shared by the GUI inspector and `vitstudio inspect`.

Colormaps, heatmap overlays, labelled tile grids and bar charts, drawn with numpy and PIL (plots with axes are
`vitstudio.charts`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..charts import CATEGORY_COLORS, fit_text, hex_rgb, load_font, text_size
from ._arrays import as_numpy, pair

#: evenly spaced stops of matplotlib's perceptually uniform maps (and jet and gray), interpolated linearly.
COLORMAPS = {
    "inferno": ["#000004", "#1f0c48", "#550f6d", "#88226a", "#ba3655", "#e35933", "#f98e09", "#f9cb35", "#fcffa4"],
    "viridis": ["#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81", "#5cc863", "#aadc32", "#fde725"],
    "jet": ["#00007f", "#0000ff", "#007fff", "#00ffff", "#7fff7f", "#ffff00", "#ff7f00", "#ff0000", "#7f0000"],
    "gray": ["#000000", "#ffffff"],
}
WHITE, BLACK, GRAY = (255, 255, 255), (0, 0, 0), (128, 128, 128)


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
