"""Figures for the data pipeline: built-in dataset generation time, how hard it is for a linear model,
and loader throughput (resident vs DataLoader).

    PYTHONPATH=. python benchmarks/data.py [--skip-lr] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from vitstudio.data import build_datasets, build_loader
from vitstudio.data.shapes import render_shapes


def generation(n: int, size: int) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    render_shapes(n, size, seed=0)
    print(
        f"generate {n} images at {size}x{size}: {time.perf_counter() - wall:.2f} s wall, "
        f"{time.process_time() - cpu:.2f} s CPU (machine load {os.getloadavg()[0]:.1f})"
    )


def logistic_regression(cache_dir: str, steps: int = 300) -> None:
    """Full-batch Adam on standardised raw pixels of the default 20k/2k split; best val top-1 seen."""
    b = build_datasets(cache_dir=cache_dir)
    xt, yt = b.train.images.reshape(len(b.train), -1).float() / 255, b.train.labels
    xv, yv = b.val.images.reshape(len(b.val), -1).float() / 255, b.val.labels
    mu, sd = xt.mean(0), xt.std(0) + 1e-3
    xt, xv = (xt - mu) / sd, (xv - mu) / sd
    for wd in (1e-4, 1e-2):
        lin = torch.nn.Linear(xt.shape[1], b.num_classes)
        opt = torch.optim.Adam(lin.parameters(), lr=1e-3, weight_decay=wd)
        best = 0.0
        for step in range(steps):
            loss = torch.nn.functional.cross_entropy(lin(xt), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 25 == 24:
                with torch.no_grad():
                    best = max(best, (lin(xv).argmax(1) == yv).float().mean().item())
        print(f"logistic regression on raw pixels (20k train, weight decay {wd}): best val top-1 {best:.1%}")


def loaders(cache_dir: str, batches: int = 40) -> None:
    for augment in ("standard", "deit"):
        b = build_datasets(cache_dir=cache_dir, augment=augment)
        for resident in ("on", "off"):
            loader = build_loader(b.train, 128, train=True, resident=resident, num_workers=0)
            it = iter(loader)
            next(it)
            t = time.perf_counter()
            for _ in range(batches):
                next(it)
            rate = batches * 128 / (time.perf_counter() - t)
            print(f"loader {augment:8s} resident={resident:3s} (1 process, CPU): {rate:8.0f} images/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-lr", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    generation(20000, 32)
    generation(20000, 64)
    with tempfile.TemporaryDirectory() as cache:
        if not args.skip_lr:
            logistic_regression(cache)
        loaders(cache)


if __name__ == "__main__":
    main()
