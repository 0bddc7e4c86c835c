"""Does bf16 autocast change what is learned? One experiment's real-data runs, fp32 beside bf16.

Either of two checks settles it (issue #11), both on runs of one recipe (fer_lib.study.recipes):
  early epochs    3 seeds per precision, each seed's validation accuracy after EPOCH epochs: the two
                  precisions' mean ± std intervals overlap. A longer run's history counts at that epoch when
                  its schedule does not depend on the epoch budget (a step schedule; not cosine), so a
                  full-budget bf16 run and a short fp32 run of one seed saw the same learning rates.
  complete run    one complete fp32 run at the recipe's full budget whose test accuracy lies within the
                  full-budget bf16 runs' mean ± 2 std.
Validation accuracies only ever compare precisions here; no recipe is chosen on them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fer_lib.runs.select import at_full_budget, one_run_per_seed, real_runs
from fer_lib.runs.store import precision_name, stored_config
from fer_lib.study.recipes import recipe_signature

SEEDS_NEEDED = 3
EARLY_EPOCH = 5


def _val_acc_at(run_dir: Path, epoch: int) -> float | None:
    history = pd.read_csv(Path(run_dir) / "history.csv")
    row = history[history["epoch"] == epoch]
    return None if row.empty else float(row["val_acc"].iloc[0])


def precision_runs(experiment: str, runs: list[dict] | None = None) -> pd.DataFrame:
    """The experiment's complete real-data runs at the recipe its full-budget runs share, the latest of each
    (precision, seed, full budget or not): precision, seed, run, full budget, epochs run, validation accuracy
    at EARLY_EPOCH (when the schedule does not depend on the budget) and, for full-budget runs, test accuracy
    (in %)."""
    runs = real_runs() if runs is None else runs
    mine = [r for r in runs if r["manifest"]["experiment"] == experiment and "data" in r["manifest"].get("config", {})]
    configs = {id(r): stored_config(r["manifest"]) for r in mine}
    signatures = {id(r): recipe_signature(configs[id(r)]) for r in mine}
    full = [signatures[id(r)] for r in mine if at_full_budget(r["manifest"])]
    if not full:
        return pd.DataFrame()
    recipe = pd.Series(full).mode().iloc[0]
    groups: dict[tuple[str, bool], list[dict]] = {}
    for run in mine:
        if signatures[id(run)] == recipe:
            groups.setdefault((precision_name(run["manifest"]), at_full_budget(run["manifest"])), []).append(run)
    rows = []
    for (precision, is_full), group in sorted(groups.items(), key=lambda item: (item[0][0], not item[0][1])):
        for run in one_run_per_seed(group):
            m = run["manifest"]
            early = _val_acc_at(run["run_dir"], EARLY_EPOCH) if configs[id(run)]["schedule"]["name"] != "cosine" else None
            rows.append({"precision": precision, "seed": m["seed"], "run": Path(run["run_dir"]).name,
                         "full budget": is_full, "epochs run": m.get("epochs_run"),
                         f"val acc @ {EARLY_EPOCH} %": np.nan if early is None else round(100 * early, 2),
                         "test acc %": round(100 * run["metrics"]["test"]["accuracy"], 2) if is_full else np.nan,
                         "recipe": recipe, "device": m.get("device")})
    return pd.DataFrame(rows)


EARLY = f"val acc @ {EARLY_EPOCH} %"
SEEDS_AT_EARLY = f"seeds with epoch {EARLY_EPOCH}"


def _mean_std_n(values: pd.Series) -> tuple[float, float, int]:
    values = values.dropna()
    return (float(values.mean()) if len(values) else np.nan,
            float(values.std(ddof=1)) if len(values) > 1 else np.nan, len(values))


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per precision: seeds with a value at EARLY_EPOCH and its mean and std (one value per seed: a full-budget
    run's when it has one, else the short run's), full-budget runs and their test accuracy's mean and std."""
    rows = []
    for precision, group in table.groupby("precision"):
        per_seed = group.sort_values("full budget", ascending=False).groupby("seed")[EARLY].first()
        e_mean, e_std, e_n = _mean_std_n(per_seed)
        t_mean, t_std, t_n = _mean_std_n(group["test acc %"])
        rows.append({"precision": precision, SEEDS_AT_EARLY: e_n, f"{EARLY} mean": e_mean, f"{EARLY} std": e_std,
                     "full runs": t_n, "test acc % mean": t_mean, "test acc % std": t_std})
    return pd.DataFrame(rows).set_index("precision")


def _early_line(ref: pd.Series, oth: pd.Series, reference: str, other: str) -> str:
    if min(ref[SEEDS_AT_EARLY], oth[SEEDS_AT_EARLY]) < SEEDS_NEEDED:
        return (f"Early epochs: not yet ({int(ref[SEEDS_AT_EARLY])} {reference} and {int(oth[SEEDS_AT_EARLY])} "
                f"{other} seeds of the {SEEDS_NEEDED} needed).")
    mean, std = f"{EARLY} mean", f"{EARLY} std"
    overlap = max(ref[mean] - ref[std], oth[mean] - oth[std]) <= min(ref[mean] + ref[std], oth[mean] + oth[std])
    return (f"Early epochs: validation accuracy after {EARLY_EPOCH} epochs, {reference} {ref[mean]:.2f} ± "
            f"{ref[std]:.2f} vs {other} {oth[mean]:.2f} ± {oth[std]:.2f} (mean ± std over seeds): the intervals "
            + ("overlap, precision does not change what is learned at this budget." if overlap else
               "do not overlap: the precisions differ."))


def _complete_line(table: pd.DataFrame, ref: pd.Series, reference: str, other: str) -> str:
    complete = table[(table["precision"] == other) & table["full budget"]]
    if complete.empty or ref["full runs"] < 2:
        return f"Complete run: no full-budget {other} run yet."
    value = float(complete["test acc %"].iloc[0])
    lo, hi = ref["test acc % mean"] - 2 * ref["test acc % std"], ref["test acc % mean"] + 2 * ref["test acc % std"]
    return (f"Complete run: {other} seed {complete['seed'].iloc[0]} test accuracy {value:.2f}, {reference} runs "
            f"{ref['test acc % mean']:.2f} ± {ref['test acc % std']:.2f} (n={int(ref['full runs'])}): "
            + ("within" if lo <= value <= hi else "outside") + f" mean ± 2 std [{lo:.2f}, {hi:.2f}].")


def precision_check(table: pd.DataFrame, reference: str = "bf16", other: str = "fp32") -> tuple[pd.DataFrame, str]:
    """Both checks on precision_runs' table: a summary per precision and a one-paragraph verdict."""
    if table.empty:
        return pd.DataFrame(), "No full-budget real-data run yet: nothing to compare."
    summary = _summary(table)
    missing = sorted({reference, other} - set(summary.index))
    if missing:
        text = f"No {' or '.join(missing)} run of this recipe yet: nothing to compare."
    else:
        ref, oth = summary.loc[reference], summary.loc[other]
        text = _early_line(ref, oth, reference, other) + " " + _complete_line(table, ref, reference, other)
    return summary.reset_index().round(2), text
