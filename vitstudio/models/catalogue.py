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

Pretrained weights are tags of a named model (`entry.pretrained[tag]`, a `PretrainedCfg` with its source,
input size, normalisation and label set), registered in `pretrained_tags.py`:

    model = create_model("vit_base_patch16_224.augreg2_in21k_ft_in1k", pretrained=True)   # downloads once
    cfg = pretrained_cfg("hf-hub:facebook/vit-mae-base")                                   # or by its source

Code that needs to know what a model is asks here, or the model's public attributes; it never guesses
from a name, `hasattr` or a private method. Names are registered once, in `variants.py`.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

from torch import nn

from .hub import WeightsUnavailable, fetch_weights, hub_file
from .mae import MaskedAutoencoderViT
from .mpp import MaskedPatchPredictionViT
from .torchvision_nets import torchvision_classifier, torchvision_classifiers
from .vit import VisionTransformer
from .weights import load_pretrained

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
            Family("vit", "ViT", ("supervised", "finetune", "distill")),
            Family("hybrid", "Hybrid (CNN features)", ("supervised", "finetune", "distill")),
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
class PretrainedCfg:
    """Pretrained weights of a named model: where they come from and how the model must be fed.

    `source` is `hf-hub:<repo>` (the first of `files` the repository has is read; safetensors come first)
    or `torchvision:<WeightsEnum>.<member>`. `labels` is the label set of its head: 'imagenet-1k' (the
    class names ship with torchvision), 'imagenet-21k' (a 21k head: not ImageNet-1k classes) or 'none'.
    """

    model: str  # the registered architecture
    tag: str
    source: str
    files: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")
    layout: str = "timm"  # the key layout of the file: 'timm', 'transformers' or 'torchvision'
    input_size: int = 224
    interpolation: str = "bicubic"
    crop_pct: float = 0.9
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    num_classes: int = 1000
    labels: str = "imagenet-1k"
    download_mb: float = 0.0  # about (float32 weights)
    args: Mapping[str, Any] = field(default_factory=dict)  # model arguments the weights need beyond the registered

    @property
    def name(self) -> str:
        return f"{self.model}.{self.tag}"

    @property
    def hub_repo(self) -> str | None:
        """The Hugging Face repository of an `hf-hub:` source."""
        return self.source.removeprefix("hf-hub:") if self.source.startswith("hf-hub:") else None

    def class_names(self) -> list[str] | None:
        """The names of the head's classes: ImageNet-1k's (from torchvision's weight metadata), else None."""
        if self.labels != "imagenet-1k":
            return None
        from torchvision.models import ViT_B_16_Weights  # deferred: torchvision takes a second to import

        return list(ViT_B_16_Weights.IMAGENET1K_V1.meta["categories"])

    def model_args(self) -> dict:
        """The arguments that make the architecture match the weights (its head's size, `args`)."""
        head = {"num_classes": self.num_classes} if "num_classes" in model_entry(self.model).accepts else {}
        return {**head, **self.args}


@dataclass(frozen=True)
class ModelEntry:
    """One named model: its family, its builder and the arguments it is registered with."""

    name: str
    family: Family
    builder: Callable[..., nn.Module]
    defaults: Mapping[str, Any]
    pretrained: dict[str, PretrainedCfg] = field(default_factory=dict)  # tag -> its pretrained weights (filled once)

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


def register_pretrained(cfg: PretrainedCfg) -> PretrainedCfg:
    """Register pretrained weights as a tag of their (registered) model; each tag is defined once."""
    entry = model_entry(cfg.model)
    if cfg.tag in entry.pretrained:
        raise ValueError(f"pretrained tag {cfg.name!r} is registered twice")
    entry.pretrained[cfg.tag] = cfg
    return cfg


def list_pretrained(pattern: str = "*") -> list[PretrainedCfg]:
    """The registered pretrained tags whose `model.tag` name matches a shell-style pattern, sorted by name."""
    cfgs = [c for e in _MODELS.values() for c in e.pretrained.values() if fnmatch.fnmatch(c.name, pattern)]
    return sorted(cfgs, key=lambda c: c.name)


def pretrained_cfg(name: str) -> PretrainedCfg:
    """The registered tag `model.tag`, or the one whose source is `name` (`hf-hub:facebook/vit-mae-base`);
    KeyError names the known tags of the model."""
    for cfg in list_pretrained():
        if name in (cfg.name, cfg.source):
            return cfg
    arch = name.removeprefix("hf-hub:timm/").partition(".")[0]
    tags = list(model_entry(arch).pretrained) if is_known_model(arch) else []
    known = f"; {arch} has {', '.join(tags)}" if tags else " (see `vitstudio models --pretrained`)"
    raise KeyError(f"no pretrained weights {name!r}{known}")


