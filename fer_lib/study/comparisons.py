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
inconclusive ("k of n recipe seeds paired") and shows the numbers so far.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from fer_lib.runs.select import recipe_seeds, seed_runs

ALPHA = 0.05


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


def judge_difference(claim: dict, runs: list[dict]) -> dict:
    """Verdict row for a `difference` claim: experiments [claimed better, claimed worse], classes, split."""
    better, worse = claim["experiments"]
    split, classes = claim.get("split", "test"), list(claim.get("classes") or []) or None

    def by_seed(experiment: str) -> dict:
        with_split = [r for r in runs if split in r["metrics"]]
        return {r["manifest"]["seed"]: r for r in seed_runs(with_split, experiment, claim["dataset"])}

    a, b = by_seed(better), by_seed(worse)
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return {"verdict": "not run", "why": f"no pair of full-budget runs of {better} and {worse} with one seed",
                "n": 0}
    values_a = np.array([class_recall(a[s]["metrics"], split, classes) for s in seeds])
    values_b = np.array([class_recall(b[s]["metrics"], split, classes) for s in seeds])
    diffs = values_a - values_b
    pairs = [discordant(a[s]["run_dir"], b[s]["run_dir"], split, classes) for s in seeds]
    p_images = [mcnemar_exact(bb, cc) for bb, cc in pairs]
    p_seeds = (float(stats.ttest_rel(values_a, values_b, alternative="greater").pvalue)
               if len(seeds) > 1 and np.ptp(diffs) > 0 else float("nan"))
    lo, hi = ci95(diffs)
    mean = float(diffs.mean())
    measure = f"mean recall of {'/'.join(classes)}" if classes else "accuracy"
    detail = (f"{better} − {worse}, {measure}: per seed "
              + ", ".join(f"s{s} {d:+.1f}" for s, d in zip(seeds, diffs))
              + f"; paired t over seeds p={p_seeds:.3g}; McNemar per seed p="
              + ", ".join(f"{p:.3g}" for p in p_images) + " (b/c " + ", ".join(f"{x}/{y}" for x, y in pairs) + ")")
    expected = recipe_seeds(better) | recipe_seeds(worse)
    if not expected <= set(seeds):
        judged = "inconclusive"
        detail = (f"{len(set(seeds) & expected)} of the recipes' {len(expected)} seeds paired "
                  f"(seeds {','.join(map(str, sorted(expected)))}); so far: " + detail)
    elif mean <= 0:
        judged = "not reproduced"
    elif p_seeds < ALPHA:
        judged = "reproduced"
    else:
        judged = "inconclusive"
        detail = "direction holds, within noise: " + detail
    return {"ours": mean, "ours_std": float(diffs.std(ddof=1)) if len(seeds) > 1 else float("nan"),
            "ours_ci95": f"[{lo:.2f}, {hi:.2f}]" if len(seeds) > 1 else "", "n": len(seeds), "gap": mean,
            "verdict": judged, "why": detail, "seeds": ",".join(map(str, seeds)),
            "runs": ";".join(str(r["run_dir"]) for s in seeds for r in (a[s], b[s]))}
