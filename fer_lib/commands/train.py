"""`train`: run one experiment config; the run directory is printed on the last line of stdout."""

from __future__ import annotations

import argparse
import re

from fer_lib.config import load_config
from fer_lib.engine.experiment import run_experiment
from fer_lib.engine.resume import check_resume_request


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `train CONFIG [--profile] [--seed] [--epochs] [--set KEY=VALUE ...] [--resume RUN_DIR]`."""
    parser.add_argument("config", help="config name (see fer_lib/configs) or path to a YAML file")
    parser.add_argument("--profile", default=None, choices=["smoke", "real-smoke", "full"],
                        help="smoke (default): embedded synthetic data, tiny budget (CPU seconds); real-smoke: the real dataset, "
                             "a small subset, 2 epochs (CPU minutes; scratch/); full: the paper's budget (results/)")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: $FER_DATA_DIR, then ./data)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the config's first seed)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="override the config's epoch budget")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--resume", default=None, metavar="RUN_DIR",
                        help="continue an interrupted run exactly: its configuration, seed and budget come from its "
                             "manifest (differing arguments are refused), from code at the run's commit")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.lr=3e-4 (value parsed as YAML); repeatable")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.set_defaults(handler=_run)


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def parse_overrides(items: list[str]) -> dict:
    """["a.b=1", "c=[1, 2]", "optim.lr=3e-4"] -> {"a.b": 1, "c": [1, 2], "optim.lr": 0.0003} (values parsed as
    YAML; numbers in exponent form without a dot, which YAML 1.1 reads as text, are numbers too)."""
    import yaml

    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r} (e.g. --set optim.lr=3e-4)")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ValueError(f"--set {item!r}: the value is not valid YAML ({str(err).splitlines()[0]})") from None
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)
        out[key.strip()] = value
    return out


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (>= 1), got {value}")
    return value


def _run(args) -> int:
    import signal

    def _terminate(signum, frame):  # a killed job is recorded as interrupted (resumable)
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    overrides = parse_overrides(args.overrides)
    if args.resume:
        check_resume_request(args.resume, experiment=args.config, profile=args.profile, seed=args.seed,
                             epochs=args.epochs, overrides=overrides)
        run_dir = run_experiment(None, data_dir=args.data_dir, device=args.device, resume=args.resume)
    else:
        config = load_config(args.config, profile=args.profile or "smoke", overrides=overrides)
        seed = args.seed if args.seed is not None else config["seeds"][0]
        run_dir = run_experiment(config, data_dir=args.data_dir, seed=seed, device=args.device, epochs=args.epochs)
    print(run_dir)
    return 0
