"""What the patch embedding looks for: principal components of its filters (Figure 7, left)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from ._arrays import as_numpy


@dataclass
class FilterComponents:
    """Principal components of a conv layer's filters, each an image-shaped (kh, kw, C) array."""

    components: np.ndarray  # (n, kh, kw, C), unit norm
    explained: np.ndarray  # (n,) fraction of the filters' variance each component explains
    note: str  # what the filters are (e.g. why a hybrid shows its stem)


def filter_pca(weight, n_components: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """First principal components of conv filters (D, C, kh, kw), each filter one sample.

    Returns the components as (n, kh, kw, C) unit vectors (sign chosen so the largest entry is
    positive) and the fraction of the variance each explains.
    """
    w = as_numpy(weight)
    w = w.astype(np.result_type(w.dtype, np.float32))  # float32 weights are decomposed in float32
    if w.ndim != 4:
        raise ValueError(f"expected conv weights (out, in, kh, kw), got shape {w.shape}")
    D, C, kh, kw = w.shape
    x = w.reshape(D, -1)
    x = x - x.mean(axis=0)
    # eigen-decompose the smaller of the covariance (d x d) and the Gram matrix (D x D)
    if x.shape[1] <= D:
        var, vecs = np.linalg.eigh(x.T @ x)
    else:
        var, u = np.linalg.eigh(x @ x.T)
        vecs = (x.T @ u) / np.sqrt(np.maximum(var, np.finfo(var.dtype).tiny))
    order = np.argsort(var)[::-1]
    var, vecs = np.maximum(var[order], 0), vecs[:, order]
    n = min(n_components, D, x.shape[1])
    comps = vecs[:, :n].T
    sign = np.sign(comps[np.arange(n), np.abs(comps).argmax(axis=1)])
    comps = comps * sign[:, None]
    explained = var[:n] / max(var.sum(), np.finfo(var.dtype).tiny)
    return comps.reshape(n, C, kh, kw).transpose(0, 2, 3, 1), explained


def image_conv(model: nn.Module) -> tuple[nn.Conv2d, str]:
    """The first conv layer that sees pixels, and a sentence saying what it is.

    For a plain ViT that is the patch projection. A hybrid's projection is 1x1 over CNN feature
    channels and has no image-space filter to show, so its CNN stem's first conv is used instead.
    """
    proj = model.patch_embed.proj
    backbone = [m for m in model.patch_embed.modules() if isinstance(m, nn.Conv2d) and m is not proj]
    if not backbone:
        kh, kw = proj.kernel_size
        return proj, (
            f"patch embedding: {proj.out_channels} linear filters of {kh}x{kw} pixels x {proj.in_channels} channels"
        )
    stem = backbone[0]
    kh, kw = stem.kernel_size
    return stem, (
        f"hybrid: the patch projection is a {proj.kernel_size[0]}x{proj.kernel_size[1]} conv over "
        f"{proj.in_channels} CNN feature channels, which has no image-space filter to show; shown instead: "
        f"the CNN stem's first conv ({stem.out_channels} filters of {kh}x{kw} pixels)"
    )


def patch_filters(model: nn.Module, n_components: int = 28) -> FilterComponents:
    """Principal components of the filters that see the image (the patch projection; a hybrid's stem).

    A weight-standardised conv (BiT's StdConv2d) is analysed with the standardised weights it convolves with.
    """
    conv, note = image_conv(model)
    standardized = getattr(conv, "standardized_weight", None)
    weight = standardized() if standardized else conv.weight
    comps, explained = filter_pca(weight, n_components)
    return FilterComponents(comps, explained, note + (", weight-standardised" if standardized else ""))
