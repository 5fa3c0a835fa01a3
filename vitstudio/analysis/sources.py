"""Where the inspected model comes from: a named model, a weights file or a training run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from ..data import datasets_from_config, sample_images
from ..models import create_model, load_model_file, load_pretrained, read_model_config
from ..models.catalogue import load_pretrained_weights
from ..train.runs import find_run
from .image import IMAGENET_MEAN, IMAGENET_STD, bundled_images, load_image


@dataclass
class ModelSource:
    """A model ready to inspect, with what is needed to feed it and to name its outputs."""

    model: nn.Module
    label: str  # what to call it in a title bar or a report
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    class_names: list[str] | None = field(default=None)
    data: object | None = None  # the data section of the config it was trained with (a run's), if known
    crop_pct: float = 1.0  # the share of the image's centre the model sees (pretrained weights: their tag's)


def from_name(name: str, **overrides) -> ModelSource:
    """A registered model with freshly initialised (random) weights (a pretrained tag: its architecture, fed
    as its weights would be)."""
    model = create_model(name, **overrides).eval()
    cfg = model.pretrained_cfg
    if cfg is None:
        return ModelSource(model, f"{name} (random weights)")
    return ModelSource(model, f"{cfg.model} (random weights)", cfg.mean, cfg.std, cfg.class_names(), None, cfg.crop_pct)


def from_pretrained(name: str, tqdm_class=None) -> ModelSource:
    """A model with pretrained weights (`model.tag` or `hf-hub:...`; downloaded once), fed with its tag's
    normalisation and named with its classes (None for a head that is not ImageNet-1k's)."""
    model = create_model(name)
    cfg = model.pretrained_cfg
    load_pretrained_weights(model, cfg, tqdm_class)
    heads = {"imagenet-21k": ", ImageNet-21k head", "none": ", no classifier"}.get(cfg.labels, "")
    label = f"{cfg.name} ({cfg.source}{heads})"
    return ModelSource(model.eval(), label, cfg.mean, cfg.std, cfg.class_names(), None, cfg.crop_pct)


def records_architecture(path) -> bool:
    """Whether a weights file says which model it holds (a vitstudio .safetensors export does)."""
    try:
        read_model_config(path)
    except ValueError:
        return False
    return True


def from_weights(path, name: str | None = None, **overrides) -> ModelSource:
    """A model with weights from a file.

    A vitstudio export rebuilds itself; any other file (timm, DeiT, MAE, Google .npz, transformers)
    is loaded into the registered model `name` (with `overrides`, e.g. `num_classes`).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such weights file")
    if name is None:
        if not records_architecture(path):
            raise ValueError(f"{path.name} does not record which model it holds: name the model to load it into")
        return ModelSource(load_model_file(path).eval(), path.name)
    model = create_model(name, **overrides)
    load_pretrained(model, path)
    return ModelSource(model.eval(), f"{path.name} in {name}")


def from_run(ref, which: str = "final", runs_dir=None) -> ModelSource:
    """A training run's model (`which`: 'final', 'best' or 'last' weights), with the run's input
    normalisation and class names. `ref` is a run folder, id, or a part of an id that only it has."""
    try:
        run = find_run(ref, runs_dir)
        weights = run.weights_file(which).name
        model = run.load_model(which)
    except (LookupError, FileNotFoundError) as e:
        raise ValueError(str(e)) from None
    status = run.status()
    if status.get("mean") is None:
        raise ValueError(f"run {run.id} does not record its input normalisation (trained by an older vitstudio)")
    return ModelSource(
        model,
        f"run {run.id} ({weights})",
        tuple(status["mean"]),
        tuple(status["std"]),
        status.get("class_names"),
        run.config().data,
    )


def example_images(source: ModelSource, n: int = 32) -> tuple[list[np.ndarray], str]:
    """Up to `n` images to average an analysis over, and what they are: validation images of the
    dataset the model was trained on when it is known and on disk, else the bundled sample images."""
    if source.data is not None:
        try:
            samples = sample_images(datasets_from_config(source.data, download=False), n)
            return [s.image for s in samples], f"{len(samples)} validation images of {source.data.name}"
        except (OSError, ValueError) as e:  # the dataset is not on this machine (DatasetNotFound is an OSError)
            note = f" ({source.data.name} is not available: {e})"
    else:
        note = ""
    images = [load_image(p) for p in bundled_images()[:n]]
    return images, f"the {len(images)} bundled sample images{note}"
