"""Per-image transforms (`none`, `standard`, `deit`) and the batch-level Mixup/CutMix of the DeiT recipe.

All of it is torchvision.transforms.v2. `Augmentation` is the single description of a pipeline: the
per-image transform is built from it here, and the GPU-resident loader (`device.py`) applies the same
operations to whole batches from the same description.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.transforms import v2

from ..choices import AUGMENTS
from ..models.catalogue import IMAGENET_MEAN, IMAGENET_STD

#: What each `augment` value does, in a sentence (the Data tab shows it beside the choice).
AUGMENT_DESCRIPTIONS = {
    "none": "The whole image, resized to the model's input: no cropping, no flips, nothing random.",
    "standard": "A random crop (from the image padded by 1/8 for small images, RandomResizedCrop for photos) "
    "and, where the dataset allows, a horizontal flip.",
    "deit": "Standard, plus RandAugment (2 ops, magnitude 9) and random erasing (p 0.25); pair it with "
    "Mixup/CutMix and label smoothing, as DeiT does.",
}


@dataclass(frozen=True)
class Augmentation:
    """What is done to one image on its way to the model.

    augment: 'none' (the whole image, resized and normalised), 'standard' (random crop and, with `hflip`,
        horizontal flip) or 'deit' (standard plus RandAugment, then random erasing after normalisation;
        Mixup/CutMix are batch-level: `MixupCutmix`).
    crop: 'pad' for small images kept whole (random crop of `img_size` from the image zero-padded by
        `img_size // 8`, as for CIFAR) or 'resized' for photographs (RandomResizedCrop for training;
        resize to `img_size / 0.875` and centre crop for evaluation, unless augment is 'none').
    hflip: flip half the training images left-right (off for digits and text, which a mirror changes).
    """

    augment: str = "standard"
    img_size: int = 32
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    crop: str = "pad"
    train: bool = True
    hflip: bool = True
    randaugment_ops: int = 2
    randaugment_magnitude: int = 9
    erasing: float = 0.25

    def __post_init__(self):
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}, got {self.augment!r}")
        if self.crop not in ("pad", "resized"):
            raise ValueError(f"crop must be 'pad' or 'resized', got {self.crop!r}")

    @property
    def random(self) -> bool:
        return self.train and self.augment != "none"

    @property
    def padding(self) -> int:
        return self.img_size // 8

    @property
    def whole(self) -> bool:
        """Whether evaluation sees the whole image (squeezed to img_size), not a centre crop."""
        return self.crop == "pad" or self.augment == "none"

    def randaugment(self) -> v2.RandAugment:
        return v2.RandAugment(num_ops=self.randaugment_ops, magnitude=self.randaugment_magnitude)

    def _geometry(self) -> list:
        """The deterministic resize of evaluation (and of training before a 'pad' crop)."""
        size = self.img_size
        if self.whole:
            return [v2.Resize((size, size), antialias=True)]
        return [v2.Resize(int(size / 0.875), antialias=True), v2.CenterCrop(size)]

    def build(self) -> v2.Compose:
        """The per-image transform: a uint8 CHW tensor (1 or 3 channels) or a PIL RGB image in, a float
        CHW tensor out."""
        size = self.img_size
        ops: list = [v2.ToImage(), v2.RGB()]
        if not self.random:
            ops += self._geometry()
        elif self.crop == "pad":
            ops += [*self._geometry(), v2.RandomCrop(size, padding=self.padding)]
        else:
            ops += [v2.RandomResizedCrop(size, antialias=True)]
        if self.random and self.hflip:
            ops += [v2.RandomHorizontalFlip()]
        if self.random and self.augment == "deit":
            ops += [self.randaugment()]
        ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(self.mean, self.std)]
        if self.random and self.augment == "deit" and self.erasing > 0:
            ops += [v2.RandomErasing(p=self.erasing, value="random")]
        return v2.Compose(ops)

    def display(self) -> v2.Compose:
        """The deterministic geometry of evaluation, without normalisation: uint8 CHW out, for showing."""
        return v2.Compose([v2.ToImage(), v2.RGB(), *self._geometry()])

    def describe(self) -> str:
        """This pipeline in words, for people: what training does to an image, then what evaluation does."""
        size = self.img_size
        if self.augment == "none":
            train = f"the whole image at {size}x{size}"
        elif self.crop == "pad":
            train = f"a random {size}x{size} crop of the image padded by {self.padding} px"
        else:
            train = f"a random-resized {size}x{size} crop (8-100% of the image)"
        if self.augment != "none":
            train += ", flipped left-right half the time" if self.hflip else ", never flipped"
        if self.augment == "deit":
            train += f", RandAugment m{self.randaugment_magnitude}, random erasing p {self.erasing:g}"
        val = "the whole image" if self.whole else f"resized to {int(size / 0.875)} px, centre crop {size}"
        mean = ", ".join(f"{m:.3f}" for m in self.mean)
        std = ", ".join(f"{s:.3f}" for s in self.std)
        return f"Training: {train}. Evaluation: {val}. Normalised with mean ({mean}), std ({std})."


class MixupCutmix:
    """Batch-level Mixup or CutMix (one of the two per batch) with label smoothing, as in DeiT and timm.

    `mix(images, labels)` -> (mixed images, soft targets (B, num_classes) that sum to one). Pass the soft
    targets straight to `torch.nn.functional.cross_entropy`, which accepts class probabilities.
    Smoothing after mixing equals mixing smoothed one-hot targets, as timm does.
    """

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.1,
    ):
        if mixup_alpha <= 0 and cutmix_alpha <= 0:
            raise ValueError("at least one of mixup_alpha and cutmix_alpha must be positive")
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        mixers = []
        if mixup_alpha > 0:
            mixers.append(v2.MixUp(alpha=mixup_alpha, num_classes=num_classes))
        if cutmix_alpha > 0:
            mixers.append(v2.CutMix(alpha=cutmix_alpha, num_classes=num_classes))
        p = [1 - switch_prob, switch_prob] if len(mixers) == 2 else [1.0]
        self.mix = v2.RandomChoice(mixers, p=p)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = self.mix(images, labels)
        return images, targets * (1 - self.label_smoothing) + self.label_smoothing / self.num_classes


def build_batch_augment(augment: str, num_classes: int, **kw) -> MixupCutmix | None:
    """The batch-level augmentation that goes with `augment`: Mixup/CutMix for 'deit', else None.

    Keyword arguments (mixup_alpha, cutmix_alpha, switch_prob, label_smoothing) go to `MixupCutmix`.
    """
    if augment not in AUGMENTS:
        raise ValueError(f"augment must be one of {AUGMENTS}, got {augment!r}")
    return MixupCutmix(num_classes, **kw) if augment == "deit" else None
