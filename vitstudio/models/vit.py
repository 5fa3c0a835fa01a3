"""The Vision Transformer (Dosovitskiy et al., 2020), configurable as the paper ablates it.

Parameter names follow timm's `VisionTransformer`, so timm state dicts load with `strict=True`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from ..choices import GLOBAL_POOLS, POS_EMBED_KINDS
from .layers import Block, LayerNorm, PatchEmbed
from .pos_embed import resample_abs_pos_embed, sincos_2d

PosEmbedKind = Literal["learned", "learned_2d", "sincos_2d", "none"]


class VisionTransformer(nn.Module):
    """ViT: patch embedding, prefix tokens, position embedding, L pre-norm blocks, norm, pooling, head.

    Options beyond timm's:
      * `pos_embed`: 'learned' (1-D table over prefix + patches, the paper's default), 'learned_2d'
        (separate row and column tables of D/2 each, concatenated; prefix tokens get none),
        'sincos_2d' (fixed, MAE layout, zeros for prefix tokens) or 'none'.
      * `representation_size`: the paper's pre-logits layer (Linear + tanh) before the head.

    Attention weights: `forward(x, return_attention=True)` (or `forward_features`) returns
    `(output, [attn per block])` with each `attn` of shape (B, heads, N, N), computed by the
    explicit path; otherwise the fused `scaled_dot_product_attention` path runs.
    """

    family = "vit"  # the model catalogue's family (subclasses name theirs)

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        class_token: bool = True,
        pos_embed: PosEmbedKind = "learned",
        representation_size: int | None = None,
        fc_norm: bool | None = None,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        dynamic_img_size: bool = False,
        embed_layer: Callable[..., nn.Module] = PatchEmbed,
        num_extra_tokens: int = 0,
    ):
        super().__init__()
        if global_pool not in GLOBAL_POOLS:
            raise ValueError(f"global_pool must be one of {GLOBAL_POOLS}, got {global_pool!r}")
        if pos_embed not in POS_EMBED_KINDS:
            raise ValueError(f"pos_embed must be one of {POS_EMBED_KINDS}, got {pos_embed!r}")
        if global_pool == "token" and not class_token:
            raise ValueError("global_pool='token' needs a class token; use global_pool='avg' without one")
        use_fc_norm = global_pool == "avg" if fc_norm is None else fc_norm

        self.num_classes = num_classes
        self.global_pool = global_pool
        self.embed_dim = self.num_features = embed_dim
        self.pos_embed_kind = pos_embed
        self.dynamic_img_size = dynamic_img_size
        self.num_prefix_tokens = int(class_token) + num_extra_tokens

        self.patch_embed = embed_layer(img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim)
        self.patch_embed.strict_img_size = not dynamic_img_size
        self.grid_size = self.patch_embed.grid_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self._init_pos_embed(pos_embed, embed_dim)
        self.pos_drop = nn.Dropout(pos_drop_rate)

        dpr = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()  # on the CPU: buildable on "meta"
        self.blocks = nn.Sequential(
            *[
                Block(embed_dim, num_heads, mlp_ratio, qkv_bias, proj_drop_rate, attn_drop_rate, dpr[i])
                for i in range(depth)
            ]
        )
        self.norm = nn.Identity() if use_fc_norm else LayerNorm(embed_dim)
        self.fc_norm = LayerNorm(embed_dim) if use_fc_norm else nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        if representation_size:
            self.pre_logits = nn.Sequential()
            self.pre_logits.add_module("fc", nn.Linear(embed_dim, representation_size))
            self.pre_logits.add_module("act", nn.Tanh())
            self.num_features = representation_size
        else:
            self.pre_logits = nn.Identity()
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self.init_weights()

    # -- construction -------------------------------------------------------------------------

    def _init_pos_embed(self, kind: str, dim: int) -> None:
        gh, gw = self.grid_size
        n_prefix = self.num_prefix_tokens
        self.pos_embed_h = self.pos_embed_w = None
        if kind == "sincos_2d":
            self.register_buffer("pos_embed", sincos_2d(dim, (gh, gw), n_prefix))
        elif kind == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, n_prefix + gh * gw, dim))
        elif kind == "learned_2d":
            if dim % 2:
                raise ValueError(f"learned_2d position embedding needs an even embed_dim, got {dim}")
            self.pos_embed_h = nn.Parameter(torch.zeros(1, gh, dim // 2))
            self.pos_embed_w = nn.Parameter(torch.zeros(1, gw, dim // 2))
        if kind in ("learned_2d", "none"):
            self.pos_embed = None

    def init_weights(self) -> None:
        """timm's default initialisation: truncated normal (std 0.02) for linears and tables."""
        for p in (self.pos_embed, self.pos_embed_h, self.pos_embed_w):
            if isinstance(p, nn.Parameter):
                nn.init.trunc_normal_(p, std=0.02)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """Names of parameters that should not be decayed (tokens and position tables)."""
        return {
            n
            for n in ("cls_token", "dist_token", "pos_embed", "pos_embed_h", "pos_embed_w")
            if isinstance(getattr(self, n, None), nn.Parameter)
        }

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a freshly initialised one for `num_classes` (0 removes it)."""
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        if num_classes > 0:
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

    # -- forward ------------------------------------------------------------------------------

    def prefix_tokens(self, batch: int) -> list[torch.Tensor]:
        """Tokens prepended to the patch sequence (class token; subclasses add more)."""
        return [] if self.cls_token is None else [self.cls_token.expand(batch, -1, -1)]

    def grid_pos_embed(self, grid: tuple[int, int]) -> torch.Tensor | None:
        """The position embedding for a patch grid, resampled when it differs from the built one."""
        kind, n_prefix = self.pos_embed_kind, self.num_prefix_tokens
        if kind == "none":
            return None
        if kind == "learned_2d":
            h = resample_1d(self.pos_embed_h, grid[0])
            w = resample_1d(self.pos_embed_w, grid[1])
            gh, gw = h.shape[1], w.shape[1]
            return torch.cat([h[:, :, None].expand(-1, gh, gw, -1), w[:, None].expand(-1, gh, gw, -1)], -1).flatten(
                1, 2
            )
        if tuple(grid) == tuple(self.grid_size):
            return self.pos_embed
        if kind == "sincos_2d":
            return sincos_2d(self.embed_dim, grid, n_prefix).to(self.pos_embed)
        return resample_abs_pos_embed(self.pos_embed, grid, self.grid_size, n_prefix)

    def _pos_embed(self, x: torch.Tensor) -> torch.Tensor:
        """Flatten the (B, gh, gw, D) patch grid, prepend prefix tokens and add position embeddings."""
        B, gh, gw, D = x.shape
        x = x.reshape(B, gh * gw, D)
        pos = self.grid_pos_embed((gh, gw))
        prefix = self.prefix_tokens(B)
        if pos is not None and self.pos_embed_kind == "learned_2d":
            x = x + pos
            pos = None
        x = torch.cat(prefix + [x], dim=1) if prefix else x
        if pos is not None:
            x = x + pos
        return self.pos_drop(x)

    def forward_features(self, x: torch.Tensor, return_attention: bool = False):
        """Image -> normalised tokens (B, prefix + N, D); with `return_attention`, also every block's weights."""
        x = self._pos_embed(self.patch_embed(x))
        if not return_attention:
            return self.norm(self.blocks(x))
        attns = []
        for blk in self.blocks:
            x, a = blk(x, return_attention=True)
            attns.append(a)
        return self.norm(x), attns

    @property
    def readout_token(self) -> int | None:
        """The token the head reads: 0 (the class token), or None when it averages the patch tokens."""
        return None if self.global_pool == "avg" or not self.num_prefix_tokens else 0

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.global_pool == "avg":
            return x[:, self.num_prefix_tokens :].mean(dim=1)
        return x[:, 0]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pre_logits(self.head_drop(self.fc_norm(self.pool(x))))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        if return_attention:
            x, attns = self.forward_features(x, return_attention=True)
            return self.forward_head(x), attns
        return self.forward_head(self.forward_features(x))

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Like `nn.Module.load_state_dict`, but resamples a position embedding made for another grid."""
        pos = state_dict.get("pos_embed")
        if self.pos_embed_kind == "learned" and pos is not None and pos.shape != self.pos_embed.shape:
            state_dict = dict(state_dict)
            state_dict["pos_embed"] = resample_abs_pos_embed(
                pos, self.grid_size, num_prefix_tokens=self.num_prefix_tokens
            )
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def resample_1d(table: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resample a (1, L, D) table of 1-D position codes to `length` positions."""
    if table.shape[1] == length:
        return table
    return nn.functional.interpolate(table.transpose(1, 2), size=length, mode="linear").transpose(1, 2)
