"""Checkpoints on disk: written to a temporary name then renamed, read without unpickling code.

A checkpoint holds only tensors and plain containers (dicts, lists, numbers, strings), so
`torch.load(..., weights_only=True)` reads it; a file that is corrupt, truncated or holds other objects
raises `CheckpointError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..models import export_safetensors
from ..models.weights.files import UnsafeCheckpointError, torch_load

FORMAT = "vitstudio-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint or weights file that cannot be read safely."""


def atomic_write(path: Path, write, durable: bool = True, keep_previous: Path | None = None) -> None:
    """Call `write(tmp_path)` and rename the file over `path`, so readers never see a partial file;
    `durable` also flushes it to the disk first (for what must survive a power cut, e.g. checkpoints);
    `keep_previous` is where the file it replaces moves to, once the new one is complete."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        if keep_previous is not None and path.exists():
            os.replace(path, keep_previous)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(path: Path, state: dict, keep_previous: Path | None = None) -> None:
    """Save a resumable training state (model, optimizer, step, ...) atomically: a failed write (a full
    disk raises OSError naming `path`) leaves the previous checkpoint as it was; with `keep_previous`, the
    checkpoint it replaces moves there."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            try:
                torch.save({"format": FORMAT, "version": VERSION, **state}, f)
            except RuntimeError as e:  # torch reports a failed write of the file as an opaque RuntimeError
                if isinstance(e.__context__, OSError):
                    raise OSError(e.__context__.errno, e.__context__.strerror, str(path)) from None
                raise

    atomic_write(path, write, keep_previous=keep_previous)


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    """Read a checkpoint written by `save_checkpoint`, or raise `CheckpointError` saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch_load(path, map_location=map_location)
    except UnsafeCheckpointError as e:  # its message names the file: said once
        why = str(e).removeprefix(f"refusing to load {path}: ")
        raise CheckpointError(f"checkpoint {path} is not a plain-tensor checkpoint: {why}") from None
    except ValueError as e:
        why = str(e).removeprefix(f"{path} is ")
        raise CheckpointError(
            f"checkpoint {path} is corrupt, truncated or not a plain-tensor checkpoint: {why}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a vitstudio training checkpoint")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {state['version']}; this vitstudio reads up to {VERSION}"
        )
    return state


def save_model(model: torch.nn.Module, path: Path) -> Path:
    """Final weights as safetensors: self-describing for a registered model (`models.load_model_file`
    rebuilds it), the bare state dict for others (torchvision classifiers)."""
    if getattr(model, "model_spec", None) is not None:
        return export_safetensors(model, path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp)))
    return Path(path)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Weights from safetensors, or the model of one of our checkpoints."""
    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"weights file {path} is unreadable ({e})") from None
    return load_checkpoint(path)["model"]
