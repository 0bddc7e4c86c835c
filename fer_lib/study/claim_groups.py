"""Claims that make several comparisons at once (claims.yaml `claim_groups`): one row per member, and a summary row.

Three shapes of group:
  metrics   one variant over another on named classes under several metrics (P3's conclusion):
            fer_lib.study.metric_differences gives a row per metric and per metric and class;
  orderings (`better`, `worse`) every (better, worse) pair of the claim ids listed is asserted, each a paired
            accuracy difference (comparisons.paired_difference), one-sided over seeds;
  margins   (`gain_of`, `over`, `within: m`) the claim is that the first's gain over the second, gain_of − over
            (points), is insignificant or no benefit: below the margin m, judged one-sided over seeds
            (non-inferiority of `over`, or non-superiority of `gain_of`: the same test, d < m). The margin is
            our choice, the accuracy tolerance (2 points); the paper states none.
Every test follows the one rule (comparisons.decide): reproduced when the claimed one-sided test has p < 0.05
(Holm-adjusted across the group's members), not reproduced when the opposite one-sided test has (Holm-adjusted
the same way), else inconclusive; and inconclusive below comparisons.MIN_SEEDS paired seeds.
A pair one group asserts is judged once: a later group that repeats it reads the earlier row (its summary says
where), as testset_checks.asserted_orderings lists each pair once; `comparisons` pairs a group judges are left
to the group (verdicts.ordering_claims).

Rows carry a `role`: the summary row (the group's id) is the `claim`; a metrics group's metric rows and a pairs
group's pair rows are its `member`s; a metrics group's per-class rows are the `breakdown` shown beside them.
The summary reads the members' verdict when all members that ran agree, "mixed" when they disagree (its `why`
lists each member's verdict), and "not run" when none ran.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats

from fer_lib.claims import load_claims
from fer_lib.study.comparisons import (MIN_SEEDS, decide, difference_row, holm, paired_difference,
                                       seeds_ready)
from fer_lib.study.metric_differences import METRIC_NAMES, metric_difference_rows

METRICS_RULE = ("one-sided paired t over seeds both ways, Holm across the claim's metrics; reproduced when the "
                "claimed direction has p < 0.05, not reproduced when the opposite has (paired bootstrap shown)")
PAIRS_RULE = ("one-sided paired t over seeds both ways, Holm across the group's pairs; reproduced when the claimed "
              "direction has p < 0.05, not reproduced when the opposite has (McNemar per seed shown)")
ROLES = ("claim", "member", "breakdown")


def summary_verdict(verdicts: list[str]) -> str:
    """A group's verdict from its members': the common one, "mixed" when those that ran disagree, "not run"
    when none ran."""
    ran = [v for v in verdicts if v != "not run"]
    if not ran:
        return "not run"
    return ran[0] if len(set(ran)) == 1 else "mixed"


def group_pairs(group: dict) -> list[tuple[str, str]]:
    """(first claim id, second claim id) of every pair a pairs group judges: (better, worse) of an ordering,
    (gain_of, over) of a margin group."""
    if "within" in group:
        return [(g, o) for g in group["gain_of"] for o in group["over"]]
    return [(b, w) for b in group.get("better", []) for w in group.get("worse", [])]


def group_owned_pairs() -> set[frozenset]:
    """The pairs (unordered) that some claim group judges: `comparisons` leaves these to the group."""
    return {frozenset(pair) for group in load_claims().get("claim_groups", []) for pair in group_pairs(group)}


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _base(group: dict) -> dict:
    return {"paper": group["paper"], "table": group["table"], "claim_class": "difference",
            "dataset": group.get("dataset", "")}


def _summary(group: dict, members: list[dict], label: Callable[[dict], str]) -> dict:
    """The group's summary row (role `claim`) from its member rows; `label` names a member in the listing."""
    judged = summary_verdict([m["verdict"] for m in members])
    listing = "; ".join(f"{label(m)}: {m['verdict']}" + (f" (judged under {m['judged_under']})"
                                                         if m.get("judged_under") else "") for m in members)
    holds = [label(m) for m in members if m["verdict"] in ("reproduced", "exceeded")]
    fails = [label(m) for m in members if m["verdict"] == "not reproduced"]
    if judged == "mixed" and holds:
        listing += (f" — the claim holds on {_and(holds)}"
                    + (f" and not on {_and(fails)}" if fails else ", the rest undecided"))
    missing = sum(m["verdict"] == "not run" for m in members)
    if missing and judged != "not run":
        listing += f" ({missing} of {len(members)} not run)"
    return {**_base(group), "id": group["id"], "role": "claim", "metric": group["summary_metric"], "verdict": judged,
            "why": listing, "n": max((m.get("n") or 0) for m in members) if members else 0,
            "tolerance_rule": "summary of the rows below: 'mixed' where their verdicts disagree"}


def metrics_group_rows(group: dict, runs: list[dict]) -> list[dict]:
    """A metrics group's summary row, then its metric rows (members) and per-class rows (breakdown)."""
    rows = [{**_base(group), "tolerance_rule": METRICS_RULE, "resolvable": "no number published", **row}
            for row in metric_difference_rows(group, runs)]
    if not rows:
        return [{**_base(group), "id": group["id"], "role": "claim", "metric": group["summary_metric"],
                 "verdict": "not run", "n": 0,
                 "why": f"no pair of full-budget runs of {' and '.join(group['experiments'])} with one seed"}]
    for row in rows:
        row["role"] = "member" if row.pop("family") == "metric" else "breakdown"
    members = [r for r in rows if r["role"] == "member"]
    summary = _summary(group, members, lambda m: METRIC_NAMES[m["id"].rsplit(" / ", 1)[1]])
    return [summary, *rows]


