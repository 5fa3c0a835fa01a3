"""Weights in and out: Google .npz, transformers, timm/DeiT/MAE files, refusal of unsafe pickles, exports."""

import os
import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import rel_err

from vitstudio.models import (
    UnsafeCheckpointError,
    VisionTransformer,
    create_model,
    export_safetensors,
    export_timm,
    load_model_file,
    load_pretrained,
    read_model_config,
)
from vitstudio.models.weights import read_weights, resample_patch_embed

timm = pytest.importorskip("timm")
transformers = pytest.importorskip("transformers")

TOL = 1e-5
SMALL = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, num_classes=7)


def _close(ours, ref, x, label):
    with torch.no_grad():
        err = rel_err(ours.eval()(x), ref.eval()(x))
    print(f"{label}: {err:.2e}")
    assert err <= TOL


# -- Google .npz, written from timm weights by the inverse of the documented mapping ---------------


def to_google(model, big_vision=False, scanned=False, prefix=""):
    """A timm ViT / hybrid state dict in Google's .npz layout (HWIO, (in, out), (D, heads, head_dim))."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    heads = model.blocks[0].attn.num_heads
    g = {
        "embedding/kernel": sd["patch_embed.proj.weight"].transpose(2, 3, 1, 0),
        "embedding/bias": sd["patch_embed.proj.bias"],
    }
    if "cls_token" in sd:
        g["cls"] = sd["cls_token"]
    if big_vision:  # no position for the class token: the timm model must have a zero row there
        pos = sd["pos_embed"][:, 1:] if "cls_token" in sd else sd["pos_embed"]
        g["pos_embedding"] = pos
    else:
        g["Transformer/posembed_input/pos_embedding"] = sd["pos_embed"]
    g["Transformer/encoder_norm/scale"], g["Transformer/encoder_norm/bias"] = sd["norm.weight"], sd["norm.bias"]
    g["head/kernel"], g["head/bias"] = sd["head.weight"].T, sd["head.bias"]
    mha, ln2, mlp = (
        ("MultiHeadDotProductAttention_0", "LayerNorm_1", "MlpBlock_0")
        if big_vision
        else ("MultiHeadDotProductAttention_1", "LayerNorm_2", "MlpBlock_3")
    )
    blocks = []
    for i in range(len(model.blocks)):
        s, b = f"blocks.{i}.", {}
        D = sd[f"{s}norm1.weight"].shape[0]
        b["LayerNorm_0/scale"], b["LayerNorm_0/bias"] = sd[f"{s}norm1.weight"], sd[f"{s}norm1.bias"]
        b[f"{ln2}/scale"], b[f"{ln2}/bias"] = sd[f"{s}norm2.weight"], sd[f"{s}norm2.bias"]
        for n, w, bias in zip(
            ("query", "key", "value"), np.split(sd[f"{s}attn.qkv.weight"], 3), np.split(sd[f"{s}attn.qkv.bias"], 3)
        ):
            b[f"{mha}/{n}/kernel"] = w.T.reshape(D, heads, D // heads)
            b[f"{mha}/{n}/bias"] = bias.reshape(heads, D // heads)
        b[f"{mha}/out/kernel"] = sd[f"{s}attn.proj.weight"].T.reshape(heads, D // heads, D)
        b[f"{mha}/out/bias"] = sd[f"{s}attn.proj.bias"]
        for r in range(2):
            b[f"{mlp}/Dense_{r}/kernel"] = sd[f"{s}mlp.fc{r + 1}.weight"].T
            b[f"{mlp}/Dense_{r}/bias"] = sd[f"{s}mlp.fc{r + 1}.bias"]
        blocks.append(b)
    for k in blocks[0]:
        if scanned:
            g[f"Transformer/encoderblock/{k}"] = np.stack([b[k] for b in blocks])
        else:
            g.update({f"Transformer/encoderblock_{i}/{k}": b[k] for i, b in enumerate(blocks)})
    backbone = getattr(model.patch_embed, "backbone", None)
    if backbone is not None:
        stem = backbone.stem if hasattr(backbone, "stem") else backbone
        g["conv_root/kernel"] = stem.conv.weight.detach().numpy().transpose(2, 3, 1, 0)
        g["gn_root/scale"], g["gn_root/bias"] = stem.norm.weight.detach().numpy(), stem.norm.bias.detach().numpy()
        for i, stage in enumerate(getattr(backbone, "stages", [])):
            for j, block in enumerate(stage.blocks):
                p = f"block{i + 1}/unit{j + 1}/"
                convs = [(str(r), getattr(block, f"conv{r}"), getattr(block, f"norm{r}")) for r in (1, 2, 3)]
                if block.downsample is not None:
                    convs.append(("_proj", block.downsample.conv, block.downsample.norm))
                for r, conv, norm in convs:
                    g[f"{p}conv{r}/kernel"] = conv.weight.detach().numpy().transpose(2, 3, 1, 0)
                    g[f"{p}gn{r}/scale"] = norm.weight.detach().numpy().reshape(1, 1, 1, -1)
                    g[f"{p}gn{r}/bias"] = norm.bias.detach().numpy().reshape(1, 1, 1, -1)
    return {prefix + k: v for k, v in g.items()}


def _timm_vit(**kw):
    return timm.create_model("vit_small_patch16_224", pretrained=False, **{**SMALL, **kw})


def test_google_npz_vit(tmp_path):
    ref = _timm_vit()
    path = tmp_path / "ViT-S_8.npz"
    np.savez(path, **to_google(ref))
    ours = create_model("vit_small_patch16_224", **SMALL)
    report = load_pretrained(ours, path)
    assert not report.missing and not report.unexpected
    _close(ours, ref, torch.randn(2, 3, 32, 32), "Google .npz ViT")


@pytest.mark.parametrize("name", ["vit_base_r50_s16_224", "vit_tiny_r_s16_p8_224"])
def test_google_npz_hybrid(tmp_path, name):
    kw = dict(img_size=64, depth=1, embed_dim=64, num_heads=2, num_classes=7)
    ref = timm.create_model(name, pretrained=False, **kw)
    path = tmp_path / "R50+ViT.npz"
    np.savez(path, **to_google(ref))
    ours = create_model(name, **kw)
    load_pretrained(ours, path)
    _close(ours, ref, torch.randn(2, 3, 64, 64), f"Google .npz hybrid {name}")


@pytest.mark.parametrize("class_token", [True, False])
@pytest.mark.parametrize("scanned", [False, True])
def test_big_vision_npz(tmp_path, class_token, scanned):
    kw = dict(class_token=True) if class_token else dict(class_token=False, global_pool="avg", fc_norm=False)
    ref = _timm_vit(**kw)
    if class_token:  # big_vision gives the class token no position
        ref.pos_embed.data[:, 0] = 0
    path = tmp_path / "big_vision.npz"
    np.savez(path, **to_google(ref, big_vision=True, scanned=scanned, prefix="params/"), **{"opt/state/mu": np.ones(3)})
    ours = create_model("vit_small_patch16_224", **SMALL, **kw)
    load_pretrained(ours, path)
    _close(ours, ref, torch.randn(2, 3, 32, 32), f"big_vision .npz cls={class_token} scanned={scanned}")


# -- transformers, built from configs, in their 5.x layout and renamed back to 4.x ---------------


def _hf_config(cls, **kw):
    return cls(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        image_size=32,
        patch_size=8,
        layer_norm_eps=1e-6,
        **kw,
    )


def to_transformers_4(sd):
    """transformers 5.x keys -> the 4.x names (`encoder.layer.N.attention.attention.query`, ...)."""
    out = {}
    for k, v in sd.items():
        for new, old in (
            (".layers.", ".encoder.layer."),
            ("attention.q_proj", "attention.attention.query"),
            ("attention.k_proj", "attention.attention.key"),
            ("attention.v_proj", "attention.attention.value"),
            ("attention.o_proj", "attention.output.dense"),
            ("mlp.fc1", "intermediate.dense"),
            ("mlp.fc2", "output.dense"),
        ):
            k = k.replace(new, old)
        out["encoder.layer." + k[len("layers.") :] if k.startswith("layers.") else k] = v
    return out


@pytest.mark.parametrize("layout", ["5.x", "4.x"])
def test_transformers_vit_for_classification(layout):
    ref = transformers.ViTForImageClassification(_hf_config(transformers.ViTConfig, num_labels=7)).eval()
    sd = ref.state_dict() if layout == "5.x" else to_transformers_4(ref.state_dict())
    assert any(".encoder.layer.0.attention.attention.query" in k for k in sd) == (layout == "4.x")
    ours = create_model("vit_small_patch16_224", **SMALL)
    load_pretrained(ours, sd)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        err = rel_err(ours.eval()(x), ref(pixel_values=x).logits)
    print(f"transformers {layout} ViTForImageClassification: {err:.2e}")
    assert err <= TOL


@pytest.mark.parametrize("layout", ["5.x", "4.x"])
def test_transformers_vit_model(layout):
    ref = transformers.ViTModel(_hf_config(transformers.ViTConfig)).eval()
    sd = ref.state_dict() if layout == "5.x" else to_transformers_4(ref.state_dict())
    ours = create_model("vit_small_patch16_224", **{**SMALL, "num_classes": 0, "representation_size": 64})
    load_pretrained(ours, sd)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = ref(pixel_values=x)
        feats = ours.eval().forward_features(x)
        err = max(rel_err(feats, out.last_hidden_state), rel_err(ours.forward_head(feats), out.pooler_output))
    print(f"transformers {layout} ViTModel (features, pooler): {err:.2e}")
    assert err <= TOL
    plain = create_model("vit_small_patch16_224", **SMALL)
    with pytest.warns(UserWarning, match="pre-logits"):
        load_pretrained(plain, sd)


@pytest.mark.parametrize("layout", ["5.x", "4.x"])
def test_transformers_deit_with_teacher(layout):
    ref = transformers.DeiTForImageClassificationWithTeacher(_hf_config(transformers.DeiTConfig, num_labels=7)).eval()
    sd = ref.state_dict() if layout == "5.x" else to_transformers_4(ref.state_dict())
    ours = create_model("deit_small_distilled_patch16_224", **SMALL)
    assert not load_pretrained(ours, sd).missing
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = ref(pixel_values=x)
        err = rel_err(ours.eval()(x), out.logits)
        ours.train()
        cls, dist = ours(x)
        err = max(err, rel_err(cls, out.cls_logits), rel_err(dist, out.distillation_logits))
    print(f"transformers {layout} DeiTForImageClassificationWithTeacher: {err:.2e}")
    assert err <= TOL


@pytest.mark.parametrize("layout", ["5.x", "4.x"])
def test_transformers_mae_layouts_load_exactly(layout):
    cfg = _hf_config(
        transformers.ViTMAEConfig,
        decoder_hidden_size=32,
        decoder_num_hidden_layers=1,
        decoder_num_attention_heads=4,
        decoder_intermediate_size=128,
    )
    ref = transformers.ViTMAEForPreTraining(cfg)
    sd = ref.state_dict() if layout == "5.x" else to_transformers_4(ref.state_dict())
    assert any("decoder.decoder_layers.0.attention.attention.query" in k for k in sd) == (layout == "4.x")
    ours = create_model(
        "mae_vit_small_patch4_32",
        patch_size=8,
        embed_dim=64,
        depth=2,
        num_heads=4,
        decoder_embed_dim=32,
        decoder_depth=1,
        decoder_num_heads=4,
    )
    load_pretrained(ours, sd)
    q = ref.decoder.decoder_layers[0].attention.q_proj.weight
    assert torch.equal(ours.decoder_blocks[0].attn.qkv.weight[:32], q)
    assert torch.equal(ours.blocks[1].mlp.fc2.bias, ref.vit.layers[1].mlp.fc2.bias)


# -- files: safe loading, wrappers, refusal -----------------------------------------------------------


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload_ran"
    path = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(2)}, "trap": Payload(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load .*evil.pth"):
        load_pretrained(create_model("vit_nano_patch4_32"), path)
    assert not marker.exists()
    # the payload is real: an unrestricted unpickle runs it
    torch.load(path, weights_only=False)
    assert marker.is_dir()


def test_legacy_pickle_payload_is_refused(tmp_path):
    marker = tmp_path / "legacy_ran"
    path = tmp_path / "evil.bin"
    with open(path, "wb") as f:
        pickle.dump({"w": Payload(str(marker))}, f, protocol=2)
    with pytest.raises(UnsafeCheckpointError):
        read_weights(path)
    assert not marker.exists()


def test_npz_with_objects_and_corrupt_files_are_explained(tmp_path):
    np.savez(tmp_path / "objects.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(UnsafeCheckpointError, match="pickled Python objects"):
        read_weights(tmp_path / "objects.npz")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        read_weights(tmp_path / "junk.safetensors")
    (tmp_path / "junk.pth").write_bytes(b"\x00\x01garbage")
    with pytest.raises(UnsafeCheckpointError, match="refusing to load"):
        read_weights(tmp_path / "junk.pth")
    torch.save({"w": torch.zeros(1000)}, tmp_path / "full.pth")
    (tmp_path / "cut.pth").write_bytes((tmp_path / "full.pth").read_bytes()[:2000])
    with pytest.raises(ValueError, match="not a readable PyTorch"):
        read_weights(tmp_path / "cut.pth")
    with pytest.raises(FileNotFoundError):
        read_weights(tmp_path / "missing.pth")


def test_deit_and_mae_checkpoint_wrappers(tmp_path):
    ref = create_model("deit_nano_distilled_patch4_32")
    path = tmp_path / "checkpoint.pth"
    import argparse

    torch.save(
        {
            "model": {"module." + k: v for k, v in ref.state_dict().items()},
            "epoch": 3,
            "args": argparse.Namespace(lr=5e-4),
        },
        path,
    )
    ours = create_model("deit_nano_distilled_patch4_32")
    load_pretrained(ours, path)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), ref.state_dict().values()))


# -- adaptation: heads, tokens, grids, patch sizes --------------------------------------------------


def test_head_with_other_classes_is_dropped_with_a_warning():
    src = create_model("vit_nano_patch4_32", num_classes=100)
    ours = create_model("vit_nano_patch4_32", num_classes=10)
    head = ours.head.weight.clone()
    with pytest.warns(UserWarning, match="head has 100 classes, the model 10"):
        report = load_pretrained(ours, src.state_dict())
    assert report.missing == ["head.weight", "head.bias"] and torch.equal(ours.head.weight, head)
    assert torch.equal(ours.blocks[0].attn.qkv.weight, src.blocks[0].attn.qkv.weight)


def test_distillation_token_moves_between_vit_and_deit():
    deit = create_model("deit_nano_distilled_patch4_32")
    vit = create_model("vit_nano_patch4_32")
    with pytest.warns(UserWarning, match="distillation token and head were dropped"):
        load_pretrained(vit, deit.state_dict())
    assert torch.equal(vit.pos_embed[:, 1:], deit.pos_embed[:, 2:])
    assert torch.equal(vit.pos_embed[:, 0], deit.pos_embed[:, 0])
    back = create_model("deit_nano_distilled_patch4_32")
    dist_pos = back.pos_embed[:, 1].clone()
    with pytest.warns(UserWarning, match="dist_token"):
        load_pretrained(back, vit.state_dict())
    assert torch.equal(back.pos_embed[:, 2:], vit.pos_embed[:, 1:]) and torch.equal(back.pos_embed[:, 1], dist_pos)


def test_patch_size_and_grid_resampling_match_timm():
    """B/16 weights into a B/8-style model at 32 px: patch kernels (FlexiViT pinv) and positions resampled."""
    from timm.models.vision_transformer import checkpoint_filter_fn

    src = _timm_vit(img_size=48, patch_size=16)
    ref = _timm_vit(img_size=32, patch_size=8)
    ref.load_state_dict(checkpoint_filter_fn(src.state_dict(), ref), strict=True)
    ours = create_model("vit_small_patch16_224", **SMALL)
    report = load_pretrained(ours, src.state_dict())
    assert any("patch embedding resampled" in n for n in report.notes)
    err_w = rel_err(ours.patch_embed.proj.weight, ref.patch_embed.proj.weight)
    err_pos = rel_err(ours.pos_embed, ref.pos_embed)
    print(f"patch embedding 16->8: {err_w:.2e}, position embedding 3x3->4x4: {err_pos:.2e}")
    assert err_w <= TOL and err_pos <= TOL
    _close(ours, ref, torch.randn(2, 3, 32, 32), "resampled model vs timm")


def test_upsampled_patch_kernel_embeds_upsampled_patches_identically():
    w = torch.randn(6, 3, 4, 4)
    w8 = resample_patch_embed(w, (8, 8))
    patch = torch.randn(2, 3, 4, 4)
    big = torch.nn.functional.interpolate(patch, size=(8, 8), mode="bicubic", antialias=True)
    assert torch.allclose(torch.einsum("oihw,bihw->bo", w, patch), torch.einsum("oihw,bihw->bo", w8, big), atol=1e-4)


def test_strict_mismatch_names_the_keys():
    with pytest.raises(ValueError, match="unexpected .*blocks.6"):
        load_pretrained(create_model("vit_nano_patch4_32"), create_model("vit_nano_patch4_32", depth=8).state_dict())
    with pytest.raises(ValueError, match="missing .*blocks.5"):
        load_pretrained(create_model("vit_nano_patch4_32"), create_model("vit_nano_patch4_32", depth=5).state_dict())
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        shallow = create_model("vit_nano_patch4_32", depth=5).state_dict()
        report = load_pretrained(create_model("vit_nano_patch4_32"), shallow, strict=False)
    assert "blocks.5.norm1.weight" in report.missing


# -- exports ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,kw",
    [
        ("vit_nano_patch4_32", dict(pos_embed="learned_2d", global_pool="avg", img_size=[32, 48])),
        ("deit_nano_distilled_patch4_32", {}),
        ("vit_micro_r_s4_p1_32", dict(depth=2)),
        ("vit_micro_resnet18_s4_32", dict(depth=1)),
        ("mae_vit_nano_patch4_32", dict(norm_pix_loss=True)),
        ("mpp_vit_nano_patch4_32", dict(target="pixels", mean=[0.4, 0.4, 0.4], std=[0.2, 0.2, 0.2])),
    ],
)
def test_export_import_roundtrip_is_exact(tmp_path, name, kw):
    model = create_model(name, **kw).eval()
    if hasattr(model.patch_embed, "backbone"):  # make BatchNorm statistics non-trivial
        model.train()(torch.randn(2, 3, 32, 32))
        model.eval()
    path = export_safetensors(model, tmp_path / "model.safetensors")
    assert read_model_config(path)["name"] == name and not list(tmp_path.glob(".*.tmp"))
    again = load_model_file(path).eval()
    assert type(again) is type(model)
    sd, sd2 = model.state_dict(), again.state_dict()
    assert sd.keys() == sd2.keys() and all(torch.equal(sd[k], sd2[k]) for k in sd)
    x = torch.randn(2, 3, *model.patch_embed.img_size)
    with torch.no_grad():
        if name.startswith(("mae", "mpp")):
            noise = torch.rand(2, model.patch_embed.num_patches)
            assert torch.equal(model(x, noise=noise)[1], again(x, noise=noise)[1])
        else:
            assert torch.equal(model(x), again(x))


def test_export_needs_a_name_for_hand_built_models(tmp_path):
    model = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=3)
    with pytest.raises(ValueError, match="name="):
        export_safetensors(model, tmp_path / "m.safetensors")
    path = export_safetensors(
        model,
        tmp_path / "m.safetensors",
        name="vit_nano_patch4_32",
        patch_size=8,
        embed_dim=32,
        depth=1,
        num_heads=2,
        num_classes=3,
    )
    assert torch.equal(load_model_file(path).head.weight, model.head.weight)
    export_timm(model, tmp_path / "timm.safetensors")
    with pytest.raises(ValueError, match="no vitstudio model config"):
        read_model_config(tmp_path / "timm.safetensors")


MAE_NANO_AS_TIMM = dict(img_size=32, patch_size=4, embed_dim=128, depth=6, num_heads=4, num_classes=0)


@pytest.mark.parametrize(
    "ours,timm_name,kw,timm_kw",
    [
        ("vit_small_patch16_224", "vit_small_patch16_224", SMALL, SMALL),
        ("deit_small_distilled_patch16_224", "deit_small_distilled_patch16_224", SMALL, SMALL),
        ("vit_tiny_r_s16_p8_224", "vit_tiny_r_s16_p8_224", dict(img_size=64, depth=1), dict(img_size=64, depth=1)),
        ("mae_vit_nano_patch4_32", "vit_small_patch16_224", {}, MAE_NANO_AS_TIMM),  # the encoder
    ],
)
def test_timm_loads_our_export_strictly(tmp_path, ours, timm_name, kw, timm_kw):
    from safetensors.torch import load_file

    model = create_model(ours, **kw).eval()
    path = export_timm(model, tmp_path / "timm.safetensors")
    ref = timm.create_model(timm_name, pretrained=False, **timm_kw).eval()
    ref.load_state_dict(load_file(path), strict=True)
    x = torch.randn(1, 3, timm_kw["img_size"], timm_kw["img_size"])
    with torch.no_grad():
        err = rel_err(model.forward_features(x), ref.forward_features(x))
    print(f"timm {timm_name} from our {ours}: {err:.2e}")
    assert err <= TOL


def test_cli_converts_foreign_weights_to_a_model_file(tmp_path, capsys):
    from vitstudio.cli import main

    ref = _timm_vit()
    np.savez(tmp_path / "google.npz", **to_google(ref))
    out = tmp_path / "converted.safetensors"
    assert (
        main(
            [
                "convert",
                str(tmp_path / "google.npz"),
                "--model",
                "vit_small_patch16_224",
                "--out",
                str(out),
                *[f"--set={k}={v}" for k, v in SMALL.items()],
            ]
        )
        == 0
    )
    assert "wrote" in capsys.readouterr().out
    _close(load_model_file(out), ref, torch.randn(1, 3, 32, 32), "CLI convert .npz -> .safetensors")
