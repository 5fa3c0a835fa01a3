"""The Data panel: dataset, image size and augmentation, with a grid of the images the model will see."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...data import AUGMENT_DESCRIPTIONS, AUGMENTS, DATASETS, DatasetNotFound, datasets_from_config, sample_images
from ...data.public import SOURCES
from ..worker import LatestRequestRunner
from .common import ProblemsLabel, combo, dspin, form_column, line, spin, to_qimage

DATASET_LABELS = {
    "builtin": "built-in shapes (no download)",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "stl10": "STL-10",
    "flowers102": "Flowers-102",
    "pets": "Oxford-IIIT Pets",
    "folder": "image folder",
}
AUGMENT_LABELS = {
    "none": "none (whole image)",
    "standard": "standard (crop, flip)",
    "deit": "DeiT (RandAugment, erasing)",
}
HFLIP_LABELS = {None: "chosen from the dataset", True: "on", False: "off (digits, text)"}
GRID_ROWS, GRID_COLS, THUMB = 4, 6, 112


def load_samples(data_cfg, seed: int) -> tuple[list, list, int, str] | str:
    """The grid's images and labels, the number of classes and the training recipe in words; or, for a dataset
    not on this machine, what to do about it (a preview never fetches a dataset). Runs off the UI thread."""
    try:
        bundle = datasets_from_config(data_cfg, download=False)
    except DatasetNotFound as e:
        return missing_message(e, data_cfg.download) if e.folder else str(e)
    samples = sample_images(bundle, GRID_ROWS * GRID_COLS, split="train", seed=seed)
    return [s.image for s in samples], [s.name for s in samples], bundle.num_classes, bundle.train.aug.describe()


def missing_message(e: DatasetNotFound, download: bool) -> str:
    """What to do about a missing dataset, in the window's terms."""
    where = f"{e.title} is not in {e.folder} yet."
    if download:
        return f"{where} A run downloads it when it starts (Download if missing is ticked; it needs a network)."
    return (
        f"{where} Tick Download if missing to let a run fetch it, or put {', '.join(e.files)} in that folder, "
        "or choose the folder that holds them with Folder."
    )


