"""One typed schema for a training run: model, data, optimisation, objective and runtime.

Read from TOML (`load_config`, presets in `resources/presets/`), written to JSON (`Config.to_dict`),
changed with dotted overrides (`apply_overrides(cfg, ["optim.lr=3e-4"])`) and checked by `validate`,
whose `ConfigError` names the field and the reason. The GUI form, the CLI and the run store all use it.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

from .choices import AUGMENTS, GLOBAL_POOLS, POS_EMBED_KINDS

OBJECTIVES = ("supervised", "distill", "mae", "mpp", "finetune")
CLASSIFICATION_OBJECTIVES = ("supervised", "distill", "finetune")
RESIDENT = ("auto", "on", "off")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
DISTILL_TYPES = ("hard", "soft")
#: The string fields that take one of a few values: `check` holds them to these, and an override's text that
#: is one of them stays that text (`data.augment=none` is the augment 'none', not a missing value).
CHOICES = {
    "model.pos_embed": POS_EMBED_KINDS,
    "model.global_pool": GLOBAL_POOLS,
    "data.augment": AUGMENTS,
    "data.resident": RESIDENT,
    "objective.name": OBJECTIVES,
    "objective.distill_type": DISTILL_TYPES,
    "runtime.device": DEVICES,
    "runtime.precision": PRECISIONS,
}
MAX_INT = 2**31 - 1  # no integer field makes sense beyond this
MAX_EPOCHS = 100_000


class ConfigError(ValueError):
    """A bad configuration value: `field` is its dotted name, `message` says why."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass
class ModelConfig:
    """A registered model (see `vitstudio models`) and arguments that replace its defaults (None keeps them).

    The image size is `data.img_size`: the model is built for the images it is fed.
    """

    name: str = "vit_nano_patch4_32"
    patch_size: int | None = None
    embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    mlp_ratio: float | None = None
    pos_embed: str | None = None
    global_pool: str | None = None
    class_token: bool | None = None
    drop_rate: float | None = None
    drop_path_rate: float | None = None

    def overrides(self) -> dict:
        """The arguments this config changes, for `create_model(name, **overrides)`."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}
        return {k: v for k, v in values.items() if v is not None}


@dataclass
class DataConfig:
    """Which images, at what size, augmented how, and how they reach the model.

    `num_train`: images drawn for the built-in dataset. `download`: fetch a public dataset that is missing.
    `hflip`: random horizontal flips in training (None: chosen from the dataset: off for MNIST and for folders
    of small images, which are often digits, glyphs or icons that a mirror changes; on for the others).
    `mixup` / `cutmix`: their alphas (0 = off). `repeats`: DeiT's repeated augmentation (1 = off).
    `resident`: keep the dataset in device memory and augment there ('auto': when it fits).
    `num_workers`: DataLoader processes (None: chosen for the device).
    """

    name: str = "builtin"
    root: str | None = None
    num_train: int = 20000
    download: bool = True
    img_size: int = 32
    augment: str = "standard"
    hflip: bool | None = None
    val_fraction: float = 0.1
    mixup: float = 0.0
    cutmix: float = 0.0
    repeats: int = 1
    resident: str = "auto"
    num_workers: int | None = None


@dataclass
class OptimConfig:
    """AdamW with a linear warm-up then a cosine decay to `min_lr`, per step; `lr` is absolute (not batch-scaled)."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    min_lr: float = 1e-5
    warmup_epochs: float = 1.0
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0
    layer_decay: float = 1.0


@dataclass
class ObjectiveConfig:
    """What the model learns: a class label, a teacher's prediction, or masked patches."""

    name: str = "supervised"
    label_smoothing: float = 0.0
    mask_ratio: float | None = None
    teacher: str | None = None
    distill_type: str = "hard"
    distill_alpha: float = 0.5
    distill_tau: float = 1.0
    init_from: str | None = None
    linear_probe: bool = False


