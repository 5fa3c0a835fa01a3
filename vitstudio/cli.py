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


def _cmd_inspect(args) -> int:
    from .analysis import load_image, write_report
    from .analysis.sources import from_name

    try:
        image = load_image(args.image)
        source = from_name(args.model)
    except (ValueError, KeyError) as e:
        print(f"vitstudio inspect: {e}", file=sys.stderr)
        return 2
    paths = write_report(source.model.to(args.device), image, args.out, source.mean, source.std, source.class_names,
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
    p = sub.add_parser("inspect", help="write the inspector's figures for a model and an image as PNG files")
    p.add_argument("image", help="an image file (any size: resized and centre-cropped to the model's input)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", metavar="NAME", help="a named model with random weights (see `vitstudio models`)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the figures (created)")
    p.add_argument("--mask-ratio", type=float, default=0.75, help="MAE models: fraction of patches removed")
    p.add_argument("--seed", type=int, default=0, help="MAE models: seed of the random mask")
    p.add_argument("--opacity", type=float, default=0.6, help="heatmap opacity over the image, 0 to 1")
    p.add_argument("--cmap", default="inferno", help="heatmap colormap: inferno, viridis, jet or gray")
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
