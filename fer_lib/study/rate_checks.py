"""Published per-class rates and classification reports against the test sets they were computed on.

A per-class rate (recall, error rate) of a class with n test images is k/n for an integer k. A classification
report (precision, recall, F1 and support per class) is possible only if for every class integer counts exist,
true positives TP <= support s, false positives FP >= 0 and false negatives FN = s - TP, with
    precision TP / (TP + FP),  recall TP / s,  F1 2 TP / (2 TP + FP + FN)
each matching the printed value; and, over all classes together, the predictions sum to the test images
(sum of TP + FP = sum of supports, each image being predicted once) with the accuracy sum TP / N matching.
The macro and weighted averages are checked as intervals: the range each can take over every class's possible
counts must meet the printed value (a necessary condition).

Rounding assumption. A printed number with d decimals is read two ways, and both are reported where they differ:
  rounded    the true value rounds to it: |x - v| <= half a unit of the last digit (a tie either way);
  truncated  the true value was cut after d decimals: v <= x < v + one unit of the last digit.
scikit-learn's classification_report rounds, so "rounded" is the expected reading of P3 Table 1.
`readings differ` (both tables) is True where the two readings disagree on whether the number is possible at all
(possible under one, impossible under the other); the counts each reading allows are shown beside.
Counts come from the loader (the experiment's test split), never typed; P3 Table 1's supports are the paper's.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fer_lib.claims import load_claims
from fer_lib.claims.paper_tables import P3_TABLE1_AVERAGES, P3_TABLE1_REPORT, P3_TABLE1_SUMMARY
from fer_lib.config import load_config
from fer_lib.data.explore import try_load
from fer_lib.data.splits import split_indices

READINGS = ("rounded", "truncated")


def matches(num: int, den: int, printed: float, decimals: int, reading: str) -> bool:
    """Whether num/den prints as `printed` with `decimals` decimals under `reading` (exact integer arithmetic)."""
    scale = 10 ** decimals
    q = round(printed * scale)
    gap = num * scale - q * den            # (x - v) * scale * den
    if reading == "rounded":
        return 2 * abs(gap) <= den
    return 0 <= gap < den


def rate_counts(value_pct: float, n: int, decimals: int, reading: str) -> list[int]:
    """Every k in 0..n with 100 k / n printing as `value_pct` (in %) under `reading`."""
    centre = value_pct * n / 100
    span = n * 10 ** (-decimals) / 100 + 1
    return [k for k in range(max(0, math.floor(centre - span)), min(n, math.ceil(centre + span)) + 1)
            if matches(100 * k, n, value_pct, decimals, reading)]


def _ranges(ks: list[int]) -> str:
    return "" if not ks else (str(ks[0]) if len(ks) == 1 else f"{ks[0]}–{ks[-1]}")


def class_test_counts(claim: dict, data_dir=None) -> dict[str, int] | str:
    """{class: test images} of a claim's dataset under its experiment's split, from the loader, or why not."""
    ds, why = try_load(claim["dataset"], None if data_dir is None else str(data_dir))
    if ds is None:
        return f"needs the {claim['dataset']} images ({why})"
    spec = load_config(claim["experiment"], "full")["data"]["splits"]
    test = split_indices(ds, spec, seed=0)[claim.get("split", "test")]
    counts = np.bincount(ds.labels[test], minlength=ds.num_classes)
    return {c: int(k) for c, k in zip(ds.class_names, counts)}


def class_rate_checks(data_dir=None) -> pd.DataFrame:
    """Every published per-class rate (claims of kind recall / class_error) against its class's test count."""
    rows = []
    for claim in load_claims()["claims"]:
        if claim["kind"] not in ("recall", "class_error"):
            continue
        counts = class_test_counts(claim, data_dir)
        decimals = int(claim.get("decimals", 1))
        row = {"id": claim["id"], "paper": claim["paper"], "dataset": claim["dataset"], "class": claim["class"],
               "rate": claim["kind"], "value": claim["value"], "decimals": decimals}
        if isinstance(counts, str):
            rows.append({**row, "n": None, "n source": counts})
            continue
        n = counts[claim["class"]]
        ks = {reading: rate_counts(float(claim["value"]), n, decimals, reading) for reading in READINGS}
        rows.append({**row, "n": n, "n source": f"loader: {claim['dataset']} test split of {claim['experiment']}",
                     **{f"possible ({r})": bool(ks[r]) for r in READINGS},
                     **{f"k ({r})": _ranges(ks[r]) for r in READINGS},
                     "readings differ": bool(ks["rounded"]) != bool(ks["truncated"])})
    return pd.DataFrame(rows)


def report_cells(precision: float, recall: float, f1: float, support: int, reading: str,
                 decimals: int = 2, others: int | None = None) -> list[tuple[int, int]]:
    """Every (TP, FP) giving the printed precision, recall and F1 (fractions) of a class with `support` images;
    `others`: the test images outside the class, the most false positives there can be (needed where the printed
    precision does not bound FP: within one unit of 0, or TP = 0)."""
    cells = []
    for tp in range(support + 1):
        if not matches(tp, support, recall, decimals, reading):
            continue
        fn = support - tp
        top = _fp_bound(tp, precision, decimals, others)
        if tp == 0:        # precision is 0 (zero_division=0) for any FP, and F1 is 0 too
            zero = matches(0, 1, precision, decimals, reading) and matches(0, 1, f1, decimals, reading)
            cells += [(0, fp) for fp in range(top + 1)] if zero else []
            continue
        unit = 10 ** -decimals           # TP / (TP + FP) within a unit of the printed precision
        lo = math.floor(tp / (precision + unit)) - tp - 1
        for fp in range(max(0, lo), top + 1):
            if matches(tp, tp + fp, precision, decimals, reading) and matches(2 * tp, 2 * tp + fp + fn, f1, decimals, reading):
                cells.append((tp, fp))
    return cells


