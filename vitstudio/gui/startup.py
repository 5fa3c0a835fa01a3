"""What the window loads behind itself after it has painted: torch, the core and the panels (seconds); `load` is
the task that does it."""

from __future__ import annotations

from ..runtime import configure_threads


def describe_device() -> str:
    """What a run on 'auto' trains on, for the status bar."""
    import torch  # deferred: this module runs before torch is imported, behind the painted window

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "GPU: Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def import_core() -> dict:
    """Import torch, the core and the panels' plotting library (seconds); runs off the UI thread."""
    configure_threads()  # the window's threads as the CLI's, however the window was started
    # deferred, and the reason this thread exists: these imports take seconds
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


def load(task) -> None:
    """The window's start-up `Task`: report `import_core()`'s facts (the panels can be built), then `warm_up()`."""
    task.report(import_core())
    warm_up()
