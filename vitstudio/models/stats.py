"""Derived figures of a ViT configuration: parameters, MACs, sequence length, training memory.

Computed from the architecture's numbers alone, without building the model, so a form can show
them on every keystroke. `vit_stats(**kwargs)` takes `VisionTransformer`'s keyword arguments
(e.g. `model_args("vit_base_patch16_224")`). Tests check every formula against a count on a built
model: parameters against `parameters()`, MACs against `torch.utils.flop_counter`, activations
against the tensors autograd saves.
"""
from __future__ import annotations

from dataclasses import dataclass

from .layers import to_2tuple

#: fp32 weight, gradient and AdamW's two moments.
OPTIMIZER_BYTES_PER_PARAM = 16


@dataclass(frozen=True)
class ModelStats:
    params: int
    macs: int  # multiply-accumulates of one forward pass of one image
    seq_len: int  # tokens per image inside the encoder (patches + prefix tokens)
    activations: int  # values one training image keeps for the backward pass

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    def train_memory(self, batch_size: int, bytes_per_value: int = 4) -> int:
        """Estimated bytes for one AdamW training step at `batch_size` (fp32 unless told otherwise)."""
        return self.params * OPTIMIZER_BYTES_PER_PARAM + batch_size * self.activations * bytes_per_value


def encoder_stats(tokens: int, dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0,
                  qkv_bias: bool = True) -> ModelStats:
    """`depth` pre-norm blocks over `tokens` tokens of width `dim` (fused attention)."""
    hidden = int(dim * mlp_ratio)
    params = (
        4 * dim  # two LayerNorms
        + 3 * dim * dim + (3 * dim if qkv_bias else 0) + dim * dim + dim  # qkv, proj
        + dim * hidden + hidden + hidden * dim + dim  # fc1, fc2
    )
    # qkv and proj, the two MLP layers, then q k^T and attn @ v (tokens^2 * dim each, whatever the heads)
    macs = tokens * (4 * dim * dim + 2 * dim * hidden) + 2 * tokens * tokens * dim
    # saved for backward: both LayerNorm inputs and outputs, q|k|v, attention output, the MLP's
    # hidden before and after GELU; plus LayerNorm statistics and attention log-sum-exp per token
    activations = tokens * (8 * dim + 2 * hidden + 4 + num_heads)
    return ModelStats(depth * params, depth * macs, tokens, depth * activations)


def vit_stats(img_size=224, patch_size=16, in_chans=3, num_classes=1000, embed_dim=768, depth=12, num_heads=12,
              mlp_ratio=4.0, qkv_bias=True, class_token=True, pos_embed="learned", representation_size=None,
              num_extra_tokens=0, global_pool="token", fc_norm=None, **_training_only) -> ModelStats:
    """Figures of `VisionTransformer(**kwargs)`; options that only act in training (dropouts) are ignored."""
    (h, w), (ph, pw) = to_2tuple(img_size), to_2tuple(patch_size)
    gh, gw = h // ph, w // pw
    patches, prefix = gh * gw, int(class_token) + num_extra_tokens
    tokens = patches + prefix
    blocks = encoder_stats(tokens, embed_dim, depth, num_heads, mlp_ratio, qkv_bias)

    patch_in = in_chans * ph * pw
    pos_params = {"learned": tokens * embed_dim, "learned_2d": (gh + gw) * (embed_dim // 2)}.get(pos_embed, 0)
    features = representation_size or embed_dim
    head_params = head_macs = 0
    if representation_size:
        head_params += embed_dim * representation_size + representation_size
        head_macs += embed_dim * representation_size
    if num_classes > 0:
        head_params += features * num_classes + num_classes
        head_macs += features * num_classes
    params = (
        patch_in * embed_dim + embed_dim  # patch projection
        + prefix * embed_dim + pos_params
        + blocks.params + 2 * embed_dim  # blocks, final norm
        + head_params
    )
    macs = patches * patch_in * embed_dim + blocks.macs + head_macs
    # the image, the blocks, then the final LayerNorm's input, output and statistics: over all
    # tokens before pooling, or over the pooled vector (fc_norm)
    normed = 1 if (global_pool == "avg" if fc_norm is None else fc_norm) else tokens
    activations = in_chans * h * w + blocks.activations + normed * (2 * embed_dim + 2)
    return ModelStats(params, macs, tokens, activations)


def model_stats(name: str, **overrides) -> ModelStats:
    """Figures of `create_model(name, **overrides)`, without building it."""
    from .registry import model_args

    return vit_stats(**{**model_args(name), **overrides})
