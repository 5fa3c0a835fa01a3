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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vitstudio", description="An experiment studio for Vision Transformers.")
    parser.add_argument("--version", action="version", version=f"vitstudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("models", help="list the named models")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'vit_base*'")
    p.set_defaults(func=_cmd_models)
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
