"""The Studies panel: pick a study and a budget, train its arms and seeds as a queue, read its report.

Each run of the queue trains as a `TrainingJob` (the Training tab's worker), one at a time, so the window
stays live; Stop saves a resumable checkpoint and ends the queue, Start picks it up where it was left.
The report (Markdown and PNG) is written off the UI thread into `<runs root>/.studies/<study>-<budget>/`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ...studies import (
    BUDGETS,
    DEFAULT_BUDGET,
    StudyError,
    job_state,
    list_studies,
    load_study,
    next_job,
    plan,
    prepare,
    write_report,
)
from ...train.runs import runs_root
from ..worker import LatestRequestRunner, TrainingJob

COLUMNS = ("Arm", "Seed", "State", "Progress", "Best top-1", "Run")
REPORTS = ".studies"  # under the runs root, beside `.trash`: not a run folder


class StudiesPanel(QWidget):
    running_changed = Signal(bool)
    compare_requested = Signal(list)  # the study's run folders, to open as a comparison
    error = Signal(str, str, str)  # title, summary, details

    def __init__(self, runs_dir=None, parent=None):
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.study = None
        self.jobs = []
        self.job: TrainingJob | None = None
        self.current = None  # the job training now
        self.report_path: Path | None = None
        self._stopping = False
        self._total = 0  # the current run's steps
        self.device_busy = lambda: False  # the window tells: another run is training (one run at a time)
        self._reports = LatestRequestRunner(self)
        self._reports.finished.connect(self._on_report)
        self._reports.failed.connect(lambda _slot, summary, tb: self.error.emit("Cannot write the report", summary, tb))

        self.study_box = QComboBox()
        for name in list_studies():
            self.study_box.addItem(name, name)
        self.study_box.currentIndexChanged.connect(lambda _: self.set_study(self.study_box.currentData()))
        open_button = QPushButton("Open study file…")
        open_button.clicked.connect(self._choose_file)
        self.budget_box = QComboBox()
        for b in BUDGETS:
            self.budget_box.addItem(b, b)
        self.budget_box.setCurrentIndex(BUDGETS.index(DEFAULT_BUDGET))
        self.budget_box.currentIndexChanged.connect(lambda _: self.refresh())
        self.start_button = QPushButton("Start queue", default=True)
        self.stop_button = QPushButton("Stop", enabled=False, toolTip="Save a resumable checkpoint and end the queue")
        self.report_button = QPushButton("Write report")
        self.compare_button = QPushButton("Open as comparison", toolTip="The study's finished runs on the Runs tab")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.report_button.clicked.connect(self.write_report)
        self.compare_button.clicked.connect(self.open_comparison)
        bar = QHBoxLayout()
        for w in (QLabel("Study"), self.study_box, open_button, QLabel("Budget"), self.budget_box):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.start_button, self.stop_button, self.report_button, self.compare_button):
            bar.addWidget(w)

        self.about = QLabel(wordWrap=True, textFormat=Qt.RichText)
        self.queue = QTableWidget(0, len(COLUMNS))
        self.queue.setHorizontalHeaderLabels(COLUMNS)
        self.queue.setEditTriggers(QTableWidget.NoEditTriggers)
        self.queue.verticalHeader().hide()
        self.queue.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.queue.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel()
        self.report = QTextBrowser(openExternalLinks=True)
        self.report.setPlaceholderText("The report appears here when the queue is done (or: Write report).")
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.about, self.queue, self.status):
            top_layout.addWidget(w)
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.report)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        if self.study_box.count():
            self.set_study(self.study_box.currentData())

    # -- the study and its queue ----------------------------------------------------------------

    @property
    def budget(self) -> str:
        return self.budget_box.currentData()

    @property
    def running(self) -> bool:
        return self.job is not None

    def set_study(self, name_or_path) -> None:
        """Show a packaged study (by name) or a study file; refused while the queue trains."""
        if self.running:
            return
        try:
            self.study = load_study(name_or_path)
        except StudyError as e:
            self.error.emit("Cannot open the study", str(e), "")
            return
        s = self.study
        claims = "".join(f"<li>{c.text}: <i>{c.describe()}</i></li>" for c in s.claims)
        self.about.setText(f"<b>{s.title}</b> — {s.source}<br><i>“{s.claim}”</i><ul>{claims}</ul>")
        self.report.clear()
        self.refresh()

    def set_budget(self, budget: str) -> None:
        self.budget_box.setCurrentIndex(BUDGETS.index(budget))

    def refresh(self) -> None:
        """Read the queue again from the run store (the runs already made at this budget)."""
        if self.study is None or self.running:
            return
        self.jobs = plan(self.study, self.budget, self.runs_dir)
        self.queue.setRowCount(len(self.jobs))
        for row in range(len(self.jobs)):
            self._show_row(row)
        self._update_status()
        self._show_existing_report()

    def _show_row(self, row: int, progress: str | None = None) -> None:
        job = self.jobs[row]
        state = job_state(self.study, self.jobs, job)
        summary = job.run.summary() if job.run is not None else {}
        step, total = summary.get("step") or 0, summary.get("total_steps")
        best = (summary.get("best") or {}).get("top1")
        cells = (
            job.arm,
            str(job.seed),
            state if job.error is None else f"failed ({job.error})",
            progress or (f"{100 * step / total:.0f}%" if total else "-"),
            f"{best:.2f}%" if best is not None else "-",
            job.run.id if job.run is not None else "-",
        )
        for col, text in enumerate(cells):
            self.queue.setItem(row, col, QTableWidgetItem(text))

    def _update_status(self) -> None:
        states = [job_state(self.study, self.jobs, j) for j in self.jobs]
        done = states.count("finished")
        text = f"{done}/{len(states)} runs finished"
        if self.current is not None:
            text += f"; training {self.current.label}"
        self.status.setText(text)

    # -- running --------------------------------------------------------------------------------

    def start(self) -> None:
        if self.running or self.study is None:
            return
        if self.device_busy():
            self.error.emit("A run is training", "Stop the run on the Training tab before starting a study.", "")
            return
        self._stopping = False
        self.refresh()
        self._set_running(True)
        self._next()

    def stop(self) -> None:
        """End the queue: the current run saves a resumable checkpoint."""
        self._stopping = True
        if self.job is not None:
            self.job.stop()

    def _next(self) -> None:
        job = None if self._stopping else next_job(self.study, self.jobs)
        if job is None:
            self.current = None
            self._set_running(False)
            self._update_status()
            if all(
                job_state(self.study, self.jobs, j) in ("finished", "failed", "diverged", "blocked") for j in self.jobs
            ):
                self.write_report()
            return
        row = self.jobs.index(job)
        try:
            run = prepare(self.study, self.budget, self.jobs, job, self.runs_dir)
        except ValueError:  # a bad config: reported in its row, the queue goes on
            self._show_row(row)
            self._next()
            return
        self.current = job
        self._show_row(row, "starting")
        self._update_status()
        self.job = TrainingJob(None, self.runs_dir, resume=run.path)
        self.job.progress.connect(lambda event, row=row: self._on_event(row, event))
        self.job.failed.connect(lambda summary, tb: self.error.emit("The run failed", summary, tb))
        self.job.finished.connect(self._on_run_done)
        self.job.start()

    def _on_event(self, row: int, event) -> None:
        if event.kind == "started":
            self._total = event.data.get("total_steps") or 0
        progress = f"{100 * event.step / self._total:.0f}%" if self._total else None
        if event.kind in ("eval", "started") or event.terminal:
            self._show_row(row, progress)  # reads the run's status: its state and best top-1 change
        elif event.kind == "step" and progress:  # a step moves only the progress: no read of the run per step
            self.queue.setItem(row, COLUMNS.index("Progress"), QTableWidgetItem(progress))

    def _on_run_done(self) -> None:
        self.job = None
        self._show_row(self.jobs.index(self.current))
        self._next()

    def _set_running(self, running: bool) -> None:
        for w in (self.start_button, self.study_box, self.budget_box, self.report_button):
            w.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.running_changed.emit(running)

    # -- the report -----------------------------------------------------------------------------

    def report_dir(self) -> Path:
        return runs_root(self.runs_dir) / REPORTS / f"{self.study.name}-{self.budget}"

    def write_report(self) -> None:
        """Write the report off the UI thread; it is shown when ready."""
        study, budget, runs_dir, out = self.study, self.budget, self.runs_dir, self.report_dir()
        self.status.setText(f"{self.status.text()}; writing the report…")
        self._reports.submit("report", lambda: write_report(study, budget, runs_dir, out))

    def _on_report(self, _slot: str, result) -> None:
        path, verdict = result
        self.show_report(path)
        self._update_status()
        self.status.setText(f"{self.status.text()}. {verdict.replace('**', '')}")

    def show_report(self, path: Path) -> None:
        self.report_path = Path(path)
        self.report.setSearchPaths([str(self.report_path.parent)])
        self.report.document().setBaseUrl(QUrl.fromLocalFile(str(self.report_path.parent) + "/"))
        self.report.setMarkdown(self.report_path.read_text(encoding="utf-8"))

    def _show_existing_report(self) -> None:
        path = self.report_dir() / f"{self.study.name}.md"
        if path.is_file():
            self.show_report(path)

    def open_comparison(self) -> None:
        runs = [
            j.run.path for j in self.jobs if j.run is not None and job_state(self.study, self.jobs, j) == "finished"
        ]
        if runs:
            self.compare_requested.emit(runs)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a study file", "", "Study files (*.toml)")
        if path:
            self.set_study(path)
