"""The papers' numbers against their own test sets: no training needed.

An accuracy of a classifier on n test images is k/n for an integer k. A published accuracy printed with
d decimals (in %) is *possible* for n when some k gives round(100 k / n, d) = value; an impossible one
means the stated test set is not the one the number came from (or a typo). For a claimed difference
between two models on the same n images:
  images    the difference in correctly classified test images, round(|Δ| n / 100);
  p_best    the exact McNemar p-value in the most favourable case: every image the two models disagree
            on goes the claimed way (b = images, c = 0): p = min(1, 2 · 0.5^images);
  mde_80    the smallest difference an unpaired two-proportion z-test detects with 80 % power at
            α = 0.05 (two-sided) at the paper's accuracy: (z_.975 + z_.8) · sqrt(2 p (1 - p) / n).
A difference is resolvable only if p_best < 0.05; below mde_80 it is within what a rerun can move.
Test-set sizes and the asserted orderings are data (fer_lib/claims/claims.yaml: test_sets, comparisons and the
pairs of claim_groups). Per-class rates and classification reports: fer_lib.study.rate_checks.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from fer_lib.claims import load_claims
from fer_lib.study.comparisons import mcnemar_exact

ALPHA, POWER = 0.05, 0.80


def is_possible(value: float, n: int, decimals: int = 2) -> bool:
    """Whether a percentage printed with `decimals` decimals can be k/n for an integer k."""
    half = 0.5 * 10 ** (-decimals) + 1e-9
    k = round(value * n / 100)
    return any(abs(100 * kk / n - value) <= half for kk in (k - 1, k, k + 1) if 0 <= kk <= n)


def possible_counts(value: float, n: int, decimals: int = 2) -> list[int]:
    """Every k with round(100 k / n, decimals) == value."""
    half = 0.5 * 10 ** (-decimals) + 1e-9
    k = round(value * n / 100)
    return [kk for kk in range(max(0, k - 2), min(n, k + 2) + 1) if abs(100 * kk / n - value) <= half]


def nearest_possible_n(value: float, n: int, decimals: int = 2, search: int = 200) -> int | None:
    """The test-set size closest to `n` for which `value` is possible (None within ±search)."""
    for delta in range(1, search + 1):
        for m in (n - delta, n + delta):
            if m > 0 and is_possible(value, m, decimals):
                return m
    return None


def mde_unpaired(accuracy_pct: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest detectable accuracy difference (points) for two independent proportions of size n."""
    p = accuracy_pct / 100
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return 100 * z * math.sqrt(2 * p * (1 - p) / n)


def asserted_orderings() -> list[tuple[str, str]]:
    """Every (better, worse) pair of claim ids a paper asserts: `comparisons`, then the ordering pairs of
    `claim_groups` (each pair once). A margin group's pair (`gain_of`, `over`: an insignificant gain) is no
    ordering and is not listed."""
    data = load_claims()
    pairs = [tuple(pair) for pair in data["comparisons"]]
    for group in data.get("claim_groups", []):
        pairs += [(b, w) for b in group.get("better", []) for w in group.get("worse", [])]
    return list(dict.fromkeys(pairs))


def _claims() -> tuple[dict, dict, list]:
    data = load_claims()
    return {c["id"]: c for c in data["claims"]}, data["test_sets"], asserted_orderings()


def _sizes(test_sets: dict, claim: dict) -> tuple[list[int], str]:
    entry = (test_sets.get(claim["paper"]) or {}).get(claim["dataset"]) or {}
    return list(entry.get("n") or []), entry.get("source", "")


def count_checks() -> pd.DataFrame:
    """Every published accuracy against each stated or implied test-set size: possible or not."""
    claims, test_sets, _ = _claims()
    rows = []
    for claim in claims.values():
        if claim["kind"] != "accuracy":
            continue
        sizes, source = _sizes(test_sets, claim)
        decimals = int(claim.get("decimals", 2))
        if not sizes:
            rows.append({"id": claim["id"], "paper": claim["paper"], "dataset": claim["dataset"],
                         "value": claim["value"], "decimals": decimals, "n": None, "possible": None,
                         "k": "", "nearest possible n": None, "n source": "test-set size not stated"})
            continue
        for n in sizes:
            ok = is_possible(float(claim["value"]), n, decimals)
            rows.append({"id": claim["id"], "paper": claim["paper"], "dataset": claim["dataset"],
                         "value": claim["value"], "decimals": decimals, "n": n, "possible": ok,
                         "k": "/".join(map(str, possible_counts(float(claim["value"]), n, decimals))),
                         "nearest possible n": None if ok else nearest_possible_n(float(claim["value"]), n, decimals),
                         "n source": source})
    return pd.DataFrame(rows)


def difference_checks() -> pd.DataFrame:
    """Every ordering a paper asserts between two of its accuracies: resolvable on its test set or not."""
    claims, test_sets, comparisons = _claims()
    rows = []
    for better_id, worse_id in comparisons:
        better, worse = claims[better_id], claims[worse_id]
        sizes, source = _sizes(test_sets, better)
        delta = float(better["value"]) - float(worse["value"])
        row = {"better": better_id, "worse": worse_id, "paper": better["paper"], "dataset": better["dataset"],
               "claimed Δ (points)": round(delta, 4)}
        if not sizes:
            rows.append({**row, "n": None, "Δ images": None, "McNemar p (best case)": None, "MDE 80% (points)": None,
                         "resolvable": "unknown: test-set size not stated"})
            continue
        n = sizes[0]
        images = int(round(abs(delta) * n / 100))
        p_best = mcnemar_exact(images, 0)
        mde = mde_unpaired(float(better["value"]), n)
        resolvable = "no" if p_best >= ALPHA else ("yes" if abs(delta) >= mde else "best case only")
        rows.append({**row, "n": n, "Δ images": images, "McNemar p (best case)": p_best,
                     "MDE 80% (points)": round(mde, 3), "resolvable": resolvable, "n source": source})
    table = pd.DataFrame(rows)
    table["McNemar p (best case)"] = table["McNemar p (best case)"].astype(float).map(
        lambda p: np.nan if p != p else float(f"{p:.3g}"))
    return table
