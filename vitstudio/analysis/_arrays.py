"""Small conversions shared by the analysis functions."""

from __future__ import annotations

import numpy as np
import torch


def as_numpy(x) -> np.ndarray:
    """A numpy array from a numpy array or a (possibly GPU, grad-tracking, half-precision) torch tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype in (torch.float16, torch.bfloat16) else x).numpy()
    return np.asarray(x)


def pair(x) -> tuple[int, int]:
    return (int(x), int(x)) if np.isscalar(x) else (int(x[0]), int(x[1]))
