"""Difference claims: paired over seeds and over test images, on worked numbers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_lib.claims import load_claims
from fer_lib.runs.select import real_runs
from fer_lib.study import verdicts
from fer_lib.study.claim_groups import (group_pairs, margin_tests, metrics_group_rows, pairs_group_rows,
                                        summary_verdict)
from fer_lib.study.comparisons import (ci95, decide, discordant, holm, judge_difference, mcnemar_exact,
                                       paired_difference, seeds_ready)
from fer_lib.study.measure import ModelMeasurer
from fer_lib.study.testset_checks import asserted_orderings

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


def _run(tmp_path, experiment: str, seed: int, right: list[bool], recall_d: float, recall_f: float,
         dataset: str = "fer2013") -> dict:
    run = tmp_path / experiment / f"s{seed}"
    run.mkdir(parents=True)
    labels = ["Disgust", "Fear", "Happy", "Disgust"]
    preds = pd.DataFrame({"index": [10, 11, 12, 13], "label": [1, 2, 3, 1],
                          "pred": [1 if right[0] else 0, 2 if right[1] else 0, 3, 1 if right[2] else 0],
                          "label_name": labels})
    preds.to_csv(run / "predictions_test.csv", index=False)
    manifest = {"experiment": experiment, "seed": seed, "dataset": {"name": dataset}, "epochs_run": 40,
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
    runs = []
    for seed in range(3):
        a = _run(tmp_path, "p3_resnet50_weighted", seed, [True, True, True], 0.6, 0.5)
        b = _run(tmp_path, "p3_resnet50_resampled", seed, [False, True, False], 0.4, 0.5)
        a["metrics"]["test"]["accuracy"], b["metrics"]["test"]["accuracy"] = 0.60 + 0.01 * seed, 0.55
        runs += [a, b]
    row = judge_difference({**CLAIM, "classes": None}, runs)
    assert row["ours"] == pytest.approx(100 * (0.61 - 0.55)) and "accuracy" in row["why"]
    assert row["verdict"] == "reproduced"
    orderings = {c["id"] for c in verdicts.ordering_claims()}
    owned = {frozenset(pair) for g in load_claims()["claim_groups"] if "metrics" not in g for pair in group_pairs(g)}
    assert orderings == {f"{b} > {w}" for b, w in load_claims()["comparisons"] if frozenset((b, w)) not in owned}
    table = verdicts.claims_table(ModelMeasurer(measure_speed=False), runs=[])
    by_id = table.set_index("id")
    assert by_id.loc["P1-acc-affectnet > P1-acc-swint-affectnet", "resolvable"] == "no"
    assert by_id.loc["P2-acc-C5-aug > P2-acc-C5", "claim_class"] == "difference"
    # no pair judged twice: C5 over C1-C3 only in the C4-C8 group, C5 vs C6 only as the margin claim
    assert "P2-acc-C5 > P2-acc-C1" not in by_id.index and "P2-acc-C5 > P2-acc-C6" not in by_id.index
    pairs = [(frozenset(i.split(": ", 1)[-1].replace(" − ", " > ").split(" > ")), " − " in i) for i in table["id"]
             if " > " in i or " − " in i]                          # (pair, margin test or ordering)
    assert len(pairs) == len(set(pairs))
    assert set(table["role"]) == {"claim", "member"} and table["role"].notna().all()
    groups = load_claims()["claim_groups"]
    assert (table["role"] == "claim").sum() == len(load_claims()["claims"]) + len(orderings) + len(groups)
    assert f"{(table['role'] == 'claim').sum()}" == str(sum(int(n.split()[0]) for n in
                                                            verdicts.headline(table).split("; ")))
    assert verdicts.summarise(table).to_numpy().sum() == (table["role"] == "claim").sum()


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
        assert decide(*margin_tests(paired_difference(claim, runs)["diffs"], 2.0)) == expected


def _p2_runs(tmp_path, gaps: dict[str, tuple]) -> list[dict]:
    """Three seeds of P2 experiments on RAF-DB with test accuracy 70 % + gap (points) per seed."""
    runs = []
    for experiment, gap in gaps.items():
        for seed, g in enumerate(gap):
            run = _run(tmp_path, experiment, seed, [True, True, True], 0.5, 0.5, dataset="rafdb")
            run["metrics"]["test"]["accuracy"] = (70.0 + g) / 100
            runs.append(run)
    return runs


def _group(group_id: str) -> dict:
    return next(g for g in load_claims()["claim_groups"] if g["id"] == group_id)


def test_no_benefit_is_non_superiority_not_an_ordering(tmp_path):
    """'Doubling the channels (C3) brings no benefit': C3 - C2 below the margin, not C2 strictly above C3."""
    group = _group("P2-C3-no-benefit")
    assert group_pairs(group) == [("P2-acc-C3", "P2-acc-C2")] and group["within"] == 2.0
    runs = _p2_runs(tmp_path, {"p2_lc2fer_c2": (0.0, 0.0, 0.0), "p2_lc2fer_c3": (0.3, -0.2, 0.1)})  # C3 ≈ C2
    summary, member = pairs_group_rows(group, runs, {})
    assert member["verdict"] == "reproduced" and "below the 2-point margin" in member["why"]
    assert "±" not in member["why"] and summary["verdict"] == "reproduced" and member["role"] == "member"
    # margin pairs are no asserted ordering (the McNemar 'resolvable' table), nor C7 vs C5 ('not higher')
    listed = {frozenset(p) for p in asserted_orderings()}
    assert not listed & {frozenset(("P2-acc-C5", "P2-acc-C6")), frozenset(("P2-acc-C5", "P2-acc-C7"))}
    assert frozenset(("P2-acc-C3", "P2-acc-C2")) in listed        # the C2-best-of-C1-C3 ordering asserts it


def test_pairs_of_a_group_are_holm_corrected(tmp_path):
    """Two pairs each at one-sided p = 0.037: each alone reproduced, Holm across the group's pairs 0.074."""
    group = _group("P2-C2-best-of-C1-C3")
    runs = _p2_runs(tmp_path, {"p2_lc2fer_c2": (1.0, 2.0, 3.0), "p2_lc2fer_c1": (0.0, 0.0, 0.0),
                               "p2_lc2fer_c3": (0.0, 0.0, 0.0)})
    summary, *members = pairs_group_rows(group, runs, {})
    assert all(m["p_seeds"] == pytest.approx(0.0377, abs=1e-3) for m in members)
    assert all(m["p_holm"] == pytest.approx(2 * m["p_seeds"]) and m["verdict"] == "inconclusive" for m in members)
    assert summary["verdict"] == "inconclusive"


