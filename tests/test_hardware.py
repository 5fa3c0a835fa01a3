"""runtime.precision resolved for the device and the model: bf16 where it is faster, fp32 elsewhere."""

import pytest
import torch
from train_helpers import tiny_config

from vitstudio.config import ConfigError
from vitstudio.train import Trainer, find_run
from vitstudio.train.compare import resolved_config
from vitstudio.train.hardware import CPU_BF16_MIN_WIDTH, autocast_dtype, native_bf16

CPU = torch.device("cpu")


@pytest.fixture(params=[True, False], ids=["amx", "no-amx"])
def amx(request, monkeypatch):
    """The CPU reported with AMX or without it (bf16 autocast itself runs on any CPU, emulated where needed)."""
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: request.param)
    return request.param


def test_auto_picks_bf16_on_a_cpu_with_amx_only_for_vits_wide_enough(amx):
    assert native_bf16(CPU) is amx
    wide = autocast_dtype("auto", CPU, CPU_BF16_MIN_WIDTH)
    assert wide == (torch.bfloat16 if amx else None)
    assert autocast_dtype("auto", CPU, CPU_BF16_MIN_WIDTH - 1) is None, "narrow ViTs train slower in bf16"
    assert autocast_dtype("auto", CPU, None) is None, "a model that is not a ViT stays in fp32"
    assert autocast_dtype("fp32", CPU, 768) is None


def test_a_gpu_that_only_emulates_bf16_trains_in_fp32(monkeypatch):
    # torch's query, answering as a T4 would: bf16 only through emulation (an Ampere card would say True both ways)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    gpu = torch.device("cuda")
    assert not native_bf16(gpu) and autocast_dtype("auto", gpu, 768) is None
    with pytest.raises(ConfigError, match="Ampere or later"):
        autocast_dtype("bf16", gpu, 768)


def test_bf16_asked_for_on_a_cpu_without_amx_is_refused_with_the_way_out(amx):
    if amx:
        assert autocast_dtype("bf16", CPU, 32) == torch.bfloat16, "asked for, bf16 holds for any width"
        return
    with pytest.raises(ConfigError, match="CPU with AMX.*use 'auto' or 'fp32'") as e:
        autocast_dtype("bf16", CPU, 768)
    assert e.value.field == "runtime.precision"


def test_a_run_asking_bf16_of_a_cpu_without_amx_is_refused_before_its_folder_is_made(tmp_path, amx):
    cfg = tiny_config("runtime.precision=bf16")
    if amx:
        assert Trainer(cfg, runs_dir=tmp_path).config.runtime.precision == "bf16"
        return
    with pytest.raises(ConfigError, match="runtime.precision: bf16 needs"):
        Trainer(cfg, runs_dir=tmp_path)
    assert not any(tmp_path.iterdir()), "no run was created"


@pytest.mark.slow
@pytest.mark.parametrize("width", [32, CPU_BF16_MIN_WIDTH])
def test_a_run_trains_and_records_the_precision_auto_resolved_to(tmp_path, monkeypatch, amx, width):
    monkeypatch.setenv("VITSTUDIO_CACHE", str(tmp_path / "cache"))
    cfg = tiny_config(f"model.embed_dim={width}", "optim.epochs=1")
    trainer = Trainer(cfg, runs_dir=tmp_path)
    seen = set()

    def watch_the_head(event):
        if event.kind == "started":
            trainer.model.head.register_forward_hook(lambda module, args, out: seen.add(out.dtype))

    trainer.listeners.append(watch_the_head)
    final = trainer.run()
    assert final.kind == "finished", final.data
    expected = "bf16" if amx and width >= CPU_BF16_MIN_WIDTH else "fp32"
    assert seen == {torch.bfloat16 if expected == "bf16" else torch.float32}, "the head's matmuls ran so"
    started = next(e for e in find_run(trainer.run_dir.name, tmp_path).events() if e.kind == "started")
    assert started.data["precision"] == expected and started.data["device"] == "cpu"
    runtime = resolved_config(find_run(trainer.run_dir.name, tmp_path))["runtime"]
    assert runtime["precision"] == expected and runtime["device"] == "cpu", "a comparison shows what auto became"
    assert cfg.runtime.precision == "auto"
