"""The process set-up every entry point that runs torch shares (the CLI, the window, worker processes).

Kept free of torch and Qt: it must run before either is imported.
"""

from __future__ import annotations

import os
import sys

#: Environment set before torch loads OpenMP. Idle OpenMP threads sleep instead of spinning: a spinning
#: pool fights the UI thread, DataLoader workers, DDP ranks and other processes for the cores, and made
#: training in the window 5-10x slower than the same training from the CLI on a busy machine.
THREAD_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def configure_threads() -> bool:
    """Apply `THREAD_ENV` (a variable the user has set wins). Returns False when torch was already imported,
    too late for OpenMP to see it; entry points call this first."""
    for key, value in THREAD_ENV.items():
        os.environ.setdefault(key, value)
    return "torch" not in sys.modules
