"""Start the studio: show the window first, then import torch and the core behind it."""

from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import QApplication

from ..runtime import configure_threads

ORGANIZATION = APPLICATION = "vitstudio"


def describe_device() -> str:
    """What a run on 'auto' trains on, for the status bar."""
    import torch

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "GPU: Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def import_core() -> dict:
    """Import torch, the core and the panels' plotting library (seconds); runs off the UI thread."""
    configure_threads()  # the window's threads as the CLI's, however the window was started
    import pyqtgraph  # noqa: F401

    from .. import analysis, config, models, train  # noqa: F401
    from .panels import data, inspector_tab, model, runs, training  # noqa: F401

    return {"device": describe_device()}


def warm_up() -> None:
    """Import what torch defers to a run's first optimiser (its compiler stack: ~900 modules, seconds).

    Imports hold the GIL in long stretches; done here, ahead of time, they do not stall the window
    while the first run starts.
    """
    import safetensors.torch  # noqa: F401
    import torch._dynamo  # noqa: F401


class CoreLoader(QThread):
    """Runs `import_core` then `warm_up` on a thread; `loaded(info)`, `warmed()` or
    `failed(summary, traceback)` arrive on the UI thread."""

    loaded = Signal(dict)
    warmed = Signal()
    failed = Signal(str, str)

    def run(self) -> None:
        try:
            self.loaded.emit(import_core())
            warm_up()
        except Exception as e:
            self.failed.emit(f"{type(e).__name__}: {e}", traceback.format_exc())
            return
        self.warmed.emit()


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    return app


def main(argv: list[str] | None = None, runs_dir: str | None = None) -> int:
    """Open the studio window and run the event loop until it closes."""
    from .main_window import MainWindow

    app = create_app(argv)
    window = MainWindow(runs_dir=runs_dir)
    window.show()
    return app.exec()
