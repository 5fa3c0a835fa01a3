"""Public datasets read from a local root through torchvision: CIFAR-10/100, MNIST, Fashion-MNIST, STL-10,
Flowers-102 and Oxford-IIIT Pets.

Each split is returned as `(images, labels, class_names)` where `images` is either a uint8 (N, H, W, C)
array (the small datasets, kept in memory) or a dataset of `(PIL image, label)` (the photo datasets).
When files are missing and cannot be downloaded, `DatasetNotFound` names the folder and the files to put
there. CIFAR's pickled batches are read with a restricted unpickler that only rebuilds numpy arrays and
plain containers, so a file dropped into the folder cannot run code.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import ConcatDataset

from ..models.catalogue import IMAGENET_MEAN, IMAGENET_STD


class DatasetNotFound(FileNotFoundError):
    """A dataset's files are not in its folder (and could not be downloaded): `title`, the `folder` to fill
    and the `files` it needs, for a caller that words its own advice (the window)."""

    def __init__(self, message: str, title: str = "", folder: Path | None = None, files: tuple[str, ...] = ()):
        super().__init__(message)
        self.title, self.folder, self.files = title, folder, files


@dataclass(frozen=True)
class Source:
    title: str
    torchvision: str  # the class in torchvision.datasets
    folder: str  # where torchvision keeps it, relative to the root
    files: tuple[str, ...]  # what must be in `folder`
    in_memory: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    hflip: bool = True  # whether a mirror keeps the class (not for digits)


_IMAGENET = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

SOURCES = {
    "cifar10": Source(
        "CIFAR-10",
        "CIFAR10",
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"),
        True,
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
    ),
    "cifar100": Source(
        "CIFAR-100",
        "CIFAR100",
        "cifar-100-python",
        ("train", "test", "meta"),
        True,
        (0.5071, 0.4865, 0.4409),
        (0.2673, 0.2564, 0.2762),
    ),
    "mnist": Source("MNIST", "MNIST", "MNIST/raw", _MNIST_FILES, True, (0.1307,) * 3, (0.3081,) * 3, hflip=False),
    "fashion_mnist": Source(
        "Fashion-MNIST", "FashionMNIST", "FashionMNIST/raw", _MNIST_FILES, True, (0.2860,) * 3, (0.3530,) * 3
    ),
    "stl10": Source(
        "STL-10",
        "STL10",
        "stl10_binary",
        ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin", "unlabeled_X.bin", "class_names.txt"),
        True,
        (0.4467, 0.4398, 0.4066),
        (0.2603, 0.2566, 0.2713),
    ),
    "flowers102": Source(
        "Flowers-102", "Flowers102", "flowers-102", ("jpg/", "imagelabels.mat", "setid.mat"), False, **_IMAGENET
    ),
    "pets": Source(
        "Oxford-IIIT Pets",
        "OxfordIIITPet",
        "oxford-iiit-pet",
        ("images/", "annotations/trainval.txt", "annotations/test.txt"),
        False,
        **_IMAGENET,
    ),
}


def not_found(name: str, root: Path, reason: str = "") -> DatasetNotFound:
    src = SOURCES[name]
    return DatasetNotFound(not_found_message(name, root, reason), src.title, root / src.folder, src.files)


def not_found_message(name: str, root: Path, reason: str = "") -> str:
    src = SOURCES[name]
    folder = root / src.folder
    missing = [f for f in src.files if not (folder / f.rstrip("/")).exists()]
    why = f" ({reason})" if reason else ""
    gaps = f" (missing: {', '.join(missing)})" if missing else ""
    return (
        f"{src.title} is not in {folder}{why}.\n"
        f"Put these files there: {', '.join(src.files)}{gaps}\n"
        "or let it download (download=True) on a machine with network access, "
        "or point root at the folder that holds them."
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and numpy arrays; refuses every other global."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")} | {
        (f"{core}.{module}", name)
        for core in ("numpy.core", "numpy._core")  # numpy 1 and 2 spellings
        for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")
        return super().find_class(module, name)


def _read_cifar_file(path: Path) -> dict:
    try:
        return _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise DatasetNotFound(f"{path} is not a CIFAR batch file: {e}") from None


def _load_cifar(name: str, folder: Path, train: bool):
    if name == "cifar10":
        files, label_key = ([f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]), "labels"
        meta, names_key = "batches.meta", "label_names"
    else:
        files, label_key, meta, names_key = ["train" if train else "test"], "fine_labels", "meta", "fine_label_names"
    batches = [_read_cifar_file(folder / f) for f in files]
    data = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches])
    labels = np.concatenate([np.asarray(b[label_key], dtype=np.int64) for b in batches])
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels, list(_read_cifar_file(folder / meta)[names_key])


def _torchvision(name: str, root: Path, train: bool, download: bool):
    from torchvision import datasets as tvd  # deferred: torchvision takes a second to import

    if name in ("mnist", "fashion_mnist"):
        ds = getattr(tvd, SOURCES[name].torchvision)(str(root), train=train, download=download)
        return ds.data.numpy()[..., None], ds.targets.numpy().astype(np.int64), list(ds.classes)
    if name == "stl10":
        ds = tvd.STL10(str(root), split="train" if train else "test", download=download)
        return np.ascontiguousarray(ds.data.transpose(0, 2, 3, 1)), ds.labels.astype(np.int64), list(ds.classes)
    if name == "flowers102":
        try:
            import scipy.io  # noqa: F401  (torchvision reads Flowers-102's labels from .mat files)
        except ImportError:
            raise ImportError("Flowers-102 needs scipy to read its .mat label files: pip install scipy") from None
        if train:
            parts = [tvd.Flowers102(str(root), split=s, download=download) for s in ("train", "val")]
            return ConcatDataset(parts), None, list(parts[0].classes)
        ds = tvd.Flowers102(str(root), split="test", download=download)
        return ds, None, list(ds.classes)
    if name == "pets":
        ds = tvd.OxfordIIITPet(str(root), split="trainval" if train else "test", download=download)
        return ds, None, list(ds.classes)
    raise KeyError(name)


def load_public(name: str, root: str | Path, train: bool, download: bool = False):
    """One split (`train` True: the official training split; False: the official test split).

    Returns `(images, labels, class_names)`: uint8 (N, H, W, C) and int64 (N,) arrays for the in-memory
    datasets, `(dataset of (PIL image, label), None, class_names)` for the photo datasets.
    """
    if name not in SOURCES:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(SOURCES)}")
    root = Path(root).expanduser()
    if download:
        _download(name, root)
    folder = root / SOURCES[name].folder
    if not all((folder / f.rstrip("/")).exists() for f in SOURCES[name].files):
        raise not_found(name, root)
    try:
        if name.startswith("cifar"):
            return _load_cifar(name, folder, train)
        return _torchvision(name, root, train, download=False)
    except RuntimeError as e:  # torchvision's "Dataset not found or corrupted"
        raise not_found(name, root, str(e).split(".")[0].lower()) from None


def _download(name: str, root: Path) -> None:
    """Fetch the files with torchvision's downloader; a failure (no network) names the folder to fill by hand."""
    from torchvision import datasets as tvd  # deferred: torchvision takes a second to import

    src = SOURCES[name]
    if all((root / src.folder / f.rstrip("/")).exists() for f in src.files):
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        getattr(tvd, src.torchvision)(str(root), download=True)
    except (OSError, RuntimeError, ValueError) as e:  # URLError is an OSError
        raise not_found(name, root, f"download failed: {e}") from None
