"""The engine's CPU options against their options-off baseline, each timed in its own process.

The allocator is a process setting (fer_lib.allocator, applied when fer_lib is imported), so a fair
comparison runs the benchmark twice in fresh interpreters: once as runs train (`tuned`: the allocator,
channels-last, fp32 depthwise where it helps) and once with every option off and glibc's defaults
(`baseline`: FER_MALLOC=system, channels_last/dwconv_fp32/compile false), same models, batches, threads.
The two results are written as one: rows and ratios with an `engine` column, and the gain table
(tuned img/s / baseline img/s per model, input size, batch, precision and pipeline).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from fer_lib.bench.report import BenchResult

ENGINES = ("baseline", "tuned")
GAIN_KEYS = ["paper", "model", "input_size", "mode", "pipeline", "batch", "precision"]


def engine_env(engine: str) -> dict[str, str]:
    """The child's environment: the baseline runs under glibc's allocator defaults (no preloaded allocator)."""
    env = dict(os.environ)
    if engine == "baseline":
        env["FER_MALLOC"] = "system"
        kept = [lib for lib in env.get("LD_PRELOAD", "").split() if not any(
            name in lib for name in ("jemalloc", "tcmalloc", "mimalloc"))]
        env["LD_PRELOAD"] = " ".join(kept)
    else:
        env.pop("FER_MALLOC", None)
    return env


def gain_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per case and pipeline: baseline and tuned img/s and their ratio (`gain`)."""
    speed = rows.pivot_table(index=GAIN_KEYS, columns="engine", values="img_per_s", aggfunc="median")
    out = speed.reindex(columns=list(ENGINES)).rename(columns=lambda e: f"{e}_img_s").reset_index()
    out["gain"] = out["tuned_img_s"] / out["baseline_img_s"]
    return out


def run_side_by_side(child_args: Sequence[str], log: Callable[[str], None] = print) -> BenchResult:
    """Run `python -m fer_lib bench <child_args> --engine E --out <tmp>` for each engine (baseline first)
    and merge their results; raises RuntimeError naming the engine whose process failed."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="fer-bench-") as tmp:
        for engine in ENGINES:
            out = Path(tmp) / engine
            cmd = [sys.executable, "-m", "fer_lib", "bench", *child_args, "--engine", engine, "--out", str(out)]
            log(f"[bench] {engine}: {' '.join(cmd[1:])}" + (" (FER_MALLOC=system)" if engine == "baseline" else ""))
            done = subprocess.run(cmd, env=engine_env(engine), stdout=subprocess.DEVNULL)
            if done.returncode != 0:
                raise RuntimeError(f"bench: the {engine} process failed (exit {done.returncode}); run it alone to "
                                   f"see why: python -m fer_lib bench {' '.join(child_args)} --engine {engine}")
            results[engine] = _read_one(out)
    return _merge(results)


def _read_one(out: Path) -> BenchResult:
    manifest_path = next(out.glob("*.manifest.json"))
    slug = manifest_path.name.removesuffix(".manifest.json")
    manifest = json.loads(manifest_path.read_text())
    profile = out / f"{slug}_profile.md"
    return BenchResult(rows=pd.read_csv(out / f"{slug}.csv"), ratios=pd.read_csv(out / f"{slug}_ratios.csv"),
                       manifest=manifest, profile_note=profile.read_text() if profile.exists() else None)


def _merge(results: dict[str, BenchResult]) -> BenchResult:
    tuned, baseline = results["tuned"], results["baseline"]
    rows = pd.concat([baseline.rows, tuned.rows], ignore_index=True)
    ratios = pd.concat([r.ratios.assign(engine=e) for e, r in results.items()], ignore_index=True)
    manifest = dict(tuned.manifest, engine="side by side", engines={
        e: {key: r.manifest.get(key) for key in ("allocator", "engine_options", "date", "wall_s", "load_average_start",
                                                  "load_average_end")} for e, r in results.items()})
    manifest.pop("files", None)
    manifest["wall_s"] = round(sum(r.manifest["wall_s"] for r in results.values()), 1)
    notes = [f"### {e}\n\n{r.profile_note}" for e, r in results.items() if r.profile_note]
    return BenchResult(rows=rows, ratios=ratios, manifest=manifest, profile_note="\n\n".join(notes) or None,
                       gains=gain_table(rows))
