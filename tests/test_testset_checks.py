"""Published accuracies as counts k/n of their test sets, and claimed differences against what n resolves."""

from __future__ import annotations

import pytest

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
    from fer_lib.claims.__init__ import load_claims

    accuracy = {c["id"] for c in load_claims()["claims"] if c["kind"] == "accuracy"}
    assert set(counts["id"]) == accuracy
    assert len(tc.difference_checks()) == len(load_claims()["comparisons"])