def _pair_claim(group: dict, first: dict, second: dict) -> dict:
    sign = " − " if "within" in group else " > "
    return {"id": f"{group['id']}: {first['id']}{sign}{second['id']}", "paper": group["paper"], "kind": "difference",
            "dataset": first["dataset"], "split": first.get("split", "test"),
            "experiments": [first["experiment"], second["experiment"]],
            "value": round(float(first["value"]) - float(second["value"]), 4)}


def margin_tests(diffs: np.ndarray, margin: float) -> tuple[float, float]:
    """(p that the mean of `diffs` is below `margin`, p that it is above): one-sided one-sample t over seeds."""
    if len(diffs) < 2 or np.ptp(diffs) == 0:
        return float("nan"), float("nan")
    return (float(stats.ttest_1samp(diffs, margin, alternative="less").pvalue),
            float(stats.ttest_1samp(diffs, margin, alternative="greater").pvalue))


def _margin_row(numbers: dict, claim: dict, margin: float, p_below: float, p_above: float) -> dict:
    """A margin pair's row: the claim is d = first − second < margin (one rule: comparisons.decide)."""
    row = difference_row(numbers, claim["experiments"], float("nan"), float("nan"))
    waiting = seeds_ready(numbers["seeds"], claim["experiments"])
    if waiting:
        return row
    judged = decide(p_below, p_above)
    why = (f"gain below the {margin:g}-point margin? one-sided t over {len(numbers['seeds'])} seeds (Holm across the "
           f"group's pairs): below p={p_below:.3g}, above p={p_above:.3g}; {numbers['detail']}")
    return {**row, "verdict": judged, "why": why}


def _tested_pairs(group: dict, runs: list[dict]) -> list[tuple[dict, dict | None, float, float]]:
    """(pair claim, its paired numbers or None, raw claimed p, raw opposite p) for every pair of the group."""
    claims = {c["id"]: c for c in load_claims()["claims"]}
    out = []
    for first_id, second_id in group_pairs(group):
        claim = _pair_claim(group, claims[first_id], claims[second_id])
        numbers = paired_difference(claim, runs)
        if numbers is None:
            out.append((claim, None, np.nan, np.nan))
        elif "within" in group:
            out.append((claim, numbers, *margin_tests(numbers["diffs"], float(group["within"]))))
        else:
            out.append((claim, numbers, numbers["p_seeds"], numbers["p_opposite"]))
    return out


def _pair_rule(group: dict) -> str:
    if "within" in group:
        return (f"margin {group['within']:g} points (our choice: the accuracy tolerance): the gain is claimed below "
                f"it; one-sided t over seeds both ways, Holm across the group's pairs (needs {MIN_SEEDS} paired seeds)")
    return PAIRS_RULE


def pairs_group_rows(group: dict, runs: list[dict], resolvable: dict, judged: dict | None = None) -> list[dict]:
    """A pairs group's summary row, then one row per pair it judges (Holm across the group's pairs, both directions).
    `judged`: {(first, second, test): row} of pairs judged by earlier groups, updated; a repeated pair is not
    judged again: the summary reads the earlier row."""
    judged = {} if judged is None else judged
    tested = _tested_pairs(group, runs)
    claimed, opposite = holm([t[2] for t in tested]), holm([t[3] for t in tested])
    rows, members = [], []
    for (claim, numbers, _, _), (first_id, second_id), p, q in zip(tested, group_pairs(group), claimed, opposite):
        key = (first_id, second_id, "within" in group)
        if key in judged:
            members.append({**judged[key], "judged_under": judged[key]["id"]})
            continue
        if numbers is None:
            row = {"verdict": "not run", "n": 0, "why": f"no pair of full-budget runs of "
                                                        f"{' and '.join(claim['experiments'])} with one seed"}
        elif "within" in group:
            row = _margin_row(numbers, claim, float(group["within"]), float(p), float(q))
        else:
            row = difference_row(numbers, claim["experiments"], float(p), float(q))
        row = {**_base(group), "id": claim["id"], "role": "member", "metric": "difference",
               "paper_value": claim["value"], "dataset": claim["dataset"], "p_holm": float(p),
               "tolerance": float(group.get("within", np.nan)), "tolerance_rule": _pair_rule(group),
               "resolvable": resolvable.get(f"{first_id} > {second_id}", "") if "within" not in group else "",
               **row}
        judged[key] = row
        rows.append(row)
        members.append(row)
    return [_summary(group, members, lambda m: m["id"].split(": ", 1)[1]), *rows]


def group_rows(runs: list[dict], resolvable: dict) -> list[dict]:
    """Every claim group's rows, in claims.yaml order (each group: its summary row first)."""
    out, judged = [], {}
    for group in load_claims().get("claim_groups", []):
        out += (metrics_group_rows(group, runs) if "metrics" in group
                else pairs_group_rows(group, runs, resolvable, judged))
    return out
