"""The campaign plan: every (experiment, seed[, fold]) once, ordered by claims per estimated minute, complete
runs skipped, the budget cut at the cumulative estimate."""

from __future__ import annotations

import json

import pytest

from fer_lib.campaign import plan as campaign
from fer_lib.cli import main
from fer_lib.config import load_config
from fer_lib.paths import results_dir

IMAGES = {"p3_resnet50_weighted": 25838, "p3_resnet50_resampled": 25838}


def test_plan_orders_by_claims_per_minute_and_cuts_at_the_budget():
    table = campaign.plan(5.0, only=["p3_resnet50_weighted", "p3_resnet50_resampled"], images=IMAGES)
    assert len(table) == 6 and set(table["seed"]) == {0, 1, 2}
    assert list(table["experiment"][:3]) == ["p3_resnet50_weighted"] * 3   # 5 claims vs 2 over the same cost
    minutes = table["est. minutes"]
    assert table["cumulative minutes"].iloc[-1] == pytest.approx((minutes * campaign.MARGIN + campaign.SETUP_MINUTES).sum(), abs=0.05)
    assert table["fits budget"].tolist() == (table["cumulative minutes"] <= 5.0).tolist()
    rate = table["img/s"].iloc[0]
    assert minutes.iloc[0] == pytest.approx(25838 * 40 / rate / 60, rel=1e-2)
    assert "assumed" in table["estimate source"].iloc[0]


def test_measured_throughput_replaces_the_estimate_and_complete_runs_are_skipped():
    run = results_dir() / "runs" / "p3_resnet50_weighted" / "done"
    run.mkdir(parents=True)
    manifest = {"experiment": "p3_resnet50_weighted", "run_id": "done", "status": "complete", "seed": 1, "profile": "full",
                "dataset": {"name": "fer2013", "real": True}, "epochs": 40, "epochs_override": None,
                "recipe_epochs": 40, "config": load_config("p3_resnet50_weighted", "full")}
    (run / "manifest.json").write_text(json.dumps(manifest))
    table = campaign.plan(only=["p3_resnet50_weighted"], images=IMAGES, measured={("resnet50", 48): 1000.0})
    status = dict(zip(table["seed"], table["status"]))
    assert status == {0: "to run", 1: "complete (skipped)", 2: "to run"}
    assert set(table["img/s"]) == {1000.0} and table["estimate source"].str.startswith("measured").all()
    assert table.loc[table["status"] != "to run", "claims per minute"].isna().all()


def test_every_kfold_experiment_plans_each_fold():
    runs = [r for r in campaign.campaign_runs(["p4_swin_jaffe_cv"])]
    assert sorted(r.fold for r in runs) == list(range(10)) and {r.seed for r in runs} == {0}


def test_campaign_plan_cli_prints_the_plan(capsys):
    assert main(["campaign", "plan", "--only", "P3", "--budget-minutes", "10"]) == 0
    out = capsys.readouterr().out
    assert "p3_resnet50_weighted" in out and "Fits in 10 minutes" in out and "Estimates:" in out
