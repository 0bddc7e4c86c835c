"""The study's committed real-data runs still load and re-evaluate with today's code.

Checkpoints are not in git, so in a clone this checks what can be checked without them: the stored
config upgrades and validates, and the run's data and splits rebuild exactly (same dataset sha256,
split sizes, and the very test images its predictions list). Where the checkpoint is present (on the
machine that trained it) `evaluate RUN` must give back the recorded metrics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_lib.config import split_spec, validate
from fer_lib.data import load_dataset, split_indices
from fer_lib.engine.evaluate import evaluate_run
from fer_lib.runs.store import load_run
from fer_lib.engine.batches import limit_indices

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted(p.parent for p in (REPO / "results" / "runs").glob("*/*/manifest.json")
                   if load_run(p.parent).manifest.get("dataset", {}).get("real")
                   and load_run(p.parent).manifest.get("status") == "complete")


@pytest.mark.parametrize("run_dir", COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_config_still_validates(run_dir):
    cfg = load_run(run_dir).config
    validate({**cfg, "profile": cfg.get("profile")}, where=str(run_dir / "manifest.json"))


@pytest.mark.real_data
@pytest.mark.parametrize("run_dir", COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_run_rebuilds_its_data_and_reevaluates(run_dir, real_data_dir):
    run = load_run(run_dir)
    cfg, seed = run.config, int(run.manifest["seed"])
    ds = load_dataset(cfg["data"]["dataset"], real_data_dir, **(cfg["data"]["options"] or {}))
    assert ds.sha256 == run.manifest["dataset"]["sha256"]
    indices = limit_indices(split_indices(ds, split_spec(cfg), seed), cfg["data"]["max_samples"], seed)
    sizes = {k: v for k, v in run.manifest["split_sizes"].items() if k != "train_fit"}
    assert {k: len(v) for k, v in indices.items()} == sizes
    for split in [s for s in indices if (run_dir / f"predictions_{s}.csv").exists()]:
        listed = pd.read_csv(run_dir / f"predictions_{split}.csv")["index"].to_numpy()
        np.testing.assert_array_equal(listed, indices[split])
    if (run_dir / "checkpoints" / "best.pt").exists():
        again = evaluate_run(run_dir, splits=["test"], data_dir=real_data_dir, write=False)
        assert again["test"] == run.metrics["test"]
