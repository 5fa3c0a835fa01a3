"""A config's model: the arguments it is built with, the model itself, and a name that says what it is.

The trainer, the run store, the CLI and the GUI's model form all build and describe models here.
"""

from __future__ import annotations

from torch import nn

from ..config import CLASSIFICATION_OBJECTIVES, Config, ConfigError, unaccepted_args
from ..models import create_model, model_entry

#: the arguments that make a ViT's architecture, in the order a custom model's name lists them.
ARCHITECTURE_KEYS = (
    "embed_dim",
    "depth",
    "num_heads",
    "mlp_ratio",
    "patch_size",
    "pos_embed",
    "global_pool",
    "class_token",
)


def model_kwargs(cfg: Config, num_classes: int | None = None) -> dict:
    """What `build_model` passes to the model `cfg.model.name`: the config's overrides, the data's image size
    and, for a classification objective, `num_classes` (when known)."""
    kwargs = cfg.model.overrides()
    kwargs["img_size"] = cfg.data.img_size
    if num_classes is not None and cfg.objective.name in CLASSIFICATION_OBJECTIVES:
        kwargs["num_classes"] = num_classes
    return kwargs


def resolved_model_args(cfg: Config, num_classes: int | None = None) -> dict:
    """Every argument the model is built with: the catalogue's defaults under `model_kwargs`."""
    return model_entry(cfg.model.name).args(**model_kwargs(cfg, num_classes))


def build_model(cfg: Config, num_classes: int | None = None) -> nn.Module:
    """The model `cfg.model` names (a model of the catalogue: ours or a torchvision classifier), built for
    `cfg.data.img_size` and (for classification) `num_classes`."""
    try:
        entry = model_entry(cfg.model.name)
    except KeyError as e:
        raise ConfigError("model.name", str(e.args[0])) from None
    if errors := unaccepted_args(entry, cfg.model.overrides()):
        raise errors[0]
    kwargs = model_kwargs(cfg, num_classes)
    try:
        return create_model(cfg.model.name, **kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError("model", f"{cfg.model.name} cannot be built with {kwargs}: {e}") from None


def model_label(cfg: Config) -> str:
    """The model's name, or for a changed architecture a name that says what it is (e.g.
    `vit_custom_w96_d3_h3_mlp2_p4_32` from `vit_nano_patch4_32` with width 96, depth 3, heads 3, MLP 2x)."""
    entry = model_entry(cfg.model.name)
    if entry.family.name == "torchvision":
        return entry.name
    registered, built = entry.args(), resolved_model_args(cfg)
    changed = [k for k in ARCHITECTURE_KEYS if registered.get(k) != built.get(k)]
    if not changed and registered.get("img_size") == built.get("img_size"):
        return entry.name
    if not changed:
        return f"{entry.name}@{built['img_size']}"
    parts = [
        f"w{built['embed_dim']}",
        f"d{built['depth']}",
        f"h{built['num_heads']}",
        f"mlp{built['mlp_ratio']:g}",
        f"p{built['patch_size']}",
    ]
    if built.get("pos_embed", "learned") != "learned":
        parts.append(f"pos-{built['pos_embed']}")
    if built.get("global_pool") == "avg":
        parts.append("avg")
    if built.get("class_token") is False:
        parts.append("notoken")
    prefix = [f"{entry.family.name}_custom"]
    if entry.family.name == "hybrid":  # the CNN: ResNetV2 stage depths ("r" alone: the stem), or torchvision's
        resnetv2 = built["backbone"] == "resnetv2"
        prefix.append("r" + "".join(map(str, built["layers"])) if resnetv2 else built["backbone"])
    return "_".join([*prefix, *parts, str(built["img_size"])])
