"""Training off the UI thread: a `Trainer` runs in a QThread and its events reach the UI as queued signals."""
from __future__ import annotations

import threading
import time
import traceback

from PySide6.QtCore import QThread, Signal


class TrainingThread(QThread):
    """One training run. `event` carries every trainer `Event`; `crashed` an exception the trainer let out.

    `pause()`, `resume()` and `stop()` may be called from the UI thread at any time, also before the
    trainer is built: they are handed to it as soon as it exists, and it obeys them between steps.
    """

    event = Signal(object)
    crashed = Signal(str, str)  # one-line summary, traceback

    def __init__(self, config, runs_dir=None, resume=None, parent=None):
        super().__init__(parent)
        self.config, self.runs_dir, self.resume_from = config, runs_dir, resume
        self.run_dir = None
        self.terminal = None  # the kind of the run's last event, once it has ended
        self._trainer = None
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def run(self) -> None:
        try:
            from ..train import Trainer

            trainer = Trainer(self.config, runs_dir=self.runs_dir, listeners=[self._forward], resume=self.resume_from)
            with self._lock:
                self._trainer, pending = trainer, self._pending
            self.run_dir = trainer.run_dir
            for command in pending:
                getattr(trainer, command)()
            trainer.run()
        except Exception as e:  # shown to the user; the app stays up
            tb = traceback.format_exc()
            if self.run_dir is not None and self.terminal is None:
                _mark_failed(self.run_dir, e, tb)
            self.crashed.emit(f"{type(e).__name__}: {e}", tb)

    def _forward(self, event) -> None:
        if event.terminal:
            self.terminal = event.kind
        self.event.emit(event)

    def _command(self, name: str) -> None:
        with self._lock:
            if self._trainer is None:
                self._pending.append(name)
                return
            trainer = self._trainer
        getattr(trainer, name)()

    def pause(self) -> None:
        self._command("pause")

    def resume(self) -> None:
        self._command("resume")

    def stop(self) -> None:
        """Ask the trainer to save a resumable checkpoint and end after the current step."""
        self._command("stop")


def _mark_failed(run_dir, error: Exception, tb: str) -> None:
    """Record the failure in the run's log and status, as the trainer does for errors it catches."""
    from ..train.events import Event
    from ..train.runs import Run

    run = Run(run_dir)
    last = run.events()
    step, epoch = (last[-1].step, last[-1].epoch) if last else (0, 0.0)
    run.record(Event("failed", step, epoch, time.time(), {"reason": f"{type(error).__name__}: {error}", "traceback": tb}))
