"""The run store: one folder per run under a runs root. This module is the only place that knows the layout.

    <root>/<run id>/
        config.json        the run's Config (JSON)
        metrics.jsonl      one Event per line, append-only (readable while it is written)
        status.json        state, progress and the latest results, replaced atomically
        meta.json          what the user says about the run: display name, tags, note (replaced atomically)
        .lock              held (flock) by the one process that writes the run; says its pid and host
        .metrics-cache.npz the metrics log as arrays (a cache; deleting it is harmless)
        last.pt, best.pt   resumable checkpoints (temporary name, then rename)
        model.safetensors  final weights

The root is `--runs-dir`, else $VITSTUDIO_RUNS, else a per-user data folder. Deleted runs move to
`<root>/.trash/` and can be restored from there.

Reading a run never raises past this module except as `RunError`, whose message names the file; a run
whose files are damaged is listed with state 'damaged' and what is wrong (`Run.problems`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import socket
import sys
import threading
import time
import zipfile
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from ..user_dirs import user_runs_dir
from .build import build_model
from .checkpoint import CheckpointError, atomic_write, load_weights
from .events import GAP_KINDS, TERMINAL, Event, lower_is_better

CONFIG, METRICS, STATUS, META = "config.json", "metrics.jsonl", "status.json", "meta.json"
TRASH = ".trash"
CACHE = ".metrics-cache.npz"  # the metrics log as arrays; rebuilt from the log whenever it no longer matches
CACHE_MIN_EVENTS = 1000  # a read that parses this many events saves the cache
LAST, PREVIOUS, BEST, WEIGHTS = "last.pt", "previous.pt", "best.pt", "model.safetensors"
LOCK = ".lock"
RUN_FILES = (CONFIG, STATUS, METRICS, LAST, WEIGHTS)  # a folder holding any of these is a run (maybe damaged)
OWNED_FILES = (METRICS, STATUS, LAST, BEST, WEIGHTS)  # written only by the run's owner (their temporaries too)
ACTIVE_STATES = ("created", "running", "paused")
RESUMABLE_STATES = ("stopped", "interrupted", "failed", "diverged")  # what `--resume` and the studio offer to continue
METRIC_KINDS = ("step", "eval")  # the events whose numeric data are curves


class RunError(ValueError):
    """A run that cannot be read, written or taken over; the message names the run or the file."""


class RunBusy(RunError):
    """The run is being written by another process (see `Run.owner`)."""


class RunFinished(RunError):
    """The run is finished: there is nothing to resume."""


#: the type each status field must have to be used (anything else is dropped and reported as damage).
_NUMBER = (int, float)
STATUS_TYPES = {
    "state": str,
    "reason": str,
    "step": int,
    "epoch": _NUMBER,
    "created": _NUMBER,
    "updated": _NUMBER,
    "seconds": _NUMBER,
    "total_steps": int,
    "steps_per_epoch": int,
    "world_size": int,
    "num_classes": int,
    "params": int,
    "pid": int,
    "host": str,
    "device": str,
    "precision": str,
    "loss": _NUMBER,
    "images_per_sec": _NUMBER,
    "last_eval": dict,
    "best_eval": dict,
    "best": dict,
    "class_names": list,
    "mean": list,
    "std": list,
}


def read_json(path: Path):
    """The JSON value in `path`; `RunError` naming the file when it is unreadable (FileNotFoundError passes)."""
    try:
        return json.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise
    except OSError as e:
        raise RunError(f"{path}: cannot be read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise RunError(f"{path}: not text (binary or damaged bytes)") from None
    except ValueError as e:
        raise RunError(f"{path}: not valid JSON ({e})") from None


def runs_root(runs_dir: str | Path | None = None) -> Path:
    """`runs_dir` if given, else `user_runs_dir()` ($VITSTUDIO_RUNS or the per-user data folder)."""
    return Path(runs_dir).expanduser() if runs_dir else user_runs_dir()


class Run:
    """One run's folder: its config, metrics log, status and checkpoints."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __eq__(self, other) -> bool:  # a run is its folder
        return isinstance(other, Run) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def id(self) -> str:
        return self.path.name

    last_checkpoint = property(lambda self: self.path / LAST)
    previous_checkpoint = property(lambda self: self.path / PREVIOUS)  # the one `last.pt` replaced
    best_checkpoint = property(lambda self: self.path / BEST)
    weights = property(lambda self: self.path / WEIGHTS)
    metrics_path = property(lambda self: self.path / METRICS)

    # -- reading ------------------------------------------------------------------------------

    def config(self) -> Config:
        """The run's config; fields this version does not know are ignored. `RunError` names the file when
        it is missing or damaged."""
        path = self.path / CONFIG
        try:
            data = read_json(path)
        except FileNotFoundError:
            raise RunError(f"{path}: missing") from None
        if not isinstance(data, dict):
            raise RunError(f"{path}: expected a JSON object of config sections, got {type(data).__name__}")
        try:
            return Config.from_dict(data, strict=False)
        except ValueError as e:
            raise RunError(f"{path}: {e}") from None

    def write_config(self, config: Config) -> None:
        atomic_write(self.path / CONFIG, lambda tmp: tmp.write_text(config.to_json(), encoding="utf-8"))

    def status(self) -> dict:
        """The latest status; a run whose process died shows state 'interrupted'."""
        return _live(self._read_status())

    def _read_status(self) -> dict:
        return self._status_file()[0]

    def _status_file(self) -> tuple[dict, list[str]]:
        """The status with every field of the wrong type dropped, and what was wrong with the file."""
        path = self.path / STATUS
        try:
            status = read_json(path)
        except FileNotFoundError:
            return {"state": "unknown"}, []
        except RunError as e:
            return {"state": "unknown"}, [str(e)]
        if not isinstance(status, dict):
            return {"state": "unknown"}, [f"{path}: expected a JSON object, got {type(status).__name__}"]
        bad = [
            k
            for k, v in status.items()
            if v is not None and k in STATUS_TYPES and (not isinstance(v, STATUS_TYPES[k]) or isinstance(v, bool))
        ]
        for k in bad:
            del status[k]
        problems = [f"{path}: field {k!r} has the wrong type; ignored" for k in bad]
        return status, problems

    def problems(self) -> list[str]:
        """What is wrong with the run's files, each naming its file; empty for a healthy run. Unlike
        `summary` it reads the metrics log, counting the records that cannot be read."""
        found = []
        try:
            self.config()
        except RunError as e:
            found.append(str(e))
        found += self._status_file()[1]
        skipped = self.metrics().skipped
        return found + ([f"{self.path / METRICS}: {skipped} unreadable record(s) skipped"] if skipped else [])

    def events(self) -> list[Event]:
        return read_metrics(self.path / METRICS)

    def weights_file(self, which: str = "final") -> Path:
        """The file holding the run's 'final' weights (for an unfinished run: best, else last), 'best' or 'last'."""
        order = {
            "final": (self.weights, self.best_checkpoint, self.last_checkpoint),
            "best": (self.best_checkpoint,),
            "last": (self.last_checkpoint,),
        }[which]
        for path in order:
            if path.exists():
                return path
        raise FileNotFoundError(f"run {self.id} has no {which} weights yet (no {', '.join(p.name for p in order)})")

    def load_model(self, which: str = "final"):
        """The run's model with its weights (see `weights_file`), in eval mode."""
        model = build_model(self.config(), self._read_status().get("num_classes"))
        path = self.weights_file(which)
        try:
            weights = load_weights(path)
        except CheckpointError as e:  # it names the file
            raise RunError(str(e)) from None
        try:
            model.load_state_dict(weights)
        except RuntimeError as e:  # weights of another shape than the config's
            raise RunError(f"{path}: does not fit the run's model ({str(e).splitlines()[0]})") from None
        return model.eval()

    def stamp(self) -> tuple:
        """Changes whenever the run's status or meta changes: a cheap test of whether to read it again."""
        stamp = []
        for name in (STATUS, META):
            try:
                st = os.stat(self.path / name)
                stamp.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append(None)
        return tuple(stamp)

    def metrics(self) -> MetricLog:
        """The metrics log as arrays, cached: a call parses only what was appended since the last one."""
        return _log_reader(self.path / METRICS).read()

    def summary(self) -> dict:
        """What a run list shows: identity, what was trained, state, progress and results (JSON-able).

        Read from the status and the config; a run written by an older version, whose status lacks
        training time or best results, has them filled in from its metrics log. A run with damaged files
        has state 'damaged' and, as its reason, what is wrong and in which file; records of the metrics log
        that cannot be read are skipped (`problems()` counts them).
        """
        (status, problems), meta = self._status_file(), self.meta()
        status = _live(status)
        try:
            cfg = self.config()
        except RunError as e:
            cfg, problems = None, [str(e), *problems]
        if "best" not in status or "seconds" not in status or problems:
            known = {k: v for k, v in status.items() if not (k == "state" and v == "unknown")}
            status = {**self.metrics().status(), **known}
        if problems:
            status.update(state="damaged", reason="; ".join(problems))
        section = (lambda name: getattr(cfg, name)) if cfg is not None else (lambda name: None)
        return {
            "id": self.id,
            "path": str(self.path),
            "state": status.get("state"),
            "reason": status.get("reason"),
            "name": meta["name"] or self.id,
            "tags": meta["tags"],
            "note": meta["note"],
            "model": section("model") and (status.get("model") or cfg.model.name),  # a changed architecture's own name
            "objective": section("objective") and cfg.objective.name,
            "data": section("data") and cfg.data.name,
            "step": status.get("step", 0),
            "total_steps": status.get("total_steps"),
            "epoch": status.get("epoch"),
            "epochs": section("optim") and cfg.optim.epochs,
            "batch_size": section("optim") and cfg.optim.batch_size,
            "params": status.get("params"),
            "world_size": status.get("world_size") or 1,  # processes under torchrun; older runs did not say: 1
            "created": status.get("created"),
            "updated": status.get("updated"),
            "seconds": status.get("seconds"),
            "images_per_sec": status.get("images_per_sec"),
            "last_eval": status.get("last_eval"),
            "best_eval": status.get("best_eval"),
            "best": status.get("best") or {},
            "weights": str(self.weights) if self.weights.exists() else None,
        }

    # -- what the user says about the run: display name, tags, note ------------------------------

    def meta(self) -> dict:
        """`name` (None: the id), `tags` and `note`; defaults when the run has no meta file or a damaged one."""
        try:
            meta = read_json(self.path / META)
        except (OSError, RunError):
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        return {
            "name": str(meta["name"]) if meta.get("name") else None,
            "tags": [str(t) for t in meta.get("tags") or []] if isinstance(meta.get("tags"), list) else [],
            "note": str(meta.get("note") or ""),
        }

    def update_meta(self, **changes) -> dict:
        """Set `name` (empty or None: back to the id), `tags` (strings; blanks and repeats dropped) or `note`."""
        unknown = set(changes) - {"name", "tags", "note"}
        if unknown:
            raise TypeError(f"unknown run meta field(s): {', '.join(sorted(unknown))}")
        meta = self.meta()
        if "name" in changes:
            meta["name"] = (changes["name"] or "").strip() or None
        if "tags" in changes:
            meta["tags"] = list(dict.fromkeys(t.strip() for t in changes["tags"] if t.strip()))
        if "note" in changes:
            meta["note"] = changes["note"] or ""
        atomic_write(self.path / META, lambda tmp: tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8"))
        return meta

    # -- writing (the trainer's rank 0 only) --------------------------------------------------

    def record(self, *events: Event) -> None:
        """Append events to the metrics log and fold them into the status (written once); a trainer listener.

        A failed append (a full disk) is cut back, so the log never ends in a partial record."""
        data = "".join(json.dumps(e.to_dict()) + "\n" for e in events).encode("utf-8")
        with open(self.path / METRICS, "ab") as f:
            end = f.seek(0, os.SEEK_END)
            try:
                f.write(data)
                f.flush()
            except OSError:
                with contextlib.suppress(OSError):
                    f.truncate(end)
                raise
        status = self._read_status()
        for event in events:
            _fold(status, event)
        self.write_status(status)

    def write_status(self, status: dict) -> None:
        atomic_write(
            self.path / STATUS,
            lambda tmp: tmp.write_text(json.dumps(status, indent=1), encoding="utf-8"),
            durable=False,
        )

    def truncate_metrics(self, step: int) -> None:
        """Drop log records after `step` (what happened after the checkpoint a resume starts from)."""
        kept = [e for e in self.events() if e.step <= step]  # unreadable records are dropped too
        text = "".join(json.dumps(e.to_dict()) + "\n" for e in kept)
        atomic_write(self.path / METRICS, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    # -- ownership: one writing process at a time ------------------------------------------------

    def lock(self) -> RunLock:
        """Make this process the run's one writer, until the returned lock is released (or the process ends:
        the OS drops the lock of a dead process, so a killed run's lock is never stale). Temporary files left
        by an interrupted write are removed. `RunBusy` names the owner; `RunError` says when the folder
        cannot be written."""
        try:
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise RunError(f"cannot write to run folder {self.path} ({e.strerror or e})") from None
        if not _try_lock(fd):
            os.close(fd)
            owner = self.owner()
            raise RunBusy(f"run {self.id} is being written by {owner or 'another process'}; wait for it to end")
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        for name in OWNED_FILES:
            for tmp in self.path.glob(f".{name}.tmp*"):
                tmp.unlink(missing_ok=True)
        return RunLock(fd)

    def owner(self) -> str | None:
        """'process PID on HOST' while another process writes the run, else None."""
        try:
            fd = os.open(self.path / LOCK, os.O_RDONLY)
        except OSError:
            return None
        try:
            if _try_lock(fd, shared=True):
                return None
            try:
                info = json.loads(os.read(fd, 4096) or b"{}")
                return f"process {int(info['pid'])} on {info['host']}"
            except (ValueError, KeyError, TypeError, OSError):
                return "another process"
        finally:
            os.close(fd)  # also drops the probing lock


class RunLock:
    """Ownership of a run (see `Run.lock`); `release()` or garbage collection gives it up."""

    def __init__(self, fd: int):
        self.fd: int | None = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    __del__ = release


def _try_lock(fd: int, shared: bool = False) -> bool:
    """Take an advisory lock on an open file without waiting; False when another holder conflicts."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
            return False
        raise
    return True


def read_metrics(path: str | Path) -> list[Event]:
    """The events of a metrics log; a partly written last line (a run still writing, or killed) and records
    that do not parse (damaged bytes, a step that is not a number) are skipped (`Run.problems` counts them)."""
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [e for e in map(_event, _json_lines(text)[0]) if e is not None]


def _event(record) -> Event | None:
    """The event a log record holds, or None for a record that is not one."""
    if not isinstance(record, dict):
        return None
    try:
        return Event.from_dict(record)
    except (TypeError, ValueError):
        return None


def _fold(status: dict, event: Event) -> None:
    """Update a status dict with what `event` says."""
    if status.get("updated") is not None and event.kind not in GAP_KINDS:
        status["seconds"] = status.get("seconds", 0.0) + max(event.time - status["updated"], 0.0)
    previous_step = status.get("step", 0)
    status.update(step=event.step, epoch=event.epoch, updated=event.time, pid=os.getpid(), host=socket.gethostname())
    if event.kind == "started":
        status.update(
            state="running",
            reason=None,
            **{
                k: event.data.get(k)
                for k in (
                    "total_steps",
                    "steps_per_epoch",
                    "world_size",
                    "model",
                    "model_args",
                    "num_classes",
                    "class_names",
                    "params",
                    "device",
                    "precision",
                    "mean",
                    "std",
                )
            },
        )
    elif event.kind == "step":
        status.update(state="running", loss=event.data.get("loss"))
        rate = event.data.get("images_per_sec")
        if _number(rate) and rate > 0:
            steps, cost = status.get("rate_sums") or (0, 0.0)
            done = max(event.step - previous_step, 1)
            status["rate_sums"] = (steps + done, cost + done / rate)
            status["images_per_sec"] = (steps + done) / (cost + done / rate)
    elif event.kind == "eval":
        status["last_eval"] = dict(event.data, step=event.step)
        status["best"] = best_results(status.get("best") or {}, event.data)
    elif event.kind == "checkpoint" and event.data.get("best"):
        status["best_eval"] = status.get("last_eval")
    elif event.kind in ("paused", "resumed"):
        status["state"] = "paused" if event.kind == "paused" else "running"
    elif event.terminal:
        status.update(state=event.kind, reason=event.data.get("reason"))


def mean_rate(steps, rates) -> float | None:
    """A run's images/s: the images of its logged step windows over the seconds they took (each window's
    steps over its rate), not the last window's rate. None when nothing was logged."""
    steps, rates = np.asarray(steps, dtype=np.float64), np.asarray(rates, dtype=np.float64)
    done = np.maximum(np.diff(steps, prepend=0.0), 1.0)
    ok = np.isfinite(rates) & (rates > 0)
    return float(done[ok].sum() / (done[ok] / rates[ok]).sum()) if ok.any() else None


def best_results(best: dict, results: dict) -> dict:
    """`best` updated with the numeric `results` that beat it: lower for losses, higher for everything else."""
    best = dict(best)
    for key, value in results.items():
        if not _number(value) or math.isnan(value):
            continue
        old = best.get(key)
        if old is None or (value < old if lower_is_better(key) else value > old):
            best[key] = value
    return best


@dataclass(frozen=True)
class Curve:
    """One logged metric: its values and where each was logged (optimiser step, epoch, seconds of training).

    `kind` is the event kind that carries it: 'step' (training) or 'eval' (validation)."""

    kind: str
    step: np.ndarray
    epoch: np.ndarray
    seconds: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.value)