@dataclass
class RuntimeConfig:
    """Where and how the loop runs; none of this changes what is learned except `seed`."""

    device: str = "auto"
    precision: str = "auto"
    compile: bool = False
    seed: int = 0
    log_every: int = 20
    checkpoint_every: int = 0
    name: str | None = None


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict:
        """Plain JSON-able data (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict, strict: bool = True, base: Config | None = None) -> Config:
        """Build from nested dicts (missing fields keep `base`'s or the default values).

        `strict=False` ignores unknown sections and fields (a config written by another version).
        """
        cfg = copy.deepcopy(base) if base is not None else cls()
        for section, values in d.items():
            if section not in SECTIONS:
                if strict:
                    raise ConfigError(section, f"unknown section{_suggest(section, SECTIONS)}")
                continue
            if not isinstance(values, dict):
                raise ConfigError(section, f"expected a table of fields, got {values!r}")
            sub = getattr(cfg, section)
            for name, value in values.items():
                key = f"{section}.{name}"
                if name not in _field_types(type(sub)):
                    if strict:
                        raise ConfigError(key, f"unknown field{_suggest(name, _field_types(type(sub)))}")
                    continue
                setattr(sub, name, _coerce(key, value, _field_types(type(sub))[name]))
        return cfg


SECTIONS = tuple(f.name for f in fields(Config))


# -- reading, overriding ----------------------------------------------------------------------


def list_presets() -> list[str]:
    """Names of the packaged presets (`quick` is the default)."""
    folder = resources.files("vitstudio.resources") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_config(path_or_preset: str | Path, base: Config | None = None) -> Config:
    """A TOML file or a preset name, laid over `base` (defaults when None)."""
    path = Path(path_or_preset)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError("config", f"no such file: {path}")
        text, origin = path.read_text(encoding="utf-8"), str(path)
    else:
        name = str(path_or_preset)
        if name not in list_presets():
            raise ConfigError("preset", f"unknown preset {name!r}; available: {', '.join(list_presets())}")
        text = (resources.files("vitstudio.resources") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
        origin = f"preset {name}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("config", f"{origin} is not valid TOML: {e}") from None
    return Config.from_dict(data, base=base)


def apply_overrides(cfg: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    """A copy of `cfg` with dotted `section.field=value` assignments applied, values coerced to the field's type."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(key or item, "an override must look like section.field=value")
        section, _, name = key.partition(".")
        if section not in SECTIONS or not name:
            raise ConfigError(key, f"unknown field; sections are {', '.join(SECTIONS)}")
        tp = _field_types(type(getattr(cfg, section))).get(name)
        cfg = Config.from_dict({section: {name: _parse_text(raw.strip(), tp, CHOICES.get(key, ()))}}, base=cfg)
    return cfg


def _parse_text(raw: str, tp=None, choices=()):
    """A command-line value for a field of type `tp`: TOML syntax when it parses (numbers, booleans, lists),
    else the bare string. `none`, `null` and an empty value mean None, except where the field's own
    `choices` hold that text or the field is a plain string, which cannot be None."""
    if raw in choices:
        return raw
    if raw.lower() in ("none", "null", "") and tp is not str:
        return None
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


@functools.cache
def _field_types(cls) -> dict:
    return typing.get_type_hints(cls)


def _suggest(name: str, choices, list_all: bool = True) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known: {', '.join(choices)}" if list_all else ""


def _coerce(key: str, value, tp):
    """`value` as type `tp` (int, float, bool, str, their Optional, tuple[float, float]), or a ConfigError."""
    args = typing.get_args(tp)
    if type(None) in args:
        if value is None:
            return None
        tp = next(a for a in args if a is not type(None))
    elif value is None:
        raise ConfigError(key, "must be set (it has no 'none' value)")
    if typing.get_origin(tp) is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or len(items) != len(typing.get_args(tp)):
            raise ConfigError(key, f"expected {len(typing.get_args(tp))} numbers, got {value!r}")
        return tuple(_coerce(key, v, t) for v, t in zip(items, typing.get_args(tp)))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(key, f"expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(key, f"expected an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(key, f"expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(key, f"expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(key, f"expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(key, f"expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"{key}: unsupported field type {tp}")


# -- validation -------------------------------------------------------------------------------


def validate(cfg: Config) -> Config:
    """Raise the first `ConfigError` of `check(cfg)`; return `cfg` when it is valid."""
    errors = check(cfg)
    if errors:
        raise errors[0]
    return cfg


def check(cfg: Config) -> list[ConfigError]:
    """Every problem with `cfg`, in field order (a form can mark them all)."""
    # Deferred: reading and writing configs needs no torch, and the window reads one before torch loads.
    from .data import DATASETS
    from .models import list_models, model_entry

    errors: list[ConfigError] = []

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            errors.append(ConfigError(key, message))

    def choice(key: str, value, choices=None) -> None:
        choices = CHOICES[key] if choices is None else choices
        need(value in choices, key, f"{value!r} is not one of {', '.join(map(str, choices))}")

    m, d, o, obj, rt = cfg.model, cfg.data, cfg.optim, cfg.objective, cfg.runtime
    try:
        entry = model_entry(m.name)
    except KeyError:
        entry = None
        suggestion = _suggest(m.name, list_models(), list_all=False)
        errors.append(
            ConfigError(
                "model.name",
                f"unknown model {m.name!r}: not in `vitstudio models` nor a torchvision classifier{suggestion}",
            )
        )
    if entry is not None and entry.family.name == "torchvision":
        need(not m.overrides(), "model", f"{m.name} is a torchvision classifier; it takes no model overrides")
    elif entry is not None:
        errors.extend(unaccepted_args(entry, m.overrides()))
    shape = {**(entry.args() if entry else {}), **m.overrides()}
    patch, dim, heads = shape.get("patch_size"), shape.get("embed_dim"), shape.get("num_heads")
    for key in ("patch_size", "embed_dim", "depth", "num_heads"):
        need(getattr(m, key) is None or getattr(m, key) >= 1, f"model.{key}", "must be at least 1")
    need(d.img_size >= 1, "data.img_size", "must be at least 1")
    if isinstance(patch, int) and patch >= 1 and d.img_size >= 1:
        need(d.img_size % patch == 0, "model.patch_size", f"{patch} does not divide data.img_size {d.img_size}")
    if isinstance(dim, int) and isinstance(heads, int) and heads >= 1:
        need(dim % heads == 0, "model.num_heads", f"{heads} does not divide model.embed_dim {dim}")
    need(m.mlp_ratio is None or m.mlp_ratio > 0, "model.mlp_ratio", "must be positive")
    if m.pos_embed is not None:
        choice("model.pos_embed", m.pos_embed)
    if m.global_pool is not None:
        choice("model.global_pool", m.global_pool)
    if m.global_pool == "token" or (m.global_pool is None and shape.get("global_pool", "token") == "token"):
        need(
            m.class_token is not False,
            "model.class_token",
            "global_pool 'token' needs a class token; use global_pool 'avg'",
        )
    for key in ("drop_rate", "drop_path_rate"):
        v = getattr(m, key)
        need(v is None or 0 <= v < 1, f"model.{key}", "must be in [0, 1)")

    choice("data.name", d.name, DATASETS)
    choice("data.augment", d.augment)
    choice("data.resident", d.resident)
    need(0 <= d.val_fraction < 1, "data.val_fraction", "must be in [0, 1)")
    need(d.mixup >= 0, "data.mixup", "must be >= 0 (0 turns Mixup off)")
    need(d.cutmix >= 0, "data.cutmix", "must be >= 0 (0 turns CutMix off)")
    need(d.num_workers is None or d.num_workers >= 0, "data.num_workers", "must be >= 0")
    need(d.num_train >= 1, "data.num_train", "must be at least 1")
    need(d.repeats >= 1, "data.repeats", "must be at least 1 (1 turns repeated augmentation off)")

    for section in SECTIONS:  # inf and nan pass every comparison below; a huge integer is a typo
        for name in _field_types(type(getattr(cfg, section))):
            value = getattr(getattr(cfg, section), name)
            values = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                errors.append(ConfigError(f"{section}.{name}", f"must be a finite number, got {value}"))
            elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
                errors.append(ConfigError(f"{section}.{name}", f"{value} is out of range (at most {MAX_INT})"))
    need(o.epochs >= 1, "optim.epochs", "must be at least 1")
    need(o.epochs <= MAX_EPOCHS, "optim.epochs", f"must be at most {MAX_EPOCHS}, got {o.epochs}")
    need(o.batch_size >= 1, "optim.batch_size", "must be at least 1")
    need(o.lr > 0, "optim.lr", f"must be > 0, got {o.lr}")
    need(0 <= o.min_lr <= o.lr, "optim.min_lr", f"must be in [0, optim.lr {o.lr}]")
    need(0 <= o.warmup_epochs < o.epochs, "optim.warmup_epochs", f"must be in [0, optim.epochs {o.epochs})")
    need(o.weight_decay >= 0, "optim.weight_decay", "must be >= 0")
    need(all(0 <= b < 1 for b in o.betas), "optim.betas", "each must be in [0, 1)")
    need(o.grad_clip >= 0, "optim.grad_clip", "must be >= 0 (0 turns clipping off)")
    need(0 < o.layer_decay <= 1, "optim.layer_decay", "must be in (0, 1] (1 turns it off)")

    choice("objective.name", obj.name)
    need(0 <= obj.label_smoothing < 1, "objective.label_smoothing", "must be in [0, 1)")
    need(obj.mask_ratio is None or 0 < obj.mask_ratio < 1, "objective.mask_ratio", "must be in (0, 1)")
    choice("objective.distill_type", obj.distill_type)
    need(0 <= obj.distill_alpha <= 1, "objective.distill_alpha", "must be in [0, 1]")
    need(obj.distill_tau > 0, "objective.distill_tau", "must be > 0")
    need(
        obj.name != "distill" or bool(obj.teacher),
        "objective.teacher",
        "distillation needs a teacher: a run of ours, a torchvision classifier or a model file",
    )
    need(
        obj.name != "finetune" or bool(obj.init_from),
        "objective.init_from",
        "fine-tuning needs weights: a pretraining run, a weights file or a pretrained tag (model.tag, hf-hub:...)",
    )
    arch, _, tag = (obj.init_from or "").partition(".")
    if tag and arch in list_models() and not Path(obj.init_from).exists():  # a pretrained tag of a named model
        tags = model_entry(arch).pretrained
        need(tag in tags, "objective.init_from", f"{arch} has no pretrained tag {tag!r}; its tags: {', '.join(tags)}")
    need(
        not obj.linear_probe or obj.name == "finetune", "objective.linear_probe", "applies to objective 'finetune' only"
    )
    if obj.name not in CLASSIFICATION_OBJECTIVES:
        need(d.mixup == 0 and d.cutmix == 0, "data.mixup", f"Mixup/CutMix mix labels; objective {obj.name!r} has none")
    if entry is not None and obj.name in OBJECTIVES:
        family = entry.family
        need(
            obj.name in family.objectives,
            "objective.name",
            f"{m.name} is a {family.label} model: it trains with {' or '.join(map(repr, family.objectives))}",
        )

    choice("runtime.device", rt.device)
    choice("runtime.precision", rt.precision)
    need(rt.log_every >= 1, "runtime.log_every", "must be at least 1")
    need(rt.checkpoint_every >= 0, "runtime.checkpoint_every", "must be >= 0 (0: at the end of each epoch only)")
    need(
        rt.name is None or ("/" not in rt.name and "\\" not in rt.name),
        "runtime.name",
        "must not contain a path separator",
    )
    return errors


def unaccepted_args(entry, overrides: dict) -> list[ConfigError]:
    """An error for each model override the catalogue entry's builder does not take."""
    return [
        ConfigError(f"model.{key}", f"{entry.name} does not take {key}; unset it (--set model.{key}=none)")
        for key in overrides
        if key not in entry.accepts
    ]
