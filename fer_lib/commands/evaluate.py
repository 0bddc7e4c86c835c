"""`evaluate`: re-evaluate a run's checkpoint on its held-out splits and print the metrics as JSON."""

from __future__ import annotations

import argparse

from fer_lib.engine.evaluate import evaluate_run


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `evaluate RUN_DIR [--split S ...] [--which best|last] [--device D]`."""
    parser.add_argument("run_dir", help="a run directory (results/runs/<experiment>/<run_id>)")
    parser.add_argument("--split", action="append", default=None,
                        help="split to evaluate (repeatable; default: every held-out split of the run)")
    parser.add_argument("--which", default="best", choices=["best", "last"], help="checkpoint to evaluate")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: the run's, then $FER_DATA_DIR)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--write", action="store_true", help="also rewrite the run's metrics/confusion/predictions")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.set_defaults(handler=_run)


def _run(args) -> int:
    import json

    metrics = evaluate_run(args.run_dir, splits=args.split, data_dir=args.data_dir, device=args.device,
                           which=args.which, write=args.write)
    print(json.dumps(metrics, indent=1))
    return 0
