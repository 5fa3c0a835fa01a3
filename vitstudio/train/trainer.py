"""The training loop: one Qt-free `Trainer` that the GUI, the CLI and `torchrun` all drive.

    trainer = Trainer(config, runs_dir=None, listeners=[print], resume=None)
    final = trainer.run()        # blocks; returns the terminal Event (finished/stopped/diverged/failed)

`pause()`, `resume()` and `stop()` may be called from any thread; they are obeyed between steps.
Only rank 0 of a `torchrun` job writes the run folder and emits events; a stop requested on any rank
stops every rank at the next logging step (pausing is for single-process runs).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import threading
import time
import traceback
from pathlib import Path

import torch
from torch import nn

from ..config import Config, ConfigError, validate
from ..data import MixupCutmix, build_loader, datasets_from_config
from ..models import family_of
from . import distributed
from .build import build_model, model_label, resolved_model_args
from .checkpoint import load_checkpoint, save_checkpoint, save_model
from .events import PROGRESS_SECONDS, Event, Listener
from .hardware import autocast_dtype, device_type, model_width, precision_name
from .objectives import build_objective, freeze_for_linear_probe, init_for_finetuning
from .optim import build_optimizer, lr_at, set_lr
from .references import resolve
from .runs import Run, RunFinished, create_run, find_run

# A logged loss above this multiple of the lowest one logged does not vouch for the checkpoint before it: a step
# at a huge learning rate leaves finite weights that give such losses for a while, then NaN.
LOSS_JUMP = 10.0


class Trainer:
    def __init__(
        self,
        config: Config | None = None,
        runs_dir=None,
        listeners: tuple[Listener, ...] | list = (),
        resume: str | Path | None = None,
    ):
        """`resume` names a run (id, prefix or path) to continue from its last checkpoint; with `config`
        None the run's own config is used, else `config` (e.g. a lower learning rate after a divergence).

        The checks that need no data run before a run folder is made. The run is owned by this trainer
        (`Run.lock`) until `run()` returns: a second writer gets `RunBusy`, a finished run `RunFinished`."""
        self.dist = distributed.context()
        self.run_record: Run | None = None
        self._lock = None
        self.runs_dir = runs_dir
        if resume is not None:
            self.run_record = find_run(resume, runs_dir)
            if self.dist.is_main:
                self._lock = self.run_record.lock()
        try:
            if resume is not None:
                if self.run_record.status().get("state") == "finished":
                    raise RunFinished(f"run {self.run_record.id} is finished; there is nothing to resume")
                config = config or self.run_record.config()
            if config is None:
                raise ValueError("Trainer needs a config or a run to resume")
            self.config = validate(config)
            self._preflight()
        except Exception:
            self._release()
            raise
        self.listeners = list(listeners)
        if self.run_record is None and self.dist.is_main:
            self.run_record = create_run(self.config, runs_dir, label=model_label(self.config))
            self._lock = self.run_record.lock()
        self._resuming = resume is not None
        self._started = False  # whether the 'started' event was emitted: failures before it are not the run's
        self._good_step: int | None = None  # the step of the last checkpoint written with finite weights
        self._previous_step: int | None = None  # the step of `previous.pt`, the last checkpoint vouched for
        self._confirmed = True  # whether a sane loss was logged since the last checkpoint (see `_log_steps`)
        self._lowest_loss: float | None = None  # the lowest loss logged by this trainer
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._wake = threading.Condition()
        self.model: nn.Module | None = None
        self.step = 0
        self._progress_time = 0.0  # when listeners last heard of the step count

    def _preflight(self) -> None:
        """Raise the `ConfigError`s found without data: references that resolve to nothing (or to several
        things), a model that cannot be built (the objective against the model's family is `validate`'s), and
        bf16 asked of a CPU that would emulate it."""
        o = self.config.objective
        if o.name == "distill":
            resolve("objective.teacher", o.teacher, self.runs_dir).check_model()
        if o.init_from:
            resolve("objective.init_from", o.init_from, self.runs_dir)
        with contextlib.suppress(NotImplementedError), torch.device("meta"):  # shapes only: no memory, no time
            build_model(self.config, 2)  # any class count will do; NotImplementedError: needs real tensors
        rt = self.config.runtime
        if device_type(rt.device) == "cpu":  # a CUDA device's bf16 support is known once the run has set it up
            autocast_dtype(rt.precision, torch.device("cpu"), model_width(self.config))

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @property
    def run_dir(self) -> Path | None:
        return self.run_record.path if self.run_record else None

    # -- control (any thread) -------------------------------------------------------------------

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        with self._wake:
            self._paused.clear()
            self._wake.notify_all()

    def stop(self) -> None:
        with self._wake:
            self._stop.set()
            self._wake.notify_all()

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> Event:
        """Train to the end (or a stop request, divergence or failure); return the terminal event."""
        try:
            self._setup()
            return self._train()
        except Exception as e:  # reported as a 'failed' event, which the caller also gets back
            return self._failed(e)
        finally:
            self._close()

    def _setup(self) -> None:
        cfg, rt = self.config, self.config.runtime
        self.device = _device(rt.device, self.dist)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        self._joined_group = distributed.init(self.dist, self.device)
        if self.dist.enabled:
            path = distributed.broadcast_object(str(self.run_dir) if self.dist.is_main else None)
            self.run_record = self.run_record or Run(path)
        torch.manual_seed(rt.seed)

        source = (
            resolve("objective.init_from", cfg.objective.init_from, self.runs_dir) if cfg.objective.init_from else None
        )
        tag = source.pretrained_cfg if source else None  # fed as its weights were trained: their mean and std
        self.data = datasets_from_config(cfg.data, rt.seed, **({"mean": tag.mean, "std": tag.std} if tag else {}))
        self.model = build_model(cfg, self.data.num_classes)
        self.autocast_dtype = autocast_dtype(rt.precision, self.device, model_width(cfg))
        init_notes = []
        if source and not (self._resuming and self.run_record.last_checkpoint.exists()):
            init_notes = init_for_finetuning(self.model, source)
        if cfg.objective.linear_probe:
            freeze_for_linear_probe(self.model)
        if family_of(self.model).reads_raw_pixels:  # its targets are colours of the un-normalised pixels
            self.model.pixel_mean.copy_(torch.tensor(self.data.mean).view_as(self.model.pixel_mean))
            self.model.pixel_std.copy_(torch.tensor(self.data.std).view_as(self.model.pixel_std))
        self.model.to(self.device)
        self.objective = build_objective(cfg, self.model, self.device, self.data.num_classes, self.runs_dir)
        o = cfg.optim
        self.optimizer = build_optimizer(self.model, o.lr, o.weight_decay, o.betas, o.layer_decay, self.device)
        self.batch_size = o.batch_size
        self.train_loader, self.val_loader, self.mix = self._loaders()
        self.steps_per_epoch = len(self.train_loader)
        if self.steps_per_epoch == 0:
            raise ConfigError(
                "optim.batch_size",
                f"{o.batch_size} x {self.dist.world_size} process(es) is more than "
                f"the {len(self.data.train)} training images",
            )
        self.total_steps = o.epochs * self.steps_per_epoch
        self.warmup_steps = round(o.warmup_epochs * self.steps_per_epoch)
        self.best: float | None = None
        resumed_from = self._load_resume_state() if self._resuming else None

        self.train_model: nn.Module = self.model
        if rt.compile:
            self.train_model = torch.compile(self.model)
        if self.dist.enabled:
            self.train_model = nn.parallel.DistributedDataParallel(
                self.train_model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        self._emit(
            "started",
            run_dir=str(self.run_dir),
            total_steps=self.total_steps,
            steps_per_epoch=self.steps_per_epoch,
            world_size=self.dist.world_size,
            config=cfg.to_dict(),
            model=model_label(cfg),
            model_args=resolved_model_args(cfg, self.data.num_classes),
            device=str(self.device),
            precision=precision_name(self.autocast_dtype),
            num_classes=self.data.num_classes,
            params=sum(p.numel() for p in self.model.parameters()),
            class_names=list(self.data.class_names),
            mean=list(self.data.mean),
            std=list(self.data.std),
            resumed_from=resumed_from,
            init_notes=init_notes,
        )

    def _loaders(self):
        """Train and val batches (resident on the device when the data fits, else a DataLoader), each rank
        its shard, and the batch-level Mixup/CutMix (None when off)."""
        d, seed = self.config.data, self.config.runtime.seed
        common = dict(
            device=self.device,
            resident=d.resident,
            seed=seed,
            num_workers=d.num_workers,
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
        )
        train = build_loader(self.data.train, self.batch_size, train=True, repeats=d.repeats, **common)
        val = build_loader(self.data.val, 2 * self.batch_size, train=False, **common) if len(self.data.val) else None
        mix = None
        if d.mixup > 0 or d.cutmix > 0:
            mix = MixupCutmix(
                self.data.num_classes,
                mixup_alpha=d.mixup,
                cutmix_alpha=d.cutmix,
                label_smoothing=self.config.objective.label_smoothing,
            )
        return train, val, mix

    def _load_resume_state(self) -> int:
        """Restore model, optimiser and position from the run's last checkpoint (or start over without one)."""
        path = self.run_record.last_checkpoint
        if not path.exists() and self.run_record.previous_checkpoint.exists():  # killed mid-rotation
            path = self.run_record.previous_checkpoint
        if path.exists():
            state = load_checkpoint(path, map_location=self.device)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step, self.best = int(state["step"]), state.get("best")
            self._good_step = self.step
        if self.dist.is_main:
            self.run_record.truncate_metrics(self.step)
            if self.config != self.run_record.config():  # resumed with changes: the run records what it trains
                self.run_record.write_config(self.config)
        return self.step

    def _train(self) -> Event:
        o, rt = self.config.optim, self.config.runtime
        self._window_start, self._window_steps, self._lr = time.perf_counter(), 0, 0.0
        self._loss_sum = torch.zeros((), device=self.device)
        if self.step == 0 and self.dist.is_main:  # the weights as built: what a run wrecked at once goes back to
            self._save_checkpoint()
        for epoch in range(self.step // self.steps_per_epoch, o.epochs):
            self.train_loader.sampler.set_epoch(epoch)
            self.train_model.train()
            batches = iter(self.train_loader)
            for done in range(epoch * self.steps_per_epoch, self.step):  # resuming mid-epoch: replay the draws
                torch.manual_seed(_step_seed(rt.seed, done, self.dist))
                next(batches)
            while self.step < (epoch + 1) * self.steps_per_epoch:
                if (request := self._between_steps()) is not None:
                    return request
                self._lr = lr_at(self.step, self.total_steps, self.warmup_steps, o.lr, o.min_lr)
                set_lr(self.optimizer, self._lr)
                torch.manual_seed(_step_seed(rt.seed, self.step, self.dist))  # before the batch: its augmentation too
                images, labels = next(batches)
                images = images.to(self.device, non_blocking=True)
                targets = labels.to(self.device, non_blocking=True)
                if self.mix is not None:
                    images, targets = self.mix(images, targets)
                with self._autocast():
                    loss = self.objective.loss(self.train_model, images, targets)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if o.grad_clip > 0:
                    nn.utils.clip_grad_norm_(self.model.parameters(), o.grad_clip)
                self.optimizer.step()
                self.step += 1
                self._loss_sum += loss.detach()
                self._window_steps += 1
                if self.step % rt.log_every == 0:
                    if (bad := self._log_steps()) is not None:
                        return bad
                elif time.perf_counter() - self._progress_time >= PROGRESS_SECONDS:
                    self._emit("progress", record=False)
                at_epoch_end = self.step % self.steps_per_epoch == 0
                if rt.checkpoint_every and self.step % rt.checkpoint_every == 0 and not at_epoch_end:
                    if (bad := self._checkpoint()) is not None:
                        return bad
            if (bad := self._log_steps()) is not None:
                return bad
            if (bad := self._checkpoint(self._evaluate())) is not None:
                return bad
        weights = self.run_dir / "model.safetensors" if self.run_dir else None
        if self.dist.is_main:
            save_model(self.model, weights)
        return self._emit("finished", weights=str(weights), best=self.best)

    def _between_steps(self) -> Event | None:
        """Obey pause and stop requests; a stop saves a resumable checkpoint and returns the 'stopped' event."""
        if self._paused.is_set() and not self._stop.is_set():
            self._emit("paused")
            with self._wake:
                while self._paused.is_set() and not self._stop.is_set():
                    self._wake.wait()
            if not self._stop.is_set():
                self._emit("resumed")
            self._window_start, self._window_steps = time.perf_counter(), 0
            self._loss_sum.zero_()
        if self._stop_requested():
            bad = self._checkpoint()
            checkpoint = str(self.run_record.last_checkpoint)
            return bad or self._emit("stopped", reason="stop requested", checkpoint=checkpoint)
        return None

    def _stop_requested(self) -> bool:
        """Whether to stop now; under DDP every rank stops at the same step (checked at each log step)."""
        if not self.dist.enabled:
            return self._stop.is_set()
        if self.step % self.config.runtime.log_every:
            return False
        flag = torch.tensor(float(self._stop.is_set()), device=self.device)
        return distributed.all_reduce_sum(flag).item() > 0

    def _log_steps(self) -> Event | None:
        """Read the loss accumulated on the device since the last report (the one host sync); emit a step event.

        A non-finite loss ends the run as 'diverged'; the last checkpoint, written before it, stays."""
        if self._window_steps == 0:
            return None
        loss = (self._loss_sum / self._window_steps).item()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - self._window_start
        images = self._window_steps * self.batch_size * self.dist.world_size
        if not math.isfinite(loss):
            return self._diverged(f"loss became {loss} by step {self.step}", loss=loss)
        self._emit("step", loss=loss, lr=self._lr, images_per_sec=images / max(elapsed, 1e-9))
        if self._lowest_loss is None or loss <= LOSS_JUMP * self._lowest_loss:
            self._confirmed = True
        self._lowest_loss = loss if self._lowest_loss is None else min(loss, self._lowest_loss)
        self._loss_sum.zero_()
        self._window_start, self._window_steps = time.perf_counter(), 0
        return None

    @torch.no_grad()
    def _evaluate(self) -> float | None:
        """Score the validation set (each rank a shard); emit 'eval'. Returns the metric for 'best'."""
        if self.val_loader is None:
            return None
        self.model.eval()
        keys = self.objective.metrics
        totals = torch.zeros(len(keys), device=self.device)
        for images, labels in self.val_loader:
            images = images.to(self.device, non_blocking=True)
            labels = labels.to(self.device, non_blocking=True)
            with self._autocast():
                sums = self.objective.evaluate(self.model, images, labels)
            totals += torch.stack([sums[k].float() for k in keys])
        t = dict(zip(keys, distributed.all_reduce_sum(totals).tolist()))
        count = max(t.pop("count"), 1.0)
        result = {"val_loss": t.pop("loss") / count, **{k: 100.0 * v / count for k, v in t.items()}}
        self._emit("eval", **result)
        self._window_start = time.perf_counter()
        return result["top1"] if "top1" in result else -result["val_loss"]

    def _checkpoint(self, metric: float | None = None) -> Event | None:
        """Save `last.pt` (and `best.pt` when `metric` improves) after checking the loss is still finite."""
        if (bad := self._log_steps()) is not None:
            return bad
        if not torch.stack([p.isfinite().all() for p in self.model.parameters()]).all():  # never save NaN weights
            return self._diverged(f"the weights became non-finite by step {self.step}")
        if not self.dist.is_main:
            return None
        is_best = metric is not None and (self.best is None or metric > self.best)
        if is_best:
            self.best = metric
        self._save_checkpoint(is_best)
        self._emit("checkpoint", path=str(self.run_record.last_checkpoint), best=is_best)
        self._window_start = time.perf_counter()
        return None

    def _save_checkpoint(self, is_best: bool = False) -> None:
        """Write `last.pt` (and `best.pt`). The checkpoint it replaces becomes `previous.pt` when a sane loss was
        logged after it; one that was not vouched for is overwritten, and `previous.pt` stays."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "best": self.best,
            "config": self.config.to_dict(),
        }
        keep = self.run_record.previous_checkpoint if self._confirmed else None
        save_checkpoint(self.run_record.last_checkpoint, state, keep_previous=keep)
        if is_best:
            save_checkpoint(self.run_record.best_checkpoint, state)
        if self._confirmed:
            self._previous_step = self._good_step
        self._good_step, self._confirmed = self.step, False

    def _diverged(self, what: str, **data) -> Event:
        """End the run as 'diverged', saying which checkpoint to resume from and how.

        When no sane loss was logged after the last checkpoint, that checkpoint may already hold the damage (a
        step at a huge learning rate wrecks the weights and leaves them finite): the last one vouched for,
        `previous.pt`, is put back as `last.pt`."""
        lr = f"{self.config.optim.lr / 10:.3g}"
        if not self._confirmed and self._previous_step is not None and self.dist.is_main:
            os.replace(self.run_record.previous_checkpoint, self.run_record.last_checkpoint)
            what += f", and its loss had already jumped after the step-{self._good_step} checkpoint, which is dropped"
            self._good_step, self._previous_step, self._confirmed = self._previous_step, None, True
        if self._good_step is None:
            advice = f"no checkpoint was written before it: start again with a lower optim.lr (e.g. {lr})"
        else:
            run_id = self.run_record.id if self.run_record else "RUN"
            advice = (
                f"the last good checkpoint (step {self._good_step}) is kept: resume from it with a lower "
                f"learning rate, e.g. `vitstudio train --resume {run_id} --set optim.lr={lr}`"
            )
        return self._emit("diverged", reason=f"{what}; {advice}", **data)

    def _failed(self, e: Exception) -> Event:
        """The 'failed' event for `e`. A resume that fails before training started leaves a run that had
        trained as it was (the event goes to the listeners only); a run that never trained records it."""
        if isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower():
            b = self.config.optim.batch_size
            reason = (
                f"out of memory on {getattr(self, 'device', 'the device')} with optim.batch_size {b}; "
                f"try a smaller batch, e.g. --set optim.batch_size={max(1, b // 2)}"
            )
        elif isinstance(e, OSError) and e.errno in _DISK_ERRORS:
            where = e.filename or self.run_dir
            last = "no checkpoint was written yet"
            if self._good_step is not None:
                last = f"last good checkpoint at step {self._good_step} ({self.run_record.last_checkpoint})"
            reason = f"{_DISK_ERRORS[e.errno]} on {_mount_point(where)} while writing {where}; {last}"
        else:
            reason = f"{type(e).__name__}: {e}"
        record = self._started or not self._resuming or self.run_record.status().get("state") == "created"
        return self._emit("failed", record=record, reason=reason, traceback=traceback.format_exc())

    def _close(self) -> None:
        self._release()
        if getattr(self, "_joined_group", False):
            distributed.close()
        if getattr(self, "device", None) is not None and self.device.type == "cuda":
            torch.cuda.empty_cache()

    # -- helpers --------------------------------------------------------------------------------

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _emit(self, kind: str, record: bool = True, **data) -> Event:
        """Send an event to the listeners and (`record`) to the run's log. The 'failed' event is recorded as far
        as the disk allows: it must reach the listeners even when the disk is full."""
        event = Event(
            kind, self.step, self.step / self.steps_per_epoch if getattr(self, "steps_per_epoch", 0) else 0.0, data=data
        )
        self._started = self._started or kind == "started"
        self._progress_time = time.perf_counter()
        if self.dist.is_main:
            if record and self.run_record is not None:
                try:
                    self.run_record.record(event)
                except OSError:
                    if kind != "failed":
                        raise
            for listener in self.listeners:
                listener(event)
        return event


_DISK_ERRORS = {
    errno.ENOSPC: "no space left",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
}


def _mount_point(path) -> str:
    """The mount point of the file system holding `path` (the device a full disk is named by)."""
    p = Path(os.path.abspath(path))
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return str(p)


def _device(choice: str, ctx: distributed.DistContext) -> torch.device:
    if device_type(choice) == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("runtime.device", "'cuda' was asked for but no CUDA device is available")
        torch.cuda.set_device(ctx.local_rank)
        return torch.device("cuda", ctx.local_rank)
    return torch.device("cpu")


def _step_seed(seed: int, step: int, ctx: distributed.DistContext) -> int:
    """A seed for one step's randomness (augmentation, dropout) that depends on nothing but the run's seed,
    the step and the rank, so a resumed run repeats exactly what an uninterrupted one does."""
    return (seed * 1_000_003 + step * ctx.world_size + ctx.rank) % (2**63)
