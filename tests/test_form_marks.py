"""Invalid fields are marked without losing their controls (issue 16.6): a spin box keeps its arrows."""

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLineEdit, QSpinBox, QVBoxLayout, QWidget

from vitstudio.gui.form import INVALID_BASE, INVALID_STYLE, _mark


def pixels(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()  # before image is freed


def test_an_invalid_spin_box_keeps_its_arrows_and_turns_red(qtbot):
    window = QWidget()
    window.setStyleSheet(INVALID_STYLE)
    layout = QVBoxLayout(window)
    valid, invalid, edit = QSpinBox(), QSpinBox(), QLineEdit()
    for w in (valid, invalid, edit):
        layout.addWidget(w)
    qtbot.addWidget(window)
    window.resize(220, 120)
    window.show()
    qtbot.waitExposed(window)
    edit.setFocus()  # no focus frame on the boxes compared
    _mark(invalid, True)
    _mark(edit, True)
    a, b = pixels(valid), pixels(invalid)
    arrows = (slice(3, a.shape[0] - 3), slice(a.shape[1] - 14, a.shape[1] - 3))
    assert (a[arrows].min(axis=2) < 140).sum() > 4  # the arrow glyphs
    np.testing.assert_array_equal(a[arrows], b[arrows])  # drawn the same when invalid
    middle = b[b.shape[0] // 2, b.shape[1] // 2]
    assert tuple(middle) == (INVALID_BASE.red(), INVALID_BASE.green(), INVALID_BASE.blue())
    assert invalid.property("invalid") and edit.property("invalid")
    _mark(invalid, False)
    np.testing.assert_array_equal(pixels(invalid), a)
