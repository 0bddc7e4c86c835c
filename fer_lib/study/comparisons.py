"""Claims that one model or setting beats another, judged on runs trained under the same recipe.

Two views of one difference, both paired:
  over seeds        the same seed of both variants (same split, same initialisation stream): the mean
                    difference, its spread, a one-sided paired t-test;
  over test images  within each seed, the images of the classes concerned that one variant gets right
                    and the other wrong (b and c): the exact McNemar test (two-sided binomial on b + c).
Verdict: the one rule of fer_lib.study.verdicts' docstring (`decide`): reproduced when the claimed one-sided
test over seeds has p < 0.05, not reproduced when the opposite one-sided test has p < 0.05, else inconclusive
(its `why` says whether the claimed direction holds on average); not run without paired runs. Where a claim
makes several tests (its metrics, or its pairs), both the claimed and the opposite p-values are Holm-corrected
within the claim (`holm`), each direction a family. As for accuracy claims, no verdict is given before every
seed both recipes list has a paired run (`seeds_ready`): until then the row is inconclusive ("k of n recipe
seeds paired") and shows the numbers so far. A paired t over seeds needs MIN_SEEDS paired seeds: with fewer
(P2's recipes run one seed) the row is inconclusive ("one seed a side"), whatever the sign, with each seed's
McNemar test over test images shown; McNemar counts images, so it speaks for one seed's pair of models, not for
the recipe.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from fer_lib.runs.select import recipe_seeds, seed_runs

ALPHA = 0.05
MIN_SEEDS = 3   # paired seeds a verdict over seeds needs (the P3 recipe's three)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control, no independence assumed): sort the m
    p-values ascending, multiply the i-th smallest (i from 0) by m - i, cap at 1 and make the sequence
    non-decreasing. NaN p-values (no test) stay NaN and do not count in m. statsmodels is not installed here;
    this is its method "holm"."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    running = 0.0
    for rank, i in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        running = max(running, min(1.0, (tested.size - rank) * p[i]))
        out[i] = running
    return out


def one_seed_note(n_seeds: int) -> str:
    """Why a paired difference over seeds cannot be judged yet with `n_seeds` paired seeds."""
    side = "one seed a side" if n_seeds == 1 else f"{n_seeds} seeds a side"
    return f"{side}: no paired t over seeds until {MIN_SEEDS} paired seeds exist; so far: "


def ci95(values) -> tuple[float, float]:
    """Two-sided 95% t-interval of the mean of `values` (NaN, NaN for fewer than two)."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean() - half), float(x.mean() + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value for b images right only under A and c right only under B."""
    n = int(b) + int(c)
    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * stats.binom.cdf(min(b, c), n, 0.5)))


def class_recall(metrics: dict, split: str, classes: list[str] | None) -> float:
    """Mean recall (in %) over `classes` of one split's metrics; accuracy (in %) when classes is None."""
    if not classes:
        return 100.0 * float(metrics[split]["accuracy"])
    per_class = metrics[split]["per_class"]
    return 100.0 * float(np.mean([per_class[c]["recall"] for c in classes]))


def discordant(run_a: Path, run_b: Path, split: str, classes: list[str] | None) -> tuple[int, int]:
    """(b, c) over the test images of `classes` (all when None): right under A only, right under B only."""
    pa = pd.read_csv(Path(run_a) / f"predictions_{split}.csv").set_index("index")
    pb = pd.read_csv(Path(run_b) / f"predictions_{split}.csv").set_index("index")
    if not pa.index.equals(pb.index):
        raise ValueError(f"{run_a} and {run_b} were evaluated on different {split} images: not paired")
    keep = pa["label_name"].isin(classes) if classes else pd.Series(True, index=pa.index)
    right_a = (pa["label"] == pa["pred"])[keep]
    right_b = (pb["label"] == pb["pred"])[keep]
    return int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())


def paired_seed_runs(runs: list[dict], experiments: list[str], dataset: str, split: str) -> tuple[list, dict, dict]:
    """(seeds both experiments have a full-budget run of, {seed: run} of the claimed better, of the claimed worse)."""
    with_split = [r for r in runs if split in r["metrics"]]
    a, b = ({r["manifest"]["seed"]: r for r in seed_runs(with_split, e, dataset)} for e in experiments)
    return sorted(set(a) & set(b)), a, b


def seeds_ready(seeds: list, experiments: list[str]) -> str | None:
    """None when the paired `seeds` allow a verdict over seeds (every recipe seed paired, at least MIN_SEEDS),
    else the start of the row's `why` saying what is missing."""
    expected = recipe_seeds(experiments[0]) | recipe_seeds(experiments[1])
    if not expected <= set(seeds):
        return (f"{len(set(seeds) & expected)} of the recipes' {len(expected)} seeds paired "
                f"(seeds {','.join(map(str, sorted(expected)))}); so far: ")
    if len(seeds) < MIN_SEEDS:
        return one_seed_note(len(seeds))
    return None


