"""The built-in dataset: ten classes of procedurally drawn shapes on textured backgrounds.

Everything but the shape is drawn independently of the class (colour, size, position, rotation,
background texture and noise), so the label can only be read from the shape's outline: a linear
model on raw pixels stays far from solving it, while a small ViT learns it in a few epochs and its
attention lands on the shape.

Images are rendered as signed distance fields on the pixel grid, vectorised with numpy over a chunk of
images at a time (anti-aliased edges, no per-image Python loop).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .cache import cached_arrays

#: Bump when the drawing changes: it is part of the cache key.
GENERATOR_VERSION = 2

CLASSES = ("circle", "square", "triangle", "cross", "ring", "star", "frame", "crescent", "heart", "arrow")

_CHUNK = 2048  # images rendered at once: bounds memory to ~30 MB per float32 field at 64x64
# Ranges of the nuisance factors (fractions of the image size or of full intensity).
RADIUS = (0.28, 0.45)  # shape half-extent
TEXTURE = 0.12  # the background's second colour differs from its first by up to this per channel
NOISE = 0.04  # largest per-pixel Gaussian noise sigma


def _regular(n: int, radius: float, phase: float = math.pi / 2) -> np.ndarray:
    a = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([radius * np.cos(a), radius * np.sin(a)], 1)


def _star(points: int, outer: float, inner: float) -> np.ndarray:
    a = math.pi / 2 + math.pi * np.arange(2 * points) / points
    r = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


_TRIANGLE = _regular(3, 0.95)
_STAR = _star(5, 0.98, 0.42)
_ARROW = np.array([(-0.85, -0.2), (0.1, -0.2), (0.1, -0.6), (0.9, 0.0), (0.1, 0.6), (0.1, 0.2), (-0.85, 0.2)])


def _sd_polygon(x: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance to a polygon (negative inside), after Inigo Quilez's sdPolygon."""
    d = (x - v[0, 0]) ** 2 + (y - v[0, 1]) ** 2
    inside = np.zeros(x.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(v.tolist(), np.roll(v, 1, 0).tolist()):
        ex, ey = bx - ax, by - ay
        wx, wy = x - ax, y - ay
        t = np.clip((wx * ex + wy * ey) * (1 / (ex * ex + ey * ey)), 0, 1)
        np.minimum(d, (wx - ex * t) ** 2 + (wy - ey * t) ** 2, out=d)
        crosses = (y >= ay) != (y >= by)  # the edge straddles the horizontal through the point
        left = (ex * wy > ey * wx) == (by > ay)
        inside ^= crosses & left
    return np.where(inside, -1, 1) * np.sqrt(d)


def _sd_box(x: np.ndarray, y: np.ndarray, hx: float, hy: float) -> np.ndarray:
    qx, qy = np.abs(x) - hx, np.abs(y) - hy
    return np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0)


