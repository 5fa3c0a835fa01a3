"""The run store: one folder per run under a runs root. This module is the only place that knows the layout.

    <root>/<run id>/
        config.json        the run's Config (JSON)
        metrics.jsonl      one Event per line, append-only (readable while it is written)
        status.json        state, progress and the latest results, replaced atomically
        last.pt, best.pt   resumable checkpoints (temporary name, then rename)
        model.safetensors  final weights

The root is `--runs-dir`, else $VITSTUDIO_RUNS, else a per-user data folder.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from ..config import Config
from .checkpoint import atomic_write
from .events import Event

ENV_VAR = "VITSTUDIO_RUNS"
CONFIG, METRICS, STATUS = "config.json", "metrics.jsonl", "status.json"
LAST, BEST, WEIGHTS = "last.pt", "best.pt", "model.safetensors"
ACTIVE_STATES = ("created", "running", "paused")


def default_runs_dir() -> Path:
    """The per-user data folder for runs on this platform."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "vitstudio" / "runs"


def runs_root(runs_dir: str | Path | None = None) -> Path:
    """`runs_dir` if given, else $VITSTUDIO_RUNS, else `default_runs_dir()`."""
    return Path(runs_dir or os.environ.get(ENV_VAR) or default_runs_dir()).expanduser()


