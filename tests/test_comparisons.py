"""Difference claims: paired over seeds and over test images, on worked numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fer_lib.study.comparisons import ci95, discordant, judge_difference, mcnemar_exact

CLAIM = {"id": "D", "paper": "P3", "kind": "difference", "dataset": "fer2013", "split": "test",
         "experiments": ["p3_resnet50_weighted", "p3_resnet50_resampled"], "classes": ["Disgust", "Fear"]}


def test_mcnemar_and_interval_on_worked_numbers():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(6, 0) == pytest.approx(2 * 0.5 ** 6)          # all six disagreements one way
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(10, 2) == pytest.approx(0.0385742, abs=1e-6)  # 2 * P(X <= 2), X ~ Bin(12, 1/2)
    lo, hi = ci95([1.0, 2.0, 3.0])
    assert (lo + hi) / 2 == pytest.approx(2.0) and hi - 2.0 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert all(math.isnan(v) for v in ci95([1.0]))


def _run(tmp_path, experiment: str, seed: int, right: list[bool], recall_d: float, recall_f: float) -> dict:
    run = tmp_path / experiment / f"s{seed}"
    run.mkdir(parents=True)
    labels = ["Disgust", "Fear", "Happy", "Disgust"]
    preds = pd.DataFrame({"index": [10, 11, 12, 13], "label": [1, 2, 3, 1],
                          "pred": [1 if right[0] else 0, 2 if right[1] else 0, 3, 1 if right[2] else 0],
                          "label_name": labels})
    preds.to_csv(run / "predictions_test.csv", index=False)
    manifest = {"experiment": experiment, "seed": seed, "dataset": {"name": "fer2013"}, "epochs_run": 40,
                "epochs": 40, "epochs_override": None, "recipe_epochs": 40, "finished": "2026"}
    metrics = {"test": {"per_class": {"Disgust": {"recall": recall_d}, "Fear": {"recall": recall_f}}}}
    return {"manifest": manifest, "metrics": metrics, "run_dir": run}


def test_difference_claim_paired_over_seeds_and_images(tmp_path):
    runs = []
    for seed, (wd, rd) in enumerate([(0.60, 0.40), (0.62, 0.41), (0.58, 0.45)]):
        runs.append(_run(tmp_path, "p3_resnet50_weighted", seed, [True, True, True], wd, 0.5))
        runs.append(_run(tmp_path, "p3_resnet50_resampled", seed, [False, True, False], rd, 0.5))
    assert discordant(runs[0]["run_dir"], runs[1]["run_dir"], "test", ["Disgust", "Fear"]) == (2, 0)
    row = judge_difference(CLAIM, runs)
    assert row["n"] == 3 and row["seeds"] == "0,1,2"
    assert row["ours"] == pytest.approx(np.mean([10.0, 10.5, 6.5]))  # mean of the two classes' recall gaps
    assert row["verdict"] == "reproduced" and "McNemar" in row["why"]
    flipped = judge_difference({**CLAIM, "experiments": CLAIM["experiments"][::-1]}, runs)
    assert flipped["verdict"] == "not reproduced"
    assert judge_difference(CLAIM, runs[:2])["verdict"] == "inconclusive"  # one seed: no test over seeds
    assert judge_difference(CLAIM, [])["verdict"] == "not run"


def test_difference_waits_for_every_recipe_seed(tmp_path):
    """Two of the recipes' three seeds: no verdict either way, the numbers so far shown (as accuracy claims)."""
    runs = []
    for seed, (wd, rd) in enumerate([(0.40, 0.60), (0.41, 0.62)]):  # the claimed direction fails on both
        runs.append(_run(tmp_path, "p3_resnet50_weighted", seed, [True, True, True], wd, 0.5))
        runs.append(_run(tmp_path, "p3_resnet50_resampled", seed, [False, True, False], rd, 0.5))
    row = judge_difference(CLAIM, runs)
    assert row["verdict"] == "inconclusive" and row["n"] == 2
    assert row["why"].startswith("2 of the recipes' 3 seeds paired (seeds 0,1,2); so far:")
    assert row["ours"] == pytest.approx(np.mean([-20.0, -21.0]) / 2)


def test_accuracy_difference_without_classes_and_every_ordering_is_a_claim(tmp_path):
    from fer_lib.study import verdicts
    from fer_lib.claims import load_claims
    from fer_lib.study.measure import ModelMeasurer

    runs = []
    for seed in range(3):
        a = _run(tmp_path, "p3_resnet50_weighted", seed, [True, True, True], 0.6, 0.5)
        b = _run(tmp_path, "p3_resnet50_resampled", seed, [False, True, False], 0.4, 0.5)
        a["metrics"]["test"]["accuracy"], b["metrics"]["test"]["accuracy"] = 0.60 + 0.01 * seed, 0.55
        runs += [a, b]
    row = judge_difference({**CLAIM, "classes": None}, runs)
    assert row["ours"] == pytest.approx(100 * (0.61 - 0.55)) and "accuracy" in row["why"]
    assert row["verdict"] == "reproduced"
    orderings = verdicts.ordering_claims()
    assert len(orderings) == len(load_claims()["comparisons"])
    table = verdicts.claims_table(ModelMeasurer(measure_speed=False), runs=[]).set_index("id")
    assert table.loc["P1-acc-affectnet > P1-acc-swint-affectnet", "resolvable"] == "no"
    assert table.loc["P2-acc-C5-aug > P2-acc-C5", "claim_class"] == "difference"
