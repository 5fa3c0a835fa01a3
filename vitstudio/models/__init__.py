"""The model family (Qt-free): ViT and its layers, named variants, and the registry."""
from . import variants  # noqa: F401  (registers the named models)
from .layers import Attention, Block, Mlp, PatchEmbed
from .pos_embed import resample_abs_pos_embed, sincos_2d
from .registry import create_model, list_models, model_args, register_model
from .vit import VisionTransformer

__all__ = [
    "Attention", "Block", "Mlp", "PatchEmbed", "VisionTransformer",
    "create_model", "list_models", "model_args", "register_model",
    "resample_abs_pos_embed", "sincos_2d",
]
