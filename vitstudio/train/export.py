"""Export a run: its metrics as CSV, its model as safetensors (ours or timm's layout)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..models import export_timm
from .checkpoint import atomic_write, save_model
from .runs import Run


def export_csv(run: Run, path: str | Path) -> Path:
    """One row per logged event: kind, step, epoch, time and every scalar field of its data."""
    events = run.events()
    columns: list[str] = []
    for e in events:
        columns += [k for k, v in e.data.items() if _scalar(v) and k not in columns and k != "traceback"]
    path = Path(path)

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["kind", "step", "epoch", "time", *columns])
            for e in events:
                w.writerow([e.kind, e.step, e.epoch, e.time, *(_cell(e.data.get(c)) for c in columns)])

    atomic_write(path, write)
    return path


def export_weights(run: Run, path: str | Path, fmt: str = "safetensors", which: str = "final") -> Path:
    """The run's model (`which` weights, see `Run.weights_file`) as a file:

    'safetensors': see `save_model` (self-describing for our models);
    'timm': the state dict in timm's layout (a pretraining model gives its encoder)."""
    model = run.load_model(which)
    return save_model(model, path) if fmt == "safetensors" else export_timm(model, path)


def _scalar(v) -> bool:
    return isinstance(v, (int, float, str, bool)) or v is None


def _cell(v):
    return "" if v is None else v


def export_tensorboard(run: Run, log_dir: str | Path) -> Path:
    """Write the run's metrics as TensorBoard event files in `log_dir` (train/..., val/... scalars and the config).

    Needs the optional `tensorboard` package; without it a RuntimeError says how to install it."""
    try:  # deferred: tensorboard is an optional dependency
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RuntimeError("exporting to TensorBoard needs the tensorboard package: pip install tensorboard") from None
    log_dir = Path(log_dir)
    prefix = {"step": "train", "eval": "val"}
    start = run.metrics().first_time or 0.0
    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        writer.add_text("config", "```json\n" + run.config().to_json() + "\n```", 0)
        for key, curve in run.metrics().curves.items():
            tag = f"{prefix.get(curve.kind, curve.kind)}/{key}"
            for step, seconds, value in zip(curve.step.tolist(), curve.seconds.tolist(), curve.value.tolist()):
                writer.add_scalar(tag, value, step, walltime=start + seconds)
    finally:
        writer.close()
    return log_dir
