"""The campaign on a CPU, as issue 33's campaign runs it: the layout (one run with every thread or two at once)
measured and followed, each published run committed as it lands, runs of an older engine trained again."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import submitit
import torch

from fer_lib.bench.cases import make_case
from fer_lib.campaign import cpu_layout, executors, plan as planning, record_git
from fer_lib.campaign.jobs import CampaignJob
from fer_lib.campaign.preflight import read_concurrency
from fer_lib.cli import main
from fer_lib.config import load_config
from fer_lib.paths import PROJECT_ROOT, results_dir

GIB = 2**30


def test_the_cpu_layout_is_measured_by_two_processes_at_once():
    layout = cpu_layout.measure_cpu_layout([make_case("tiny_cnn")], batch=4, steps=2, cpus=2)
    family = layout["families"]["tiny_cnn@48"]
    assert family["ok"], family
    assert family["one_run_img_per_s"] > 0 and family["two_runs_img_per_s"] > 0 and family["peak_rss_mb"] > 0
    assert family["threads_one_run"] == 2 and family["threads_each_of_two"] == 1
    assert layout["runs_at_once"] == family["runs_at_once"] in (1, 2) and "tiny_cnn@48" in layout["reason"]
    assert layout["memory_bytes"] == cpu_layout.machine_memory_bytes() > GIB


def _outs(one_s: float, two_s: float | None, peak_gib: float) -> dict:
    second = {"index": 1, "peak_bytes": int(peak_gib * GIB)}
    if two_s is not None:
        second["two_runs_s"] = two_s
    return {0: {"index": 0, "one_run_s": one_s, "two_runs_s": two_s, "peak_bytes": int(peak_gib * GIB)}, 1: second}


def test_two_runs_at_once_only_when_they_give_more_images_and_fit_in_memory():
    # 10 steps of 128: one run 10 s (128 img/s); two at once 15 s for twice the images (~171 img/s in total)
    faster = cpu_layout.family_layout("c6", 128, 10, cpus=2, memory=24 * GIB, outs=_outs(10.0, 15.0, 5.0))
    assert faster["runs_at_once"] == 2 and faster["slowdown_when_sharing"] == pytest.approx(1.5)
    assert "two at once" in faster["reason"] and faster["peak_rss_mb"] == 5 * 1024
    # A 7 GiB step (C5 at batch 128) is a ~10 GiB real run: two would pass 80 % of 24 GiB, however fast
    c5 = cpu_layout.family_layout("c5", 128, 10, cpus=2, memory=24 * GIB, outs=_outs(10.0, 15.0, 7.0))
    assert c5["runs_at_once"] == 1 and "1.5 x 7.0 GiB" in c5["reason"]
    slower = cpu_layout.family_layout("c1", 128, 10, cpus=2, memory=24 * GIB, outs=_outs(10.0, 25.0, 1.0))
    assert slower["runs_at_once"] == 1 and "one run at a time" in slower["reason"]
    # 2 x 1.5 x 11 GiB is over 80 % of 24 GiB: refused whatever the speed (the second process never built a model)
    big = cpu_layout.family_layout("wide", 128, 10, cpus=2, memory=24 * GIB, outs=_outs(10.0, None, 11.0))
    assert big["runs_at_once"] == 1 and "80%" in big["reason"] and big["ok"]
    assert cpu_layout.campaign_layout({"c6": faster}, 2, 24 * GIB)["runs_at_once"] == 2
    mixed = cpu_layout.campaign_layout({"c6": faster, "wide": big}, 2, 24 * GIB)
    assert mixed["runs_at_once"] == 1 and mixed["threads_per_run"] == 2 and "wide" in mixed["reason"]
    crashed = cpu_layout.family_layout("c8", 128, 10, cpus=2, memory=24 * GIB, outs={0: {"index": 0, "error": "OOM"}})
    assert crashed["runs_at_once"] == 1 and not crashed["ok"] and "OOM" in crashed["reason"]


def _calibration(path: Path, runs_at_once: int, cpus: int | None = None) -> Path:
    layout = {"cpus": cpus or os.cpu_count(), "runs_at_once": runs_at_once, "slowdown_when_sharing": 1.5,
              "reason": "two runs at once, 1 thread(s) each: measured", "families": {}}
    family = {"model": "resnet50", "input_size": 48, "img_per_s": 100.0}
    path.write_text(json.dumps({"runs_per_gpu": 1, "families": {"resnet50@48": family}, "cpu_layout": layout}))
    return path


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU path: no CUDA")
def test_campaign_run_on_a_cpu_follows_the_measured_layout_unless_told(tmp_path, capsys):
    cal = _calibration(tmp_path / "cal.json", 2)
    assert read_concurrency(cal, cpu=True) == (2, 1.5, "two runs at once, 1 thread(s) each: measured")
    assert read_concurrency(cal)[0] == 1  # the GPU reading is untouched
    assert read_concurrency(_calibration(tmp_path / "other.json", 2, cpus=(os.cpu_count() or 1) + 1), cpu=True)[0] == 1  # another machine
    args = ["campaign", "run", "--profile", "smoke", "--only", "p3_resnet50_weighted", "--calibration", str(cal),
            "--work-dir", str(tmp_path / "work"), "--dry-run"]
    assert main(args) == 0
    out = capsys.readouterr().out
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert f"-> 2 at once, {threads} thread(s) each" in out
    assert main(args + ["--parallel", "1"]) == 0 and "at once" not in capsys.readouterr().out


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _published_run(runs: Path) -> Path:
    run = runs / "p2_lc2fer_c5" / "20270101-000000-full-rafdb-s1"
    run.mkdir(parents=True)
    manifest = {"experiment": "p2_lc2fer_c5", "run_id": run.name, "status": "complete", "seed": 1, "profile": "full",
                "epochs_run": 44, "best_epoch": 24, "wall_s": 8280.0, "train_img_per_s": 58.2, "precision": "bfloat16",
                "device": "AMD EPYC CPU (1 threads)", "git": {"commit": "abc1234", "dirty": False},
                "config": load_config("p2_lc2fer_c5", "full")}
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "metrics.json").write_text(json.dumps({"val": {"accuracy": 0.7082}, "test": {"accuracy": 0.6978}}))
    return run


class _DoneJob:
    def __init__(self, result: dict):
        self._result = result

    def done(self) -> bool:
        return True

    def result(self) -> dict:
        return self._result


def test_each_published_run_is_committed_alone_as_it_lands(tmp_path, monkeypatch):
    repo = tmp_path / "record"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.org")
    _git(repo, "config", "user.name", "t")
    (repo / "README").write_text("x\n")
    _git(repo, "add", "README")
    _git(repo, "commit", "-qm", "start")
    (repo / "other.txt").write_text("staged, not the campaign's\n")
    _git(repo, "add", "other.txt")
    run = _published_run(repo / "results" / "runs")

    class FakeExecutor:  # the job ran and published `run`; the commit is the campaign's, in this process
        def __init__(self, **kwargs):
            pass

        def update_parameters(self, **kwargs):
            pass

        def submit(self, job):
            return _DoneJob({"run_dir": str(run), "train_img_per_s": 58.2})

    monkeypatch.setattr(submitit, "LocalExecutor", FakeExecutor)
    job = CampaignJob("p2_lc2fer_c5", 1, None, "full", str(repo / "results" / "runs"), str(tmp_path / "work"))
    outcomes = executors.run_local([executors.Planned(job, 1.0)], tmp_path / "submitit", poll_s=0.01, commit=True)
    assert outcomes[0]["state"] == "complete" and outcomes[0]["detail"].startswith("committed ")
    assert sorted(_git(repo, "show", "--name-only", "--format=", "HEAD").split()) == \
        [f"results/runs/p2_lc2fer_c5/{run.name}/{f}" for f in ("manifest.json", "metrics.json")]
    assert _git(repo, "diff", "--cached", "--name-only").split() == ["other.txt"]  # still staged, not committed
    message = _git(repo, "log", "-1", "--format=%B")
    for said in ("p2_lc2fer_c5 seed 1", "44 epochs (best 24)", "val 70.82", "test 69.78", "58 img/s", "2.3 h",
                 "AMD EPYC", "bfloat16", "abc1234"):
        assert said in message, (said, message)
    # Outside any repository the commit fails; the run stays published and the outcome says why.
    elsewhere = _published_run(tmp_path / "not-a-repo" / "runs")
    detail = record_git.commit_outcome(elsewhere)
    assert detail.startswith("commit failed, run kept uncommitted") and (elsewhere / "manifest.json").exists()
    # An ignored folder (a pipeline check) is not committed; a failed commit leaves nothing of the run staged.
    (repo / ".gitignore").write_text("/scratch/\n")
    ignored = _published_run(repo / "scratch" / "runs")
    assert "ignored by git" in record_git.commit_outcome(ignored)
    other = _published_run(repo / "results" / "more")
    _git(repo, "config", "core.hooksPath", str(tmp_path / "hooks"))
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "pre-commit").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "hooks" / "pre-commit").chmod(0o755)
    assert record_git.commit_outcome(other).startswith("commit failed")
    assert _git(repo, "diff", "--cached", "--name-only").split() == ["other.txt"]
    _git(repo, "checkout", "-q", "--detach")
    assert "detached HEAD" in record_git.commit_outcome(other)


def _record_run(experiment: str, seed: int, stamp: str, engine: bool) -> None:
    run = results_dir() / "runs" / experiment / f"{stamp}-full-fer2013-s{seed}"
    run.mkdir(parents=True)
    epochs = load_config(experiment, "full")["train"]["epochs"]
    manifest = {"experiment": experiment, "run_id": run.name, "status": "complete", "seed": seed, "profile": "full",
                "dataset": {"name": "fer2013", "real": True}, "epochs": epochs, "epochs_override": None,
                "recipe_epochs": epochs, "config": load_config(experiment, "full")}
    if engine:
        manifest.update(allocator="glibc: no mmap for large blocks", channels_last=True, dwconv_fp32=False)
    (run / "manifest.json").write_text(json.dumps(manifest))


def test_runs_of_an_older_engine_are_trained_again_when_asked(tmp_path):
    experiment = "p3_resnet50_weighted"  # three seeds (P2's C1-C3 have one, seed 0)
    _record_run(experiment, 0, "20261201-000000", engine=False)  # trained before the allocator / layout engine
    _record_run(experiment, 1, "20261201-000000", engine=False)
    _record_run(experiment, 1, "20261220-000000", engine=True)  # already retrained
    images = {experiment: 25838}
    kept = planning.plan(only=[experiment], images=images)
    assert dict(zip(kept["seed"], kept["status"])) == {0: planning.COMPLETE, 1: planning.COMPLETE, 2: planning.TO_RUN}
    table = planning.plan(only=[experiment], images=images, retrain_older_engine=True)
    assert dict(zip(table["seed"], table["status"])) == {0: planning.RETRAIN, 1: planning.COMPLETE, 2: planning.TO_RUN}
    assert table.loc[table["seed"] == 0, "claims per minute"].notna().all()
    jobs = executors.planned_jobs(table, tmp_path / "work", None)
    assert sorted(j.job.seed for j in jobs) == [0, 2]
    assert len(list((results_dir() / "runs" / experiment).iterdir())) == 3  # nothing removed from the record


def test_a_campaign_from_a_pinned_clone_publishes_into_the_record_it_is_pointed_at(tmp_path, monkeypatch):
    main_results = tmp_path / "main" / "results"
    monkeypatch.setenv("FER_RESULTS_DIR", str(main_results))
    table = planning.plan(only=["p3_resnet50_weighted"], images={"p3_resnet50_weighted": 25838})
    jobs = executors.planned_jobs(table, tmp_path / "work", None)
    assert {j.job.destination for j in jobs} == {str(main_results / "runs")}
    env = executors.job_environment(1)  # what each job is started with
    assert env["FER_RESULTS_DIR"] == str(main_results) and env["PYTHONPATH"].split(os.pathsep)[0] == str(PROJECT_ROOT)
    assert env["OMP_NUM_THREADS"] == "1"


def _child_peak(queue) -> None:
    queue.put(cpu_layout.peak_bytes())


def test_a_spawned_child_reports_its_own_peak_not_its_parents():
    """ru_maxrss survives fork and exec on Linux: a child measured with it reports the parent's peak."""
    import multiprocessing as mp
    import numpy as np

    ballast = np.ones(1536 * 2**20, dtype=np.uint8)  # the parent's peak: 1.5 GiB more
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_peak, args=(queue,))
    child.start()
    child_peak = queue.get(timeout=120)
    child.join(30)
    assert child_peak < ballast.nbytes < cpu_layout.peak_bytes()  # with ru_maxrss the child reported >= the parent
