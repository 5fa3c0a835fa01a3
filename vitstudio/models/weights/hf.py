"""Hugging Face transformers ViT-family state dicts in timm's layout.

Covers `ViTModel`, `ViTForImageClassification`, `ViTMAEModel` / `ViTMAEForPreTraining`, `DeiTModel`,
`DeiTForImageClassification(WithTeacher)`, in both key layouts:
  * 4.x (most files in circulation): `vit.encoder.layer.N.attention.attention.{query,key,value}`,
    `attention.output.dense`, `intermediate.dense`, `output.dense`;
  * 5.x: `vit.layers.N.attention.{q,k,v,o}_proj`, `mlp.fc1`, `mlp.fc2`.
Query, key and value are fused into timm's `qkv` (rows q|k|v).
"""

from __future__ import annotations

import re

import torch

# Per-block names, 4.x and 5.x -> timm. Order matters: 'attention.output.dense' before 'output.dense'.
_BLOCK_RULES = [
    (r"attention\.attention\.(query|key|value)\.", r"attn.\1."),
    (r"attention\.(q|k|v)_proj\.", r"attn.\1."),
    (r"attention\.output\.dense\.", "attn.proj."),
    (r"attention\.o_proj\.", "attn.proj."),
    (r"intermediate\.dense\.", "mlp.fc1."),
    (r"output\.dense\.", "mlp.fc2."),
    (r"layernorm_before\.", "norm1."),
    (r"layernorm_after\.", "norm2."),
]
_BLOCK = re.compile(r"^(?:(?:vit|deit)\.)?(?:encoder\.layer|layers)\.(\d+)\.(.*)$")
_DECODER_BLOCK = re.compile(r"^decoder\.decoder_layers\.(\d+)\.(.*)$")
_TOP = [
    (r"^(?:(?:vit|deit)\.)?embeddings\.cls_token$", "cls_token"),
    (r"^(?:(?:vit|deit)\.)?embeddings\.distillation_token$", "dist_token"),
    (r"^(?:(?:vit|deit)\.)?embeddings\.position_embeddings$", "pos_embed"),
    (r"^(?:(?:vit|deit)\.)?embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"^(?:(?:vit|deit)\.)?layernorm\.", "norm."),
    (r"^(?:(?:vit|deit)\.)?pooler\.dense\.", "pre_logits.fc."),
    (r"^(?:classifier|cls_classifier)\.", "head."),
    (r"^distillation_classifier\.", "head_dist."),
    (r"^decoder\.(decoder_embed|decoder_pos_embed|decoder_norm|decoder_pred|mask_token)", r"\1"),
]
_QKV = re.compile(r"^(.*attn\.)(query|key|value|q|k|v)\.(weight|bias)$")


def is_transformers_layout(state_dict) -> bool:
    return any("embeddings.patch_embeddings.projection" in k for k in state_dict)


def convert_transformers(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers key names -> timm's; keys it does not know are kept as they are."""
    out, parts = {}, {}
    for key, value in state_dict.items():
        name = _rename(key)
        if m := _QKV.match(name):
            parts.setdefault((m.group(1), m.group(3)), {})[m.group(2)[0]] = value
        else:
            out[name] = value
    for (stem, kind), qkv in parts.items():
        if set(qkv) != {"q", "k", "v"}:
            raise ValueError(f"incomplete attention weights for {stem}: found only {sorted(qkv)} of q, k, v")
        out[f"{stem}qkv.{kind}"] = torch.cat([qkv["q"], qkv["k"], qkv["v"]])
    return out


def _rename(key: str) -> str:
    for pattern, prefix in ((_BLOCK, "blocks"), (_DECODER_BLOCK, "decoder_blocks")):
        if m := pattern.match(key):
            rest = m.group(2)
            for rule, repl in _BLOCK_RULES:
                rest, n = re.subn("^" + rule, repl, rest)
                if n:
                    break
            return f"{prefix}.{m.group(1)}.{rest}"
    for rule, repl in _TOP:
        new, n = re.subn(rule, repl, key)
        if n:
            return new
    return key
