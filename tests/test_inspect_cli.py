"""`vitstudio inspect` writes every figure, headless."""

import json

import numpy as np
from PIL import Image

from vitstudio.analysis import bundled_images, write_report
from vitstudio.cli import main
from vitstudio.models import VisionTransformer, create_model, export_safetensors


def test_inspect_a_named_model_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["inspect", str(bundled_images()[0]), "--model", "vit_nano_patch4_32", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    expected = {
        "input.png",
        "patches.png",
        "patch_sequence.png",
        "rollout.png",
        "attention_distance.png",
        "position_similarity.png",
        "filters.png",
        "predictions.png",
        "predictions.json",
    }
    assert expected <= names
    assert {f"attention_layer_{i:02d}.png" for i in range(1, 7)} <= names  # 6 blocks
    assert Image.open(out / "input.png").size == (32, 32)
    preds = json.loads((out / "predictions.json").read_text())["prediction"]
    probs = [p for _, p in preds]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) < 1  # top 5 of 10
    assert len(json.loads((out / "attention_distance.json").read_text())["pixels"]) == 6
    assert "wrote" in capsys.readouterr().out


def test_inspect_reports_a_bad_image(tmp_path, capsys):
    (tmp_path / "x.jpg").write_text("no")
    assert main(["inspect", str(tmp_path / "x.jpg"), "--model", "vit_nano_patch4_32", "--out", str(tmp_path)]) == 2
    assert "x.jpg: not a readable image" in capsys.readouterr().err


def test_report_on_a_rectangular_model_without_position_embedding(tmp_path):
    model = VisionTransformer(
        img_size=(16, 32),
        patch_size=8,
        embed_dim=32,
        depth=2,
        num_heads=2,
        num_classes=3,
        pos_embed="none",
        global_pool="avg",
        class_token=False,
    )
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    names = {p.name for p in write_report(model, image, tmp_path, class_names=["a", "b", "c"])}
    assert "position_similarity.png" not in names
    assert "no position embedding" in (tmp_path / "position_similarity.txt").read_text()
    assert Image.open(tmp_path / "input.png").size == (32, 16)
    assert {n for n, _ in json.loads((tmp_path / "predictions.json").read_text())["prediction"]} == {"a", "b", "c"}


def test_inspect_weights_files(tmp_path, capsys):
    import timm
    import torch

    image = str(bundled_images()[1])
    model = create_model("vit_nano_patch4_32", num_classes=3)
    torch.nn.init.normal_(model.head.bias, std=5.0)  # a recognisable prediction
    exported = export_safetensors(model, tmp_path / "ours.safetensors")
    assert main(["inspect", image, "--weights", str(exported), "--out", str(tmp_path / "a")]) == 0
    preds = json.loads((tmp_path / "a" / "predictions.json").read_text())["prediction"]
    assert len(preds) == 3 and preds[0][0] == f"class {model.head.bias.argmax().item()}"

    ref = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        img_size=32,
        patch_size=4,
        num_classes=10,
        embed_dim=128,
        depth=6,
        num_heads=4,
    )  # vit_nano_patch4_32
    torch.save(ref.state_dict(), tmp_path / "timm.pth")
    assert main(["inspect", image, "--weights", str(tmp_path / "timm.pth"), "--out", str(tmp_path / "b")]) == 2
    assert "does not record which model it holds: add --model NAME" in capsys.readouterr().err
    assert (
        main(
            [
                "inspect",
                image,
                "--weights",
                str(tmp_path / "timm.pth"),
                "--model",
                "vit_nano_patch4_32",
                "--mean",
                "0.5",
                "0.5",
                "0.5",
                "--std",
                "0.5",
                "0.5",
                "0.5",
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 0
    )
    assert (tmp_path / "b" / "attention_layer_06.png").exists()
    assert main(["inspect", image, "--out", str(tmp_path / "c")]) == 2
    assert "--model NAME and/or --weights FILE" in capsys.readouterr().err
