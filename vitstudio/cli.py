"""The `vitstudio` command line: one entry point for the studio and its headless tools."""
from __future__ import annotations

import argparse
import sys

from . import __version__


def _cmd_models(args) -> int:
    from .models import list_models, model_args

    for name in list_models(args.pattern):
        a = model_args(name)
        print(f"{name:32s} dim {a.get('embed_dim', '-'):>4} depth {a.get('depth', '-'):>2} "
              f"heads {a.get('num_heads', '-'):>2} patch {a.get('patch_size', '-'):>2} img {a.get('img_size', '-')}")
    return 0


def _cmd_convert(args) -> int:
    import json

    from .models import create_model, export_safetensors, load_pretrained

    overrides = {k: json.loads(v) for k, v in (a.split("=", 1) for a in args.set)}
    model = create_model(args.model, **overrides)
    report = load_pretrained(model, args.source, strict=not args.lenient)
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {export_safetensors(model, args.out)}")
    return 0


def _cmd_inspect(args) -> int:
    from .analysis import load_image, write_report
    from .analysis.sources import from_name, from_weights, records_architecture

    if not (args.weights or args.model):
        print("vitstudio inspect: say what to inspect: --model NAME and/or --weights FILE", file=sys.stderr)
        return 2
    try:
        image = load_image(args.image)
        if args.weights and not args.model and not records_architecture(args.weights):
            raise ValueError(f"{args.weights} does not record which model it holds: add --model NAME")
        source = from_weights(args.weights, args.model) if args.weights else from_name(args.model)
    except (ValueError, KeyError) as e:
        print(f"vitstudio inspect: {e}", file=sys.stderr)
        return 2
    mean, std = args.mean or source.mean, args.std or source.std
    paths = write_report(source.model.to(args.device), image, args.out, mean, std, source.class_names,
                         mask_ratio=args.mask_ratio, seed=args.seed, alpha=args.opacity, cmap=args.cmap)
    print(f"{source.label}: wrote {len(paths)} files to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vitstudio", description="An experiment studio for Vision Transformers.")
    parser.add_argument("--version", action="version", version=f"vitstudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("models", help="list the named models")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'vit_base*'")
    p.set_defaults(func=_cmd_models)
    p = sub.add_parser("convert", help="load foreign weights (timm, DeiT, MAE, Google .npz, transformers) into a "
                                       "named model and save it as a self-describing .safetensors file")
    p.add_argument("source", help="weights file: .pth/.pt/.bin, .safetensors or .npz")
    p.add_argument("--model", required=True, help="registered model name, e.g. vit_base_patch16_224")
    p.add_argument("--set", action="append", default=[], metavar="ARG=JSON",
                   help="model argument override, e.g. --set num_classes=10 --set img_size=384")
    p.add_argument("--lenient", action="store_true", help="load what fits instead of failing on mismatched keys")
    p.add_argument("--out", required=True, help="output .safetensors path")
    p.set_defaults(func=_cmd_convert)
    p = sub.add_parser("inspect", help="write the inspector's figures for a model and an image as PNG files")
    p.add_argument("image", help="an image file (any size: resized and centre-cropped to the model's input)")
    p.add_argument("--weights", metavar="FILE", help="weights to inspect: a vitstudio .safetensors export, or with "
                   "--model any timm, DeiT, MAE, Google .npz or transformers file")
    p.add_argument("--model", metavar="NAME", help="a named model (see `vitstudio models`): random weights, "
                   "or the architecture for --weights")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the figures (created)")
    p.add_argument("--mask-ratio", type=float, default=0.75, help="MAE models: fraction of patches removed")
    p.add_argument("--seed", type=int, default=0, help="MAE models: seed of the random mask")
    p.add_argument("--opacity", type=float, default=0.6, help="heatmap opacity over the image, 0 to 1")
    p.add_argument("--cmap", default="inferno", help="heatmap colormap: inferno, viridis, jet or gray")
    p.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"),
                   help="input normalisation mean (default: ImageNet's; 0.5 0.5 0.5 for Google and hybrid weights)")
    p.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"), help="input normalisation std")
    p.add_argument("--device", default="cpu", help="torch device to run the model on")
    p.set_defaults(func=_cmd_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
