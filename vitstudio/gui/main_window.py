"""The studio window: Model, Data, Training, Runs, Inspector and Studies tabs, menus, status bar, saved window state.

The window paints before torch is imported: each tab shows a placeholder until a task (`startup.load`) has
imported the core, then the real panels replace them (`core_ready`).
"""

from __future__ import annotations

import json
from functools import partial

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from . import startup
from .panels.common import weights_filter
from .worker import Task, wait_for_tasks

TABS = ("Model", "Data", "Training", "Runs", "Inspector", "Studies")


class MainWindow(QMainWindow):
    painted = Signal()  # the window has painted once
    core_ready = Signal()  # torch and the core are imported and the panels are live
    warmed = Signal()  # torch's lazily imported parts are loaded too: a run starts without stalls

    def __init__(self, runs_dir=None, settings: QSettings | None = None):
        super().__init__()
        self.runs_dir = runs_dir
        self.settings = settings if settings is not None else QSettings()
        self.form = self.model_panel = self.data_panel = self.training_panel = None
        self.runs_panel = self.inspector_tab = self.inspector_panel = self.studies_panel = None
        self.dialog: QMessageBox | None = None  # the last non-blocking dialog shown (tests read it)
        self._painted = False
        self.is_warm = False
        self._close_when_stopped = False
        self._core_requested = False

        self.setWindowTitle("vitstudio")
        self.resize(1360, 860)
        self.tabs = QTabWidget(documentMode=True)
        self.pages = []  # one per tab: a placeholder until the core is loaded, then the panel
        for name in TABS:
            placeholder = QLabel("Loading torch…", alignment=Qt.AlignCenter)
            placeholder.setStyleSheet("color: #777; font-size: 14pt;")
            page = QWidget()
            QVBoxLayout(page).addWidget(placeholder)
            page.layout().setContentsMargins(0, 0, 0, 0)
            self.tabs.addTab(page, name)
            self.pages.append(page)
        self.setCentralWidget(self.tabs)
        self._build_menus()
        self.device_label = QLabel("device: …")
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage("Loading torch…")
        self._restore_state()
        QApplication.instance().aboutToQuit.connect(self.shutdown)

    # -- start-up -----------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self._after_first_paint)

    def _after_first_paint(self) -> None:
        self.painted.emit()
        self.load_core()

    def load_core(self) -> None:
        """Import torch and the core on a thread; the panels appear when it is done."""
        if self._core_requested:
            return
        self._core_requested = True
        task = Task(startup.load)
        task.progress.connect(self._on_core_loaded)
        task.done.connect(lambda _: self._on_warmed())
        task.failed.connect(lambda s, tb: self.show_error("vitstudio cannot load its core", s, tb))
        task.start()

    def _on_core_loaded(self, info: dict) -> None:
        from ..analysis.sources import from_run
        from ..train.runs import Run
        from .form import INVALID_STYLE, ConfigForm
        from .panels.data import DataPanel
        from .panels.inspector_tab import InspectorTab
        from .panels.model import ModelPanel
        from .panels.runs import RunsPanel
        from .panels.studies import StudiesPanel
        from .panels.training import TrainingPanel

        self.setStyleSheet(INVALID_STYLE)
        self.form = ConfigForm(self._initial_config(), self)
        self.model_panel = ModelPanel(self.form)
        self.data_panel = DataPanel(self.form)
        self.training_panel = TrainingPanel(self.form, runs_dir=self.runs_dir)
        self.runs_panel = RunsPanel(runs_dir=self.runs_dir)
        self.inspector_tab = InspectorTab()
        self.inspector_panel = self.inspector_tab.single
        self.studies_panel = StudiesPanel(runs_dir=self.runs_dir)
        self.studies_panel.device_busy = lambda: self.training_panel.running
        self.studies_panel.error.connect(self.show_error)
        self.studies_panel.compare_requested.connect(self._compare_runs)
        self.data_panel.classes_known.connect(self.model_panel.set_num_classes)
        self.training_panel.error.connect(self.show_error)
        self.training_panel.running_changed.connect(self._on_running_changed)
        self.training_panel.set_x_axis(self.settings.value("x_axis", "step"))
        self.runs_panel.message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.runs_panel.resume_requested.connect(lambda path: self._resume(Run(path)))
        self.runs_panel.new_run_requested.connect(self._new_run_from_config)
        self.runs_panel.inspect_requested.connect(self._inspect_side_by_side)
        self.inspector_tab.add_source(
            "The run on the Training tab",
            lambda: partial(from_run, str(self.training_panel.run.path)) if self.training_panel.run else None,
        )
        panels = (
            self.model_panel,
            self.data_panel,
            self.training_panel,
            self.runs_panel,
            self.inspector_tab,
            self.studies_panel,
        )
        for page, panel in zip(self.pages, panels):
            page.layout().takeAt(0).widget().deleteLater()
            page.layout().addWidget(panel)
        self._fill_presets()
        for action in self._core_actions:
            action.setEnabled(True)
        self._show_latest_run()
        self._on_running_changed(False)
        self.device_label.setText(info["device"])
        self.statusBar().showMessage("Warming up torch…")
        self.core_ready.emit()

    def _on_warmed(self) -> None:
        self.is_warm = True
        run = self._latest_resumable()
        if run is not None and not self.training_panel.running:
            state = run.status().get("state")
            self.statusBar().showMessage(
                f"Ready. Run {run.id} was {state} at step {run.status().get('step', 0)}: "
                "Run ▸ Resume the latest run (Ctrl+Shift+R) continues it",
                15000,
            )
        else:
            self.statusBar().showMessage("Ready", 3000)
        self.warmed.emit()

    def _show_latest_run(self) -> None:
        """Show the newest run on the Training tab at launch, so an interrupted one can be resumed from there."""
        from .panels.training import latest_run

        run = latest_run(self.runs_dir)
        if run is None or self.training_panel.run is not None:
            return
        try:
            self.training_panel.show_run(run)
        except (OSError, ValueError) as e:  # a damaged run folder: say so, start from an empty tab
            self.training_panel.show_run(None)
            self.statusBar().showMessage(f"Cannot show the latest run {run.id}: {e}", 8000)

    def _latest_resumable(self):
        """The newest run, if it can be resumed."""
        from .panels.training import latest_run, resumable

        run = latest_run(self.runs_dir)
        return run if run is not None and resumable(run) else None

    def resume_latest(self) -> None:
        """Continue the newest run from its last checkpoint (the Run menu's command)."""
        run = self._latest_resumable()
        if run is None:
            self.statusBar().showMessage("The latest run cannot be resumed (finished, or no checkpoint)", 4000)
            return
        self._resume(run)

    def _initial_config(self):
        """The form as it was left, else the `quick` preset."""
        from ..config import Config, ConfigError, load_config

        saved = self.settings.value("config")
        if saved:
            try:
                return Config.from_dict(json.loads(saved), strict=False)
            except (ValueError, ConfigError):
                pass
        return load_config("quick")

    # -- menus --------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.presets_menu = file.addMenu("&New run from preset")
        self.open_run_action = file.addAction("&Open run folder…", QKeySequence.Open, self._choose_run_folder)
        self.import_action = file.addAction("&Import weights…", QKeySequence("Ctrl+I"), self._choose_weights)
        file.addSeparator()
        file.addAction("&Quit", QKeySequence.Quit, self.close)

        view = bar.addMenu("&View")
        for i, name in enumerate(TABS):
            view.addAction(f"&{name}", QKeySequence(f"Ctrl+{i + 1}"), lambda i=i: self.tabs.setCurrentIndex(i))
        view.addSeparator()
        full = view.addAction(
            "&Full screen",
            QKeySequence.FullScreen,
            lambda: self.showNormal() if self.isFullScreen() else self.showFullScreen(),
        )
        full.setCheckable(True)

        run = bar.addMenu("&Run")
        self.start_action = run.addAction("&Start training", QKeySequence("Ctrl+Return"), partial(self._train, "start"))
        self.pause_action = run.addAction(
            "&Pause / resume", QKeySequence("Ctrl+P"), partial(self._train, "toggle_pause")
        )
        self.stop_action = run.addAction(
            "S&top (save a checkpoint)", QKeySequence("Ctrl+."), partial(self._train, "stop")
        )
        run.addSeparator()
        self.resume_latest_action = run.addAction(
            "&Resume the latest run", QKeySequence("Ctrl+Shift+R"), self.resume_latest
        )

        help_menu = bar.addMenu("&Help")
        help_menu.addAction("&Keyboard shortcuts", QKeySequence.HelpContents, self.show_shortcuts)
        help_menu.addAction("&About vitstudio", self.show_about)

        self._core_actions = [
            self.presets_menu.menuAction(),
            self.open_run_action,
            self.import_action,
            self.start_action,
            self.pause_action,
            self.stop_action,
            self.resume_latest_action,
        ]
        for action in self._core_actions:
            action.setEnabled(False)

    def _train(self, command: str) -> None:
        """A Run menu command for the training panel (which exists once the core is loaded)."""
        getattr(self.training_panel, command)()

    def _fill_presets(self) -> None:
        from ..config import list_presets

        self.presets_menu.clear()
        for name in list_presets():
            self.presets_menu.addAction(name, lambda name=name: self.new_run_from_preset(name))

    def _on_running_changed(self, running: bool) -> None:
        for action in (self.presets_menu.menuAction(), self.open_run_action, self.import_action):
            action.setEnabled(not running)
        self.pause_action.setEnabled(running)
        self.stop_action.setEnabled(running)
        self.resume_latest_action.setEnabled(not running and self._latest_resumable() is not None)
        if not running and self._close_when_stopped:
            self.close()

    # -- actions ------------------------------------------------------------------------------

    def new_run_from_preset(self, name: str) -> None:
        from ..config import load_config

        self.form.load(load_config(name))
        self.training_panel.show_run(None)
        self.statusBar().showMessage(f"Preset {name!r} loaded", 4000)

    def _new_run_from_config(self, config) -> None:
        self.form.load(config)
        self.training_panel.show_run(None)
        self.show_panel(self.model_panel)
        self.statusBar().showMessage("Settings taken from the run; press Start to train them again", 4000)

    def _resume(self, run) -> None:
        if self.training_panel.running:
            self.statusBar().showMessage("A run is training; stop it before resuming another", 4000)
            return
        self.open_run(run.path)
        self.training_panel.resume_run()

    def _inspect_side_by_side(self, paths: list) -> None:
        self.inspector_tab.compare_runs(paths)
        self.show_panel(self.inspector_tab)

    def _compare_runs(self, paths: list) -> None:
        """Select runs on the Runs tab, which compares them."""
        from ..train.runs import Run

        self.runs_panel.refresh()
        self.runs_panel.select_runs([Run(p) for p in paths])
        self.show_panel(self.runs_panel)

    def open_run(self, path) -> None:
        """Show a run folder: its config in the forms, its curves in the plots."""
        from ..train.runs import Run

        run = Run(path)
        try:
            config = run.config()
        except (OSError, ValueError) as e:
            self.show_error("Cannot open the run", f"{path} is not a run folder: {e}")
            return
        self.form.load(config)
        self.training_panel.show_run(run)
        self.show_panel(self.training_panel)

    def show_panel(self, panel: QWidget) -> None:
        """Bring a panel's tab to the front."""
        self.tabs.setCurrentWidget(panel.parentWidget())

    def current_panel(self) -> QWidget | None:
        page = self.tabs.currentWidget()
        return page.layout().itemAt(0).widget() if page.layout().count() else None

    def _choose_run_folder(self) -> None:
        from ..train.runs import runs_root

        path = QFileDialog.getExistingDirectory(self, "Open run folder", str(runs_root(self.runs_dir)))
        if path:
            self.open_run(path)

    def _choose_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import weights", "", weights_filter())
        if not path:
            return
        from ..models.weights import check_weights_file  # deferred: the window paints before torch loads

        try:
            check_weights_file(path)  # a clear message now, not a failure when the run starts
        except ValueError as e:
            self.show_error("Cannot import the weights", str(e))
            return
        self.import_weights(path)

    def import_weights(self, path: str) -> None:
        """Fine-tune from a weights file: the objective becomes 'finetune' starting from it."""
        self.form.update({"objective.name": "finetune", "objective.init_from": path})
        self.show_panel(self.training_panel)
        self.statusBar().showMessage(f"Fine-tuning from {path}", 4000)

    def show_error(self, title: str, summary: str, details: str = "") -> QMessageBox:
        """A readable error with the traceback behind "Show Details…"; non-blocking, the app stays usable."""
        box = QMessageBox(QMessageBox.Critical, title, summary, QMessageBox.Ok, self)
        if details:
            box.setDetailedText(details)
        return self._open(box)

    def show_shortcuts(self) -> QMessageBox:
        rows = [
            (a.text().replace("&", ""), a.shortcut().toString(QKeySequence.NativeText))
            for menu in self.menuBar().findChildren(QMenu)
            for a in menu.actions()
            if not a.shortcut().isEmpty()
        ]
        table = "".join(f"<tr><td>{name}</td><td>&nbsp;&nbsp;<b>{keys}</b></td></tr>" for name, keys in rows)
        return self._open(
            QMessageBox(QMessageBox.NoIcon, "Keyboard shortcuts", f"<table>{table}</table>", QMessageBox.Close, self)
        )

    def show_about(self) -> QMessageBox:
        text = (
            f"<b>vitstudio {__version__}</b><p>An experiment studio for Vision Transformers: configure a ViT, "
            "train it live, look inside it.</p><p>Apache-2.0</p>"
        )
        return self._open(QMessageBox(QMessageBox.Information, "About vitstudio", text, QMessageBox.Ok, self))

    def _open(self, box: QMessageBox) -> QMessageBox:
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()
        self.dialog = box
        return box

    # -- closing and settings -----------------------------------------------------------------

    def closeEvent(self, event) -> None:
        panel = self.training_panel
        if panel is not None and panel.running:
            event.ignore()
            if not self._close_when_stopped:
                self._ask_stop_before_close()
            return
        self._save_state()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """End the window's work: a run and a study's queue stop with a checkpoint, then every task is waited for.

        Called on close and when the application quits by other means (a QThread must not outlive Qt).
        """
        if self.training_panel is not None:
            self.training_panel.stop()
        if self.studies_panel is not None:
            self.studies_panel.stop()
        wait_for_tasks()

    def _ask_stop_before_close(self) -> None:
        box = QMessageBox(
            QMessageBox.Question,
            "Training is running",
            "A run is still training. Stop it (a resumable checkpoint is saved) and close, or keep it training?",
            parent=self,
        )
        stop = box.addButton("Stop and close", QMessageBox.AcceptRole)
        box.addButton("Keep training", QMessageBox.RejectRole)
        box.setDefaultButton(stop)

        def answered(button):
            if button is stop and self.training_panel.running:
                self._close_when_stopped = True
                self.training_panel.stop()
                self.statusBar().showMessage("Stopping: saving a checkpoint, then closing…")

        box.buttonClicked.connect(answered)
        self._open(box)

    def _save_state(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.setValue("tab", self.tabs.currentIndex())
        if self.training_panel is not None:
            self.settings.setValue("x_axis", self.training_panel.plots.x_axis)
        if self.form is not None:
            self.settings.setValue("config", json.dumps(self.form.config.to_dict()))
        self.settings.sync()

    def _restore_state(self) -> None:
        if self.settings.value("geometry") is not None:
            self.restoreGeometry(self.settings.value("geometry"))
        if self.settings.value("window_state") is not None:
            self.restoreState(self.settings.value("window_state"))
        self.tabs.setCurrentIndex(int(self.settings.value("tab", 0)))
