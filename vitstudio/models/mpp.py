"""Masked patch prediction, the ViT paper's self-supervision (Appendix B.1.2).

A share `mask_ratio` (50%) of the patch embeddings is corrupted before the position embedding is added:
80% of them become a learnable [mask] embedding, 10% a random other patch's embedding, 10% stay as they
are. The encoder then predicts, for every corrupted patch, its 3-bit mean colour (512-way cross-entropy;
`target='color'`) or its pixels (L2; `target='pixels'`).

The mean colour is taken on un-normalised pixels: inputs are assumed normalised as `(x - mean) / std`
with the constructor's `mean` and `std` (default 0.5 / 0.5, the ViT paper's [-1, 1] scaling; pass your
data's statistics, e.g. `DatasetBundle.mean/std`), and `x` is in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .mae import check_mask_ratio, patchify
from .vit import VisionTransformer

TARGETS = ("color", "pixels")


class MaskedPatchPredictionViT(VisionTransformer):
    """`forward(imgs, mask_ratio=0.5, noise=None) -> (loss, pred, mask)`.

    pred: (B, N, 2**(color_bits*C)) colour logits or (B, N, p*p*C) pixels for every patch;
    mask: (B, N), 1 where the patch embedding was corrupted (the loss covers those only).
    `noise` (B, N) decides the corruption: patches sorted by noise, the first `mask_ratio` share is
    corrupted, split 80/10/10 in that order; the random replacements are the embeddings of the
    highest-noise (uncorrupted) patches of the same image.
    """

    family = "mpp"
    default_mask_ratio = 0.5  # the ViT paper's: half of the patch embeddings are corrupted

    def __init__(
        self,
        img_size=224,
        patch_size=16,
        in_chans=3,
        target="color",
        color_bits=3,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        replace_probs=(0.8, 0.1, 0.1),
        **kwargs,
    ):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        if len(replace_probs) != 3 or min(replace_probs) < 0 or abs(sum(replace_probs) - 1) > 1e-6:
            raise ValueError(
                f"replace_probs (mask token, random patch, unchanged) must be 3 shares summing to 1, "
                f"got {tuple(replace_probs)}"
            )
        if len(mean) != in_chans or len(std) != in_chans:
            raise ValueError(f"mean and std need one value per input channel ({in_chans})")
        kwargs["num_classes"] = 0
        super().__init__(img_size=img_size, patch_size=patch_size, in_chans=in_chans, **kwargs)
        self.target, self.color_bits, self.replace_probs = target, color_bits, tuple(replace_probs)
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
        nn.init.normal_(self.mask_token, std=0.02)
        p = self.patch_embed.patch_size
        out = 2 ** (color_bits * in_chans) if target == "color" else p[0] * p[1] * in_chans
        self.mpp_head = nn.Linear(self.embed_dim, out)
        nn.init.trunc_normal_(self.mpp_head.weight, std=0.02)
        nn.init.zeros_(self.mpp_head.bias)

    def no_weight_decay(self) -> set[str]:
        return super().no_weight_decay() | {"mask_token"}

    def corrupt(self, x: torch.Tensor, mask_ratio: float, noise: torch.Tensor | None = None):
        """Corrupt patch embeddings x (B, N, D); returns (corrupted x, mask (B, N) with 1 = corrupted)."""
        B, N, D = x.shape
        if noise is None:
            noise = torch.rand(B, N, device=x.device)
        elif noise.shape != (B, N):
            raise ValueError(f"noise must have shape {(B, N)} (batch, patches), got {tuple(noise.shape)}")
        n_corrupt = int(N * mask_ratio)
        n_token = round(n_corrupt * self.replace_probs[0])
        n_random = min(round(n_corrupt * self.replace_probs[1]), n_corrupt - n_token)
        order = torch.argsort(noise, dim=1)
        to_token, to_random = order[:, :n_token], order[:, n_token : n_token + n_random]
        sources = order.flip(1)[:, :n_random]  # highest noise: never corrupted while n_corrupt + n_random <= N
        out = x.scatter(
            1, to_random.unsqueeze(-1).expand(-1, -1, D), torch.gather(x, 1, sources.unsqueeze(-1).expand(-1, -1, D))
        )
        out = out.scatter(1, to_token.unsqueeze(-1).expand(-1, -1, D), self.mask_token.expand(B, n_token, D).to(x))
        mask = torch.zeros(B, N, device=x.device).scatter_(1, order[:, :n_corrupt], 1.0)
        return out, mask

    def mean_color_class(self, imgs: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) normalised images -> (B, N) index of each patch's mean colour, `color_bits` per channel."""
        pixels = (imgs * self.pixel_std + self.pixel_mean).clamp(0, 1)
        color = F.avg_pool2d(pixels, self.patch_embed.patch_size).flatten(2).transpose(1, 2)  # (B, N, C)
        levels = 2**self.color_bits
        bins = (color * levels).floor().clamp(max=levels - 1).long()
        weights = levels ** torch.arange(bins.shape[-1] - 1, -1, -1, device=bins.device)
        return (bins * weights).sum(-1)

    def forward(self, imgs: torch.Tensor, mask_ratio: float | None = None, noise: torch.Tensor | None = None):
        mask_ratio = self.default_mask_ratio if mask_ratio is None else mask_ratio
        check_mask_ratio(mask_ratio)
        grid = self.patch_embed(imgs)
        B, gh, gw, D = grid.shape
        x, mask = self.corrupt(grid.reshape(B, gh * gw, D), mask_ratio, noise)
        x = self.norm(self.blocks(self._pos_embed(x.reshape(B, gh, gw, D))))
        pred = self.mpp_head(x[:, self.num_prefix_tokens :])
        corrupted = mask.bool()
        if self.target == "color":
            loss = F.cross_entropy(pred[corrupted], self.mean_color_class(imgs)[corrupted])
        else:
            loss = F.mse_loss(pred[corrupted], patchify(imgs, self.patch_embed.patch_size)[corrupted])
        return loss, pred, mask
