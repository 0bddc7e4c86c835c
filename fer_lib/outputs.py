"""Saving what notebooks show: tables (CSV + Markdown) and figures (PNG) under results/<section>/."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fer_lib.paths import results_dir


def section_dir(section: str) -> Path:
    """results/<section>/, created on demand (section = notebook stem, e.g. '01_data_exploration')."""
    path = results_dir() / section
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_text(path: Path, text: str) -> None:
    """Write text so that a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be read by anyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_table(df, section: str, name: str, index: bool = False) -> Path:
    """Save a pandas DataFrame as <name>.csv and <name>.md; returns the CSV path."""
    out = section_dir(section)
    atomic_write_text(out / f"{name}.csv", df.to_csv(index=index))
    atomic_write_text(out / f"{name}.md", df.to_markdown(index=index) + "\n")
    return out / f"{name}.csv"


def save_figure(fig, section: str, name: str, dpi: int = 120) -> Path:
    """Save a matplotlib figure as <name>.png; returns its path."""
    path = section_dir(section) / f"{name}.png"
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def save_note(section: str, text: str, name: str = "notes") -> Path:
    """Save a short Markdown note (what ran, on which data, what was unavailable) shown in the report."""
    path = section_dir(section) / f"{name}.md"
    atomic_write_text(path, text.rstrip() + "\n")
    return path


def record_runs(section: str, run_dirs) -> Path:
    """List the run directories a section's tables and figures were computed from (linked in the report)."""
    import json

    root = results_dir()
    rels = []
    for run_dir in run_dirs:
        path = Path(run_dir).resolve()
        rels.append(str(path.relative_to(root)) if path.is_relative_to(root) else str(path))
    path = section_dir(section) / "runs.json"
    atomic_write_text(path, json.dumps(sorted(set(rels)), indent=1) + "\n")
    return path
