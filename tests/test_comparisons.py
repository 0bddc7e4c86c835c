"""Difference claims: paired over seeds and over test images, on worked numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fer_lib.study.claim_groups import judge_within, metrics_group_rows, summary_verdict
from fer_lib.study.comparisons import ci95, discordant, holm, judge_difference, mcnemar_exact

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


def test_holm_adjusts_p_values_as_the_hand_example():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 1 x 0.04) = 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])                 # capped at 1
    adjusted = holm([0.02, float("nan"), 0.01])                            # no test: NaN, not counted in m
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def test_summary_reads_mixed_when_member_verdicts_disagree():
    assert summary_verdict(["reproduced", "not reproduced", "reproduced"]) == "mixed"
    assert summary_verdict(["reproduced", "inconclusive"]) == "mixed"
    assert summary_verdict(["inconclusive", "not run", "inconclusive"]) == "inconclusive"
    assert summary_verdict(["not run", "not run"]) == "not run"
    assert summary_verdict(["reproduced"] * 3) == "reproduced"


def test_one_seed_a_side_is_inconclusive_whatever_the_sign(tmp_path):
    claim = {"id": "P", "paper": "P2", "kind": "difference", "dataset": "fer2013", "split": "test",
             "experiments": ["p2_lc2fer_c2", "p2_lc2fer_c3"]}          # P2's recipes run seed 0 only
    for better, worse in ((0.70, 0.60), (0.60, 0.70)):
        a = _run(tmp_path / str(better), "p2_lc2fer_c2", 0, [True, True, True], 0.5, 0.5)
        b = _run(tmp_path / str(better), "p2_lc2fer_c3", 0, [False, True, False], 0.5, 0.5)
        a["metrics"]["test"]["accuracy"], b["metrics"]["test"]["accuracy"] = better, worse
        row = judge_difference(claim, [a, b])
        assert row["verdict"] == "inconclusive" and row["why"].startswith("one seed a side")
        assert "McNemar per seed p=0.5" in row["why"]                 # b/c 2/0 on the four images


def test_an_insignificant_loss_is_judged_against_its_margin(tmp_path):
    claim = {**CLAIM, "classes": None}
    for losses, expected in (((0.5, 0.4, 0.6), "reproduced"), ((5.0, 5.5, 4.5), "not reproduced"),
                             ((1.0, 3.0, 2.0), "inconclusive")):
        runs = []
        for seed, loss in enumerate(losses):
            a = _run(tmp_path / expected, "p3_resnet50_weighted", seed, [True, True, True], 0.5, 0.5)
            b = _run(tmp_path / expected, "p3_resnet50_resampled", seed, [True, True, True], 0.5, 0.5)
            a["metrics"]["test"]["accuracy"], b["metrics"]["test"]["accuracy"] = 0.70, 0.70 - loss / 100
            runs += [a, b]
        assert judge_within(claim, runs, margin=2.0)["verdict"] == expected


def test_p3_claim_is_judged_per_metric_and_per_class_on_disgust_and_surprise():
    """On the committed P3 runs: a row per metric and per metric and class, Holm within each family."""
    from pathlib import Path
    from fer_lib.claims import load_claims
    from fer_lib.runs.select import real_runs

    group = next(g for g in load_claims()["claim_groups"] if g["id"] == "P3-weighted-better-rare")
    assert group["classes"] == ["Disgust", "Surprise"] and group["metrics"] == ["precision", "recall", "f1"]
    runs = real_runs(root=Path(__file__).resolve().parents[1] / "results" / "runs")
    rows = {r["id"]: r for r in metrics_group_rows(group, runs)}
    metric_rows = [f"P3-weighted-better-rare / {m}" for m in group["metrics"]]
    class_rows = [f"{m} / {c}" for m in metric_rows for c in group["classes"]]
    assert set(rows) == {"P3-weighted-better-rare", *metric_rows, *class_rows} and len(class_rows) == 6
    recall, f1 = rows["P3-weighted-better-rare / recall"], rows["P3-weighted-better-rare / f1"]
    assert "s0 -0.1, s1 -3.7, s2 +0.7" in recall["why"] and recall["verdict"] == "not reproduced"
    assert f1["ours"] == pytest.approx(5.2, abs=0.1) and f1["verdict"] == "reproduced"
    assert all(rows[r]["p_holm"] >= rows[r]["p_seeds"] for r in metric_rows + class_rows)
    assert "paired bootstrap over test images per seed" in f1["why"] and "McNemar" not in f1["why"]
    summary = rows["P3-weighted-better-rare"]
    assert summary["verdict"] == "mixed" and "not on recall" in summary["why"]
