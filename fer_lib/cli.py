"""`python -m fer_lib` / `fer-repro`: the library's command line.

Each subcommand lives in `fer_lib/commands/<name>.py`, which exposes `configure(parser)`. Only the module
of the command being run is imported, so `--help` and light commands do not load torch, the study or the
notebook stack.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> one-line help (shown by `--help` without importing the command's module)
COMMANDS = {
    "data": "datasets: list, describe, verify",
    "models": "list models, count parameters",
    "train": "train one experiment (fer_lib/configs/<CONFIG>.yaml)",
    "evaluate": "re-evaluate a run's best checkpoint; prints metrics JSON",
    "reproduce": "run every numbered notebook, then build the report",
    "report": "rebuild results/index.html (+ index.md) and the site results/site/",
    "bench": "training/inference throughput: upper bound vs our data path vs the usual DataLoader pipeline",
    "live": "detect faces (MTCNN) and classify their expression with a trained run",
    "campaign": "the study's runs as one campaign: plan, preflight, run (submitit: local or Slurm), transfers",
}


def _chosen(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first argument that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; the chosen command's module configures its subparser (all of them when argv is None)."""
    chosen = None if argv is None else _chosen(argv)
    parser = argparse.ArgumentParser(prog="python -m fer_lib", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", dest="debug_all", action="store_true",
                        help="show full tracebacks instead of one-line errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in COMMANDS.items():
        sub = subparsers.add_parser(name, help=summary)
        if argv is None or name == chosen:
            importlib.import_module(f"fer_lib.commands.{name}").configure(sub)
        if not any("--debug" in a.option_strings for a in sub._actions):  # after the command name, too
            sub.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


# Errors that mean "your input is wrong": one line, exit 2. FileNotFoundError and the data layer's
# CorruptArchiveError are OSError / ValueError subclasses.
USER_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError, ValueError, KeyError)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
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
