"""The inspector panel on a DeiT (two query tokens) and an MAE model (mask ratio and seed)."""

import numpy as np
import pytest
from conftest import wait_view

from vitstudio.gui.panels.inspector import InspectorPanel
from vitstudio.models import create_model


@pytest.fixture
def panel(qtbot):
    p = InspectorPanel()
    qtbot.addWidget(p)
    p.set_image(np.asarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3)), np.uint8))
    yield p
    p.runner.wait()


def test_mae_mask_ratio_and_seed_update_the_reconstruction(qtbot, panel):
    model = create_model("mae_vit_nano_patch4_32", depth=1, decoder_depth=1)
    first = wait_view(qtbot, panel, "mae", lambda: panel.set_model(model))
    assert panel.controls.mae_box.isEnabled() and panel.view_figure("predictions") is None
    fewer = wait_view(qtbot, panel, "mae", lambda: panel.controls.mask_slider.setValue(40))
    assert fewer.shape == first.shape and not np.array_equal(fewer, first)
    reseeded = wait_view(qtbot, panel, "mae", lambda: panel.controls.seed_spin.setValue(7))
    assert not np.array_equal(reseeded, fewer)
    back = wait_view(qtbot, panel, "mae", lambda: panel.controls.seed_spin.setValue(0))
    np.testing.assert_array_equal(back, fewer)  # the same ratio and seed give the same mask


def test_deit_offers_its_distillation_token(qtbot, panel):
    deit = create_model("deit_nano_distilled_patch4_32", depth=2)
    wait_view(qtbot, panel, "attention", lambda: panel.set_model(deit))
    tokens = panel.controls.token_box
    assert [tokens.itemText(i) for i in range(tokens.count())] == [
        "what the head reads",
        "class token",
        "distillation token",
        "patch-token mean",
    ]
    readout = panel.view_figure("attention")
    cls = wait_view(qtbot, panel, "attention", lambda: tokens.setCurrentIndex(1))
    np.testing.assert_array_equal(cls, readout)  # DeiT's class head reads its class token
    dist = wait_view(qtbot, panel, "attention", lambda: tokens.setCurrentIndex(2))
    assert not np.array_equal(dist, cls)
    assert panel.view_figure("predictions") is not None
    assert not panel.controls.mae_box.isEnabled()


def test_an_average_pooled_model_shows_what_its_head_reads(qtbot, panel):
    model = create_model("vit_nano_patch4_32", depth=2, global_pool="avg")
    readout = wait_view(qtbot, panel, "attention", lambda: panel.set_model(model))
    tokens = panel.controls.token_box
    mean = wait_view(qtbot, panel, "attention", lambda: tokens.setCurrentIndex(tokens.count() - 1))
    np.testing.assert_array_equal(mean, readout)  # the patch-token mean, not the unread class token
    cls = wait_view(qtbot, panel, "attention", lambda: tokens.setCurrentIndex(1))
    assert not np.array_equal(cls, readout)