def test_a_difference_against_the_claim_is_refuted_only_when_the_opposite_is_significant(tmp_path):
    claim = {**CLAIM, "classes": None}
    for gaps, expected, why in (((-1.0, 0.5, -2.0), "inconclusive", "the claimed direction does not hold, but the "
                                 "opposite is not significant either"), ((-1.0, -2.0, -3.0), "not reproduced", "")):
        runs = []
        for seed, gap in enumerate(gaps):
            a = _run(tmp_path / expected, "p3_resnet50_weighted", seed, [True, True, True], 0.5, 0.5)
            b = _run(tmp_path / expected, "p3_resnet50_resampled", seed, [True, True, True], 0.5, 0.5)
            a["metrics"]["test"]["accuracy"], b["metrics"]["test"]["accuracy"] = 0.70 + gap / 100, 0.70
            runs += [a, b]
        row = judge_difference(claim, runs)
        assert row["verdict"] == expected and row["why"].startswith(why)


def test_seeds_ready_says_what_is_missing_without_judging():
    p2 = ["p2_lc2fer_c2", "p2_lc2fer_c3"]
    assert seeds_ready([0], p2).startswith("one seed a side") and seeds_ready([0, 1, 2], p2) is None
    assert seeds_ready([0, 1], CLAIM["experiments"]).startswith("2 of the recipes' 3 seeds paired")


def test_headline_and_summary_count_claim_rows_only():
    table = pd.DataFrame({"id": ["A", "G", "G / x", "G / x / c"], "paper": "P3", "claim_class": "difference",
                          "role": ["claim", "claim", "member", "breakdown"],
                          "verdict": ["reproduced", "mixed", "reproduced", "reproduced"]})
    assert verdicts.headline(table).startswith("2 difference claims: 1 reproduced, 1 mixed")
    assert int(verdicts.summarise(table).to_numpy().sum()) == 2


def test_p3_claim_is_judged_per_metric_and_per_class_on_disgust_and_surprise():
    """On the committed P3 runs: a row per metric and per metric and class, Holm within each family."""
    group = next(g for g in load_claims()["claim_groups"] if g["id"] == "P3-weighted-better-rare")
    assert group["classes"] == ["Disgust", "Surprise"] and group["metrics"] == ["precision", "recall", "f1"]
    runs = real_runs(root=Path(__file__).resolve().parents[1] / "results" / "runs")
    rows = {r["id"]: r for r in metrics_group_rows(group, runs)}
    metric_rows = [f"P3-weighted-better-rare / {m}" for m in group["metrics"]]
    class_rows = [f"{m} / {c}" for m in metric_rows for c in group["classes"]]
    assert set(rows) == {"P3-weighted-better-rare", *metric_rows, *class_rows} and len(class_rows) == 6
    recall, f1 = rows["P3-weighted-better-rare / recall"], rows["P3-weighted-better-rare / f1"]
    # recall's mean difference is negative but the opposite direction is not significant either: inconclusive
    assert "s0 -0.1, s1 -3.7, s2 +0.7" in recall["why"] and recall["verdict"] == "inconclusive"
    assert recall["why"].startswith("the claimed direction does not hold, but the opposite is not significant")
    assert f1["ours"] == pytest.approx(5.2, abs=0.1) and f1["verdict"] == "reproduced"
    assert all(rows[r]["p_holm"] >= rows[r]["p_seeds"] for r in metric_rows + class_rows)
    assert "paired bootstrap over test images per seed" in f1["why"] and "McNemar" not in f1["why"]
    summary = rows["P3-weighted-better-rare"]
    assert summary["verdict"] == "mixed" and "recall: inconclusive" in summary["why"]
    assert summary["role"] == "claim" and recall["role"] == "member"
    assert rows["P3-weighted-better-rare / recall / Disgust"]["role"] == "breakdown"
