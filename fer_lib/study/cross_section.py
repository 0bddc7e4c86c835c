"""The steps of notebook 09 (cross-dataset evaluation), each one call: which runs to evaluate (or a smoke
run to train), what each test set's status is, the accuracy heat map and the lines of the closing note."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from fer_lib.devices import resolve_device
from fer_lib.runs.select import latest_runs
from fer_lib.runs.store import load_run
from fer_lib.study.cross_dataset import cross_dataset_table
from fer_lib.study.plans import train_experiments
from fer_lib.study.setup import smoke_overrides

EXPERIMENTS = ["p3_resnet50_weighted", "p3_resnet50_resampled", "p3_lc2fer_c5_weighted", "p2_lc2fer_c5_aug",
               "p2_lc2fer_c5", "p1_swin_se_resnet_fer2013", "p4_swin_spst_ema_rafdb", "p4_swin_rafdb",
               "p4_swin_spst_ema_ferplus", "p4_swin_spst_ema_jaffe"]
LIGHT = ["p3_resnet50_weighted", "p2_lc2fer_c5_aug"]   # synthetic runs included in smoke (cheap on a CPU)
EVAL = ["fer2013", "ferplus", "rafdb", "jaffe", "ckplus", "synthetic", "affectnet", "fane"]


def runs_to_evaluate(profile: str, *, data_dir=None, seed: int = 0, device: str = "auto",
                     train: bool = True) -> list[Path]:
    """The newest real-data run of each experiment and its newest synthetic run (in smoke only the LIGHT
    ones), those with a best checkpoint; with train=True and none, a smoke run of the first LIGHT one."""
    runs: list[Path] = []
    for experiment in EXPERIMENTS:
        real = [r for r in latest_runs(experiment) if load_run(r).manifest["dataset"].get("real")]
        synthetic = [r for r in latest_runs(experiment) if not load_run(r).manifest["dataset"].get("real")]
        runs += real[:1]
        if synthetic and (profile != "smoke" or experiment in LIGHT):
            runs += synthetic[:1]
    runs = [r for r in runs if (r / "checkpoints" / "best.pt").exists()]
    if not runs and train:
        runs, _ = train_experiments(LIGHT[:1], profile="smoke", data_dir=data_dir, seeds=[seed], device=device,
                                    overrides=smoke_overrides("smoke"))
    return runs


def accuracy_table(runs: list[Path], max_per_set: int | None, *, data_dir=None, seed: int = 0,
                   device: str = "auto") -> pd.DataFrame:
    """The long table (study.cross_dataset.cross_dataset_table) of every run on every EVAL test set."""
    return cross_dataset_table(runs, EVAL, data_dir=data_dir, max_per_set=max_per_set, seed=seed,
                               device=str(resolve_device(device)))


def evaluated_sets(table: pd.DataFrame) -> list[str]:
    """The test sets at least one run was evaluated on (status ok), sorted."""
    return sorted(set(table.loc[table["status"] == "ok", "evaluated on"]))


def unavailable_reasons(table: pd.DataFrame, eval_sets: list[str] = EVAL) -> dict[str, str]:
    """{test set: the first status that is not ok} for the sets with such a cell, in `eval_sets` order."""
    reasons = {}
    for name in eval_sets:
        statuses = table.loc[(table["evaluated on"] == name) & (table["status"] != "ok"), "status"]
        if len(statuses):
            reasons[name] = statuses.iloc[0]
    return reasons


def coverage_report(table: pd.DataFrame, max_per_set: int | None, eval_sets: list[str] = EVAL) -> str:
    """Which test sets were evaluated and the cap per cell, then why each other set was not (160 characters)."""
    lines = [" ".join(["test sets evaluated:", str(evaluated_sets(table)), "| cap per cell:", str(max_per_set)])]
    lines += [f"  {name}: {why[:160]}" for name, why in unavailable_reasons(table, eval_sets).items()]
    return "\n".join(lines)


def matrix_figure(matrix: pd.DataFrame, max_per_set: int | None):
    """Heat map of the accuracy matrix's evaluated columns (rows trained on, columns evaluated on), or None
    when no cell was evaluated."""
    shown = matrix.dropna(axis=1, how="all")
    if shown.empty:
        return None
    fig, ax = plt.subplots(figsize=(1.3 * shown.shape[1] + 4, 0.6 * shown.shape[0] + 2.5))
    sns.heatmap(shown, annot=True, fmt=".1f", cmap="viridis", vmin=0, vmax=100, ax=ax,
                cbar_kws={"label": "accuracy %"})
    ax.set_xlabel("evaluated on")
    ax.set_ylabel("trained on")
    ax.set_title("cross-dataset accuracy, shared classes" + (f" (≤{max_per_set} images per cell)" if max_per_set else ""))
    fig.tight_layout()
    return fig


def note_lines(table: pd.DataFrame, overview: pd.DataFrame, max_per_set: int | None,
               eval_sets: list[str] = EVAL) -> list[str]:
    """The section note's lines: the runs, the cap, the classes dropped per test set and the sets not available."""
    dropped = table[table["status"] == "ok"].groupby("evaluated on")[["classes dropped from test set",
                                                                        "model classes absent from test set"]].first()
    missing = unavailable_reasons(table, eval_sets)
    return [
        "**Runs**: " + ("; ".join(f"{r.experiment} ({r.data}, {r.profile})" for r in overview.itertuples())
                        or "none (no recorded run with a checkpoint, and train=False)"),
        f"**Cap**: at most {max_per_set} images per cell (seeded subset)" if max_per_set
        else "**Cap**: none, every test image.",
        "**Label space**: shared canonical classes only; prediction restricted to them. Dropped per test set: "
        + "; ".join(f"{k}: test-only {v.iloc[0]}, model-only {v.iloc[1]}" for k, v in dropped.iterrows()),
        "**Not available**: " + ("; ".join(f"{name} ({why.split(';')[0]})" for name, why in missing.items()) or "none"),
    ]
