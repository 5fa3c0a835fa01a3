"""Pretrained tags: the table against timm's configs, converters against their libraries, and the real
download code against a hub on 127.0.0.1 (no network)."""

import io
import json

import pytest
import torch
from conftest import rel_err
from hub_server import LoopbackHub
from safetensors.torch import save

from vitstudio.models import create_model, list_pretrained, load_pretrained, pretrained_cfg
from vitstudio.models.hub import WeightsUnavailable, is_cached

timm = pytest.importorskip("timm")
transformers = pytest.importorskip("transformers")

TOL = 1e-5
TINY = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, num_classes=7)
REPO = "timm/vit_small_patch16_224.tiny_test"
TAG_NAME = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"


def test_table_matches_timms_pretrained_configs():
    from timm.models import get_pretrained_cfg

    checked = 0
    for cfg in list_pretrained():
        if not cfg.source.startswith("hf-hub:timm/"):
            continue
        ref = get_pretrained_cfg(cfg.name).to_dict()
        assert ref["hf_hub_id"] == cfg.hub_repo
        ours = (cfg.input_size, cfg.interpolation, cfg.crop_pct, cfg.mean, cfg.std, cfg.num_classes)
        theirs = (ref["input_size"][-1], ref["interpolation"], ref["crop_pct"], ref["mean"], ref["std"])
        assert ours == (*theirs, ref["num_classes"]), cfg.name
        checked += 1
    assert checked >= 18


def test_tags_name_their_classes_and_build_the_architecture_alone():
    cfg = pretrained_cfg("vit_base_patch16_224.augreg_in21k")
    assert cfg.labels == "imagenet-21k" and cfg.class_names() is None
    names = pretrained_cfg("deit_tiny_patch16_224.fb_in1k").class_names()
    assert len(names) == 1000 and names[281] == "tabby"
    assert pretrained_cfg("hf-hub:facebook/vit-mae-base").name == "mae_vit_base_patch16.mae_hf"
    model = create_model("deit_tiny_distilled_patch16_224.fb_in1k")  # architecture only: no download
    assert model.pretrained_cfg.mean == (0.485, 0.456, 0.406) and model.head.out_features == 1000
    with pytest.raises(ValueError, match="TAG"):
        create_model("vit_tiny_patch16_224", pretrained=True)
    with pytest.raises(KeyError, match="augreg_in21k_ft_in1k"):
        create_model("vit_tiny_patch16_224.nope")


# -- converters against the libraries that made the weights -----------------------------------------


def test_torchvision_vit_converter_matches_torchvision():
    from torchvision.models.vision_transformer import VisionTransformer as TvViT

    ref = TvViT(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=256, num_classes=7)
    with torch.no_grad():  # torchvision starts its head and class token at zero
        for p in (ref.heads.head.weight, ref.heads.head.bias, ref.class_token):
            p.normal_()
    ours = create_model("vit_small_patch16_224", **TINY)
    report = load_pretrained(ours, ref.state_dict())
    assert not report.missing and not report.unexpected
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        err = rel_err(ours.eval()(x), ref.eval()(x))
    print(f"torchvision ViT: {err:.2e}")
    assert err <= TOL


def test_transformers_mae_with_decoder_reconstructs_as_transformers():
    cfg = transformers.ViTMAEConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        image_size=32,
        patch_size=8,
        layer_norm_eps=1e-6,
        decoder_hidden_size=32,
        decoder_num_hidden_layers=1,
        decoder_num_attention_heads=4,
        decoder_intermediate_size=128,
    )
    ref = transformers.ViTMAEForPreTraining(cfg).eval()
    ours = create_model(
        "mae_vit_base_patch16",
        img_size=32,
        patch_size=8,
        embed_dim=64,
        depth=2,
        num_heads=4,
        decoder_embed_dim=32,
        decoder_depth=1,
        decoder_num_heads=4,
    ).eval()
    load_pretrained(ours, ref.state_dict())
    x, noise = torch.randn(2, 3, 32, 32), torch.rand(2, 16)
    with torch.no_grad():
        out = ref(pixel_values=x, noise=noise)
        _, pred, mask = ours(x, noise=noise)
    err = rel_err(pred, out.logits)
    print(f"transformers ViTMAEForPreTraining (decoder predictions): {err:.2e}")
    assert torch.equal(mask, out.mask) and err <= TOL


# -- the download code against a loopback hub ---------------------------------------------------------


def timm_repo(num_classes=7, **arch):
    """timm's own tiny ViT with random weights, as timm pushes it: model.safetensors + config.json."""
    arch = {k: v for k, v in {**TINY, **arch}.items() if k != "num_classes"}
    ref = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=num_classes, **arch).eval()
    config = {
        "architecture": "vit_small_patch16_224",
        "num_classes": num_classes,
        "model_args": arch,
        "pretrained_cfg": {
            **dict(tag="tiny_test", input_size=[3, 32, 32], interpolation="bicubic", crop_pct=1.0),
            **dict(mean=[0.5] * 3, std=[0.5] * 3, num_classes=num_classes),
        },
    }
    return ref, {"model.safetensors": save(ref.state_dict()), "config.json": json.dumps(config).encode()}


