"""The run store under faults: every damaged run file, a diverging run, two writers, a full disk and a
read-only folder. Nothing may print a traceback, and one bad run never disturbs the others."""

import builtins
import contextlib
import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import nan_loss_from_step, tiny_args, tiny_config

from vitstudio.cli import main
from vitstudio.train import Trainer, find_run, list_runs, load_checkpoint
from vitstudio.train.objectives import Supervised
from vitstudio.train.runs import RunBusy, RunFinished

REPO = Path(__file__).resolve().parents[1]


def _cli(capsys, *argv) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text, text
    return rc, text


def _files(run_dir: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A tiny run stopped after its first epoch: evaluated, checkpointed and resumable."""
    root = tmp_path_factory.mktemp("base")
    os.environ.setdefault("VITSTUDIO_CACHE", str(root / "cache"))
    trainer = Trainer(tiny_config(), runs_dir=root / "runs")
    trainer.listeners.append(lambda e: trainer.stop() if e.kind == "eval" else None)
    assert trainer.run().kind == "stopped"
    return trainer.run_dir


class Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _pickle_payload(path: Path) -> None:
    torch.save({"format": "vitstudio-checkpoint", "model": Evil()}, path)


JUNK = bytes(range(256)) * 4
BAD_RECORD = b'{"kind": "step", "step": "abc", "epoch": 1.0, "time": 1.0, "data": {}}\n'
#: file -> damage -> new content (bytes), a function of the old content, a writer of the path, or None: deleted
DAMAGES = {
    "config.json": {
        "list": b"[1, 2]",
        "junk": JUNK,
        "empty": b"",
        "missing": None,
        "bad field": b'{"optim": {"epochs": "many"}}',
        "truncated": lambda old: old[: len(old) // 2],
    },
    "metrics.jsonl": {
        "junk": lambda old: old + JUNK + b"\n",
        "bad step": lambda old: old + BAD_RECORD,
        "not records": lambda old: old + b"[1, 2]\n7\n",
        "empty": b"",
        "missing": None,
    },
    "status.json": {
        "bad types": json.dumps(
            {"state": 3, "step": "x", "seconds": "y", "best": [1], "last_eval": {"val_loss": "a", "top1": "b"}}
        ).encode(),
        "list": b"[1]",
        "junk": JUNK,
        "missing": None,
    },
    "meta.json": {"junk": JUNK, "list": b"[1]", "bad tags": b'{"tags": "abc", "name": 7}'},
    "last.pt": {
        "truncated": lambda old: old[: len(old) // 2],
        "empty": b"",
        "malicious": _pickle_payload,
        "missing": None,
    },
}
CASES = [(f, d) for f, damages in DAMAGES.items() for d in damages]


def _damage(path: Path, damage) -> None:
    if damage is None:
        path.unlink(missing_ok=True)
    elif isinstance(damage, bytes):
        path.write_bytes(damage)
    elif damage is _pickle_payload:
        damage(path)
    else:
        path.write_bytes(damage(path.read_bytes() if path.exists() else b""))


@pytest.mark.slow
@pytest.mark.parametrize("name,how", CASES, ids=[f"{f}-{d}" for f, d in CASES])
def test_a_damaged_run_file_never_breaks_the_store(stopped_run, tmp_path, capsys, monkeypatch, name, how):
    root = tmp_path / "runs"
    victim, healthy = root / "a-victim", root / "b-healthy"
    shutil.copytree(stopped_run, victim)
    shutil.copytree(stopped_run, healthy)
    _damage(victim / name, DAMAGES[name][how])
    before = _files(healthy)
    monkeypatch.chdir(tmp_path)  # where a payload that ran would leave PWNED

    rc, text = _cli(capsys, "runs", "list", "--runs-dir", root)
    assert rc == 0 and "a-victim" in text and "b-healthy" in text
    summaries = {s["id"]: s for s in json.loads(_cli(capsys, "runs", "list", "--json", "--runs-dir", root)[1])}
    assert summaries["b-healthy"]["state"] == "stopped"
    listed_damaged = name == "config.json" or (name == "status.json" and how != "missing")  # a list reads no logs
    if listed_damaged:
        assert summaries["a-victim"]["state"] == "damaged" and name in summaries["a-victim"]["reason"]
    damaged = listed_damaged or (name == "metrics.jsonl" and how in ("junk", "bad step", "not records"))

    rc, text = _cli(capsys, "runs", "show", "a-victim", "--runs-dir", root)
    assert (rc != 0 and name in text) if damaged else rc == 0
    rc, text = _cli(capsys, "runs", "compare", "a-victim", "b-healthy", "--out", tmp_path / "cmp", "--runs-dir", root)
    if name == "config.json":
        assert rc != 0 and "config.json" in text

    status_before = (victim / "status.json").read_bytes() if (victim / "status.json").exists() else None
    rc, text = _cli(capsys, "train", "--resume", "a-victim", "--runs-dir", root)
    if name in ("config.json", "last.pt") and how != "missing":
        assert rc != 0 and name in text
        now = (victim / "status.json").read_bytes() if (victim / "status.json").exists() else None
        assert now == status_before, "a resume that never started training relabelled the run"
    if name == "last.pt" and how == "malicious":
        assert ("weights_only" not in text and "refusing" in text) or "not a plain-tensor" in text
    assert _files(healthy) == before, "another run was touched"
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.slow
def test_a_diverged_run_keeps_its_last_finite_checkpoint(tmp_path, capsys):
    """The issue's reproduction, small: lr 30 with a checkpoint and a report every step. The first step leaves
    finite but wrecked weights (the next loss is thousands of times the first), so the step-0 checkpoint is the
    one kept, and a resume with a lower learning rate trains to the end."""
    args = ("optim.lr=30", "runtime.checkpoint_every=1", "runtime.log_every=1", "optim.epochs=1")
    args += ("optim.warmup_epochs=0", "data.num_train=300", "data.num_workers=0", "runtime.device=cpu")
    rc, text = _cli(capsys, "train", *(a for arg in args for a in ("--set", arg)), "--runs-dir", tmp_path)
    assert rc == 1 and "diverged" in text and "--set optim.lr=" in text, text
    run = list_runs(tmp_path)[0]
    assert run.status()["state"] == "diverged"
    state = load_checkpoint(run.last_checkpoint)
    assert all(torch.isfinite(v).all() for v in state["model"].values()), "a NaN checkpoint replaced a good one"
    assert state["step"] == 0 and "the last good checkpoint (step 0)" in run.status()["reason"]
    for lr in ("3", "0.001"):  # ten times lower still wrecks it, and goes back to step 0 again; then it trains
        rc, text = _cli(capsys, "train", "--resume", run.id, "--set", f"optim.lr={lr}", "--runs-dir", tmp_path)
    assert rc == 0 and "finished" in text, text
    assert load_checkpoint(run.last_checkpoint)["step"] == run.status()["total_steps"]


@pytest.mark.slow
def test_a_diverged_run_resumes_with_a_lower_learning_rate(tmp_path, monkeypatch, capsys):
    finite_loss = nan_loss_from_step(monkeypatch, 4)
    trainer = Trainer(tiny_config("runtime.checkpoint_every=2"), runs_dir=tmp_path)
    final = trainer.run()
    assert final.kind == "diverged" and "step 2" in final.data["reason"] and "--resume" in final.data["reason"]
    monkeypatch.setattr(Supervised, "loss", finite_loss)
    rc, text = _cli(capsys, "train", "--resume", trainer.run_dir.name, "--set", "optim.lr=1e-4", "--runs-dir", tmp_path)
    assert rc == 0 and "finished" in text, text
    run = find_run(trainer.run_dir)
    assert run.config().optim.lr == 1e-4  # the run records the learning rate it was finished with
    assert [e.kind for e in run.events()].count("diverged") == 0


def test_the_config_check_refuses_inf_and_absurd_values(tmp_path, capsys):
    for bad, field in (("optim.lr=inf", "optim.lr"), ("optim.epochs=100000000000000000000000", "optim.epochs")):
        rc, text = _cli(capsys, "train", "--set", bad, "--runs-dir", tmp_path)
        assert rc == 2 and field in text
    assert not tmp_path.exists() or not list_runs(tmp_path)


@pytest.mark.slow
def test_one_writer_at_a_time(stopped_run, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(stopped_run, root / "r")
    first = Trainer(runs_dir=root, resume="r")
    run = find_run(root / "r")
    assert run.owner() == f"process {os.getpid()} on {os.uname().nodename}"
    with pytest.raises(RunBusy, match=f"process {os.getpid()}"):
        Trainer(runs_dir=root, resume="r")
    rc, text = _cli(capsys, "train", "--resume", "r", "--runs-dir", root)
    assert rc == 2 and "being written by process" in text
    assert first.run().kind == "finished"
    assert run.owner() is None
    log = run.metrics_path.read_bytes()
    with pytest.raises(RunFinished):
        Trainer(runs_dir=root, resume="r")
    rc, text = _cli(capsys, "train", "--resume", "r", "--runs-dir", root)
    assert rc == 0 and "is finished" in text
    assert run.metrics_path.read_bytes() == log, "resuming a finished run added records"


@pytest.mark.slow
def test_a_dead_owner_leaves_no_stale_lock(stopped_run, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(stopped_run, root / "r")
    (root / "r" / ".lock").write_text(json.dumps({"pid": 2**22 + 1, "host": os.uname().nodename}))
    (root / "r" / ".last.pt.tmp12345").write_bytes(b"")  # what a write killed mid-way leaves behind
    assert find_run(root / "r").owner() is None
    assert Trainer(runs_dir=root, resume="r").run().kind == "finished"
    assert not list((root / "r").glob(".*.tmp*"))


@pytest.mark.slow
def test_two_processes_resuming_one_run_at_once(stopped_run, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(stopped_run, root / "r")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "vitstudio", "train", "--resume", "r", "--runs-dir", str(root)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    results = [(p.wait(timeout=300), p.stdout.read() + p.stderr.read()) for p in procs]
    trained = [text for rc, text in results if rc == 0 and "finished: run" in text]
    assert len(trained) == 1, results
    # The other one found the run being written, or (on a loaded machine it may start that late) finished.
    other = next(text for _, text in results if text is not trained[0])
    assert "being written by process" in other or "is finished; there is nothing to resume" in other, results
    assert "Traceback" not in other
    events = find_run(root / "r").events()
    assert [e.kind for e in events].count("finished") == 1
    steps = [e.step for e in events if e.kind == "step"]
    assert steps == sorted(set(steps)), "duplicated step records"


class _FailingWrites:
    """Writes under `root` fail with OSError(`code`) once `full()` says so: the file system of the test's
    folder as the program sees it, for where no tmpfs can be mounted. Everything the program writes with goes
    through `open` (also `io.open`, which pathlib uses), `os.open`, `os.mkdir` and `os.replace`."""

    def __init__(self, monkeypatch, root: Path, code: int, full):
        self.root, self.code, self.full = root.resolve(), code, full
        real_open, real_os_open, real_mkdir, real_replace = io.open, os.open, os.mkdir, os.replace
        writes = ("w", "a", "x", "+")

        def opened(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, Path)) and any(c in mode for c in writes) and self.under(file):
                self.check(file)
                return _CheckedFile(real_open(file, mode, *args, **kwargs), self, file)
            return real_open(file, mode, *args, **kwargs)

        def os_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and self.under(path):
                self.check(path)
            return real_os_open(path, flags, *args, **kwargs)

        def mkdir(path, *args, **kwargs):
            if self.under(path):
                self.check(path)
            return real_mkdir(path, *args, **kwargs)

        def replace(src, dst, *args, **kwargs):
            if self.under(dst):
                self.check(dst)
            return real_replace(src, dst, *args, **kwargs)

        for module in (builtins, io):
            monkeypatch.setattr(module, "open", opened)
        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(os, "mkdir", mkdir)
        monkeypatch.setattr(os, "replace", replace)

    def under(self, path) -> bool:
        return Path(os.path.abspath(path)).is_relative_to(self.root)

    def check(self, path, adding: int = 0) -> None:
        if self.full(adding):
            raise OSError(self.code, os.strerror(self.code), str(path))


class _CheckedFile:
    """A file opened for writing under a `_FailingWrites` root: each write is checked, then flushed."""

    def __init__(self, f, fs: _FailingWrites, path):
        self._f, self._fs, self._path = f, fs, path

    def write(self, data):
        self._fs.check(self._path, len(data))
        n = self._f.write(data)
        self._f.flush()  # the bytes count as used at once
        return n

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def _used(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@contextlib.contextmanager
def _small_disk(path: Path, size: int, monkeypatch):
    """A folder that holds `size` bytes: a tmpfs of that size where one can be mounted (a real full disk), else
    a folder whose writes fail with ENOSPC past `size` (`_FailingWrites`)."""
    path.mkdir(parents=True)
    if _mount(["-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]):
        try:
            yield path
        finally:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
        return
    _FailingWrites(monkeypatch, path, errno.ENOSPC, lambda adding: _used(path) + adding > size)
    yield path


def _read_only(path: Path, monkeypatch) -> None:
    """Make the folder `path` (a tmpfs mounted by `_small_disk`) read-only: remounted where it was mounted, else
    every write under it fails with EROFS (`_FailingWrites`), as on a read-only file system."""
    if not os.path.ismount(path) or not _mount(["-o", "remount,ro", str(path)]):
        _FailingWrites(monkeypatch, path, errno.EROFS, lambda adding: True)


def _mount(args: list[str]) -> bool:
    """Whether `mount ARGS` worked (it needs root or CAP_SYS_ADMIN)."""
    try:
        return subprocess.run(["mount", *args], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_a_full_disk_is_a_labelled_failure_keeping_the_last_checkpoint(stopped_run, tmp_path, monkeypatch):
    ckpt = (stopped_run / "last.pt").stat().st_size
    with _small_disk(tmp_path / "disk", int(ckpt * 1.5) + 64 * 1024, monkeypatch) as disk:
        trainer = Trainer(tiny_config("runtime.checkpoint_every=1"), runs_dir=disk)
        final = trainer.run()
        run = find_run(trainer.run_dir)
        assert final.kind == "failed", final.data
        reason = final.data["reason"]
        mount_point = next(m for m in (disk, *disk.parents) if os.path.ismount(m))  # `disk` itself on a tmpfs
        assert (
            reason.startswith(f"no space left on {mount_point} while writing ")
            and "last good checkpoint at step 1" in reason
        )
        assert load_checkpoint(run.last_checkpoint)["step"] == 1  # the previous checkpoint is intact
        assert not list(run.path.glob(".*.tmp*")), "a temporary file was left behind"
        log = run.metrics_path.read_bytes()
        assert log.endswith(b"\n") and all(json.loads(line) for line in log.splitlines())
        assert run.status()["state"] == "failed" and "no space left" in run.status()["reason"]


@pytest.mark.slow
def test_a_read_only_folder_gives_messages_not_tracebacks(stopped_run, tmp_path, capsys, monkeypatch):
    with _small_disk(tmp_path / "ro", 64 * 1024 * 1024, monkeypatch) as ro:
        shutil.copytree(stopped_run, ro / "r")
        _read_only(ro, monkeypatch)
        rc, text = _cli(capsys, "train", *tiny_args(), "--runs-dir", ro / "new")
        assert rc == 2 and "cannot write runs into" in text and "Read-only" in text
        rc, text = _cli(capsys, "train", "--resume", "r", "--runs-dir", ro)
        assert rc == 2 and "cannot write to run folder" in text
        assert find_run(ro / "r").status()["state"] == "stopped"
        rc, text = _cli(capsys, "runs", "compare", "r", "--runs-dir", ro, "--out", ro / "cmp")
        assert rc == 1 and "cannot write" in text
        rc, text = _cli(capsys, "runs", "export", "r", "--format", "csv", "-o", ro / "m.csv", "--runs-dir", ro)
        assert rc == 1 and "cannot write" in text
        image = REPO / "resources" / "images"
        image = next(p for p in sorted(image.iterdir()) if p.suffix == ".png")
        rc, text = _cli(capsys, "inspect", image, "--run", ro / "r", "--out", ro / "figs", "--distance-images", 0)
        assert rc == 1 and "cannot write" in text
