"""Two models side by side on the same image: attention, rollout, position similarity, MAE reconstructions, ...

One settings column (the image, the attention and MAE settings) drives two model columns, each with its
own model menu (a run, a weights file, a named model) and the single inspector's views. The layer and
head ranges span the larger model; a model that lacks the chosen layer or head shows its last one and its
view note says so. Both columns show the same view tab. `load_runs` opens two training runs (the Runs
tab's "Inspect side by side"). Analyses of both models share one worker, one job at a time; the latest
request wins per column.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from ...analysis.image import bundled_images
from ...analysis.sources import from_run
from .inspector import InspectorBase
from .inspector_views import ModelViews

#: the image shown when runs are opened before any image was chosen.
DEFAULT_IMAGE = "shape_star"


class SideBySidePanel(InspectorBase):
    """The settings column and two `ModelViews` (`columns`: left, right), each under its model box and above
    its status line; figures scale down to fit their column."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(("left", "right"), compact=True, parent=parent)
        self.column_status: dict[str, QLabel] = {}  # by column name
        splitter = QSplitter()
        splitter.addWidget(self.controls_column())
        for column in self.columns:
            column.chooser.setTitle(f"{column.name.capitalize()} model")
            status = self.column_status[column.name] = QLabel("Choose a model.")
            status.setWordWrap(True)
            box = QWidget()
            layout = QVBoxLayout(box)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(column.chooser)
            layout.addWidget(column, 1)
            layout.addWidget(status)
            splitter.addWidget(box)
            column.tabs.currentChanged.connect(self._show_tab)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self._set_status("")  # the status line is for the image's problems; each column has its own

    def set_image(self, image: np.ndarray, label: str = "image") -> None:
        super().set_image(image, label)
        self._set_status("")

    def load_runs(self, paths) -> None:
        """Open two training runs (folders), the first on the left; with no image yet, show a bundled sample."""
        if len(paths) != len(self.columns):
            raise ValueError(f"side by side shows {len(self.columns)} runs, not {len(paths)}")
        if self.image is None:
            self.load_image(next(p for p in bundled_images() if p.stem == DEFAULT_IMAGE))
        for column, path in zip(self.columns, paths):
            column.load(partial(from_run, str(path)))

    def _show_tab(self, index: int) -> None:
        for column in self.columns:
            column.tabs.setCurrentIndex(index)

    def _column_status(self, column: ModelViews, text: str, error: bool) -> None:
        label = self.column_status[column.name]
        label.setText(text)
        label.setStyleSheet("color: #b00020;" if error else "")
        self.statusChanged.emit(f"{column.name}: {text}")
