"""Run records: results/runs/<experiment>/<run_id>/ with manifest, history, metrics and checkpoints.

Layout (see the project contract):
    manifest.json   written at start (status "running"), updated every epoch and at the end
                    ("complete"); a run stopped by an error or Ctrl-C is marked "interrupted"
    history.csv     one row per epoch
    metrics.json    {split: compute_metrics(...)} for the held-out splits, from the best checkpoint
    confusion_<split>.csv, predictions_<split>.csv, figures/*.png
    checkpoints/best.pt, checkpoints/last.pt (git-ignored)
Every file is written atomically (temp file + os.replace). Tables and verdicts elsewhere are computed
from these records only.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fer_lib.config import upgrade_stored_config
from fer_lib.outputs import atomic_write_text
from fer_lib.paths import results_dir, runs_dir_for
from fer_lib.runs.lock import writer_alive

MANIFEST = "manifest.json"


# 1: the first records (train.amp in the config, no lock); 2: train.precision, schema_version, run lock.
SCHEMA_VERSION = 2


HISTORY_COLUMNS = ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "val_f1_weighted",
                   "epoch_s", "img_per_s", "load_1m"]  # load_1m: 1-minute load average at the epoch's end


def utc_now() -> str:
    """Current UTC time, ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def runs_root(root: str | Path | None = None) -> Path:
    """Where run directories live: `root`, else results_dir()/runs."""
    return Path(root) if root else results_dir() / "runs"


def write_json(path: Path, obj: Any) -> None:
    """Atomically write JSON (numpy scalars and paths are converted)."""
    atomic_write_text(Path(path), json.dumps(obj, indent=1, default=_json_default) + "\n")


def write_csv(path: Path, df: pd.DataFrame, index: bool = False) -> None:
    """Atomically write a DataFrame as CSV."""
    atomic_write_text(Path(path), df.to_csv(index=index))


def save_torch(path: Path, obj: Any) -> None:
    """Atomically torch.save `obj` to `path`."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def new_run_dir(experiment: str, profile: str, dataset: str, seed: int, root: str | Path | None = None) -> Path:
    """Create <runs>/<experiment>/<UTC yyyymmdd-HHMMSS>-<profile>-<dataset>-s<seed>[-N]/; <runs> is `root`,
    else fer_lib.paths.runs_dir_for(dataset) (synthetic-data runs go to the scratch space)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = (Path(root) if root else runs_dir_for(dataset, profile)) / experiment
    base.mkdir(parents=True, exist_ok=True)
    run_id = f"{stamp}-{profile}-{dataset}-s{seed}"
    for n in range(1000):
        path = base / (run_id if n == 0 else f"{run_id}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a run directory under {base}")


class RunRecorder:
    """Writes one run's records as training progresses."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self.manifest: dict = {}
        if (self.dir / MANIFEST).exists():
            self.manifest = json.loads((self.dir / MANIFEST).read_text())

    @property
    def checkpoint_dir(self) -> Path:
        return self.dir / "checkpoints"

    def update(self, **fields: Any) -> None:
        """Merge fields into the manifest and rewrite it."""
        self.manifest.update(fields)
        write_json(self.dir / MANIFEST, self.manifest)

    def write_history(self, rows: list[dict]) -> None:
        """Rewrite history.csv from the list of per-epoch rows."""
        df = pd.DataFrame(rows, columns=HISTORY_COLUMNS) if rows else pd.DataFrame(columns=HISTORY_COLUMNS)
        write_csv(self.dir / "history.csv", df)

    def write_metrics(self, metrics: dict) -> None:
        """Write metrics.json ({split: metrics})."""
        write_json(self.dir / "metrics.json", metrics)

    def write_split_outputs(self, split: str, confusion: pd.DataFrame, predictions: pd.DataFrame) -> None:
        """confusion_<split>.csv (counts, true x pred) and predictions_<split>.csv."""
        write_csv(self.dir / f"confusion_{split}.csv", confusion, index=True)
        write_csv(self.dir / f"predictions_{split}.csv", predictions)

    def save_figure(self, fig, name: str) -> Path:
        """Save a matplotlib figure under figures/<name>.png and close it."""
        import matplotlib.pyplot as plt

        path = self.dir / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.png")
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
        plt.close(fig)
        return path


@dataclass
class Run:
    """A run directory read back: manifest, history and metrics."""

    path: Path
    manifest: dict
    history: pd.DataFrame
    metrics: dict = field(default_factory=dict)

    @property
    def experiment(self) -> str:
        return self.manifest.get("experiment", self.path.parent.name)

    @property
    def status(self) -> str:
        """complete | running | interrupted: a manifest still saying "running" whose writer is dead (killed,
        machine gone) reads as interrupted."""
        return effective_status(self.path, self.manifest)

    @property
    def config(self) -> dict:
        """The run's config in today's schema (records of earlier schema versions are upgraded)."""
        return stored_config(self.manifest)

    def confusion(self, split: str = "test") -> pd.DataFrame:
        """The counts confusion matrix of a split (index true class, columns predicted)."""
        return pd.read_csv(self.path / f"confusion_{split}.csv", index_col=0)

    def predictions(self, split: str = "test") -> pd.DataFrame:
        """Per-image predictions of a split."""
        return pd.read_csv(self.path / f"predictions_{split}.csv")


def effective_status(run_dir: Path, manifest: dict) -> str:
    """The manifest's status, with "running" turned into "interrupted" when no live process writes the run."""
    status = manifest.get("status", "unknown")
    if status == "running" and not writer_alive(run_dir):
        return "interrupted"
    return status


