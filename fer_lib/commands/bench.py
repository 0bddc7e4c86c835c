"""`python -m fer_lib bench`: training throughput of each paper's model, ours vs upper bound vs the usual pipeline."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from fer_lib.bench import run_benchmark, write_results
from fer_lib.bench.engine_gain import run_side_by_side
from fer_lib.devices import resolve_device


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `bench [--models NAME ...] [--device D] [--steps N] [--warmup N] [--batch N] [--quick] ...`."""
    parser.description = ("Writes results/bench/<device>.csv (+ _ratios.csv, .md, .manifest.json). On CPU the quick "
                           "settings are always used (minutes on a 2-core machine).")
    parser.add_argument("--models", nargs="+", default=None, metavar="NAME",
                        help="paper tags (P1..P4), experiment configs or model names (default: the four papers' "
                             "models at their paper input sizes)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per pipeline, split over --rounds (CPU default 4, 2 at 224 px; CUDA 30)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps per model (CPU 1, CUDA 10)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="time the pipelines in this many alternating-order blocks (CPU 2, CUDA 3)")
    parser.add_argument("--batch", type=int, default=None, help="training batch size for every model")
    parser.add_argument("--quick", action="store_true", help="fewer steps on CUDA (CPU is always quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of the training process (default: torch's, as runs train)")
    parser.add_argument("--workers", type=int, default=None,
                        help="DataLoader workers of the usual pipeline (default: min(4, cpu count))")
    parser.add_argument("--no-inference", dest="inference", action="store_false", help="skip inference timing")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="do not profile cases that miss their CPU target")
    parser.add_argument("--out", default=None, help="output directory (default: results/bench)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", nargs="+", default=None, choices=["auto", "fp32", "bf16", "fp16"],
                        help="train.precision settings to time (default: fp32 and auto side by side; one when they "
                             "agree, e.g. on a CPU without native bf16)")
    parser.add_argument("--engine", default=None, choices=["side-by-side", "tuned", "baseline"],
                        help="side-by-side (default on CPU): the engine as runs use it and its options-off baseline "
                             "(glibc allocator defaults, no channels-last / fp32 depthwise / compile), each in its own "
                             "process, with their gain table; tuned or baseline: one of them in this process")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.set_defaults(handler=_run)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _child_args(args: argparse.Namespace) -> list[str]:
    """This command's options, for the side-by-side children (fer_lib.bench.engine_gain)."""
    out = ["--device", args.device, "--seed", str(args.seed)]
    for flag, value in (("--steps", args.steps), ("--warmup", args.warmup), ("--rounds", args.rounds),
                        ("--batch", args.batch), ("--threads", args.threads), ("--workers", args.workers)):
        if value is not None:
            out += [flag, str(value)]
    out += ["--models", *args.models] if args.models else []
    out += ["--precision", *args.precision] if args.precision else []
    out += ["--quick"] if args.quick else []
    out += [] if args.inference else ["--no-inference"]
    out += [] if args.profile else ["--no-profile"]
    return out


def _run(args: argparse.Namespace) -> int:
    engine = args.engine or ("side-by-side" if resolve_device(args.device).type == "cpu" else "tuned")
    if engine == "side-by-side":
        result = run_side_by_side(_child_args(args), log=_log)
    else:
        result = run_benchmark(args.models, args.device, steps=args.steps, warmup=args.warmup, batch=args.batch,
                               rounds=args.rounds, quick=args.quick, threads=args.threads, num_workers=args.workers,
                               inference=args.inference, profile_missed=args.profile, seed=args.seed,
                               precisions=args.precision, engine=engine, log=_log)
    paths = write_results(result, args.out)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        shown = result.rows[["engine", "paper", "model", "input_size", "pipeline", "batch", "precision", "img_per_s",
                             "step_ms_median", "peak_mem_mb"]]
        print(shown.round(2).to_string(index=False))
        print()
        print(result.ratios.drop(columns=["device_type"]).round(3).to_string(index=False))
        if result.gains is not None:
            print("\nengine options vs the options-off baseline (each in its own process):")
            print(result.gains.round(2).to_string(index=False))
    print(f"\nwall {result.manifest['wall_s']} s on {result.manifest['device']}")
    for path in paths.values():
        print(path)
    return 0
