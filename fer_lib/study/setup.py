"""Setting a notebook up: threads, smoke overrides, which experiments a profile covers, data availability."""

from __future__ import annotations

import warnings
from functools import lru_cache

import pandas as pd

from fer_lib.config import load_config
from fer_lib.data.explore import try_load
from fer_lib.devices import resolve_device
from fer_lib.models import WeightsUnavailableError, create_model

SYNTHETIC = "embedded synthetic data, not the paper's"


def smoke_overrides(profile: str, train: int = 8, val: int = 7, test: int = 7, epochs: int = 1,
                    batch_size: int = 8) -> dict | None:
    """Config overrides that shrink smoke runs below the configs' own smoke profiles (None in other profiles).

    The notebooks' smoke runs check the pipeline end to end (train, select, evaluate, record) in
    seconds per model on a CPU; their numbers mean nothing about the papers.
    """
    if profile != "smoke":
        return None
    return {"data.max_samples": {"train": train, "val": val, "test": test}, "train.epochs": epochs,
            "train.batch_size": batch_size, "train.eval_batch_size": max(batch_size, 8), "evaluate.bootstrap": 100}


def setup_notebook(*, profile: str, data_dir=None, seed: int = 0, device: str = "auto",
                   train: bool | None = None) -> dict | None:
    """The one setup call at the top of a notebook: quiet two known harmless warnings, pandas display options,
    threads (configure_threads), and the smoke overrides it returns (None outside smoke and with train=False,
    when nothing trains), saying what it set."""
    warnings.filterwarnings("ignore", message=".*(y_pred contains classes|IProgress not found).*")
    for option, value in (("display.width", 220), ("display.max_colwidth", 90), ("display.max_columns", 40)):
        pd.set_option(option, value)
    overrides = None if train is False else smoke_overrides(profile)  # nothing trains: no budget applies
    print(f"profile={profile} data_dir={data_dir} seed={seed} device={device}"
          + ("" if train is None else f" train={train}"), "|", configure_threads(profile, device))
    if overrides is not None and train:
        print(f"smoke: every model trains on {SYNTHETIC} with a tiny budget: {overrides}")
    return overrides


def configure_threads(profile: str, device: str = "auto") -> str:
    """Smoke runs on a CPU use one intra-op thread (as the tests do): on a small shared machine a second
    thread stalls whenever another process holds the other core (measured here: ~3x slower with 2).
    Returns a line saying what was set."""
    import torch

    if profile == "smoke" and resolve_device(device).type == "cpu":
        torch.set_num_threads(1)
    return f"torch intra-op threads: {torch.get_num_threads()}"


def profile_experiments(experiments: list[str], smoke_subset: list[str], profile: str) -> list[str]:
    """All `experiments` in the full profile; only `smoke_subset` (a representative few) in smoke and
    real-smoke."""
    unknown = set(smoke_subset) - set(experiments)
    if unknown:
        raise ValueError(f"smoke subset {sorted(unknown)} is not among the experiments {experiments}")
    return list(experiments) if profile == "full" else [e for e in experiments if e in smoke_subset]


def tidy(table: pd.DataFrame) -> pd.DataFrame:
    """Blank out missing cells and show whole-number float columns (made float by blanks) as integers."""
    table = table.copy()
    for column in table.columns:
        values = table[column]
        if values.dtype.kind == "f" and values.notna().any() and (values.dropna() % 1 == 0).all():
            table[column] = values.map(lambda v: "" if v != v else int(v)).astype(object)
    return table.astype(object).fillna("")


@lru_cache(maxsize=32)
def _availability(name: str, options: tuple, data_dir: str | None) -> str:
    dataset, why = try_load(name, data_dir, **dict(options))
    return "available" if dataset is not None else f"not available: {why}"


def dataset_availability(name: str, data_dir=None, **options) -> str:
    """'available' or 'not available: <the loader's reason>' for a dataset in the data dir (cached)."""
    return _availability(name, tuple(sorted(options.items())), str(data_dir) if data_dir else None)


def data_plan(experiments: list[str], profile: str, data_dir=None) -> pd.DataFrame:
    """Per experiment: the model, the data this profile trains on, and whether the paper's dataset is here."""

    rows = []
    for experiment in experiments:
        here, full = load_config(experiment, profile), load_config(experiment, "full")
        data = here["data"]["dataset"]
        paper = full["data"]["dataset"]
        rows.append({"experiment": experiment, "model": here["model"]["name"],
                     "model options": str(here["model"]["options"] or ""),
                     f"{profile} data": f"{data} ({SYNTHETIC})" if data == "synthetic" else data,
                     "paper's dataset": paper,
                     "paper's dataset here": dataset_availability(paper, data_dir, **(full["data"]["options"] or {}))})
    return pd.DataFrame(rows)


def pretrained_weights_status() -> str:
    """Whether ImageNet weights can be had here (tries timm's ResNet-50 via the hub or its cache)."""

    try:
        create_model("resnet50", pretrained=True)
    except WeightsUnavailableError as err:
        return f"unavailable: {str(err).splitlines()[0]}"
    return "available (hub or local cache)"


def data_label(manifest: dict) -> str:
    """'fer2013' for real data, 'synthetic (embedded synthetic data, not the paper's)' otherwise."""
    dataset = manifest.get("dataset", {})
    return dataset.get("name", "?") if dataset.get("real") else f"{dataset.get('name', '?')} ({SYNTHETIC})"
