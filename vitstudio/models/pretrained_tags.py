"""Every pretrained tag, defined once: where its weights come from and how its model must be fed.

The facts are timm's pretrained configs (`timm.models.get_pretrained_cfg(name)`; a test checks this table
against them), torchvision's weight enums and the transformers repositories' configs. Google's augreg and
original checkpoints are normalised with 0.5 / 0.5, DeiT, MAE and torchvision's with ImageNet's statistics.
Sizes are those of the float32 weights, in MB.
"""

from __future__ import annotations

from . import variants  # noqa: F401  (the models the tags belong to)
from .catalogue import PretrainedCfg, register_pretrained

HALF = (0.5, 0.5, 0.5)


def _timm(model: str, tag: str, mb: float, **kw) -> None:
    """A tag on timm's hub: `timm/<model>.<tag>` holds `model.safetensors` in timm's layout."""
    register_pretrained(PretrainedCfg(model, tag, f"hf-hub:timm/{model}.{tag}", download_mb=mb, **kw))


# -- ViT, augreg (Steiner et al.): ImageNet-21k, fine-tuned on ImageNet-1k; and the 21k heads.
for model, mb in (
    ("vit_tiny_patch16_224", 22.9),
    ("vit_small_patch16_224", 88.2),
    ("vit_base_patch16_224", 346.3),
    ("vit_large_patch16_224", 1217.3),
    ("vit_base_patch32_224", 352.9),
):
    _timm(model, "augreg_in21k_ft_in1k", mb, mean=HALF, std=HALF)
_timm("vit_base_patch16_224", "augreg2_in21k_ft_in1k", 346.3, mean=HALF, std=HALF)
_timm("vit_base_patch16_224", "augreg_in21k", 410.4, mean=HALF, std=HALF, num_classes=21843, labels="imagenet-21k")
_timm("vit_base_patch16_384", "augreg_in21k_ft_in1k", 347.5, mean=HALF, std=HALF, input_size=384, crop_pct=1.0)

# -- Hybrids: R50+B/16 (the ViT paper's, at 384; its ImageNet-21k features at 224) and R26+S/32 (augreg).
_timm("vit_base_r50_s16_384", "orig_in21k_ft_in1k", 395.8, mean=HALF, std=HALF, input_size=384, crop_pct=1.0)
_timm("vit_base_r50_s16_224", "orig_in21k", 391.6, mean=HALF, std=HALF, num_classes=0, labels="none")
_timm("vit_small_r26_s32_224", "augreg_in21k_ft_in1k", 145.7, mean=HALF, std=HALF)

# -- DeiT (Touvron et al.), plain and distilled, ImageNet-1k.
for size, mb, distilled_mb in (("tiny", 22.9, 23.6), ("small", 88.2, 89.7), ("base", 346.3, 349.4)):
    _timm(f"deit_{size}_patch16_224", "fb_in1k", mb)
    _timm(f"deit_{size}_distilled_patch16_224", "fb_in1k", distilled_mb)

# -- MAE (He et al.): the encoder (timm; no head) and the whole autoencoder with its decoder (transformers).
_timm("vit_base_patch16_224", "mae", 343.2, num_classes=0, labels="none")
register_pretrained(
    PretrainedCfg(
        "mae_vit_base_patch16",
        "mae_hf",
        "hf-hub:facebook/vit-mae-base",
        layout="transformers",
        num_classes=0,
        labels="none",
        download_mb=448.0,
    )
)

# -- transformers' ViT-B/16 (Google's ImageNet-21k checkpoint fine-tuned on ImageNet-1k).
register_pretrained(
    PretrainedCfg(
        "vit_base_patch16_224",
        "google_in21k_ft_in1k",
        "hf-hub:google/vit-base-patch16-224",
        layout="transformers",
        mean=HALF,
        std=HALF,
        download_mb=346.3,
    )
)

# -- torchvision's ViT-B/16: DeiT-style recipe (resize 256, crop 224, bilinear) and SWAG's frozen trunk
# with a linear head (resize 224, bicubic).
register_pretrained(
    PretrainedCfg(
        "vit_base_patch16_224",
        "tv_in1k",
        "torchvision:ViT_B_16_Weights.IMAGENET1K_V1",
        layout="torchvision",
        interpolation="bilinear",
        crop_pct=0.875,
        download_mb=330.3,
    )
)
register_pretrained(
    PretrainedCfg(
        "vit_base_patch16_224",
        "tv_swag_lin_in1k",
        "torchvision:ViT_B_16_Weights.IMAGENET1K_SWAG_LINEAR_V1",
        layout="torchvision",
        crop_pct=1.0,
        download_mb=330.3,
    )
)
