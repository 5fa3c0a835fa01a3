"""Every named model, defined once: ViT, Hybrid, DeiT, MAE and masked patch prediction, at the papers'
sizes (timm names where timm has them) and small sizes that train on a CPU."""

from __future__ import annotations

from .catalogue import register_model
from .deit import DistilledVisionTransformer
from .hybrid import HybridVisionTransformer
from .mae import MaskedAutoencoderViT
from .mpp import MaskedPatchPredictionViT
from .vit import VisionTransformer

#: width, depth and heads of each size (MLP ratio 4): Table 1 of the ViT paper, DeiT's Ti and S,
#: and three small sizes of ours for 32x32 images.
SIZES = {
    "pico": dict(embed_dim=96, depth=3, num_heads=3),
    "nano": dict(embed_dim=128, depth=6, num_heads=4),
    "micro": dict(embed_dim=192, depth=6, num_heads=3),
    "tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
    "large": dict(embed_dim=1024, depth=24, num_heads=16),
    "huge": dict(embed_dim=1280, depth=32, num_heads=16),
}

# (size, patch, image) for the timm names vit_{size}_patch{patch}_{image}.
_IMAGENET_VITS = [
    ("tiny", 16, 224),
    ("tiny", 16, 384),
    ("small", 16, 224),
    ("small", 16, 384),
    ("small", 32, 224),
    ("base", 8, 224),
    ("base", 16, 224),
    ("base", 16, 384),
    ("base", 32, 224),
    ("base", 32, 384),
    ("large", 16, 224),
    ("large", 16, 384),
    ("large", 32, 224),
    ("large", 32, 384),
    ("huge", 14, 224),
]
# Small models for the built-in dataset, CIFAR and MNIST: vit_{size}_patch{patch}_{image}, 10 classes.
_SMALL_VITS = [
    ("nano", 4, 32),
    ("micro", 4, 32),
    ("tiny", 4, 32),
    ("small", 4, 32),
    ("nano", 8, 64),
    ("micro", 8, 64),
]

for size, patch, img in _IMAGENET_VITS:
    register_model(f"vit_{size}_patch{patch}_{img}", VisionTransformer, patch_size=patch, img_size=img, **SIZES[size])
for size, patch, img in _SMALL_VITS:
    register_model(
        f"vit_{size}_patch{patch}_{img}",
        VisionTransformer,
        patch_size=patch,
        img_size=img,
        num_classes=10,
        **SIZES[size],
    )

# -- Hybrid (ViT paper Table 6; timm names): ResNetV2 stages (empty = stem only), ViT size, map patch, image,
# classes (as timm: the R50 at 224 is the ImageNet-21k feature extractor, without a head).
_HYBRIDS = [
    ("vit_tiny_r_s16_p8_224", (), "tiny", 8, 224, 1000),
    ("vit_small_r26_s32_224", (2, 2, 2, 2), "small", 1, 224, 1000),
    ("vit_base_r50_s16_224", (3, 4, 9), "base", 1, 224, 0),
    ("vit_base_r50_s16_384", (3, 4, 9), "base", 1, 384, 1000),
]
for name, layers, size, patch, img, classes in _HYBRIDS:
    register_model(
        name, HybridVisionTransformer, layers=layers, patch_size=patch, img_size=img, num_classes=classes, **SIZES[size]
    )
# Small hybrids for 32x32 images, 64 tokens: the ResNetV2 stem (stride 4), or torchvision's ResNet-18 to
# layer3 with a 3x3/1 stem and no max-pool (stride 4).
register_model(
    "vit_micro_r_s4_p1_32", HybridVisionTransformer, layers=(), img_size=32, num_classes=10, **SIZES["micro"]
)
# The `quick` preset's model: the stem and one bottleneck block (256 channels) under a pico ViT with a 2x MLP
# that averages its patch tokens.
register_model(
    "vit_pico_r1_s4_p1_32",
    HybridVisionTransformer,
    layers=(1,),
    img_size=32,
    num_classes=10,
    mlp_ratio=2.0,
    global_pool="avg",
    **SIZES["pico"],
)
register_model(
    "vit_micro_resnet18_s4_32",
    HybridVisionTransformer,
    backbone="resnet18",
    cifar_stem=True,
    img_size=32,
    num_classes=10,
    **SIZES["micro"],
)

# -- DeiT: plain (same shapes as ViT) and distilled, plus small distilled models for 32x32 images.
for size in ("tiny", "small", "base"):
    register_model(f"deit_{size}_patch16_224", VisionTransformer, patch_size=16, img_size=224, **SIZES[size])
    register_model(
        f"deit_{size}_distilled_patch16_224", DistilledVisionTransformer, patch_size=16, img_size=224, **SIZES[size]
    )
for size in ("nano", "micro", "tiny", "small"):
    register_model(
        f"deit_{size}_distilled_patch4_32",
        DistilledVisionTransformer,
        patch_size=4,
        img_size=32,
        num_classes=10,
        **SIZES[size],
    )

# -- MAE: the authors' encoders with a 512-wide, 8-deep, 16-head decoder; small encoders for 32x32
# images (as the small ViTs) with a 128-wide, 2-deep decoder.
_MAE_DECODER = dict(decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16)
for size, patch in (("base", 16), ("large", 16), ("huge", 14)):
    register_model(
        f"mae_vit_{size}_patch{patch}",
        MaskedAutoencoderViT,
        patch_size=patch,
        img_size=224,
        **SIZES[size],
        **_MAE_DECODER,
    )
for size in ("nano", "micro", "tiny", "small"):
    register_model(
        f"mae_vit_{size}_patch4_32",
        MaskedAutoencoderViT,
        patch_size=4,
        img_size=32,
        **SIZES[size],
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4,
    )

# -- Masked patch prediction (the ViT paper's self-supervision).
register_model("mpp_vit_base_patch16_224", MaskedPatchPredictionViT, patch_size=16, img_size=224, **SIZES["base"])
for size in ("nano", "micro", "tiny", "small"):
    register_model(f"mpp_vit_{size}_patch4_32", MaskedPatchPredictionViT, patch_size=4, img_size=32, **SIZES[size])
