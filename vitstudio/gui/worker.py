"""Work off the UI thread, one way: a `Task` runs a function on its own thread and reports to the UI thread.

A `TrainingJob` is the task of one training run; a `LatestRequestRunner` runs requests one at a time on a task
and delivers only each slot's latest result. On close, `wait_for_tasks()` waits for every task still running.

Python's cyclic garbage collector runs on whichever thread allocates when a threshold is crossed. On a task's
thread it can destroy Qt objects there, and PySide then deadlocks (the task waits for the GIL in a QObject's
destructor while the UI thread waits for the task). So the first task hands collection to the UI thread
(`collect_on_ui_thread`): automatic collection is turned off and a timer collects what is due.
"""

from __future__ import annotations

import gc
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal

GC_INTERVAL_MS = 250
_collector: QTimer | None = None  # the application's timer that collects garbage, once a task has been made


def describe(error: Exception) -> tuple[str, str]:
    """How a failure travels to the UI: a one-line summary and the traceback (call it in the `except` block)."""
    return f"{type(error).__name__}: {error}", traceback.format_exc()


def collect_due() -> None:
    """Collect the oldest generation whose threshold is crossed, as Python's automatic collector would."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return


def collect_on_ui_thread() -> None:
    """Turn automatic garbage collection off and collect on the UI thread instead (see the module docstring);
    call it on the UI thread. Idempotent."""
    global _collector
    if _collector is None:
        gc.disable()
        _collector = QTimer(QCoreApplication.instance(), interval=GC_INTERVAL_MS)
        _collector.timeout.connect(collect_due)
        _collector.start()


class Task(QThread):
    """Runs `fn(task)` once on its own thread; its signals arrive on the UI thread.

    In `fn`, `task.report(value)` sends `progress(value)` and `task.cancelled` (a `threading.Event`, set by
    `cancel()`) says whether to give up. When `fn` returns, `done(result)`; when it raises, `failed(summary,
    traceback)`; then `finished`. A task belongs to the application while it runs (`wait_for_tasks` finds it)
    and deletes itself once its `finished` slots have run: its owner lets go of it there.
    """

    progress = Signal(object)
    done = Signal(object)
    failed = Signal(str, str)  # one-line summary, traceback

    def __init__(self, fn: Callable[[Task], object]):
        super().__init__(QCoreApplication.instance())
        collect_on_ui_thread()
        self.fn = fn
        self.cancelled = threading.Event()

    def start(self) -> None:
        self.finished.connect(self.deleteLater)  # connected last: after the owner's slots
        super().start()

    def report(self, value: object) -> None:
        self.progress.emit(value)

    def cancel(self) -> None:
        self.cancelled.set()

    def run(self) -> None:
        try:
            result = self.fn(self)
        except Exception as e:  # shown to the user; the app stays up
            self.failed.emit(*describe(e))
        else:
            self.done.emit(result)


def wait_for_tasks() -> None:
    """Block until every running task has ended (a QThread must not outlive Qt); the caller stops long ones first."""
    for task in QCoreApplication.instance().findChildren(Task):
        task.wait()


class TrainingJob(Task):
    """One training run: `progress` carries each trainer `Event`, `done` the kind of the run's last one and
    `failed` an exception the trainer let out (the run is then recorded as failed).

    `pause()`, `resume()` and `stop()` may be called from the UI thread at any time, also before the trainer is
    built: they are handed to it as soon as it exists, and it obeys them between steps.
    """

    def __init__(self, config, runs_dir=None, resume=None):
        super().__init__(self._train)
        self.config, self.runs_dir, self.resume_from = config, runs_dir, resume
        self.run_dir = None
        self.terminal = None  # the kind of the run's last event, once it has ended
        self._trainer = None
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def _train(self, _task) -> str | None:
        from ..train import Trainer  # deferred: the window imports this module before torch

        try:
            trainer = Trainer(self.config, runs_dir=self.runs_dir, listeners=[self._forward], resume=self.resume_from)
            with self._lock:
                self._trainer, pending = trainer, self._pending
            self.run_dir = trainer.run_dir
            for command in pending:
                getattr(trainer, command)()
            trainer.run()
        except Exception as e:
            if self.run_dir is not None and self.terminal is None:
                _mark_failed(self.run_dir, *describe(e))
            raise
        return self.terminal

    def _forward(self, event) -> None:
        if event.terminal:
            self.terminal = event.kind
        self.report(event)

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


def _mark_failed(run_dir, reason: str, tb: str) -> None:
    """Record the failure in the run's log and status, as the trainer does for errors it catches."""
    from ..train.events import Event  # deferred, as in `_train`
    from ..train.runs import Run

    run = Run(run_dir)
    last = run.events()
    step, epoch = (last[-1].step, last[-1].epoch) if last else (0, 0.0)
    run.record(Event("failed", step, epoch, time.time(), {"reason": reason, "traceback": tb}))


class LatestRequestRunner(QObject):
    """Runs requests one at a time, by named slot, and delivers only each slot's latest.

    `submit(slot, fn)` queues `fn()`; `finished(slot, result)` or `failed(slot, summary, traceback)` arrive on
    the UI thread for the latest request of each slot only: requests superseded before they start are skipped,
    ones already running finish and are dropped. One `Task` runs the queue until it is empty (torch has its own
    threads; one request at a time keeps order).
    """

    finished = Signal(str, object)
    failed = Signal(str, str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._latest: dict[str, int] = {}
        self._queue: deque[tuple[str, int, Callable[[], object]]] = deque()
        self._lock = threading.Lock()  # the queue and `_task`, shared with the task's thread
        self._task: Task | None = None  # the task running the queue, until it finds it empty

    @property
    def busy(self) -> bool:
        """Whether requests are queued or running."""
        return self._task is not None

    def submit(self, slot: str, fn: Callable[[], object]) -> int:
        with self._lock:
            generation = self._latest[slot] = self._latest.get(slot, 0) + 1
            self._queue.append((slot, generation, fn))
            if self._task is not None:
                return generation
            self._task = task = Task(self._run_queue)
        task.progress.connect(self._deliver)
        task.start()
        return generation

    def cancel(self, slot: str) -> None:
        """Drop the slot's pending and running requests."""
        with self._lock:
            self._latest[slot] = self._latest.get(slot, 0) + 1

    def wait(self) -> None:
        """Block until the queue is empty (for tests; on close, `wait_for_tasks` does it)."""
        with self._lock:
            task = self._task
        if task is not None:
            task.wait()

    def _run_queue(self, task: Task) -> None:
        while (request := self._take()) is not None:
            slot, generation, fn = request
            try:
                outcome = (fn(), None)
            except Exception as e:
                outcome = (None, describe(e))
            task.report((slot, generation, *outcome))

    def _take(self) -> tuple[str, int, Callable[[], object]] | None:
        """The next request that is still its slot's latest (the others are skipped), or None: the task ends."""
        with self._lock:
            while self._queue:
                slot, generation, fn = self._queue.popleft()
                if self._latest[slot] == generation:
                    return slot, generation, fn
            self._task = None  # the next request starts a new task
            return None

    def _deliver(self, outcome: tuple) -> None:
        slot, generation, result, error = outcome
        if self._latest[slot] != generation:
            return
        if error is None:
            self.finished.emit(slot, result)
        else:
            self.failed.emit(slot, *error)
