"""`python -m fer_lib` / `fer-repro`: the library's command line.

Each area contributes its subcommands from `fer_lib/commands/<area>.py`, which exposes
`register(subparsers)`; handlers import heavy libraries lazily so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = ("data", "models", "train", "evaluate", "reproduce", "report", "bench", "live", "campaign")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer_lib", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", dest="debug_all", action="store_true",
                        help="show full tracebacks instead of one-line errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"fer_lib.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"fer_lib.commands.{name}":
                continue  # area not built yet
            raise
        module.register(subparsers)
    for sub in subparsers.choices.values():  # every command takes --debug (after the command name, too)
        if not any("--debug" in a.option_strings for a in sub._actions):
            sub.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


# Errors that mean "your input is wrong": one line, exit 2. FileNotFoundError and the data layer's
# CorruptArchiveError are OSError / ValueError subclasses.
USER_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, ValueError, KeyError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False) or args.debug_all)
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as err:
        if debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        if debug:
            raise
        reason = f" ({err})" if str(err) else ""
        print(f"interrupted{reason}: a training run is recorded as interrupted and resumes exactly with "
              f"`python -m fer_lib train CONFIG --resume RUN_DIR`", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, not bad input: say so, keep the traceback for --debug
        if debug:
            raise
        print(f"error: {type(err).__name__}: {err}\n(this looks like a bug in fer-repro, not in your input; "
              f"rerun with --debug for the traceback and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
