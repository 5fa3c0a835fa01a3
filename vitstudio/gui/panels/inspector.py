"""The inspector panel: see what the transformer sees.

A standalone `QWidget` (the main window adds it to the Inspector tab). Open an image (file dialog, drag
and drop, bundled samples), set a model (`set_model`, `set_source`, or the model menu), and look at its
patches, attention (per layer and head, or rolled out), position-embedding similarity, patch filters,
mean attention distance, MAE reconstructions and top-5 predictions. Every analysis runs in
`vitstudio.analysis` on a worker thread; when requests pile up, only the latest one's result is shown.
Each view exports the figure it shows as a PNG.

`InspectorBase` is what the single inspector and the side-by-side panel share: one settings column
(`InspectorControls`) driving one `ModelViews` per model, on one worker.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from ...analysis.image import IMAGENET_MEAN, IMAGENET_STD, load_image
from ...analysis.sources import ModelSource
from ..worker import LatestRequestRunner
from .inspector_controls import InspectorControls
from .inspector_views import ModelViews


class InspectorBase(QWidget):
    """One image and one set of view settings (`controls`) for the `ModelViews` of each model (`columns`,
    one per name in `names`; `compact` views for narrow columns), all analysed on one worker (`runner`).
    Subclasses lay them out."""

    statusChanged = Signal(str)

    def __init__(self, names: tuple[str, ...], compact: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.image: np.ndarray | None = None
        self.image_label = ""
        self.runner = LatestRequestRunner(self)
        self.controls = InspectorControls()
        self.columns = [ModelViews(self.runner, name, compact) for name in names]
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.controls.imageRequested.connect(self.load_image)
        self.controls.attentionChanged.connect(self._push_attention)
        self.controls.maeChanged.connect(self._push_mae)
        for column in self.columns:
            column.sourceChanged.connect(self._fit_controls)
            column.statusChanged.connect(partial(self._column_status, column))
        self._fit_controls()

    def controls_column(self) -> QScrollArea:
        """The settings column, scrollable, for the subclass's layout."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.controls)
        scroll.setMinimumWidth(260)
        return scroll

    # -- public API -----------------------------------------------------------------------------

    def add_source(self, label: str, choose: Callable[[], ModelSource | Callable[[], ModelSource] | None]) -> None:
        """Add an entry to every model menu (see `ModelChooser.add_source`)."""
        for column in self.columns:
            column.chooser.add_source(label, choose)

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
        self.controls.show_image(label, self.image)
        for column in self.columns:
            column.set_image(self.image, label)

    # -- settings to every model ----------------------------------------------------------------

    def _fit_controls(self) -> None:
        self.controls.fit_models([c.source.model for c in self.columns if c.source is not None])
        self._push_attention()
        self._push_mae()

    def _push_attention(self) -> None:
        for column in self.columns:
            column.set_attention(self.controls.attention_options())

    def _push_mae(self) -> None:
        for column in self.columns:
            column.set_mae(self.controls.mae_options())

    # -- messages -------------------------------------------------------------------------------

    def _column_status(self, column: ModelViews, text: str, error: bool) -> None:
        self._set_status(text, error)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self.status.setStyleSheet("color: #b00020;" if error else "")
        self.statusChanged.emit(text)

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.load_image(files[0])
            event.acceptProposedAction()


class InspectorPanel(InspectorBase):
    """The inspector for one model (see the module docstring): `column` holds its views (patches,
    sequence, attention, position, filters, distance, mae, predictions), its model box sits in the
    settings column."""

    viewUpdated = Signal(str)  # a view's figure changed (its name)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(("",), parent=parent)
        self.column = self.columns[0]
        self.column.viewUpdated.connect(self.viewUpdated)
        self.controls.insert_box(1, self.column.chooser)
        splitter = QSplitter()
        splitter.addWidget(self.controls_column())
        splitter.addWidget(self.column)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self._set_status("Open an image and choose a model.")

    @property
    def source(self) -> ModelSource | None:
        return self.column.source

    def set_model(
        self, model, class_names=None, mean=IMAGENET_MEAN, std=IMAGENET_STD, label: str | None = None
    ) -> None:
        """Inspect `model` (a vitstudio ViT, Hybrid, DeiT or MAE), fed with `mean`/`std` normalisation."""
        self.set_source(ModelSource(model.eval(), label or type(model).__name__, tuple(mean), tuple(std), class_names))

    def set_source(self, source: ModelSource) -> None:
        self.column.set_source(source)

    def view_figure(self, name: str) -> np.ndarray | None:
        """The figure a view shows now, as an (H, W, 3) uint8 array."""
        return self.column.view_figure(name)

    def export_view(self, name: str, path=None) -> Path | None:
        """Save a view's figure as PNG (asks for a file name when `path` is None)."""
        return self.column.export_view(name, path)