def recorded_data_dir(manifest: dict) -> str | None:
    """The data directory a run recorded, when it is a usable path here (records written since schema 2 keep
    it portable, `<data dir>`, which means: the default resolution, $FER_DATA_DIR then ./data)."""
    value = manifest.get("data_dir")
    return None if not value or str(value).startswith("<") else str(value)


def precision_name(manifest: dict) -> str:
    """The precision a run trained in, short: bf16, fp16 or fp32 (the manifest records the torch dtype name);
    "unrecorded" for a manifest that predates the field."""
    value = manifest.get("precision")
    if value is None:
        return "unrecorded"
    return {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}.get(str(value), str(value))


def _conditions_label(record: dict) -> str:
    parts = (record.get("device"), record.get("cpu_capability"), precision_name(record))
    return ", ".join(str(part) for part in parts if part)


def _timed_conditions(manifest: dict) -> list[str]:
    """The distinct conditions that timed at least one epoch of a run, in order: where it started, then where each
    resume ran ("unrecorded conditions" for a resume that recorded only its time, as before 2026-12-07). A resume
    times the epochs up to the next resume's start (or the last epoch run); one that timed none (killed again, or
    only the final evaluation left) adds nothing, and neither does a start whose first epoch never ended."""
    resumes = list(manifest.get("resumed") or [])
    starts = [0] + [int(e.get("after_epoch") or 0) if isinstance(e, dict) else None for e in resumes]
    labels = [_conditions_label(manifest)] + [_conditions_label(e) if isinstance(e, dict) else "unrecorded conditions"
                                              for e in resumes]
    ends = starts[1:] + [int(manifest.get("epochs_run") or 0)]
    seen: list[str] = []
    for label, start, end in zip(labels, starts, ends):
        timed_none = start is not None and end is not None and end <= start
        if not timed_none and label not in seen:
            seen.append(label)
    return seen or labels[:1]


def resumed_elsewhere(manifest: dict) -> list[str]:
    """The conditions, other than the first, under which a run's epochs were timed (see _timed_conditions)."""
    return _timed_conditions(manifest)[1:]


def timing_conditions(manifest: dict) -> str:
    """What a run's epoch times depend on besides its model: '<device (threads)>, <CPU instruction set>, <precision>'.
    Times compare only under one of these (one model name can hide CPUs with and without bf16 units); a run
    resumed under others names them too ('...; resumed on ...', see resumed_elsewhere)."""
    first, *later = _timed_conditions(manifest)
    return "; ".join([first, *(f"resumed on {c}" for c in later)])


def median_epoch_s(history: pd.DataFrame) -> float:
    """Median of a run history's `epoch_s` (NaN when it has none): the epoch time the study compares."""
    epoch_s = pd.to_numeric(history.get("epoch_s"), errors="coerce").dropna()
    return float(epoch_s.median()) if len(epoch_s) else float("nan")


