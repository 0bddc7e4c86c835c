"""The campaign end to end on CPU: plan -> submitit's local executor -> published records -> the plan again;
the budget rule, failures, the Slurm job scripts submitit writes, the preflight and the transfers."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from fer_lib.campaign import executors, plan as plan_module, transfer
from fer_lib.campaign.jobs import CampaignJob, find_interrupted, publish_run
from fer_lib.campaign.plan import plan
from fer_lib.campaign.preflight import (CONCURRENCY_GAIN, preflight, read_calibration, read_concurrency, runs_per_gpu,
                                       write_calibration)
from fer_lib.cli import main
from fer_lib.config import load_config
from fer_lib.data import file_sha256, load_dataset
from fer_lib.paths import record_dir, scratch_dir
from fer_lib.runs.store import list_runs, load_run

P3 = ["p3_resnet50_weighted", "p3_resnet50_resampled"]


@pytest.mark.slow
def test_a_smoke_campaign_runs_through_the_local_executor_and_publishes_complete_records(tmp_path, capsys):
    work = tmp_path / "work"
    args = ["campaign", "run", "--executor", "local", "--profile", "smoke", "--only", *P3, "--budget-minutes", "10",
            "--work-dir", str(work)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count(" complete ") >= 2 and "2 complete" in out
    runs = list_runs(root=scratch_dir() / "runs")
    assert sorted(runs["experiment"]) == sorted(P3) and set(runs["status"]) == {"complete"}
    for path in runs["path"]:
        published = Path(path)
        assert not (published / "checkpoints").exists() and not (published / "run.lock").exists()
        assert {"manifest.json", "history.csv", "metrics.json", "predictions_test.csv"} <= {p.name for p in published.iterdir()}
        assert (work / "runs" / load_run(published).experiment / published.name / "checkpoints" / "best.pt").exists()
        assert load_run(published).manifest["dataset"]["name"] == "synthetic"
    assert not (record_dir() / "runs").exists()  # synthetic data never reaches the record
    log = json.loads(sorted(work.glob("campaign-*.json"))[-1].read_text())
    assert [o["state"] for o in log["outcomes"]] == ["complete", "complete"]
    # Complete runs are skipped, always: the plan says so and a second campaign has nothing to run.
    table = plan(only=P3, profile="smoke")
    assert set(table["status"]) == {"complete (skipped)"}
    assert main(args) == 0 and "0 run(s) to run" in capsys.readouterr().out
    # The report: where the campaign stands.
    assert main(["campaign", "status", "--profile", "smoke", "--only", *P3, "--work-dir", str(work)]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 runs complete, 0 half-done" in out and "last campaign" in out and "nothing run" in out


def _job(tmp_path: Path, experiment: str = "p3_resnet50_weighted") -> CampaignJob:
    return CampaignJob(experiment=experiment, seed=0, fold=None, profile="smoke",
                       destination=str(tmp_path / "dest"), work_dir=str(tmp_path / "work"))


def test_runs_that_cannot_finish_inside_the_budget_are_not_launched(tmp_path):
    planned = [executors.Planned(_job(tmp_path), minutes=5.0)]
    outcomes = executors.run_local(planned, tmp_path / "submitit", budget_minutes=2.0)
    assert [o["state"] for o in outcomes] == ["not launched"] and "left in the budget" in outcomes[0]["detail"]
    assert not (tmp_path / "work").exists() and not (tmp_path / "dest").exists()


def test_a_run_still_going_at_the_budgets_end_is_stopped_and_publishes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(plan_module, "SETUP_MINUTES", 0.0)
    monkeypatch.setattr(plan_module, "MARGIN", 1.0)
    planned = [executors.Planned(_job(tmp_path), minutes=0.01)]  # launched: its estimate fits, the run does not
    outcomes = executors.run_local(planned, tmp_path / "submitit", budget_minutes=0.2, poll_s=0.2)
    assert [o["state"] for o in outcomes] == ["stopped"] and "budget's end" in outcomes[0]["detail"]
    assert outcomes[0]["minutes"] <= 0.3 and not (tmp_path / "dest").exists()


def test_a_time_out_is_told_apart_from_a_jobs_own_error():
    from submitit.core.utils import FailedJobError, UncompletedJobError

    timed_out = FailedJobError("...\nsubmitit.core.utils.UncompletedJobError: Job not requeued because: timed-out too many times.")
    assert executors.stopped_by_budget(timed_out, elapsed_s=100, timeout_s=600)
    assert not executors.stopped_by_budget(FailedJobError("ValueError: bad config"), elapsed_s=599, timeout_s=600)
    killed = UncompletedJobError("Job 12 (task: 0) with path ... has not produced any output (state: FINISHED)")
    assert executors.stopped_by_budget(killed, elapsed_s=595, timeout_s=600)
    assert not executors.stopped_by_budget(killed, elapsed_s=60, timeout_s=600)  # killed early: out of memory, a crash


def test_a_failing_job_is_reported_and_publishes_nothing(tmp_path):
    planned = [executors.Planned(_job(tmp_path, "no_such_experiment"), minutes=0.1)]
    outcomes = executors.run_local(planned, tmp_path / "submitit", budget_minutes=5.0, poll_s=0.2)
    assert outcomes[0]["state"] == "failed" and "no_such_experiment" in outcomes[0]["detail"]
    assert not (tmp_path / "dest").exists()


def _fake_run(folder: Path, status: str, seed: int = 0) -> Path:
    folder.mkdir(parents=True)
    manifest = {"experiment": "p3_resnet50_weighted", "run_id": folder.name, "status": status, "seed": seed,
                "profile": "smoke", "dataset": {"name": "synthetic", "real": False},
                "config": load_config("p3_resnet50_weighted", "smoke")}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "best.pt").write_bytes(b"0" * 100)
    return folder


def test_only_complete_runs_are_published_never_over_a_finished_one(tmp_path):
    work = tmp_path / "work" / "runs" / "p3_resnet50_weighted"
    half = _fake_run(work / "20260101-000000-smoke-synthetic-s0", "interrupted")
    with pytest.raises(ValueError, match="interrupted, not complete"):
        publish_run(half, tmp_path / "dest")
    assert find_interrupted(tmp_path / "work" / "runs", _job(tmp_path)) == half
    done = _fake_run(work / "20260102-000000-smoke-synthetic-s1", "complete", seed=1)
    published = publish_run(done, tmp_path / "dest", keep_checkpoint=True)
    assert (published / "checkpoints" / "best.pt").exists() and (published / "manifest.json").exists()
    with pytest.raises(FileExistsError, match="never replaced"):
        publish_run(done, tmp_path / "dest")
    staged = _fake_run(tmp_path / "dest" / ".staging" / "p3_resnet50_weighted" / "x-s2", "complete", seed=2)
    shutil.copytree(staged, tmp_path / "dest" / ".staging" / "flat")  # a copy cut short, at any depth
    assert list(list_runs(root=tmp_path / "dest")["path"]) == [str(published)]  # staging is never read as runs


def _fake_slurm(tmp_path: Path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    counter = bin_dir / "last_job_id"
    sbatch = f'n=$(cat {counter} 2>/dev/null || echo 4241); n=$((n + 1)); echo $n > {counter}; echo "Submitted batch job $n"'
    for name, body in {"sbatch": sbatch, "srun": "exit 0"}.items():
        tool = bin_dir / name
        tool.write_text(f"#!/bin/sh\n{body}\n")
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_slurm_job_scripts_carry_the_array_resources_time_and_environment(tmp_path, monkeypatch):
    _fake_slurm(tmp_path, monkeypatch)
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "data"))
    table = plan(only=P3, profile="smoke")
    planned = executors.planned_jobs(table, tmp_path / "work", None)
    planned += [executors.Planned(dataclasses.replace(_job(tmp_path), seed=s), minutes=30.0) for s in (1, 2)]
    outcomes = executors.submit_slurm(planned, tmp_path / "submitit", gpus=1, cpus=8, partition="gpu",
                                      array_parallelism=2, wait=False)
    assert [o["state"] for o in outcomes] == ["submitted"] * 4
    scripts = {p.read_text() for p in (tmp_path / "submitit").rglob("*.sh")}
    assert len(scripts) == 2  # one job array per experiment
    weighted = next(s for s in scripts if "fer-p3_resnet50_weighted" in s)
    assert "#SBATCH --array=0-2%2" in weighted and "#SBATCH --gpus-per-node=1" in weighted
    assert "#SBATCH --cpus-per-task=8" in weighted and "#SBATCH --partition=gpu" in weighted
    assert f"#SBATCH --time={int(np.ceil(30 * plan_module.MARGIN + plan_module.SETUP_MINUTES))}" in weighted
    assert f"export FER_DATA_DIR={tmp_path / 'data'}" in weighted and "export OMP_NUM_THREADS=8" in weighted
    assert "export PYTHONPATH=" in weighted and "submitit.core._submit" in weighted
    resampled = next(s for s in scripts if "fer-p3_resnet50_resampled" in s)
    assert "--array" not in resampled and "#SBATCH --time=2\n" in resampled  # one run: a plain job
    assert "#SBATCH --signal=USR2@24" in resampled  # warned before its limit, not at once


def test_preflight_checks_the_machine_and_its_calibration_replaces_the_estimates(tmp_path):
    # layout_steps=0: the CPU layout measurement has its own test (tests/test_campaign_cpu.py)
    result = preflight(only=["p3_resnet50_weighted"], profile="smoke", device="cpu", steps=1, batch=2, layout_steps=0)
    assert result.ok, result.checks
    assert {"library torch", "device", "bf16", "dataset synthetic", "train step resnet50@48"} <= set(result.checks["check"])
    write_calibration(tmp_path / "cal.json", result, "cpu")
    measured = read_calibration(tmp_path / "cal.json")
    assert list(measured) == [("resnet50", 48)] and measured[("resnet50", 48)] > 0
    table = plan(only=["p3_resnet50_weighted"], measured=measured, images={"p3_resnet50_weighted": 100})
    assert table["estimate source"].str.startswith("measured").all()
    assert read_concurrency(tmp_path / "cal.json")[0] == 1  # no CUDA: one run at a time
    assert read_concurrency(tmp_path / "cal.json", cpu=True)[0] == 1  # no CPU layout measured: one at a time
    with pytest.raises(ValueError, match="not a calibration file"):
        read_calibration(tmp_path / "missing.json")


def test_two_runs_share_a_gpu_only_when_one_leaves_it_idle():
    family = {"model": "m", "input_size": 48, "img_per_s": 1000.0}
    assert runs_per_gpu({"a": {**family, "img_per_s_double_batch": 1100.0}})[:2] == (1, 1.0)
    runs, slowdown, why = runs_per_gpu({"a": {**family, "img_per_s_double_batch": 1000.0 * (CONCURRENCY_GAIN + 0.35)}})
    assert runs == 2 and slowdown == pytest.approx(2 / 1.6, abs=0.01) and "two runs per GPU" in why


def _dataset_npz(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    arrays = {"images": rng.integers(0, 256, (70, 48, 48), dtype=np.uint8), "labels": np.arange(70) % 7,
              "split": np.array(["Training"] * 50 + ["PublicTest"] * 10 + ["PrivateTest"] * 10),
              "class_names": np.array(["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"])}
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "fer2013.npz", **arrays)  # as the shared files were made: not byte-reproducible here
    return folder / "fer2013.npz"


def test_a_dataset_travels_in_checked_parts_and_keeps_its_identity(tmp_path):
    original = _dataset_npz(tmp_path / "here")
    before = load_dataset("fer2013", tmp_path / "here")
    index = transfer.pack_dataset("fer2013", tmp_path / "out", tmp_path / "here", part_mb=0.05)
    parts = json.loads(index.read_text())["parts"]
    assert len(parts) >= 2 and all((tmp_path / "out" / p["file"]).stat().st_size <= 50_000 for p in parts)
    rebuilt = transfer.unpack_dataset(index, tmp_path / "there")
    after = load_dataset("fer2013", tmp_path / "there")
    assert np.array_equal(after.images, before.images) and np.array_equal(after.labels, before.labels)
    assert file_sha256(rebuilt) != file_sha256(original)  # another file, the same arrays: the same dataset
    assert after.sha256 == before.sha256 and "checked transfer" in after.source
    first = tmp_path / "out" / parts[0]["file"]
    first.write_bytes(first.read_bytes()[:-1] + b"\0")
    with pytest.raises(transfer.TransferError, match="damaged"):
        transfer.unpack_dataset(index, tmp_path / "elsewhere")


def test_records_come_back_in_at_most_eight_parts_and_never_replace_a_run(tmp_path):
    base = tmp_path / "record"
    run = _fake_run(base / "runs" / "p3_resnet50_weighted" / "20260102-000000-smoke-synthetic-s0", "complete")
    files = transfer.pack_records([run], tmp_path / "out", base=base)
    assert files[0].name == "records.json" and all(f.stat().st_size <= 16e6 for f in files)
    assert transfer.unpack_records(files[0], base=tmp_path / "other") == ["runs/p3_resnet50_weighted/" + run.name]
    assert (tmp_path / "other" / "runs" / "p3_resnet50_weighted" / run.name / "manifest.json").exists()
    with pytest.raises(FileExistsError, match="never replaced"):
        transfer.unpack_records(files[0], base=base)
    with pytest.raises(transfer.TransferError, match="more than 8 files"):
        transfer.pack_records([run], tmp_path / "tiny", part_mb=1e-5, base=base)
    with pytest.raises(ValueError, match="never enters the record"):  # a smoke run, unpacked into the record
        transfer.unpack_records(files[0], base=record_dir())
    assert not list(record_dir().glob("runs/*/*"))
