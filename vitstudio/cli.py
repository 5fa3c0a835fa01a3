"""The `vitstudio` command line: one entry point for the studio and its headless tools.

Each command imports the part of vitstudio it uses when it runs (deferred for start-up: torch takes seconds to
import, and `--help` or the window's launch need none of it)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time

from . import __version__
from .runtime import configure_threads


def _cmd_models(args) -> int:
    from .models import list_models, model_args

    if args.pretrained:
        return _list_pretrained(args.pattern)
    for name in list_models(args.pattern):
        a = model_args(name)
        print(
            f"{name:32s} dim {a.get('embed_dim', '-'):>4} depth {a.get('depth', '-'):>2} "
            f"heads {a.get('num_heads', '-'):>2} patch {a.get('patch_size', '-'):>2} img {a.get('img_size', '-')}"
        )
    return 0


def _list_pretrained(pattern: str) -> int:
    from .models import list_pretrained
    from .models.hub import is_cached

    def stats(v):
        return "/".join(f"{x:g}" for x in v)

    classes = {"imagenet-1k": "ImageNet-1k", "imagenet-21k": "ImageNet-21k (21843, unnamed)", "none": "no head"}
    for c in list_pretrained(pattern if "." in pattern or pattern == "*" else f"{pattern}.*"):
        print(
            f"{c.name:46s} {c.source:56s} {c.input_size}px {c.interpolation:8s} crop {c.crop_pct:<5g} "
            f"mean {stats(c.mean):17s} std {stats(c.std):17s} {classes[c.labels]:29s} "
            f"{c.download_mb:6.0f} MB{'  cached' if is_cached(c) else ''}"
        )
    return 0


def _cmd_convert(args) -> int:
    from .models import create_model, export_safetensors, load_pretrained

    if args.pretrained:
        from .models.hub import WeightsUnavailable

        try:
            model = create_model(args.pretrained, pretrained=True)
        except (KeyError, ValueError, WeightsUnavailable) as e:
            print(f"vitstudio convert: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
            return 2
        print(f"wrote {export_safetensors(model, args.out)} ({model.pretrained_cfg.name})")
        return 0
    if not (args.source and args.model):
        print("vitstudio convert: give a weights file and --model NAME, or --pretrained NAME.TAG", file=sys.stderr)
        return 2
    try:
        overrides = {k: json.loads(v) for k, v in (a.split("=", 1) for a in args.set)}
    except ValueError as e:
        print(f"vitstudio convert: --set takes ARG=JSON, e.g. num_classes=10 ({e})", file=sys.stderr)
        return 2
    try:
        model = create_model(args.model, **overrides)
        report = load_pretrained(model, args.source, strict=not args.lenient)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as e:  # a bad file or a model it does not fit
        print(f"vitstudio convert: {_plain(e)}", file=sys.stderr)
        return 2
    for note in report.notes:
        print(f"note: {note}")
    try:
        print(f"wrote {export_safetensors(model, args.out)}")
    except OSError as e:
        print(f"vitstudio convert: cannot write {args.out} ({e.strerror or e})", file=sys.stderr)
        return 1
    return 0


def _plain(e: Exception) -> str:
    """An exception as one message for the user (a KeyError's repr quotes dropped)."""
    text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    return str(text) or type(e).__name__


def _cmd_train(args) -> int:
    from .config import ConfigError, apply_overrides, load_config
    from .train import Trainer, find_run
    from .train.console import ProgressBar, format_summary
    from .train.distributed import context
    from .train.runs import RunError, RunFinished

    try:
        if args.resume:
            base = find_run(args.resume, args.runs_dir).config()
        else:
            base = load_config(args.preset or "quick")
        cfg = load_config(args.config, base=base) if args.config else base
        cfg = apply_overrides(cfg, [*args.set, *([f"runtime.device={args.device}"] if args.device else [])])
        main_rank = context().is_main
        listeners = [ProgressBar()] if main_rank else []
        trainer = Trainer(cfg, runs_dir=args.runs_dir, listeners=listeners, resume=args.resume)
    except RunFinished as e:
        print(f"vitstudio train: {e}")
        return 0
    except (ConfigError, LookupError, RunError) as e:
        print(f"vitstudio train: {e}", file=sys.stderr)
        return 2
    start = time.time()
    # The first Ctrl-C asks the trainer to stop after the current step and save a checkpoint; a second one kills.
    signal.signal(signal.SIGINT, lambda *_: (trainer.stop(), signal.signal(signal.SIGINT, signal.SIG_DFL)))
    final = trainer.run()
    if main_rank:
        print(format_summary(final, trainer.run_record.summary(), time.time() - start))
        if final.kind == "failed" and args.verbose:
            print(final.data.get("traceback", ""), file=sys.stderr)
    return {"finished": 0, "stopped": 130}.get(final.kind, 1)


def _cmd_runs(args) -> int:
    from .train import find_run, list_runs
    from .train.console import format_eval, format_runs_table
    from .train.runs import RunError

    if args.action == "compare":
        return _cmd_runs_compare(args)
    if args.action == "list":
        summaries = [r.summary() for r in list_runs(args.runs_dir)]
        print(json.dumps(summaries, indent=1) if args.json else format_runs_table(summaries))
        return 0
    try:
        run = find_run(args.run, args.runs_dir)
    except LookupError as e:
        print(f"vitstudio runs: {e}", file=sys.stderr)
        return 2
    if args.action == "show":
        from .train.compare import resolved_config

        s = run.summary()
        reason = f" ({s['reason']})" if s["reason"] else ""
        print(f"run {s['id']}: {s['state']} at step {s['step']}/{s['total_steps']}{reason}")
        print(f"folder {s['path']}")
        with contextlib.suppress(RunError):  # a damaged config is named in the state line
            print(json.dumps(resolved_config(run), indent=2))
        for e in run.events():
            if e.kind == "eval":
                print(f"epoch {e.epoch:6.2f}  step {e.step:6d}  {format_eval(e.data)}")
        problems = run.problems()
        for problem in problems:
            print(f"vitstudio runs show: {problem}", file=sys.stderr)
        return 1 if problems else 0
    from .train.checkpoint import CheckpointError
    from .train.export import export_csv, export_tensorboard, export_weights

    out = (
        args.output
        or {
            "csv": f"{run.id}.csv",
            "safetensors": f"{run.id}.safetensors",
            "timm": f"{run.id}-timm.safetensors",
            "tensorboard": f"{run.id}-tensorboard",
        }[args.format]
    )
    try:
        if args.format == "tensorboard":
            path = export_tensorboard(run, out)
        else:
            path = export_csv(run, out) if args.format == "csv" else export_weights(run, out, args.format, args.which)
    except OSError as e:
        print(f"vitstudio runs export: cannot write {e.filename or out} ({e.strerror or e})", file=sys.stderr)
        return 1
    except (CheckpointError, RuntimeError, ValueError) as e:
        print(f"vitstudio runs export: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


def _cmd_runs_compare(args) -> int:
    from .train import find_run

    try:
        runs = [find_run(ref, args.runs_dir) for ref in args.runs]
        for run in runs:
            run.config()  # a damaged run is refused here, its faulty file named
    except (LookupError, ValueError) as e:  # RunError is a ValueError
        print(f"vitstudio runs compare: {e}", file=sys.stderr)
        return 2
    if not 0 <= args.smoothing < 1:
        print(f"vitstudio runs compare: --smoothing must be in [0, 1), got {args.smoothing}", file=sys.stderr)
        return 2
    from .train.compare import write_comparison

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    try:
        paths = write_comparison(runs, args.out, metrics, args.x, args.smoothing, args.log_y)
    except OSError as e:
        print(f"vitstudio runs compare: cannot write {e.filename or args.out} ({e.strerror or e})", file=sys.stderr)
        return 1
    except ValueError as e:  # RunError (a damaged run) too
        print(f"vitstudio runs compare: {e}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def _cmd_inspect(args) -> int:
    from .analysis import load_image, write_report
    from .analysis.sources import (
        example_images,
        from_name,
        from_pretrained,
        from_run,
        from_weights,
        records_architecture,
    )

    if not (args.run or args.weights or args.model) or (args.run and (args.weights or args.model)):
        print(
            "vitstudio inspect: say what to inspect: --run RUN, or --model NAME and/or --weights FILE", file=sys.stderr
        )
        return 2
    if args.pretrained and (args.run or args.weights or not args.model):
        print(
            "vitstudio inspect: --pretrained goes with --model NAME.TAG (see `vitstudio models --pretrained`)",
            file=sys.stderr,
        )
        return 2
    try:
        image = load_image(args.image)
        if args.weights and not args.model and not records_architecture(args.weights):
            raise ValueError(f"{args.weights} does not record which model it holds: add --model NAME")
        if args.run:
            source = from_run(args.run, args.checkpoint, args.runs_dir)
        elif args.weights:
            source = from_weights(args.weights, args.model)
        elif args.pretrained:
            source = from_pretrained(args.model)
        else:
            source = from_name(args.model)
    except (ValueError, KeyError, RuntimeError, OSError) as e:  # RuntimeError: weights that do not fit the model
        print(f"vitstudio inspect: {_plain(e)}", file=sys.stderr)
        return 2
    mean, std = args.mean or source.mean, args.std or source.std
    examples = example_images(source, args.distance_images) if args.distance_images > 0 else None
    try:
        paths = write_report(
            source.model.to(args.device),
            image,
            args.out,
            mean,
            std,
            source.class_names,
            mask_ratio=args.mask_ratio,
            seed=args.seed,
            alpha=args.opacity,
            cmap=args.cmap,
            examples=examples,
            crop_pct=source.crop_pct,
        )
    except OSError as e:
        print(f"vitstudio inspect: cannot write {e.filename or args.out} ({e.strerror or e})", file=sys.stderr)
        return 1
    print(f"{source.label}: wrote {len(paths)} files to {args.out}")
    return 0


def _cmd_study(args) -> int:
    from .config import ConfigError
    from .studies import StudyError, StudyRunner, job_state, list_studies, load_study, write_report
    from .studies.runner import torchrun_launcher
    from .train.console import ProgressBar

    if args.action == "list":
        for name in list_studies():
            study = load_study(name)
            arms = ", ".join(study.arms)
            print(f"{name:24s} {study.title}: {len(study.arms)} arms ({arms}) x seeds {list(study.seeds)}")
        return 0
    try:
        study = load_study(args.study)
    except StudyError as e:
        print(f"vitstudio study: {e}", file=sys.stderr)
        return 2
    if args.action == "report":
        path, verdict = write_report(study, args.budget, args.runs_dir, args.out)
        print(path)
        print(verdict)
        return 0

    def on_job(job, state: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {study.name} {job.label}: {state}", flush=True)

    launcher = torchrun_launcher(args.nproc_per_node, args.runs_dir) if args.nproc_per_node > 1 else None
    runner = StudyRunner(study, args.budget, args.runs_dir, [ProgressBar()], on_job, launcher)
    # The first Ctrl-C stops the current run with a resumable checkpoint and ends the queue; a second one kills.
    signal.signal(signal.SIGINT, lambda *_: (runner.stop(), signal.signal(signal.SIGINT, signal.SIG_DFL)))
    start = time.time()
    try:
        jobs = runner.run()
    except (ConfigError, StudyError) as e:
        print(f"vitstudio study: {e}", file=sys.stderr)
        return 2
    states = [job_state(study, jobs, j) for j in jobs]
    done = f"{states.count('finished')}/{len(jobs)}"
    print(f"{study.name} ({args.budget}): {done} runs finished in {time.time() - start:.0f} s")
    for job, state in zip(jobs, states):
        if state != "finished":
            reason = (job.run.status().get("reason") if job.run else job.error) or ""
            print(f"  {job.label}: {state}{f' ({reason})' if reason else ''}")
    return 0 if all(s == "finished" for s in states) else 1


def _cmd_gui(args) -> int:
    from .gui.app import main as gui_main

    return gui_main(runs_dir=args.runs_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vitstudio", description="An experiment studio for Vision Transformers.")
    parser.add_argument("--version", action="version", version=f"vitstudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("models", help="list the named models (or their pretrained weights)")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'vit_base*'")
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="list the pretrained tags: source, input size, interpolation, crop, mean/std, classes, download size "
        "and whether they are cached",
    )
    p.set_defaults(func=_cmd_models)
    p = sub.add_parser(
        "convert",
        help="load foreign weights (timm, DeiT, MAE, Google .npz, transformers) into a "
        "named model and save it as a self-describing .safetensors file",
    )
    p.add_argument("source", nargs="?", help="weights file: .pth/.pt/.bin, .safetensors or .npz")
    p.add_argument("--model", help="registered model name, e.g. vit_base_patch16_224")
    p.add_argument(
        "--pretrained",
        metavar="NAME.TAG",
        help="instead of a file: download a pretrained tag (see `vitstudio models --pretrained`) and save an "
        "offline copy",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="ARG=JSON",
        help="model argument override, e.g. --set num_classes=10 --set img_size=384",
    )
    p.add_argument("--lenient", action="store_true", help="load what fits instead of failing on mismatched keys")
    p.add_argument("--out", required=True, help="output .safetensors path")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("train", help="train a model (headless; torchrun-ready)")
    p.add_argument("config", nargs="?", help="a TOML config, laid over the preset")
    p.add_argument("--preset", help="a packaged preset (default: quick)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a field, e.g. optim.lr=3e-4"
    )
    p.add_argument("--runs-dir", help="where runs live (default: $VITSTUDIO_RUNS or the per-user data folder)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    p.add_argument("--resume", metavar="RUN", help="continue a run from its last checkpoint")
    p.add_argument("-v", "--verbose", action="store_true", help="print the traceback of a failure")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("runs", help="list, show, compare and export runs")
    runs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = runs.add_parser("list", help="every run with its state and results")
    r.add_argument("--json", action="store_true")
    r = runs.add_parser("show", help="a run's config, status and evaluations")
    r.add_argument("run")
    r = runs.add_parser("export", help="a run's metrics (csv) or model (safetensors; timm: timm's layout)")
    r.add_argument("run")
    r.add_argument(
        "--format",
        choices=("csv", "safetensors", "timm", "tensorboard"),
        required=True,
        help="timm: a state dict in timm's layout; tensorboard: event files in a folder (needs tensorboard)",
    )
    r.add_argument("--which", choices=("final", "best", "last"), default="final", help="which weights (default final)")
    r.add_argument(
        "-o", "--output", help="output (default: RUN.csv, RUN.safetensors, RUN-timm.safetensors, RUN-tensorboard/)"
    )
    r = runs.add_parser("compare", help="overlay plots (PNG), config diff and summary (CSV, Markdown) of runs")
    r.add_argument("runs", nargs="+", metavar="RUN")
    r.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    r.add_argument("--metrics", help="comma-separated metrics to plot (default: every logged one)")
    r.add_argument("--x", choices=("step", "epoch", "seconds", "images"), default="step", help="x axis (default step)")
    r.add_argument(
        "--smoothing", type=float, default=0.6, help="EMA weight of training curves, 0 to 0.99 (default 0.6)"
    )
    r.add_argument("--log-y", action="store_true", help="logarithmic y axis")
    for r in runs.choices.values():
        r.add_argument("--runs-dir")
    p.set_defaults(func=_cmd_runs)

    p = sub.add_parser("inspect", help="write the inspector's figures for a model and an image as PNG files")
    p.add_argument("image", help="an image file (any size: resized and centre-cropped to the model's input)")
    p.add_argument("--run", help="a training run (folder, id or a unique part of it): its model and normalisation")
    p.add_argument(
        "--checkpoint",
        choices=("final", "best", "last"),
        default="final",
        help="with --run: which weights (default: final, else best, else last)",
    )
    p.add_argument("--runs-dir", help="with --run: the runs root (default: $VITSTUDIO_RUNS or the user data folder)")
    p.add_argument(
        "--weights",
        metavar="FILE",
        help="weights to inspect: a vitstudio .safetensors export, or with "
        "--model any timm, DeiT, MAE, Google .npz or transformers file",
    )
    p.add_argument(
        "--model",
        metavar="NAME",
        help="a named model (see `vitstudio models`): random weights, or the architecture for --weights; "
        "a pretrained tag NAME.TAG or hf-hub:REPO (see `vitstudio models --pretrained`)",
    )
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="with --model NAME.TAG: its pretrained weights (downloaded once), normalisation and class names",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the figures (created)")
    p.add_argument("--mask-ratio", type=float, default=0.75, help="MAE models: fraction of patches removed")
    p.add_argument("--seed", type=int, default=0, help="MAE models: seed of the random mask")
    p.add_argument("--opacity", type=float, default=0.6, help="heatmap opacity over the image, 0 to 1")
    p.add_argument("--cmap", default="inferno", help="heatmap colormap: inferno, viridis, jet or gray")
    p.add_argument(
        "--mean",
        type=float,
        nargs=3,
        metavar=("R", "G", "B"),
        help="input normalisation mean (default: ImageNet's; 0.5 0.5 0.5 for Google and hybrid weights)",
    )
    p.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"), help="input normalisation std")
    p.add_argument(
        "--distance-images",
        type=int,
        default=32,
        metavar="N",
        help="average the mean attention distance over N validation images of the run's dataset (else "
        "over the bundled sample images); 0: over the inspected image only (default 32)",
    )
    p.add_argument("--device", default="cpu", help="torch device to run the model on")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("study", help="run a study (a grid of runs testing a paper's claim) and report its verdict")
    studies = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    studies.add_parser("list", help="the packaged studies")
    for action, text in (
        ("run", "train the study's runs that are missing (resumable)"),
        ("report", "write its report"),
    ):
        r = studies.add_parser(action, help=text)
        r.add_argument("study", metavar="NAME|FILE", help="a packaged study or a study .toml file")
        r.add_argument("--budget", choices=("smoke", "cpu", "gpu"), default="cpu", help="default cpu")
        r.add_argument("--runs-dir", help="where runs live (default: $VITSTUDIO_RUNS or the per-user data folder)")
        if action == "report":
            r.add_argument("--out", required=True, metavar="DIR", help="folder for NAME.md and its PNG files")
        else:
            r.add_argument(
                "--nproc-per-node",
                type=int,
                default=1,
                metavar="N",
                help="train each run in N processes under torchrun (e.g. one per GPU); default 1: in this process",
            )
    p.set_defaults(func=_cmd_study)

    p = sub.add_parser("gui", help="open the studio window (the default without a command)")
    p.add_argument("--runs-dir", help="where runs live (default: $VITSTUDIO_RUNS or the per-user data folder)")
    p.set_defaults(func=_cmd_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_threads()  # before any command imports torch
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # plain `vitstudio` opens the studio
        args = parser.parse_args(["gui"])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
