"""How much a run-based claim's number depends on train/test duplicates: the same runs' recorded predictions
scored again without the test images that have a train (near-)duplicate or a conflicting-label twin
(fer_lib.data.audit). A sensitivity figure shown beside the verdict (cleaned − official, in points), not a
second verdict: the paper's number was measured on the official test set, and so is ours that is judged.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from fer_lib.data import audit
from fer_lib.data.explore import try_load
from fer_lib.engine.metrics import compute_metrics
from fer_lib.study.judging import claim_metric, images_behind

CLEANED_VIEW = "cleaned (both)"   # fer_lib.data.audit.test_subsets: no train (near-)duplicate, no conflicting label


@lru_cache(maxsize=8)
def test_subsets(dataset: str, data_dir: str | None) -> dict[str, frozenset[int]] | str:
    """Each cleaned view's left-out test images of a dataset (fer_lib.data.audit.test_subsets), computed once
    per process (the audit hashes every image), or why the dataset cannot be audited here."""
    ds, why = try_load(dataset, data_dir)
    if ds is None:
        return f"needs the {dataset} images for the audit ({why})"
    return {name: frozenset(left_out) for name, left_out in audit.test_subsets(ds, audit.audit_dataset(ds)).items()}


def cleaned_exclusions(dataset: str, data_dir: str | None) -> frozenset[int] | str:
    """Dataset indices of the test images the cleaned view leaves out (a train (near-)duplicate or a
    conflicting-label duplicate), or why they cannot be known here."""
    subsets = test_subsets(dataset, data_dir)
    return subsets if isinstance(subsets, str) else subsets[CLEANED_VIEW]


def metric_on_predictions(run: dict, claim: dict, excluded: frozenset[int] = frozenset()) -> tuple[float | None, int]:
    """(the claim's metric, images scored) recomputed from a run's recorded predictions on the claim's
    split, leaving out the `excluded` dataset indices; (None, 0) when the run recorded no predictions."""
    value, images, _ = _scored(run, claim, excluded)
    return value, images


def _scored(run: dict, claim: dict, excluded: frozenset[int]) -> tuple[float | None, int, int | None]:
    """metric_on_predictions plus the images behind the number: the class's support left for per-class kinds."""
    path = Path(run["run_dir"]) / f"predictions_{claim.get('split', 'test')}.csv"
    if not path.exists():
        return None, 0, None
    preds = pd.read_csv(path, usecols=["index", "label", "pred"])
    preds = preds[~preds["index"].isin(excluded)]
    metrics = compute_metrics(preds["label"].to_numpy(), preds["pred"].to_numpy(),
                              run["manifest"]["dataset"]["class_names"], n_bootstrap=0)
    return claim_metric({claim.get("split", "test"): metrics}, claim), len(preds), images_behind(metrics, claim)


def cleaned_columns(claim: dict, chosen: list[dict], official: float, data_dir=None) -> dict:
    """The claim's metric on the cleaned test set (the same runs, mean over seeds), its difference from the
    official mean `official` (cleaned_delta, points) and the images left; cleaned_note says why it is missing."""
    excluded = cleaned_exclusions(claim["dataset"], None if data_dir is None else str(data_dir))
    if isinstance(excluded, str):
        return {"cleaned_note": excluded}
    scored = [_scored(r, claim, excluded) for r in chosen]
    if any(value is None for value, _, _ in scored):
        return {"cleaned_note": "a run without recorded predictions"}
    by_seed: dict = {}
    for run, (value, _, _) in zip(chosen, scored):
        by_seed.setdefault(run["manifest"]["seed"], []).append(value)
    mean = float(np.mean([np.mean(values) for values in by_seed.values()]))
    behind = f", {scored[0][2]} of them of the class" if claim["kind"] in ("recall", "class_error") else ""
    return {"ours_cleaned": mean, "cleaned_delta": mean - official, "test_images_cleaned": scored[0][1],
            "cleaned_note": f"sensitivity, not a verdict: {scored[0][1]} test images left{behind}"}
