"""The model family (Qt-free): ViT, Hybrid, DeiT, MAE, masked patch prediction, the registry, and weights."""

from . import variants  # noqa: F401  (registers the named models)
from .deit import DistillationLoss, DistilledVisionTransformer
from .hybrid import HybridEmbed, hybrid_vit
from .layers import Attention, Block, Mlp, PatchEmbed
from .mae import MaskedAutoencoderViT
from .mpp import MaskedPatchPredictionViT
from .pos_embed import resample_abs_pos_embed, sincos_2d
from .registry import create_model, list_models, model_args, register_model
from .resnetv2 import ResNetV2
from .teachers import create_teacher
from .vit import VisionTransformer
from .weights import (
    UnsafeCheckpointError,
    export_safetensors,
    export_timm,
    load_model_file,
    load_pretrained,
    pretrained_to_vit,
    read_model_config,
    timm_state_dict,
)

__all__ = [
    "Attention",
    "Block",
    "DistillationLoss",
    "DistilledVisionTransformer",
    "HybridEmbed",
    "MaskedAutoencoderViT",
    "MaskedPatchPredictionViT",
    "Mlp",
    "PatchEmbed",
    "ResNetV2",
    "UnsafeCheckpointError",
    "VisionTransformer",
    "create_model",
    "create_teacher",
    "export_safetensors",
    "export_timm",
    "hybrid_vit",
    "list_models",
    "load_model_file",
    "load_pretrained",
    "model_args",
    "pretrained_to_vit",
    "read_model_config",
    "register_model",
    "resample_abs_pos_embed",
    "sincos_2d",
    "timm_state_dict",
]
