"""`train`: run one experiment config; the run directory is printed on the last line of stdout."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train one experiment (fer_lib/configs/<CONFIG>.yaml)")
    parser.add_argument("config", help="config name (see fer_lib/configs) or path to a YAML file")
    parser.add_argument("--profile", default="smoke", choices=["smoke", "full"],
                        help="smoke: embedded synthetic data, tiny budget (CPU seconds); full: the paper's budget")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: $FER_DATA_DIR, then ./data)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the config's first seed)")
    parser.add_argument("--epochs", type=int, default=None, help="override the config's epoch budget")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue an interrupted run")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.lr=3e-4 (value parsed as YAML); repeatable")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.set_defaults(handler=_run)


def parse_overrides(items: list[str]) -> dict:
    """["a.b=1", "c=[1, 2]"] -> {"a.b": 1, "c": [1, 2]} (values parsed as YAML)."""
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def _run(args) -> int:
    import signal

    from fer_lib.config import load_config
    from fer_lib.train import run_experiment

    def _terminate(signum, frame):  # a killed job is recorded as interrupted (resumable)
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    config = None
    if not args.resume:
        config = load_config(args.config, profile=args.profile, overrides=parse_overrides(args.overrides))
    seed = args.seed if args.seed is not None else (config["seeds"][0] if config else 0)
    run_dir = run_experiment(config, data_dir=args.data_dir, seed=seed, device=args.device, epochs=args.epochs,
                             resume=args.resume)
    print(run_dir)
    return 0
