"""The models (Qt-free): ViT, Hybrid, DeiT, MAE, masked patch prediction, the catalogue of named models, weights."""

from . import pretrained_tags  # noqa: F401  (registers the named models, then their pretrained tags)
from .catalogue import (
    FAMILIES,
    Family,
    ModelEntry,
    PretrainedCfg,
    create_model,
    family_of,
    is_pretrained_name,
    list_models,
    list_pretrained,
    model_args,
    model_entry,
    pretrained_cfg,
    register_model,
    register_pretrained,
)
from .deit import DistillationLoss, DistilledVisionTransformer
from .export import export_safetensors, export_timm, load_model_file, read_model_config, timm_state_dict
from .hybrid import HybridEmbed, HybridVisionTransformer
from .layers import Attention, Block, Mlp, PatchEmbed
from .mae import MaskedAutoencoderViT
from .mpp import MaskedPatchPredictionViT
from .pos_embed import resample_abs_pos_embed, sincos_2d
from .resnetv2 import ResNetV2
from .teachers import create_teacher
from .vit import VisionTransformer
from .weights import UnsafeCheckpointError, load_pretrained, pretrained_to_vit

__all__ = [
    "FAMILIES",
    "Attention",
    "Block",
    "DistillationLoss",
    "DistilledVisionTransformer",
    "Family",
    "HybridEmbed",
    "HybridVisionTransformer",
    "MaskedAutoencoderViT",
    "MaskedPatchPredictionViT",
    "Mlp",
    "ModelEntry",
    "PatchEmbed",
    "PretrainedCfg",
    "ResNetV2",
    "UnsafeCheckpointError",
    "VisionTransformer",
    "create_model",
    "create_teacher",
    "export_safetensors",
    "export_timm",
    "family_of",
    "is_pretrained_name",
    "list_models",
    "list_pretrained",
    "load_model_file",
    "load_pretrained",
    "model_args",
    "model_entry",
    "pretrained_cfg",
    "pretrained_to_vit",
    "read_model_config",
    "register_model",
    "register_pretrained",
    "resample_abs_pos_embed",
    "sincos_2d",
    "timm_state_dict",
]
