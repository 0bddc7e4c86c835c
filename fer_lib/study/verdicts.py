"""Claim by claim: the paper's number, ours (mean ± std over seeds, n), the gap, and a verdict.

Claims are data (`fer_lib/claims/claims.yaml`). Run-based claims read only the run records under
results/runs (manifest.json + metrics.json); a run counts only when it is complete and trained on
the real dataset the claim names. Model-size claims are measured on the model built by the zoo.

Verdicts:
    reproduced                 |ours - paper| <= tolerance; for a claimed difference or margin (a test over seeds,
                               see below): the claimed one-sided test has p < 0.05
    exceeded                   beyond the tolerance on the claim's better side (higher accuracy or speed-up, lower
                               error): the claim holds and more
    not reproduced             beyond the tolerance on the worse side, at the paper's budget and weights; for sizes
                               and cost ratios (no better side) beyond the tolerance either way; for a test over
                               seeds: the opposite one-sided test has p < 0.05
    inconclusive               a real run exists but under other conditions (why): a reduced budget, or from
                               scratch against an ImageNet-pretrained claim; a speed ratio whose paper names no
                               device, or another device class than ours (P2's epoch-time ratio: P2 names none,
                               we timed a CPU), never a "not reproduced"; a test over seeds where neither
                               direction is significant (why: whether the claimed direction holds on average), or
                               with fewer paired seeds than a paired t over seeds needs ("one seed a side")
    mixed                      the summary row of a claim that makes several comparisons at once (claim_groups:
                               P3's metrics on disgust and surprise, P2's orderings): its member rows' verdicts
                               disagree; `why` says on which member it holds and on which not
    not run                    no qualifying run, with the reason (dataset unavailable, budget)
    consistent by construction the figure matches because we fitted an unstated choice to it (claim `construction`)

Tests over seeds, one rule (comparisons.decide) for every difference, ordering and margin claim: the claimed
statement is tested one-sided over the paired seeds, and so is its opposite; reproduced when the claimed test
has p < 0.05, not reproduced when the opposite test has p < 0.05, inconclusive otherwise; where a claim makes
several tests (its metrics, its pairs) both directions are Holm-corrected within the claim. An ordering (A above
B) tests A − B > 0 against A − B < 0. A margin claim ('an insignificant loss', 'brings no benefit', 'not higher':
claims.yaml `within`) tests that a gain d = A − B is below the margin m against d above m (non-inferiority of B,
or non-superiority of A: one test); m is our choice, the accuracy tolerance (2 points), since no paper states one.

Rows have a `role`: `claim` (a claim of claims.yaml, an ordering of `comparisons`, or a claim group's summary),
`member` (a claim group's metric or pair rows, whose verdicts its summary reads) and `breakdown` (per-class rows
beside a member). The counts (`headline`, `summarise`) count claim rows only.

A run counts once: the latest complete run per (experiment, dataset, seed); n is the number of distinct
seeds, and a verdict needs every seed the experiment's recipe lists (else inconclusive, "k of n seeds"). Tolerances are shown as the absolute value applied, with the rule that gave it: for accuracy-type
claims the larger of the fixed tolerance and the 95 % interval of our mean from seed spread and test-set
sampling (uncertainty_tolerance), stated here before the first full P3 verdict.

Every run-based claim gets one verdict, on the official test set the paper used. Beside it, a sensitivity
figure, not a second verdict: `ours_cleaned` on the cleaned view (the same runs' recorded predictions without
the test images that have a train (near-)duplicate or a conflicting-label twin, fer_lib.data.audit) and
`cleaned_delta`, cleaned − official in points: how much our score depends on train/test duplicates.
Claims that make several comparisons at once are fer_lib.study.claim_groups (a row per metric / class / pair,
one-sided paired t over seeds with Holm's correction across a claim's metrics, and a summary row).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from fer_lib.claims import load_claims
from fer_lib.data import load_dataset
from fer_lib.paths import results_dir
from fer_lib.runs.select import at_full_budget, one_run_per_seed, real_runs, recipe_seeds, run_budget
from fer_lib.runs.store import precision_name, stored_config
from fer_lib.study.claim_groups import group_owned_pairs, group_rows
from fer_lib.study.cleaned import cleaned_columns
from fer_lib.study.comparisons import ci95, judge_difference
from fer_lib.study.judging import (RUN_KINDS, applied_tolerance, claim_metric, images_behind, judge, judge_measured,
                                   uncertainty_tolerance)
from fer_lib.study.testset_checks import difference_checks


@lru_cache(maxsize=None)
def _dataset_available(name: str, data_dir) -> tuple[bool, str]:
    try:
        load_dataset(name, data_dir=data_dir)
        return True, ""
    except (FileNotFoundError, ValueError) as err:
        return False, _reason_line(err)


def _reason_line(err: BaseException) -> str:
    """A loader's message on one line, up to the list of paths it looked for (the notebook shows those)."""
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return text.split(" Looked for:")[0].rstrip(" .;:")


