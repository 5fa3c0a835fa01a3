"""The studio's weights dialogs offer exactly the files the weights loader reads by their suffix."""

import re

from vitstudio.gui.panels.common import weights_filter
from vitstudio.models.weights.files import SUFFIXES, file_kind


def test_weights_dialog_offers_every_suffix_the_loader_knows(tmp_path):
    offered = re.fullmatch(r"Weights \(([^)]*)\);;All files \(\*\)", weights_filter()).group(1).split()
    assert {".safetensors", ".pth", ".pt", ".bin", ".npz"} <= {p.lstrip("*") for p in offered}
    for pattern in offered:  # an unrecognised content falls back to the kind the suffix says
        empty = tmp_path / f"empty{pattern.lstrip('*')}"
        empty.write_bytes(b"")
        assert file_kind(empty) == SUFFIXES[pattern.lstrip("*")]
    assert len(offered) == len(SUFFIXES)
