"""Every named model, defined once: the ViT paper's sizes and small models that train on a CPU."""
from __future__ import annotations

from .registry import register_model
from .vit import VisionTransformer

#: width, depth and heads of each size (MLP ratio 4): Table 1 of the ViT paper, DeiT's Ti and S,
#: and two small sizes of ours for 32x32 images.
SIZES = {
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
    ("tiny", 16, 224), ("tiny", 16, 384), ("small", 16, 224), ("small", 16, 384), ("small", 32, 224),
    ("base", 8, 224), ("base", 16, 224), ("base", 16, 384), ("base", 32, 224), ("base", 32, 384),
    ("large", 16, 224), ("large", 16, 384), ("large", 32, 224), ("large", 32, 384), ("huge", 14, 224),
]
# Small models for the built-in dataset, CIFAR and MNIST: vit_{size}_patch{patch}_{image}, 10 classes.
_SMALL_VITS = [
    ("nano", 4, 32), ("micro", 4, 32), ("tiny", 4, 32), ("small", 4, 32), ("nano", 8, 64), ("micro", 8, 64),
]

for size, patch, img in _IMAGENET_VITS:
    register_model(f"vit_{size}_patch{patch}_{img}", VisionTransformer, patch_size=patch, img_size=img, **SIZES[size])
for size, patch, img in _SMALL_VITS:
    register_model(f"vit_{size}_patch{patch}_{img}", VisionTransformer, patch_size=patch, img_size=img,
                   num_classes=10, **SIZES[size])