@dataclass(frozen=True)
class MetricLog:
    """A metrics log read as columns: one `Curve` per numeric field of the step and eval events.

    `seconds` counts training time: pauses and the gaps before a resumed run restarts are left out.
    """

    curves: dict
    events: int = 0
    last_kind: str | None = None
    step: int = 0
    epoch: float = 0.0
    first_time: float | None = None
    last_time: float | None = None
    seconds: float = 0.0
    started: dict | None = None  # the latest 'started' event's data, without the config
    skipped: int = 0  # complete records that could not be read (damaged lines)

    def status(self) -> dict:
        """What `status.json` would say about this log (for runs whose status file is missing or older)."""
        evals = {k: c for k, c in self.curves.items() if c.kind == "eval"}
        last_eval = {k: float(c.value[-1]) for k, c in evals.items() if len(c)}
        best = {}
        for k, c in evals.items():
            finite = c.value[np.isfinite(c.value)]
            if len(finite):
                best[k] = float(finite.min() if lower_is_better(k) else finite.max())
        throughput = self.curves.get("images_per_sec")
        state = self.last_kind if self.last_kind in TERMINAL else "interrupted" if self.events else "unknown"
        return {
            "state": state,
            "step": self.step,
            "epoch": self.epoch,
            "created": self.first_time,
            "updated": self.last_time,
            "seconds": self.seconds,
            "best": best,
            "last_eval": dict(last_eval, step=int(max(c.step[-1] for c in evals.values()))) if last_eval else None,
            "images_per_sec": mean_rate(throughput.step, throughput.value) if throughput is not None else None,
            **{
                k: v
                for k, v in (self.started or {}).items()
                if k in ("total_steps", "steps_per_epoch", "world_size", "params")
            },
        }


