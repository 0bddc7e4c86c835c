"""The steps every experiment notebook takes: train (or say why not), summarise runs beside the paper.

Notebooks call these so they stay thin: a parameters cell, `train_experiments`, `summary_table`,
`save_run_figures`, display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fer_lib import outputs
from fer_lib.claims import load_claims
from fer_lib.data import audit
from fer_lib.data.explore import try_load
from fer_lib.records import list_runs, load_run


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
    from fer_lib.config import load_config
    from fer_lib.models import WeightsUnavailableError
    from fer_lib.train import run_experiment

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


def _paper_value(experiment: str, dataset: str, kind: str) -> float | None:
    for claim in load_claims()["claims"]:
        if claim.get("experiment") == experiment and claim.get("dataset") == dataset and claim["kind"] == kind:
            return float(claim["value"])
    return None


def _mean_std(values: pd.Series) -> str:
    values = values.dropna() * 100
    if values.empty:
        return ""
    if len(values) == 1:
        return f"{values.iloc[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def summary_table(experiments: list[str], split: str = "test") -> pd.DataFrame:
    """All recorded complete runs of the experiments, grouped by (experiment, dataset, profile, budget).

    Columns: our accuracy and weighted F1 on `split` as mean ± std over seeds (n stated), the
    epochs each run was allowed against the recipe's, and the paper's value where it claims one for
    that dataset. Synthetic-data rows are labelled and carry no paper value.
    """
    frames = [list_runs(e) for e in experiments]
    runs = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(not f.empty for f in frames) else pd.DataFrame()
    if runs.empty:
        return pd.DataFrame(columns=["experiment", "dataset", "profile", "budget", "n", "accuracy %", "weighted F1 %", "paper accuracy %"])
    runs = runs[runs["status"] == "complete"].copy()
    runs["budget"] = [_budget(Path(p)) for p in runs["path"]]
    rows = []
    for (experiment, dataset, profile, budget), group in runs.groupby(["experiment", "dataset", "profile", "budget"], sort=False):
        real = bool(group["real_data"].iloc[0])
        paper = _paper_value(experiment, dataset, "accuracy") if real else None
        rows.append({
            "experiment": experiment, "dataset": dataset if real else f"{dataset} (embedded, not the paper's data)",
            "profile": profile, "budget": budget, "n": len(group), "seeds": ",".join(map(str, sorted(group["seed"]))),
            "accuracy %": _mean_std(group.get(f"{split}_accuracy", pd.Series(dtype=float))),
            "weighted F1 %": _mean_std(group.get(f"{split}_f1_weighted", pd.Series(dtype=float))),
            "paper accuracy %": paper if paper is not None else "",
            "device": group["device"].iloc[-1], "train img/s": round(float(group["train_img_per_s"].median()), 1),
        })
    return pd.DataFrame(rows)


def _budget(run_dir: Path) -> str:
    manifest = load_run(run_dir).manifest
    recipe = manifest.get("recipe_epochs")
    ran = manifest.get("epochs_run")
    allowed = manifest.get("epochs_override") or manifest.get("epochs")
    return f"{ran} run / {allowed} allowed / {recipe} recipe"


def latest_runs(experiment: str, real_first: bool = True) -> list[Path]:
    """Complete runs of an experiment, real-data ones first, newest first within each group."""
    runs = list_runs(experiment)
    if runs.empty:
        return []
    runs = runs[runs["status"] == "complete"].sort_values("started", ascending=False)
    if real_first:
        runs = runs.sort_values("real_data", ascending=False, kind="stable")
    return [Path(p) for p in runs["path"]]


def save_run_figures(run_dir: Path, section: str, prefix: str, split: str = "test") -> list[Path]:
    """Training curves and the row-normalised confusion matrix of a run, saved under results/<section>/."""
    import matplotlib.pyplot as plt

    from fer_lib.evaluate import plot_confusion, plot_history

    run = load_run(run_dir)
    data = run.manifest["dataset"]["name"] + ("" if run.manifest["dataset"].get("real") else " (embedded synthetic)")
    label = f"{run.experiment} · {data} · {run.manifest['profile']} · seed {run.manifest['seed']}"
    saved = []
    if not run.history.empty:
        fig = plot_history(run.history, title=label, best_epoch=run.manifest.get("best_epoch"))
        saved.append(outputs.save_figure(fig, section, f"{prefix}_curves"))
        plt.close(fig)
    if (run.path / f"confusion_{split}.csv").exists():
        fig = plot_confusion(run.confusion(split), normalize=True, title=f"{label} · {split}")
        figure = fig if hasattr(fig, "savefig") else fig.figure
        saved.append(outputs.save_figure(figure, section, f"{prefix}_confusion_{split}"))
        plt.close(figure)
    return saved


def per_class_table(run_dir: Path, split: str = "test") -> pd.DataFrame:
    """Per-class precision / recall / F1 / support of a run's split (sklearn's classification report)."""
    metrics = load_run(run_dir).metrics[split]
    rows = [{"class": name, **{k: round(v, 2) if isinstance(v, float) else v for k, v in values.items()}}
            for name, values in metrics["per_class"].items()]
    table = pd.DataFrame(rows)
    summary = pd.DataFrame([{"class": "accuracy", "f1": round(metrics["accuracy"], 2), "support": metrics["n"]},
                            {"class": "macro avg", "f1": round(metrics["f1_macro"], 2), "support": metrics["n"]},
                            {"class": "weighted avg", "f1": round(metrics["f1_weighted"], 2), "support": metrics["n"]}])
    return pd.concat([table, summary], ignore_index=True)


def p3_table1_beside(run_dir: Path | None, split: str = "test") -> pd.DataFrame:
    """P3 Table 1 (class-weighted model's report on the 7,178 test images) beside a run's own report."""
    from fer_lib.data.paper_tables import P3_TABLE1_REPORT, P3_TABLE1_SUMMARY

    rows = [{"class": name, "paper precision": p, "paper recall": r, "paper F1": f, "paper support": n}
            for name, (p, r, f, n) in P3_TABLE1_REPORT.items()]
    rows += [{"class": name, "paper F1": f} for name, f in P3_TABLE1_SUMMARY.items()]
    table = pd.DataFrame(rows)
    if run_dir is None:
        return table
    ours = per_class_table(run_dir, split).rename(columns={"precision": "our precision", "recall": "our recall",
                                                           "f1": "our F1", "support": "our support"})
    return table.merge(ours, on="class", how="outer")


def runs_note(run_dirs: list[Path], profile: str) -> str:
    """Markdown: which runs a section used, on what data, at what budget and where; says when none is real."""
    from fer_lib.notebook_steps import data_label

    lines = [f"Profile `{profile}`. Figures and tables use the newest run of each experiment, real-data runs first."]
    manifests = [load_run(r).manifest for r in run_dirs]
    for m in manifests:
        lines.append(f"- `{m['experiment']}` `{m['run_id']}`: {data_label(m)}, {m['epochs_run']} epochs run of the "
                     f"recipe's {m['recipe_epochs']}, input {m['config']['data']['input_size']} px, {m['device']}, "
                     f"{m['wall_s'] / 60:.0f} min, {m['pretrained']}.")
    if not any(m["dataset"].get("real") for m in manifests):
        lines.append("No run on the real dataset yet: these claims stay 'not run' in the verdicts.")
    return "\n".join(lines)


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
    """The newest real-data run of each experiment scored on its official test split and on the cleaned views
    of it (fer_lib.data.audit: without test images that have a (near-)duplicate in train, without
    conflicting-label duplicates, without non-exact pixels), from its recorded predictions."""
    runs = [r for e in experiments for r in latest_runs(e)[:1] if load_run(r).manifest["dataset"].get("real")]
    if not runs:
        return pd.DataFrame([{"run": "no real-data run yet"}])
    name = load_run(runs[0]).manifest["dataset"]["name"]
    ds, why = try_load(name, data_dir)
    if ds is None:
        return pd.DataFrame([{"run": f"{name} unavailable here: {why}"}])
    return audit.accuracy_on_subsets(runs, audit.test_subsets(ds, audit.audit_dataset(ds)))
