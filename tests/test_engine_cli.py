"""`python -m fer_lib train CONFIG --profile smoke` and `evaluate RUN_DIR` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fer_lib.cli import main

REPO = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FER_PROGRESS": "0"}
    return subprocess.run([sys.executable, "-m", "fer_lib", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_train_smoke_then_evaluate(capsys):
    proc = _cli("train", "p3_resnet50_weighted", "--profile", "smoke", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert run_dir.is_dir() and (run_dir / "manifest.json").exists(), proc.stdout[-2000:]
    # a run on the embedded synthetic data goes to the scratch space, never into the record
    assert run_dir.is_relative_to(Path(os.environ["FER_SCRATCH_DIR"])), (run_dir, os.environ["FER_SCRATCH_DIR"])
    assert not list(Path(os.environ["FER_RESULTS_DIR"]).rglob("manifest.json"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["model"]["name"] == "resnet50"
    assert main(["evaluate", str(run_dir), "--split", "test", "--device", "cpu"]) == 0  # in-process: saves an import
    metrics = json.loads(capsys.readouterr().out)
    stored = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"] == stored["test"], (metrics["test"], stored["test"])


def test_cli_errors_are_clear(capsys, tmp_path):
    assert main(["train", "no_such_config"]) == 2
    assert "no experiment config" in capsys.readouterr().err
    assert main(["train", "p3_resnet50_weighted", "--set", "train.epochz=1"]) == 2
    assert "epochz" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
