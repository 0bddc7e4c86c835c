"""A small campaign on a real Slurm cluster (`make test-slurm` starts a single-node one: tests/slurm/cluster.sh).

Skipped in the ordinary suite; with FER_SLURM_TEST=1 (set by `make test-slurm`) a cluster that does not answer
is a failure, not a skip."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from fer_lib.cli import main
from fer_lib.paths import record_dir, scratch_dir
from fer_lib.runs.store import list_runs, load_run

pytestmark = pytest.mark.skipif(os.environ.get("FER_SLURM_TEST") != "1",
                                reason="needs a Slurm cluster: make test-slurm")
P3 = ["p3_resnet50_weighted", "p3_resnet50_resampled"]


def test_the_cluster_answers():
    nodes = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    assert nodes.returncode == 0 and nodes.stdout.split(), nodes.stderr


def test_a_smoke_campaign_runs_as_slurm_jobs_and_publishes_complete_records(tmp_path, capsys):
    work = tmp_path / "work"  # one machine: its local disk is the cluster's shared storage
    args = ["campaign", "run", "--executor", "slurm", "--profile", "smoke", "--only", *P3, "--gpus-per-job", "0",
            "--cpus-per-job", "1", "--work-dir", str(work)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 complete" in out and "slurm job" in out
    runs = list_runs(root=scratch_dir() / "runs")
    assert sorted(runs["experiment"]) == sorted(P3) and set(runs["status"]) == {"complete"}
    for path in runs["path"]:
        manifest = load_run(path).manifest
        assert manifest["dataset"]["name"] == "synthetic" and manifest["profile"] == "smoke"
    scripts = list((work / "submitit").rglob("*_submission.sh"))
    assert scripts and all("#SBATCH --cpus-per-task=1" in s.read_text() for s in scripts)
    log = json.loads(sorted(work.glob("campaign-*.json"))[-1].read_text())
    assert {o["state"] for o in log["outcomes"]} == {"complete"} and log["executor"] == "slurm"
    assert not (record_dir() / "runs").exists()
    assert main(args) == 0 and "0 run(s) to run" in capsys.readouterr().out
