"""The one way work runs off the UI thread: a `Task` reports, returns, fails and is cancelled; the runner built on
it delivers only each slot's latest result; closing waits for every task."""

import threading
import time

import shiboken6
from conftest import QT_TIMEOUT
from PySide6.QtCore import QThread

from vitstudio.gui.worker import LatestRequestRunner, Task, wait_for_tasks


def test_progress_and_the_result_arrive_on_the_ui_thread(qtbot):
    def fn(task):
        for i in range(3):
            task.report(i)
        return "result", QThread.currentThread()

    task, seen = Task(fn), []
    task.progress.connect(lambda value: seen.append((value, QThread.currentThread())))
    with qtbot.waitSignal(task.done, timeout=QT_TIMEOUT) as done:
        task.start()
    ui = QThread.currentThread()
    assert seen == [(0, ui), (1, ui), (2, ui)]
    result, worker = done.args[0]
    assert result == "result" and worker is not ui


def test_garbage_is_collected_on_the_ui_thread_not_on_a_tasks(qtbot):
    """A collection on a task's thread can destroy Qt objects there (a PySide deadlock): garbage made while a
    task allocates is collected by the UI thread."""
    where = []

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            where.append(threading.current_thread())

    task = Task(lambda task: len([[] for _ in range(5000)]))  # live allocations: past the first threshold
    Cycle()  # garbage that only the cyclic collector frees
    with qtbot.waitSignal(task.finished, timeout=QT_TIMEOUT):
        task.start()
    held = [[] for _ in range(5000)]  # a collection is due here too, then
    qtbot.waitUntil(lambda: bool(where), timeout=QT_TIMEOUT)
    assert where == [threading.main_thread()] and held


def test_an_exception_arrives_as_a_summary_and_a_traceback(qtbot):
    def fn(task):
        raise ValueError("bad input")

    task = Task(fn)
    with qtbot.assertNotEmitted(task.done), qtbot.waitSignal(task.failed, timeout=QT_TIMEOUT) as failed:
        task.start()
    summary, tb = failed.args
    assert summary == "ValueError: bad input"
    assert tb.startswith("Traceback") and "in fn" in tb and "bad input" in tb


def test_cancel_is_seen_by_the_function(qtbot):
    started = threading.Event()

    def fn(task):
        started.set()
        return task.cancelled.wait(QT_TIMEOUT / 1000)

    task = Task(fn)
    with qtbot.waitSignal(task.done, timeout=QT_TIMEOUT) as done:
        task.start()
        assert started.wait(10)
        task.cancel()
    assert done.args == [True]


def test_a_task_deletes_itself_after_its_finished_slots_ran(qtbot):
    task, read = Task(lambda task: None), []
    task.finished.connect(lambda: read.append(task.cancelled.is_set()))  # the owner still reaches it here
    with qtbot.waitSignal(task.finished, timeout=QT_TIMEOUT):
        task.start()
    qtbot.waitUntil(lambda: not shiboken6.isValid(task), timeout=QT_TIMEOUT)
    assert read == [False]


def test_wait_for_tasks_waits_for_every_running_task():
    class Slow(Task):  # subclasses (a TrainingJob) are found too
        pass

    ended = []

    def fn(task):
        time.sleep(0.3)
        ended.append(task)

    tasks = [Task(fn), Slow(fn)]
    for task in tasks:
        task.start()
    wait_for_tasks()
    assert len(ended) == 2 and all(task.isFinished() for task in tasks)


def test_runner_delivers_only_the_latest_request_and_skips_superseded_ones(qtbot):
    runner = LatestRequestRunner()
    started, release, ran, delivered = threading.Event(), threading.Event(), [], []
    runner.finished.connect(lambda slot, result: delivered.append((slot, result)))

    def job(name, block=False):
        def fn():
            if block:
                started.set()
                release.wait(10)
            ran.append(name)
            return name

        return fn

    runner.submit("a", job("first", block=True))
    assert started.wait(10)  # "first" is running while the others are queued
    runner.submit("a", job("second"))
    runner.submit("b", job("other slot"))
    with qtbot.waitSignal(runner.finished, timeout=QT_TIMEOUT):
        runner.submit("a", job("third"))
        release.set()
    runner.wait()
    qtbot.wait(50)
    assert ran == ["first", "other slot", "third"]  # "second" was superseded before it started
    assert sorted(delivered) == [("a", "third"), ("b", "other slot")]  # "first" ran but was dropped


def test_the_runner_delivers_the_latest_failure_of_a_slot_with_its_traceback(qtbot):
    runner, failures, results = LatestRequestRunner(), [], []
    runner.failed.connect(lambda *args: failures.append(args))
    runner.finished.connect(lambda *args: results.append(args))
    release = threading.Event()

    def fail(message, block=False):
        def fn():
            if block:
                release.wait(10)
            raise RuntimeError(message)

        return fn

    runner.submit("a", fail("superseded while running", block=True))
    assert runner.busy
    runner.submit("a", fail("skipped"))
    with qtbot.waitSignal(runner.failed, timeout=QT_TIMEOUT):
        runner.submit("a", fail("latest"))
        release.set()
    runner.wait()
    qtbot.waitUntil(lambda: not runner.busy, timeout=QT_TIMEOUT)
    qtbot.wait(50)
    assert [(slot, summary) for slot, summary, _ in failures] == [("a", "RuntimeError: latest")]
    assert "Traceback" in failures[0][2] and results == []


def test_a_cancelled_slot_delivers_nothing_and_the_runner_goes_on(qtbot):
    runner, results = LatestRequestRunner(), []
    runner.finished.connect(lambda slot, result: results.append((slot, result)))
    runner.submit("a", lambda: "dropped")
    runner.cancel("a")
    with qtbot.waitSignal(runner.finished, timeout=QT_TIMEOUT):
        runner.submit("b", lambda: "kept")
    runner.wait()
    qtbot.wait(50)
    assert results == [("b", "kept")]
