"""The rules a measurement is judged by: the tolerance applied (fixed, or the 95 % interval of ours) and the verdict."""

from __future__ import annotations

import numpy as np

from fer_lib.claims import load_claims

RUN_KINDS = ("accuracy", "f1_weighted", "f1_macro", "recall", "class_error")


JUDGED = ("reproduced", "exceeded", "not reproduced")


def _tolerance(claim: dict) -> float:
    return float(claim.get("tolerance", load_claims()["defaults"]["tolerance"].get(claim["kind"], 0)))


def claim_metric(metrics: dict, claim: dict) -> float | None:
    split = metrics.get(claim.get("split", "test"))
    if split is None:
        return None
    kind = claim["kind"]
    if kind in ("recall", "class_error"):
        per_class = split["per_class"].get(claim["class"])
        if per_class is None:
            return None
        recall = 100.0 * per_class["recall"]
        return recall if kind == "recall" else 100.0 - recall
    return 100.0 * split[kind]


def images_behind(split_metrics: dict, claim: dict) -> int | None:
    """Test images behind a claim's number in one split's metrics: the split's size, or the class's support for
    per-class kinds (the n of the test-sampling term in uncertainty_tolerance)."""
    if claim["kind"] in ("recall", "class_error"):
        return (split_metrics.get("per_class", {}).get(claim["class"]) or {}).get("support")
    return split_metrics.get("n")


HIGHER_IS_BETTER = ("accuracy", "f1_weighted", "f1_macro", "recall", "fps_ratio")
"""Kinds where a larger number is the better result: beyond the tolerance above the paper's is "exceeded"."""
LOWER_IS_BETTER = ("class_error",)
"""Kinds where a smaller number is the better result: beyond the tolerance below the paper's is "exceeded"."""
NO_BETTER_SIDE = ("params", "gflops", "gflops_saving", "param_ratio", "epoch_time_ratio")
"""Kinds that state a size or a cost of the models we build, where neither side is better: beyond the tolerance
either way is a mismatch (a larger GMACs saving or parameter cut than P4's means our block differs from P4's)."""


def verdict(paper: float, ours: float, tolerance: float, kind: str) -> str:
    """reproduced / exceeded / not reproduced for a measured value of a claim of `kind`. "exceeded" only on the
    claim's better side (higher accuracy or speed-up, lower error); for sizes and cost ratios any gap beyond the
    tolerance is "not reproduced" (C3 taking 2.2x C2's epoch time is no better than the paper's 1.56x, only
    different)."""
    if kind not in HIGHER_IS_BETTER + LOWER_IS_BETTER + NO_BETTER_SIDE:
        raise ValueError(f"claim kind {kind!r} has no better side declared: add it to one of HIGHER_IS_BETTER, "
                         f"LOWER_IS_BETTER or NO_BETTER_SIDE in fer_lib/study/judging.py")
    gap = ours - paper
    if abs(gap) <= tolerance:
        return "reproduced"
    if kind in NO_BETTER_SIDE:
        return "not reproduced"
    better = gap < 0 if kind in LOWER_IS_BETTER else gap > 0
    return "exceeded" if better else "not reproduced"


def judge(claim: dict, chosen: list[dict], paper: float, mean: float, tol: float) -> tuple[str, str]:
    """The verdict of a full-budget measurement, with the one exception: from scratch against ImageNet weights."""
    judged = verdict(paper, mean, tol, claim["kind"])
    scratch = all(str(r["manifest"].get("pretrained", "")).startswith("none") for r in chosen)
    if judged == "not reproduced" and scratch and _paper_weights(claim) == "imagenet":
        return "inconclusive", "ours from scratch, the paper's from ImageNet weights (none can be had here)"
    return judged, ""


def uncertainty_tolerance(claim: dict, values: np.ndarray, n_test: int | None) -> tuple[float, str]:
    """The tolerance an accuracy-type claim is judged with, fixed before any full P3 verdict: the larger of
    the claim's fixed tolerance and the half-width of a 95 % interval of our mean that combines the spread
    over k seeds (s) and test-set sampling (a proportion p on n images): 1.96 * sqrt(s^2/k + p(1-p)/n)."""
    fixed = _tolerance(claim)
    p = float(np.mean(values)) / 100
    seed_var = float(np.var(values / 100, ddof=1)) / len(values) if len(values) > 1 else 0.0
    test_var = p * (1 - p) / n_test if n_test else 0.0
    half = 100 * 1.96 * float(np.sqrt(seed_var + test_var))
    if half > fixed:
        return half, (f"95% interval of ours ({len(values)} seed(s), n={n_test}): ±{half:.2f} points, wider than "
                      f"the fixed ±{fixed:g}")
    sampling = " with test-set sampling" if n_test else " (seeds only)"
    return fixed, f"±{fixed:g} points (fixed; our 95% interval{sampling} ±{half:.2f})"


def _paper_weights(claim: dict) -> str:
    """imagenet | scratch | unstated: how the paper initialised the model behind a claim."""
    return str(claim.get("paper_weights") or load_claims()["defaults"].get("paper_weights", {}).get(claim["paper"],
                                                                                                    "unstated"))


SPEED_KINDS = ("fps_ratio", "epoch_time_ratio")
RELATIVE_KINDS = ("gflops", "gflops_saving", "fps_ratio", "param_ratio", "epoch_time_ratio")


def applied_tolerance(claim: dict) -> tuple[float, str]:
    """(absolute tolerance applied, its rule): relative kinds take a fraction of the paper's value."""
    if claim["kind"] == "difference":
        return float("nan"), ("one-sided paired t over seeds both ways: reproduced when the claimed direction has "
                              "p < 0.05, not reproduced when the opposite has (McNemar per seed shown)")
    tol, paper = _tolerance(claim), float(claim["value"])
    if claim["kind"] in RELATIVE_KINDS:
        return tol * abs(paper), f"{100 * tol:g}% of the paper's value"
    unit = {"accuracy": " points", "f1_weighted": " points", "f1_macro": " points", "recall": " points",
            "class_error": " points", "params": " parameters"}.get(claim["kind"], "")
    return tol, ("exact" if tol == 0 else f"±{tol:g}{unit}") + (" (claim's own)" if "tolerance" in claim else "")


def judge_measured(claim: dict, value: float, note: str, measured_on: str | None) -> tuple[str, str]:
    """(verdict, why) of a measured size or speed claim with our `value` (its measurement `note`), timed or counted on
    device class `measured_on`: the tolerance verdict, then a speed ratio off the paper's device class is
    inconclusive and a fitted figure that matches is consistent by construction. The one path for every measured
    claim, its own row and the verdicts one construction's rows cite (measure.ModelMeasurer)."""
    judged = verdict(float(claim["value"]), value, applied_tolerance(claim)[0], claim["kind"])
    if claim["kind"] in SPEED_KINDS and not claim.get("device"):
        return "inconclusive", (f"{note}; the paper names no device, we timed on {measured_on or 'unknown'}: a speed "
                                f"ratio is compared on the same device class only, so this is no verdict on the "
                                f"paper's figure")
    if claim.get("device") and measured_on and measured_on != claim["device"]:
        return "inconclusive", (f"{note}; the paper timed on {claim['device']}, we on {measured_on}: speed is "
                                f"compared on the same device class only")
    if claim.get("construction") and judged == "reproduced":
        return "consistent by construction", f"{note}; {claim['construction']}"
    return judged, note
