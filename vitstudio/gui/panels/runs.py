"""The runs panel: every run in the runs root (and other folders opened), refreshed live, and a comparison
of the selected ones below.

The table is a `RunsModel` behind a `RunsFilter` (sort and text filter); rename, tags, note, delete (to the
trash, with undo), open folder and TensorBoard export act here; resume, "new run from this config" and
"inspect side by side" are signals for the main window, which owns training and the inspector.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...train.compare import COLUMNS, TABLE_COLUMNS, table, write_csv
from ...train.export import export_tensorboard
from ...train.runs import ACTIVE_STATES, RESUMABLE_STATES, Run, delete_run, list_runs, restore_run, runs_root
from .compare import CompareView

REFRESH_MS = 1000
SORT_ROLE = Qt.UserRole + 1
STATE_COLORS = {
    "running": "#1565c0",
    "paused": "#1565c0",
    "finished": "#2e7d32",
    "stopped": "#ef6c00",
    "interrupted": "#ef6c00",
    "diverged": "#c62828",
    "failed": "#c62828",
}
NUMERIC = ("epoch", "best_top1", "last_top1", "best_val_loss", "last_val_loss", "params", "seconds", "images_per_sec")
SEARCHED = ("name", "state", "objective", "model", "data", "tags", "note", "id")


class RunsModel(QAbstractTableModel):
    """One row per run folder under `roots`; `refresh()` re-reads only the runs whose status or meta changed.

    Each row keeps its summary with every column's text and value worked out, so painting and sorting
    read lists."""

    def __init__(self, roots: list[Path], parent=None):
        super().__init__(parent)
        self.roots = list(roots)
        self.columns = list(COLUMNS.values())
        self.runs: list[Run] = []
        self.summaries: list[dict] = []
        self._texts: list[list[str]] = []
        self._values: list[list] = []
        self._stamps: list[tuple] = []
        self._numeric = {i for i, c in enumerate(self.columns) if c.key in NUMERIC}
        self._state = self.column_index("state")
        self.refresh()

    # -- Qt model interface ---------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.columns[section].title
        return None

    def data(self, index, role=Qt.DisplayRole):
        row, col = index.row(), index.column()
        if role == Qt.DisplayRole:
            return self._texts[row][col]
        if role == SORT_ROLE:
            return self._values[row][col]
        if role == Qt.ForegroundRole and col == self._state:
            return QColor(STATE_COLORS.get(self.summaries[row]["state"], "#555555"))
        if role == Qt.TextAlignmentRole and col in self._numeric:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ToolTipRole:
            s = self.summaries[row]
            return "\n".join(x for x in (s["path"], s.get("reason"), s.get("note")) if x)
        return None

    # -- data -----------------------------------------------------------------------------------

    def column_index(self, key: str) -> int:
        return [c.key for c in self.columns].index(key)

    def text(self, row: int, key: str) -> str:
        return self._texts[row][self.column_index(key)]

    def _set_row(self, row: int, run: Run, stamp: tuple, summary: dict) -> None:
        texts = [c.format(summary) for c in self.columns]
        values = [c.value(summary) for c in self.columns]
        if row == len(self.runs):
            for rows, item in (
                (self.runs, run),
                (self._stamps, stamp),
                (self.summaries, summary),
                (self._texts, texts),
                (self._values, values),
            ):
                rows.append(item)
        else:
            self._stamps[row], self.summaries[row], self._texts[row], self._values[row] = stamp, summary, texts, values

    def refresh(self) -> None:
        """Add new runs, drop vanished ones, re-read those that changed (and the active ones, whose writer may die)."""
        found = [run for root in self.roots for run in list_runs(root)]
        paths = {r.path for r in found}
        for row in reversed(range(len(self.runs))):
            if self.runs[row].path not in paths:
                self.beginRemoveRows(QModelIndex(), row, row)
                for rows in (self.runs, self._stamps, self.summaries, self._texts, self._values):
                    del rows[row]
                self.endRemoveRows()
        known = {r.path: i for i, r in enumerate(self.runs)}
        for run in found:
            row = known.get(run.path)
            stamp = run.stamp()
            if row is None:
                self.beginInsertRows(QModelIndex(), len(self.runs), len(self.runs))
                self._set_row(len(self.runs), run, stamp, run.summary())
                self.endInsertRows()
            elif stamp != self._stamps[row] or self.summaries[row]["state"] in ACTIVE_STATES:
                summary = run.summary()
                if stamp != self._stamps[row] or summary != self.summaries[row]:
                    self._set_row(row, run, stamp, summary)
                    self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))

    def add_root(self, root: Path) -> None:
        if root not in self.roots:
            self.roots.append(root)
            self.refresh()


class RunsFilter(QSortFilterProxyModel):
    """Sorts by the columns' raw values (blanks last) and keeps rows containing every word of the filter text."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.words: list[str] = []
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+; invalidateFilter is deprecated there
            self.beginFilterChange()
            self.words = text.lower().split()
            self.endFilterChange()
        else:
            self.words = text.lower().split()
            self.invalidateFilter()

    def filterAcceptsRow(self, row, parent) -> bool:
        if not self.words:
            return True
        model = self.sourceModel()
        haystack = " ".join(model.text(row, k) for k in SEARCHED).lower()
        return all(w in haystack for w in self.words)

    def lessThan(self, left, right) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:  # blanks sort last whichever the order
            return (a is None) < (b is None) if self.sortOrder() == Qt.AscendingOrder else (a is None) > (b is None)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return str(a).lower() < str(b).lower()


