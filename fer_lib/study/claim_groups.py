"""Claims that make several comparisons at once (claims.yaml `claim_groups`): one row per member, and a summary row.

Two shapes of group:
  metrics  one variant over another on named classes under several metrics (P3's conclusion):
           fer_lib.study.metric_differences gives a row per metric and per metric and class;
  pairs    orderings between the paper's configurations (P2 §2.2): every (better, worse) pair of the claim
           ids listed, each a paired accuracy difference (comparisons.judge_difference); with `within: m` the
           claim is that the loss better − worse is insignificant, judged as non-inferiority at margin m points:
           reproduced when a one-sided t over seeds shows the loss below m, not reproduced when it shows it
           above m, else inconclusive (and inconclusive below comparisons.MIN_SEEDS paired seeds).
The summary row (the group's id) reads the members' verdict when all members that ran agree, "mixed" when they
disagree (its `why` lists each member's verdict, so a reader sees on which metric the claim holds and on which
not), and "not run" when none ran. For a metrics group the members are the metric rows (the mean over the
named classes); the per-class rows are the breakdown shown beside them.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from fer_lib.claims import load_claims
from fer_lib.study.comparisons import ALPHA, MIN_SEEDS, difference_verdict, judge_difference
from fer_lib.study.metric_differences import METRIC_NAMES, metric_difference_rows

METRICS_RULE = ("direction: one-sided paired t over seeds, Holm across the claim's metrics, p < 0.05 "
                "(paired bootstrap over test images per seed shown)")
PAIRS_RULE = "direction: paired t over seeds, one-sided p < 0.05 (McNemar per seed shown)"


def summary_verdict(verdicts: list[str]) -> str:
    """A group's verdict from its members': the common one, "mixed" when those that ran disagree, "not run"
    when none ran."""
    ran = [v for v in verdicts if v != "not run"]
    if not ran:
        return "not run"
    return ran[0] if len(set(ran)) == 1 else "mixed"


def group_pairs(group: dict) -> list[tuple[str, str]]:
    """(better claim id, worse claim id) of every ordering a `pairs` group asserts."""
    return [(b, w) for b in group["better"] for w in group["worse"]]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _base(group: dict) -> dict:
    return {"paper": group["paper"], "table": group["table"], "claim_class": "difference",
            "dataset": group.get("dataset", "")}


def _summary(group: dict, members: list[dict], label) -> dict:
    judged = summary_verdict([m["verdict"] for m in members])
    listing = "; ".join(f"{label(m)}: {m['verdict']}" for m in members)
    holds = [label(m) for m in members if m["verdict"] in ("reproduced", "exceeded")]
    fails = [label(m) for m in members if m["verdict"] == "not reproduced"]
    if judged == "mixed" and holds:
        listing += (f" — the claim holds on {_and(holds)}"
                    + (f" and not on {_and(fails)}" if fails else ", the rest undecided"))
    missing = sum(m["verdict"] == "not run" for m in members)
    if missing and judged != "not run":
        listing += f" ({missing} of {len(members)} not run)"
    return {**_base(group), "id": group["id"], "metric": group["summary_metric"], "verdict": judged,
            "why": listing, "n": max((m.get("n") or 0) for m in members) if members else 0,
            "tolerance_rule": "summary of the rows below: 'mixed' where their verdicts disagree"}


def metrics_group_rows(group: dict, runs: list[dict]) -> list[dict]:
    """A metrics group's summary row, then its metric rows and per-class rows."""
    rows = [{**_base(group), "tolerance_rule": METRICS_RULE, "resolvable": "no number published", **row}
            for row in metric_difference_rows(group, runs)]
    if not rows:
        return [{**_base(group), "id": group["id"], "metric": group["summary_metric"], "verdict": "not run", "n": 0,
                 "why": f"no pair of full-budget runs of {' and '.join(group['experiments'])} with one seed"}]
    members = [r for r in rows if r.pop("family") == "metric"]
    summary = _summary(group, members, lambda m: METRIC_NAMES[m["id"].rsplit(" / ", 1)[1]])
    return [summary, *rows]


def _pair_claim(group: dict, better: dict, worse: dict) -> dict:
    return {"id": f"{group['id']}: {better['id']} > {worse['id']}", "paper": group["paper"], "kind": "difference",
            "dataset": better["dataset"], "split": better.get("split", "test"),
            "experiments": [better["experiment"], worse["experiment"]],
            "value": round(float(better["value"]) - float(worse["value"]), 4)}


def judge_within(claim: dict, runs: list[dict], margin: float) -> dict:
    """A pair whose claimed loss (better − worse) is insignificant: non-inferiority of the worse at `margin`."""
    row = judge_difference(claim, runs)
    seeds = [int(s) for s in str(row.get("seeds", "")).split(",") if s != ""]
    if row["verdict"] == "not run" or difference_verdict(seeds, claim["experiments"], 1.0, 0.0)[0] != "reproduced":
        return row
    diffs = np.asarray(row["diffs"], dtype=float)
    below = float(stats.ttest_1samp(diffs, margin, alternative="less").pvalue)
    above = float(stats.ttest_1samp(diffs, margin, alternative="greater").pvalue)
    judged = "reproduced" if below < ALPHA else "not reproduced" if above < ALPHA else "inconclusive"
    why = (f"loss within ±{margin:g} points? one-sided t over {len(seeds)} seeds: below the margin p={below:.3g}, "
           f"above it p={above:.3g}; " + row["why"].split("direction holds, within noise: ")[-1])
    return {**row, "verdict": judged, "why": why}


def pairs_group_rows(group: dict, runs: list[dict], resolvable: dict) -> list[dict]:
    """A pairs group's summary row, then one difference row per ordering it asserts."""
    claims = {c["id"]: c for c in load_claims()["claims"]}
    rows = []
    for better_id, worse_id in group_pairs(group):
        claim = _pair_claim(group, claims[better_id], claims[worse_id])
        row = (judge_within(claim, runs, float(group["within"])) if "within" in group
               else judge_difference(claim, runs))
        rows.append({**_base(group), "id": claim["id"], "metric": "difference", "paper_value": claim["value"],
                     "dataset": claim["dataset"], "tolerance": float(group.get("within", np.nan)),
                     "tolerance_rule": (f"non-inferiority margin {group['within']:g} points, one-sided t over seeds "
                                        f"(needs {MIN_SEEDS} paired seeds)") if "within" in group else PAIRS_RULE,
                     "resolvable": resolvable.get(f"{better_id} > {worse_id}", ""),
                     **{k: v for k, v in row.items() if k != "diffs"}})
    return [_summary(group, rows, lambda m: m["id"].split(": ", 1)[1]), *rows]


def group_rows(runs: list[dict], resolvable: dict) -> list[dict]:
    """Every claim group's rows, in claims.yaml order (each group: its summary row first)."""
    out = []
    for group in load_claims().get("claim_groups", []):
        out += metrics_group_rows(group, runs) if "metrics" in group else pairs_group_rows(group, runs, resolvable)
    return out
