"""A claim that one variant beats another on named classes under several metrics at once, one difference row per
metric and per class (P3's conclusion: the class-weighted model "showed superiority, especially on the classes
with few samples such as disgust and surprise", read on "precision, recall and F1-score").

Rows of one claim (a claims.yaml `claim_groups` entry with `metrics` and `classes`):
  <id> / <metric>            the metric's mean over the named classes, better − worse, per seed (points)
  <id> / <metric> / <class>  the metric on one class
The test of each row is a one-sided paired t over the recipe's seeds (scipy.stats.ttest_rel,
alternative='greater'). Holm's correction (comparisons.holm) runs across the metrics of the claim (the combined
rows: one family) and, apart, across its per-class rows (a second family), for the claimed direction and for the
opposite one each; each row's verdict follows comparisons.difference_verdict on its Holm-adjusted p-values.
McNemar counts images, not a mean of per-class rates, so it is not used here: each seed's paired bootstrap over
test images goes in `why` instead (the same resampled test images scored for both runs, BOOTSTRAP_DRAWS draws; the 95 % percentile interval of that seed's
difference and the share of draws at or below zero).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fer_lib.study.comparisons import difference_verdict, holm, paired_seed_runs, paired_t, spread_columns

BOOTSTRAP_DRAWS = 1000
METRIC_NAMES = {"precision": "precision", "recall": "recall", "f1": "F1"}


def _rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall and F1 (in %) from counts, 0 where undefined (scikit-learn's zero_division=0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {"precision": tp / (tp + fp), "recall": tp / (tp + fn), "f1": 2 * tp / (2 * tp + fp + fn)}
    return {name: 100 * np.nan_to_num(value) for name, value in out.items()}


def bootstrap_differences(run_a: dict, run_b: dict, split: str, classes: list[str],
                          draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> dict[tuple, np.ndarray]:
    """{(metric, class or None for the mean over `classes`): `draws` bootstrap values of A − B (points)}: the test
    images resampled with replacement, the same draw scored for both runs (paired)."""
    frames = [pd.read_csv(Path(r["run_dir"]) / f"predictions_{split}.csv", usecols=["index", "label", "pred"])
              for r in (run_a, run_b)]
    if not frames[0]["index"].equals(frames[1]["index"]):
        raise ValueError(f"{run_a['run_dir']} and {run_b['run_dir']} were evaluated on different images")
    names = list(run_a["manifest"]["dataset"]["class_names"])
    ids = [names.index(c) for c in classes]
    n = len(frames[0])
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=draws).astype(np.float64)
    columns = []
    for frame in frames:
        y, p = frame["label"].to_numpy(), frame["pred"].to_numpy()
        columns += [m for c in ids for m in ((y == c) & (p == c), (y != c) & (p == c), (y == c) & (p != c))]
    counts = (weights @ np.stack(columns, axis=1).astype(np.float64)).reshape(draws, 2, len(ids), 3)
    rates = _rates(counts[..., 0], counts[..., 1], counts[..., 2])   # each (draws, 2 runs, classes)
    out = {}
    for metric, value in rates.items():
        diff = value[:, 0, :] - value[:, 1, :]
        out[(metric, None)] = diff.mean(axis=1)
        out.update({(metric, c): diff[:, k] for k, c in enumerate(classes)})
    return out


def _recorded(run: dict, split: str, metric: str, classes: list[str]) -> float:
    """The metric (in %) of a run's recorded metrics.json, averaged over `classes`."""
    per_class = run["metrics"][split]["per_class"]
    return 100.0 * float(np.mean([per_class[c][metric] for c in classes]))


def _bootstrap_text(boots: list[np.ndarray], seeds: list) -> str:
    parts = []
    for s, values in zip(seeds, boots):
        lo, hi = np.percentile(values, [2.5, 97.5])
        share = float(np.mean(values <= 0))
        parts.append(f"s{s} [{lo:+.1f}, {hi:+.1f}] p" + (f"<{1 / len(values):.3g}" if share == 0 else f"={share:.3g}"))
    return f"paired bootstrap over test images per seed (B={BOOTSTRAP_DRAWS}, 95% interval, share ≤ 0): " + "; ".join(parts)


def metric_difference_rows(group: dict, runs: list[dict]) -> list[dict]:
    """One difference row per metric (mean over the group's classes) and per metric and class, with raw and
    Holm-adjusted one-sided paired-t p-values and a verdict each; [] without paired runs."""
    split, classes, experiments = group.get("split", "test"), list(group["classes"]), group["experiments"]
    seeds, a, b = paired_seed_runs(runs, experiments, group["dataset"], split)
    if not seeds:
        return []
    boots = [bootstrap_differences(a[s], b[s], split, classes) for s in seeds]
    keys = [(m, None) for m in group["metrics"]] + [(m, c) for m in group["metrics"] for c in classes]
    rows = []
    for metric, cls in keys:
        chosen = [cls] if cls else classes
        values_a = np.array([_recorded(a[s], split, metric, chosen) for s in seeds])
        values_b = np.array([_recorded(b[s], split, metric, chosen) for s in seeds])
        diffs = values_a - values_b
        measure = f"{METRIC_NAMES[metric]} of {cls}" if cls else f"mean {METRIC_NAMES[metric]} of {'/'.join(classes)}"
        rows.append({"id": f"{group['id']} / {metric}" + (f" / {cls}" if cls else ""), "family": "class" if cls else "metric",
                     "metric": f"difference ({measure})", "p_seeds": paired_t(values_a, values_b), "diffs": diffs,
                     "p_opposite": paired_t(values_b, values_a),
                     "detail": (f"{experiments[0]} − {experiments[1]}, {measure}: per seed "
                                + ", ".join(f"s{s} {d:+.1f}" for s, d in zip(seeds, diffs))),
                     "boot": _bootstrap_text([boot[(metric, cls)] for boot in boots], seeds)})
    for family in ("metric", "class"):
        members = [r for r in rows if r["family"] == family]
        for row, adjusted, opposite in zip(members, holm([r["p_seeds"] for r in members]),
                                           holm([r["p_opposite"] for r in members])):
            row["p_holm"], row["p_opposite_holm"] = float(adjusted), float(opposite)
    run_dirs = ";".join(str(r["run_dir"]) for s in seeds for r in (a[s], b[s]))
    return [_judged(row, seeds, experiments, run_dirs) for row in rows]


def _judged(row: dict, seeds: list, experiments: list[str], run_dirs: str) -> dict:
    """A metric or per-class row's verdict on its Holm-adjusted p-values (both directions), with its `why`."""
    family = "the claim's metrics" if row["family"] == "metric" else "its per-class rows"
    judged, prefix = difference_verdict(seeds, experiments, float(row["diffs"].mean()), row["p_holm"],
                                        row["p_opposite_holm"])
    why = (f"{prefix}{row['detail']}; paired t over seeds p={row['p_seeds']:.3g}, Holm across {family} "
           f"p={row['p_holm']:.3g} (opposite direction: p={row['p_opposite_holm']:.3g}); {row['boot']}")
    return {"id": row["id"], "metric": row["metric"], **spread_columns(row["diffs"]), "verdict": judged, "why": why,
            "p_seeds": row["p_seeds"], "p_holm": row["p_holm"], "seeds": ",".join(map(str, seeds)), "runs": run_dirs,
            "family": row["family"]}