def is_pretrained_name(name: str) -> bool:
    """Whether `name` names pretrained weights (`model.tag` or `hf-hub:...`) rather than an architecture."""
    return name.startswith("hf-hub:") or "." in name


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


def create_model(name: str, pretrained: bool = False, **overrides) -> nn.Module:
    """Build a named model; `overrides` replace its default arguments (e.g. `num_classes=10`).

    `name` may name pretrained weights: `model.tag` or `hf-hub:<repo>` (a registered source, or any timm
    repository, whose `config.json` names the architecture). The architecture is built with the head of the
    weights (unless `num_classes` is given), and with `pretrained=True` the weights are loaded (downloaded
    once into the Hugging Face / torch hub cache). The model remembers how it was made in `model.model_spec`
    (`{name, args}`), which exports use, and its weights' `PretrainedCfg` in `model.pretrained_cfg`.
    """
    cfg = None
    if is_pretrained_name(name):
        cfg = resolve_pretrained(name)
        name, overrides = cfg.model, {**cfg.model_args(), **overrides}
    elif pretrained:
        tags = ", ".join(model_entry(name).pretrained) or "none; see `vitstudio models --pretrained`"
        raise ValueError(f"{name} names an architecture: say which pretrained weights, as {name}.TAG (tags: {tags})")
    entry = model_entry(name)
    model: Any = entry.builder(**{**entry.defaults, **overrides})  # Any: nn.Module types its attributes loosely
    model.model_spec = {"name": name, "args": dict(overrides)}
    model.pretrained_cfg = cfg
    if cfg is not None and pretrained:
        load_pretrained_weights(model, cfg)
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


# -- pretrained weights: which ones a name means, and loading them (the files come from `hub.py`) ---------


def load_pretrained_weights(model: nn.Module, cfg: PretrainedCfg, tqdm_class=None) -> list[str]:
    """Fetch the tag's weights and load them into `model` (built for them; a head of another size is
    left new, with a warning); returns the notes on what was adapted."""
    weights = fetch_weights(cfg, tqdm_class)
    try:
        return load_pretrained(model, weights).notes
    except ValueError as e:  # an unreadable file: a corrupt copy put by hand, or a cache gone bad
        raise WeightsUnavailable(f"{cfg.name}: {e}. Delete the file to download it again") from None


def resolve_pretrained(name: str) -> PretrainedCfg:
    """The `PretrainedCfg` a name stands for: a registered tag or source, or a timm hub repository that
    is not registered (its `config.json` names the architecture and its pretrained config)."""
    try:
        return pretrained_cfg(name)
    except KeyError as e:
        unknown = e
    repo = name.removeprefix("hf-hub:")
    if not name.startswith("hf-hub:") or not repo.startswith("timm/"):
        raise unknown
    try:
        config = json.loads(hub_file(repo, "config.json").read_text())
    except FileNotFoundError:
        raise KeyError(f"the hub repository {repo} has no config.json: it is not a timm model") from None
    except ValueError as e:
        raise KeyError(f"the config.json of {repo} is not JSON: {e}") from None
    return _cfg_from_timm_config(repo, config)


def _cfg_from_timm_config(repo: str, config: dict) -> PretrainedCfg:
    arch, pre = config.get("architecture"), config.get("pretrained_cfg") or {}
    if not isinstance(arch, str) or not is_known_model(arch):
        raise KeyError(f"{repo} holds a timm {arch!r}, which is not a model of the studio (see `vitstudio models`)")
    num_classes = int(config.get("num_classes", pre.get("num_classes", 1000)))
    # timm's hub convention: a 1000-way head is ImageNet-1k's, a 21843-way head ImageNet-21k's
    labels = {1000: "imagenet-1k", 21843: "imagenet-21k", 0: "none"}.get(num_classes, "none")
    return PretrainedCfg(
        arch,
        repo.partition(".")[2] or pre.get("tag", "hub"),
        f"hf-hub:{repo}",
        input_size=int(pre.get("input_size", (3, 224, 224))[-1]),
        interpolation=pre.get("interpolation", "bicubic"),
        crop_pct=float(pre.get("crop_pct", 0.9)),
        mean=tuple(pre.get("mean", IMAGENET_MEAN)),
        std=tuple(pre.get("std", IMAGENET_STD)),
        num_classes=num_classes,
        labels=labels,
        args=dict(config.get("model_args") or {}),
    )
