"""Every analysis of one model on one image (`inspect_image`), and all of it written as files (`write_report`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..models import family_of
from . import figures, render
from .attention import collect_attention, features_and_attention, mean_attention_distance
from .filters import patch_filters
from .image import IMAGENET_MEAN, IMAGENET_STD, fit_image, normalize
from .inspection import Inspection, geometry
from .mae import mae_reconstruction
from .position import patch_position_embedding, position_similarity
from .predictions import domain_note, has_classifier, predict_from_features


@torch.no_grad()
def inspect_image(
    model, image: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD, class_names=None, crop_pct: float = 1.0
) -> Inspection:
    """Run every analysis of `model` (in eval mode) on `image` ((H, W, 3) uint8, any size: fitted to the input,
    its centre `crop_pct` kept as pretrained weights are evaluated)."""
    model.eval()
    geo = geometry(model)
    out_of_domain = domain_note(image.shape[:2], geo.img_size)
    image = fit_image(image, geo.img_size, crop_pct)
    x = normalize(image, mean, std).to(next(model.parameters()).device)
    feats, attn = features_and_attention(model, x)
    attn = attn[:, 0]
    try:
        similarity, note = position_similarity(patch_position_embedding(model), geo.grid), ""
    except ValueError as e:
        similarity, note = None, str(e)
    return Inspection(
        image=image,
        x=x,
        geometry=geo,
        attention=attn,
        distance=mean_attention_distance(attn, geo.grid, geo.patch_px, geo.num_prefix_tokens),
        similarity=similarity,
        position_note=note,
        filters=patch_filters(model),
        predictions=predict_from_features(model, feats, 5, class_names) if has_classifier(model) else None,
        domain_note=out_of_domain,
    )


@torch.no_grad()
def attention_distance(model, images, mean=IMAGENET_MEAN, std=IMAGENET_STD, batch_size: int = 16) -> np.ndarray:
    """Mean attention distance (layers, heads) in pixels, averaged over `images` ((H, W, 3) uint8, any size),
    as the ViT paper's Figure 7 averages over many images rather than one."""
    model.eval()
    geo = geometry(model)
    device = next(model.parameters()).device
    total = 0.0
    for i in range(0, len(images), batch_size):
        chunk = images[i : i + batch_size]
        x = torch.cat([normalize(fit_image(im, geo.img_size), mean, std) for im in chunk]).to(device)
        attn = collect_attention(model, x)
        total = total + mean_attention_distance(attn, geo.grid, geo.patch_px, geo.num_prefix_tokens) * len(chunk)
    return total / len(images)


def write_report(
    model,
    image: np.ndarray,
    out_dir,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    class_names=None,
    mask_ratio: float = 0.75,
    seed: int = 0,
    alpha: float = 0.6,
    cmap: str = "inferno",
    examples: tuple[list[np.ndarray], str] | None = None,
    crop_pct: float = 1.0,
) -> list[Path]:
    """Write every figure for `model` on `image` into `out_dir`; return the paths written.

    The mean attention distance averages over `examples` (images and what they are, see
    `sources.example_images`) when given, else over `image` alone.

    input.png, patches.png, patch_sequence.png, attention_layer_NN.png (a head grid per layer),
    rollout.png, attention_distance.png/.json, position_similarity.png (or .txt saying why not),
    filters.png/.txt, and predictions.png/.txt/.json for classifiers or mae_reconstruction.png for MAE.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    insp = inspect_image(model, image, mean, std, class_names, crop_pct)
    written: list[Path] = []

    def save(name: str, fig: np.ndarray) -> None:
        written.append(render.save_png(fig, out / name))

    def save_text(name: str, text: str) -> None:
        (out / name).write_text(text)
        written.append(out / name)

    image, geo = insp.image, insp.geometry
    save("input.png", image)
    save("patches.png", figures.patches_figure(image, geo.patch_px))
    save("patch_sequence.png", figures.sequence_figure(image, geo.patch_px, geo.num_prefix_tokens))
    for layer in range(len(insp.attention)):
        save(
            f"attention_layer_{layer + 1:02d}.png",
            figures.attention_figure(insp, layer, all_heads=True, alpha=alpha, cmap=cmap),
        )
    save("rollout.png", figures.attention_figure(insp, rollout=True, alpha=alpha, cmap=cmap))
    distance, over = insp.distance, "the inspected image"
    if examples is not None:
        distance, over = attention_distance(model, examples[0], mean, std), examples[1]
    save("attention_distance.png", figures.distance_figure(distance, over))
    save_text("attention_distance.json", json.dumps({"pixels": distance.round(3).tolist(), "images": over}, indent=1))
    if insp.similarity is None:
        save_text("position_similarity.txt", insp.position_note + "\n")
    else:
        save("position_similarity.png", figures.position_figure(insp.similarity))
    save("filters.png", figures.filters_figure(insp.filters))
    save_text("filters.txt", insp.filters.note + "\n")
    if insp.predictions is not None:
        save("predictions.png", figures.predictions_figure(insp.predictions))
        note = f"note: {insp.domain_note}\n" if insp.domain_note else ""
        save_text("predictions.txt", note + figures.predictions_text(insp.predictions))
        save_text("predictions.json", json.dumps(insp.predictions, indent=1))
    if family_of(model).reconstructs:
        panels = mae_reconstruction(model, insp.x, mask_ratio, seed, mean, std)
        save("mae_reconstruction.png", figures.mae_figure(panels))
    return written
