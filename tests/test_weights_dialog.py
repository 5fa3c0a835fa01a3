"""The studio's weights dialogs offer exactly the files the weights loader reads by their suffix."""

import re

from vitstudio.gui.panels.common import weights_filter
from vitstudio.models.weights.files import SUFFIXES, file_kind


def test_weights_dialog_offers_every_suffix_the_loader_knows(tmp_path):
    offered = re.fullmatch(r"Weights \(([^)]*)\);;All files \(\*\)", weights_filter()).group(1).split()
    assert {".safetensors", ".pth", ".pt", ".bin", ".npz"} <= {p.lstrip("*") for p in offered}
    for pattern in offered:  # each is known by its suffix alone: the (missing) file is never opened
        assert file_kind(tmp_path / f"missing{pattern.lstrip('*')}") in ("safetensors", "npz", "torch")
    assert len(offered) == len(SUFFIXES)
