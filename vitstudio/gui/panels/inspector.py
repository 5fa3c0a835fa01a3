"""The inspector panel: see what the transformer sees.

A standalone `QWidget` (the main window adds it as a tab). Open an image (file dialog, drag and
drop, bundled samples), set a model (`set_model`, `set_source`, or the source menu), and look at
its patches, attention (per layer and head, or rolled out), position-embedding similarity, patch
filters, mean attention distance, MAE reconstructions and top-5 predictions. Every analysis runs
in `vitstudio.analysis` on a worker thread; when requests pile up, only the latest one's result
is shown. Each view exports the figure it shows as a PNG.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QInputDialog, QLabel, QMenu, QPushButton, QScrollArea, QSlider, QSpinBox, QSplitter,
                               QTabWidget, QToolButton, QVBoxLayout, QWidget)

from ...analysis import figures, render
from ...analysis.image import IMAGENET_MEAN, IMAGENET_STD, bundled_images, fit_image, load_image, normalize
from ...analysis.mae import mae_reconstruction
from ...analysis.report import Inspection, inspect_image, is_mae
from ...analysis.sources import ModelSource, from_name, from_run, from_weights, records_architecture

# -- running analyses off the UI thread --------------------------------------------------------


class _JobSignals(QObject):
    finished = Signal(str, int, object)
    failed = Signal(str, int, str)


class _Job(QRunnable):
    def __init__(self, runner: LatestRequestRunner, slot: str, generation: int, fn: Callable[[], object]):
        super().__init__()
        self.runner, self.slot, self.generation, self.fn = runner, slot, generation, fn

    def run(self):
        if not self.runner.is_latest(self.slot, self.generation):
            return  # superseded before it started: skip the work
        try:
            result = self.fn()
        except Exception as e:  # noqa: BLE001  (shown to the user, never crashes the window)
            self.runner._signals.failed.emit(self.slot, self.generation, f"{type(e).__name__}: {e}")
        else:
            self.runner._signals.finished.emit(self.slot, self.generation, result)


class LatestRequestRunner(QObject):
    """Runs functions on one worker thread, by named slot; only a slot's latest request is delivered.

    `submit(slot, fn)` queues `fn`; `finished(slot, result)` or `failed(slot, message)` arrive on
    the UI thread for the latest request of each slot only. Superseded requests that have not
    started yet are skipped; ones already running finish and are dropped.
    """

    finished = Signal(str, object)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # torch uses its own threads; one job at a time keeps order
        self._latest: dict[str, int] = {}
        self._signals = _JobSignals()
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)

    def submit(self, slot: str, fn: Callable[[], object]) -> int:
        generation = self._latest.get(slot, 0) + 1
        self._latest[slot] = generation
        self._pool.start(_Job(self, slot, generation, fn))
        return generation

    def cancel(self, slot: str) -> None:
        """Drop the slot's pending and running requests."""
        self._latest[slot] = self._latest.get(slot, 0) + 1

    def is_latest(self, slot: str, generation: int) -> bool:
        return self._latest.get(slot) == generation

    def wait(self, msecs: int = -1) -> bool:
        """Block until the queue is empty (for shutdown and tests)."""
        return self._pool.waitForDone(msecs)

    def _on_finished(self, slot: str, generation: int, result: object) -> None:
        if self.is_latest(slot, generation):
            self.finished.emit(slot, result)

    def _on_failed(self, slot: str, generation: int, message: str) -> None:
        if self.is_latest(slot, generation):
            self.failed.emit(slot, message)


# -- views ---------------------------------------------------------------------------------------


