"""benchmarks/folder_speed.py, the speed test of image folders against timm, run tiny: both pipelines train."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch

from vitstudio.train.hardware import native_bf16

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "folder_speed.py"


@pytest.mark.slow
def test_the_folder_benchmark_races_both_pipelines(capsys):
    spec = importlib.util.spec_from_file_location("folder_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    argv = ["--images", "80", "--batch", "16", "--reps", "2", "--steps", "1", "--warmup", "1", "--device", "cpu"]
    assert module.main([*argv, "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "2.69 M parameters" in out and "padded by 4 px" in out
    ratio = float(re.search(r"ours/timm (\d+\.\d+) \(pairs", out).group(1))
    assert ratio > 0 and re.search(r"target ours/timm >= 1.2: (met|NOT met)", out)
    ours = "bf16" if native_bf16(torch.device("cpu")) else "fp32"  # vit_micro is 192 wide: auto's threshold
    assert f"precision: ours {ours} (auto), timm fp32" in out, "by default each trains as its tool would"

    assert module.main([*argv, "--workers", "0", "--precision", "fp32", "--timm-precision", "fp32"]) == 0
    out = capsys.readouterr().out
    assert "precision: ours fp32 (fp32), timm fp32" in out and "ours/timm" in out
    assert "target" not in out, "like against like is measured, not held to the target"
