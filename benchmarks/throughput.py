"""Training and inference throughput of our ViTs against timm's, side by side on one machine.

For each model, ours (`vitstudio.models.create_model`) and timm's `VisionTransformer` are built with the
same arguments and hold the same weights (timm's state dict is loaded into ours). Both run the same batch,
the same precision (fp32 on CPU, bf16 autocast on CUDA) and the same attention kernel
(`scaled_dot_product_attention`). After a warm-up, timed repetitions alternate: ours, timm, ours, timm, ...
The table shows the median images/s of each, and the ratio ours/timm as the median of the per-pair ratios
(each of our repetitions against the timm repetition right after it), which cancels slow drifts in the
load of a shared machine. On CUDA it adds the model-FLOPs utilisation (analytic FLOPs, see
`forward_flops`: `vitstudio.models.stats`, against a bf16 matmul peak measured here) and the peak memory.

With `--mae`, it also races an MAE pretraining step (encoder on the visible patches only) against a
supervised step of a ViT with the same encoder, and prints the speed-up the FLOPs predict beside it.

    PYTHONPATH=. python benchmarks/throughput.py --models vit_tiny_patch16_224 --batch 32
    PYTHONPATH=. python benchmarks/throughput.py --models '' --mae mae_vit_tiny_patch4_32 --batch 128

Imports no Qt: it runs on any machine with torch and timm.
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import statistics
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F

from vitstudio.models import create_model, family_of, model_args, model_entry
from vitstudio.models.stats import model_stats, vit_stats

# -- analytic FLOPs ---------------------------------------------------------------------------------


def forward_flops(name: str, mask_ratio: float | None = None, **kwargs) -> int:
    """FLOPs (2 x MACs) of one image through `create_model(name, **kwargs)`'s forward pass, from the model's
    figures (`vitstudio.models.stats`, what the studio shows). ViT-B/16 at 224: 35.1 GFLOPs. A training step
    costs about 3x this (backward = 2x forward); `mask_ratio` is MAE's."""
    return 2 * model_stats(name, mask_ratio=mask_ratio, **kwargs).macs


# -- measurement ------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Images/s of each repetition and the peak memory (bytes, CUDA only) over all of them."""

    ips: list[float] = field(default_factory=list)
    peak_mem: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.ips)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def race_dtype(device: torch.device) -> torch.dtype | None:
    """The precision this script races both models at: bf16 autocast on CUDA, fp32 (None) on the CPU."""
    return torch.bfloat16 if device.type == "cuda" else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Autocast to `dtype`, or nothing for fp32 (None)."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def make_train_step(model, device: torch.device, dtype: torch.dtype | None, lr: float = 1e-4):
    """One AdamW training step (forward, cross-entropy, backward, update) as a closure over `model`, with
    autocast to `dtype` (None: fp32)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05, fused=device.type == "cuda")

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            out = model(x)
            loss = sum(F.cross_entropy(o, y) for o in out) if isinstance(out, tuple) else F.cross_entropy(out, y)
        loss.backward()
        opt.step()

    return step


def make_infer_step(model, device: torch.device, dtype: torch.dtype | None):
    @torch.inference_mode()
    def step(x, y):
        with autocast(device, dtype):
            model(x)

    return step


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_steps(step, x, y, steps: int, device: torch.device, clock=time.perf_counter) -> float:
    """Seconds for `steps` calls of `step`, with the device drained before and after."""
    synchronize(device)
    t0 = clock()
    for _ in range(steps):
        step(x, y)
    synchronize(device)
    return clock() - t0


def compare(
    steps_by_name: dict, x, y, reps: int, steps: int, warmup: int, device: torch.device, clock=time.perf_counter
) -> dict[str, Timing]:
    """Warm each step function up, then time them in alternating repetitions."""
    for step in steps_by_name.values():
        for _ in range(warmup):
            step(x, y)
    synchronize(device)
    timings = {name: Timing() for name in steps_by_name}
    for _ in range(reps):
        for name, step in steps_by_name.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            seconds = time_steps(step, x, y, steps, device, clock)
            timings[name].ips.append(steps * x.shape[0] / seconds)
            if device.type == "cuda":
                timings[name].peak_mem = max(timings[name].peak_mem, torch.cuda.max_memory_allocated(device))
    return timings


def paired_ratio(a: Timing, b: Timing) -> float:
    """Median over repetitions of a/b, each rep of `a` against the rep of `b` that followed it."""
    return statistics.median(p / q for p, q in zip(a.ips, b.ips))


def matmul_peak_flops(device: torch.device, n: int = 8192, iters: int = 50) -> float:
    """Measured bf16 matrix-multiply rate (FLOP/s) of the device: the denominator of the MFU."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        a @ b
    synchronize(device)
    return 2 * n**3 * iters / (time.perf_counter() - t0)


