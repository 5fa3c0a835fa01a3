"""What a config's weight references point at: a distillation teacher (`objective.teacher`) and the weights
fine-tuning starts from (`objective.init_from`). This module is the only place that knows the kinds.

A reference is `KIND:VALUE` or a bare VALUE:
    run:ID           a run of ours, by its exact id (see `vitstudio runs list`) or its folder
    file:PATH        a weights file
    torchvision:NAME a torchvision classifier (built untrained, e.g. to train as a run first)
    pretrained:NAME  published weights of the catalogue: `model.tag` or `hf-hub:...` (downloaded once)
A bare value is tried as every kind its field accepts and must be exactly one of them: no part-of-a-name
matching, and an ambiguous value is an error naming the candidates, never a silent choice.

To add a kind (a pretrained tag, a study's `@stage`), add a `Kind` to `KINDS` and its name to the fields
in `FIELDS` that accept it; a resolver returns None for text that is not its kind's.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..config import ConfigError
from ..models import (
    PretrainedCfg,
    create_model,
    create_teacher,
    is_pretrained_name,
    list_pretrained,
    load_model_file,
    load_pretrained,
    read_model_config,
)
from ..models.catalogue import is_known_model, load_pretrained_weights, resolve_pretrained
from ..models.torchvision_nets import torchvision_classifiers
from ..models.weights.files import FILE_KINDS, file_kind
from .runs import Run, RunError, is_run_folder, list_runs, runs_root


@dataclass(frozen=True)
class Reference:
    """A resolved reference: `kind` (a key of `KINDS`) and `target` (a run folder, a file, a name)."""

    field: str
    kind: str
    target: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}"

    def weights_file(self) -> Path:
        """The file holding the weights it names (for kinds that name weights)."""
        if KINDS[self.kind].weights is None:
            raise ConfigError(self.field, f"{self} names an architecture, not trained weights")
        return KINDS[self.kind].weights(self)

    def model(self, num_classes: int, img_size: int) -> nn.Module:
        """The model it names, with its weights, in eval mode."""
        self.check_model()
        return KINDS[self.kind].model(self, num_classes, img_size).eval()

    def load_into(self, model: nn.Module) -> list[str]:
        """Load the weights it names into `model`; notes on what was adapted."""
        if KINDS[self.kind].load_into is not None:
            return KINDS[self.kind].load_into(self, model)
        return load_pretrained(model, str(self.weights_file())).notes

    @property
    def pretrained_cfg(self) -> PretrainedCfg | None:
        """The pretrained tag it names (its input size, mean and std), or None."""
        return resolve_pretrained(self.target) if self.kind == "pretrained" else None

    def check_model(self) -> None:
        """Raise a `ConfigError` now, before any data is read, if it cannot name a model (a bare weights file)."""
        KINDS[self.kind].check_model(self)


@dataclass(frozen=True)
class Kind:
    describe: str  # for messages: "a run of ours"
    resolve: Callable[[str, Path | None], str | None]  # (text, runs_dir) -> target, or None if not this kind
    model: Callable[[Reference, int, int], nn.Module]  # (reference, num_classes, img_size) -> model
    weights: Callable[[Reference], Path] | None = None  # the file holding its weights (None: it names none)
    candidates: Callable[[Path | None], list[str]] = lambda runs_dir: []  # names to suggest for a typo
    check_model: Callable[[Reference], None] = lambda ref: None  # cheap checks of `model`'s, raising ConfigError
    load_into: Callable[[Reference, nn.Module], list[str]] | None = None  # None: `load_pretrained` of `weights`


def _find_run(text: str, runs_dir) -> str | None:
    path = Path(text).expanduser()
    if is_run_folder(path):
        return str(path)
    root = runs_root(runs_dir)
    return str(root / text) if text and "/" not in text and is_run_folder(root / text) else None


def _run_weights(ref: Reference) -> Path:
    try:
        return Run(ref.target).weights_file()
    except (FileNotFoundError, LookupError) as e:
        raise ConfigError(ref.field, str(e)) from None


def _run_model(ref: Reference, num_classes: int, img_size: int) -> nn.Module:
    try:
        return Run(ref.target).load_model()
    except (FileNotFoundError, LookupError, RunError) as e:
        raise ConfigError(ref.field, str(e)) from None


def _find_file(text: str, runs_dir) -> str | None:
    path = Path(text).expanduser()
    return str(path) if path.is_file() else None


def _check_model_file(ref: Reference) -> None:
    """A teacher file must say which model it holds: a vitstudio model file (`runs export`, `convert`)."""
    kind = file_kind(Path(ref.target))
    convert = f"`vitstudio convert {ref.target} --model NAME --out teacher.safetensors`"
    if kind == "safetensors":
        try:
            read_model_config(ref.target)
            return
        except ValueError as e:
            raise ConfigError(ref.field, f"{e}; a teacher file must be a vitstudio model file ({convert})") from None
    raise ConfigError(
        ref.field,
        f"{ref.target} is {FILE_KINDS[kind]}: it holds weights but not which model they belong to; "
        f"make a model file of it with {convert} and use that",
    )


def _file_model(ref: Reference, num_classes: int, img_size: int) -> nn.Module:
    try:
        return load_model_file(ref.target)
    except (ValueError, RuntimeError, OSError) as e:
        raise ConfigError(ref.field, f"{ref.target} cannot be loaded: {e}") from None


def _torchvision_names(runs_dir=None) -> list[str]:
    return sorted(torchvision_classifiers())


def _find_torchvision(text: str, runs_dir) -> str | None:
    return text if text in _torchvision_names() else None


def _torchvision_model(ref: Reference, num_classes: int, img_size: int) -> nn.Module:
    return create_teacher(ref.target, num_classes, img_size)


def _find_pretrained(text: str, runs_dir) -> str | None:
    """A pretrained tag's name; an unknown tag of a known model (or an unknown hub repository) is an error that
    lists what there is, not "no such file"."""
    if not is_pretrained_name(text) or Path(text).exists():
        return None
    try:
        resolve_pretrained(text)
        return text  # as given: a hub repository's own name, which a registry lookup would not know
    except KeyError as e:
        if text.startswith("hf-hub:") or is_known_model(text.partition(".")[0]):
            raise ConfigError("objective.init_from", str(e.args[0])) from None
        return None
    except OSError as e:  # a timm repository's config.json could not be had
        raise ConfigError("objective.init_from", str(e)) from None


def _pretrained_model(ref: Reference, num_classes: int, img_size: int) -> nn.Module:
    return create_model(ref.target, pretrained=True)


def _pretrained_into(ref: Reference, model: nn.Module) -> list[str]:
    cfg = resolve_pretrained(ref.target)
    return [f"pretrained weights {cfg.name} from {cfg.source}", *load_pretrained_weights(model, cfg)]


KINDS: dict[str, Kind] = {
    "run": Kind(
        "a run of ours (its exact id or folder)",
        _find_run,
        _run_model,
        _run_weights,
        lambda runs_dir: [r.id for r in list_runs(runs_dir)],
    ),
    "file": Kind(
        "a weights file", _find_file, _file_model, lambda ref: Path(ref.target), check_model=_check_model_file
    ),
    "torchvision": Kind("a torchvision classifier", _find_torchvision, _torchvision_model, None, _torchvision_names),
    "pretrained": Kind(
        "a pretrained tag (`vitstudio models --pretrained`)",
        _find_pretrained,
        _pretrained_model,
        candidates=lambda runs_dir: [c.name for c in list_pretrained()],
        load_into=_pretrained_into,
    ),
}

#: the kinds each config field accepts.
FIELDS = {
    "objective.teacher": ("run", "file", "torchvision", "pretrained"),
    "objective.init_from": ("run", "file", "pretrained"),
}


def resolve(field: str, text: str, runs_dir=None) -> Reference:
    """What `text` (the value of config field `field`) refers to; a `ConfigError` naming the field when it
    is nothing, not a kind the field accepts, or more than one thing."""
    accepted = FIELDS[field]
    prefix, sep, rest = str(text).partition(":")
    if sep and prefix in KINDS:
        if prefix not in accepted:
            raise ConfigError(field, f"{prefix} references are not accepted here; give {_kinds(accepted)}")
        target = KINDS[prefix].resolve(rest, runs_dir)
        if target is None:
            raise ConfigError(field, f"no {prefix} {rest!r}{_hint(prefix, rest, runs_dir)}")
        return Reference(field, prefix, target)
    found = {k: t for k in accepted if (t := KINDS[k].resolve(text, runs_dir)) is not None}
    if len(found) == 1:
        return Reference(field, *next(iter(found.items())))
    if found:
        which = " and ".join(f"{KINDS[k].describe} ({k}:{text})" for k in found)
        raise ConfigError(field, f"{text!r} is ambiguous: it is {which}; write the one you mean")
    hints = "".join(_hint(k, text, runs_dir) for k in accepted)
    raise ConfigError(field, f"{text!r} is not {_kinds(accepted)}{hints}")


def _kinds(names) -> str:
    return " or ".join(f"{KINDS[k].describe} ({k}:...)" for k in names)


def _hint(kind: str, text: str, runs_dir) -> str:
    """'; did you mean ...?' with the names of `kind` that contain `text` or are close to it."""
    names = KINDS[kind].candidates(runs_dir)
    close = [n for n in names if text and text in n][:5] or difflib.get_close_matches(text, names, 3)
    return f"; did you mean {', '.join(f'{kind}:{c}' for c in close)}?" if close else ""
