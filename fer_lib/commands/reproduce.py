"""`reproduce`: run the numbered notebooks with papermill and write results/index.html."""

from __future__ import annotations

import argparse

from fer_lib.study.reproduce import run_notebooks


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `reproduce [--profile ...] [--only NN ...] [--record] [--data-dir]`."""
    parser.add_argument("--profile", default="smoke", choices=["smoke", "real-smoke", "full"],
                        help="smoke: embedded synthetic data; real-smoke: small real subsets, 2 epochs (both CPU minutes, "
                             "written to scratch/); full: the papers' budgets (GPU, written to results/)")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: $FER_DATA_DIR, then ./data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", default=None, metavar="NN", help="run only notebooks starting with these prefixes")
    parser.add_argument("--no-report", action="store_true", help="skip building results/index.html")
    parser.add_argument("--record", action="store_true",
                        help="rebuild the study's record (results/) from the runs already in it, training nothing; "
                             "without it the smoke profile writes to scratch/ (a pipeline check) and the full "
                             "profile trains the papers' budgets into results/")
    parser.set_defaults(handler=_run)


def _run(args) -> int:
    return run_notebooks(profile=args.profile, data_dir=args.data_dir, seed=args.seed,
                         only=args.only, build_report=not args.no_report, record=args.record)
