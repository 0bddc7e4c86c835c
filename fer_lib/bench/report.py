"""The benchmark's tables and files: the ratio table against the targets, the Markdown report, and the
results/bench/<device slug>.{csv, _ratios.csv, .md, .manifest.json, _profile.md} written and read back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fer_lib.bench.cases import PIPELINES
from fer_lib.outputs import atomic_write_text
from fer_lib.paths import results_dir

# Targets (issue 7): measured and reported in the ratio table, never asserted.
GPU_MIN_OURS_OVER_UPPER = 0.95
GPU_MIN_OURS_OVER_USUAL_224 = 3.0   # for the 224-px models
CPU_MIN_OURS_OVER_USUAL = 1.0
DATA_NOTE = ("synthetic images: random uint8 arrays at each dataset's native size (48x48 gray for FER2013, "
             "100x100 RGB for RAF-DB) and random labels; random model weights. The benchmark measures "
             "pipeline speed, not accuracy.")
ROW_COLUMNS = ["device", "device_type", "paper", "experiment", "model", "input_size", "native_size", "native_channels",
               "mode", "pipeline", "batch", "precision", "channels_last", "augment", "warmup", "steps", "img_per_s",
               "step_ms_median", "step_ms_min", "step_ms_max", "latency_ms", "peak_mem_mb", "mem_kind", "threads",
               "num_workers"]


@dataclass
class BenchResult:
    """Rows (one per model, input size, batch, precision, pipeline), the ratio table, the manifest, and a
    profiling note (Markdown) when a CPU target was missed."""

    rows: pd.DataFrame
    ratios: pd.DataFrame
    manifest: dict
    profile_note: str | None = None
    gains: pd.DataFrame | None = None  # engine options vs their baseline (fer_lib.bench.engine_gain)


def targets_for(device_type: str, input_size: int) -> list[tuple[str, str, float]]:
    """[(description, ratio column, minimum)] that apply to one row of the ratio table (issue 7)."""
    if device_type == "cuda":
        out = [(f"ours/upper >= {GPU_MIN_OURS_OVER_UPPER}", "ours_over_upper", GPU_MIN_OURS_OVER_UPPER)]
        if input_size >= 224:
            out.append((f"ours/usual >= {GPU_MIN_OURS_OVER_USUAL_224}", "ours_over_usual", GPU_MIN_OURS_OVER_USUAL_224))
        return out
    return [(f"ours/usual >= {CPU_MIN_OURS_OVER_USUAL}", "ours_over_usual", CPU_MIN_OURS_OVER_USUAL)]


def ratio_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (model, input size, batch, precision, device type): the three training throughputs, ours/upper,
    ours/usual, the targets that apply and whether all are met (None when a needed pipeline is missing)."""
    train = rows[rows["mode"] == "train"]
    keys = ["paper", "model", "input_size", "batch", "precision", "device_type"]
    if "engine" in train:
        keys = ["engine", *keys]
    out = []
    for key, group in train.groupby(keys, sort=False, dropna=False):
        speed = group.groupby("pipeline")["img_per_s"].median()
        row = dict(zip(keys, key))
        for p in PIPELINES:
            row[f"{p}_img_s"] = float(speed.get(p, float("nan")))
        row["ours_over_upper"] = row["ours_img_s"] / row["upper_bound_img_s"]
        row["ours_over_usual"] = row["ours_img_s"] / row["usual_img_s"]
        targets = targets_for(row["device_type"], int(row["input_size"]))
        row["target"] = "; ".join(t[0] for t in targets)
        values = [row[col] for _, col, _ in targets]
        row["target_met"] = None if any(v != v for v in values) else bool(all(
            v >= lo for v, (_, _, lo) in zip(values, targets)))
        out.append(row)
    return pd.DataFrame(out)


def _fmt(df: pd.DataFrame) -> str:
    """Markdown table, floats to 3 significant digits (no exponents below 1e6)."""
    if not len(df):
        return "(none)"
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: v if v != v else float(f"{v:.3g}"))
    return out.to_markdown(index=False, floatfmt="g")


