"""Running a study: its arms and seeds as a queue of ordinary runs, tagged with the study, arm, seed and budget.

    jobs = plan(study, "cpu", runs_dir)          # one Job per (arm, seed), matched with the runs already made
    while (job := next_job(study, jobs)) is not None:
        run = prepare(study, "cpu", jobs, job, runs_dir)   # creates and tags the run, "@arm" resolved to run ids
        Trainer(None, runs_dir, resume=run.path).run()     # what the CLI's `StudyRunner` and the GUI's queue do

Resumable: a finished run is kept; a created, stopped or interrupted one continues from its last checkpoint;
a failed or diverged one is reported and the arms that do not need it go on.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Config, ConfigError, validate
from ..train.events import Event
from ..train.runs import Run, create_run, list_runs
from ..train.trainer import Trainer
from .spec import Study

#: job states besides a run's own: no run yet, or a stage whose earlier stage failed.
WAITING, BLOCKED = "waiting", "blocked"
RESUMABLE = ("created", "stopped", "interrupted", WAITING)
FAILED = ("failed", "diverged", BLOCKED)


@dataclass
class Job:
    arm: str
    seed: int
    config: Config  # "@arm" references still unresolved
    run: Run | None = None
    error: str | None = None  # why it could not start (a bad config), when it has no run to say so

    @property
    def label(self) -> str:
        return f"{self.arm} (seed {self.seed})"


def run_tags(study: str, budget: str, arm: str, seed: int) -> list[str]:
    return [f"study:{study}", f"budget:{budget}", f"arm:{arm}", f"seed:{seed}"]


def study_runs(study: str, budget: str, runs_dir=None) -> dict[tuple[str, int], Run]:
    """The latest run of each (arm, seed) of `study` at `budget`, found by its tags."""
    found = {}
    for run in list_runs(runs_dir):  # oldest first: a later run of the same arm and seed wins
        tags = dict(t.split(":", 1) for t in run.meta()["tags"] if ":" in t)
        if tags.get("study") == study and tags.get("budget") == budget and tags.get("seed", "").lstrip("-").isdigit():
            found[(tags.get("arm"), int(tags["seed"]))] = run
    return found


def plan(study: Study, budget: str, runs_dir=None) -> list[Job]:
    """Every (arm, seed) of the study in stage order, with the run already made for it (if any)."""
    existing = study_runs(study.name, budget, runs_dir)
    return [
        Job(arm, seed, study.config(arm, seed, budget), existing.get((arm, seed)))
        for arm in study.arms
        for seed in study.seeds_for(arm, budget)
    ]


def dependency(jobs: list[Job], job: Job, arm: str) -> Job:
    """The job of `arm` that `job` uses: the same seed when `arm` runs it, else `arm`'s first seed."""
    candidates = [j for j in jobs if j.arm == arm]
    return next((j for j in candidates if j.seed == job.seed), candidates[0])


def job_state(study: Study, jobs: list[Job], job: Job) -> str:
    """The run's state ('finished', 'running', 'failed', ...), else 'waiting', or 'blocked' by a failed stage."""
    if job.error is not None:
        return "failed"
    if job.run is not None:
        return job.run.status().get("state") or "unknown"
    for arm in study.arms[job.arm].needs.values():
        if job_state(study, jobs, dependency(jobs, job, arm)) in FAILED:
            return BLOCKED
    return WAITING


def next_job(study: Study, jobs: list[Job]) -> Job | None:
    """The first job still to train whose earlier stages have finished; None when nothing can run."""
    for job in jobs:
        if job_state(study, jobs, job) not in RESUMABLE:
            continue
        needs = study.arms[job.arm].needs.values()
        if all(job_state(study, jobs, dependency(jobs, job, a)) == "finished" for a in needs):
            return job
    return None


def prepare(study: Study, budget: str, jobs: list[Job], job: Job, runs_dir=None) -> Run:
    """The job's run, created and tagged on first use with its "@arm" references replaced by run ids.

    A bad config raises ConfigError (also kept in `job.error`, so the queue reports it and goes on)."""
    if job.run is not None:
        return job.run
    cfg = job.config
    for key, arm in study.arms[job.arm].needs.items():
        section, name = key.split(".", 1)
        cfg = Config.from_dict({section: {name: dependency(jobs, job, arm).run.id}}, base=cfg)
    try:
        validate(cfg)
    except ConfigError as e:
        job.error = f"study {study.name}, arm {job.arm}: {e}"
        raise ConfigError(e.field, job.error) from None
    run = create_run(cfg, runs_dir, label=cfg.runtime.name)
    run.update_meta(name=f"{study.title}: {job.label}", tags=run_tags(study.name, budget, job.arm, job.seed))
    job.run = run
    return run


def torchrun_launcher(nproc: int, runs_dir=None) -> Callable[[Run], str]:
    """Train each run in `nproc` processes under torchrun (one per GPU), as `vitstudio train --resume RUN`;
    returns the run's final state. Ctrl-C reaches the processes, which stop with a checkpoint."""

    def launch(run: Run) -> str:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
        cmd += ["-m", "vitstudio", "train", "--resume", str(run.path)]
        subprocess.run([*cmd, *(["--runs-dir", str(runs_dir)] if runs_dir else [])], check=False)
        return run.status().get("state") or "unknown"

    return launch


class StudyRunner:
    """Trains a study's queue in this thread, one run at a time; `stop()` (any thread) ends it after the
    current run has saved a resumable checkpoint. `on_job(job, state)` hears each start and end.
    `launcher(run) -> state` trains a run some other way (`torchrun_launcher`); by default a `Trainer` here."""

    def __init__(self, study: Study, budget: str, runs_dir=None, listeners=(), on_job=None, launcher=None):
        self.study, self.budget, self.runs_dir = study, budget, runs_dir
        self.listeners, self.on_job = list(listeners), on_job or (lambda job, state: None)
        self.launcher = launcher
        self.jobs = plan(study, budget, runs_dir)
        self._stop = threading.Event()
        self._trainer = None
        self._lock = threading.Lock()

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self._trainer is not None:
                self._trainer.stop()

    def run(self) -> list[Job]:
        while not self._stop.is_set() and (job := next_job(self.study, self.jobs)) is not None:
            try:
                run = prepare(self.study, self.budget, self.jobs, job, self.runs_dir)
            except ConfigError:
                self.on_job(job, "failed")
                continue
            self.on_job(job, "running")
            if self.launcher is not None:
                self.on_job(job, self.launcher(run))
                continue
            try:
                trainer = Trainer(None, self.runs_dir, self.listeners, resume=run.path)
            except (ConfigError, LookupError) as e:
                run.record(Event("failed", 0, 0.0, time.time(), {"reason": f"{type(e).__name__}: {e}"}))
                self.on_job(job, "failed")
                continue
            with self._lock:
                self._trainer = trainer
                if self._stop.is_set():
                    trainer.stop()
            final = trainer.run()
            with self._lock:
                self._trainer = None
            self.on_job(job, final.kind)
        return self.jobs
