"""The per-user folders of vitstudio (`platformdirs`), computed in one place; environment variables override them.

A leaf module: the models (downloaded weights), the data (cached datasets) and the run store read it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "VITSTUDIO_CACHE"
RUNS_ENV = "VITSTUDIO_RUNS"


def user_cache_dir() -> Path:
    """`$VITSTUDIO_CACHE` if set, else the platform's per-user cache folder for vitstudio (`platformdirs`:
    `$XDG_CACHE_HOME/vitstudio` or `~/.cache/vitstudio` on Linux). Datasets default to its `datasets/`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(platformdirs.user_cache_dir("vitstudio", appauthor=False))


def user_runs_dir() -> Path:
    """`$VITSTUDIO_RUNS` if set, else the platform's per-user data folder for runs (`platformdirs`:
    `$XDG_DATA_HOME/vitstudio/runs` or `~/.local/share/vitstudio/runs` on Linux)."""
    if os.environ.get(RUNS_ENV):
        return Path(os.environ[RUNS_ENV]).expanduser()
    return Path(platformdirs.user_data_dir("vitstudio", appauthor=False)) / "runs"
