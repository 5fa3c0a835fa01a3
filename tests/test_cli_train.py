import json

import pytest
from safetensors.torch import load_file
from train_helpers import tiny_args

from vitstudio.cli import main
from vitstudio.models import load_model_file


@pytest.fixture(autouse=True)
def _data_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.mark.slow
def test_train_then_list_show_export(tmp_path, capsys, monkeypatch):
    runs = ["--runs-dir", str(tmp_path / "runs")]
    assert main(["train", *tiny_args("runtime.name=cli"), *runs]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("finished: run ") and "top-1" in out
    assert "vit_custom_w32_d1_h2_mlp4_p8_32: " in err and "parameters, on cpu in fp32" in err  # 32 wide: fp32

    monkeypatch.setenv("VITSTUDIO_RUNS", str(tmp_path / "runs"))
    assert main(["runs", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["RUN", "STATE"] and "finished" in table[1] and "cli" in table[1]
    assert main(["runs", "list", "--json"]) == 0
    (summary,) = json.loads(capsys.readouterr().out)
    assert summary["state"] == "finished" and summary["step"] == 8

    assert main(["runs", "show", "cli"]) == 0
    shown = capsys.readouterr().out
    assert "epoch   2.00" in shown and '"precision": "fp32"' in shown and '"device": "cpu"' in shown  # as resolved
    csv_path, st_path = tmp_path / "m.csv", tmp_path / "w.safetensors"
    assert main(["runs", "export", "cli", "--format", "csv", "-o", str(csv_path)]) == 0
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("kind,step,epoch,time") and sum(r.startswith("step,") for r in rows) == 8
    assert main(["runs", "export", "cli", "--format", "safetensors", "-o", str(st_path)]) == 0
    model = load_model_file(st_path)
    assert model.head.out_features == 10 and len(model.blocks) == 1
    timm_path = tmp_path / "timm.safetensors"
    assert main(["runs", "export", "cli", "--format", "timm", "-o", str(timm_path)]) == 0
    assert load_file(timm_path).keys() == model.state_dict().keys()


def test_bad_input_is_refused_with_the_field(tmp_path, capsys):
    assert main(["train", "--set", "model.patch_size=5", "--runs-dir", str(tmp_path)]) == 2
    assert "model.patch_size: 5 does not divide data.img_size 32" in capsys.readouterr().err
    assert main(["train", "--resume", "nothing-like-this", "--runs-dir", str(tmp_path)]) == 2
    assert main(["runs", "show", "nope", "--runs-dir", str(tmp_path)]) == 2
    assert not list(tmp_path.iterdir()), "a refused config creates no run"
