"""torchvision's datasets from a local root, on tiny fake copies in their native formats (never downloaded)."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from vitstudio.data import DatasetNotFound, build_datasets, build_loader, sample_images

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _write_cifar10(root, n_per_batch=8, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump(
                {
                    "batch_label": name,
                    "labels": labels,
                    "data": data,
                    "filenames": [f"{i}.png" for i in range(n_per_batch)],
                },
                f,
                protocol=2,
            )
        batches[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR10_NAMES, "num_cases_per_batch": n_per_batch, "num_vis": 3072}, f)
    return batches


def _write_idx(path, array):
    dims = array.shape
    header = struct.pack(">HBB", 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    with gzip.open(path, "wb") if path.suffix == ".gz" else open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _write_mnist(root, folder="MNIST", n=12, seed=0):
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    images = {}
    for split in ("train", "t10k"):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        _write_idx(raw / f"{split}-images-idx3-ubyte", x)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", y)
        images[split] = (x, y)
    return images


def test_cifar10_from_its_pickle_batches(tmp_path):
    batches = _write_cifar10(tmp_path)
    b = build_datasets("cifar10", root=tmp_path, augment="none", download=False)
    assert (len(b.train), len(b.val), b.num_classes) == (40, 8, 10)
    assert b.class_names == CIFAR10_NAMES
    data, labels = batches["data_batch_2"]
    expected = torch.from_numpy(data[3].reshape(3, 32, 32).copy()).float() / 255
    x, y = b.train[8 + 3]
    mean, std = torch.tensor(b.mean)[:, None, None], torch.tensor(b.std)[:, None, None]
    assert torch.allclose(x * std + mean, expected, atol=1e-6)  # channel-first rows of 1024, as in the format
    assert y == labels[3]
    assert b.val[0][1] == batches["test_batch"][1][0]


def test_cifar_file_that_would_run_code_is_refused(tmp_path):
    _write_cifar10(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": Evil(), "labels": []}, f)
    with pytest.raises(DatasetNotFound, match="refusing to load"):
        build_datasets("cifar10", root=tmp_path, download=False)


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_idx_files_become_rgb_at_the_requested_size(tmp_path, name, folder):
    images = _write_mnist(tmp_path, folder)
    b = build_datasets(name, root=tmp_path, img_size=32, augment="standard", download=False)
    assert (len(b.train), len(b.val), b.num_classes) == (12, 12, 10)
    x, y = b.val[5]
    assert x.shape == (3, 32, 32)
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])  # grey made RGB
    assert y == int(images["t10k"][1][5])
    sample = sample_images(b, n=3)[0]
    assert sample.image.shape == (32, 32, 3)
    # The resident path serves the 1-channel, 28-pixel arrays at 3 x 32 x 32 too.
    xb, _ = next(iter(build_loader(b.val, 4, train=False, resident=True)))
    assert xb.shape == (4, 3, 32, 32) and torch.equal(xb[1], b.val[1][0])


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "mnist", "stl10", "flowers102", "pets"])
def test_missing_files_name_the_folder_and_files(tmp_path, name):
    with pytest.raises(DatasetNotFound) as e:
        build_datasets(name, root=tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path) in msg
    expected = {
        "cifar10": "data_batch_1",
        "cifar100": "meta",
        "mnist": "train-images-idx3-ubyte",
        "stl10": "train_X.bin",
        "flowers102": "imagelabels.mat",
        "pets": "annotations/trainval.txt",
    }[name]
    assert expected in msg and "download" in msg


def test_partial_cifar_lists_what_is_missing(tmp_path):
    _write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(DatasetNotFound, match=r"missing: data_batch_4\)"):
        build_datasets("cifar10", root=tmp_path, download=False)


def test_unknown_dataset_and_stray_keywords():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        build_datasets("imagenet")
    with pytest.raises(TypeError, match="num_train"):
        build_datasets("cifar10", num_train=5)