def decide(p_claim: float, p_opposite: float) -> str:
    """The one rule for every test over seeds: reproduced when the claimed one-sided test has p < ALPHA, not
    reproduced when the opposite one-sided test has, else inconclusive (NaN: no test, not significant)."""
    if p_claim < ALPHA:
        return "reproduced"
    if p_opposite < ALPHA:
        return "not reproduced"
    return "inconclusive"


def difference_verdict(seeds: list, experiments: list[str], mean: float, p: float,
                       p_opposite: float) -> tuple[str, str]:
    """(verdict, prefix of its `why`) of a paired difference over seeds with mean `mean`, one-sided p `p` for the
    claimed direction and `p_opposite` for the other (both Holm-adjusted where the claim has several tests)."""
    waiting = seeds_ready(seeds, experiments)
    if waiting:
        return "inconclusive", waiting
    judged = decide(p, p_opposite)
    if judged != "inconclusive":
        return judged, ""
    if mean > 0:
        return judged, "direction holds, within noise: "
    return judged, "the claimed direction does not hold, but the opposite is not significant either: "


def paired_t(values_a: np.ndarray, values_b: np.ndarray) -> float:
    """One-sided paired t over seeds (A > B), NaN with fewer than two seeds or no spread of the differences."""
    diffs = values_a - values_b
    if len(diffs) < 2 or np.ptp(diffs) == 0:
        return float("nan")
    return float(stats.ttest_rel(values_a, values_b, alternative="greater").pvalue)


def spread_columns(diffs: np.ndarray) -> dict:
    """ours (mean difference), its std, 95 % interval and n, as a verdict row shows them."""
    lo, hi = ci95(diffs)
    mean = float(diffs.mean())
    return {"ours": mean, "ours_std": float(diffs.std(ddof=1)) if len(diffs) > 1 else float("nan"),
            "ours_ci95": f"[{lo:.2f}, {hi:.2f}]" if len(diffs) > 1 else "", "n": len(diffs), "gap": mean}


def paired_difference(claim: dict, runs: list[dict]) -> dict | None:
    """The numbers of a `difference` claim (experiments [claimed better, claimed worse], classes, split) over the
    paired seeds: per-seed differences, one-sided paired t both ways, McNemar per seed in `detail`; None
    without paired runs."""
    split, classes = claim.get("split", "test"), list(claim.get("classes") or []) or None
    seeds, a, b = paired_seed_runs(runs, claim["experiments"], claim["dataset"], split)
    if not seeds:
        return None
    values_a = np.array([class_recall(a[s]["metrics"], split, classes) for s in seeds])
    values_b = np.array([class_recall(b[s]["metrics"], split, classes) for s in seeds])
    diffs = values_a - values_b
    pairs = [discordant(a[s]["run_dir"], b[s]["run_dir"], split, classes) for s in seeds]
    p_images = [mcnemar_exact(bb, cc) for bb, cc in pairs]
    p_seeds = paired_t(values_a, values_b)
    measure = f"mean recall of {'/'.join(classes)}" if classes else "accuracy"
    detail = (f"{' − '.join(claim['experiments'])}, {measure}: per seed "
              + ", ".join(f"s{s} {d:+.1f}" for s, d in zip(seeds, diffs))
              + (f"; paired t over seeds p={p_seeds:.3g}" if p_seeds == p_seeds else "") + "; McNemar per seed p="
              + ", ".join(f"{p:.3g}" for p in p_images) + " (b/c " + ", ".join(f"{x}/{y}" for x, y in pairs) + ")")
    return {"seeds": seeds, "diffs": diffs, "p_seeds": p_seeds, "p_opposite": paired_t(values_b, values_a),
            "detail": detail, "runs": ";".join(str(r["run_dir"]) for s in seeds for r in (a[s], b[s]))}


def difference_row(numbers: dict, experiments: list[str], p: float, p_opposite: float) -> dict:
    """A verdict row from `paired_difference` numbers and the (possibly Holm-adjusted) p-values to judge on."""
    judged, prefix = difference_verdict(numbers["seeds"], experiments, float(numbers["diffs"].mean()), p, p_opposite)
    return {**spread_columns(numbers["diffs"]), "verdict": judged, "why": prefix + numbers["detail"],
            "seeds": ",".join(map(str, numbers["seeds"])), "p_seeds": numbers["p_seeds"], "runs": numbers["runs"]}


def judge_difference(claim: dict, runs: list[dict]) -> dict:
    """Verdict row for one `difference` claim (one test: raw p-values)."""
    numbers = paired_difference(claim, runs)
    if numbers is None:
        return {"verdict": "not run", "n": 0,
                "why": f"no pair of full-budget runs of {' and '.join(claim['experiments'])} with one seed"}
    return difference_row(numbers, claim["experiments"], numbers["p_seeds"], numbers["p_opposite"])