# -- models -----------------------------------------------------------------------------------------


def timm_resnetv2_hybrid(layers, padding: str = "same", patch_size=1, in_chans: int = 3, **vit_kwargs):
    """timm's ViT on timm's ResNetV2 with stages `layers` (empty: the stem only), as timm's `_resnetv2` and
    `_create_vision_transformer_hybrid` build its `vit_*_r*` models; `padding` 'same' only, as timm's."""
    from timm.layers import StdConv2dSame
    from timm.models.resnetv2 import ResNetV2, create_resnetv2_stem
    from timm.models.vision_transformer import VisionTransformer as TimmViT
    from timm.models.vision_transformer_hybrid import HybridEmbed as TimmHybridEmbed

    if padding != "same":
        raise ValueError(f"timm's hybrids pad 'same', not {padding!r}: nothing to race it against")
    conv = partial(StdConv2dSame, eps=1e-8)
    if layers:
        backbone = ResNetV2(
            layers=layers,
            num_classes=0,
            global_pool="",
            in_chans=in_chans,
            preact=False,
            stem_type="same",
            conv_layer=conv,
        )
    else:
        backbone = create_resnetv2_stem(in_chans, stem_type="same", preact=False, conv_layer=conv)
    return TimmViT(
        embed_layer=partial(TimmHybridEmbed, backbone=backbone), patch_size=patch_size, in_chans=in_chans, **vit_kwargs
    )


def build_pair(name: str, device: torch.device, img_size: int | None, channels_last: bool):
    """Our model `name` and timm's equivalent, with the same weights (timm's, loaded into ours).

    timm's model of the same name where timm has one (ViTs, hybrids, DeiT), else timm's
    `VisionTransformer` with our arguments (our small ViTs and ResNetV2 hybrids, the latter on timm's
    ResNetV2 built as timm builds its own hybrids). A model without a head gets 1000 classes.
    """
    import timm
    from timm.models.vision_transformer import VisionTransformer as TimmViT

    overrides = {"img_size": img_size} if img_size else {}
    if not model_args(name).get("num_classes", 1000):
        overrides["num_classes"] = 1000
    kwargs = {**model_args(name), **overrides}
    ours = create_model(name, **overrides)
    family = model_entry(name).family.name
    timm.layers.set_fused_attn(True)
    if timm.is_model(name):
        ref = timm.create_model(name, pretrained=False, **overrides)
    elif family == "vit":
        ref = TimmViT(**kwargs)
    elif family == "hybrid" and kwargs.get("backbone", "resnetv2") == "resnetv2":
        ref = timm_resnetv2_hybrid(**kwargs)
    else:
        raise ValueError(f"timm has no model named {name!r} and it is not a plain ViT: nothing to race it against")
    if hasattr(ref, "set_distilled_training"):
        ref.set_distilled_training(True)  # return both heads' logits in training, as ours does
    ours.load_state_dict(ref.state_dict(), strict=True)
    if not all(m.fused_attn for m in ref.modules() if hasattr(m, "fused_attn")):
        raise RuntimeError("timm's attention is not on the fused SDPA path (is TIMM_FUSED_ATTN=0 set?)")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return ours.to(device, memory_format=fmt), ref.to(device, memory_format=fmt), kwargs


def inputs(kwargs: dict, args, device: torch.device):
    """A random batch of images and labels for a model built with `kwargs`."""
    size = kwargs["img_size"]
    x = torch.randn(args.batch, kwargs.get("in_chans", 3), size, size, device=device)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, kwargs.get("num_classes", 1000), (args.batch,), device=device)
    return x, y


