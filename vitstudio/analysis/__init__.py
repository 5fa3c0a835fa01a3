"""What the inspector shows, Qt-free: plain tensors/arrays in, numpy arrays out.

patches (grid and sequence), class-token attention maps, attention rollout, mean attention
distance, position-embedding similarity, patch-filter principal components, MAE reconstructions
and top-k predictions; `render` and `figures` turn them into RGB images for the GUI and the CLI.
"""

from .attention import (
    attention_rollout,
    collect_attention,
    features_and_attention,
    fuse_heads,
    mean_attention_distance,
    patch_distances,
    token_attention,
)
from .filters import FilterComponents, filter_pca, image_conv, patch_filters
from .image import IMAGENET_MEAN, IMAGENET_STD, bundled_images, denormalize, fit_image, load_image, normalize
from .inspection import Geometry, Inspection, geometry
from .mae import MAEPanels, mae_reconstruction, masking_noise
from .patches import patch_sequence, patchify, unpatchify
from .position import patch_position_embedding, position_similarity
from .predictions import has_classifier, predict, predict_from_features, top_k
from .report import attention_distance, inspect_image, write_report

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "FilterComponents",
    "Geometry",
    "Inspection",
    "MAEPanels",
    "attention_distance",
    "attention_rollout",
    "bundled_images",
    "collect_attention",
    "denormalize",
    "features_and_attention",
    "filter_pca",
    "fit_image",
    "fuse_heads",
    "geometry",
    "has_classifier",
    "image_conv",
    "inspect_image",
    "load_image",
    "mae_reconstruction",
    "masking_noise",
    "mean_attention_distance",
    "normalize",
    "patch_distances",
    "patch_filters",
    "patch_position_embedding",
    "patch_sequence",
    "patchify",
    "position_similarity",
    "predict",
    "predict_from_features",
    "token_attention",
    "top_k",
    "unpatchify",
    "write_report",
]
