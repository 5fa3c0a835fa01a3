"""The inspector's "Pretrained…" dialog against a hub on 127.0.0.1: progress moves, Cancel stops the download and
keeps nothing, a second try loads, and cached weights load without the network."""

import pytest
import torch
from hub_server import LoopbackHub
from PySide6.QtWidgets import QDialog
from safetensors.torch import save

from vitstudio.analysis.sources import from_pretrained
from vitstudio.gui.panels.pretrained import PretrainedDialog
from vitstudio.models import create_model, pretrained_cfg
from vitstudio.models.hub import is_cached

TAG = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"


@pytest.fixture
def repo():
    """The tag's repository with random weights of its architecture (23 MB)."""
    torch.manual_seed(0)
    weights = create_model(TAG).state_dict()
    return weights, {f"timm/{TAG}": {"model.safetensors": save(weights)}}


@pytest.mark.slow
def test_download_shows_progress_can_be_cancelled_and_then_loads(qtbot, hub_env, repo, tmp_path):
    weights, repos = repo
    cfg = pretrained_cfg(TAG)
    with LoopbackHub(repos, chunk=1 << 18, delay=0.05) as hub:
        hub_env.setenv("HF_ENDPOINT", hub.endpoint)
        dialog = PretrainedDialog()
        qtbot.addWidget(dialog)
        dialog.search.setText("tiny augreg")
        visible = [dialog.list.item(i).text() for i in range(dialog.list.count()) if not dialog.list.item(i).isHidden()]
        assert visible and all("tiny" in t and "augreg" in t for t in visible) and "cached" not in visible[0]
        dialog.select(TAG)
        dialog.load_button.click()
        qtbot.waitUntil(lambda: dialog.bar.maximum() == 1000 and dialog.bar.value() > 0, timeout=10000)
        first = dialog.bar.value()
        qtbot.waitUntil(lambda: dialog.bar.value() > first, timeout=10000)  # it moves
        dialog.reject()  # Cancel during the download stops it; the dialog stays
        qtbot.waitUntil(lambda: dialog.task is None, timeout=10000)
        assert "cancelled" in dialog.info.text() and dialog.chosen is None
        assert not is_cached(cfg) and not list((tmp_path / "hf").rglob("blobs/*"))
        hub.delay = 0.0
        dialog.load_button.click()
        qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=20000)
        assert dialog.chosen == TAG and is_cached(cfg)
    hub_env.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # no hub now: the cache answers
    again = PretrainedDialog()
    qtbot.addWidget(again)
    again.select(TAG)
    assert "cached" in again.list.currentItem().text()
    source = from_pretrained(TAG)
    assert torch.equal(source.model.head.weight, weights["head.weight"]) and source.mean == (0.5, 0.5, 0.5)
    assert len(source.class_names) == 1000
