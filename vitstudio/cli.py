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