class _LogReader:
    """Reads one metrics log into columns and keeps them: a later read parses only the bytes appended since.

    The columns are also saved next to the log (`CACHE`), so a log is parsed once, not once per session.
    A log that no longer starts with the bytes already read (a resume rewrites it) is read from the start.
    """

    def __init__(self, path: Path):
        self.path, self.cache_path = path, path.with_name(CACHE)
        self.lock = threading.Lock()
        self.stamp = None
        self._start_over()

    def _start_over(self) -> None:
        self.offset, self.crc, self.events, self.last_kind, self.step, self.epoch = 0, 0, 0, None, 0, 0.0
        self.skipped = 0
        self.first_time = self.last_time = self.started = None
        self.gaps = 0.0
        self.columns: dict[str, tuple[str, array, array, array, array]] = {}
        self.snapshot = MetricLog({})

    def read(self) -> MetricLog:
        with self.lock:
            try:
                st = os.stat(self.path)
                if (st.st_size, st.st_mtime_ns) == self.stamp:
                    return self.snapshot
                data = self.path.read_bytes()
            except FileNotFoundError:
                self._start_over()
                self.stamp = None
                return self.snapshot
            self.stamp = (st.st_size, st.st_mtime_ns)
            if self.offset == 0 or not self._continues(data):
                self._start_over()
                self._load_cache(data)
            added = self._parse(data)
            self.snapshot = self._snapshot()
            if added >= CACHE_MIN_EVENTS:
                self._save_cache()
            return self.snapshot

    def _continues(self, data: bytes) -> bool:
        """Whether `data` starts with what was read so far."""
        return len(data) >= self.offset and zlib.crc32(memoryview(data)[: self.offset]) == self.crc

    def _parse(self, data: bytes) -> int:
        """Fold the complete records after `self.offset` into the columns; return how many events were added.

        A last line without its newline is used only if it is a whole record (else it is still being written)."""
        chunk = memoryview(data)[self.offset :]
        end = bytes(chunk).rfind(b"\n") + 1
        records, skipped = _json_lines(bytes(chunk[:end]).decode("utf-8", errors="replace"))
        tail = bytes(chunk[end:]).strip()
        if tail:
            try:
                records.append(json.loads(tail))
                end = len(chunk)
            except ValueError:
                pass
        self.crc = zlib.crc32(chunk[:end], self.crc)
        self.offset += end
        before = self.events
        for record in records:
            event = _event(record)
            if event is None:
                skipped += 1
            else:
                self._add(event)
        self.skipped += skipped
        return self.events - before

    def _add(self, e: Event) -> None:
        if self.first_time is None:
            self.first_time = e.time
        elif e.kind in GAP_KINDS:
            self.gaps += max(e.time - self.last_time, 0.0)
        self.last_time = e.time
        self.events, self.last_kind, self.step, self.epoch = self.events + 1, e.kind, e.step, e.epoch
        seconds = e.time - self.first_time - self.gaps
        if e.kind == "started":
            self.started = {k: v for k, v in e.data.items() if k != "config"}
        elif e.kind in METRIC_KINDS:
            for key, value in e.data.items():
                if _number(value):
                    cols = self.columns.get(key)
                    if cols is None:
                        cols = self.columns[key] = (e.kind, array("q"), array("d"), array("d"), array("d"))
                    cols[1].append(e.step)
                    cols[2].append(e.epoch)
                    cols[3].append(seconds)
                    cols[4].append(value)

    def _snapshot(self) -> MetricLog:
        curves = {k: Curve(kind, *(np.array(c) for c in cols)) for k, (kind, *cols) in self.columns.items()}
        seconds = (self.last_time - self.first_time - self.gaps) if self.events else 0.0
        return MetricLog(
            curves,
            self.events,
            self.last_kind,
            self.step,
            self.epoch,
            self.first_time,
            self.last_time,
            seconds,
            self.started,
            self.skipped,
        )

    # -- the cache file: the columns plus the reader's position and state, in an npz without pickles --

    _STATE = (
        "offset",
        "crc",
        "events",
        "last_kind",
        "step",
        "epoch",
        "first_time",
        "last_time",
        "gaps",
        "started",
        "skipped",
    )

    def _save_cache(self) -> None:
        state = {k: getattr(self, k) for k in self._STATE}
        state["columns"] = [[name, cols[0]] for name, cols in self.columns.items()]
        arrays = {
            f"c{i}": np.stack([np.asarray(c, dtype=np.float64) for c in cols[1:]])
            for i, cols in enumerate(self.columns.values())
        }

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, state=np.array(json.dumps(state)), **arrays)

        with contextlib.suppress(OSError):  # a read-only run folder: the log is parsed each session
            atomic_write(self.cache_path, write, durable=False)

    def _load_cache(self, data: bytes) -> None:
        """Take the state saved in the cache file if it describes the start of `data`."""
        try:
            with np.load(self.cache_path, allow_pickle=False) as z:
                state = json.loads(str(z["state"]))
                if not (
                    isinstance(state, dict)
                    and all(k in state for k in self._STATE)
                    and state.get("offset", -1) <= len(data)
                    and zlib.crc32(memoryview(data)[: state["offset"]]) == state.get("crc")
                ):
                    return
                columns = {}
                for i, (name, kind) in enumerate(state["columns"]):
                    values = z[f"c{i}"]
                    columns[name] = (
                        kind,
                        array("q", values[0].astype(np.int64).tobytes()),
                        *(array("d", v.tobytes()) for v in values[1:]),
                    )
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            return
        for k in self._STATE:
            setattr(self, k, state[k])
        self.columns = columns