class Run:
    """One run's folder: its config, metrics log, status and checkpoints."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def id(self) -> str:
        return self.path.name

    last_checkpoint = property(lambda self: self.path / LAST)
    best_checkpoint = property(lambda self: self.path / BEST)
    weights = property(lambda self: self.path / WEIGHTS)
    metrics_path = property(lambda self: self.path / METRICS)

    # -- reading ------------------------------------------------------------------------------

    def config(self) -> Config:
        """The run's config; fields this version does not know are ignored."""
        return Config.from_dict(json.loads((self.path / CONFIG).read_text(encoding="utf-8")), strict=False)

    def status(self) -> dict:
        """The latest status; a run whose process died shows state 'interrupted'."""
        status = self._read_status()
        if status.get("state") in ACTIVE_STATES and not _alive(status.get("host"), status.get("pid")):
            status["state"] = "interrupted"
        return status

    def _read_status(self) -> dict:
        try:
            return json.loads((self.path / STATUS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"state": "unknown"}

    def events(self) -> list[Event]:
        return read_metrics(self.path / METRICS)

    def weights_file(self, which: str = "final") -> Path:
        """The file holding the run's 'final' weights (for an unfinished run: best, else last), 'best' or 'last'."""
        order = {"final": (self.weights, self.best_checkpoint, self.last_checkpoint),
                 "best": (self.best_checkpoint,), "last": (self.last_checkpoint,)}[which]
        for path in order:
            if path.exists():
                return path
        raise FileNotFoundError(f"run {self.id} has no {which} weights yet (no {', '.join(p.name for p in order)})")

    def load_model(self, which: str = "final"):
        """The run's model with its weights (see `weights_file`), in eval mode."""
        from .checkpoint import load_weights
        from .trainer import build_model

        model = build_model(self.config(), self._read_status().get("num_classes"))
        model.load_state_dict(load_weights(self.weights_file(which)))
        return model.eval()

    def summary(self) -> dict:
        """What a run list shows: identity, what was trained, state, progress and results (JSON-able)."""
        status, cfg = self.status(), self.config()
        return {
            "id": self.id, "path": str(self.path), "state": status.get("state"), "reason": status.get("reason"),
            "model": cfg.model.name, "objective": cfg.objective.name, "data": cfg.data.name,
            "step": status.get("step", 0), "total_steps": status.get("total_steps"), "epoch": status.get("epoch"),
            "created": status.get("created"), "updated": status.get("updated"),
            "last_eval": status.get("last_eval"), "best_eval": status.get("best_eval"),
            "weights": str(self.weights) if self.weights.exists() else None,
        }

    # -- writing (the trainer's rank 0 only) --------------------------------------------------

    def record(self, event: Event) -> None:
        """Append `event` to the metrics log and fold it into the status; a trainer listener."""
        with open(self.path / METRICS, "a", encoding="utf-8") as f:
            f.write(json.dumps(event.to_dict()) + "\n")
        status = self._read_status()
        status.update(step=event.step, epoch=event.epoch, updated=event.time, pid=os.getpid(),
                      host=socket.gethostname())
        if event.kind == "started":
            status.update(state="running", reason=None, **{k: event.data.get(k) for k in (
                "total_steps", "steps_per_epoch", "num_classes", "class_names")})
        elif event.kind == "step":
            status.update(state="running", loss=event.data.get("loss"), images_per_sec=event.data.get("images_per_sec"))
        elif event.kind == "eval":
            status["last_eval"] = dict(event.data, step=event.step)
        elif event.kind == "checkpoint" and event.data.get("best"):
            status["best_eval"] = status.get("last_eval")
        elif event.kind in ("paused", "resumed"):
            status["state"] = "paused" if event.kind == "paused" else "running"
        elif event.terminal:
            status.update(state=event.kind, reason=event.data.get("reason"))
        self.write_status(status)

    def write_status(self, status: dict) -> None:
        atomic_write(self.path / STATUS, lambda tmp: tmp.write_text(json.dumps(status, indent=1), encoding="utf-8"),
                     durable=False)

    def truncate_metrics(self, step: int) -> None:
        """Drop log records after `step` (what happened after the checkpoint a resume starts from)."""
        kept = [e for e in self.events() if e.step <= step]
        text = "".join(json.dumps(e.to_dict()) + "\n" for e in kept)
        atomic_write(self.path / METRICS, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_metrics(path: str | Path) -> list[Event]:
    """The events of a metrics log; a partly written last line (a run still writing, or killed) is skipped."""
    events = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return events
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            events.append(Event.from_dict(record))
    return events


def create_run(config: Config, runs_dir: str | Path | None = None) -> Run:
    """A new run folder named `<date>-<time>-<name or model>` holding the config and a 'created' status."""
    root = runs_root(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{config.runtime.name or config.model.name}"
    for n in range(1000):
        path = root / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            break
        except FileExistsError:
            continue
    else:
        raise RuntimeError(f"cannot create a run folder named {base} in {root}")
    run = Run(path)
    atomic_write(path / CONFIG, lambda tmp: tmp.write_text(config.to_json(), encoding="utf-8"))
    run.write_status({"state": "created", "created": time.time(), "step": 0, "pid": os.getpid(),
                      "host": socket.gethostname()})
    return run


def list_runs(runs_dir: str | Path | None = None) -> list[Run]:
    """Every run under the root, oldest first."""
    root = runs_root(runs_dir)
    if not root.is_dir():
        return []
    return sorted((Run(p) for p in root.iterdir() if (p / CONFIG).is_file()), key=lambda r: r.id)


def find_run(ref: str | Path, runs_dir: str | Path | None = None) -> Run:
    """A run by folder path, id, or a part of its id that only it has."""
    path = Path(ref)
    if (path / CONFIG).is_file():
        return Run(path)
    runs = list_runs(runs_dir)
    exact = [r for r in runs if r.id == str(ref)]
    matches = exact or [r for r in runs if str(ref) in r.id]
    if len(matches) == 1:
        return matches[0]
    where = runs_root(runs_dir)
    if not matches:
        raise LookupError(f"no run {str(ref)!r} in {where} (see `vitstudio runs list`)")
    raise LookupError(f"{str(ref)!r} matches {len(matches)} runs in {where}: {', '.join(r.id for r in matches[:5])}")


def _alive(host: str | None, pid: int | None) -> bool:
    """Whether the process that writes a run still runs (assumed so for another host)."""
    if host != socket.gethostname():
        return host is not None
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
