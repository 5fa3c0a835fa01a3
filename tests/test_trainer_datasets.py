"""Each dataset kind through the trainer, on files made in the test: CIFAR-10 in its pickle format, and an
image folder holding corrupt files (the built-in dataset is covered by the other trainer tests)."""

import pickle

import numpy as np
from PIL import Image
from train_helpers import tiny_config

from vitstudio.train import Trainer, find_run


def _cifar10(root, n=8):
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump(
                {
                    "batch_label": name,
                    "labels": rng.integers(0, 10, n).tolist(),
                    "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                },
                f,
                protocol=2,
            )
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)


def _folder(root):
    for k, c in enumerate(("cat", "dog", "fox")):
        (root / c).mkdir(parents=True)
        for i in range(8):
            Image.new("RGB", (40, 30), (30 * i, 80 * k, 128)).save(root / c / f"{i}.png")
    (root / "cat" / "empty.jpg").write_bytes(b"")
    (root / "dog" / "cut.png").write_bytes((root / "dog" / "0.png").read_bytes()[:40])


def _train(cfg, tmp_path):
    trainer = Trainer(cfg, runs_dir=tmp_path / "runs")
    final = trainer.run()
    assert final.kind == "finished", final.data
    return find_run(trainer.run_dir)


def test_cifar10_from_its_pickle_batches(tmp_path):
    _cifar10(tmp_path / "cifar")
    run = _train(
        tiny_config(
            "data.name=cifar10",
            f"data.root={tmp_path / 'cifar'}",
            "data.download=false",
            "optim.batch_size=8",
            "optim.epochs=1",
        ),
        tmp_path,
    )
    started = next(e for e in run.events() if e.kind == "started").data
    assert started["steps_per_epoch"] == 5 and started["class_names"][:2] == ["c0", "c1"]
    assert next(e for e in run.events() if e.kind == "eval").data["top5"] >= 0


def test_image_folder_with_corrupt_files(tmp_path):
    _folder(tmp_path / "imgs")
    run = _train(
        tiny_config(
            "data.name=folder",
            f"data.root={tmp_path / 'imgs'}",
            "data.val_fraction=0.25",
            "optim.batch_size=6",
            "optim.epochs=1",
        ),
        tmp_path,
    )
    started = next(e for e in run.events() if e.kind == "started").data
    assert started["num_classes"] == 3 and started["class_names"] == ["cat", "dog", "fox"]
    assert started["steps_per_epoch"] == 3  # 18 of the 24 readable images train, 6 per batch


def test_missing_dataset_fails_naming_the_folder(tmp_path):
    trainer = Trainer(
        tiny_config("data.name=cifar10", f"data.root={tmp_path / 'none'}", "data.download=false"),
        runs_dir=tmp_path / "runs",
    )
    final = trainer.run()
    assert final.kind == "failed" and str(tmp_path / "none") in final.data["reason"]


def test_the_cifar10_presets_recipe_runs_on_the_cpu(tmp_path):
    """The GPU preset's whole recipe (RandAugment, Mixup/CutMix, label smoothing, drop path), shrunk to a CPU step."""
    from vitstudio.config import apply_overrides, load_config

    _cifar10(tmp_path / "cifar")
    cfg = apply_overrides(
        load_config("cifar10"),
        [
            f"data.root={tmp_path / 'cifar'}",
            "data.download=false",
            "data.num_workers=0",
            "model.embed_dim=32",
            "model.depth=1",
            "model.num_heads=2",
            "optim.batch_size=8",
            "optim.epochs=1",
            "optim.warmup_epochs=0",
            "runtime.compile=false",
            "runtime.device=cpu",
            "runtime.log_every=1",
        ],
    )
    run = _train(cfg, tmp_path)
    losses = [e.data["loss"] for e in run.events() if e.kind == "step"]
    assert len(losses) == 5 and all(np.isfinite(losses))