_readers: dict[str, _LogReader] = {}
_readers_lock = threading.Lock()


def _log_reader(path: Path) -> _LogReader:
    key = os.path.abspath(path)
    with _readers_lock:
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = _LogReader(Path(key))
        return reader


def _json_lines(text: str) -> tuple[list, int]:
    """The JSON values of the non-blank lines of `text`, and how many lines did not parse (skipped).
    A last line without its newline that does not parse is still being written: it is not counted."""
    lines = [line for line in text.split("\n") if line.strip()]
    try:  # one parse for the whole text is several times faster than one per line
        return json.loads("[" + ",".join(lines) + "]"), 0
    except ValueError:
        pass
    values, skipped = [], 0
    for i, line in enumerate(lines):
        try:
            values.append(json.loads(line))
        except ValueError:
            partial = i == len(lines) - 1 and not text.endswith("\n")
            skipped += not partial
    return values, skipped


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def create_run(config: Config, runs_dir: str | Path | None = None, label: str | None = None) -> Run:
    """A new run folder named `<date>-<time>-<name or label>` holding the config and a 'created' status;
    `label` names the model (default: `config.model.name`)."""
    root = runs_root(runs_dir)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{config.runtime.name or label or config.model.name}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1000):
            path = root / (base if n == 0 else f"{base}-{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise RunError(f"cannot create a run folder named {base} in {root}")
        run = Run(path)
        run.write_config(config)
    except OSError as e:
        raise RunError(f"cannot write runs into {root} ({e.strerror or e}); choose another --runs-dir") from None
    run.write_status(
        {
            "state": "created",
            "created": time.time(),
            "step": 0,
            "seconds": 0.0,
            "best": {},
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
    )
    return run


def list_runs(runs_dir: str | Path | None = None) -> list[Run]:
    """Every run under the root (damaged ones too: see `Run.problems`), oldest first."""
    root = runs_root(runs_dir)
    if not root.is_dir():
        return []
    return sorted((Run(p) for p in root.iterdir() if is_run_folder(p)), key=lambda r: r.id)


def is_run_folder(path: Path) -> bool:
    """Whether `path` is a run's folder: not hidden, holding at least one of a run's files."""
    return not path.name.startswith(".") and path.is_dir() and any((path / f).is_file() for f in RUN_FILES)


def find_run(ref: str | Path, runs_dir: str | Path | None = None) -> Run:
    """A run by folder path, id, or a part of its id that only it has."""
    path = Path(ref)
    if is_run_folder(path):
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


def _live(status: dict) -> dict:
    """`status` with state 'interrupted' when it says a process writes the run but that process is gone."""
    if status.get("state") in ACTIVE_STATES and not _alive(status.get("host"), status.get("pid")):
        status["state"] = "interrupted"
    return status


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


def delete_run(run: Run) -> Path:
    """Move a run's folder into its root's trash; returns its new place, which `restore_run` takes.

    A run that is still being written (running, paused) is refused: stop it first."""
    state = run.status().get("state")
    if state in ACTIVE_STATES:
        raise RuntimeError(f"run {run.id} is {state}; stop it before deleting it")
    trash = run.path.parent / TRASH
    for n in range(1000):
        slot = trash / f"{time.time_ns()}{n}"
        try:
            slot.mkdir(parents=True)
            break
        except FileExistsError:
            continue
    else:
        raise RuntimeError(f"cannot make a folder in {trash}")
    target = slot / run.id
    os.replace(run.path, target)
    return target


def restore_run(trashed: str | Path) -> Run:
    """Move a run that `delete_run` put in the trash back to its runs root."""
    trashed = Path(trashed)
    target = trashed.parent.parent.parent / trashed.name
    if target.exists():
        raise FileExistsError(f"cannot restore {trashed.name}: {target} exists")
    os.replace(trashed, target)
    trashed.parent.rmdir()
    return Run(target)
