"""Shared fixtures: real data location, an isolated results directory, quiet threads."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see fer_lib/__init__.py
# Tests pin fp32: train.precision "auto" would pick bf16 autocast on CPUs with AMX / AVX512-BF16.
os.environ["FER_CPU_BF16"] = "0"

import pytest

REPO = Path(__file__).resolve().parent.parent


def _real_data_dir() -> Path | None:
    env = os.environ.get("FER_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for path in candidates:
        if (path / "fer2013.npz").exists() or (path / "fer2013.csv").exists():
            return path.resolve()
    return None


REAL_DATA_DIR = _real_data_dir()


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The directory holding the real datasets; skips the test when there is none."""
    if REAL_DATA_DIR is None:
        pytest.skip("real datasets not found: set FER_DATA_DIR (see README, 'Data')")
    return REAL_DATA_DIR


@pytest.fixture(autouse=True)
def isolated_results(tmp_path_factory, monkeypatch):
    """Tests never write into the project's results/ or prepared caches."""
    monkeypatch.setenv("FER_RESULTS_DIR", str(tmp_path_factory.mktemp("results")))
    monkeypatch.setenv("FER_SCRATCH_DIR", str(tmp_path_factory.mktemp("scratch")))
    monkeypatch.delenv("FER_OUTPUT", raising=False)
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path_factory.mktemp("prepared")))


def pytest_configure(config):
    import torch

    # One intra-op thread: on a 2-core machine a second thread stalls whenever the other core is busy.
    torch.set_num_threads(1)