@pytest.fixture
def tiny_repo():
    ref, files = timm_repo()
    return ref, {REPO: files}


def _load():
    return create_model(f"hf-hub:{REPO}", pretrained=True).eval()


def test_first_load_downloads_and_matches_timm_then_the_cache_answers(hub_env, tiny_repo):
    ref, repos = tiny_repo
    with LoopbackHub(repos) as hub:
        hub_env.setenv("HF_ENDPOINT", hub.endpoint)
        model = _load()
        assert ("GET", f"/{REPO}/resolve/main/model.safetensors") in hub.requests
        x = torch.randn(2, 3, 32, 32)
        with torch.no_grad():
            err = rel_err(model(x), ref(x))
        assert err <= TOL and model.pretrained_cfg.mean == (0.5, 0.5, 0.5) and model.pretrained_cfg.input_size == 32
        assert is_cached(model.pretrained_cfg)
        before = len(hub.requests)
        again = _load()
        assert len(hub.requests) == before  # no request at all
        assert torch.equal(again.head.weight, model.head.weight)


def test_server_down_gives_a_clear_message_and_offline_mode_uses_the_cache(hub_env, tiny_repo):
    _, repos = tiny_repo
    hub = LoopbackHub(repos)
    hub_env.setenv("HF_ENDPOINT", hub.endpoint)
    hub.stop()  # never started: connections are refused
    with pytest.raises(WeightsUnavailable) as e:
        _load()
    message = str(e.value)
    assert REPO in message and "config.json" in message and "--weights FILE" in message and "drop" in message
    hub_env.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailable, match="HF_HUB_OFFLINE"):
        _load()
    with LoopbackHub(repos) as hub:  # fill the cache, then go offline with the server up: no request
        hub_env.setenv("HF_ENDPOINT", hub.endpoint)
        hub_env.delenv("HF_HUB_OFFLINE")
        _load()
        hub_env.setenv("HF_HUB_OFFLINE", "1")
        n = len(hub.requests)
        _load()
        assert len(hub.requests) == n


@pytest.mark.parametrize("fault", ["cut_next", "corrupt_next"])
def test_a_truncated_or_corrupt_download_is_refused_and_the_next_try_succeeds(hub_env, tiny_repo, fault, tmp_path):
    ref, repos = tiny_repo
    with LoopbackHub(repos) as hub:
        hub_env.setenv("HF_ENDPOINT", hub.endpoint)
        create_model(f"hf-hub:{REPO}")  # fetches config.json only
        setattr(hub, fault, True)
        with pytest.raises(WeightsUnavailable, match="model.safetensors") as e:
            _load()
        print(e.value)
        blobs = list((tmp_path / "hf").rglob("blobs/*"))
        assert [b.stat().st_size for b in blobs] == [len(repos[REPO]["config.json"])]  # nothing else kept
        model = _load()
        x = torch.randn(1, 3, 32, 32)
        with torch.no_grad():
            assert rel_err(model(x), ref.eval()(x)) <= TOL


def test_a_repository_with_only_a_pytorch_file_loads_it_safely_and_then_offline(hub_env, tiny_repo):
    ref, repos = tiny_repo
    buf = io.BytesIO()
    torch.save({"state_dict": ref.state_dict()}, buf)
    files = {"pytorch_model.bin": buf.getvalue(), "config.json": repos[REPO]["config.json"]}
    with LoopbackHub({REPO: files}) as hub:
        hub_env.setenv("HF_ENDPOINT", hub.endpoint)
        model = _load()
        assert ("HEAD", f"/{REPO}/resolve/main/model.safetensors") in hub.requests  # safetensors asked for first
        assert torch.equal(model.head.weight, ref.head.weight)
        hub_env.setenv("HF_HUB_OFFLINE", "1")
        n = len(hub.requests)
        assert torch.equal(_load().head.weight, ref.head.weight) and len(hub.requests) == n


def test_a_hand_downloaded_file_is_used_without_the_network(hub_env, tiny_repo, tmp_path):
    ref, repos = tiny_repo
    for name, data in repos[REPO].items():
        (tmp_path / "drop" / REPO).mkdir(parents=True, exist_ok=True)
        (tmp_path / "drop" / REPO / name).write_bytes(data)
    hub_env.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    model = _load()
    assert torch.equal(model.head.weight, ref.head.weight)


# -- the tags in use: inspect, convert, fine-tune -----------------------------------------------------


