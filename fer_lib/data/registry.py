"""The dataset registry: which datasets exist, where their files go, how each is loaded."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fer_lib.data.core import FERDataset
from fer_lib.paths import data_dir as resolve_data_dir


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset.

    load(data_dir, **options) returns a FERDataset; `own_classes` is the release's own class order;
    `prepared_file` is the prepared archive accepted in the data dir; `layout` tells the user where
    the public files go (relative to the data dir); `url` is where the dataset is officially obtained.
    """

    name: str
    description: str
    load: Callable[..., FERDataset]
    own_classes: tuple[str, ...]
    layout: str
    url: str
    prepared_file: str | None = None
    papers: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add (or replace) a dataset in the registry; returns the spec."""
    _REGISTRY[spec.name] = spec
    return spec


def list_datasets() -> list[str]:
    """Names of all registered datasets, in registration order."""
    return list(_REGISTRY)


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of a registered dataset; ValueError naming the known ones otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; registered datasets: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, **options) -> FERDataset:
    """Load a dataset by name from the data dir (explicit, else $FER_DATA_DIR, else ./data).

    A prepared `<file>.npz` in the data dir is read directly; otherwise the public release is parsed
    once and cached (see fer_lib.paths.cache_dir). Raises FileNotFoundError saying what to download
    and where to put it when the dataset is absent.
    """
    spec = dataset_spec(name)
    unknown = set(options) - set(spec.options)
    if unknown:
        raise ValueError(f"dataset {name!r} has no option(s) {sorted(unknown)}; options: {spec.options or 'none'}")
    merged = {**spec.options, **options}
    return spec.load(resolve_data_dir(data_dir), **merged)


def missing_dataset_error(name: str, data_dir: Path, looked_for: list[Path]) -> FileNotFoundError:
    """A FileNotFoundError listing the paths tried, the expected layout and where to obtain the data."""
    spec = _REGISTRY.get(name)
    tried = "\n".join(f"  - {p}" for p in looked_for)
    where = f"; official source: {spec.url}" if spec is not None else ""
    lines = [f"dataset {name!r} not found in data dir {data_dir}{where}", "Looked for:", tried]
    if spec is not None:
        if spec.prepared_file:
            lines.append(f"Either put the prepared archive {spec.prepared_file} in {data_dir}, or the public release:")
        else:
            lines.append("Put the public release there:")
        lines.append("  " + spec.layout.replace("\n", "\n  "))
    lines.append("Choose the data dir with --data-dir or the FER_DATA_DIR environment variable "
                 "(the embedded 'synthetic' dataset needs no download).")
    return FileNotFoundError("\n".join(lines))
