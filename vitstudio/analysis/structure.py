"""One number for each of the ViT paper's Figure 7 findings, so a study can test them.

`row_column_score`: position embeddings of patches in the same row or column are more alike than others
(Figure 7, centre). `distance_slope`: mean attention distance grows with depth (Figure 7, right).
"""

from __future__ import annotations

import numpy as np

from ._arrays import as_numpy


def row_column_score(similarity) -> float:
    """Mean cosine similarity of a patch's position embedding to the others in its row or column, minus its
    mean similarity to the patches in neither; averaged over patches. `similarity` is (gh, gw, gh, gw) as
    `position_similarity` gives it. About 0 for random embeddings; positive for the paper's structure."""
    sim = as_numpy(similarity).astype(np.float64)
    gh, gw = sim.shape[:2]
    if sim.shape != (gh, gw, gh, gw) or gh < 2 or gw < 2:
        raise ValueError(f"expected a (gh, gw, gh, gw) similarity grid of at least 2x2 patches, got {sim.shape}")
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    scores = []
    for i in range(gh):
        for j in range(gw):
            line = ((rows == i) | (cols == j)) & ~((rows == i) & (cols == j))
            other = (rows != i) & (cols != j)
            scores.append(sim[i, j][line].mean() - sim[i, j][other].mean())
    return float(np.mean(scores))


def distance_slope(distance) -> float:
    """Least-squares slope of the head-averaged mean attention distance against block index (pixels per block);
    `distance` is (layers, heads) as `mean_attention_distance` gives it."""
    d = as_numpy(distance).astype(np.float64)
    if d.ndim != 2 or d.shape[0] < 2:
        raise ValueError(f"expected (layers, heads) distances for at least 2 layers, got {d.shape}")
    return float(np.polyfit(np.arange(1, d.shape[0] + 1), d.mean(axis=1), 1)[0])
