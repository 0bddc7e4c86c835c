"""Claims that one model or setting beats another, judged on runs trained under the same recipe.

Two views of one difference, both paired:
  over seeds        the same seed of both variants (same split, same initialisation stream): the mean
                    difference, its spread, a one-sided paired t-test;
  over test images  within each seed, the images of the classes concerned that one variant gets right
                    and the other wrong (b and c): the exact McNemar test (two-sided binomial on b + c).
Verdict: reproduced when the claimed direction holds on average and the paired t-test over seeds has
p < 0.05; not reproduced when the mean difference has the other sign (or is zero); inconclusive when
the direction holds but the difference is within noise; not run without paired runs. As for accuracy
claims, no verdict is given before every seed both recipes list has a paired run: until then the row is
inconclusive ("k of n recipe seeds paired") and shows the numbers so far. A paired t over seeds needs
MIN_SEEDS paired seeds: with fewer (P2's recipes run one seed) the row is inconclusive ("one seed a side"),
whatever the sign, with each seed's McNemar test over test images shown; McNemar counts images, so it
speaks for one seed's pair of models, not for the recipe.
Several tests for one claim (its metrics, or its pairs) are corrected with Holm's step-down method (`holm`).
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


def difference_verdict(seeds: list, experiments: list[str], mean: float, p: float) -> tuple[str, str]:
    """(verdict, prefix of its `why`) of a paired difference over seeds with mean `mean` and one-sided p `p`
    (Holm-adjusted where the claim has several tests): the rule of this module's docstring."""
    expected = recipe_seeds(experiments[0]) | recipe_seeds(experiments[1])
    if not expected <= set(seeds):
        return "inconclusive", (f"{len(set(seeds) & expected)} of the recipes' {len(expected)} seeds paired "
                                f"(seeds {','.join(map(str, sorted(expected)))}); so far: ")
    if len(seeds) < MIN_SEEDS:
        return "inconclusive", one_seed_note(len(seeds))
    if mean <= 0:
        return "not reproduced", ""
    if p < ALPHA:
        return "reproduced", ""
    return "inconclusive", "direction holds, within noise: "


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


def judge_difference(claim: dict, runs: list[dict]) -> dict:
    """Verdict row for a `difference` claim: experiments [claimed better, claimed worse], classes, split."""
    better, worse = claim["experiments"]
    split, classes = claim.get("split", "test"), list(claim.get("classes") or []) or None
    seeds, a, b = paired_seed_runs(runs, claim["experiments"], claim["dataset"], split)
    if not seeds:
        return {"verdict": "not run", "why": f"no pair of full-budget runs of {better} and {worse} with one seed",
                "n": 0}
    values_a = np.array([class_recall(a[s]["metrics"], split, classes) for s in seeds])
    values_b = np.array([class_recall(b[s]["metrics"], split, classes) for s in seeds])
    diffs = values_a - values_b
    pairs = [discordant(a[s]["run_dir"], b[s]["run_dir"], split, classes) for s in seeds]
    p_images = [mcnemar_exact(bb, cc) for bb, cc in pairs]
    p_seeds = paired_t(values_a, values_b)
    measure = f"mean recall of {'/'.join(classes)}" if classes else "accuracy"
    detail = (f"{better} − {worse}, {measure}: per seed "
              + ", ".join(f"s{s} {d:+.1f}" for s, d in zip(seeds, diffs))
              + (f"; paired t over seeds p={p_seeds:.3g}" if p_seeds == p_seeds else "") + "; McNemar per seed p="
              + ", ".join(f"{p:.3g}" for p in p_images) + " (b/c " + ", ".join(f"{x}/{y}" for x, y in pairs) + ")")
    judged, prefix = difference_verdict(seeds, claim["experiments"], float(diffs.mean()), p_seeds)
    return {**spread_columns(diffs), "verdict": judged, "why": prefix + detail, "seeds": ",".join(map(str, seeds)),
            "p_seeds": p_seeds, "runs": ";".join(str(r["run_dir"]) for s in seeds for r in (a[s], b[s])),
            "diffs": diffs}
