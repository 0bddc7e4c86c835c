"""Saving what notebooks show: tables (CSV + Markdown) and figures (PNG) under results/<section>/."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from fer_lib.paths import PROJECT_ROOT, data_dir, results_dir


# Figures that show dataset images (the datasets' terms forbid redistribution): kept out of git
# (see .gitignore, which lists the same patterns) and never embedded in the committed report.
DATASET_IMAGE_FIGURES = ("samples_*.png", "*misclassified*.png", "gradcam*.png", "near_duplicates*.png")


# Executed notebooks that embed dataset images: git-ignored as well (see .gitignore).
LOCAL_ONLY_NOTEBOOKS = frozenset({"01_data_exploration", "08_analysis"})


def shows_dataset_images(path: Path) -> bool:
    """Whether a figure shows dataset images (local-only); the synthetic sample grid does not."""
    path = Path(path)
    if path.name == "samples_synthetic.png":
        return False
    return any(path.match(pattern) for pattern in DATASET_IMAGE_FIGURES)


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


# An absolute path's folders (not a URL's): "/work/x/data/a.npz" -> "<dir>/a.npz".
_ABSOLUTE_DIRS = re.compile(r"(?<![\w.:/~<+-])/(?:[\w.+-]+/)+")


def portable(text: str) -> str:
    """Text without the absolute paths of the machine it was made on: the data directory reads
    `<data dir>`, the project `<project>`, any other absolute folder `<dir>` (file names are kept)."""
    for root, name in ((data_dir(), "<data dir>"), (PROJECT_ROOT, "<project>")):
        text = text.replace(str(root), name)
    return _ABSOLUTE_DIRS.sub("<dir>/", text)


_TIMING_KEYS = ("start_time", "end_time", "duration")
_STYLER_ID = re.compile(r"T_[0-9a-f]{5}(?![0-9a-f])")
_ADDRESS = re.compile(r" at 0x[0-9a-f]+>")


def portable_notebook(path: Path) -> None:
    """Rewrite an executed notebook without absolute paths in its sources and text outputs (images untouched)
    and without execution timestamps, so that the same inputs give the same file."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number:03d}"  # papermill gives the injected-parameters cell a random id
        cell.source = portable(cell.source)
        cell.metadata.pop("execution", None)
        for key in _TIMING_KEYS:
            cell.metadata.get("papermill", {}).pop(key, None)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = portable(output["text"])
            for key in ("text/plain", "text/html", "text/markdown"):
                if key in output.get("data", {}):
                    value = output["data"][key]
                    value = portable("".join(value) if isinstance(value, list) else value)
                    value = _STYLER_ID.sub("T_table", value)  # pandas Styler's random table ids
                    output["data"][key] = _ADDRESS.sub(">", value)  # "<... object at 0x7f...>" reprs
            if "traceback" in output:
                output["traceback"] = [portable(line) for line in output["traceback"]]
    if "papermill" in nb.metadata:  # input/output paths and the injected parameters
        nb.metadata["papermill"] = _portable_tree({k: v for k, v in nb.metadata["papermill"].items()
                                                   if k not in _TIMING_KEYS})
    atomic_write_text(Path(path), nbformat.writes(nb))


def _portable_tree(node):
    if isinstance(node, str):
        return portable(node)
    if isinstance(node, dict):
        return {k: _portable_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_portable_tree(v) for v in node]
    return node


def _portable_frame(df):
    out = df.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype).startswith("str"):
            out[column] = out[column].map(lambda v: portable(v) if isinstance(v, str) else v)
    return out


def save_table(df, section: str, name: str, index: bool = False) -> Path:
    """Save a pandas DataFrame as <name>.csv and <name>.md (absolute paths made portable); the CSV path."""
    out = section_dir(section)
    df = _portable_frame(df)
    atomic_write_text(out / f"{name}.csv", df.to_csv(index=index))
    atomic_write_text(out / f"{name}.md", df.to_markdown(index=index) + "\n")
    return out / f"{name}.csv"


LOCAL_ONLY_LIST = "local_only.json"


def save_figure(fig, section: str, name: str, dpi: int = 120) -> Path:
    """Save a matplotlib figure as <name>.png; returns its path. A figure that shows dataset images is also
    listed in <section>/local_only.json (committed), so the report names it the same way in every clone."""
    path = section_dir(section) / f"{name}.png"
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    os.replace(tmp, path)
    if shows_dataset_images(path):
        listed = set(local_only_figures(path.parent)) | {path.name}
        atomic_write_text(path.parent / LOCAL_ONLY_LIST, json.dumps(sorted(listed), indent=1) + "\n")
    return path


def local_only_figures(section: Path) -> list[str]:
    """File names of a section's figures that show dataset images (kept out of git)."""
    try:
        return list(json.loads((Path(section) / LOCAL_ONLY_LIST).read_text()))
    except (OSError, ValueError):
        return []


def save_note(section: str, text: str, name: str = "notes") -> Path:
    """Save a short Markdown note (what ran, on which data, what was unavailable) shown in the report."""
    path = section_dir(section) / f"{name}.md"
    atomic_write_text(path, portable(text).rstrip() + "\n")
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
