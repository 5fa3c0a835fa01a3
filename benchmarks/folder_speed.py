"""Training images/s on a folder of small images: our pipeline against timm's, side by side in one run.

The script writes an ImageFolder of 32x32 PNGs (the built-in shapes, ten classes) and trains the same model
(`vit_micro_patch4_32`, 2.69 M parameters; timm's `VisionTransformer` with the same arguments and the same
weights) with the same batch, torch threads and training step (forward, cross-entropy, backward, AdamW), each at
its own precision: ours at the one `vitstudio train` picks (`--precision auto`: bf16 autocast on a CUDA device or
a CPU with AMX for this 192-wide model, else fp32; `vitstudio.train.hardware`), timm's at its `train.py`'s
default (`--timm-precision fp32`: no `--amp`) unless told otherwise; `--precision fp32 --timm-precision fp32`
and `--precision bf16 --timm-precision bf16` race like against like. Both are fed by
  ours: `build_datasets("folder")` (decoded once into uint8, cached) and `build_loader` (the resident loader:
        pad-and-crop and flip per batch on the device, no worker processes);
  timm: `timm.data.create_dataset` + `create_loader` on the same folder, as timm's train.py builds them
        (PIL decoding in DataLoader workers; its prefetcher on CUDA), with the nearest recipe timm expresses:
        random-resized crop at scale 1 and ratio 1 (the whole 32x32 image), flip 0.5, no colour jitter,
        the folder's mean and std.
Warm-up steps are not timed; timed repetitions alternate ours, timm, ours, timm, ... The ratio is the median of
the per-pair ratios (each of our repetitions against the timm repetition right after it).

    PYTHONPATH=. python benchmarks/folder_speed.py [--images 10000] [--batch 128] [--threads N] [--workers W]
        [--clock cpu --workers 0] [--data-only] [--precision auto|fp32|bf16] [--timm-precision fp32|bf16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import (  # a sibling script, not a package
    CLOCKS,
    Timing,
    build_pair,
    load_average,
    make_train_step,
    paired_ratio,
    prepare_device,
    synchronize,
)

from vitstudio.data import DeviceLoader, build_datasets, build_loader
from vitstudio.data.loader import default_workers
from vitstudio.data.shapes import CLASSES, render_shapes
from vitstudio.models import model_args
from vitstudio.train.hardware import autocast_dtype, precision_name

MODEL = "vit_micro_patch4_32"
TARGET = 1.2  # issue 16: at least 1.2x timm's images/s


def write_folder(root: Path, n: int, size: int = 32) -> Path:
    """`n` PNGs in root/train/<class>/ (ten classes of the built-in shapes)."""
    images, labels = render_shapes(n, size, seed=0)
    for i, (img, label) in enumerate(zip(images, labels)):
        folder = root / "train" / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:06d}.png")
    return root


def forever(loader):
    """Batches without end, epoch after epoch (our sampler reseeded per epoch)."""
    epoch = 0
    while True:
        if isinstance(loader, DeviceLoader):
            loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def timed(batches, step, steps: int, batch: int, device: torch.device, clock=time.perf_counter) -> float:
    """Images/s of `steps` training steps, each fetching its batch and moving it to the device."""
    synchronize(device)
    t0 = clock()
    for _ in range(steps):
        x, y = next(batches)
        step(x.to(device, non_blocking=True), y.to(device, non_blocking=True))
    synchronize(device)
    return steps * batch / (clock() - t0)


def no_step(x, y) -> None:
    """The step of --data-only: nothing but the batch itself."""


def timm_loader(root: Path, args, mean, std, device: torch.device):
    from timm.data import create_dataset, create_loader

    dataset = create_dataset("", root=str(root), split="train", is_training=True)
    cuda = device.type == "cuda"
    return create_loader(
        dataset,
        input_size=(3, args.img_size, args.img_size),
        batch_size=args.batch,
        is_training=True,
        scale=(1.0, 1.0),
        ratio=(1.0, 1.0),
        hflip=0.5,
        color_jitter=0.0,
        mean=tuple(mean),
        std=tuple(std),
        num_workers=args.workers,
        device=device,
        use_prefetcher=cuda,
        pin_memory=cuda,
        persistent_workers=args.workers > 0,
    )


def run(args) -> float:
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = write_folder(Path(tmp) / "folder", args.images, args.img_size)
        cache = Path(tmp) / "cache"
        t0 = time.perf_counter()
        bundle = build_datasets(
            "folder", root=root, img_size=args.img_size, hflip=True, val_fraction=0.0, cache_dir=cache
        )
        decode = time.perf_counter() - t0
        t0 = time.perf_counter()
        bundle = build_datasets(
            "folder", root=root, img_size=args.img_size, hflip=True, val_fraction=0.0, cache_dir=cache
        )
        cached = time.perf_counter() - t0
        print(f"folder: {len(bundle.train)} PNGs at {args.img_size}x{args.img_size}, {bundle.num_classes} classes")
        print(f"ours: first build (scan + decode + cache) {decode:.2f} s, cached build {cached:.2f} s")
        print(f"ours: {bundle.train.aug.describe()}")
        ours_loader = build_loader(bundle.train, args.batch, train=True, device=device)
        if not isinstance(ours_loader, DeviceLoader):
            raise RuntimeError("the folder was not served by the resident loader")
        if args.data_only:
            print("data only: each step fetches its batch and moves it to the device; no model")
            steps = {"ours": no_step, "timm": no_step}
        else:
            ours_model, timm_model, _ = build_pair(MODEL, device, args.img_size, channels_last=False)
            params = sum(p.numel() for p in ours_model.parameters())
            print(f"model {MODEL}: {params / 1e6:.2f} M parameters, timm's VisionTransformer with the same weights")
            ours_dtype = autocast_dtype(args.precision, device, model_args(MODEL)["embed_dim"])
            timm_dtype = torch.bfloat16 if args.timm_precision == "bf16" else None
            print(f"precision: ours {precision_name(ours_dtype)} ({args.precision}), timm {args.timm_precision}")
            steps = {
                "ours": make_train_step(ours_model, device, ours_dtype),
                "timm": make_train_step(timm_model, device, timm_dtype),
            }
        print(f"timm: create_dataset + create_loader, {args.workers} worker(s), prefetcher {device.type == 'cuda'}")
        feeds = {
            "ours": (forever(ours_loader), steps["ours"]),
            "timm": (forever(timm_loader(root, args, bundle.mean, bundle.std, device)), steps["timm"]),
        }
        for batches, step in feeds.values():
            timed(batches, step, args.warmup, args.batch, device)
        timings = {name: Timing() for name in feeds}
        for rep in range(args.reps):
            for name, (batches, step) in feeds.items():
                timings[name].ips.append(timed(batches, step, args.steps, args.batch, device, CLOCKS[args.clock]))
            print(f"rep {rep + 1}: ours {timings['ours'].ips[-1]:.1f} img/s, timm {timings['timm'].ips[-1]:.1f} img/s")
    ours, timm = timings["ours"], timings["timm"]
    ratio = paired_ratio(ours, timm)
    pairs = [a / b for a, b in zip(ours.ips, timm.ips)]
    print(
        f"ours {ours.median:.1f} img/s ({min(ours.ips):.1f}-{max(ours.ips):.1f}), "
        f"timm {timm.median:.1f} img/s ({min(timm.ips):.1f}-{max(timm.ips):.1f}), "
        f"ours/timm {ratio:.3f} (pairs {min(pairs):.3f}-{max(pairs):.3f})"
    )
    if not args.data_only and (args.precision, args.timm_precision) == ("auto", "fp32"):
        # the target is about training as each tool trains by default
        print(f"target ours/timm >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'}")
    return ratio


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--images", type=int, default=10000, help="PNGs written to the folder")
    p.add_argument("--img-size", type=int, default=32)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--reps", type=int, default=7, help="timed repetitions per pipeline (alternating)")
    p.add_argument("--steps", type=int, default=10, help="training steps per timed repetition")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per pipeline first (starts timm's workers)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads, both pipelines (default: torch's)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="timm's DataLoader workers (default: what our own DataLoader path uses on this device)",
    )
    p.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="wall: elapsed time; cpu: this process's CPU time, steadier on a busy machine (CPU only, and only "
        "with --workers 0, where every image is decoded in this process)",
    )
    p.add_argument("--data-only", action="store_true", help="time the two pipelines alone, without a model")
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="ours: runtime.precision (auto: what vitstudio train picks for this model on this device)",
    )
    p.add_argument(
        "--timm-precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="timm's: fp32 is its train.py's default; bf16 is train.py --amp --amp-dtype bfloat16",
    )
    args = p.parse_args(argv)
    if min(args.images, args.batch, args.reps, args.steps) < 1 or args.warmup < 0:
        p.error("--images, --batch, --reps and --steps must be >= 1 and --warmup >= 0")
    if args.images < args.batch:
        p.error(f"--images {args.images} is fewer than one batch of {args.batch}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error(f"--device {args.device}: torch sees no CUDA device here")
    if args.workers is None:
        args.workers = default_workers(args.device)
    if args.clock == "cpu" and (args.workers > 0 or args.device.startswith("cuda")):
        p.error("--clock cpu counts only this process's CPU time: use it on the CPU with --workers 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import timm  # noqa: F401
    except ImportError:
        sys.exit("folder_speed.py races our pipeline against timm's: pip install timm")
    prepare_device(args.device, args.threads)
    print(
        f"{args.reps} alternating reps x {args.steps} steps of batch {args.batch}, "
        f"{args.warmup} warm-up steps, {args.clock} clock"
    )
    run(args)
    print(f"end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
