"""Small widget makers the panels share, and the label that lists a form's problems."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QLayout, QLineEdit, QSpinBox, QVBoxLayout, QWidget

FORM_WIDTH = 370


def weights_filter() -> str:
    """The file dialog's filter for weights files: every suffix the weights loader knows."""
    from ...models.weights.files import SUFFIXES  # deferred: the window paints before torch is imported

    return f"Weights ({' '.join('*' + s for s in SUFFIXES)});;All files (*)"


def to_qimage(pixels: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 array as a QImage (a copy: it does not keep the array alive)."""
    pixels = np.ascontiguousarray(pixels)
    h, w, _ = pixels.shape
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def form_column(*items: QWidget | QLayout) -> QWidget:
    """The fixed-width left column of a panel: its widgets and layouts stacked, then a stretch."""
    column = QVBoxLayout()
    for item in items:
        (column.addLayout if isinstance(item, QLayout) else column.addWidget)(item)
    column.addStretch(1)
    box = QWidget()
    box.setLayout(column)
    box.setFixedWidth(FORM_WIDTH)
    return box


def combo(choices: dict) -> QComboBox:
    """A drop-down of `{value: label}`."""
    box = QComboBox()
    for value, label in choices.items():
        box.addItem(label, value)
    return box


def spin(lo: int, hi: int, default_text: str | None = None) -> QSpinBox:
    """An integer field; with `default_text`, its lowest value means 'None' and shows that text."""
    box = QSpinBox()
    box.setRange(lo, hi)
    if default_text:
        box.setSpecialValueText(default_text)
    return box


def dspin(lo: float, hi: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    return box


def line(placeholder: str = "") -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    return edit


class ProblemsLabel(QLabel):
    """The validation messages of a form, in red, hidden when there are none."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet("color: #b71c1c;")
        self.hide()

    def show_errors(self, errors) -> None:
        self.setText("\n".join(f"• {e}" for e in errors))
        self.setVisible(bool(errors))
