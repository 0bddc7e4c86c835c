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


def results_dir() -> Path:
    """Root of generated reports ($FER_RESULTS_DIR, else <project>/results)."""
    env = os.environ.get("FER_RESULTS_DIR")
    return Path(env).expanduser().resolve() if env else PROJECT_ROOT / "results"
