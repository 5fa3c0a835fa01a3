"""Export a run: its metrics as CSV, its weights as safetensors."""
from __future__ import annotations

import csv
from pathlib import Path

from .checkpoint import atomic_write, load_weights, save_weights
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


def export_safetensors(run: Run, path: str | Path, which: str = "final") -> Path:
    """The run's weights (see `Run.weights_file`) as safetensors, with the run's config in the metadata."""
    source = run.weights_file(which)
    save_weights(Path(path), load_weights(source), {"run": run.id, "source": source.name, "config": run.config().to_json()})
    return Path(path)


def _scalar(v) -> bool:
    return isinstance(v, (int, float, str, bool)) or v is None


def _cell(v):
    return "" if v is None else v
