"""Google's JAX/Flax ViT checkpoints (`.npz`) in timm's layout.

Reads the original `vision_transformer` layout (`Transformer/encoderblock_N/MultiHeadDotProductAttention_1`,
`LayerNorm_2`, `MlpBlock_3`, `Transformer/posembed_input/pos_embedding`), its R50/R26 hybrids
(`conv_root`, `gn_root`, `blockS/unitJ/{conv,gn}R`, `conv_proj`, `gn_proj`), and big_vision's variants
(`params/` prefix, top-level `pos_embedding` without a class-token slot, `MultiHeadDotProductAttention_0`,
`LayerNorm_1`, `MlpBlock_0`, and blocks stacked along a leading axis under `Transformer/encoderblock/`).
Kernels are HWIO / (in, out) / (D, heads, head_dim) and are transposed to PyTorch's layouts.
"""

from __future__ import annotations

import re

import torch

_PREFIXES = ("opt/target/", "params/img/", "params/")


def is_google_layout(state_dict) -> bool:
    return any(k.endswith("embedding/kernel") for k in state_dict)


def _conv(w: torch.Tensor) -> torch.Tensor:
    return w.permute(3, 2, 0, 1)  # HWIO -> OIHW


def _vec(w: torch.Tensor) -> torch.Tensor:
    return w.reshape(-1)


def convert_google(npz: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Google key names and layouts -> timm's (the names our models use). Unknown keys are kept as they are."""
    prefix = next((p for p in _PREFIXES if f"{p}embedding/kernel" in npz), "")
    # only the model's parameters: optimizer state ('opt/state/...') and other trees are ignored
    w = {k[len(prefix) :]: torch.as_tensor(v).float() for k, v in npz.items() if k.startswith(prefix)}
    w = _unstack_scanned_blocks(w)
    out: dict[str, torch.Tensor] = {}
    out["patch_embed.proj.weight"] = _conv(w.pop("embedding/kernel"))
    out["patch_embed.proj.bias"] = w.pop("embedding/bias")
    if "cls" in w:
        out["cls_token"] = w.pop("cls").reshape(1, 1, -1)
    if "Transformer/posembed_input/pos_embedding" in w:
        out["pos_embed"] = w.pop("Transformer/posembed_input/pos_embedding")
    elif "pos_embedding" in w:  # big_vision: the class token (if any) gets no position
        pos = w.pop("pos_embedding").reshape(1, -1, out["patch_embed.proj.weight"].shape[0])
        if "cls_token" in out:
            pos = torch.cat([torch.zeros_like(pos[:, :1]), pos], dim=1)
        out["pos_embed"] = pos
    if "Transformer/encoder_norm/scale" in w:
        out["norm.weight"] = w.pop("Transformer/encoder_norm/scale")
        out["norm.bias"] = w.pop("Transformer/encoder_norm/bias")
    for ours, theirs in (("head", "head"), ("pre_logits.fc", "pre_logits")):
        if f"{theirs}/kernel" in w:
            out[f"{ours}.weight"], out[f"{ours}.bias"] = w.pop(f"{theirs}/kernel").T, w.pop(f"{theirs}/bias")
    out.update(_convert_blocks(w))
    out.update(_convert_resnet(w))
    out.update(w)  # whatever is left is reported as unexpected by the loader
    return out


def _unstack_scanned_blocks(w: dict) -> dict:
    """big_vision's scanned encoder stores block i at index i of `Transformer/encoderblock/...`."""
    scanned = {k: v for k, v in w.items() if k.startswith("Transformer/encoderblock/")}
    if not scanned:
        return w
    w = {k: v for k, v in w.items() if k not in scanned}
    for k, v in scanned.items():
        for i in range(v.shape[0]):
            w[k.replace("encoderblock/", f"encoderblock_{i}/")] = v[i]
    return w


def _convert_blocks(w: dict) -> dict:
    out = {}
    depth = len({m.group(1) for k in w if (m := re.match(r"Transformer/encoderblock_(\d+)/", k))})
    for i in range(depth):
        src, dst = f"Transformer/encoderblock_{i}/", f"blocks.{i}."
        big_vision = f"{src}MultiHeadDotProductAttention_0/query/kernel" in w
        mha, ln2, mlp = (
            ("MultiHeadDotProductAttention_0", "LayerNorm_1", "MlpBlock_0")
            if big_vision
            else ("MultiHeadDotProductAttention_1", "LayerNorm_2", "MlpBlock_3")
        )
        for ours, theirs in (("norm1", "LayerNorm_0"), ("norm2", ln2)):
            out[f"{dst}{ours}.weight"] = w.pop(f"{src}{theirs}/scale")
            out[f"{dst}{ours}.bias"] = w.pop(f"{src}{theirs}/bias")
        a = f"{src}{mha}/"
        qkv = ("query", "key", "value")
        out[f"{dst}attn.qkv.weight"] = torch.cat([w.pop(f"{a}{n}/kernel").flatten(1).T for n in qkv])
        out[f"{dst}attn.qkv.bias"] = torch.cat([w.pop(f"{a}{n}/bias").reshape(-1) for n in qkv])
        out[f"{dst}attn.proj.weight"] = w.pop(f"{a}out/kernel").flatten(0, 1).T
        out[f"{dst}attn.proj.bias"] = w.pop(f"{a}out/bias")
        for r in range(2):
            out[f"{dst}mlp.fc{r + 1}.weight"] = w.pop(f"{src}{mlp}/Dense_{r}/kernel").T
            out[f"{dst}mlp.fc{r + 1}.bias"] = w.pop(f"{src}{mlp}/Dense_{r}/bias")
    return out


def _convert_resnet(w: dict) -> dict:
    """The hybrid's ResNetV2 (or its stem alone when there are no `blockS/` keys)."""
    if "conv_root/kernel" not in w:
        return {}
    out = {}
    units = sorted({(int(m.group(1)), int(m.group(2))) for k in w if (m := re.match(r"block(\d+)/unit(\d+)/", k))})
    stem = "patch_embed.backbone.stem." if units else "patch_embed.backbone."
    out[f"{stem}conv.weight"] = _conv(w.pop("conv_root/kernel"))
    out[f"{stem}norm.weight"], out[f"{stem}norm.bias"] = _vec(w.pop("gn_root/scale")), _vec(w.pop("gn_root/bias"))
    for s, j in units:
        src, dst = f"block{s}/unit{j}/", f"patch_embed.backbone.stages.{s - 1}.blocks.{j - 1}."
        for ours_conv, ours_norm, r in (
            ("conv1", "norm1", "1"),
            ("conv2", "norm2", "2"),
            ("conv3", "norm3", "3"),
            ("downsample.conv", "downsample.norm", "_proj"),
        ):
            if f"{src}conv{r}/kernel" not in w:
                continue
            out[f"{dst}{ours_conv}.weight"] = _conv(w.pop(f"{src}conv{r}/kernel"))
            out[f"{dst}{ours_norm}.weight"] = _vec(w.pop(f"{src}gn{r}/scale"))
            out[f"{dst}{ours_norm}.bias"] = _vec(w.pop(f"{src}gn{r}/bias"))
    return out
