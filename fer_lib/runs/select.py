"""The one place that decides which runs count."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fer_lib.config import load_config, run_fold
from fer_lib.runs.store import list_runs, load_run, stored_config


def run_budget(manifest: dict) -> tuple[int, int]:
    """(epochs the run was allowed, epochs the experiment's recipe asks for)."""
    return int(manifest.get("epochs_override") or manifest["epochs"]), int(manifest["recipe_epochs"])


def at_full_budget(manifest: dict) -> bool:
    """Whether a run was allowed the whole epoch budget of its experiment's recipe (only such runs count); False
    for a manifest that does not record its budget, which can never show it was allowed the whole of it."""
    try:
        allowed, recipe = run_budget(manifest)
    except (KeyError, TypeError, ValueError):
        return False
    return allowed >= recipe


def recipe_seeds(experiment: str) -> set[int]:
    """The seeds an experiment's full recipe runs (its config's `seeds`): a verdict needs all of them
    (empty when the experiment has no config)."""
    try:
        return {int(seed) for seed in load_config(experiment, "full")["seeds"]}
    except (FileNotFoundError, ValueError):
        return set()


def one_run_per_seed(runs: list[dict]) -> list[dict]:
    """The latest complete run of each seed, and of each fold of a k-fold protocol (runs as real_runs gives
    them: dicts with manifest, metrics, run_dir), in (seed, fold) order."""
    def stamp(run: dict) -> str:
        return run["manifest"].get("finished") or run["manifest"].get("started") or ""

    latest: dict = {}
    for run in runs:
        m = run["manifest"]
        key = (m.get("seed"), run_fold(stored_config(m)) if "data" in m.get("config", {}) else None)
        if key not in latest or stamp(run) > stamp(latest[key]):
            latest[key] = run
    return [latest[k] for k in sorted(latest, key=lambda key: tuple((v is None, v) for v in key))]


def counted_runs(experiments: str | list[str] | None = None, *, real_only: bool = False, newest_first: bool = False,
                 real_first: bool = True, root: str | Path | None = None) -> pd.DataFrame:
    """The one selection of runs that count: complete ones (a run being written or interrupted never counts),
    of `experiments` (all when None), real-data only when asked; list_runs rows in experiment order, each
    experiment's runs in path order, or newest first (real-data ones first) with `newest_first`."""
    names = [experiments] if isinstance(experiments, str) else experiments
    frames = [list_runs(name, root=root) for name in (names if names is not None else [None])]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["path", "status", "real_data", "started"])
    runs = pd.concat(frames, ignore_index=True)
    runs = runs[runs["status"] == "complete"]
    if real_only:
        runs = runs[runs["real_data"].fillna(False).astype(bool)]
    if newest_first:
        runs = runs.sort_values("started", ascending=False)
        if real_first:
            runs = runs.sort_values("real_data", ascending=False, kind="stable")
    return runs


def latest_runs(experiment: str, real_first: bool = True) -> list[Path]:
    """Complete runs of an experiment, newest first (real-data ones first unless real_first is False)."""
    return [Path(p) for p in counted_runs(experiment, newest_first=True, real_first=real_first)["path"]]


def speaking_runs(experiment: str) -> list[Path]:
    """The runs that speak for an experiment in figures, notes and per-run tables, newest first: its verdict runs
    (real data, the recipe's full budget, one per seed) when it has any, so a shorter side run (a precision
    check's 5 epochs, say) never stands for the recipe; else every complete run (latest_runs)."""
    newest = latest_runs(experiment)
    counted = {run.resolve() for run in verdict_runs(experiment)}
    return [run for run in newest if run.resolve() in counted] or newest


def complete_runs(experiments: list[str]) -> list[Path]:
    """Every complete recorded run of the experiments (what the summary tables are computed from)."""
    return [Path(p) for p in counted_runs(list(experiments))["path"]]


def real_runs(root: str | Path | None = None) -> list[dict]:
    """Every complete run on real data, as dicts with manifest, metrics and run_dir (what verdicts read)."""
    runs = [load_run(path) for path in counted_runs(real_only=True, root=root)["path"]]
    return [{"manifest": r.manifest, "metrics": r.metrics, "run_dir": r.path} for r in runs if r.metrics]


def seed_runs(runs: list[dict], experiment: str, dataset: str | None = None) -> list[dict]:
    """Of `runs` (as real_runs gives them), those of `experiment` (on `dataset`, when given) at the recipe's full
    budget, the latest of each seed (and fold), in seed order: the runs a verdict reads."""
    return one_run_per_seed([r for r in runs if r["manifest"]["experiment"] == experiment
                             and (dataset is None or r["manifest"]["dataset"]["name"] == dataset)
                             and at_full_budget(r["manifest"])])


def verdict_runs(experiment: str, root: str | Path | None = None) -> list[Path]:
    """The run folders a verdict on `experiment` reads (seed_runs of the recorded real-data runs)."""
    return [Path(r["run_dir"]) for r in seed_runs(real_runs(root), experiment)]
