"""Choose pretrained weights: a searchable list of the catalogue's tags (size, source, whether cached) and a
download with a progress bar and Cancel on a worker thread; cached weights are chosen without the network."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from ...models import PretrainedCfg, list_pretrained
from ...models.hub import DownloadCancelled, fetch_weights, is_cached, progress_callback
from ..worker import Task

_CLASSES = {"imagenet-1k": "ImageNet-1k classes", "imagenet-21k": "ImageNet-21k head (unnamed)", "none": "no head"}


def download(cfg: PretrainedCfg, task: Task) -> bool:
    """Fetch a tag's weights into the cache, reporting `(done, total)` bytes (total 0: unknown); False when
    the task is cancelled (nothing is kept)."""
    report = progress_callback(lambda n, total: task.report((n, total or 0)), task.cancelled.is_set)
    try:
        fetch_weights(cfg, tqdm_class=report)
    except DownloadCancelled:
        return False
    return True


class PretrainedDialog(QDialog):
    """Pick a tag; `chosen` is its name once the weights are on this machine (the dialog is then accepted)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Pretrained weights")
        self.resize(760, 480)
        self.chosen: str | None = None
        self.task: Task | None = None  # the download running
        self.search = QLineEdit(placeholderText="search: vit_base, deit, mae, in21k, torchvision…")
        self.list = QListWidget()
        for cfg in list_pretrained():
            cached = "  ✓ cached" if is_cached(cfg) else ""
            item = QListWidgetItem(f"{cfg.name}    {cfg.download_mb:.0f} MB    {cfg.source}{cached}")
            item.setData(Qt.ItemDataRole.UserRole, cfg)
            self.list.addItem(item)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.load_button = self.buttons.addButton("Load", QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        for w in (self.search, self.list, self.info, self.bar, self.buttons):
            layout.addWidget(w)
        self.search.textChanged.connect(self._filter)
        self.list.currentItemChanged.connect(self._describe)
        self.list.itemDoubleClicked.connect(self._load)
        self.buttons.accepted.connect(self._load)
        self.buttons.rejected.connect(self.reject)
        self.list.setCurrentRow(0)

    def select(self, name: str) -> None:
        """Select the tag `name` in the list."""
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole).name == name:
                self.list.setCurrentRow(i)
                return
        raise KeyError(name)

    def selected(self) -> PretrainedCfg | None:
        item = self.list.currentItem()
        return None if item is None or item.isHidden() else item.data(Qt.ItemDataRole.UserRole)

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(not all(w in item.text().lower() for w in words))

    def _describe(self, *_) -> None:
        cfg = self.selected()
        if cfg is not None:
            self.info.setText(
                f"{cfg.name}: {cfg.input_size}x{cfg.input_size}, {cfg.interpolation}, crop {cfg.crop_pct:g}, "
                f"mean {cfg.mean}, std {cfg.std}, {_CLASSES[cfg.labels]}; about {cfg.download_mb:.0f} MB from "
                f"{cfg.source}{' (cached: no download)' if is_cached(cfg) else ''}"
            )

    def _load(self, *_) -> None:
        cfg = self.selected()
        if cfg is None or self.task is not None:
            return
        if is_cached(cfg):
            self._finish(cfg)
            return
        self.task = Task(partial(download, cfg))
        self.task.progress.connect(self._on_progress)
        self.task.done.connect(
            lambda fetched: self._finish(cfg) if fetched else self._on_failed("the download was cancelled")
        )
        self.task.failed.connect(lambda summary, _tb: self._on_failed(summary))
        self.task.finished.connect(self._on_task_end)
        self.bar.setRange(0, 0)  # busy until the size is known
        self.bar.show()
        self.load_button.setEnabled(False)
        self.info.setText(f"downloading {cfg.name} from {cfg.source}…")
        self.task.start()

    def _on_progress(self, progress: tuple[int, int]) -> None:
        done, total = progress
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(1000 * done / total))
            self.bar.setFormat(f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")

    def _on_failed(self, message: str) -> None:
        self.info.setText(message)
        self.bar.hide()

    def _on_task_end(self) -> None:
        self.task = None
        self.load_button.setEnabled(True)

    def _finish(self, cfg: PretrainedCfg) -> None:
        self.chosen = cfg.name
        self.accept()

    def reject(self) -> None:
        """Cancel stops a download (the dialog stays open); otherwise it closes the dialog."""
        if self.task is not None:
            self.task.cancel()
            return
        super().reject()

    def done(self, result: int) -> None:
        if self.task is not None:  # closed while downloading: stop it and let it end
            self.task.cancel()
            self.task.wait()
        super().done(result)