def markdown_report(result: BenchResult) -> str:
    """The benchmark as Markdown: settings, throughput table, ratio table."""
    m = result.manifest
    rows = result.rows
    cols = ["engine", "paper", "model", "input_size", "mode", "pipeline", "batch", "precision", "img_per_s",
            "step_ms_median", "peak_mem_mb", "mem_kind"]
    ratio_cols = ["engine", "paper", "model", "input_size", "batch", "precision", "upper_bound_img_s", "ours_img_s",
                  "usual_img_s", "ours_over_upper", "ours_over_usual", "target", "target_met"]
    return "\n".join([
        f"# Training-pipeline benchmark: {m['device']}\n",
        f"{m['date']} · git {m['git'].get('commit', 'unknown')[:12]}"
        f"{' (dirty)' if m['git'].get('dirty') is True else ''}"
        f" · torch {m['versions']['torch']} · wall {m['wall_s']} s"
        + (f" · {m['threads']} training thread(s), {m['usual_num_workers']} DataLoader workers, load average "
           f"{m['load_average_start'][0]:.1f} -> {m['load_average_end'][0]:.1f}" if m["device_type"] == "cpu" else "")
        + (f" · instruction set {m['cpu_capability']}" if m.get("cpu_capability") else "")
        + (f" · precision `auto` is {m['auto_precision']} here" if m.get("auto_precision") else "")
        + "\n",
        f"{m['data']} {m['timing']}.\n",
        *_gain_section(result),
        "## Throughput\n", _fmt(rows[[c for c in cols if c in rows]]), "",
        "## Ratios and targets\n", _fmt(result.ratios[[c for c in ratio_cols if c in result.ratios]]), "",
        f"Memory: {m['memory']}.\n",
    ])


def _gain_section(result: BenchResult) -> list[str]:
    """The engine options against their options-off baseline, when both were timed."""
    if result.gains is None or not len(result.gains):
        return []
    engines = result.manifest.get("engines", {})
    said = "; ".join(f"{e}: allocator {v.get('allocator')}, options {v.get('engine_options') or 'as runs use them'}"
                     for e, v in engines.items())
    return ["## Engine options vs the options-off baseline\n",
            f"Each timed in its own process, same models, batches and threads ({said}).\n",
            _fmt(result.gains), ""]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_results(result: BenchResult, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write <slug>.csv, <slug>_ratios.csv, <slug>.md, <slug>.manifest.json (and <slug>_profile.md when a
    profile note exists) under results/bench/ (or out_dir); returns the paths."""
    out = Path(out_dir) if out_dir else results_dir() / "bench"
    slug = result.manifest["device_slug"]
    paths = {"csv": out / f"{slug}.csv", "ratios": out / f"{slug}_ratios.csv", "md": out / f"{slug}.md",
             "manifest": out / f"{slug}.manifest.json"}
    atomic_write_text(paths["csv"], result.rows.to_csv(index=False))
    atomic_write_text(paths["ratios"], result.ratios.to_csv(index=False))
    atomic_write_text(paths["md"], markdown_report(result))
    if result.gains is not None:
        paths["gains"] = out / f"{slug}_engine_gain.csv"
        atomic_write_text(paths["gains"], result.gains.to_csv(index=False))
    manifest = dict(result.manifest, files={k: p.name for k, p in paths.items() if k != "manifest"})
    stale = out / f"{slug}_profile.md"
    if result.profile_note:
        paths["profile"] = stale
        manifest["files"]["profile"] = stale.name
        atomic_write_text(stale, result.profile_note.rstrip() + "\n")
    elif stale.exists():
        stale.unlink()  # a note from an earlier run would describe other numbers
    atomic_write_text(paths["manifest"], json.dumps(manifest, indent=1, default=_json_default) + "\n")
    return paths


def read_results(bench_dir: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All benchmark CSVs under results/bench/ (rows, ratios), each with a `device_slug` column."""
    root = Path(bench_dir) if bench_dir else results_dir() / "bench"
    rows, ratios = [], []
    for path in sorted(root.glob("*.manifest.json")):
        slug = path.name.removesuffix(".manifest.json")
        if (root / f"{slug}.csv").exists():
            rows.append(pd.read_csv(root / f"{slug}.csv").assign(device_slug=slug))
        if (root / f"{slug}_ratios.csv").exists():
            ratios.append(pd.read_csv(root / f"{slug}_ratios.csv").assign(device_slug=slug))
    return (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=ROW_COLUMNS),
            pd.concat(ratios, ignore_index=True) if ratios else pd.DataFrame())
