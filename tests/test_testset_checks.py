"""Published accuracies as counts k/n of their test sets, and claimed differences against what n resolves."""

from __future__ import annotations

import pytest

from fer_lib.claims import load_claims
from fer_lib.claims.paper_tables import P3_TABLE1_REPORT
from fer_lib.study import rate_checks as rc
from fer_lib.study import testset_checks as tc


def test_possible_counts_on_worked_numbers():
    assert tc.possible_counts(97.56, 41) == [40] and tc.possible_counts(95.12, 41) == [39]
    assert not tc.is_possible(97.56, 22)                # one JAFFE subject (22 images) moves in 4.55-point steps
    assert tc.possible_counts(71.64, 3589) == [2571]    # P1 FER2013 on PrivateTest
    assert not tc.is_possible(72.97, 3068)              # 2238/3068 = 72.95, 2239/3068 = 72.98
    assert tc.nearest_possible_n(72.97, 3068) == 3067
    assert tc.possible_counts(55.0, 7178, decimals=0) == [3946, 3947, 3948, 3949, 3950]


def test_power_and_best_case_mcnemar_on_worked_numbers():
    # (1.959964 + 0.841621) * sqrt(2 * 0.7672 * 0.2328 / 2229) * 100
    assert tc.mde_unpaired(76.72, 2229) == pytest.approx(3.5467, abs=1e-3)
    table = tc.difference_checks().set_index(["better", "worse"])
    row = table.loc[("P1-acc-affectnet", "P1-acc-swint-affectnet")]
    assert row["Δ images"] == 5 and row["McNemar p (best case)"] == pytest.approx(0.0625)
    assert row["resolvable"] == "no"                    # 0.23 points on 2,229 images: not even in the best case
    assert table.loc[("P2-acc-C5-aug", "P2-acc-C5"), "resolvable"] == "yes"


def test_every_accuracy_claim_is_checked_and_every_comparison_names_real_claims():
    counts = tc.count_checks()
    accuracy = {c["id"] for c in load_claims()["claims"] if c["kind"] == "accuracy"}
    assert set(counts["id"]) == accuracy
    pairs = tc.asserted_orderings()
    assert len(tc.difference_checks()) == len(pairs) == len(set(pairs))
    assert ("P2-acc-C2", "P2-acc-C3") in pairs and ("P2-acc-C8", "P2-acc-C1") in pairs   # P2 §2.2 orderings


def test_rounded_and_truncated_readings_of_a_printed_rate():
    # 1/3 = 33.33 %: prints 33.3 rounded and truncated; 2/3 = 66.67 %: 66.7 rounded, 66.6 truncated
    assert rc.rate_counts(33.3, 3, 1, "rounded") == [1] == rc.rate_counts(33.3, 3, 1, "truncated")
    assert rc.rate_counts(66.7, 3, 1, "rounded") == [2] and rc.rate_counts(66.7, 3, 1, "truncated") == []
    assert rc.rate_counts(66.6, 3, 1, "truncated") == [2] and rc.rate_counts(66.6, 3, 1, "rounded") == []
    assert rc.rate_counts(95.3, 160, 1, "rounded") == [] and rc.rate_counts(95.0, 160, 1, "rounded") == [152]


def test_a_classification_report_with_an_impossible_cell_is_flagged():
    # support 10: recall 0.50 needs TP 5, precision 0.50 then FP 5, so F1 is 0.50, never 0.90
    assert rc.report_cells(0.50, 0.50, 0.50, 10, "rounded") == [(5, 5)]
    table = rc.report_checks({"A": (0.50, 0.50, 0.90, 10), "B": (0.50, 0.50, 0.50, 10)}).set_index("row")
    assert not table.loc["A", "possible (rounded)"] and not table.loc["A", "possible (truncated)"]
    assert table.loc["B", "possible (rounded)"] and table.loc["B", "TP (rounded)"] == "5"
    # P3 Table 1's Disgust row (support 111): only TP 57, FP 32 gives 0.64 / 0.51 / 0.57 rounded
    assert rc.report_cells(0.64, 0.51, 0.57, 111, "rounded") == [(57, 32)]
    assert rc.report_cells(0.64, 0.51, 0.57, 111, "truncated") == [(57, 31), (57, 32)]


def test_p3_table1_is_checked_cell_by_cell_and_as_a_whole():
    table = rc.report_checks().set_index("row")
    assert list(table.index[:7]) == list(P3_TABLE1_REPORT)
    assert {"all classes", "macro avg", "weighted avg"} <= set(table.index)
    assert table["possible (rounded)"].all()          # P3 Table 1 is possible when read rounded


def test_every_published_per_class_rate_is_checked_against_its_class_count(monkeypatch):
    monkeypatch.setattr(rc, "class_test_counts", lambda claim, data_dir=None: {
        "Disgust": 160 if claim["dataset"] == "rafdb" else 111, "Happy": 1185, "Angry": 162, "Surprise": 329})
    table = rc.class_rate_checks().set_index("id")
    assert {"P2-err-disgust-C5-aug", "P2-err-happy-C5-aug", "P2-err-anger-C5-aug", "P2-err-surprise-C5-aug",
            "P3-recall-disgust-weighted"} <= set(table.index)
    assert not table.loc["P2-err-disgust-C5-aug", "possible (rounded)"]    # no k/160 prints as 95.3 %
    assert table.loc["P3-recall-disgust-weighted", "k (rounded)"] == "57"   # 51 % of 111: 57 (51.35 %) only


def test_a_precision_near_zero_or_no_true_positive_is_bounded_by_the_test_set():
    # precision 0.01 does not bound FP (TP / 0 units): the class's outsiders do; it must not run for ever
    cells = rc.report_cells(0.01, 0.10, 0.02, 10, "rounded", others=200)
    assert cells and max(fp for _, fp in cells) <= 200
    with pytest.raises(ValueError):
        rc.report_cells(0.01, 0.10, 0.02, 10, "rounded")
    # TP = 0: precision and F1 are 0 whatever FP is, so every FP up to the outsiders is possible
    assert rc.report_cells(0.0, 0.0, 0.0, 5, "rounded", others=3) == [(0, 0), (0, 1), (0, 2), (0, 3)]


def test_the_whole_report_is_judged_per_reading():
    cells = {r: {c: rc.report_cells(p, rec, f, s, r, others=7178 - s) for c, (p, rec, f, s) in P3_TABLE1_REPORT.items()}
             for r in rc.READINGS}
    cells["truncated"]["Angry"] = []                                   # impossible under one reading only
    rows = {row["row"]: row for row in rc._whole_rows(cells)}
    assert rows["all classes"]["possible (rounded)"] and not rows["all classes"]["possible (truncated)"]
    assert "no counts for Angry" in rows["all classes"]["detail (truncated)"]


def test_readings_differ_means_possible_under_one_reading_only(monkeypatch):
    monkeypatch.setattr(rc, "class_test_counts", lambda claim, data_dir=None: {
        "Disgust": 160 if claim["dataset"] == "rafdb" else 111, "Happy": 1185, "Angry": 162, "Surprise": 329})
    happy = rc.class_rate_checks().set_index("id").loc["P2-err-happy-C5-aug"]
    assert happy["k (rounded)"] != happy["k (truncated)"]               # other counts, both possible
    assert happy["possible (rounded)"] and happy["possible (truncated)"] and not happy["readings differ"]
