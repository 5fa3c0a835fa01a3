"""Masked autoencoder (He et al., 2021) on our ViT: the encoder sees only the visible patches.

`MaskedAutoencoderViT` is a `VisionTransformer` (patch embedding, fixed 2-D sin-cos position embedding,
blocks, norm; no head) plus the MAE decoder. Its parameter names are those of the authors' code
(`cls_token`, `pos_embed`, `patch_embed.proj`, `blocks.N`, `norm`, `mask_token`, `decoder_embed`,
`decoder_pos_embed`, `decoder_blocks.N`, `decoder_norm`, `decoder_pred`), so their checkpoints load
directly and the encoder part loads into a classification ViT (`weights.pretrained_to_vit`).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import Block, LayerNorm, to_2tuple
from .pos_embed import sincos_2d
from .vit import VisionTransformer


def patchify(imgs: torch.Tensor, patch_size) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, p*p*C), patches in row-major order, pixels as (row, col, channel)."""
    ph, pw = to_2tuple(patch_size)
    B, C, H, W = imgs.shape
    if H % ph or W % pw:
        raise ValueError(f"image {H}x{W} is not divisible by the patch size {ph}x{pw}")
    x = imgs.reshape(B, C, H // ph, ph, W // pw, pw).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(B, (H // ph) * (W // pw), ph * pw * C)


def unpatchify(x: torch.Tensor, patch_size, grid_size, in_chans: int = 3) -> torch.Tensor:
    """Inverse of `patchify`: (B, gh*gw, p*p*C) -> (B, C, gh*p, gw*p)."""
    ph, pw = to_2tuple(patch_size)
    gh, gw = grid_size
    B = x.shape[0]
    x = x.reshape(B, gh, gw, ph, pw, in_chans).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(B, in_chans, gh * ph, gw * pw)


def check_mask_ratio(mask_ratio: float) -> None:
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must lie strictly between 0 and 1, got {mask_ratio}")


def random_masking(x: torch.Tensor, mask_ratio: float, noise: torch.Tensor | None = None):
    """Per-sample random masking by sorting noise: keep the `int(N * (1 - mask_ratio))` lowest-noise tokens.

    x: (B, N, D); noise: (B, N), uniform by default (pass it to make masking reproducible).
    Returns (kept tokens (B, N_keep, D), mask (B, N) with 1 = removed, ids_restore (B, N)).
    """
    B, N, D = x.shape
    len_keep = int(N * (1 - mask_ratio))
    if noise is None:
        noise = torch.rand(B, N, device=x.device)
    elif noise.shape != (B, N):
        raise ValueError(f"noise must have shape {(B, N)} (batch, patches), got {tuple(noise.shape)}")
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    x_kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, D))
    mask = torch.ones(B, N, device=x.device)
    mask[:, :len_keep] = 0
    return x_kept, torch.gather(mask, 1, ids_restore), ids_restore


class MaskedAutoencoderViT(VisionTransformer):
    """MAE with a ViT encoder; `forward(imgs, mask_ratio=0.75, noise=None) -> (loss, pred, mask)`.

    pred: (B, N, p*p*C) pixel predictions per patch (per-patch normalised targets if `norm_pix_loss`);
    mask: (B, N), 1 where the patch was removed. The loss is the MSE over removed patches only.
    """

    family = "mae"
    default_mask_ratio = 0.75  # the paper's: the encoder sees a quarter of the patches

    def __init__(
        self,
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
        norm_pix_loss=False,
        qkv_bias=True,
        drop_path_rate=0.0,
    ):
        super().__init__(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            num_classes=0,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            pos_embed="sincos_2d",
            drop_path_rate=drop_path_rate,
        )
        self.in_chans = in_chans
        self.patch_size = to_2tuple(patch_size)
        self.norm_pix_loss = norm_pix_loss
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.register_buffer("decoder_pos_embed", sincos_2d(decoder_embed_dim, self.grid_size, self.num_prefix_tokens))
        self.decoder_blocks = nn.ModuleList(
            [Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, qkv_bias=qkv_bias) for _ in range(decoder_depth)]
        )
        self.decoder_norm = LayerNorm(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, self.patch_size[0] * self.patch_size[1] * in_chans)
        self._init_mae_weights()

    def _init_mae_weights(self) -> None:
        """The authors' initialisation: xavier-uniform linears (and patch projection), normal(0.02) tokens."""
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        return super().no_weight_decay() | {"mask_token"}

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        return patchify(imgs, self.patch_size)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        return unpatchify(x, self.patch_size, self.grid_size, self.in_chans)

    def forward_encoder(self, imgs: torch.Tensor, mask_ratio: float, noise: torch.Tensor | None = None):
        """Embed, add positions, drop the masked patches, encode the rest (prefix tokens kept)."""
        x = self._pos_embed(self.patch_embed(imgs))
        n = self.num_prefix_tokens
        kept, mask, ids_restore = random_masking(x[:, n:], mask_ratio, noise)
        x = torch.cat([x[:, :n], kept], dim=1)
        return self.norm(self.blocks(x)), mask, ids_restore

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Encoded visible tokens -> pixel predictions (B, N, p*p*C) for every patch."""
        x = self.decoder_embed(latent)
        B, _, D = x.shape
        n = self.num_prefix_tokens
        N = ids_restore.shape[1]
        patches = torch.cat([x[:, n:], self.mask_token.expand(B, N - (x.shape[1] - n), -1)], dim=1)
        patches = torch.gather(patches, 1, ids_restore.unsqueeze(-1).expand(-1, -1, D))
        x = torch.cat([x[:, :n], patches], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, n:]

    def target(self, imgs: torch.Tensor) -> torch.Tensor:
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        return target

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        loss = ((pred - self.target(imgs)) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(self, imgs: torch.Tensor, mask_ratio: float | None = None, noise: torch.Tensor | None = None):
        mask_ratio = self.default_mask_ratio if mask_ratio is None else mask_ratio
        check_mask_ratio(mask_ratio)
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio, noise)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask

    @torch.no_grad()
    def reconstruct(
        self, imgs: torch.Tensor, mask_ratio: float | None = None, noise: torch.Tensor | None = None
    ) -> dict:
        """What the reconstruction view shows, all (B, C, H, W) in the input's (normalised) pixel space.

        `pred`: the prediction. With `norm_pix_loss` it stays per-patch normalised, as the MAE authors
        show it: un-normalising a masked patch would need its own mean and std, which the model never saw.
        `mask`: 1 where removed. `masked`: the input with removed patches set to 0. `pasted`: the
        prediction with the visible patches pasted back. `norm_pix`: whether `pred` is per-patch normalised.
        """
        loss, pred, mask = self(imgs, mask_ratio, noise)
        pred = self.unpatchify(pred)
        p = self.patch_size[0] * self.patch_size[1] * self.in_chans
        mask = self.unpatchify(mask.unsqueeze(-1).expand(-1, -1, p))
        return {
            "pred": pred,
            "mask": mask,
            "masked": imgs * (1 - mask),
            "pasted": imgs * (1 - mask) + pred * mask,
            "norm_pix": self.norm_pix_loss,
            "loss": loss.item(),
        }
