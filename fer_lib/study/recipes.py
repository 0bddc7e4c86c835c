"""Every recipe tried on the real data (validation results only) and the official vs cleaned test sets."""

from __future__ import annotations

import pandas as pd

from fer_lib.data import audit
from fer_lib.runs.select import speaking_runs, verdict_runs
from fer_lib.runs.store import list_runs, load_run
from fer_lib.study.cleaned import test_subsets
from fer_lib.study.tables import mean_std

# What a recipe is: every config choice that shapes training, not where or how fast it ran.
RECIPE_KEYS = (("optim", None), ("schedule", None), ("train", ("batch_size", "epochs", "early_stopping", "select",
                                                                "grad_clip")),
               ("augment", None), ("balance", None), ("loss", None), ("model", ("name", "pretrained")),
               ("data", ("input_size", "splits")))


def recipe_signature(config: dict) -> str:
    """A short, stable id of a run's training recipe (RECIPE_KEYS of its config)."""
    import hashlib
    import json

    picked = {}
    for section, keys in RECIPE_KEYS:
        value = config.get(section, {})
        picked[section] = value if keys is None else {k: value.get(k) for k in keys}
    return hashlib.sha256(json.dumps(picked, sort_keys=True, default=str).encode()).hexdigest()[:8]


def recipe_table(experiments: list[str]) -> pd.DataFrame:
    """Every recipe tried on the real data for these experiments, abandoned ones included: one row per
    (experiment, recipe, epoch budget) with its runs and their validation result (never test)."""
    rows = []
    for experiment in experiments:
        runs = list_runs(experiment)
        if runs.empty:
            continue
        for path in runs.loc[runs["real_data"].fillna(False).astype(bool), "path"]:
            run = load_run(path)
            cfg, m = run.config, run.manifest
            rows.append({"experiment": experiment, "recipe": recipe_signature(cfg),
                         "optimiser": f"{cfg['optim']['name']} lr {cfg['optim']['lr']:g} wd {cfg['optim']['weight_decay']:g}",
                         "schedule": cfg["schedule"]["name"] + (f" {cfg['schedule']['step_size']}/{cfg['schedule']['gamma']:g}"
                                                               if cfg["schedule"]["name"] == "step" else ""),
                         "batch": cfg["train"]["batch_size"], "budget": f"{m.get('epochs')} of {m.get('recipe_epochs')}",
                         "precision": m.get("precision"), "seed": m.get("seed"), "status": run.status,
                         "epochs run": m.get("epochs_run"), "best epoch": m.get("best_epoch"),
                         "best val acc %": round(100 * m["best_val_metric"], 2) if m.get("best_val_metric") else None,
                         "commit": (m.get("git") or {}).get("commit", "")[:10]})
    return pd.DataFrame(rows)


def cleaned_test_table(experiments: list[str], data_dir=None) -> pd.DataFrame:
    """The real-data runs that speak for each experiment scored on their official test split and on the cleaned
    views of it (fer_lib.data.audit: without test images that have a (near-)duplicate in train, without
    conflicting-label duplicates, without non-exact pixels), from their recorded predictions: its verdict runs
    (one per seed, in seed order, then a row of their mean ± std) when it has any, else its newest run."""
    by_experiment = {e: verdict_runs(e) or [r for r in speaking_runs(e)[:1] if load_run(r).manifest["dataset"].get("real")]
                     for e in experiments}   # verdict runs are real-data runs by construction
    runs = [r for found in by_experiment.values() for r in found]
    if not runs:
        return pd.DataFrame([{"run": "no real-data run yet"}])
    name = load_run(runs[0]).manifest["dataset"]["name"]
    subsets = test_subsets(name, None if data_dir is None else str(data_dir))
    if isinstance(subsets, str):
        return pd.DataFrame([{"run": f"{name} unavailable here: {subsets}"}])
    parts = []
    for experiment, found in by_experiment.items():
        if not found:
            continue
        scored = audit.accuracy_on_subsets(found, subsets)
        parts.append(scored)
        if len(scored) > 1:
            mean = {column: mean_std(scored[column], scale=1) if column.endswith("%") else scored[column].iloc[0]
                    for column in scored.columns if column != "run"}
            parts.append(pd.DataFrame([{"run": f"{experiment}: mean ± std of {len(scored)} runs", **mean}]))
    return pd.concat(parts, ignore_index=True)