def _precisions(manifests: list[dict]) -> str:
    """The runs' precisions: one name when all share it, else each with its seeds ("bf16 (s0, s1), fp32 (s2)")."""
    seeds: dict[str, list[str]] = {}
    for m in manifests:
        seeds.setdefault(precision_name(m), []).append(f"s{m['seed']}")
    if len(seeds) == 1:
        return next(iter(seeds))
    return ", ".join(f"{name} ({', '.join(s)})" for name, s in sorted(seeds.items()))


def _conditions(chosen: list[dict]) -> dict:
    """What a verdict was judged under: weights, epochs run vs recipe, seeds, precision, device."""
    manifests = [r["manifest"] for r in chosen]
    weights = sorted({"from scratch" if str(m.get("pretrained", "")).startswith("none") else str(m.get("pretrained"))
                      for m in manifests})
    epochs = [f"{m.get('epochs_run')}/{m.get('recipe_epochs')}" for m in manifests]  # one per run, seed order
    return {"seeds": ",".join(str(m["seed"]) for m in manifests), "weights": "; ".join(weights),
            "epochs": ", ".join(epochs), "precision": _precisions(manifests),
            "device": "; ".join(sorted({str(m.get("device")) for m in manifests})),
            "runs": ";".join(str(r["run_dir"]) for r in chosen)}


def judge_run_claim(claim: dict, runs: list[dict], data_dir=None) -> dict:
    """Our measurement of one run-based claim from the recorded real-data runs."""
    mine = [r for r in runs if r["manifest"]["experiment"] == claim["experiment"]
            and r["manifest"]["dataset"]["name"] == claim["dataset"] and claim_metric(r["metrics"], claim) is not None]
    if not mine:
        available, why = _dataset_available(claim["dataset"], None if data_dir is None else str(data_dir))
        reason = (f"dataset unavailable here ({why})" if not available
                  else "no real-data run recorded yet (GPU budget: see README)")
        return {"verdict": "not run", "why": reason, "n": 0}
    full = [r for r in mine if at_full_budget(r["manifest"])]
    chosen = one_run_per_seed(full or mine)  # prefer runs at the paper's budget
    per_seed, kfold = _per_seed_values(chosen, claim)
    numbers = np.array(list(per_seed.values()), dtype=float)
    mean = float(numbers.mean())
    std = float(numbers.std(ddof=1)) if len(numbers) > 1 else float("nan")
    paper = float(claim["value"])
    tol, rule = uncertainty_tolerance(claim, numbers, _test_size(chosen, claim))
    lo, hi = ci95(numbers)
    row = {"ours": mean, "ours_std": std, "ours_ci95": f"[{lo:.2f}, {hi:.2f}]" if len(numbers) > 1 else "",
           "n": len(numbers), "gap": mean - paper, "tolerance": tol, "tolerance_rule": rule, **_conditions(chosen)}
    why_not = _why_not_judged(claim, chosen, per_seed, kfold, at_full=bool(full))
    cleaned = cleaned_columns(claim, chosen, mean, data_dir=data_dir)
    if why_not:
        return {**row, **cleaned, "verdict": "inconclusive", "why": why_not}
    judged, why = judge(claim, chosen, paper, mean, tol)
    return {**row, **cleaned, "verdict": judged, "why": why or (f"mean over all {kfold} folds per seed" if kfold else "")}


def _why_not_judged(claim: dict, chosen: list[dict], per_seed: dict, kfold: int | None, at_full: bool) -> str | None:
    """Why runs that exist cannot be judged yet (a reduced budget, missing seeds or folds), or None."""
    if not at_full:
        allowed, recipe = max(run_budget(r["manifest"]) for r in chosen)
        return f"reduced budget: {allowed} of {recipe} epochs"
    expected = recipe_seeds(claim["experiment"])
    if expected and not expected <= set(per_seed):
        return (f"{len(set(per_seed) & expected)} of the recipe's {len(expected)} seeds complete "
                f"(seeds {','.join(map(str, sorted(expected)))})")
    if kfold:
        folds = {seed: sum(1 for r in chosen if r["manifest"]["seed"] == seed) for seed in per_seed}
        if min(folds.values()) < kfold:
            return f"cross-validation incomplete: {min(folds.values())} of {kfold} folds for some seed"
    return None


def _test_size(chosen: list[dict], claim: dict) -> int | None:
    """Images behind the claim's number on our side (judging.images_behind of the first run's split)."""
    return images_behind(chosen[0]["metrics"].get(claim.get("split", "test"), {}), claim)


def _per_seed_values(chosen: list[dict], claim: dict) -> tuple[dict, int | None]:
    """{seed: value} (a k-fold protocol's folds averaged within each seed) and k (None without folds)."""
    by_seed: dict = {}
    kfold = None
    for run in chosen:
        cfg = stored_config(run["manifest"]) if "data" in run["manifest"].get("config", {}) else {}
        spec = cfg.get("data", {}).get("splits") or {}
        kfold = int(spec["kfold"]) if "kfold" in spec else kfold
        by_seed.setdefault(run["manifest"]["seed"], []).append(claim_metric(run["metrics"], claim))
    return {seed: float(np.mean(values)) for seed, values in by_seed.items()}, kfold