def _sd_heart(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inigo Quilez's exact sdHeart (tip at the origin, lobes up to 1.1), scaled and centred, y down."""
    k = 0.65
    px, py = np.abs(x) * k, 0.55 - y * k
    lobe = np.hypot(px - 0.25, py - 0.75) - math.sqrt(2) / 4
    m = np.maximum(px + py, 0) * 0.5
    body = np.sqrt(np.minimum(px**2 + (py - 1) ** 2, (px - m) ** 2 + (py - m) ** 2)) * np.sign(px - py)
    return np.where(px + py > 1, lobe, body) / k


def _sdf(label: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance of each point (in the shape's unit frame) to the outline of class `label`."""
    name = CLASSES[label]
    if name == "circle":
        return np.hypot(x, y) - 0.8
    if name == "square":
        return _sd_box(x, y, 0.64, 0.64)
    if name == "triangle":
        return _sd_polygon(x, y, _TRIANGLE)
    if name == "cross":
        return np.minimum(_sd_box(x, y, 0.9, 0.26), _sd_box(x, y, 0.26, 0.9))
    if name == "ring":
        return np.abs(np.hypot(x, y) - 0.66) - 0.22
    if name == "star":
        return _sd_polygon(x, y, _STAR)
    if name == "frame":
        return np.abs(_sd_box(x, y, 0.5, 0.5)) - 0.2
    if name == "crescent":
        return np.maximum(np.hypot(x, y) - 0.85, 0.68 - np.hypot(x - 0.45, y))
    if name == "heart":
        return _sd_heart(x, y)
    if name == "arrow":
        return _sd_polygon(x, y, _ARROW)
    raise ValueError(f"unknown shape class {label}")


def _smooth_upsample(size: int, cells: int) -> np.ndarray:
    """(size, cells) matrix that interpolates a coarse grid smoothly (cosine weights) onto `size` pixels."""
    pos = (np.arange(size) + 0.5) / size * (cells - 1)
    dist = np.abs(pos[:, None] - np.arange(cells)[None])
    w = np.where(dist < 1, 0.5 + 0.5 * np.cos(np.pi * np.minimum(dist, 1)), 0)
    return (w / w.sum(1, keepdims=True)).astype(np.float32)


def _backgrounds(rng: np.random.Generator, n: int, size: int, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Per-image texture field in [0, 1], (n, size, size): gradients, blotches, stripes or checks."""
    kind = rng.integers(0, 4, n)
    phi = rng.uniform(0, 2 * math.pi, (n, 1, 1)).astype(np.float32)
    freq = rng.uniform(2, 5, (n, 1, 1)).astype(np.float32)  # periods per image
    phase = rng.uniform(0, 2 * math.pi, (n, 1, 1)).astype(np.float32)
    coarse = rng.random((n, 5, 5), dtype=np.float32)
    t = np.empty((n, size, size), np.float32)
    cx, cy = gx - size / 2, gy - size / 2
    for k in range(4):
        m = kind == k
        along = (cx * np.cos(phi[m]) + cy * np.sin(phi[m])) / size  # in [-0.71, 0.71]
        if k == 0:  # linear gradient
            t[m] = 0.5 + 0.7 * along
        elif k == 1:  # smooth blotches
            up = _smooth_upsample(size, 5)
            t[m] = np.einsum("hi,nij,wj->nhw", up, coarse[m], up, optimize=True)
        elif k == 2:  # stripes
            t[m] = 0.5 + 0.5 * np.sin(2 * math.pi * freq[m] * along + phase[m])
        else:  # checks, rotated
            across = (cy * np.cos(phi[m]) - cx * np.sin(phi[m])) / size
            wave = np.sin(2 * math.pi * freq[m] * along + phase[m]) * np.sin(2 * math.pi * freq[m] * across)
            t[m] = wave > 0
    return np.clip(t, 0, 1, out=t)


def _colours(rng: np.random.Generator, n: int):
    """Two nearby background colours, and a foreground colour 0.35-0.6 lighter than them in luminance.

    The shape is always the lighter part: with random polarity a ViT's linear patch embedding sees
    features that cancel out on average, and it learns several times slower.
    """
    bg = rng.uniform(0.02, 0.55, (n, 3))
    bg2 = np.clip(bg + rng.uniform(-TEXTURE, TEXTURE, (n, 3)), 0, 1)
    lum = (bg + bg2).mean(1) / 2
    target = lum + np.minimum(rng.uniform(0.35, 0.6, n), 1 - lum)
    chroma = rng.uniform(-0.3, 0.3, (n, 3))
    fg = np.clip(target[:, None] + chroma - chroma.mean(1, keepdims=True), 0, 1)
    return [c.astype(np.float32) for c in (bg, bg2, fg)]


def render_shapes(n: int, img_size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw `n` images, classes balanced and shuffled: (uint8 (n, img_size, img_size, 3), int64 (n,)).

    Deterministic in (n, img_size, seed).
    """
    if img_size < 16:
        raise ValueError(f"img_size {img_size} is too small for the built-in shapes (minimum 16)")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    images = np.empty((n, img_size, img_size, 3), dtype=np.uint8)
    coords = np.arange(img_size, dtype=np.float32) + 0.5
    gy, gx = np.meshgrid(coords, coords, indexing="ij")
    for start in range(0, n, _CHUNK):
        chunk = labels[start : start + _CHUNK]
        order = np.argsort(chunk, kind="stable")  # drawn grouped by class, so each class is one slice
        images[start + order] = _render_chunk(rng, chunk[order], img_size, gx, gy)
    return images, labels


def _render_chunk(rng, labels, size, gx, gy) -> np.ndarray:
    """Images of `labels` (sorted), composited in place in float32."""
    n = len(labels)
    f32 = np.float32
    radius = (size * rng.uniform(*RADIUS, n)).astype(f32)[:, None, None]  # shape half-extent in pixels
    cx = (rng.uniform(0, 1, (n, 1, 1)) * (size - 1.9 * radius) + 0.95 * radius).astype(f32)
    cy = (rng.uniform(0, 1, (n, 1, 1)) * (size - 1.9 * radius) + 0.95 * radius).astype(f32)
    theta = rng.uniform(0, 2 * math.pi, (n, 1, 1)).astype(f32)
    stretch = rng.uniform(0.9, 1.1, (n, 1, 1)).astype(f32)  # mild anisotropy, so extents are not a tell
    bg, bg2, fg = (c[:, :, None, None] for c in _colours(rng, n))
    texture = _backgrounds(rng, n, size, gx, gy)[:, None]
    noise = rng.standard_normal((n, 1, size, size), dtype=f32) * rng.uniform(0, NOISE, (n, 1, 1, 1)).astype(f32)

    dx, dy = gx - cx, gy - cy
    c, s = np.cos(theta), np.sin(theta)
    u = (dx * c + dy * s) / (radius * stretch)
    v = (dy * c - dx * s) / radius
    alpha = np.empty((n, 1, size, size), f32)
    bounds = np.searchsorted(labels, np.arange(len(CLASSES) + 1))
    for label, (a, b) in enumerate(itertools.pairwise(bounds)):
        if b > a:  # distance in pixels -> a one-pixel soft edge
            alpha[a:b, 0] = np.clip(0.5 - _sdf(label, u[a:b], v[a:b]) * radius[a:b], 0, 1)

    # Channels first while compositing: numpy's inner loops then run over whole rows, not over 3 channels.
    img = texture * (bg2 - bg)
    img += bg
    img += (fg - img) * alpha
    img += noise
    np.clip(img, 0, 1, out=img)
    img *= 255
    img += 0.5
    return img.astype(np.uint8).transpose(0, 2, 3, 1)


def load_shapes(split: str, n: int, img_size: int = 32, seed: int = 0, cache_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """The `split` ('train' or 'val') of the built-in dataset, from the on-disk cache or freshly drawn.

    Train and val are drawn from different seeds, so no image is shared between them.
    """
    split_seed = {"train": 0, "val": 1}[split]
    key = {
        "dataset": "shapes",
        "version": GENERATOR_VERSION,
        "split": split,
        "n": n,
        "img_size": img_size,
        "seed": seed,
    }
    arrays = cached_arrays(
        key,
        lambda: dict(zip(("images", "labels"), render_shapes(n, img_size, seed * 2 + split_seed))),
        cache_dir=cache_dir,
    )
    return arrays["images"], arrays["labels"]