class DataPanel(QWidget):
    classes_known = Signal(int)  # the dataset's number of classes, once samples are loaded
    samples_shown = Signal()

    def __init__(self, form, parent=None):
        super().__init__(parent)
        self.form = form
        self._seed = 0
        self._samples = LatestRequestRunner(self)  # only the latest request's samples are shown
        self._samples.finished.connect(lambda _slot, result: self._show_samples(result))
        self._samples.failed.connect(lambda _slot, summary, _tb: self._show_failure(summary))
        self._shown_for = None  # the data config the grid shows

        bind = form.bind
        self.dataset = bind("data.name", combo({n: DATASET_LABELS.get(n, n) for n in DATASETS}))
        self.root = bind("data.root", line("folder holding the dataset"))
        browse = QToolButton(text="…", toolTip="Choose the dataset folder")
        browse.clicked.connect(self._browse)
        root_row = QHBoxLayout()
        root_row.addWidget(self.root, 1)
        root_row.addWidget(browse)
        box = QGroupBox("Data")
        rows = QFormLayout(box)
        rows.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        rows.addRow("Dataset", self.dataset)
        rows.addRow("Folder", root_row)
        self.download = bind("data.download", QCheckBox("Download if missing"))
        self.download.setToolTip("A run fetches a missing public dataset when it starts; the preview never does")
        rows.addRow("", self.download)
        rows.addRow("Image size", bind("data.img_size", spin(1, 4096)))
        rows.addRow("Augmentation", bind("data.augment", combo({a: AUGMENT_LABELS.get(a, a) for a in AUGMENTS})))
        self.augment_help = QLabel(wordWrap=True, styleSheet="color: #546e7a;")
        rows.addRow("", self.augment_help)
        rows.addRow("Flips", bind("data.hflip", combo(HFLIP_LABELS)))
        rows.addRow("Validation share", bind("data.val_fraction", dspin(0, 0.9, 0.05)))
        rows.addRow("Mixup alpha", bind("data.mixup", dspin(0, 10, 0.1)))
        rows.addRow("CutMix alpha", bind("data.cutmix", dspin(0, 10, 0.1)))
        self.problems = ProblemsLabel()
        left_box = form_column(box, self.problems)

        self.grid_box = QGroupBox("What the model trains on")
        grid_layout = QVBoxLayout(self.grid_box)
        self.grid = QGridLayout()
        self.grid.setSpacing(8)
        self.cells = []
        for i in range(GRID_ROWS * GRID_COLS):
            image, caption = QLabel(alignment=Qt.AlignCenter), QLabel(alignment=Qt.AlignCenter)
            image.setFixedSize(THUMB, THUMB)
            image.setStyleSheet("background: #eceff1;")
            caption.setFixedWidth(THUMB + 8)
            cell = QVBoxLayout()
            cell.addWidget(image, 0, Qt.AlignHCenter)
            cell.addWidget(caption)
            self.grid.addLayout(cell, i // GRID_COLS, i % GRID_COLS)
            self.cells.append((image, caption))
        self.status = QLabel(wordWrap=True)
        self.recipe = QLabel(wordWrap=True)  # what this dataset's training and evaluation do, once built
        self.reshuffle = QPushButton("Other samples")
        self.reshuffle.clicked.connect(self._other_samples)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.reshuffle)
        grid_layout.addLayout(self.grid)
        grid_layout.addLayout(bar)
        grid_layout.addWidget(self.recipe)
        grid_layout.addStretch(1)

        layout = QHBoxLayout(self)
        layout.addWidget(left_box)
        layout.addWidget(self.grid_box, 1)
        form.changed.connect(self._refresh)
        self._refresh()

    @property
    def loading(self) -> bool:
        return self._samples.busy

    def _refresh(self) -> None:
        keys = [k for k in self.form.keys if k.startswith("data.")]
        errors = self.form.errors_for(keys)
        self.problems.show_errors(errors)
        self.root.setEnabled(self.form.value("data.name") != "builtin")
        self.download.setEnabled(self.form.value("data.name") in SOURCES)
        data_cfg = self.form.config.data
        self.augment_help.setText(AUGMENT_DESCRIPTIONS.get(data_cfg.augment, ""))
        shown = ("name", "root", "download", "img_size", "augment", "hflip", "val_fraction")
        key = (*(getattr(data_cfg, k) for k in shown), self._seed)
        if not errors and key != self._shown_for and self.isVisible():  # build datasets only to show them
            self._shown_for = key
            self._load(data_cfg)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._refresh()

    def _other_samples(self) -> None:
        self._seed += 1
        self._refresh()

    def _load(self, data_cfg) -> None:
        self.status.setText("Loading samples…")
        self._samples.submit("samples", partial(load_samples, data_cfg, self._seed))

    def _show_samples(self, result: tuple[list, list, int, str] | str) -> None:
        if isinstance(result, str):
            self._show_failure(result)
            return
        images, labels, num_classes, recipe = result
        for (image, caption), pixels, label in zip(self.cells, images, labels):
            mode = Qt.FastTransformation if max(pixels.shape[:2]) < THUMB else Qt.SmoothTransformation
            image.setPixmap(QPixmap.fromImage(to_qimage(pixels)).scaled(THUMB, THUMB, Qt.KeepAspectRatio, mode))
            caption.setText(caption.fontMetrics().elidedText(label, Qt.ElideRight, THUMB + 8))
            caption.setToolTip(label)
        for image, caption in self.cells[len(images) :]:
            image.clear()
            caption.clear()
        self.status.setText(f"{num_classes} classes · {self.form.value('data.img_size')} px")
        self.recipe.setText(recipe)
        self.classes_known.emit(num_classes)
        self.samples_shown.emit()

    def _show_failure(self, message: str) -> None:
        for image, caption in self.cells:
            image.clear()
            caption.clear()
        self.status.setText(f"Cannot load samples: {message}")
        self.recipe.clear()

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Dataset folder", self.form.value("data.root") or "")
        if path:
            self.form.update({"data.root": path})
