"""bf16 autocast against fp32 when training our models on this CPU: the measurement behind `runtime.precision=auto`.

For each model, one training step (forward, loss, backward, AdamW) on a random batch, timed in fp32 and in bf16
autocast in alternating repetitions; the ratio is the median of the per-pair ratios. Each row also says what
`auto` picks for the model here (`vitstudio.train.hardware`) and whether that was the faster of the two. On a CPU
without AMX, `auto` keeps fp32 whatever the model (bf16 is emulated there).

    PYTHONPATH=. python benchmarks/cpu_bf16.py [--models a,b] [--threads N] [--clock cpu]

Imports no Qt: it runs on any machine with torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import (  # a sibling script, not a package
    CLOCKS,
    compare,
    load_average,
    make_mae_step,
    make_train_step,
    paired_ratio,
    prepare_device,
)

from vitstudio.models import create_model, family_of, model_args
from vitstudio.train.hardware import autocast_dtype, native_bf16, precision_name

#: (model, batch): the quick preset's hybrid, the small ViTs on either side of auto's width, MAE, ViT-Ti/16
MODELS = (
    ("vit_pico_r1_s4_p1_32", 64),
    ("vit_nano_patch4_32", 128),
    ("vit_micro_patch4_32", 128),
    ("mae_vit_nano_patch4_32", 128),
    ("mae_vit_micro_patch4_32", 128),
    ("vit_tiny_patch16_224", 32),
)


def race(name: str, batch: int, args, device: torch.device) -> str:
    """One row: fp32 and bf16 images/s of a training step of `name`, their ratio and auto's pick."""
    torch.manual_seed(0)
    model = create_model(name).to(device).train()
    kwargs = model_args(name)
    size = kwargs["img_size"]
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, kwargs.get("num_classes") or 1000, (batch,), device=device)
    mask_ratio = family_of(model).mask_ratio
    steps = {
        dtype: make_mae_step(model, device, dtype, mask_ratio)
        if family_of(model).pretraining
        else make_train_step(model, device, dtype)
        for dtype in (None, torch.bfloat16)
    }
    timings = compare(steps, x, y, args.reps, args.steps, args.warmup, device, CLOCKS[args.clock])
    fp32, bf16 = timings[None], timings[torch.bfloat16]
    ratio = paired_ratio(bf16, fp32)
    pick = precision_name(autocast_dtype("auto", device, kwargs["embed_dim"]))
    faster = "bf16" if ratio > 1 else "fp32"
    return (
        f"| {name} | {kwargs['embed_dim']} | {batch} | {fp32.median:.1f} | {bf16.median:.1f} | {ratio:.2f} "
        f"| {pick} | {'yes' if pick == faster else 'no'} |"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(f"{m}:{b}" for m, b in MODELS), help="NAME:BATCH,...")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions per precision (alternating)")
    p.add_argument("--steps", type=int, default=3, help="training steps per repetition")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--clock", choices=tuple(CLOCKS), default="cpu", help="cpu: this process's CPU time")
    args = p.parse_args(argv)
    device = prepare_device("cpu", args.threads)
    print(f"AMX (bf16 matmuls in hardware): {'yes' if native_bf16(device) else 'no'}; {args.clock} clock")
    print("| model | width | batch | fp32 img/s | bf16 img/s | bf16/fp32 | auto picks | the faster |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for item in filter(None, args.models.split(",")):
        name, _, batch = item.partition(":")
        print(race(name, int(batch or 32), args, device), flush=True)
    print(f"end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
