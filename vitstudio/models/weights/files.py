"""Read weight files without running code: safetensors, NumPy .npz, and PyTorch pickles (weights only)."""

from __future__ import annotations

import argparse
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file


class UnsafeCheckpointError(ValueError):
    """A pickled file that needs more than tensors and plain containers to load."""


#: wrappers checkpoints put around the state dict (timm, DeiT, MAE, Lightning, DDP), most specific first.
_CONTAINER_KEYS = ("state_dict", "model", "module", "model_state_dict", "weights")
_PREFIXES = ("module.", "_orig_mod.")


def read_weights(path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, unwrapped to a flat `{name: tensor}` dict.

    `.safetensors` and `.npz` (no object arrays) hold only arrays. Anything else is read with
    `torch.load(weights_only=True)`; a file that needs arbitrary code (a class, a `__reduce__`
    payload) raises `UnsafeCheckpointError` before any of it runs. Only `argparse.Namespace`, which
    DeiT and MAE training checkpoints carry as `args`, is allowed beyond plain data.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    kind = file_kind(path)
    if kind == "safetensors":
        try:
            return load_file(path)
        except (SafetensorError, OSError) as e:
            raise ValueError(f"{path} is not a readable safetensors file: {e}") from None
    if kind == "npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {k: torch.from_numpy(np.asarray(npz[k])) for k in npz.files}
        except ValueError as e:
            raise UnsafeCheckpointError(
                f"refusing to load {path}: it holds pickled Python objects, not plain arrays ({e})"
            ) from None
    return unwrap_state_dict(torch_load(path, allowed=[argparse.Namespace]), str(path))


def torch_load(path: Path, map_location="cpu", allowed=()):
    """`torch.load(path, weights_only=True)`: nothing but tensors, plain containers and the `allowed` classes.

    A pickle that would need more (code to run) raises `UnsafeCheckpointError` saying what it asked for;
    PyTorch's advice to load it with `weights_only=False` is never passed on. Any other failure (a
    truncated, corrupt or foreign file) raises ValueError naming the file."""
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        wanted = re.search(r"unsupported global:? (?:GLOBAL )?([\w.]+)", str(e), re.IGNORECASE)
        detail = f" (it asks for {wanted[1]})" if wanted else ""  # what it asked for, never how to allow it
        raise UnsafeCheckpointError(
            f"refusing to load {path}: it is not a plain weights file that loads without running code"
            f"{detail}; vitstudio never unpickles arbitrary objects. If you trust "
            "the file, re-save its state dict as .safetensors."
        ) from None
    except Exception as e:  # torch raises many types for truncated zips and damaged pickles
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path} is not a readable PyTorch file ({first})") from None


SUFFIXES = {
    ".safetensors": "safetensors",
    ".npz": "npz",
    **dict.fromkeys((".pth", ".pt", ".bin", ".ckpt", ".tar"), "torch"),
}


def file_kind(path: Path) -> str:
    """'safetensors', 'npz' or 'torch', by content (a misnamed file is still read right), else by suffix."""
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return "npz" if all(n.endswith(".npy") for n in z.namelist()) else "torch"
    if len(head) == 9 and head[8:9] == b"{":
        return "safetensors"
    if head[:1] == b"\x80":  # a pickle (PyTorch's legacy format)
        return "torch"
    return SUFFIXES.get(path.suffix.lower(), "torch")


#: what each kind of file is, for messages.
FILE_KINDS = {"safetensors": "a safetensors file", "npz": "a NumPy .npz archive", "torch": "a PyTorch (pickle) file"}


def check_weights_file(path) -> None:
    """Raise ValueError, naming the file, unless it starts as a weights file of its kind does: a safetensors
    header, a NumPy .npz or PyTorch zip archive, or a legacy PyTorch pickle. Reads the header only, so a
    window can check a file before asking which model to load it into."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    kind = file_kind(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if kind == "safetensors":
        try:
            with safe_open(str(path), framework="pt"):
                return
        except (SafetensorError, OSError) as e:
            raise ValueError(f"{path.name} is not a readable safetensors file ({e})") from None
    if head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path):
        return
    if kind == "torch" and head[:1] == b"\x80":  # a pickle's protocol opcode: torch.save's legacy format
        return
    raise ValueError(
        f"{path.name} is not a weights file: expected safetensors, NumPy .npz or a PyTorch checkpoint (.pth, .pt, .bin)"
    )


def unwrap_state_dict(obj, source: str = "the checkpoint") -> dict[str, torch.Tensor]:
    """Find the state dict inside a checkpoint dict and strip DDP / torch.compile prefixes."""
    while isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        key = next((k for k in _CONTAINER_KEYS if isinstance(obj.get(k), dict)), None)
        if key is None:
            break
        obj = obj[key]
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(
            f"{source} holds no state dict (expected a dict of tensors, possibly under one of {_CONTAINER_KEYS})"
        )
    state_dict = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    for prefix in _PREFIXES:
        if all(k.startswith(prefix) for k in state_dict):
            state_dict = {k[len(prefix) :]: v for k, v in state_dict.items()}
    return state_dict