def run_model(name: str, args, device: torch.device, peak: float | None) -> None:
    """Ours against timm for `name`: one row per mode (train, infer)."""
    torch.manual_seed(0)
    ours, ref, kwargs = build_pair(name, device, args.img_size, args.channels_last)
    x, y = inputs(kwargs, args, device)
    flops = forward_flops(name, **kwargs)
    if args.compile:
        ours, ref = torch.compile(ours), torch.compile(ref)
    for mode in args.modes:
        for m in (ours, ref):
            m.train(mode == "train")
        make = make_train_step if mode == "train" else make_infer_step
        timings = compare(
            {"ours": make(ours, device, race_dtype(device)), "timm": make(ref, device, race_dtype(device))},
            x,
            y,
            args.reps,
            args.steps,
            args.warmup,
            device,
            CLOCKS[args.clock],
        )
        n = 3 if mode == "train" else 1
        print(
            format_row(
                name, kwargs["img_size"], mode, args.batch, timings, {"ours": n * flops, "timm": n * flops}, peak
            ),
            flush=True,
        )


# -- MAE against supervised training of the same encoder -------------------------------------------


def build_mae_and_encoder(name: str, device: torch.device):
    """The MAE `name` and a classification ViT with the same encoder (its arguments minus the decoder's)."""
    from vitstudio.models import VisionTransformer

    mae = create_model(name)
    if not family_of(mae).reconstructs:
        raise ValueError(f"{name!r} is not a masked autoencoder")
    vit_params = inspect.signature(VisionTransformer).parameters
    encoder_args = {k: v for k, v in model_args(name).items() if k in vit_params}
    return mae.to(device), VisionTransformer(**encoder_args).to(device), encoder_args


def make_mae_step(model, device: torch.device, dtype: torch.dtype | None, mask_ratio: float, lr: float = 1e-4):
    """One MAE pretraining step (masked forward, reconstruction loss, backward, AdamW update)."""
    opt = torch.optim.AdamW(
        model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.05, fused=device.type == "cuda"
    )

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            loss = model(x, mask_ratio=mask_ratio)[0]
        loss.backward()
        opt.step()

    return step


def run_mae(name: str, args, device: torch.device, peak: float | None) -> None:
    """Training images/s of an MAE step against a supervised step of the same encoder."""
    torch.manual_seed(0)
    mae, vit, kwargs = build_mae_and_encoder(name, device)
    x, y = inputs(kwargs, args, device)
    flops = {"mae": 3 * forward_flops(name, args.mask_ratio), "sup": 3 * 2 * vit_stats(**kwargs).macs}
    if args.compile:
        mae, vit = torch.compile(mae), torch.compile(vit)
    timings = compare(
        {
            "mae": make_mae_step(mae.train(), device, race_dtype(device), args.mask_ratio),
            "sup": make_train_step(vit.train(), device, race_dtype(device)),
        },
        x,
        y,
        args.reps,
        args.steps,
        args.warmup,
        device,
        CLOCKS[args.clock],
    )
    print(
        format_row(name, kwargs["img_size"], f"m{args.mask_ratio:g}", args.batch, timings, flops, peak)
        + f"   (FLOP ratio sup/mae {flops['sup'] / flops['mae']:.2f})",
        flush=True,
    )


# -- report -----------------------------------------------------------------------------------------


def header(a: str, b: str, cuda: bool) -> str:
    cols = f"{'model':32s} {'img':>4s} {'mode':5s} {'batch':>5s}"
    for side in (a, b):
        cols += f" {side + ' GFLOP':>10s} {side + ' img/s':>10s} {side + ' range':>13s}"
        if cuda:
            cols += f" {side + ' MFU':>8s} {side + ' mem':>9s}"
    return cols + f" {a + '/' + b:>9s}"


