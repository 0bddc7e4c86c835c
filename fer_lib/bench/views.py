"""Notebook 11's steps: measure (or read) the benchmark, its throughput figure, the ratio table and the
stated ratios, the inference table (tables and figures saved under results/<section>/)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from fer_lib.bench.cases import PIPELINES
from fer_lib.bench.report import ratio_table, read_results, write_results
from fer_lib.bench.runner import run_benchmark
from fer_lib.outputs import save_figure, save_note, save_table

# profile="smoke": a lightened benchmark (CPU, minutes): smaller batches, one timed step at 224 px.
SMOKE_RUNS = (dict(models=["P3"], batch=16), dict(models=["P2"], batch=8),
              dict(models=["P1", "P4"], batch=4, steps=1))
THROUGHPUT_COLUMNS = ["device_slug", "paper", "model", "input_size", "pipeline", "batch", "precision", "img_per_s",
                      "step_ms_median", "peak_mem_mb", "mem_kind"]
RATIO_COLUMNS = ["device_slug", "paper", "model", "input_size", "batch", "precision", "upper_bound_img_s",
                 "ours_img_s", "usual_img_s", "ours_over_upper", "ours_over_usual", "target", "target_met"]


def smoke_benchmark(device: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(rows, ratios, source) of the lightened benchmark (SMOKE_RUNS; nothing written to results/bench/)."""
    results = [run_benchmark(device=device, seed=seed, inference_batches=(1, 4), profile_missed=False, **kw)
               for kw in SMOKE_RUNS]
    slug = results[0].manifest["device_slug"]
    rows = pd.concat([r.rows for r in results], ignore_index=True).assign(device_slug=slug)
    ratios = ratio_table(rows).assign(device_slug=slug)
    return rows, ratios, f"this notebook (smoke, lightened), {results[0].manifest['device']}"


def measure_or_read(profile: str, device: str, run_bench: bool, seed: int,
                    section: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(rows, ratios, source): smoke: the lightened benchmark; else the whole one written to results/bench/
    (run_bench) and every device's results read back from there. Saves the throughput and ratio tables."""
    if run_bench and profile == "smoke":
        rows, ratios, source = smoke_benchmark(device, seed)
    else:
        if run_bench:
            result = run_benchmark(device=device, seed=seed)
            print("written:", *write_results(result).values(), sep="\n  ")
        rows, ratios = read_results()
        source = "results/bench/ (" + ", ".join(sorted(rows.device_slug.unique())) + ")" if len(rows) else "nothing"
    print("source:", source)
    save_table(rows, section, "throughput")
    save_table(ratios, section, "ratios")
    return rows, ratios, source


def throughput_view(rows: pd.DataFrame) -> pd.DataFrame | str:
    """The throughput table as shown (or a hint when there are no results)."""
    return rows[THROUGHPUT_COLUMNS].round(2) if len(rows) else "no benchmark results: run `make bench`"


def throughput_figure(rows: pd.DataFrame, section: str) -> plt.Figure | None:
    """Training images/s per pipeline, one panel per device (saved as "throughput"); None without train rows."""
    train = rows[rows["mode"] == "train"]
    if not len(train):
        return None
    slugs = sorted(train.device_slug.unique())
    fig, axes = plt.subplots(1, len(slugs), figsize=(7 * len(slugs), 4.5), squeeze=False)
    for ax, slug in zip(axes[0], slugs):
        t = train[train.device_slug == slug].assign(label=lambda d: d.paper + " " + d.model + "@" + d.input_size.astype(str))
        table = t.pivot_table(index="label", columns="pipeline", values="img_per_s", sort=False)
        table = table[[p for p in PIPELINES if p in table]]
        table.plot.bar(ax=ax, logy=True, rot=20, color=["0.6", "tab:green", "tab:orange"][: table.shape[1]])
        ax.set_ylabel("training images / s (log)")
        ax.set_xlabel("")
        ax.set_title(f"{slug}: {t.precision.iloc[0]}, batch " + "/".join(map(str, t.batch.unique())))
    fig.tight_layout()
    save_figure(fig, section, "throughput")
    return fig


def ratio_view(ratios: pd.DataFrame) -> pd.DataFrame:
    """The ratio table as shown."""
    return ratios[RATIO_COLUMNS].round(3)


def ratio_statements(ratios: pd.DataFrame, source: str, section: str) -> str:
    """One Markdown bullet per ratio row (ours vs upper bound vs usual, target met or not), saved as the
    "ratios_stated" note with its source."""
    lines = []
    for r in ratios.itertuples():
        met = {True: "met", False: "missed"}.get(r.target_met, "not measurable")
        lines.append(f"* **{r.paper} {r.model} @ {r.input_size} px** ({r.device_slug}, batch {r.batch}, {r.precision}): "
                     f"ours runs at **{r.ours_over_upper:.2f}x** the upper bound and **{r.ours_over_usual:.2f}x** the usual "
                     f"pipeline ({r.ours_img_s:.3g} vs {r.upper_bound_img_s:.3g} vs {r.usual_img_s:.3g} img/s); "
                     f"target {r.target}: {met}.")
    text = "\n".join(lines)
    save_note(section, f"Source: {source}.\n\n{text}\n", name="ratios_stated")
    return text


def inference_view(rows: pd.DataFrame) -> pd.DataFrame | None:
    """Inference latency and img/s per device, model and batch size (None without inference rows)."""
    infer = rows[rows["mode"] == "inference"]
    if not len(infer):
        return None
    return infer.pivot_table(index=["device_slug", "paper", "model", "input_size"], columns="batch",
                             values=["latency_ms", "img_per_s"]).round(2)
