"""Start the studio: the application object and the window (which imports torch and the core behind it)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from .main_window import MainWindow

ORGANIZATION = APPLICATION = "vitstudio"


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    return app


def main(argv: list[str] | None = None, runs_dir: str | None = None) -> int:
    """Open the studio window and run the event loop until it closes."""
    app = create_app(argv)
    window = MainWindow(runs_dir=runs_dir)
    window.show()
    return app.exec()
