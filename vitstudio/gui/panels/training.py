"""The Training panel: objective and optimisation settings, Start / Pause / Stop, progress and live curves."""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QSignalBlocker, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...config import DEVICES, OBJECTIVES, PRECISIONS
from ...models import list_pretrained
from ...models.weights import check_weights_file
from ...train.hardware import CPU_BF16_MIN_WIDTH
from ...train.runs import RESUMABLE_STATES, Run, list_runs
from ..plots import X_AXES, LivePlots
from ..worker import TrainingJob
from .common import ProblemsLabel, combo, form_column, line, spin, weights_filter

OBJECTIVE_LABELS = {
    "supervised": "Supervised (labels)",
    "distill": "Distillation (DeiT)",
    "mae": "MAE pretraining",
    "mpp": "Masked patch prediction",
    "finetune": "Fine-tune",
}
PRECISION_LABELS = {"auto": "auto (bf16 where it is faster)", "fp32": "fp32", "bf16": "bf16 autocast"}


class TrainingPanel(QWidget):
    error = Signal(str, str, str)  # title, summary, details
    running_changed = Signal(bool)
    run_started = Signal(int)  # the step the run starts from (0, or where a resumed run left off)
    run_ended = Signal(str)  # the run's terminal event kind

    def __init__(self, form, runs_dir=None, parent=None):
        super().__init__(parent)
        self.form, self.runs_dir = form, runs_dir
        self.job: TrainingJob | None = None  # the run training now
        self.run: Run | None = None  # the run the plots show
        self.total_steps = 0
        self._rate = deque(maxlen=20)  # (time, step) of recent step and progress events, for the ETA
        self._images_per_sec = None  # the latest step event's rate
        self.pause_state = "running"  # of the run on the worker: 'running', 'pausing' (asked) or 'paused'
        self._failure_shown = False

        settings = QGroupBox("Objective and optimisation")
        fields = QFormLayout(settings)
        fields.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        bind = form.bind
        fields.addRow("Objective", bind("objective.name", combo({k: OBJECTIVE_LABELS.get(k, k) for k in OBJECTIVES})))
        fields.addRow("Epochs", bind("optim.epochs", spin(1, 100_000)))
        fields.addRow("Batch size", bind("optim.batch_size", spin(1, 65_536)))
        fields.addRow("Learning rate", bind("optim.lr", line("e.g. 1e-3")))
        fields.addRow("Weight decay", bind("optim.weight_decay", line("e.g. 0.05")))
        fields.addRow("Warm-up epochs", bind("optim.warmup_epochs", line("e.g. 1")))
        fields.addRow("Device", bind("runtime.device", combo({d: d for d in DEVICES})))
        precision = bind("runtime.precision", combo({p: PRECISION_LABELS.get(p, p) for p in PRECISIONS}))
        precision.setToolTip(
            "auto: bf16 autocast on a GPU that does it in hardware (Ampere on), and on a CPU with AMX for ViTs "
            f"at least {CPU_BF16_MIN_WIDTH} wide, where it is faster; fp32 elsewhere. The Model tab's memory "
            "estimate says which."
        )
        fields.addRow("Precision", precision)
        fields.addRow("Seed", bind("runtime.seed", spin(0, 2**31 - 1)))
        self.teacher = bind("objective.teacher", line("a run id, a model file, or torchvision:resnet50"))
        fields.addRow("Teacher", self.teacher)
        self.init_from = QComboBox(editable=True)
        self.init_from.lineEdit().setPlaceholderText("a run id, a weights file or a pretrained tag (model.tag)")
        bind(
            "objective.init_from",
            self.init_from,
            read=lambda w: w.currentText().strip() or None,
            write=lambda w, v: w.setEditText(v or ""),
        )
        browse = QToolButton(text="…", toolTip="Choose a weights file")
        browse.clicked.connect(self._browse_weights)
        row = QHBoxLayout()
        row.addWidget(self.init_from, 1)
        row.addWidget(browse)
        fields.addRow("Source run", row)

        self.problems = ProblemsLabel()
        self.start_button = QPushButton("Start", default=True)
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume run")
        self.stop_button.setToolTip("Save a resumable checkpoint and end the run")
        self.resume_button.setToolTip("Continue the shown run from its last checkpoint")
        self.start_button.clicked.connect(lambda: self.start())  # not start(checked): a new run
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume_run)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)

        self.progress = QProgressBar(textVisible=True)
        self.progress_label = QLabel("No run yet", wordWrap=True)
        self.run_label = QLabel(wordWrap=True, openExternalLinks=False, textInteractionFlags=Qt.TextBrowserInteraction)
        self.run_label.linkActivated.connect(lambda url: QDesktopServices.openUrl(QUrl(url)))

        results_box = QGroupBox("Results")
        results = QFormLayout(results_box)
        self.results = {}
        for key, label in (
            ("smooth", "Train loss (smoothed)"),
            ("val_loss", "Validation loss"),
            ("top1", "Validation top-1"),
            ("best", "Best top-1"),
        ):
            self.results[key] = QLabel("—")
            results.addRow(label, self.results[key])

        left_box = form_column(
            settings, self.problems, buttons, self.progress, self.progress_label, self.run_label, results_box
        )

        self.plots = LivePlots()
        self.x_axis = combo({k: f"x: {v}" for k, v in X_AXES.items()})
        self.x_axis.currentIndexChanged.connect(lambda: self.plots.set_x_axis(self.x_axis.currentData()))
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Live curves</b>"))
        top.addStretch(1)
        top.addWidget(self.x_axis)
        right = QVBoxLayout()
        right.addLayout(top)
        right.addWidget(self.plots, 1)

        layout = QHBoxLayout(self)
        layout.addWidget(left_box)
        layout.addLayout(right, 1)

        form.changed.connect(self._refresh)
        self._refresh()

    # -- state --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.job is not None

    def set_x_axis(self, axis: str) -> None:
        i = self.x_axis.findData(axis)
        self.x_axis.setCurrentIndex(max(i, 0))

    def _refresh(self) -> None:
        """Enable what makes sense for the form and the run state."""
        objective, running = self.form.value("objective.name"), self.running
        self.teacher.setEnabled(objective == "distill")
        self.init_from.setEnabled(objective == "finetune")
        self.problems.show_errors(self.form.errors)
        self.start_button.setEnabled(self.form.valid and not running)
        self.start_button.setToolTip("" if self.form.valid else "Fix the problems shown above first")
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.resume_button.setVisible(self.run is not None and not running and resumable(self.run))
        self.resume_button.setEnabled(not running and (self.run is None or self.run.owner() is None))
        if objective == "finetune" and self.init_from.count() == 0:
            self.init_from.addItems([r.id for r in reversed(list_runs(self.runs_dir))])
            text = self.init_from.currentText()
            with QSignalBlocker(self.init_from):  # offered, not chosen: the text stays what it was
                self.init_from.addItems([c.name for c in list_pretrained()])  # downloaded once when the run starts
                self.init_from.setEditText(text)

    # -- commands -----------------------------------------------------------------------------

    def start(self, resume: Run | None = None) -> None:
        """Train the form's config (or continue `resume`) on a worker thread."""
        if self.running or not (self.form.valid or resume):
            return
        config = resume.config() if resume else self.form.config
        self.job = TrainingJob(config, runs_dir=self.runs_dir, resume=str(resume.path) if resume else None)
        self.job.progress.connect(self._on_event)
        self.job.failed.connect(self._on_crash)
        self.job.finished.connect(self._on_job_finished)
        if resume is None:
            self.plots.clear()
            self.run = None
            self._show_results()
        self.plots.show_objective(config.objective.name)
        self._failure_shown = False
        self._rate.clear()
        self._images_per_sec = None
        self.progress.setValue(0)
        self.progress_label.setText("Building the model and the data…")
        self._set_pause_state("running")
        self.job.start()
        self._refresh()
        self.running_changed.emit(True)

    def resume_run(self) -> None:
        if self.run is not None:
            self.start(resume=self.run)

    def toggle_pause(self) -> None:
        if not self.running:
            return
        if self.pause_state == "running":
            self.job.pause()
            self._set_pause_state("pausing")
        else:
            self.job.resume()
            if self.pause_state == "pausing":  # taken back before the trainer paused: no events will say so
                self._set_pause_state("running")

    def _set_pause_state(self, state: str) -> None:
        self.pause_state = state
        self.pause_button.setText({"running": "Pause", "pausing": "Pausing…", "paused": "Resume"}[state])

    def stop(self) -> None:
        if self.running:
            self.job.stop()
            self.stop_button.setEnabled(False)
            self.pause_button.setEnabled(False)
            self.progress_label.setText("Stopping: saving a resumable checkpoint…")

    def show_run(self, run: Run | None) -> None:
        """Show a finished or interrupted run's curves and progress (None: clear)."""
        self.run = run
        self.plots.clear()
        self.progress.setValue(0)
        self.progress_label.setText("No run yet")
        self.run_label.clear()
        self._show_results()
        if run is not None:
            self.plots.show_objective(run.config().objective.name)
            for event in run.events():
                self._on_event(event, replay=True)
            state = run.status().get("state", "unknown")
            self.progress_label.setText(f"{self.progress_label.text()} · {state}")
            self.plots.redraw()
        self._refresh()

    # -- events -------------------------------------------------------------------------------

    def _on_event(self, event, replay: bool = False) -> None:
        self.plots.add_event(event)
        d = event.data
        if event.kind == "started":
            self.total_steps = int(d.get("total_steps") or 0)
            self.progress.setRange(0, max(self.total_steps, 1))
            if not replay:
                self.progress_label.setText("Training…")
                self.run_started.emit(int(d.get("resumed_from") or 0))
            if d.get("run_dir"):
                self._set_run(Run(d["run_dir"]))
        elif event.kind in ("step", "progress"):
            if event.kind == "step":
                self._images_per_sec = d.get("images_per_sec")
                self._show_results()
            if not replay:
                self._rate.append((event.time, event.step))
            self.progress.setValue(min(event.step, self.progress.maximum()))
            self.progress_label.setText(self._progress_text(event))
        elif event.kind == "eval":
            self._show_results()
        elif event.kind == "paused":
            self._set_pause_state("paused")
            self.pause_button.setEnabled(True)
            self.progress_label.setText(self._progress_text(event) + " · paused")
        elif event.kind == "resumed":
            self._rate.clear()  # the time paused is no part of the rate
            self._set_pause_state("running")
            self.progress_label.setText(self._progress_text(event))
        elif event.terminal:
            if event.kind == "finished":
                self.progress.setValue(self.progress.maximum())
            self.progress_label.setText(f"{self.progress_label.text().split(' · ETA')[0]} · {event.kind}")
            if not replay and event.kind in ("failed", "diverged"):
                self._show_failure(
                    "Training failed" if event.kind == "failed" else "Training diverged",
                    d.get("reason") or event.kind,
                    d.get("traceback", ""),
                )

    def _show_results(self) -> None:
        """The latest values of the curves, and the best top-1 so far."""
        series = self.plots.series
        latest = {k: series[k].y()[-1] for k in ("smooth", "val_loss", "top1") if series[k].n}
        if series["top1"].n:
            latest["best"] = series["top1"].y().max()
        for key, label in self.results.items():
            value = latest.get(key)
            label.setText("—" if value is None else f"{value:.2f}%" if key in ("top1", "best") else f"{value:.4f}")

    def _progress_text(self, event) -> str:
        """Epoch, step, the latest images/s and, while training, the ETA from the recent rate."""
        epochs = self.form.value("optim.epochs")
        parts = [f"epoch {min(int(event.epoch) + 1, epochs)}/{epochs}", f"step {event.step}/{self.total_steps}"]
        if self._images_per_sec:
            parts.append(f"{self._images_per_sec:,.0f} img/s")
        if event.kind in ("step", "progress") and len(self._rate) > 1:
            (t0, s0), (t1, s1) = self._rate[0], self._rate[-1]
            if s1 > s0 and t1 > t0:
                parts.append(f"ETA {_duration((self.total_steps - s1) * (t1 - t0) / (s1 - s0))}")
        return " · ".join(parts)

    def _on_crash(self, summary: str, details: str) -> None:
        self.progress_label.setText(f"{self.progress_label.text().split(' · ETA')[0]} · failed")
        self._show_failure("Training failed", summary, details)

    def _show_failure(self, title: str, summary: str, details: str) -> None:
        if not self._failure_shown:  # a trainer may both report a failure and raise it
            self._failure_shown = True
            self.error.emit(title, summary, details)

    def _set_run(self, run: Run) -> None:
        self.run = run
        url = QUrl.fromLocalFile(str(run.path)).toString()
        self.run_label.setText(f'Run folder: <a href="{url}">{run.id}</a>')

    def _on_job_finished(self) -> None:
        job, self.job = self.job, None
        if job.run_dir is not None and self.run is None:  # it failed before it started
            self._set_run(Run(job.run_dir))
        self.plots.redraw()
        self._refresh()
        self.running_changed.emit(False)
        self.run_ended.emit(job.terminal or "failed")

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights to fine-tune from", "", weights_filter())
        if not path:
            return
        try:
            check_weights_file(path)
        except ValueError as e:
            self.error.emit("Cannot fine-tune from this file", str(e), "")
            return
        self.form.update({"objective.init_from": path})


def resumable(run: Run) -> bool:
    """Whether `run` ended before its last step with a checkpoint to continue from."""
    return run.status().get("state") in RESUMABLE_STATES and run.last_checkpoint.exists()


def latest_run(runs_dir=None) -> Run | None:
    """The newest run in the runs root, if any."""
    runs = list_runs(runs_dir)
    return runs[-1] if runs else None


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"
