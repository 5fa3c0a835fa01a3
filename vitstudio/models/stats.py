"""Derived figures of a model configuration: parameters, MACs, sequence length, training memory.

`model_stats(name, **overrides)` answers for every registered family without building the model,
so a form can show the figures on every keystroke. The transformer parts are analytic
(`encoder_stats`, `vit_stats`); a hybrid's CNN is counted once on the `meta` device (no memory, no
arithmetic) and cached. Tests check every formula against counts on built models: parameters
against `parameters()`, MACs against `torch.utils.flop_counter`, activations against the tensors
autograd saves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from .catalogue import FAMILIES, model_entry
from .hybrid import create_backbone
from .layers import to_2tuple

#: fp32 weight, gradient and AdamW's two moments.
OPTIMIZER_BYTES_PER_PARAM = 16


@dataclass(frozen=True)
class ModelStats:
    params: int
    macs: int  # multiply-accumulates of one forward pass of one image
    seq_len: int  # tokens per image inside the encoder (visible patches + prefix tokens)
    activations: int  # values one training image keeps for the backward pass
    patches: int = 0  # patches the image is cut into (MAE's encoder sees a share of them)

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    def train_memory(self, batch_size: int, bytes_per_value: int = 4) -> int:
        """Estimated bytes for one AdamW training step at `batch_size` (fp32 unless told otherwise)."""
        return self.params * OPTIMIZER_BYTES_PER_PARAM + batch_size * self.activations * bytes_per_value

    def __add__(self, other: ModelStats) -> ModelStats:
        """Two parts in sequence: the second's sequence length is the model's."""
        return ModelStats(
            self.params + other.params,
            self.macs + other.macs,
            other.seq_len,
            self.activations + other.activations,
            other.patches,
        )


def encoder_stats(
    tokens: int, dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True
) -> ModelStats:
    """`depth` pre-norm blocks over `tokens` tokens of width `dim` (fused attention)."""
    hidden = int(dim * mlp_ratio)
    params = (
        4 * dim  # two LayerNorms
        + 3 * dim * dim
        + (3 * dim if qkv_bias else 0)
        + dim * dim
        + dim  # qkv, proj
        + dim * hidden
        + hidden
        + hidden * dim
        + dim  # fc1, fc2
    )
    # qkv and proj, the two MLP layers, then q k^T and attn @ v (tokens^2 * dim each, whatever the heads)
    macs = tokens * (4 * dim * dim + 2 * dim * hidden) + 2 * tokens * tokens * dim
    # saved for backward: both LayerNorm inputs and outputs, q|k|v, attention output, the MLP's
    # hidden before and after GELU; plus LayerNorm statistics and attention log-sum-exp per token
    activations = tokens * (8 * dim + 2 * hidden + 4 + num_heads)
    return ModelStats(depth * params, depth * macs, tokens, depth * activations)


def linear(n_in: int, n_out: int, rows: int = 1) -> ModelStats:
    """A Linear layer with bias applied to `rows` vectors (its input kept for backward)."""
    return ModelStats(n_in * n_out + n_out, rows * n_in * n_out, rows, rows * n_in)


def vit_stats(
    img_size=224,
    patch_size=16,
    in_chans=3,
    num_classes=1000,
    embed_dim=768,
    depth=12,
    num_heads=12,
    mlp_ratio=4.0,
    qkv_bias=True,
    class_token=True,
    pos_embed="learned",
    representation_size=None,
    num_extra_tokens=0,
    global_pool="token",
    fc_norm=None,
    **_training_only,
) -> ModelStats:
    """Figures of `VisionTransformer(**kwargs)`; options that only act in training (dropouts) are ignored."""
    (h, w), (ph, pw) = to_2tuple(img_size), to_2tuple(patch_size)
    gh, gw = h // ph, w // pw
    patches, prefix = gh * gw, int(class_token) + num_extra_tokens
    tokens = patches + prefix
    blocks = encoder_stats(tokens, embed_dim, depth, num_heads, mlp_ratio, qkv_bias)

    patch_in = in_chans * ph * pw
    pos_params = {"learned": tokens * embed_dim, "learned_2d": (gh + gw) * (embed_dim // 2)}.get(pos_embed, 0)
    head = ModelStats(0, 0, 0, 0)
    if representation_size:
        head = head + linear(embed_dim, representation_size)
    if num_classes > 0:
        head = head + linear(representation_size or embed_dim, num_classes)
    params = (
        patch_in * embed_dim
        + embed_dim  # patch projection
        + prefix * embed_dim
        + pos_params
        + blocks.params
        + 2 * embed_dim  # blocks, final norm
        + head.params
    )
    macs = patches * patch_in * embed_dim + blocks.macs + head.macs
    # the image, the blocks, then the final LayerNorm's input, output and statistics: over all
    # tokens before pooling, or over the pooled vector (fc_norm)
    normed = 1 if (global_pool == "avg" if fc_norm is None else fc_norm) else tokens
    activations = in_chans * h * w + blocks.activations + normed * (2 * embed_dim + 2)
    return ModelStats(params, macs, tokens, activations, patches)


def deit_stats(num_classes=1000, embed_dim=768, **kwargs) -> ModelStats:
    """DeiT with distillation: a second prefix token and a second head (`head_dist`)."""
    s = vit_stats(num_classes=num_classes, embed_dim=embed_dim, num_extra_tokens=1, **kwargs)
    return (
        s
        if num_classes <= 0
        else replace(s, params=s.params + embed_dim * num_classes + num_classes, macs=s.macs + embed_dim * num_classes)
    )


def mpp_stats(
    img_size=224, patch_size=16, in_chans=3, target="color", color_bits=3, embed_dim=768, mask_ratio=None, **kwargs
) -> ModelStats:
    """Masked patch prediction: a ViT without a classifier, a [mask] embedding and a per-patch head."""
    kwargs.update(num_classes=0)
    s = vit_stats(img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim, **kwargs)
    ph, pw = to_2tuple(patch_size)
    out = 2 ** (color_bits * in_chans) if target == "color" else ph * pw * in_chans
    patches = s.seq_len - int(kwargs.get("class_token", True))
    head = linear(embed_dim, out, patches)
    # the loss keeps the log-probabilities (or errors) of the masked patches only
    masked = int(patches * (FAMILIES["mpp"].mask_ratio if mask_ratio is None else mask_ratio))
    return replace(
        s,
        params=s.params + embed_dim + head.params,
        macs=s.macs + head.macs,
        activations=s.activations + head.activations + masked * out,
    )


def mae_stats(
    img_size=224,
    patch_size=16,
    in_chans=3,
    embed_dim=1024,
    depth=24,
    num_heads=16,
    decoder_embed_dim=512,
    decoder_depth=8,
    decoder_num_heads=16,
    mlp_ratio=4.0,
    qkv_bias=True,
    mask_ratio=None,
    **_training_only,
) -> ModelStats:
    """MAE: the encoder sees the visible patches only (its `seq_len`), the decoder all of them."""
    (h, w), (ph, pw) = to_2tuple(img_size), to_2tuple(patch_size)
    patches, patch_in = (h // ph) * (w // pw), in_chans * ph * pw
    visible = 1 + int(patches * (1 - (FAMILIES["mae"].mask_ratio if mask_ratio is None else mask_ratio)))
    encoder = encoder_stats(visible, embed_dim, depth, num_heads, mlp_ratio, qkv_bias)
    decoder = encoder_stats(patches + 1, decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio, qkv_bias)
    embed, pred = linear(embed_dim, decoder_embed_dim, visible), linear(decoder_embed_dim, patch_in, patches + 1)
    params = (
        patch_in * embed_dim
        + embed_dim
        + embed_dim  # patch projection, class token
        + encoder.params
        + 2 * embed_dim
        + embed.params
        + decoder_embed_dim  # norm, decoder embed, mask token
        + decoder.params
        + 2 * decoder_embed_dim
        + pred.params
    )  # decoder norm and prediction
    macs = patches * patch_in * embed_dim + encoder.macs + embed.macs + decoder.macs + pred.macs
    activations = (
        in_chans * h * w
        + encoder.activations
        + visible * (2 * embed_dim + 2)
        + embed.activations
        + decoder.activations
        + (patches + 1) * (2 * decoder_embed_dim + 2)
        + pred.activations
    )
    return ModelStats(params, macs, visible, activations, patches)


def hybrid_stats(
    backbone="resnetv2",
    layers=(3, 4, 9),
    padding="same",
    cifar_stem=False,
    img_size=224,
    patch_size=1,
    in_chans=3,
    **kwargs,
) -> ModelStats:
    """A CNN (counted) whose feature map a ViT (analytic) reads with `patch_size` patches."""
    cnn, channels, reduction = backbone_stats(
        backbone, tuple(layers), padding, cifar_stem, in_chans, to_2tuple(img_size)
    )
    h, w = to_2tuple(img_size)
    return cnn + vit_stats(
        img_size=(h // reduction, w // reduction), patch_size=patch_size, in_chans=channels, **kwargs
    )


@lru_cache(maxsize=64)
def backbone_stats(backbone, layers, padding, cifar_stem, in_chans, img_size) -> tuple[ModelStats, int, int]:
    """A hybrid's CNN counted on the `meta` device: (its figures, output channels, stride)."""
    with torch.device("meta"):
        net = create_backbone(backbone, in_chans, layers, padding, cifar_stem).train()
    weights = {id(p) for p in net.parameters()}

    def count(batch: int) -> tuple[int, int]:
        """(MACs, saved values) of one forward pass; meta tensors have no storage to tell views
        apart, so each base tensor counts once."""
        saved = {}

        def keep(t):
            base = t if t._base is None else t._base
            if id(base) not in weights:
                saved[id(base)] = base.numel()
            return t

        x = torch.empty(batch, in_chans, *img_size, device="meta", requires_grad=True)
        with FlopCounterMode(display=False) as counter, torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            out = net(x)  # kept alive while counting, so no saved tensor's id is reused
        del out
        return counter.get_total_flops() // 2 // batch, sum(saved.values())

    (macs, one), (_, two) = count(1), count(2)
    # per image: the difference (standardised conv weights are saved once per batch, not per image)
    stats = ModelStats(sum(p.numel() for p in net.parameters()), macs, 0, two - one)
    return stats, net.num_features, net.reduction


def model_stats(name: str, mask_ratio: float | None = None, **overrides) -> ModelStats:
    """Figures of `create_model(name, **overrides)`, without building it (registered models of ours).

    `mask_ratio` is the share of patches a pretraining model masks (its family's default when None).
    """
    entry = model_entry(name)
    args = {**entry.defaults, **overrides}
    family = entry.family.name
    if entry.family.pretraining:
        args["mask_ratio"] = mask_ratio
    if family not in FAMILY_STATS:
        raise ValueError(f"{name} is a {entry.family.label}: its figures are not computed")
    return FAMILY_STATS[family](**args)


FAMILY_STATS = {"vit": vit_stats, "hybrid": hybrid_stats, "deit": deit_stats, "mae": mae_stats, "mpp": mpp_stats}
