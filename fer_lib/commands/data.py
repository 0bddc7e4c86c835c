"""`data`: list the registered datasets, describe one (split x class counts as CSV), verify one (per-split
sha256 of the decoded arrays)."""

from __future__ import annotations

import argparse

import json

from fer_lib.data import dataset_spec, list_datasets, load_dataset
from fer_lib.data.audit import split_digests
from fer_lib.paths import data_dir


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `data list`, `data describe NAME`, `data verify NAME` and the other data actions."""
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    lister = sub.add_parser("list", help="registered datasets, where their files go, and whether they are present")
    lister.add_argument("--data-dir", default=None, help="data directory (default: $FER_DATA_DIR, else ./data)")
    lister.set_defaults(handler=_list)

    describe = sub.add_parser("describe", help="print CSV split,class,count for a dataset")
    describe.add_argument("name", help="dataset name (see `data list`)")
    describe.add_argument("--data-dir", default=None, help="data directory (default: $FER_DATA_DIR, else ./data)")
    describe.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                          help="loader option, e.g. -o classes=7 for ferplus (repeatable; JSON values)")
    describe.set_defaults(handler=_describe)

    verify = sub.add_parser("verify", help="print CSV split,images,sha256 of each split's decoded arrays "
                                           "(comparable across file formats, unlike a file's sha256)")
    verify.add_argument("name", help="dataset name (see `data list`)")
    verify.add_argument("--data-dir", default=None, help="data directory (default: $FER_DATA_DIR, else ./data)")
    verify.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="loader option, e.g. -o classes=7 for ferplus (repeatable; JSON values)")
    verify.set_defaults(handler=_verify)


def _parse_options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option {pair!r} must look like KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _describe(args) -> int:
    ds = load_dataset(args.name, args.data_dir, **_parse_options(args.option))
    print(ds.counts().to_csv(index=False), end="")
    return 0


def _verify(args) -> int:
    ds = load_dataset(args.name, args.data_dir, **_parse_options(args.option))
    print(split_digests(ds).to_csv(index=False), end="")
    return 0


def _list(args) -> int:
    root = data_dir(args.data_dir)
    print("name,prepared_file,present,description")
    for name in list_datasets():
        spec = dataset_spec(name)
        present = "embedded" if name == "synthetic" else (
            "prepared" if spec.prepared_file and (root / spec.prepared_file).is_file() else "try describe")
        print(f"{name},{spec.prepared_file or ''},{present},\"{spec.description}\"")
    print(f"# data dir: {root}")
    return 0
