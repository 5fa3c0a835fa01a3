"""Work off the UI thread: torch and the core are imported by a `CoreLoader` behind the painted window (what
it imports is `startup.py`'s); a
`Trainer` runs in a QThread and its events reach the UI as queued signals; the inspector's analyses run
through a `LatestRequestRunner`, which delivers only each slot's latest result."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal


class CoreLoader(QThread):
    """Runs `load()` (returning a dict) then `warm()` on a thread; `loaded(info)`, `warmed()` or
    `failed(summary, traceback)` arrive on the UI thread."""

    loaded = Signal(dict)
    warmed = Signal()
    failed = Signal(str, str)

    def __init__(self, load: Callable[[], dict], warm: Callable[[], None], parent=None):
        super().__init__(parent)
        self.load, self.warm = load, warm

    def run(self) -> None:
        try:
            self.loaded.emit(self.load())
            self.warm()
        except Exception as e:
            self.failed.emit(f"{type(e).__name__}: {e}", traceback.format_exc())
            return
        self.warmed.emit()


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
    reason = f"{type(error).__name__}: {error}"
    run.record(Event("failed", step, epoch, time.time(), {"reason": reason, "traceback": tb}))


class _JobSignals(QObject):
    finished = Signal(str, int, object)
    failed = Signal(str, int, str)


class _Job(QRunnable):
    def __init__(self, runner: LatestRequestRunner, slot: str, generation: int, fn: Callable[[], object]):
        super().__init__()
        self.runner, self.slot, self.generation, self.fn = runner, slot, generation, fn

    def run(self):
        if not self.runner.is_latest(self.slot, self.generation):
            return  # superseded before it started: skip the work
        try:
            result = self.fn()
        except Exception as e:
            self.runner._signals.failed.emit(self.slot, self.generation, f"{type(e).__name__}: {e}")
        else:
            self.runner._signals.finished.emit(self.slot, self.generation, result)


class LatestRequestRunner(QObject):
    """Runs functions on one worker thread, by named slot; only a slot's latest request is delivered.

    `submit(slot, fn)` queues `fn`; `finished(slot, result)` or `failed(slot, message)` arrive on
    the UI thread for the latest request of each slot only. Superseded requests that have not
    started yet are skipped; ones already running finish and are dropped.
    """

    finished = Signal(str, object)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # torch uses its own threads; one job at a time keeps order
        self._latest: dict[str, int] = {}
        self._signals = _JobSignals()
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)

    def submit(self, slot: str, fn: Callable[[], object]) -> int:
        generation = self._latest.get(slot, 0) + 1
        self._latest[slot] = generation
        self._pool.start(_Job(self, slot, generation, fn))
        return generation

    def cancel(self, slot: str) -> None:
        """Drop the slot's pending and running requests."""
        self._latest[slot] = self._latest.get(slot, 0) + 1

    def is_latest(self, slot: str, generation: int) -> bool:
        return self._latest.get(slot) == generation

    def wait(self, msecs: int = -1) -> bool:
        """Block until the queue is empty (for shutdown and tests)."""
        return self._pool.waitForDone(msecs)

    def _on_finished(self, slot: str, generation: int, result: object) -> None:
        if self.is_latest(slot, generation):
            self.finished.emit(slot, result)

    def _on_failed(self, slot: str, generation: int, message: str) -> None:
        if self.is_latest(slot, generation):
            self.failed.emit(slot, message)
