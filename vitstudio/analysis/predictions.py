"""What the model thinks it sees: top-k classes with probabilities."""

from __future__ import annotations

import torch

from ..models import family_of

Prediction = list[tuple[str, float]]

#: an image shrunk more than this (per side) to the model's input is far from what the model was trained on.
MAX_SHRINK = 4.0


def domain_note(image_size, input_size) -> str:
    """Why predictions on an image may mean nothing, or "": the image (H, W) is shrunk more than `MAX_SHRINK`
    times to the model's input (H, W), as a photo given to a model trained on 32x32 shapes is."""
    shrink = min(image_size[0] / input_size[0], image_size[1] / input_size[1])
    if shrink <= MAX_SHRINK:
        return ""
    return (
        f"out of domain: this {image_size[1]}x{image_size[0]} image is shrunk {shrink:.0f}x to the model's "
        f"{input_size[1]}x{input_size[0]} input, far from the images it learned from; its classes are only the "
        "ones it knows, so these probabilities say little about the image"
    )


def top_k(logits: torch.Tensor, k: int = 5, class_names=None) -> Prediction:
    """The `k` most probable classes of one image's logits (C,) as (name, probability), best first."""
    probs = logits.detach().float().reshape(-1).softmax(0)
    p, idx = probs.topk(min(k, probs.numel()))
    if class_names is not None and len(class_names) != probs.numel():
        raise ValueError(f"{len(class_names)} class names for {probs.numel()} classes")
    names = class_names or [f"class {i}" for i in range(probs.numel())]
    return [(names[i], float(q)) for q, i in zip(p.tolist(), idx.tolist())]


def has_classifier(model) -> bool:
    """Whether the model classifies: a transformer of ours with a head (pretraining models have none)."""
    family = family_of(model)
    return family.transformer and not family.pretraining and model.num_classes > 0


@torch.no_grad()
def predict(model, x: torch.Tensor, k: int = 5, class_names=None) -> dict[str, Prediction]:
    """Top-k predictions for one image `x` (1, 3, H, W), by head (see `predict_from_features`)."""
    return predict_from_features(model, model.forward_features(x), k, class_names)


@torch.no_grad()
def predict_from_features(model, feats: torch.Tensor, k: int = 5, class_names=None) -> dict[str, Prediction]:
    """Top-k predictions from the final tokens `feats` (1, N, D) of `model.forward_features`.

    A classifier gives {'prediction': ...}. A distilled DeiT (a `head_dist`) gives its class head,
    its distillation head and 'average', the softmax of the two heads' mean logits (what it
    predicts at inference).
    """
    if not has_classifier(model):
        raise ValueError(f"{type(model).__name__} has no classification head to predict with")
    if family_of(model).name != "deit":
        return {"prediction": top_k(model.forward_head(feats)[0], k, class_names)}
    cls_logits, dist_logits = model.head(feats[:, 0]), model.head_dist(feats[:, 1])
    return {
        "class head": top_k(cls_logits[0], k, class_names),
        "distillation head": top_k(dist_logits[0], k, class_names),
        "average": top_k((cls_logits[0] + dist_logits[0]) / 2, k, class_names),
    }
