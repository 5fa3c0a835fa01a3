"""Datasets, transforms and loaders: the built-in shapes, torchvision's public datasets, image folders."""

from ..user_dirs import user_cache_dir
from .build import DATASETS, DatasetBundle, Sample, build_datasets, datasets_from_config, sample_images
from .datasets import ArrayDataset, PILDataset
from .device import DeviceLoader, augment_batch, fits_on_device
from .images import ImageFileError, open_image, to_rgb
from .loader import EpochSampler, build_loader
from .public import DatasetNotFound
from .shapes import CLASSES as SHAPE_CLASSES
from .transforms import AUGMENT_DESCRIPTIONS, AUGMENTS, Augmentation, MixupCutmix, build_batch_augment

__all__ = [
    "AUGMENTS",
    "AUGMENT_DESCRIPTIONS",
    "DATASETS",
    "SHAPE_CLASSES",
    "ArrayDataset",
    "Augmentation",
    "DatasetBundle",
    "DatasetNotFound",
    "DeviceLoader",
    "EpochSampler",
    "ImageFileError",
    "MixupCutmix",
    "PILDataset",
    "Sample",
    "augment_batch",
    "build_batch_augment",
    "build_datasets",
    "build_loader",
    "datasets_from_config",
    "fits_on_device",
    "open_image",
    "sample_images",
    "to_rgb",
    "user_cache_dir",
]
