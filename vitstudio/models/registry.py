"""Named models: `create_model(name, **overrides)` and `list_models()`, as in timm."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from torch import nn

_MODELS: dict[str, tuple[Callable[..., nn.Module], dict]] = {}


def register_model(name: str, builder: Callable[..., nn.Module], **defaults) -> None:
    """Register `name` as `builder(**defaults)`; each name is defined once."""
    if name in _MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    _MODELS[name] = (builder, defaults)


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style pattern, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def model_args(name: str) -> dict:
    """The keyword arguments `name` is built with (a copy)."""
    return dict(_lookup(name)[1])


def model_builder(name: str) -> Callable[..., nn.Module]:
    """The class or function `name` is built by."""
    return _lookup(name)[0]


def create_model(name: str, **overrides) -> nn.Module:
    """Build a registered model; `overrides` replace its default arguments (e.g. `num_classes=10`).

    The model remembers how it was made in `model.model_spec` (`{name, args}`), which exports use.
    """
    builder, defaults = _lookup(name)
    model = builder(**{**defaults, **overrides})
    model.model_spec = {"name": name, "args": dict(overrides)}
    return model


def _lookup(name: str):
    try:
        return _MODELS[name]
    except KeyError:
        close = fnmatch.filter(_MODELS, f"*{name.split('_')[0]}*")[:8]
        raise KeyError(
            f"unknown model {name!r}; see list_models(){' (e.g. ' + ', '.join(close) + ')' if close else ''}"
        ) from None
