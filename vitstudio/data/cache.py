"""The per-user cache folder and an atomic, content-keyed store of numpy arrays in it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..user_dirs import user_cache_dir

log = logging.getLogger(__name__)


def cached_arrays(
    key: dict, make: Callable[[], dict[str, np.ndarray]], cache_dir: str | Path | None = None
) -> dict[str, np.ndarray]:
    """The arrays stored under `key` (a JSON-able dict), made with `make()` and saved on a miss.

    The file name holds a hash of the key, so a change of any parameter or generator version misses.
    The file is written to a temporary name and renamed, so a crash never leaves a half-written entry;
    an unreadable entry is logged and rebuilt.
    """
    folder = Path(cache_dir) if cache_dir is not None else user_cache_dir()
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = folder / f"{key.get('dataset', 'arrays')}-{digest}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError) as e:
            log.warning("cache entry %s is unreadable (%s); rebuilding it", path, e)
    arrays = make()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return arrays
