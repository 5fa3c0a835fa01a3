"""benchmarks/throughput.py: analytic FLOPs against torch's counter and a tiny run without Qt; cpu_bf16.py tiny."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import rel_err
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from vitstudio.models import create_model
from vitstudio.train.hardware import native_bf16

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "throughput.py"


def load_script():
    spec = importlib.util.spec_from_file_location("throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def counted_flops(model, *args, **kwargs) -> int:
    """FLOPs torch counts for one forward pass (math attention, so the attention matmuls are counted)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*args, **kwargs)
    return counter.get_total_flops()


@pytest.mark.parametrize(
    "name,size",
    [
        ("vit_nano_patch4_32", 32),
        ("vit_tiny_patch16_224", 224),
        ("vit_micro_r_s4_p1_32", 32),
        ("deit_nano_distilled_patch4_32", 32),
    ],
)
def test_vit_flops_formula_matches_torch_counter(name, size):
    model = create_model(name).eval()
    assert load_script().forward_flops(name) == counted_flops(model, torch.randn(1, 3, size, size))


@pytest.mark.parametrize("mask_ratio", [0.5, 0.75])
def test_mae_flops_formula_matches_torch_counter(mask_ratio):
    model = create_model("mae_vit_micro_patch4_32").eval()
    expected = counted_flops(model, torch.randn(1, 3, 32, 32), mask_ratio=mask_ratio)
    assert load_script().forward_flops("mae_vit_micro_patch4_32", mask_ratio) == expected


def test_vit_base_flops_are_the_papers():
    """ViT-B/16 at 224: 17.6 GMACs = 35.1 GFLOPs forward (REFERENCE.md)."""
    flops = load_script().forward_flops("vit_base_patch16_224")
    assert round(flops / 1e9, 1) == 35.1


@pytest.mark.slow
def test_script_runs_without_qt_and_prints_ratios():
    args = [
        "--models",
        "vit_nano_patch4_32",
        "--mae",
        "mae_vit_nano_patch4_32",
        "--batch",
        "2",
        "--reps",
        "2",
        "--steps",
        "1",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--device",
        "cpu",
    ]
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(SCRIPT)!r})['main']({args!r})\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
        "print('qt modules:', ','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith("vit_nano_patch4_32")]
    assert [r[2] for r in rows] == ["train", "infer"]
    assert all(float(r[-1]) > 0 for r in rows)  # the ours/timm ratio
    mae = [line for line in out.stdout.splitlines() if line.startswith("mae_vit_nano_patch4_32")]
    assert len(mae) == 1 and "FLOP ratio sup/mae" in mae[0]
    assert out.stdout.strip().endswith("qt modules:")


@pytest.mark.parametrize("name", ["vit_pico_r1_s4_p1_32", "vit_micro_r_s4_p1_32"])
def test_our_small_hybrids_race_a_timm_twin_with_the_same_outputs(name):
    ours, ref, _kwargs = load_script().build_pair(name, torch.device("cpu"), None, channels_last=False)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        err = rel_err(ours.eval()(x), ref.eval()(x))
    print(f"{name}: max|ours-timm|/max|timm| = {err:.1e}")
    assert err < 1e-5


@pytest.mark.slow
def test_the_cpu_bf16_script_races_both_precisions_and_names_autos_pick(capsys):
    spec = importlib.util.spec_from_file_location("cpu_bf16", ROOT / "benchmarks" / "cpu_bf16.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    models = "vit_nano_patch4_32:2,mae_vit_micro_patch4_32:2"
    # no --threads: torch.set_num_threads would hold for the rest of this process, and change later tests' numbers
    assert module.main(["--models", models, "--reps", "2", "--steps", "1", "--warmup", "0"]) == 0
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| mae_")]
    rows = {r[0].strip(): [c.strip() for c in r[1:]] for r in rows}
    mae = rows["mae_vit_micro_patch4_32"]
    assert mae[0] == "192" and float(mae[2]) > 0 and float(mae[3]) > 0 and float(mae[4]) > 0
    assert mae[5] == ("bf16" if native_bf16(torch.device("cpu")) else "fp32"), "192 wide: auto's threshold"