def _fp_bound(tp: int, precision: float, decimals: int, others: int | None) -> int:
    """The most false positives worth trying: what the printed precision allows, never beyond `others`."""
    unit = 10 ** -decimals
    if tp > 0 and precision - unit > 0:
        bound = math.ceil(tp / (precision - unit)) - tp + 1
        return bound if others is None else min(bound, others)
    if others is None:
        raise ValueError("the printed precision does not bound the false positives here: pass `others`, the test "
                         "images outside the class")
    return others


def _reachable(cells: list[list[tuple[int, int]]]) -> tuple[np.ndarray, int, int]:
    """Which (predicted total, TP total) sums the classes' possible cells reach: a boolean grid and its origin."""
    pred_lo = sum(min(tp + fp for tp, fp in c) for c in cells)
    tp_lo = sum(min(tp for tp, _ in c) for c in cells)
    shape = (sum(max(tp + fp for tp, fp in c) for c in cells) - pred_lo + 1,
             sum(max(tp for tp, _ in c) for c in cells) - tp_lo + 1)
    grid = np.zeros(shape, dtype=bool)
    grid[0, 0] = True
    for c in cells:
        base_p, base_t = min(tp + fp for tp, fp in c), min(tp for tp, _ in c)
        new = np.zeros_like(grid)
        for dp, dt in {(tp + fp - base_p, tp - base_t) for tp, fp in c}:
            new[dp:, dt:] |= grid[:shape[0] - dp, :shape[1] - dt]
        grid = new
    return grid, pred_lo, tp_lo


def _interval_meets(lo: float, hi: float, printed: float, decimals: int, reading: str) -> bool:
    unit = 10 ** -decimals
    low, high = (printed - unit / 2, printed + unit / 2) if reading == "rounded" else (printed, printed + unit)
    return lo <= high + 1e-12 and hi >= low - 1e-12


def _whole_report(cells: dict, reading: str) -> dict:
    """Over all classes: predictions summing to N with the accuracy matching; macro / weighted averages as ranges."""
    supports = {c: row[3] for c, row in P3_TABLE1_REPORT.items()}
    n = sum(supports.values())
    grid, pred_lo, tp_lo = _reachable(list(cells.values()))
    tps = [tp_lo + t for t in np.flatnonzero(grid[n - pred_lo])] if 0 <= n - pred_lo < grid.shape[0] else []
    accuracy = [t for t in tps if matches(t, n, P3_TABLE1_SUMMARY["accuracy"], 2, reading)]
    out = {"all classes": (bool(accuracy), f"ΣTP {_ranges(accuracy)} of {n} (accuracy {P3_TABLE1_SUMMARY['accuracy']})")}
    rates = {c: [(tp / (tp + fp) if tp + fp else 0.0, tp / supports[c], 2 * tp / (2 * tp + fp + supports[c] - tp))
                 for tp, fp in cell] for c, cell in cells.items()}
    for name, printed in P3_TABLE1_AVERAGES.items():
        weight = {c: (1 / len(cells) if name == "macro avg" else supports[c] / n) for c in cells}
        ok = []
        for j, value in enumerate(printed):
            lo = sum(weight[c] * min(r[j] for r in rates[c]) for c in cells)
            hi = sum(weight[c] * max(r[j] for r in rates[c]) for c in cells)
            ok.append(_interval_meets(lo, hi, value, 2, reading))
        out[name] = (all(ok), "precision/recall/F1 " + "/".join("ok" if o else "impossible" for o in ok))
    return out


def report_checks(report: dict | None = None) -> pd.DataFrame:
    """P3 Table 1 (or `report`: {class: (precision, recall, F1, support)}) cell by cell under both readings, then
    the whole report (class rows of P3 Table 1 only)."""
    report = report or P3_TABLE1_REPORT
    total = sum(row[3] for row in report.values())
    rows, cells = [], {}
    for cls, (p, r, f, s) in report.items():
        row = {"row": cls, "precision": p, "recall": r, "F1": f, "support": s}
        for reading in READINGS:
            found = report_cells(p, r, f, s, reading, others=total - s)
            cells.setdefault(reading, {})[cls] = found
            row.update({f"possible ({reading})": bool(found),
                        f"TP ({reading})": _ranges(sorted({tp for tp, _ in found})),
                        f"FP ({reading})": _ranges(sorted({fp for _, fp in found}))})
        rows.append(row)
    if report is P3_TABLE1_REPORT:
        rows += _whole_rows(cells)
    table = pd.DataFrame(rows)
    table["readings differ"] = table["possible (rounded)"] != table["possible (truncated)"]
    return table


def _whole_rows(cells: dict) -> list[dict]:
    """The whole-report rows, each reading judged on its own: a reading with an impossible class row makes the
    whole report impossible under it, without hiding the other reading's check."""
    whole = {}
    for reading in READINGS:
        if all(cells[reading].values()):
            whole[reading] = _whole_report(cells[reading], reading)
        else:
            bad = ", ".join(c for c, found in cells[reading].items() if not found)
            whole[reading] = {name: (False, f"impossible: no counts for {bad}")
                              for name in ("all classes", *P3_TABLE1_AVERAGES)}
    return [{"row": name, **{f"possible ({r})": whole[r][name][0] for r in READINGS},
             **{f"detail ({r})": whole[r][name][1] for r in READINGS}} for name in whole["rounded"]]
