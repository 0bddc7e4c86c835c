"""Where the study reads data from and writes results to."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "FER_DATA_DIR"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory: `explicit`, else $FER_DATA_DIR, else ./data."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path("data").resolve()


def cache_dir(data_root: Path | None = None) -> Path:
    """Where prepared `<name>.npz` caches are written ($FER_CACHE_DIR, else <data dir>/.prepared)."""
    env = os.environ.get("FER_CACHE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return (data_root or data_dir()) / ".prepared"


OUTPUT_ENV = "FER_OUTPUT"  # "record" (default) or "scratch": where this process writes


def record_dir() -> Path:
    """The study's record: what real-data runs produced and the report built from them
    ($FER_RESULTS_DIR, else <project>/results, committed)."""
    env = os.environ.get("FER_RESULTS_DIR")
    return Path(env).expanduser().resolve() if env else PROJECT_ROOT / "results"


def scratch_dir() -> Path:
    """Scratch space for pipeline checks on the embedded synthetic data ($FER_SCRATCH_DIR, else
    <project>/scratch, git-ignored): same layout as the record, never pooled into it."""
    env = os.environ.get("FER_SCRATCH_DIR")
    return Path(env).expanduser().resolve() if env else PROJECT_ROOT / "scratch"


def scratch_mode() -> bool:
    """Whether this process writes to the scratch space ($FER_OUTPUT=scratch, set by `reproduce` for
    pipeline checks) instead of the record."""
    return os.environ.get(OUTPUT_ENV, "record") == "scratch"


def results_dir() -> Path:
    """Where this process reads and writes tables, figures, runs and the report: the record, or the
    scratch space in scratch mode."""
    return scratch_dir() if scratch_mode() else record_dir()


def runs_dir_for(dataset: str, profile: str | None = "full") -> Path:
    """Where a new run is written: only real-data runs at the full profile may enter the record; runs on the
    embedded synthetic data or at a smoke profile always go to the scratch space, whatever the mode."""
    record_worthy = dataset != "synthetic" and profile == "full"
    return (results_dir() if record_worthy else scratch_dir()) / "runs"