def format_row(
    model: str, img: int, mode: str, batch: int, timings: dict[str, Timing], flops: dict[str, int], peak: float | None
) -> str:
    """One table line: per side GFLOP/img, median images/s, range (and MFU, peak memory); the paired ratio."""
    line = f"{model:32s} {img:>4d} {mode:5s} {batch:>5d}"
    for side, t in timings.items():
        line += f" {flops[side] / 1e9:>10.2f} {t.median:>10.1f} {min(t.ips):>6.1f}-{max(t.ips):<6.1f}"
        if peak:
            line += f" {t.median * flops[side] / peak:>8.1%} {t.peak_mem / 2**30:>6.2f}GiB"
    a, b = timings.values()
    return line + f" {paired_ratio(a, b):>9.3f}"


def prepare_device(name: str, threads: int) -> torch.device:
    """The device to measure on, with the thread count (0: torch's default) and TF32 as the trainer sets them;
    prints what the machine is and its load."""
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    print(machine_description(device))
    print(f"start: {load_average()}")
    return device


def machine_description(device: torch.device) -> str:
    try:
        import timm

        timm_version = timm.__version__
    except ImportError:
        timm_version = "absent"
    what = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    return (
        f"device {device} ({what}), torch {torch.__version__}, timm {timm_version}, "
        f"python {platform.python_version()}, threads {torch.get_num_threads()}"
    )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + f" x{os.cpu_count()}"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unavailable"


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--models",
        default="vit_tiny_patch16_224",
        help="comma-separated names from vitstudio.models.list_models() to race against timm ('' for none)",
    )
    p.add_argument(
        "--mae",
        default="",
        help="comma-separated MAE models (e.g. mae_vit_base_patch16): their "
        "pretraining step against a supervised step of the same encoder",
    )
    p.add_argument("--mask-ratio", type=float, default=0.75, help="MAE mask ratio")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--img-size", type=int, default=None, help="override each model's image size")
    p.add_argument("--reps", type=int, default=7, help="timed repetitions per implementation (alternating)")
    p.add_argument("--steps", type=int, default=3, help="steps per timed repetition")
    p.add_argument(
        "--warmup",
        type=int,
        default=3,
        help="untimed steps per implementation before timing (compiles, with --compile)",
    )
    p.add_argument("--modes", default="train,infer", help="comma-separated: train, infer")
    p.add_argument("--compile", action="store_true", help="torch.compile both models")
    p.add_argument("--channels-last", action="store_true", help="channels-last images and weights (hybrids)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="wall: elapsed time; cpu: this process's CPU time, which other processes on a busy "
        "machine disturb far less (CPU only; meaningful with --threads 1, where no thread spins)",
    )
    args = p.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.mae = [m.strip() for m in args.mae.split(",") if m.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in args.modes if m not in ("train", "infer")]
    if bad:
        p.error(f"--modes: unknown mode(s) {bad}; use train and/or infer")
    if not (args.models or args.mae):
        p.error("nothing to measure: give --models and/or --mae")
    if not 0.0 < args.mask_ratio < 1.0:
        p.error(f"--mask-ratio must lie strictly between 0 and 1, got {args.mask_ratio}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error(f"--device {args.device}: torch sees no CUDA device here")
    if args.clock == "cpu" and args.device.startswith("cuda"):
        p.error("--clock cpu measures CPU work; time a GPU with --clock wall")
    if min(args.batch, args.reps, args.steps) < 1 or args.warmup < 0:
        p.error("--batch, --reps and --steps must be >= 1 and --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.models:
        try:
            import timm  # noqa: F401
        except ImportError:
            sys.exit("throughput.py races our models against timm's: pip install timm (or measure only --mae)")
    device = prepare_device(args.device, args.threads)
    peak = None
    if device.type == "cuda":
        peak = matmul_peak_flops(device)
        print(f"measured bf16 matmul peak: {peak / 1e12:.0f} TFLOP/s")
    print(
        f"{args.reps} alternating reps x {args.steps} steps, {args.warmup} warm-up steps, {args.clock} clock; "
        f"{'bf16 autocast' if device.type == 'cuda' else 'fp32'}, SDPA attention"
        f"{', torch.compile' if args.compile else ''}{', channels-last' if args.channels_last else ''}"
    )
    if args.models:
        print(header("ours", "timm", peak is not None))
        for name in args.models:
            run_model(name, args, device, peak)
    if args.mae:
        print(header("mae", "sup", peak is not None))
        for name in args.mae:
            run_mae(name, args, device, peak)
    print(f"end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
