"""`python -m fer_lib models list|params`: the model registry from the command line."""

from __future__ import annotations

import argparse

from fer_lib.models import count_params, create_model, list_models, model_spec


def parse_value(text: str):
    """'None'/'null' -> None, 'true'/'false' -> bool, then int, float, else the string itself."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_sets(pairs: list[str]) -> dict:
    """['k=v', ...] -> {k: parsed v}; ValueError on an item without '='."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = parse_value(value)
    return out


def _list(args: argparse.Namespace) -> int:
    print(f"{'name':<16} {'paper':<32} {'input':>5} {'params':>12}")
    for name in list_models():
        spec = model_spec(name)
        print(f"{name:<16} {spec.paper:<32} {spec.input_size:>5} {count_params(create_model(name)):>12,}")
    return 0


def _params(args: argparse.Namespace) -> int:
    options = parse_sets(args.set)
    num_classes = options.pop("num_classes", 7)
    model = create_model(args.name, num_classes=num_classes, **options)
    spec = model_spec(args.name)
    print(f"{args.name} ({spec.paper}) num_classes={num_classes} options={model.model_options}")
    print(f"trainable: {count_params(model, trainable_only=True)}")
    print(count_params(model))
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `models list` and `models params NAME [--set KEY=VALUE ...]`."""
    sub = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    p = sub.add_parser("list", help="registered models: name, paper, input size, parameters (7 classes)")
    p.set_defaults(handler=_list)
    p = sub.add_parser("params", help="parameter count of one model; the last line is the plain integer")
    p.add_argument("name")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model option (int/float/bool/None/str), e.g. --set spst_stage=4 --set num_classes=7")
    p.set_defaults(handler=_params)
