"""Everything the inspector shows for one model and one image, written as PNG files (`vitstudio inspect`)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import figures, render
from .attention import attention_rollout, collect_attention, mean_attention_distance, token_attention
from .filters import patch_filters
from .image import IMAGENET_MEAN, IMAGENET_STD, fit_image, normalize
from .mae import mae_reconstruction
from .position import patch_position_embedding, position_similarity
from .predictions import predict


@dataclass
class Geometry:
    """How a model turns an image into tokens."""

    img_size: tuple[int, int]  # input (H, W) in pixels
    grid: tuple[int, int]  # patch grid (gh, gw)
    num_prefix_tokens: int  # class, distillation, ... tokens before the patches

    @property
    def patch_px(self) -> tuple[int, int]:
        """Pixels one token covers (a hybrid's total stride)."""
        return self.img_size[0] // self.grid[0], self.img_size[1] // self.grid[1]


def geometry(model) -> Geometry:
    return Geometry(tuple(model.patch_embed.img_size), tuple(model.grid_size), int(model.num_prefix_tokens))


def is_mae(model) -> bool:
    return hasattr(model, "reconstruct")


def write_report(model, image: np.ndarray, out_dir, mean=IMAGENET_MEAN, std=IMAGENET_STD, class_names=None,
                 mask_ratio: float = 0.75, seed: int = 0, alpha: float = 0.6, cmap: str = "inferno") -> list[Path]:
    """Write every figure for `model` on `image` ((H, W, 3) uint8, any size) into `out_dir`; return the paths.

    Files: patches.png, patch_sequence.png, attention_layer_NN.png (a head grid per layer),
    rollout.png, attention_distance.png (+ .json), position_similarity.png, filters.png (+ .txt),
    predictions.txt/.json for classifiers, mae_reconstruction.png for masked autoencoders.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    geo = geometry(model)
    image = fit_image(image, geo.img_size)
    x = normalize(image, mean, std).to(next(model.parameters()).device)
    written: list[Path] = []

    def save(name: str, fig: np.ndarray) -> None:
        written.append(render.save_png(fig, out / name))

    def save_text(name: str, text: str) -> None:
        (out / name).write_text(text)
        written.append(out / name)

    save("input.png", image)
    save("patches.png", figures.patches_figure(image, geo.patch_px))
    save("patch_sequence.png", figures.sequence_figure(image, geo.patch_px))

    attn = collect_attention(model, x)[:, 0]  # (layers, heads, N, N)
    maps = token_attention(attn, geo.grid, geo.num_prefix_tokens)
    for layer, layer_maps in enumerate(maps):
        save(f"attention_layer_{layer + 1:02d}.png", figures.head_grid_figure(
            image, layer_maps, alpha, cmap, title=f"class-token attention, layer {layer + 1} of {len(maps)}"))
    rollout = attention_rollout(attn, geo.grid, geo.num_prefix_tokens)
    save("rollout.png", figures.overlay_figure(image, rollout, alpha, cmap, title="attention rollout (mean over heads)"))

    distance = mean_attention_distance(attn, geo.grid, geo.patch_px, geo.num_prefix_tokens)
    save("attention_distance.png", figures.distance_figure(distance))
    save_text("attention_distance.json", json.dumps({"pixels": distance.round(3).tolist()}, indent=1))

    try:
        pos = patch_position_embedding(model)
    except ValueError as e:
        save_text("position_similarity.txt", f"{e}\n")
    else:
        save("position_similarity.png", figures.position_figure(position_similarity(pos, geo.grid)))

    filters = patch_filters(model)
    save("filters.png", figures.filters_figure(filters))
    save_text("filters.txt", filters.note + "\n")

    if is_mae(model):
        panels = mae_reconstruction(model, x, mask_ratio, seed, mean, std)
        save("mae_reconstruction.png", figures.mae_figure(panels))
    else:
        preds = predict(model, x, 5, class_names)
        save_text("predictions.txt", figures.predictions_text(preds))
        save_text("predictions.json", json.dumps(preds, indent=1))
    return written
