"""Bad training / evaluation inputs through the CLI, and resume that cannot lie: the configuration comes from
the manifest, conflicting arguments and other code are refused, one live writer per run, dead writers are
told from live ones, temp files are cleaned, kill -9 then resume is byte-identical."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from fer_lib.engine import resume as engine
from fer_lib.cli import main
from fer_lib.config import load_config
from fer_lib.devices import cpu_bf16_native
from fer_lib.runs.store import RunRecorder, load_run, timing_conditions
from fer_lib.runs.lock import RunBusyError, RunLock, clean_temp_files, writer_alive
from fer_lib.engine.resume import ResumeConflict
from fer_lib.engine.experiment import run_experiment

REPO = Path(__file__).resolve().parent.parent
TINY = ["--set", "model.name=tiny_cnn", "--set", "model.options={width: 8}", "--set", "evaluate.bootstrap=20"]
TIMING = ["epoch_s", "img_per_s", "load_1m"]  # measured, not computed: never compared


def tiny(**overrides) -> dict:
    base = {"model.name": "tiny_cnn", "model.options": {"width": 8}, "evaluate.bootstrap": 20}
    return load_config("p3_resnet50_weighted", "smoke", {**base, **overrides})


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture()
def interrupted_run(tmp_path) -> Path:
    """A 4-epoch run stopped after its second epoch (status interrupted, last.pt at epoch 2)."""
    def stop(epoch, row):
        if epoch == 2:
            raise KeyboardInterrupt("simulated")

    with pytest.raises(KeyboardInterrupt):
        run_experiment(tiny(**{"train.epochs": 4}), seed=1, device="cpu", out_root=tmp_path, on_epoch_end=stop)
    (run,) = (tmp_path / "p3_resnet50_weighted").iterdir()
    return run


# ---------------------------------------------------------------- config values and budgets

def test_set_takes_exponent_numbers(tmp_path, capsys):
    rc, out, err = _main(capsys, "train", "p3_resnet50_weighted", *TINY, "--set", "optim.lr=3e-4")
    assert rc == 0, err
    assert load_run(Path(out.strip().splitlines()[-1])).manifest["config"]["optim"]["lr"] == pytest.approx(3e-4)


@pytest.mark.parametrize("override, message", [
    ("optim.lr=fast", "optim.lr must be a number, got 'fast'"),
    ("train.early_stopping=5", "train.early_stopping must be a mapping like {metric: ..., patience: ...}, got 5"),
    ("train.early_stopping={metric: val_acc, patience: 0}", "patience must be a positive integer or null"),
    ("train.batch_size=lots", "train.batch_size must be a number"),
    ("optim.lr", "--set expects KEY=VALUE"),
])
def test_bad_set_values_are_clear_errors(capsys, override, message):
    rc, _, err = _main(capsys, "train", "p3_resnet50_weighted", "--set", override)
    assert rc == 2 and message in err and "Traceback" not in err, err


@pytest.mark.parametrize("epochs", ["0", "-3", "two"])
def test_epochs_must_be_positive(capsys, epochs):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "p3_resnet50_weighted", "--epochs", epochs])
    assert exit_info.value.code == 2 and "must be a positive integer" in capsys.readouterr().err
    assert not list(Path(os.environ["FER_SCRATCH_DIR"]).glob("runs/*/*"))  # no run folder left behind


def test_split_spec_without_val_is_refused_before_training(capsys):
    rc, _, err = _main(capsys, "train", "p3_resnet50_weighted", "--set",
                       "data.splits={train: [train], test: [test]}")
    assert rc == 2 and "has no 'val'" in err and "holdout" in err, err
    assert not list(Path(os.environ["FER_SCRATCH_DIR"]).glob("runs/*/*"))


@pytest.mark.parametrize("extra", ["[train]", "[val]"])
def test_extra_split_overlapping_train_or_val_is_refused(capsys, extra):
    rc, _, err = _main(capsys, "train", "p3_resnet50_weighted", *TINY, "--set",
                       f"data.splits={{train: [train], val: [val], test: [test], extra: {{leak: {extra}}}}}")
    assert rc == 2 and "in both" in err and "leak" in err, err
    assert not list(Path(os.environ["FER_SCRATCH_DIR"]).glob("runs/*/*"))


# ---------------------------------------------------------------- damaged checkpoints

@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_damaged_checkpoint_is_a_clear_error_everywhere(interrupted_run, capsys, damage):
    for name in ("best.pt", "last.pt"):
        path = interrupted_run / "checkpoints" / name
        path.write_bytes(b"" if damage == "empty" else path.read_bytes()[:1000])
    expected = "is empty" if damage == "empty" else "is truncated or corrupt"
    rc, _, err = _main(capsys, "evaluate", str(interrupted_run), "--device", "cpu")
    assert rc == 2 and expected in err and "best.pt" in err and "Traceback" not in err, err
    rc, _, err = _main(capsys, "train", "p3_resnet50_weighted", "--resume", str(interrupted_run))
    assert rc == 2 and expected in err and "last.pt" in err, err
    image = interrupted_run.parent / "face.png"
    from PIL import Image

    Image.fromarray(torch.randint(0, 255, (48, 48), dtype=torch.uint8).numpy()).save(image)
    rc, _, err = _main(capsys, "live", str(image), "--run", str(interrupted_run), "--out",
                       str(interrupted_run.parent / "out.png"), "--detector", "full", "--device", "cpu")
    assert rc == 2 and expected in err and "Traceback" not in err, err


# ---------------------------------------------------------------- resume that cannot lie

@pytest.mark.parametrize("args, message", [
    (["--epochs", "3"], "--epochs 3, but the run's budget is 4 epochs"),
    (["--seed", "5"], "--seed 5, but the run used seed 1"),
    (["--profile", "full"], "--profile full, but the run used 'smoke'"),
    (["--set", "optim.lr=0.1"], "--set optim.lr=0.1, but the run has optim.lr=0.001"),
])
def test_resume_refuses_arguments_that_differ_from_the_manifest(interrupted_run, capsys, args, message):
    before = (interrupted_run / "manifest.json").read_text()
    rc, _, err = _main(capsys, "train", "p3_resnet50_weighted", "--resume", str(interrupted_run), *args)
    assert rc == 2 and message in err and "takes its configuration from its manifest" in err, err
    assert (interrupted_run / "manifest.json").read_text() == before  # refused before touching the run


def test_resume_refuses_another_experiment(interrupted_run, capsys):
    rc, _, err = _main(capsys, "train", "p3_resnet50_resampled", "--resume", str(interrupted_run))
    assert rc == 2 and "config 'p3_resnet50_resampled', but the run is of 'p3_resnet50_weighted'" in err


def test_resume_with_the_same_values_is_allowed(interrupted_run, capsys):
    rc, out, err = _main(capsys, "train", "p3_resnet50_weighted", "--resume", str(interrupted_run),
                         "--epochs", "4", "--seed", "1", "--set", "optim.lr=0.001")
    assert rc == 0, err
    m = load_run(interrupted_run).manifest
    assert m["status"] == "complete" and m["epochs_run"] == 4


def test_resume_refuses_code_at_another_commit(interrupted_run, monkeypatch):
    monkeypatch.setattr(engine, "git_info", lambda: {"commit": "f" * 40, "dirty": False})
    with pytest.raises(ResumeConflict, match=r"trained by the code at commit .* git worktree add"):
        run_experiment(None, device="cpu", resume=interrupted_run)


def test_a_complete_run_is_not_resumed(tmp_path):
    run = run_experiment(tiny(), seed=0, device="cpu", out_root=tmp_path)
    with pytest.raises(ResumeConflict, match="the run is complete"):
        run_experiment(None, device="cpu", resume=run)


def test_old_records_without_schema_version_still_load_and_resume(interrupted_run):
    path = interrupted_run / "manifest.json"
    m = json.loads(path.read_text())
    m.pop("schema_version")
    m.pop("precision_setting")
    m["config"]["train"]["amp"] = "auto"
    m["config"]["train"].pop("precision")
    path.write_text(json.dumps(m))
    assert load_run(interrupted_run).config["train"]["precision"] == "fp32"
    run_experiment(None, device="cpu", resume=interrupted_run)
    assert load_run(interrupted_run).status == "complete"


def test_a_run_resumed_on_another_machine_keeps_its_precision_and_says_where_it_resumed(interrupted_run, capsys):
    # As if it had started on another CPU where `auto` resolved to the precision it does not resolve to here.
    path = interrupted_run / "manifest.json"
    m = json.loads(path.read_text())
    started_in = "float32" if cpu_bf16_native() else "bfloat16"
    m["config"]["train"]["precision"] = m["precision_setting"] = "auto"
    m.update(precision=started_in, device="Other CPU (4 threads)", cpu_capability="other-isa")
    path.write_text(json.dumps(m))

    run_experiment(None, device="cpu", resume=interrupted_run)
    m = load_run(interrupted_run).manifest
    (resumed,) = m["resumed"]
    assert m["status"] == "complete" and m["precision"] == started_in
    assert resumed["precision"] == started_in and resumed["after_epoch"] == 2
    assert resumed["device"] != "Other CPU (4 threads)" and resumed["cpu_capability"] != "other-isa"
    assert "started on Other CPU (4 threads) (other-isa) and resumes on" in capsys.readouterr().err
    assert timing_conditions(m).startswith("Other CPU (4 threads), other-isa, ")
    assert f"; resumed on {resumed['device']}, {resumed['cpu_capability']}, " in timing_conditions(m)


def test_resume_accepts_the_precision_setting_the_run_started_with(interrupted_run, capsys):
    path = interrupted_run / "manifest.json"
    m = json.loads(path.read_text())
    m["config"]["train"]["precision"] = m["precision_setting"] = "auto"
    path.write_text(json.dumps(m))
    rc, _, err = _main(capsys, "train", "p3_resnet50_weighted", "--resume", str(interrupted_run),
                       "--set", "train.precision=bf16")
    assert rc == 2 and "--set train.precision='bf16', but the run has train.precision='fp32'" in err, err
    rc, _, err = _main(capsys, "train", "p3_resnet50_weighted", "--resume", str(interrupted_run),
                       "--set", "train.precision=auto")
    assert rc == 0, err


def test_an_fp16_run_resumes_only_on_a_gpu(interrupted_run, capsys):
    path = interrupted_run / "manifest.json"
    m = json.loads(path.read_text())
    m["config"]["train"]["precision"], m["precision"] = "auto", "float16"
    path.write_text(json.dumps(m))
    rc, _, err = _main(capsys, "train", "p3_resnet50_weighted", "--resume", str(interrupted_run), "--device", "cpu")
    assert rc == 2 and "it trains in fp16" in err and "resume it on a GPU" in err, err
    assert json.loads(path.read_text()) == m  # refused before touching the run


def test_a_kill_between_last_pt_and_the_history_is_made_good_on_resume(tmp_path, monkeypatch):
    write_history = RunRecorder.write_history

    def killed_after_last_pt(self, rows):
        if len(rows) == 2:
            raise KeyboardInterrupt("killed after last.pt of epoch 2 was saved")
        write_history(self, rows)

    monkeypatch.setattr(RunRecorder, "write_history", killed_after_last_pt)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(tiny(**{"train.epochs": 2}), seed=0, device="cpu", out_root=tmp_path)
    monkeypatch.setattr(RunRecorder, "write_history", write_history)
    (run,) = (tmp_path / "p3_resnet50_weighted").iterdir()
    assert load_run(run).manifest["epochs_run"] == 1 and len(load_run(run).history) == 1  # behind last.pt
    run_experiment(None, device="cpu", resume=run)  # nothing left to train: only the records and the evaluation
    done = load_run(run)
    assert done.status == "complete" and done.manifest["epochs_run"] == 2 and list(done.history["epoch"]) == [1, 2]


def test_one_live_writer_and_running_told_from_dead(tmp_path):
    seen = {}

    def probe(epoch, row):
        run_dir = next((tmp_path / "p3_resnet50_weighted").iterdir())
        seen["status"] = load_run(run_dir).status
        with pytest.raises(RunBusyError, match=r"is being written by pid \d+ on host"):
            with RunLock(run_dir):
                pass

    run = run_experiment(tiny(**{"train.epochs": 2}), seed=0, device="cpu", out_root=tmp_path, on_epoch_end=probe)
    assert seen["status"] == "running" and load_run(run).status == "complete"
    assert not (run / "lock.json").exists() and not writer_alive(run)


def _cli_env() -> dict:
    return {**os.environ, "FER_PROGRESS": "0", "OMP_NUM_THREADS": "1"}


def _start_training(out_root: Path, epochs: int) -> subprocess.Popen:
    env = {**_cli_env(), "FER_SCRATCH_DIR": str(out_root)}
    return subprocess.Popen([sys.executable, "-m", "fer_lib", "train", "p3_resnet50_weighted", *TINY,
                             "--set", "data.options={n_per_class: 40, size: 48}", "--set",
                             "data.max_samples={train: null, val: null, test: null}", "--epochs", str(epochs),
                             "--device", "cpu"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_epochs(out_root: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for history in out_root.glob("runs/*/*/history.csv"):
            if len(pd.read_csv(history)) >= n:
                return history.parent
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("training did not reach the epoch in time")


@pytest.mark.slow
def test_kill_9_then_resume_is_byte_identical_to_an_uninterrupted_run(tmp_path):
    epochs = 12
    full = _start_training(tmp_path / "a", epochs)
    assert full.wait(timeout=300) == 0, full.communicate()
    (done,) = (tmp_path / "a").glob("runs/*/*")
    victim = _start_training(tmp_path / "b", epochs)
    run = _wait_for_epochs(tmp_path / "b", 2, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert load_run(run).manifest["status"] == "running" and load_run(run).status == "interrupted"
    (run / "checkpoints" / ".last.pt.dead").write_bytes(b"half")  # what a kill mid-save leaves
    (run / ".metrics.json.x1").write_text("{")
    resumed = subprocess.run([sys.executable, "-m", "fer_lib", "train", "p3_resnet50_weighted", "--resume", str(run),
                              "--device", "cpu"], cwd=REPO, env=_cli_env(), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not list(run.rglob(".*")), list(run.rglob(".*"))
    a = torch.load(done / "checkpoints" / "last.pt", weights_only=False)["model_state"]
    b = torch.load(run / "checkpoints" / "last.pt", weights_only=False)["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    pd.testing.assert_frame_equal(load_run(done).history.drop(columns=TIMING),
                                  load_run(run).history.drop(columns=TIMING), check_exact=True)
    assert (done / "metrics.json").read_bytes() == (run / "metrics.json").read_bytes()
    assert (done / "predictions_test.csv").read_bytes() == (run / "predictions_test.csv").read_bytes()


@pytest.mark.slow
def test_sigterm_marks_the_run_interrupted_without_a_traceback(tmp_path):
    proc = _start_training(tmp_path, 200)
    run = _wait_for_epochs(tmp_path, 1, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted (signal 15)" in err, err[-2000:]
    m = load_run(run).manifest
    assert m["status"] == "interrupted" and m["interrupted"].startswith("KeyboardInterrupt")


# ---------------------------------------------------------------- temp files and the report

def test_temp_files_are_cleaned_and_never_embedded_in_the_report(tmp_path, monkeypatch):
    from fer_lib.study.report import build_report

    monkeypatch.setenv("FER_RESULTS_DIR", str(tmp_path))
    section = tmp_path / "03_resnet50_fer2013"
    section.mkdir()
    (section / "curves.png").write_bytes(b"png")
    old = time.time() - 3600
    for name in (".curves.png.tmp.png", ".index.html.abcd", ".table.csv.x1"):
        (section / name).write_bytes(b"x")
        os.utime(section / name, (old, old))
    (section / ".fresh.png.tmp.png").write_bytes(b"x")  # a write may be under way: kept
    html = build_report(tmp_path).read_text()
    assert "curves.png" in html and ".curves.png.tmp.png" not in html and ".fresh" not in html
    assert sorted(p.name for p in section.iterdir()) == [".fresh.png.tmp.png", "curves.png"]
    assert clean_temp_files(section, min_age_s=0) == [section / ".fresh.png.tmp.png"]