def to_qimage(figure: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 array as a QImage (a copy: it does not keep the array alive)."""
    figure = np.ascontiguousarray(figure)
    h, w, _ = figure.shape
    return QImage(figure.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class FigureView(QWidget):
    """A rendered figure ((H, W, 3) uint8) shown pixel for pixel (scrollable), a note line and PNG export."""

    def __init__(self, export: Callable[[], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.figure: np.ndarray | None = None
        self.label = QLabel()
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.label)
        self.scroll.setStyleSheet("background: white;")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(export)
        bar = QHBoxLayout()
        bar.addWidget(self.note, 1)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(bar)

    def show_figure(self, figure: np.ndarray | None, note: str = "") -> None:
        self.figure = figure
        self.note.setText(note)
        self.export_button.setEnabled(figure is not None)
        if figure is None:
            self.label.clear()
        else:
            self.label.setPixmap(QPixmap.fromImage(to_qimage(figure)))


class DistanceView(QWidget):
    """Mean attention distance as an interactive scatter (layer vs distance, one point per head)."""

    def __init__(self, export: Callable[[], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.figure: np.ndarray | None = None
        self.distance: np.ndarray | None = None
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "network depth (layer)")
        self.plot.setLabel("left", "mean attention distance (pixels)")
        self.plot.showGrid(y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-10, 10), brush=pg.mkBrush(255, 255, 255, 220), pen="k")
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(export)
        bar = QHBoxLayout()
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addLayout(bar)

    def show_distance(self, distance: np.ndarray | None) -> None:
        self.distance = distance
        self.plot.clear()
        self.legend.clear()
        self.figure = None if distance is None else figures.distance_figure(distance)
        self.export_button.setEnabled(distance is not None)
        if distance is None:
            return
        layers = np.arange(1, distance.shape[0] + 1)
        for h in range(distance.shape[1]):
            color = render.CATEGORY_COLORS[h % len(render.CATEGORY_COLORS)]
            self.plot.plot(layers, distance[:, h], pen=None, symbol="o", symbolSize=8, symbolBrush=color,
                           symbolPen="k", name=f"head {h}")
        self.plot.getAxis("bottom").setTicks([[(int(i), str(i)) for i in layers]])
        self.plot.setXRange(0.5, len(layers) + 0.5, padding=0)
        self.plot.setYRange(0, max(float(distance.max()) * 1.1, 1.0), padding=0)


# -- the panel -----------------------------------------------------------------------------------


@dataclass
class _Static:
    """Figures that change only with the image or the model."""

    inspection: Inspection
    patches: np.ndarray
    sequence: np.ndarray
    position: np.ndarray | None
    filters: np.ndarray
    predictions: np.ndarray | None


def _static_figures(source: ModelSource, image: np.ndarray) -> _Static:
    insp = inspect_image(source.model, image, source.mean, source.std, source.class_names)
    px = insp.geometry.patch_px
    return _Static(
        inspection=insp,
        patches=figures.patches_figure(insp.image, px),
        sequence=figures.sequence_figure(insp.image, px, insp.geometry.num_prefix_tokens),
        position=None if insp.similarity is None else figures.position_figure(insp.similarity),
        filters=figures.filters_figure(insp.filters),
        predictions=None if insp.predictions is None else figures.predictions_figure(insp.predictions),
    )


def _mae_figure(source: ModelSource, image: np.ndarray, mask_ratio: float, seed: int) -> np.ndarray:
    model = source.model
    x = normalize(fit_image(image, tuple(model.patch_embed.img_size)), source.mean, source.std)
    x = x.to(next(model.parameters()).device)
    return figures.mae_figure(mae_reconstruction(model, x, mask_ratio, seed, source.mean, source.std))


#: what each worker slot does, for messages.
SLOT_TASKS = {"source": "loading the model", "inspect": "the inspection", "attention": "the attention view",
              "mae": "the MAE reconstruction"}


def _slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    return s


class InspectorPanel(QWidget):
    """The inspector (see the module docstring). Views: patches, sequence, attention, position,
    filters, distance, mae, predictions."""

    viewUpdated = Signal(str)  # a view's figure changed (its name)
    statusChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.source: ModelSource | None = None
        self.image: np.ndarray | None = None
        self.image_label = ""
        self.static: _Static | None = None
        self.runner = LatestRequestRunner(self)
        self.runner.finished.connect(self._on_result)
        self.runner.failed.connect(self._on_failure)
        self._build_controls()
        self._build_views()
        splitter = QSplitter()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.controls)
        scroll.setMinimumWidth(260)
        splitter.addWidget(scroll)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        self.status = QLabel("Open an image and choose a model.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self.add_source("Named model (random weights)…", self._ask_model_name)
        self.add_source("Weights file…", self._ask_weights)
        self.add_source("Training run…", self._ask_run)
        self._sync_controls()

    # -- construction ---------------------------------------------------------------------------

    def _build_controls(self) -> None:
        self.controls = QWidget()
        col = QVBoxLayout(self.controls)

        box = QGroupBox("Image")
        form = QVBoxLayout(box)
        self.open_button = QPushButton("Open image…")
        self.open_button.clicked.connect(self._ask_image)
        self.sample_box = QComboBox()
        self.sample_box.addItem("Samples…")
        for path in bundled_images():
            self.sample_box.addItem(path.stem, str(path))
        self.sample_box.activated.connect(self._on_sample)
        self.image_name = QLabel("(or drop an image here)")
        for w in (self.open_button, self.sample_box, self.image_name):
            form.addWidget(w)
        col.addWidget(box)

        box = QGroupBox("Model")
        form = QVBoxLayout(box)
        self.model_name = QLabel("no model")
        self.model_name.setWordWrap(True)
        self.source_button = QToolButton()
        self.source_button.setText("Choose model…")
        self.source_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.source_menu = QMenu(self.source_button)
        self.source_button.setMenu(self.source_menu)
        form.addWidget(self.model_name)
        form.addWidget(self.source_button)
        col.addWidget(box)

        box = QGroupBox("Attention")
        form = QFormLayout(box)
        self.layer_slider = _slider(0, 0, 0)
        self.head_slider = _slider(0, 0, 0)
        self.layer_label, self.head_label = QLabel(), QLabel()
        self.all_heads = QCheckBox("all heads (grid)")
        self.token_box = QComboBox()
        self.rollout_check = QCheckBox("attention rollout (all layers)")
        self.fusion_box = QComboBox()
        self.fusion_box.addItems(["mean", "max", "min"])
        self.discard_spin = QDoubleSpinBox()
        self.discard_spin.setRange(0.0, 0.95)
        self.discard_spin.setSingleStep(0.05)
        self.opacity_slider = _slider(0, 100, 60)
        self.cmap_box = QComboBox()
        self.cmap_box.addItems(list(render.COLORMAPS))
        form.addRow(self.layer_label, self.layer_slider)
        form.addRow(self.head_label, self.head_slider)
        form.addRow(self.all_heads)
        form.addRow("query token", self.token_box)
        form.addRow(self.rollout_check)
        form.addRow("head fusion", self.fusion_box)
        form.addRow("discard ratio", self.discard_spin)
        form.addRow("opacity", self.opacity_slider)
        form.addRow("colormap", self.cmap_box)
        col.addWidget(box)
        for signal in (self.layer_slider.valueChanged, self.head_slider.valueChanged, self.all_heads.toggled,
                       self.token_box.currentIndexChanged, self.rollout_check.toggled,
                       self.fusion_box.currentIndexChanged, self.discard_spin.valueChanged,
                       self.opacity_slider.valueChanged, self.cmap_box.currentIndexChanged):
            signal.connect(self._request_attention)

        self.mae_box = QGroupBox("MAE reconstruction")
        form = QFormLayout(self.mae_box)
        self.mask_slider = _slider(5, 95, 75)
        self.mask_label = QLabel()
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        form.addRow(self.mask_label, self.mask_slider)
        form.addRow("seed", self.seed_spin)
        col.addWidget(self.mae_box)
        self.mask_slider.valueChanged.connect(self._request_mae)
        self.seed_spin.valueChanged.connect(self._request_mae)
        col.addStretch(1)

    def _build_views(self) -> None:
        self.views: dict[str, FigureView | DistanceView] = {}
        self.tabs = QTabWidget()

        def view(name: str) -> FigureView:
            self.views[name] = FigureView(partial(self.export_view, name))
            return self.views[name]

        patches = QSplitter(Qt.Orientation.Vertical)
        patches.addWidget(view("patches"))
        patches.addWidget(view("sequence"))
        self.tabs.addTab(patches, "Patches")
        self.tabs.addTab(view("attention"), "Attention")
        self.tabs.addTab(view("position"), "Position embedding")
        self.tabs.addTab(view("filters"), "Filters")
        self.views["distance"] = DistanceView(partial(self.export_view, "distance"))
        self.tabs.addTab(self.views["distance"], "Attention distance")
        self.tabs.addTab(view("mae"), "MAE")
        self.tabs.addTab(view("predictions"), "Predictions")

    # -- public API -----------------------------------------------------------------------------

    def set_model(self, model, class_names=None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                  label: str | None = None) -> None:
        """Inspect `model` (a vitstudio ViT, Hybrid, DeiT or MAE), fed with `mean`/`std` normalisation."""
        self.set_source(ModelSource(model.eval(), label or type(model).__name__, tuple(mean), tuple(std), class_names))

    def set_source(self, source: ModelSource) -> None:
        self.source = source
        self.model_name.setText(source.label)
        self._sync_controls()
        self._request_inspection()

    def add_source(self, label: str, choose: Callable[[], ModelSource | Callable[[], ModelSource] | None]) -> None:
        """Add an entry to the model menu. `choose` runs on the UI thread (it may ask with dialogs) and
        returns a `ModelSource`, or a function that loads one (run on the worker thread), or None
        when cancelled."""
        self.source_menu.addAction(label, partial(self._load_source, choose))

    def load_image(self, path) -> bool:
        """Open an image file; a bad file is reported in the status line. Returns whether it loaded."""
        try:
            image = load_image(path)
        except ValueError as e:
            self._set_status(str(e), error=True)
            return False
        self.set_image(image, Path(path).name)
        return True

    def set_image(self, image: np.ndarray, label: str = "image") -> None:
        self.image, self.image_label = np.asarray(image, dtype=np.uint8), label
        self.image_name.setText(f"{label} ({image.shape[1]}x{image.shape[0]})")
        self._request_inspection()

    def view_figure(self, name: str) -> np.ndarray | None:
        """The figure a view shows now, as an (H, W, 3) uint8 array."""
        return self.views[name].figure

    def export_view(self, name: str, path=None) -> Path | None:
        """Save a view's figure as PNG (asks for a file name when `path` is None)."""
        figure = self.view_figure(name)
        if figure is None:
            return None
        if path is None:
            stem = Path(self.image_label).stem or "figure"
            path, _ = QFileDialog.getSaveFileName(self, f"Export the {name} view", f"{stem}_{name}.png", "PNG (*.png)")
            if not path:
                return None
        return render.save_png(figure, path)

    # -- requests -------------------------------------------------------------------------------

    def _request_inspection(self) -> None:
        if self.source is None or self.image is None:
            return
        for slot in ("attention", "mae"):
            self.runner.cancel(slot)
        self.static = None
        self._set_status(f"inspecting {self.image_label} with {self.source.label}…")
        self.runner.submit("inspect", partial(_static_figures, self.source, self.image))
        self._request_mae()

    def _attention_options(self) -> dict:
        return dict(layer=self.layer_slider.value(), head=self.head_slider.value(),
                    all_heads=self.all_heads.isChecked(), token=max(self.token_box.currentIndex(), 0),
                    rollout=self.rollout_check.isChecked(), head_fusion=self.fusion_box.currentText(),
                    discard_ratio=self.discard_spin.value(), alpha=self.opacity_slider.value() / 100,
                    cmap=self.cmap_box.currentText())

    def _request_attention(self) -> None:
        self._sync_labels()
        if self.static is None:
            return
        self.runner.submit("attention", partial(figures.attention_figure, self.static.inspection,
                                                **self._attention_options()))

    def _request_mae(self) -> None:
        self._sync_labels()
        if self.source is None or self.image is None or not is_mae(self.source.model):
            return
        self.runner.submit("mae", partial(_mae_figure, self.source, self.image,
                                          self.mask_slider.value() / 100, self.seed_spin.value()))

    def _load_source(self, choose) -> None:
        try:
            choice = choose()
        except (ValueError, KeyError, OSError) as e:
            self._set_status(str(e), error=True)
            return
        if isinstance(choice, ModelSource):
            self.set_source(choice)
        elif choice is not None:
            self._set_status("loading the model…")
            self.runner.submit("source", choice)

    # -- results --------------------------------------------------------------------------------

    def _on_result(self, slot: str, result) -> None:
        if slot == "source":
            self.set_source(result)
        elif slot == "inspect":
            self.static = result
            self._show_static(result)
            self._request_attention()
            self._set_status(f"{self.image_label} with {self.source.label}")
        elif slot == "attention":
            self._show("attention", result)
        elif slot == "mae":
            self._show("mae", result)

    def _on_failure(self, slot: str, message: str) -> None:
        self._set_status(f"{SLOT_TASKS[slot]} failed: {message}", error=True)

    def _show(self, name: str, figure: np.ndarray | None, note: str = "") -> None:
        self.views[name].show_figure(figure, note)
        self.viewUpdated.emit(name)

    def _show_static(self, s: _Static) -> None:
        insp = s.inspection
        self._show("patches", s.patches, f"{insp.geometry.grid[0]}x{insp.geometry.grid[1]} patches of "
                   f"{insp.geometry.patch_px[0]}x{insp.geometry.patch_px[1]} pixels")
        n = insp.geometry.num_prefix_tokens
        prefix = " and ".join(figures.TOKEN_NAMES[:n])
        self._show("sequence", s.sequence, f"the patch tokens in order, numbered after the {prefix}" if n else
                   "the patch tokens in order (no prefix tokens)")
        self._show("position", s.position, insp.position_note)
        self._show("filters", s.filters, insp.filters.note)
        self.views["distance"].show_distance(insp.distance)
        self.viewUpdated.emit("distance")
        self._show("predictions", s.predictions,
                   "" if s.predictions is not None else "this model has no classifier (a pretraining model)")
        if not is_mae(self.source.model):
            self._show("mae", None, "not a masked autoencoder: choose an MAE model to see reconstructions")

    # -- keeping controls in step with the model ------------------------------------------------

    def _sync_controls(self) -> None:
        model = self.source.model if self.source else None
        depth = len(model.blocks) if model is not None else 1
        heads = model.blocks[0].attn.num_heads if model is not None else 1
        n_prefix = int(getattr(model, "num_prefix_tokens", 1)) if model is not None else 1
        widgets = (self.layer_slider, self.head_slider, self.token_box)
        for w in widgets:
            w.blockSignals(True)
        self.layer_slider.setRange(0, depth - 1)
        self.head_slider.setRange(0, heads - 1)
        self.token_box.clear()
        self.token_box.addItems([figures.token_name(t) for t in range(n_prefix)] or [figures.token_name(None)])
        for w in widgets:
            w.blockSignals(False)
        self.mae_box.setEnabled(model is not None and is_mae(model))
        self._sync_labels()

    def _sync_labels(self) -> None:
        self.layer_label.setText(f"layer {self.layer_slider.value() + 1}")
        self.head_label.setText(f"head {self.head_slider.value()}")
        self.mask_label.setText(f"mask ratio {self.mask_slider.value()}%")
        rollout = self.rollout_check.isChecked()
        for w in (self.layer_slider, self.head_slider, self.all_heads):
            w.setEnabled(not rollout)
        for w in (self.fusion_box, self.discard_spin):
            w.setEnabled(rollout)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b00020;" if error else "")
        self.statusChanged.emit(text)

    # -- choosing images and models -------------------------------------------------------------

    def _ask_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp)")
        if path:
            self.load_image(path)

    def _on_sample(self, index: int) -> None:
        if index > 0:
            self.load_image(self.sample_box.itemData(index))
        self.sample_box.setCurrentIndex(0)

    def _choose_model_name(self, prompt: str) -> str | None:
        from ...models import list_models

        name, ok = QInputDialog.getItem(self, "Named model", prompt, list_models(), 0, False)
        return name if ok else None

    def _ask_model_name(self):
        name = self._choose_model_name("model (random weights):")
        return partial(from_name, name) if name else None

    def _ask_run(self):
        from ...train.runs import runs_root

        folder = QFileDialog.getExistingDirectory(self, "Open a training run", str(runs_root()))
        return partial(from_run, folder) if folder else None

    def _ask_weights(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open weights", "",
                                              "Weights (*.safetensors *.pth *.pt *.bin *.npz);;All files (*)")
        if not path:
            return None
        if records_architecture(path):
            return partial(from_weights, path)
        name = self._choose_model_name(f"{Path(path).name} does not record its model; load it into:")
        return partial(from_weights, path, name) if name else None

    def dragEnterEvent(self, event):  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.load_image(files[0])
            event.acceptProposedAction()
