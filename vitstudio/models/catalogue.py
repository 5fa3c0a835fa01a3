"""The model catalogue: every named model and what the rest of the studio needs to know about it.

    entry = model_entry("vit_base_patch16_224")     # also a torchvision classifier name ("resnet18")
    entry.family.name       # 'vit', 'hybrid', 'deit', 'mae', 'mpp' or 'torchvision'
    entry.args(**overrides) # every argument the model is built with: builder defaults, registered, overrides
    entry.accepts           # the argument names its builder takes
    entry.readout(**o)      # what its head reads: 'class token', 'class + distillation tokens', 'patch mean'
    entry.family.objectives # the training objectives it supports (the first is its default)
    entry.input_size, entry.mean, entry.std
    model = create_model("vit_base_patch16_224", num_classes=10)
    family_of(model)        # the Family of any model of ours, from its class

Code that needs to know what a model is asks here, or the model's public attributes; it never guesses
from a name, `hasattr` or a private method. Names are registered once, in `variants.py`.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

from torch import nn

from .mae import MaskedAutoencoderViT
from .mpp import MaskedPatchPredictionViT
from .torchvision_nets import torchvision_classifier, torchvision_classifiers
from .vit import VisionTransformer

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Family:
    """A kind of model: what it learns from and how the studio treats it."""

    name: str
    label: str
    objectives: tuple[str, ...]  # training objectives it supports; the first is its default
    mask_ratio: float | None = None  # pretraining families: the share of patches masked by default
    reconstructs: bool = False  # predicts the pixels of hidden patches (MAE's reconstructions)
    reads_raw_pixels: bool = False  # computes its targets from un-normalised pixels (needs the data's mean/std)
    transformer: bool = True  # a ViT of ours: attention, position embeddings and blocks to inspect

    @property
    def pretraining(self) -> bool:
        """Learns without labels (its forward returns `(loss, pred, mask)`); has no classifier."""
        return self.mask_ratio is not None


FAMILIES: Mapping[str, Family] = MappingProxyType(
    {
        f.name: f
        for f in (
            Family("vit", "ViT", ("supervised", "finetune")),
            Family("hybrid", "Hybrid (CNN features)", ("supervised", "finetune")),
            Family("deit", "DeiT (distilled)", ("supervised", "distill", "finetune")),
            Family("mae", "MAE", ("mae",), mask_ratio=MaskedAutoencoderViT.default_mask_ratio, reconstructs=True),
            Family(
                "mpp",
                "Masked patch prediction",
                ("mpp",),
                mask_ratio=MaskedPatchPredictionViT.default_mask_ratio,
                reads_raw_pixels=True,
            ),
            Family("torchvision", "torchvision classifier", ("supervised", "finetune"), transformer=False),
        )
    }
)


@dataclass(frozen=True)
class ModelEntry:
    """One named model: its family, its builder and the arguments it is registered with."""

    name: str
    family: Family
    builder: Callable[..., nn.Module]
    defaults: Mapping[str, Any]
    pretrained: Mapping[str, Any] = field(default_factory=dict)  # tag -> pretrained weights (sources, input)

    @property
    def accepts(self) -> frozenset[str]:
        """Argument names the builder takes (a hybrid passes its own on to `VisionTransformer`)."""
        return frozenset(_builder_defaults(self.builder)) | frozenset(_builder_params(self.builder))

    def args(self, **overrides) -> dict:
        """Every argument the model is built with: the builder's defaults, the registered ones, `overrides`."""
        return {**_builder_defaults(self.builder), **self.defaults, **overrides}

    @property
    def input_size(self) -> int | None:
        """The image side it is registered for (None for a torchvision classifier: any size)."""
        size = self.defaults.get("img_size")
        return size if isinstance(size, int) else None

    @property
    def mean(self) -> tuple[float, float, float]:
        return IMAGENET_MEAN

    @property
    def std(self) -> tuple[float, float, float]:
        return IMAGENET_STD

    def readout(self, **overrides) -> str | None:
        """What the classifier reads, for these arguments: None for pretraining models."""
        if self.family.pretraining:
            return None
        if not self.family.transformer:
            return "pooled CNN features"
        args = self.args(**overrides)
        if args.get("global_pool") == "avg" or not args.get("class_token", True):
            return "patch mean"
        return "class + distillation tokens" if self.family.name == "deit" else "class token"


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, builder: type[VisionTransformer], **defaults) -> ModelEntry:
    """Register `name` as `builder(**defaults)`; each name is defined once. The family is the builder's."""
    if name in _MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    entry = ModelEntry(name, FAMILIES[builder.family], builder, MappingProxyType(dict(defaults)))
    _MODELS[name] = entry
    return entry


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Registered names matching a shell-style pattern (and `family`), sorted; torchvision's are not listed."""
    return sorted(
        n for n, e in _MODELS.items() if fnmatch.fnmatch(n, pattern) and (family is None or e.family.name == family)
    )


def model_entry(name: str) -> ModelEntry:
    """The catalogue's entry for a registered model or a torchvision classifier; KeyError names close matches."""
    if name in _MODELS:
        return _MODELS[name]
    if name in torchvision_classifiers():
        return _torchvision_entry(name)
    close = fnmatch.filter(_MODELS, f"*{name.split('_')[0]}*")[:8]
    hint = f" (e.g. {', '.join(close)})" if close else ""
    raise KeyError(f"unknown model {name!r}: not in `vitstudio models` nor a torchvision classifier{hint}")


def is_known_model(name: str) -> bool:
    return name in _MODELS or name in torchvision_classifiers()


def model_args(name: str) -> dict:
    """The keyword arguments `name` is registered with (a copy)."""
    return dict(model_entry(name).defaults)


def create_model(name: str, **overrides) -> nn.Module:
    """Build a named model; `overrides` replace its default arguments (e.g. `num_classes=10`).

    The model remembers how it was made in `model.model_spec` (`{name, args}`), which exports use.
    """
    entry = model_entry(name)
    model: Any = entry.builder(**{**entry.defaults, **overrides})  # Any: nn.Module types its attributes loosely
    model.model_spec = {"name": name, "args": dict(overrides)}
    return model


def family_of(model: nn.Module) -> Family:
    """The family of a model built by the catalogue (or any model class of ours)."""
    family = getattr(model, "family", None)
    if not isinstance(family, str) or family not in FAMILIES:
        raise TypeError(f"{type(model).__name__} is not a model of the catalogue")
    return FAMILIES[family]


@cache
def _torchvision_entry(name: str) -> ModelEntry:
    builder = torchvision_classifier
    return ModelEntry(name, FAMILIES["torchvision"], builder, MappingProxyType({"name": name}))


@cache
def _builder_params(builder: Callable) -> tuple[str, ...]:
    """Names the builder's signature lists; a builder that forwards `**kwargs` to a ViT takes its names too."""
    params = inspect.signature(builder).parameters.values()
    names = tuple(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "embed_layer")
    if any(p.kind is p.VAR_KEYWORD for p in params) and builder is not VisionTransformer:
        names += _builder_params(VisionTransformer)
    return names


@cache
def _builder_defaults(builder: Callable) -> dict:
    """Default values of the builder's arguments (and of the ViT's it forwards `**kwargs` to)."""
    params = inspect.signature(builder).parameters.values()
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    if any(p.kind is p.VAR_KEYWORD for p in params) and builder is not VisionTransformer:
        defaults = {**_builder_defaults(VisionTransformer), **defaults}
    defaults.pop("embed_layer", None)
    return defaults
