"""Where a campaign stands: per experiment, the runs it plans, those complete where runs are counted, those
half-done in the work folder (the next campaign resumes them), what is left and its estimated time."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fer_lib.campaign.plan import COMPLETE, RUNNABLE
from fer_lib.runs.store import list_runs


def campaign_status(table: pd.DataFrame, work_dir: Path) -> pd.DataFrame:
    """One row per experiment of a plan (fer_lib.campaign.plan.plan) with the work folder's half-runs."""
    work_runs = list_runs(root=Path(work_dir) / "runs")
    resumable = (work_runs[work_runs["status"].isin(["interrupted", "running"])].groupby("experiment").size()
                 if not work_runs.empty else pd.Series(dtype=int))
    rows = []
    for experiment, runs in table.groupby("experiment", sort=False):
        todo = runs[runs["status"].isin(RUNNABLE)]
        rows.append({"paper": runs["paper"].iloc[0], "experiment": experiment, "runs": len(runs),
                     "complete": int((runs["status"] == COMPLETE).sum()),
                     "half-done (resumable)": int(resumable.get(experiment, 0)), "to run": len(todo),
                     "no dataset here": int((runs["status"] == "dataset unavailable").sum()),
                     "est. minutes left": round(float(todo["est. minutes"].sum()), 1)})
    return pd.DataFrame(rows)


def last_campaign(work_dir: Path) -> str:
    """One line on the newest campaign log in the work folder."""
    logs = sorted(Path(work_dir).glob("campaign-*.json"))
    if not logs:
        return "no campaign has run from this work folder yet"
    record = json.loads(logs[-1].read_text())
    return f"last campaign ({logs[-1].name}, executor {record['executor']}): {outcome_summary(record['outcomes'])}"


def outcome_summary(outcomes: list[dict]) -> str:
    """'2 complete, 1 stopped' (most frequent first), or 'nothing run'."""
    states = pd.Series([o["state"] for o in outcomes], dtype=object).value_counts()
    return ", ".join(f"{n} {s}" for s, n in states.items()) or "nothing run"
