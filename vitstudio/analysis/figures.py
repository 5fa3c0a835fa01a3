"""The inspector's figures: each analysis rendered as an (H, W, 3) uint8 image.

The GUI shows these arrays and exports them; `vitstudio inspect` writes them as PNG files.
"""

from __future__ import annotations

import numpy as np

from .. import charts
from . import render
from ._arrays import as_numpy
from .attention import attention_rollout, token_attention
from .filters import FilterComponents
from .inspection import Inspection
from .mae import MAEPanels
from .patches import patch_sequence, patchify

#: what the prefix tokens are called, by position.
TOKEN_NAMES = ("class token", "distillation token")

#: tiles smaller than this many pixels are enlarged by an integer factor so they stay visible.
MIN_TILE = 96


def zoom(side: int, target: int = MIN_TILE) -> int:
    """Integer nearest-neighbour factor that brings a `side`-pixel tile to at least `target` pixels."""
    return max(1, -(-target // side))


def patches_figure(image: np.ndarray, patch_px) -> np.ndarray:
    """The image cut into its patch grid, patches separated by gaps."""
    grid = patchify(image, patch_px)
    _gh, gw = grid.shape[:2]
    f = zoom(min(grid.shape[2:4]), 32)
    return render.tile_grid([render.scale_up(p, f) for p in patch_sequence(grid)], ncols=gw, gap=2)


def sequence_figure(image: np.ndarray, patch_px, num_prefix_tokens: int = 1, per_row: int = 16) -> np.ndarray:
    """The flattened patch sequence, labelled with each patch's token index (after the prefix tokens)."""
    seq = patch_sequence(patchify(image, patch_px))
    f = zoom(min(seq.shape[1:3]), 32)
    labels = [str(num_prefix_tokens + i) for i in range(len(seq))]
    return render.tile_grid([render.scale_up(p, f) for p in seq], ncols=min(per_row, len(seq)), gap=3, labels=labels)


def heat_tiles(
    image: np.ndarray, maps: np.ndarray, alpha: float = 0.6, cmap: str = "inferno", smooth: bool = False
) -> list[np.ndarray]:
    """One overlay of each (gh, gw) map on the (enlarged) image."""
    big = render.scale_up(image, zoom(min(image.shape[:2]), 160))
    return [render.overlay(big, m, alpha, cmap, smooth) for m in maps]


def head_grid_figure(
    image: np.ndarray,
    maps: np.ndarray,
    alpha: float = 0.6,
    cmap: str = "inferno",
    title: str = "",
    smooth: bool = False,
) -> np.ndarray:
    """Each head's (gh, gw) attention map over the image, labelled 'head h' (from 1), with an optional title."""
    labels = [f"head {h + 1}" for h in range(len(maps))]
    fig = render.tile_grid(heat_tiles(image, maps, alpha, cmap, smooth), ncols=min(4, len(maps)), labels=labels)
    fig = render.with_colorbar(fig, cmap, "low", "high", "each head on its own scale")
    return render.titled(fig, title) if title else fig


def overlay_figure(
    image: np.ndarray,
    heat: np.ndarray,
    alpha: float = 0.6,
    cmap: str = "inferno",
    title: str = "",
    smooth: bool = False,
) -> np.ndarray:
    """The image and one heatmap over it, side by side, above the colour scale of the heatmap's values."""
    big = render.scale_up(image, zoom(min(image.shape[:2]), 256))
    fig = render.tile_grid([big, render.overlay(big, heat, alpha, cmap, smooth)], ncols=2, gap=4)
    heat = as_numpy(heat)
    fig = render.with_colorbar(fig, cmap, f"{np.nanmin(heat):.3g}", f"{np.nanmax(heat):.3g}", "attention weight")
    return render.titled(fig, title) if title else fig


def token_name(token: int | None) -> str:
    if token is None:
        return "patch-token mean"
    return TOKEN_NAMES[token] if token < len(TOKEN_NAMES) else f"prefix token {token}"


def attention_figure(
    insp: Inspection,
    layer: int = 0,
    head: int = 0,
    all_heads: bool = False,
    token: int | str | None = "readout",
    rollout: bool = False,
    head_fusion: str = "mean",
    discard_ratio: float = 0.0,
    alpha: float = 0.6,
    cmap: str = "inferno",
    smooth: bool = False,
) -> np.ndarray:
    """The attention view: query `token`'s attention at `layer` (one head, or all heads as a grid),
    or, with `rollout`, the attention rollout through all layers. `token` is a prefix token's index,
    None for the patch tokens' mean, or 'readout': the one the model's head reads (`readout_token`).
    A model without prefix tokens always shows the patch tokens' mean."""
    geo, attn = insp.geometry, insp.attention
    if token == "readout":
        token = geo.readout_token
    if geo.num_prefix_tokens == 0:
        token = None
    who = token_name(token)
    if rollout:
        heat = attention_rollout(attn, geo.grid, geo.num_prefix_tokens, head_fusion, discard_ratio, token)
        title = f"attention rollout of the {who} ({head_fusion} over heads, discard {discard_ratio:.0%})"
        return overlay_figure(insp.image, heat, alpha, cmap, title, smooth)
    maps = token_attention(attn[layer], geo.grid, geo.num_prefix_tokens, token)
    where = f"layer {layer + 1} of {len(attn)}"
    if all_heads:
        return head_grid_figure(insp.image, maps, alpha, cmap, f"{who} attention, {where}", smooth)
    return overlay_figure(insp.image, maps[head], alpha, cmap, f"{who} attention, {where}, head {head + 1}", smooth)


def position_figure(similarity: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """The (gh, gw) grid of small maps: map (i, j) is patch (i, j)'s position-embedding cosine similarity
    to every patch, on a shared scale from -1 to 1."""
    gh, gw = similarity.shape[:2]
    f = zoom(max(gh, gw), 48)
    tiles = [
        render.scale_up(render.colormap(similarity[i, j], cmap, vmin=-1, vmax=1), f)
        for i in range(gh)
        for j in range(gw)
    ]
    gap = 1 if gh * gw > 64 else 2
    return render.titled(
        render.tile_grid(tiles, ncols=gw, gap=gap, background=render.WHITE),
        "position embedding similarity (cosine, -1 to 1): row i, column j = patch (i, j)",
    )


def filters_figure(filters: FilterComponents, ncols: int = 7) -> np.ndarray:
    """The principal components as RGB tiles, each scaled to its own range, labelled with explained variance."""
    comps = filters.components
    if comps.shape[-1] not in (1, 3):  # not an RGB image: show each component's channel mean
        comps = comps.mean(-1, keepdims=True)
    f = zoom(max(comps.shape[1:3]), 48)
    tiles = [render.scale_up(render.normalize01(c), f) for c in comps]
    labels = [f"{100 * e:.1f}%" for e in filters.explained]
    fig = render.tile_grid(tiles, ncols=min(ncols, len(tiles)), gap=3, labels=labels)
    return render.titled(fig, f"principal components of the filters ({filters.note})")


def distance_chart(distance: np.ndarray, over: str = "one image") -> charts.Chart:
    """Mean attention distance (layers, heads) as a scatter: network depth against distance, one point per head
    in the head's colour (heads numbered from 1, as layers are); `over` says which images it averages."""
    L, H = distance.shape
    layers = np.arange(1, L + 1)
    heads = tuple(
        charts.Series(layers, distance[:, h], charts.category_color(h, H), str(h + 1), line=False, markers=True)
        for h in range(H)
    )
    return charts.Chart(
        heads,
        xlabel="network depth (layer)",
        ylabel="mean attention distance (pixels)",
        title=f"mean attention distance by head, over {over}",
        legend_title="head",
        size=(360, 480),
        xlim=(0.5, L + 0.5),
        integer_x=True,
        y_from_zero=True,
    )


def distance_figure(distance: np.ndarray, over: str = "one image") -> np.ndarray:
    """`distance_chart` drawn as an (H, W, 3) uint8 image."""
    return distance_chart(distance, over).image()


def mae_figure(panels: MAEPanels) -> np.ndarray:
    """The MAE authors' four panels side by side, labelled; the norm_pix caveat as a title when it applies."""
    shown = panels.panels()
    f = zoom(min(panels.original.shape[:2]), 192)
    fig = render.tile_grid([render.scale_up(p, f) for p in shown.values()], ncols=4, gap=4, labels=list(shown))
    title = f"MAE reconstruction, mask ratio {panels.mask_ratio:.2f}, seed {panels.seed}"
    return render.titled(fig, title + (f"\n{panels.note}" if panels.note else ""))


def predictions_figure(predictions: dict[str, list[tuple[str, float]]]) -> np.ndarray:
    """Top-k predictions by head as horizontal probability bars."""
    return render.bar_chart(predictions)


def predictions_text(predictions: dict[str, list[tuple[str, float]]]) -> str:
    """Top-k predictions by head as plain text, one 'probability  class' line each."""
    out = []
    for head, top in predictions.items():
        out.append(f"{head}:")
        out += [f"  {100 * p:6.2f}%  {name}" for name, p in top]
    return "\n".join(out) + "\n"
