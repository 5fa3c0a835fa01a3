"""Inspecting a training run: its model, its input normalisation and its class names."""

import json

import pytest
from train_helpers import tiny_config

from vitstudio.analysis import bundled_images
from vitstudio.analysis.sources import from_run
from vitstudio.cli import main
from vitstudio.data import SHAPE_CLASSES
from vitstudio.train.runs import find_run
from vitstudio.train.trainer import Trainer


@pytest.mark.slow
def test_inspect_a_run(tmp_path, capsys):
    trainer = Trainer(tiny_config("optim.epochs=1"), runs_dir=tmp_path / "runs")
    trainer.run()
    source = from_run(trainer.run_dir.name, runs_dir=tmp_path / "runs")
    status = find_run(trainer.run_dir).status()
    assert source.mean == tuple(status["mean"]) and source.std == tuple(status["std"]) and len(source.mean) == 3
    assert source.class_names == list(SHAPE_CLASSES)
    shape = next(p for p in bundled_images() if p.name.startswith("shape_"))
    out = tmp_path / "figs"
    assert main(["inspect", str(shape), "--run", str(trainer.run_dir), "--checkpoint", "last", "--out", str(out)]) == 0
    preds = json.loads((out / "predictions.json").read_text())["prediction"]
    assert {name for name, _ in preds} <= set(SHAPE_CLASSES)
    distance = json.loads((out / "attention_distance.json").read_text())
    assert distance["images"] == "16 validation images of builtin"  # all 16 of the run's val split (of 32 asked)
    assert "run " in capsys.readouterr().out

    assert (
        main(
            ["inspect", str(shape), "--run", "nothing-like-it", "--runs-dir", str(tmp_path / "runs"), "--out", str(out)]
        )
        == 2
    )
    assert "no run 'nothing-like-it'" in capsys.readouterr().err
    assert (
        main(["inspect", str(shape), "--run", str(trainer.run_dir), "--model", "vit_nano_patch4_32", "--out", str(out)])
        == 2
    )
