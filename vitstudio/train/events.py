"""What a training run reports: one `Event` per happening, sent to listeners and logged one per line.

Kinds and their `data`:
  started    run_dir, total_steps, steps_per_epoch, config, model (a name that says what the model is),
             model_args (every argument it was built with), num_classes, class_names, params (parameter count),
             device ('cpu', 'cuda:0'), precision ('fp32' or 'bf16': runtime.precision as resolved),
             resumed_from (the checkpoint's step when resuming, else None),
             init_notes (how pretrained weights were adapted)
  step       loss, lr, images_per_sec (the mean loss and rate since the previous step event)
  progress   no data; the step count between step events, at most every PROGRESS_SECONDS (not logged: it lets
             a progress bar move every step or so without the host sync a step event's loss costs)
  eval       val_loss, top1, top5 (percent; classification objectives only)
  checkpoint path, best
  paused, resumed
  finished   (weights: path of the final safetensors file), stopped (checkpoint), diverged, failed:
             terminal; reason, and traceback for failures
`step` is the number of optimiser steps done; `epoch` the epochs done as a float (step / steps_per_epoch);
`time` the wall-clock time (seconds since the epoch).
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = (
    "started",
    "step",
    "progress",
    "eval",
    "checkpoint",
    "paused",
    "resumed",
    "finished",
    "stopped",
    "diverged",
    "failed",
)
PROGRESS_SECONDS = 0.5
TERMINAL = ("finished", "stopped", "diverged", "failed")
GAP_KINDS = ("started", "resumed")  # the time before these events is not training time


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of a logged metric is the better one: losses; accuracies and the rest are higher."""
    return "loss" in metric


@dataclass(frozen=True)
class Event:
    kind: str
    step: int
    epoch: float
    time: float = field(default_factory=_time.time)
    data: dict = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL

    def to_dict(self) -> dict:
        return {"kind": self.kind, "step": self.step, "epoch": self.epoch, "time": self.time, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, d: dict) -> Event:
        """Tolerant of records from other versions: unknown keys are ignored, missing ones defaulted."""
        return cls(
            kind=str(d.get("kind", "")),
            step=int(d.get("step", 0)),
            epoch=float(d.get("epoch", 0.0)),
            time=float(d.get("time", 0.0)),
            data=dict(d.get("data") or {}),
        )


Listener = Callable[[Event], None]


class TrainingClock:
    """Seconds of training at each of a run's events, fed in order: the time before a `started` or `resumed`
    event (a pause, or the gap before a stopped run was resumed) is left out."""

    def __init__(self):
        self.first_time: float | None = None
        self.last_time: float | None = None
        self.gaps = 0.0

    def tick(self, event: Event) -> float:
        if self.first_time is None or self.last_time is None:
            self.first_time = event.time
        elif event.kind in GAP_KINDS:
            self.gaps += max(event.time - self.last_time, 0.0)
        self.last_time = event.time
        return event.time - self.first_time - self.gaps
