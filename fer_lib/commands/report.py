"""`report`: rebuild results/index.html and results/index.md from what the notebooks saved."""

from __future__ import annotations

from fer_lib.study.report import build_report


def register(subparsers) -> None:
    parser = subparsers.add_parser("report", help="rebuild results/index.html (+ index.md)")
    parser.set_defaults(handler=_run)


def _run(args) -> int:

    print(build_report())
    return 0