def _judge_measured(claim: dict, measure_model) -> dict:
    value, note = measure_model(claim)
    if value is None:
        return {"verdict": "not run", "why": note, "n": 0}
    paper = float(claim["value"])
    measured_on = (measure_model.device_type_of(claim) if hasattr(measure_model, "device_type_of")
                   else getattr(measure_model, "device_type", None))
    judged, note = judge_measured(claim, value, note, measured_on)
    where = measure_model.measured_on(claim) if hasattr(measure_model, "measured_on") else measured_on
    return {"ours": value, "n": 1, "gap": value - paper, "verdict": judged, "why": note, "device": where or ""}


def ordering_claims() -> list[dict]:
    """A `difference` claim for every ordering a paper asserts (claims.yaml `comparisons`): the claimed better
    experiment's accuracy over the claimed worse one's, on our runs trained under the same recipe. A pair that a
    claim group judges (claim_groups.group_owned_pairs) is left to the group, and each pair comes once: no pair
    is judged twice."""
    claims = {c["id"]: c for c in load_claims()["claims"]}
    owned, out = group_owned_pairs(), []
    for better_id, worse_id in dict.fromkeys(tuple(pair) for pair in load_claims()["comparisons"]):
        if frozenset((better_id, worse_id)) in owned:
            continue
        better, worse = claims[better_id], claims[worse_id]
        out.append({"id": f"{better_id} > {worse_id}", "paper": better["paper"], "table": better["table"],
                    "kind": "difference", "dataset": better["dataset"], "split": better.get("split", "test"),
                    "experiments": [better["experiment"], worse["experiment"]],
                    "value": round(float(better["value"]) - float(worse["value"]), 4)})
    return out


def claims_table(measure_model, runs: list[dict] | None = None, data_dir=None) -> pd.DataFrame:
    """Every claim with ours beside it. `measure_model(claim) -> (value, note)` measures size/speed claims."""
    runs = real_runs() if runs is None else runs
    resolvable = {f"{r.better} > {r.worse}": r.resolvable for r in difference_checks().itertuples()}
    rows = []
    for claim in [*load_claims()["claims"], *ordering_claims()]:
        tol, rule = applied_tolerance(claim)
        base = {"id": claim["id"], "role": "claim", "paper": claim["paper"], "table": claim["table"],
                "claim_class": ("difference" if claim["kind"] == "difference" else
                                "accuracy" if claim["kind"] in RUN_KINDS else "architecture"),
                "dataset": claim.get("dataset", ""), "metric": claim["kind"] + (f" ({claim['class']})" if "class" in claim else ""),
                "paper_value": claim.get("value"), "tolerance": tol, "tolerance_rule": rule}
        if claim["kind"] in RUN_KINDS:
            base.update(judge_run_claim(claim, runs, data_dir))
        elif claim["kind"] == "difference":
            base.update(judge_difference(claim, runs), resolvable=resolvable.get(claim["id"], "no number published"))
        else:
            base.update(_judge_measured(claim, measure_model))
        rows.append(base)
    rows += group_rows(runs, resolvable)
    columns = ["id", "role", "paper", "claim_class", "table", "dataset", "metric", "paper_value", "ours", "ours_std",
               "ours_ci95", "n", "gap", "tolerance", "tolerance_rule", "verdict", "why", "p_seeds", "p_holm",
               "ours_cleaned", "cleaned_delta", "test_images_cleaned", "cleaned_note", "resolvable", "seeds",
               "weights", "epochs", "precision", "device", "runs"]
    return pd.DataFrame(rows).reindex(columns=columns)


def claim_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that are claims (role `claim`): a claim group's member and breakdown rows are not counted."""
    return table[table["role"] == "claim"] if "role" in table else table


COUNTED = "claim rows only: a claim group counts once, by its summary row, not by its member or breakdown rows"


def headline(table: pd.DataFrame) -> str:
    """One sentence per claim class (accuracy, architecture, difference), counting claim rows only (COUNTED)."""
    parts = []
    for cls, group in claim_rows(table).groupby("claim_class", sort=True):
        counts = group["verdict"].value_counts()
        parts.append(f"{len(group)} {cls} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    return "; ".join(parts) + f" ({COUNTED})."


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Counts of verdicts per paper and claim class (accuracy apart from architecture), claim rows only (COUNTED)."""
    return claim_rows(table).pivot_table(index=["paper", "claim_class"], columns="verdict", values="id",
                                         aggfunc="count", fill_value=0)


def recorded_table(table: pd.DataFrame, root: Path | None = None) -> pd.DataFrame:
    """The verdict table as saved: numbers rounded, each row's run folders relative to the results root (so
    the dashboard can link every seed to its manifest, in any clone)."""
    root = Path(root or results_dir()).resolve()

    def relative(cell) -> str:
        if not isinstance(cell, str) or not cell:
            return ""
        return ";".join(os.path.relpath(Path(r).resolve(), root) for r in cell.split(";") if r)

    out = table.round({"ours": 3, "ours_std": 3, "gap": 3, "ours_cleaned": 3, "cleaned_delta": 3,
                       "p_seeds": 4, "p_holm": 4})
    out["runs"] = out["runs"].map(relative)
    return out
