"""torchvision's `VisionTransformer` state dicts (`vit_b_16`, ...) in timm's layout.

conv_proj                                  -> patch_embed.proj
class_token, encoder.pos_embedding         -> cls_token, pos_embed
encoder.layers.encoder_layer_N.ln_1, ln_2  -> blocks.N.norm1, norm2
  self_attention.in_proj_weight / _bias    -> blocks.N.attn.qkv (rows q|k|v, as timm)
  self_attention.out_proj                  -> blocks.N.attn.proj
  mlp.0, mlp.3                             -> blocks.N.mlp.fc1, fc2
encoder.ln                                 -> norm
heads.head, heads.pre_logits               -> head, pre_logits.fc
"""

from __future__ import annotations

import re

import torch

_RULES = [
    (r"^conv_proj\.", "patch_embed.proj."),
    (r"^class_token$", "cls_token"),
    (r"^encoder\.pos_embedding$", "pos_embed"),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.ln_1\.", r"blocks.\1.norm1."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.ln_2\.", r"blocks.\1.norm2."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.self_attention\.in_proj_(weight|bias)$", r"blocks.\1.attn.qkv.\2"),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.self_attention\.out_proj\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.mlp\.(?:0|linear_1)\.", r"blocks.\1.mlp.fc1."),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.mlp\.(?:3|linear_2)\.", r"blocks.\1.mlp.fc2."),
    (r"^encoder\.ln\.", "norm."),
    (r"^heads\.head\.", "head."),
    (r"^heads\.pre_logits\.", "pre_logits.fc."),
]


def is_torchvision_vit_layout(state_dict) -> bool:
    return "conv_proj.weight" in state_dict and "encoder.pos_embedding" in state_dict


def convert_torchvision_vit(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ViT key names -> timm's; keys it does not know are kept as they are."""
    out = {}
    for key, value in state_dict.items():
        for rule, repl in _RULES:
            key, n = re.subn(rule, repl, key)
            if n:
                break
        out[key] = value
    return out
