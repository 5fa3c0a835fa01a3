"""Training (Qt-free): the loop, its events, objectives, optimiser, checkpoints and the run store."""

from .build import build_model
from .checkpoint import CheckpointError, load_checkpoint, load_weights
from .events import Event, Listener
from .runs import Run, create_run, find_run, list_runs, read_metrics, runs_root
from .trainer import Trainer

__all__ = [
    "CheckpointError",
    "Event",
    "Listener",
    "Run",
    "Trainer",
    "build_model",
    "create_run",
    "find_run",
    "list_runs",
    "load_checkpoint",
    "load_weights",
    "read_metrics",
    "runs_root",
]
