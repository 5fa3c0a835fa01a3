"""Our models out: a self-describing safetensors file, and state dicts in timm's layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .catalogue import create_model, family_of
from .hybrid import TorchvisionResNet
from .weights.adapt import pretrained_to_vit

#: safetensors metadata key holding the model's JSON config.
CONFIG_KEY = "vitstudio_config"
FORMAT = "vitstudio.model"
FORMAT_VERSION = 1


def export_safetensors(model: nn.Module, path, name: str | None = None, **args) -> Path:
    """Write the weights to `path` (.safetensors) with a JSON config `{name, args}` in its metadata.

    `load_model_file(path)` rebuilds the model as `create_model(name, **args)` and loads the weights
    strictly. A model made by `create_model` knows its name and arguments; otherwise pass `name` (a
    registered model) and the arguments that differ from its defaults. The write is atomic.
    """
    if name is None:
        spec = getattr(model, "model_spec", None)
        if spec is None:
            raise ValueError("this model was not built by create_model: pass name= (and its arguments)")
        name, args = spec["name"], {**spec["args"], **args}
    config = {"format": FORMAT, "version": FORMAT_VERSION, "name": name, "args": args}
    try:
        metadata = {CONFIG_KEY: json.dumps(config)}
    except TypeError as e:
        raise ValueError(f"the model's arguments cannot be written as JSON ({e}); pass plain values") from None
    return _save(model.state_dict(), path, metadata)


def read_model_config(path) -> dict:
    """The `{format, version, name, args}` config stored by `export_safetensors`."""
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(CONFIG_KEY)
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from None
    if raw is None:
        raise ValueError(
            f"{path} has no vitstudio model config; load its weights into a model you build "
            "with load_pretrained(model, path)"
        )
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"{path}: its vitstudio model config is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: its vitstudio model config is not a JSON object")
    if config.get("format") != FORMAT or config.get("version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path}: unsupported model file format {config.get('format')!r} version {config.get('version')!r}"
        )
    return config


def load_model_file(path) -> nn.Module:
    """Rebuild the exact model saved by `export_safetensors` (architecture and weights)."""
    config = read_model_config(path)
    model = create_model(config["name"], **config["args"])
    model.load_state_dict(load_file(str(path)), strict=True)
    return model


def timm_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights in the layout timm's matching model loads with `strict=True`.

    ViT, DeiT (plain and distilled) and ResNetV2 hybrids are already in timm's layout; MAE and masked
    patch prediction models give their encoder, a timm ViT with `num_classes=0`.
    """
    if model.pos_embed_kind == "learned_2d":
        raise ValueError("timm's ViT has no separate row/column position tables (pos_embed='learned_2d')")
    if isinstance(getattr(model, "pre_logits", None), nn.Sequential):
        raise ValueError("timm's ViT has no pre-logits layer (representation_size)")
    if isinstance(getattr(model.patch_embed, "backbone", None), TorchvisionResNet):
        raise ValueError("timm has no ViT with a torchvision ResNet backbone")
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    if family_of(model).pretraining:
        sd = pretrained_to_vit(sd)
    return sd


def export_timm(model: nn.Module, path) -> Path:
    """Write `timm_state_dict(model)` to a .safetensors file (timm's `load_checkpoint` reads it)."""
    return _save(timm_state_dict(model), path, None)


def _save(state_dict: dict, path, metadata) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path
