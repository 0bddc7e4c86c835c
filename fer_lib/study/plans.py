"""Training plans of the notebooks: which experiments a profile trains, and training them (or saying why not)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fer_lib.config import load_config
from fer_lib.engine.experiment import run_experiment
from fer_lib.models import WeightsUnavailableError
from fer_lib.study.setup import tidy


def train_experiments(experiments: list[str], profile: str = "smoke", data_dir=None, seeds: list[int] | None = None,
                      device: str = "auto", epochs: int | None = None, overrides: dict | None = None,
                      scratch_if_no_weights: bool = False) -> tuple[list[Path], pd.DataFrame]:
    """Train each experiment for each seed; returns (run dirs, a table of what ran or why it did not).

    Seeds default to the config's `seeds` (the smoke profile runs one). An experiment whose dataset is
    unavailable is skipped with the loader's reason: the study never substitutes other data silently.
    `overrides` (dotted keys, see fer_lib.config.load_config) apply to every experiment. With
    `scratch_if_no_weights`, an experiment whose ImageNet weights cannot be fetched is trained from
    scratch instead, and its row says so (the run's manifest records `pretrained: none`).
    """

    run_dirs, rows = [], []
    for experiment in experiments:
        config = load_config(experiment, profile=profile, overrides=overrides)
        for seed in seeds if seeds is not None else config["seeds"]:
            row = {"experiment": experiment, "profile": profile, "dataset": config["data"]["dataset"], "seed": seed}
            note = ""
            try:
                try:
                    run_dir = run_experiment(config, data_dir=data_dir, seed=seed, device=device, epochs=epochs)
                except WeightsUnavailableError as err:
                    if not scratch_if_no_weights:
                        raise
                    note = f"from scratch: ImageNet weights unavailable ({str(err).splitlines()[0][:160]})"
                    scratch = load_config(experiment, profile=profile,
                                          overrides={**(overrides or {}), "model.pretrained": False})
                    run_dir = run_experiment(scratch, data_dir=data_dir, seed=seed, device=device, epochs=epochs)
            except FileNotFoundError as err:
                rows.append({**row, "status": "not run", "why": str(err).splitlines()[0]})
                break  # the other seeds would fail the same way
            run_dirs.append(run_dir)
            rows.append({**row, "status": "complete", "why": note, "run": run_dir.name})
    return run_dirs, pd.DataFrame(rows)


def train_or_skip(experiments: list[str], to_train: list[str], *, profile: str, data_dir=None, seed: int = 0,
                  device: str = "auto", train: bool = True, overrides: dict | None = None,
                  scratch_if_no_weights: bool = True, reasons: dict[str, str] | None = None
                  ) -> tuple[list[Path], pd.DataFrame]:
    """Train `to_train` (one seed) and say for every other experiment why it was not trained in this call.

    Returns (new run dirs, table with experiment, status, why, run). With `train=False` nothing is
    trained: the notebook only summarises runs already recorded. `reasons` gives the why of
    experiments that are summarised only (e.g. "trained by notebook 04").
    """

    rows, run_dirs = [], []
    if train and to_train:
        run_dirs, table = train_experiments(to_train, profile=profile, data_dir=data_dir, seeds=[seed],
                                            device=device, overrides=overrides,
                                            scratch_if_no_weights=scratch_if_no_weights)
        rows = table.to_dict("records")
    for experiment in experiments:
        if train and experiment in to_train:
            continue
        why = "train=False: existing runs summarised only" if not train else (reasons or {}).get(
            experiment, f"not in the {profile} profile's subset (budget); profile='full' trains it")
        rows.append({"experiment": experiment, "profile": profile, "status": "not trained here", "why": why})
    table = pd.DataFrame(rows)
    order = {e: i for i, e in enumerate(experiments)}
    table = table.sort_values("experiment", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return run_dirs, tidy(table)