def epoch_times_by_conditions(timed: list[tuple[dict, pd.DataFrame]]) -> dict[str, list[float]]:
    """Median epoch time of each (manifest, history) pair, grouped by timing_conditions; runs without epoch times
    are left out. Epoch times compare only within one group: across groups they would measure the machines."""
    groups: dict[str, list[float]] = {}
    for manifest, history in timed:
        epoch_s = median_epoch_s(history)
        if not np.isnan(epoch_s):
            groups.setdefault(timing_conditions(manifest), []).append(epoch_s)
    return groups


def stored_config(manifest: dict) -> dict:
    """The config a manifest records, upgraded to today's schema (see fer_lib.config.upgrade_stored_config)."""
    layout = {key: manifest.get(key) for key in ("channels_last", "dwconv_fp32", "compiled")}
    return upgrade_stored_config(manifest["config"], manifest.get("precision"), layout)


def load_run(path: str | Path) -> Run:
    """Read a run directory (manifest.json required; history/metrics may be absent for a fresh run)."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"{path} is not a run directory (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text())
    history_path = path / "history.csv"
    history = pd.read_csv(history_path) if history_path.exists() and history_path.stat().st_size else \
        pd.DataFrame(columns=HISTORY_COLUMNS)
    metrics_path = path / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    return Run(path=path, manifest=manifest, history=history, metrics=metrics)


def list_runs(experiment: str | None = None, root: str | Path | None = None) -> pd.DataFrame:
    """One row per run (optionally of one experiment): key manifest fields + headline metrics per split."""
    base = runs_root(root)
    pattern = f"{experiment}/*/{MANIFEST}" if experiment else f"*/*/{MANIFEST}"
    rows = []
    for manifest_path in sorted(base.glob(pattern)):
        if any(part.startswith(".") for part in manifest_path.relative_to(base).parts):
            continue  # a staging or temporary folder (fer_lib.campaign.jobs), never a run
        try:
            run = load_run(manifest_path.parent)
        except (OSError, json.JSONDecodeError):
            continue
        m = run.manifest
        dataset = m.get("dataset", {})
        row = {
            "experiment": m.get("experiment"), "run_id": m.get("run_id"), "paper": m.get("paper"),
            "profile": m.get("profile"), "model": m.get("config", {}).get("model", {}).get("name"),
            "dataset": dataset.get("name"), "real_data": dataset.get("real"), "seed": m.get("seed"),
            "status": run.status, "epochs_run": m.get("epochs_run"), "best_epoch": m.get("best_epoch"),
            "best_val_metric": m.get("best_val_metric"), "wall_s": m.get("wall_s"),
            "train_img_per_s": m.get("train_img_per_s"), "device": m.get("device"), "started": m.get("started"),
            "git_commit": m.get("git", {}).get("commit"), "git_dirty": m.get("git", {}).get("dirty"),
            "path": str(run.path),
        }
        for split, met in run.metrics.items():
            for key in ("accuracy", "f1_weighted", "f1_macro", "balanced_accuracy"):
                row[f"{split}_{key}"] = met.get(key)
        rows.append(row)
    return pd.DataFrame(rows)


def checkpoint_meta(ckpt: dict) -> dict:
    """The model-describing fields of a checkpoint (the best.pt format of the contract)."""
    keys = ("model_name", "model_options", "num_classes", "class_names", "input_size", "mean", "std", "epoch",
            "val_metric")
    return {k: ckpt[k] for k in keys if k in ckpt}


CHECKPOINT_KEYS = ("model_state", "model_name", "num_classes", "class_names", "input_size", "mean", "std")


def load_checkpoint(path: str | Path) -> dict:
    """torch.load a run checkpoint; a missing, empty, truncated or foreign file is a ValueError naming it."""
    import pickle
    import zipfile

    import torch

    path = Path(path)
    fix = (f"recreate it by training the run again (`python -m fer_lib train ...`), or resume from "
           f"checkpoints/last.pt if that one is intact")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint {path}; {fix}")
    if path.stat().st_size == 0:
        raise ValueError(f"checkpoint {path} is empty (0 bytes); {fix}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile,
            AttributeError, ImportError, IndexError) as err:
        raise ValueError(f"checkpoint {path} is truncated or corrupt ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}); {fix}") from err
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise ValueError(f"{path} is not a fer-repro checkpoint: it lacks {missing}; {fix}")
    return ckpt
