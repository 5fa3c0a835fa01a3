"""`vitstudio inspect` writes its figures for a ViT, a Hybrid, a DeiT and an MAE model."""

import json

import pytest

from vitstudio.analysis import bundled_images
from vitstudio.cli import main

FAMILY = {
    "vit_nano_patch4_32": "prediction",
    "vit_micro_r_s4_p1_32": "prediction",
    "deit_nano_distilled_patch4_32": "average",
    "mae_vit_nano_patch4_32": None,
}


@pytest.mark.parametrize("name", FAMILY)
def test_inspect_writes_every_figure_for_each_family(tmp_path, name):
    assert main(["inspect", str(bundled_images()[2]), "--model", name, "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "patches.png",
        "patch_sequence.png",
        "attention_layer_01.png",
        "rollout.png",
        "attention_distance.png",
        "position_similarity.png",
        "filters.png",
    } <= names
    head = FAMILY[name]
    if head is None:
        assert "mae_reconstruction.png" in names and "predictions.json" not in names
    else:
        assert head in json.loads((tmp_path / "predictions.json").read_text())
        assert "mae_reconstruction.png" not in names
    assert ("hybrid" in (tmp_path / "filters.txt").read_text()) == ("_r_" in name)
