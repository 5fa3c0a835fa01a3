"""`vitstudio convert` and `vitstudio inspect` on malicious and corrupt files: a message and a non-zero exit,
never a traceback, and never a payload run. Teacher and fine-tuning references: explicit, never guessed."""

import io
import os
import pickle
import struct
import zipfile

import pytest
import torch
from safetensors.torch import save_file
from train_helpers import tiny_config

from vitstudio.cli import main
from vitstudio.config import ConfigError, apply_overrides
from vitstudio.models import create_model, export_safetensors
from vitstudio.train import Trainer, list_runs
from vitstudio.train.references import resolve

MODEL = "vit_nano_patch4_32"


class SystemCall:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


class Unknown:  # a class the loader does not know
    pass


def _malicious(folder):
    """Five pickles that would run code or build arbitrary objects when unpickled without `weights_only`."""
    torch.save({"state_dict": SystemCall()}, folder / "system.pth")
    torch.save({"model": Unknown()}, folder / "class.pt")
    (folder / "legacy.bin").write_bytes(pickle.dumps({"w": SystemCall()}, protocol=2))
    torch.save(SystemCall(), folder / "toplevel.ckpt")
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buf)
    with zipfile.ZipFile(buf) as z:
        members = {n: z.read(n) for n in z.namelist()}
    data = next(n for n in members if n.endswith("data.pkl"))
    members[data] = pickle.dumps(SystemCall(), protocol=2)
    with zipfile.ZipFile(folder / "zip_payload.pt", "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return ["system.pth", "class.pt", "legacy.bin", "toplevel.ckpt", "zip_payload.pt"]


def _corrupt(folder):
    good = folder / "good.pth"
    torch.save(create_model(MODEL).state_dict(), good)
    (folder / "bad_header.safetensors").write_bytes(struct.pack("<Q", 10**12) + b"{}")
    (folder / "truncated.pth").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with zipfile.ZipFile(folder / "not_a_checkpoint.pt", "w") as z:
        z.writestr("hello.txt", "hi")
    (folder / "empty.pth").write_bytes(b"")
    (folder / "random.npz").write_bytes(os.urandom(4096))
    save_file({"x": torch.zeros(3)}, folder / "no_model.safetensors")
    (folder / "text.safetensors").write_text("not weights")
    return [
        "bad_header.safetensors",
        "truncated.pth",
        "not_a_checkpoint.pt",
        "empty.pth",
        "random.npz",
        "no_model.safetensors",
        "text.safetensors",
    ]


@pytest.fixture
def bad_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "files"
    folder.mkdir()
    return folder, _malicious(folder) + _corrupt(folder)


def test_convert_and_inspect_refuse_every_bad_file_plainly(bad_files, tmp_path, capsys):
    folder, names = bad_files
    image = tmp_path / "img.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (10, 200, 30)).save(image)
    for name in names:
        path = folder / name
        for argv in (
            ["convert", path, "--model", MODEL, "--out", tmp_path / "out.safetensors"],
            ["inspect", image, "--weights", path, "--model", MODEL, "--out", tmp_path / "figs"],
            ["inspect", image, "--weights", path, "--out", tmp_path / "figs"],
        ):
            rc = main([str(a) for a in argv])
            out = capsys.readouterr()
            text = out.out + out.err
            assert rc != 0, (name, argv[0], text)
            assert "Traceback" not in text and name in text, (name, argv[0], text)
            assert "weights_only=False" not in text and "weights_only` set to `False" not in text
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.slow
def test_inspect_a_run_whose_last_checkpoint_is_bad(bad_files, tmp_path, capsys):
    folder, _ = bad_files
    trainer = Trainer(tiny_config("optim.epochs=1"), runs_dir=tmp_path / "runs")
    trainer.stop()
    assert trainer.run().kind == "stopped"
    image = tmp_path / "img.png"
    from PIL import Image

    Image.new("RGB", (32, 32)).save(image)
    for bad in ("system.pth", "truncated.pth", "empty.pth"):
        (trainer.run_dir / "last.pt").write_bytes((folder / bad).read_bytes())
        argv = ["inspect", image, "--run", trainer.run_dir, "--checkpoint", "last", "--out", tmp_path / "figs"]
        rc = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert rc == 2 and "last.pt" in err and "Traceback" not in err, err
    assert not (tmp_path / "PWNED").exists()


# -- references ---------------------------------------------------------------------------------


def test_references_are_explicit_and_never_guessed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    (runs / "20260101-000000-vit_micro_resnet18_s4_32").mkdir(parents=True)
    (runs / "20260101-000000-vit_micro_resnet18_s4_32" / "config.json").write_text("{}")
    ref = resolve("objective.teacher", "resnet18", runs)  # no longer a part of that run's name
    assert (ref.kind, ref.target) == ("torchvision", "resnet18")
    assert resolve("objective.teacher", "torchvision:resnet18", runs).kind == "torchvision"
    run_ref = resolve("objective.teacher", "20260101-000000-vit_micro_resnet18_s4_32", runs)
    assert run_ref.kind == "run"
    (tmp_path / "resnet18").write_bytes(b"weights")  # a file with a torchvision name: two candidates
    with pytest.raises(ConfigError, match=r"objective.teacher: 'resnet18' is ambiguous.*file:resnet18.*torchvision"):
        resolve("objective.teacher", "resnet18", runs)
    with pytest.raises(ConfigError, match="did you mean run:20260101-000000-vit_micro_resnet18_s4_32"):
        resolve("objective.init_from", "vit_micro", runs)
    with pytest.raises(ConfigError, match="torchvision references are not accepted here"):
        resolve("objective.init_from", "torchvision:resnet18", runs)
    with pytest.raises(ConfigError, match="no torchvision 'resnet19'; did you mean"):
        resolve("objective.teacher", "torchvision:resnet19", runs)


def test_startup_checks_run_before_a_run_folder_is_made(tmp_path):
    distill = ("objective.name=distill", "model.name=deit_nano_distilled_patch4_32")
    for overrides, field in (
        ((*distill, "objective.teacher=no_such_teacher"), "objective.teacher"),
        (("objective.name=mae",), "objective.name"),  # the catalogue: a ViT trains with 'supervised' or 'finetune'
        (("model.name=mae_vit_nano_patch4_32",), "objective.name"),
    ):
        cfg = apply_overrides(tiny_config(), list(overrides))
        cfg.model.patch_size = cfg.model.embed_dim = cfg.model.depth = cfg.model.num_heads = None
        with pytest.raises(ConfigError, match=field):
            Trainer(cfg, runs_dir=tmp_path)
    assert list_runs(tmp_path) == []


def test_a_pickled_teacher_and_a_teacher_of_other_classes_are_named(tmp_path):
    pth = tmp_path / "teacher.pth"
    torch.save(create_model(MODEL).state_dict(), pth)
    cfg = apply_overrides(tiny_config(), ["objective.name=distill", f"objective.teacher={pth}"])
    cfg.model.name = "deit_nano_distilled_patch4_32"
    with pytest.raises(ConfigError, match=r"objective.teacher: .*teacher.pth is a PyTorch \(pickle\) file.*convert"):
        Trainer(cfg, runs_dir=tmp_path / "runs")  # found before a run folder is made
    assert list_runs(tmp_path / "runs") == []

    other = export_safetensors(create_model(MODEL, num_classes=3), tmp_path / "three.safetensors")
    cfg.objective.teacher = str(other)
    final = Trainer(cfg, runs_dir=tmp_path / "runs").run()
    assert final.kind == "failed" and "objective.teacher" in final.data["reason"]
    assert "predicts 3 classes; the data has 10" in final.data["reason"]
