"""The inspector's settings column: the image, the attention view's settings and the MAE reconstruction's.

`InspectorControls` holds no model: it emits when a setting changes and hands the settings out as
plain dicts (`attention_options()`, `mae_options()`), which the panels pass to each model's views.
`fit_models` sets the ranges to span every model shown (the deepest, the most heads, the most prefix tokens).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...analysis import figures, render
from ...analysis.image import bundled_images
from ...models import family_of
from .common import to_qimage

#: the query token entry that follows each model's head: its class token, or the patch-token mean when it pools.
READOUT_LABEL = "what the head reads"
THUMBNAIL = 160  # px: the loaded image in the Image box


def _slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    return s


class InspectorControls(QWidget):
    """Image (open, samples), attention (layer, head, head grid, query token, rollout with head fusion and
    discard ratio, opacity, colormap) and MAE (mask ratio, seed) settings. The query token is what the
    model's head reads (the default), a prefix token by index, or None for the patch tokens' mean."""

    imageRequested = Signal(str)  # a file the user picked (dialog or sample) to open
    attentionChanged = Signal()
    maeChanged = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        column = QVBoxLayout(self)

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
        self.thumbnail = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)  # the image, before any model is chosen
        self.thumbnail.hide()
        for w in (self.open_button, self.sample_box, self.image_name, self.thumbnail):
            form.addWidget(w)
        column.addWidget(box)

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
        column.addWidget(box)
        for signal in (
            self.layer_slider.valueChanged,
            self.head_slider.valueChanged,
            self.all_heads.toggled,
            self.token_box.currentIndexChanged,
            self.rollout_check.toggled,
            self.fusion_box.currentIndexChanged,
            self.discard_spin.valueChanged,
            self.opacity_slider.valueChanged,
            self.cmap_box.currentIndexChanged,
        ):
            signal.connect(self._on_attention)

        self.mae_box = QGroupBox("MAE reconstruction")
        form = QFormLayout(self.mae_box)
        self.mask_slider = _slider(5, 95, 75)
        self.mask_label = QLabel()
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        form.addRow(self.mask_label, self.mask_slider)
        form.addRow("seed", self.seed_spin)
        column.addWidget(self.mae_box)
        self.mask_slider.valueChanged.connect(self._on_mae)
        self.seed_spin.valueChanged.connect(self._on_mae)
        column.addStretch(1)
        self.fit_models([])

    def insert_box(self, index: int, box: QWidget) -> None:
        """Put another box into the column (the single inspector's model box goes after the image)."""
        self.layout().insertWidget(index, box)

    # -- settings -------------------------------------------------------------------------------

    def attention_options(self) -> dict:
        """The attention view's settings, as keyword arguments of `figures.attention_figure`."""
        return dict(
            layer=self.layer_slider.value(),
            head=self.head_slider.value(),
            all_heads=self.all_heads.isChecked(),
            token=self.token_box.currentData(),
            rollout=self.rollout_check.isChecked(),
            head_fusion=self.fusion_box.currentText(),
            discard_ratio=self.discard_spin.value(),
            alpha=self.opacity_slider.value() / 100,
            cmap=self.cmap_box.currentText(),
        )

    def mae_options(self) -> dict:
        return dict(mask_ratio=self.mask_slider.value() / 100, seed=self.seed_spin.value())

    def fit_models(self, models) -> None:
        """Ranges that span `models`: layers of the deepest, heads of the widest, the query tokens of the one
        with the most prefix tokens; the MAE settings are on when one of them is a masked autoencoder.
        Values out of the new range are clamped without emitting (the panel reads the settings next)."""
        depth = max((len(m.blocks) for m in models), default=1)
        heads = max((m.blocks[0].attn.num_heads for m in models), default=1)
        n_prefix = max((int(getattr(m, "num_prefix_tokens", 1)) for m in models), default=1)
        widgets = (self.layer_slider, self.head_slider, self.token_box)
        for w in widgets:
            w.blockSignals(True)
        self.layer_slider.setRange(0, depth - 1)
        self.head_slider.setRange(0, heads - 1)
        tokens = ["readout", *range(n_prefix), None]
        if tokens != [self.token_box.itemData(i) for i in range(self.token_box.count())]:
            self.token_box.clear()
            self.token_box.addItem(READOUT_LABEL, "readout")
            for t in tokens[1:]:
                self.token_box.addItem(figures.token_name(t), t)
        for w in widgets:
            w.blockSignals(False)
        self.mae_box.setEnabled(any(family_of(m).reconstructs for m in models))
        self._sync_labels()

    def show_image(self, label: str, image: np.ndarray) -> None:
        """Name the image and show it small (enlarged sharply when tiny)."""
        h, w = image.shape[:2]
        self.image_name.setText(f"{label} ({w}x{h})")
        pixmap = QPixmap.fromImage(to_qimage(image))
        mode = (
            Qt.TransformationMode.FastTransformation
            if max(h, w) < THUMBNAIL
            else Qt.TransformationMode.SmoothTransformation
        )
        self.thumbnail.setPixmap(pixmap.scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, mode))
        self.thumbnail.show()

    # -- changes --------------------------------------------------------------------------------

    def _on_attention(self) -> None:
        self._sync_labels()
        self.attentionChanged.emit()

    def _on_mae(self) -> None:
        self._sync_labels()
        self.maeChanged.emit()

    def _sync_labels(self) -> None:
        self.layer_label.setText(f"layer {self.layer_slider.value() + 1}")
        self.head_label.setText(f"head {self.head_slider.value() + 1}")
        self.mask_label.setText(f"mask ratio {self.mask_slider.value()}%")
        rollout = self.rollout_check.isChecked()
        for w in (self.layer_slider, self.head_slider, self.all_heads):
            w.setEnabled(not rollout)
        for w in (self.fusion_box, self.discard_spin):
            w.setEnabled(rollout)

    def _ask_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open an image", "", "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp)"
        )
        if path:
            self.imageRequested.emit(path)

    def _on_sample(self, index: int) -> None:
        if index > 0:
            self.imageRequested.emit(self.sample_box.itemData(index))
        self.sample_box.setCurrentIndex(0)