class RunsPanel(QWidget):
    """The runs table above a `CompareView` of the selected runs."""

    resume_requested = Signal(str)  # a run folder to continue training
    new_run_requested = Signal(object)  # a Config to start a new run from
    inspect_requested = Signal(list)  # two run folders to inspect side by side
    message = Signal(str)  # a short status line (deleted, restored, exported)

    def __init__(self, runs_dir=None, parent=None):
        super().__init__(parent)
        self.model = RunsModel([runs_root(runs_dir)], self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.trashed: list[list[Path]] = []  # what each delete moved to the trash, newest last

        self.filter_edit = QLineEdit(
            placeholderText="Filter runs (name, model, tag, status, …)", clearButtonEnabled=True
        )
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.columns_button = QToolButton(text="Columns")
        self.columns_button.setPopupMode(QToolButton.InstantPopup)
        self.columns_button.setMenu(QMenu(self.columns_button))
        open_button = QToolButton(text="Open folder…")
        open_button.clicked.connect(self._choose_root)
        export_button = QToolButton(text="Export table…")
        export_button.clicked.connect(lambda: self.export_table())
        self.undo_action = QAction(
            "Undo delete",
            self,
            shortcut=QKeySequence.Undo,
            enabled=False,
            shortcutContext=Qt.WidgetWithChildrenShortcut,
        )
        self.undo_action.triggered.connect(self.undo_delete)
        self.addAction(self.undo_action)
        undo_button = QToolButton()
        undo_button.setDefaultAction(self.undo_action)
        self.inspect_button = QToolButton(
            text="Inspect side by side", enabled=False, toolTip="Select two runs to see their models on the same image"
        )
        self.inspect_button.clicked.connect(self.inspect_selected)
        self.count_label = QLabel()

        bar = QHBoxLayout()
        for w in (
            self.filter_edit,
            self.columns_button,
            open_button,
            export_button,
            undo_button,
            self.inspect_button,
            self.count_label,
        ):
            bar.addWidget(w)
        bar.setStretch(0, 1)

        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(self.model.column_index("created"), Qt.DescendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionsMovable(True)
        self.view.horizontalHeader().setStretchLastSection(True)  # no empty space right of the last column
        self.view.setWordWrap(False)  # one line per run: columns fit their values, not wrapped halves of them
        self.view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.doubleClicked.connect(lambda _: self.open_folder())
        self.view.selectionModel().selectionChanged.connect(self._on_selection)

        self.compare = CompareView()
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(self.view)
        splitter.addWidget(self.compare)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

        self._build_columns_menu()
        self.set_visible_columns(TABLE_COLUMNS)
        self.model.rowsInserted.connect(self._update_count)
        self.model.rowsRemoved.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)
        self._update_count()
        self.model.rowsInserted.connect(self.view.resizeColumnsToContents)  # new runs: fit their values
        self.model.dataChanged.connect(self._widen_columns)  # a value that grew (a run that went on) fits too
        self.view.resizeColumnsToContents()

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # -- table ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Pick up new, changed and vanished runs, and new points of the compared ones."""
        self.model.refresh()
        self.compare.refresh()

    def _widen_columns(self, top_left, bottom_right) -> None:
        """Widen the changed columns to fit their values; never narrow one (the user may have widened it)."""
        for column in range(top_left.column(), bottom_right.column() + 1):
            if (fit := self.view.sizeHintForColumn(column)) > self.view.columnWidth(column):
                self.view.setColumnWidth(column, fit)

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} runs")

    def _build_columns_menu(self) -> None:
        menu = self.columns_button.menu()
        for c in self.model.columns:
            action = menu.addAction(c.title)
            action.setCheckable(True)
            action.setData(c.key)
            action.toggled.connect(
                lambda on, key=c.key: self.view.setColumnHidden(self.model.column_index(key), not on)
            )

    def visible_columns(self) -> list[str]:
        return [c.key for i, c in enumerate(self.model.columns) if not self.view.isColumnHidden(i)]

    def set_visible_columns(self, keys) -> None:
        """Show just these columns (keys of `COLUMNS`; the main window may save and restore them)."""
        for action in self.columns_button.menu().actions():
            action.setChecked(action.data() in keys)
            self.view.setColumnHidden(self.model.column_index(action.data()), action.data() not in keys)

    def add_root(self, root: str | Path) -> None:
        """Also list the runs in another folder."""
        self.model.add_root(Path(root))

    def _choose_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of runs")
        if folder:
            self.add_root(folder)

    def selected_runs(self) -> list[Run]:
        rows = sorted(self.proxy.mapToSource(i).row() for i in self.view.selectionModel().selectedRows())
        return [self.model.runs[r] for r in rows]

    def select_runs(self, runs: list[Run]) -> None:
        paths = {r.path for r in runs}
        selection = self.view.selectionModel()
        selection.clearSelection()
        for row, run in enumerate(self.model.runs):
            if run.path in paths:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                selection.select(index, QItemSelectionModel.Select | QItemSelectionModel.Rows)

    def _on_selection(self, *_) -> None:
        runs = self.selected_runs()
        self.compare.set_runs(runs)
        self.inspect_button.setEnabled(len(runs) == 2)

    def inspect_selected(self) -> None:
        """Ask for the two selected runs' models side by side in the inspector."""
        runs = self.selected_runs()
        if len(runs) == 2:
            self.inspect_requested.emit([str(r.path) for r in runs])

    def export_table(self, path: str | None = None) -> Path | None:
        """The table as shown (filtered, sorted, visible columns) to CSV, with raw numbers."""
        path = path or QFileDialog.getSaveFileName(self, "Export runs table", "runs.csv", "CSV (*.csv)")[0]
        if not path:
            return None
        rows = [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(self.proxy.rowCount())]
        header, values = table([self.model.summaries[r] for r in rows], self.visible_columns(), text=False)
        return write_csv(path, header, values)

    # -- actions on runs -------------------------------------------------------------------------

    def _context_menu(self, pos) -> None:
        runs = self.selected_runs()
        if runs:
            self.context_menu(runs).popup(self.view.viewport().mapToGlobal(pos))

    def context_menu(self, runs: list[Run]) -> QMenu:
        """The actions on `runs` (the selection); those that take one run are off for several."""
        one = len(runs) == 1
        state = self.model.summaries[self.model.runs.index(runs[0])]["state"]
        menu = QMenu(self)
        menu.addAction("Rename…", self._ask_rename).setEnabled(one)
        menu.addAction("Tags…", self._ask_tags)
        menu.addAction("Note…", self._ask_note).setEnabled(one)
        menu.addSeparator()
        menu.addAction("Open folder", self.open_folder).setEnabled(one)
        menu.addAction("Resume training", lambda: self.resume_requested.emit(str(runs[0].path))).setEnabled(
            one and state in RESUMABLE_STATES and runs[0].owner() is None  # not while another process writes it
        )
        menu.addAction("New run from this config", lambda: self.new_run_requested.emit(runs[0].config())).setEnabled(
            one and state != "damaged"
        )
        menu.addAction("Export to TensorBoard…", self._ask_tensorboard).setEnabled(one)
        menu.addAction("Inspect side by side", self.inspect_selected).setEnabled(len(runs) == 2)
        menu.addSeparator()
        menu.addAction(f"Delete {len(runs)} run{'s' * (not one)}", self.delete_selected)
        return menu

    def rename(self, run: Run, name: str) -> None:
        run.update_meta(name=name)
        self.refresh()

    def set_tags(self, runs: list[Run], tags: list[str]) -> None:
        for run in runs:
            run.update_meta(tags=tags)
        self.refresh()

    def set_note(self, run: Run, note: str) -> None:
        run.update_meta(note=note)
        self.refresh()

    def _ask_rename(self) -> None:
        run = self.selected_runs()[0]
        name, ok = QInputDialog.getText(
            self, "Rename run", "Name (empty: the folder name)", text=run.meta()["name"] or ""
        )
        if ok:
            self.rename(run, name)

    def _ask_tags(self) -> None:
        runs = self.selected_runs()
        text, ok = QInputDialog.getText(self, "Tags", "Comma-separated tags", text=", ".join(runs[0].meta()["tags"]))
        if ok:
            self.set_tags(runs, text.split(","))

    def _ask_note(self) -> None:
        run = self.selected_runs()[0]
        text, ok = QInputDialog.getMultiLineText(self, "Note", f"Note on {run.id}", run.meta()["note"])
        if ok:
            self.set_note(run, text)

    def _ask_tensorboard(self) -> None:
        run = self.selected_runs()[0]
        folder = QFileDialog.getExistingDirectory(self, "Write TensorBoard event files into")
        if not folder:
            return
        try:
            out = export_tensorboard(run, Path(folder) / run.id)
        except RuntimeError as e:
            QMessageBox.warning(self, "TensorBoard export", str(e))
            return
        self.message.emit(f"TensorBoard events written to {out}")

    def open_folder(self) -> None:
        runs = self.selected_runs()
        if runs:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(runs[0].path)))

    def delete_selected(self) -> list[Path]:
        """Move the selected runs to the trash (runs still training are refused); undo brings them back."""
        moved, refused = [], []
        for run in self.selected_runs():
            try:
                moved.append(delete_run(run))
            except (RuntimeError, OSError) as e:
                refused.append(str(e))
        if moved:
            self.trashed.append(moved)
            self.undo_action.setEnabled(True)
            self.message.emit(
                f"Moved {len(moved)} run(s) to the trash; {self.undo_action.shortcut().toString()} undoes"
            )
        if refused:
            QMessageBox.warning(self, "Delete runs", "\n".join(refused))
        self.refresh()
        return moved

    def undo_delete(self) -> list[Run]:
        """Restore the runs of the last delete."""
        if not self.trashed:
            return []
        restored = [restore_run(path) for path in self.trashed.pop()]
        self.undo_action.setEnabled(bool(self.trashed))
        self.message.emit(f"Restored {len(restored)} run(s)")
        self.refresh()
        return restored