def test_cli_lists_inspects_and_converts_a_hub_model(hub_env, tmp_path, capsys):
    from PIL import Image

    from vitstudio.cli import main
    from vitstudio.models import load_model_file

    ref, files = timm_repo(num_classes=1000)
    photo = tmp_path / "photo.png"
    Image.fromarray((torch.rand(40, 48, 3) * 255).byte().numpy()).save(photo)
    with LoopbackHub({REPO: files}) as hub:
        hub_env.setenv("HF_ENDPOINT", hub.endpoint)
        out = tmp_path / "figs"
        args = ["inspect", str(photo), "--model", f"hf-hub:{REPO}", "--pretrained", "--out", str(out)]
        assert main([*args, "--distance-images", "0"]) == 0
        text = (out / "predictions.txt").read_text()
        assert "out of domain" not in text
        names = pretrained_cfg("deit_tiny_patch16_224.fb_in1k").class_names()
        assert any(line.split("%", 1)[1].strip() in names for line in text.splitlines()[1:]), text
        copy = tmp_path / "copy.safetensors"
        assert main(["convert", "--pretrained", f"hf-hub:{REPO}", "--out", str(copy)]) == 0
    assert torch.equal(load_model_file(copy).head.weight, ref.head.weight)  # the copy needs no hub
    capsys.readouterr()
    assert main(["models", "--pretrained", "deit_tiny*"]) == 0
    listing = capsys.readouterr().out
    assert "deit_tiny_patch16_224.fb_in1k" in listing and "0.485/0.456/0.406" in listing and "23 MB" in listing
    hub_env.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert main(["inspect", str(photo), "--model", "vit_tiny_patch16_224.augreg_in21k_ft_in1k", "--pretrained",
                 "--out", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k" in err and "--weights FILE" in err


def test_a_photo_far_from_a_small_models_input_is_called_out_of_domain(tmp_path):
    from vitstudio.analysis import write_report
    from vitstudio.analysis.predictions import domain_note

    assert domain_note((480, 640), (32, 32)).startswith("out of domain: this 640x480 image is shrunk 15x")
    assert domain_note((256, 256), (224, 224)) == "" and domain_note((128, 128), (32, 32)) == ""
    photo = (torch.rand(300, 400, 3) * 255).byte().numpy()
    model = create_model("vit_nano_patch4_32", depth=1)
    write_report(model, photo, tmp_path / "small", class_names=[f"shape {i}" for i in range(10)])
    text = (tmp_path / "small" / "predictions.txt").read_text()
    assert text.startswith("note: out of domain: this 400x300 image is shrunk 9x to the model's 32x32 input")


@pytest.mark.slow
def test_finetuning_from_a_hub_tag_downloads_it_and_takes_its_normalisation(hub_env, tmp_path):
    from train_helpers import tiny_config

    from vitstudio.train import Trainer, find_run

    ref, files = timm_repo(embed_dim=32, depth=1, num_heads=2)
    with LoopbackHub({REPO: files}) as hub:
        hub_env.setenv("HF_ENDPOINT", hub.endpoint)
        cfg = tiny_config("objective.name=finetune", f"objective.init_from=hf-hub:{REPO}", "optim.epochs=1")
        trainer = Trainer(cfg, runs_dir=tmp_path / "runs")
        final = trainer.run()
        assert final.kind == "finished", final.data
        assert ("GET", f"/{REPO}/resolve/main/model.safetensors") in hub.requests
    assert trainer.data.mean == (0.5, 0.5, 0.5)
    moved = rel_err(trainer.model.blocks[0].attn.qkv.weight.detach(), ref.blocks[0].attn.qkv.weight.detach())
    assert 0 < moved < 0.5  # started from the hub's weights, then trained a little
    run = find_run(trainer.run_dir)
    assert run.status()["mean"] == [0.5, 0.5, 0.5] and run.config().objective.init_from == f"hf-hub:{REPO}"
    started = next(e for e in run.events() if e.kind == "started")
    assert any(f"hf-hub:{REPO}" in n for n in started.data["init_notes"]), started.data


def test_config_takes_a_pretrained_tag_and_names_the_tags_of_a_wrong_one():
    from vitstudio.config import Config, ConfigError, apply_overrides, validate

    ok = validate(apply_overrides(Config(), ["objective.name=finetune", f"objective.init_from={TAG_NAME}"]))
    assert ok.objective.init_from == TAG_NAME
    wrong = apply_overrides(Config(), ["objective.name=finetune", "objective.init_from=vit_tiny_patch16_224.in99k"])
    with pytest.raises(ConfigError, match="objective.init_from.*no pretrained tag 'in99k'.*augreg_in21k_ft_in1k"):
        validate(wrong)


def test_a_tag_is_inspected_through_its_evaluation_crop():
    from vitstudio.analysis import fit_image
    from vitstudio.analysis.sources import from_name

    image = (torch.rand(256, 256, 3) * 255).byte().numpy()
    assert (fit_image(image, 224, crop_pct=0.875) == image[16:240, 16:240]).all()  # torchvision's resize 256, crop 224
    source = from_name("vit_base_patch16_224.tv_in1k")  # the architecture, fed as its weights are
    assert source.crop_pct == 0.875 and source.mean == (0.485, 0.456, 0.406) and len(source.class_names) == 1000
