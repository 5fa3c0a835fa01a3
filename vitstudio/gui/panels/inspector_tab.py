"""The Inspector tab: the single-model inspector or two models side by side, switched at its top."""

from __future__ import annotations

from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from .inspector import InspectorBase, InspectorPanel
from .side_by_side import SideBySidePanel


class InspectorTab(QWidget):
    """`single` (an `InspectorPanel`) or `side_by_side` (a `SideBySidePanel`), chosen by two buttons.

    Switching carries the image over to a panel that has none yet."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.single = InspectorPanel()
        self.side_by_side = SideBySidePanel()
        self.stack = QStackedWidget()
        self.buttons = QButtonGroup(self)
        bar = QHBoxLayout()
        for i, (panel, text) in enumerate(((self.single, "One model"), (self.side_by_side, "Side by side"))):
            self.stack.addWidget(panel)
            button = QPushButton(text, checkable=True, checked=i == 0)
            button.setToolTip(
                "Inspect one model"
                if i == 0
                else "Two models on the same image with the same settings (or select two runs on the "
                "Runs tab: Inspect side by side)"
            )
            self.buttons.addButton(button, i)
            bar.addWidget(button)
        bar.addStretch(1)
        self.buttons.idClicked.connect(self.show_mode)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

    def show_mode(self, index: int) -> None:
        """0: one model; 1: side by side."""
        shown: InspectorBase = self.stack.widget(index)
        other: InspectorBase = self.stack.widget(1 - index)
        if shown.image is None and other.image is not None:
            shown.set_image(other.image, other.image_label)
        self.stack.setCurrentIndex(index)
        self.buttons.button(index).setChecked(True)

    def compare_runs(self, paths) -> None:
        """Show two training runs side by side."""
        self.show_mode(1)
        self.side_by_side.load_runs(paths)

    def add_source(self, label: str, choose) -> None:
        """Add an entry to every model menu of both panels (see `ModelChooser.add_source`)."""
        for panel in (self.single, self.side_by_side):
            panel.add_source(label, choose)
