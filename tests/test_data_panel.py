"""The Data tab says what each augmentation choice does, and what the chosen dataset's recipe is."""

import pytest

from vitstudio.config import Config
from vitstudio.data import AUGMENT_DESCRIPTIONS
from vitstudio.gui.form import ConfigForm
from vitstudio.gui.panels.data import DataPanel
from vitstudio.gui.worker import wait_for_tasks


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path / "cache"))
    form = ConfigForm(Config())
    form.update({"data.num_train": 200, "data.img_size": 16})
    p = DataPanel(form)
    qtbot.addWidget(p)
    yield p
    wait_for_tasks()


def test_each_augmentation_choice_is_described_beside_it(qtbot, panel):
    combo = panel.form.widgets("data.augment")[0]
    seen = set()
    for i in range(combo.count()):
        combo.setCurrentIndex(i)
        assert panel.form.value("data.augment") == combo.itemData(i)
        assert panel.augment_help.text() == AUGMENT_DESCRIPTIONS[combo.itemData(i)]
        seen.add(panel.augment_help.text())
    assert len(seen) == combo.count() == len(AUGMENT_DESCRIPTIONS)
    assert "whole image" in AUGMENT_DESCRIPTIONS["none"]


def test_the_recipe_of_the_data_is_shown_and_follows_the_flip_choice(qtbot, panel):
    with qtbot.waitSignal(panel.samples_shown, timeout=60_000):
        panel.show()
    assert "padded by 2 px" in panel.recipe.text() and "flipped left-right" in panel.recipe.text()
    flips = panel.form.widgets("data.hflip")[0]
    with qtbot.waitSignal(panel.samples_shown, timeout=60_000):
        flips.setCurrentIndex(flips.findData(False))
    assert panel.form.value("data.hflip") is False and "never flipped" in panel.recipe.text()
