"""`python -m fer_lib` / `fer-repro`: the library's command line.

Each area contributes its subcommands from `fer_lib/commands/<area>.py`, which exposes
`register(subparsers)`; handlers import heavy libraries lazily so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = ("data", "models", "train", "evaluate", "reproduce", "report", "bench", "live")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer_lib", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"fer_lib.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"fer_lib.commands.{name}":
                continue  # area not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (FileNotFoundError, ValueError, KeyError) as err:
        if getattr(args, "debug", False):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
