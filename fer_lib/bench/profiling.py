"""Where a step's time goes (torch.profiler, the main process only): run for CPU cases that miss their target."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import pandas as pd
import torch
from torch.profiler import ProfilerActivity, profile

from fer_lib.bench.cases import BenchCase, Settings
from fer_lib.bench.pipelines import make_feeder, make_train_step, setup_case, synthetic_images
from fer_lib.bench.timing import Step, time_steps

PROFILED_PARTS = ("bench.data", "bench.train_step")


def _profile_pipeline(pipeline: str, case: BenchCase, rt, step: Step, device: torch.device, s: Settings,
                      images, labels, num_workers: int | None, seed: int,
                      row_limit: int) -> tuple[list[str], dict[str, float]]:
    """(Markdown parts, {part: ms per step, "step": ms per step}) of one pipeline."""
    steps = s.steps_per_block
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    next_batch, close = make_feeder(pipeline, case, rt, images, labels, s.batch, num_workers, seed)
    try:
        time_steps(next_batch, step, device, s.warmup, 1)
        with profile(activities=activities) as prof:
            start = time.perf_counter()
            time_steps(next_batch, step, device, 0, steps, prime=False)
            wall = (time.perf_counter() - start) / steps
    finally:
        close()
    avg = {e.key: e for e in prof.key_averages()}
    label_rows, summary = [], {}
    for label in PROFILED_PARTS:
        if label in avg:
            ms = avg[label].cpu_time_total / 1000 / steps
            summary[label.removeprefix("bench.")] = ms
            label_rows.append(f"| {label.removeprefix('bench.')} | {ms:.1f} | {100 * ms / (1000 * wall):.0f} % |")
    summary["step"] = 1000 * wall
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=row_limit, max_name_column_width=50)
    return [f"**{pipeline}**: {1000 * wall:.0f} ms per step ({s.batch / wall:.1f} img/s)\n\n"
            "| part | ms / step | share |\n|---|---:|---:|\n" + "\n".join(label_rows) + "\n",
            f"<details><summary>top {row_limit} ops by self CPU time ({pipeline})</summary>\n\n"
            f"```\n{table}\n```\n</details>\n"], summary


def _reading(o: dict[str, float], u: dict[str, float]) -> str:
    """The comparison of ours (o) with the usual pipeline (u), from their profiled summaries."""
    model_o = o["step"] - o.get("data", 0.0)
    model_u = u["step"] - u.get("data", 0.0)
    return (f"**Reading**: data work is {o.get('data', 0.0):.1f} ms of ours' {o['step']:.0f} ms step "
            f"({100 * o.get('data', 0.0) / o['step']:.1f} %) and {u.get('data', 0.0):.1f} ms of the usual "
            f"{u['step']:.0f} ms ({100 * u.get('data', 0.0) / u['step']:.1f} %); the rest is the same "
            f"train step (forward + backward + optimizer: {model_o:.0f} vs {model_u:.0f} ms here). A gap "
            f"between the two pipelines larger than the data parts is the train step itself running at a "
            f"different speed (load from other processes on the shared machine and, in the usual "
            f"pipeline, its DataLoader workers competing for the cores), not the data work of the "
            f"training process.\n")


def profile_case(case: BenchCase, device: torch.device, settings: Settings,
                 pipelines: Sequence[str] = ("ours", "usual"),
                 num_workers: int | None = None, seed: int = 0, row_limit: int = 12) -> str:
    """Markdown: where a step's time goes in each pipeline (torch.profiler, the main process only)."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # keep the profiler's own start/stop logging quiet
    model, criterion, optimizer, rt = setup_case(case, device)
    step = make_train_step(model, criterion, optimizer, rt, case.cfg["train"].get("grad_clip"))
    s = settings
    images, labels = synthetic_images(s.batch * (2 + s.warmup + s.steps_per_block), case.native_size, case.channels,
                                      seed)
    parts = [f"### {case.paper} {case.label}, batch {s.batch}, {s.steps_per_block} profiled steps per pipeline\n"]
    summary: dict[str, dict[str, float]] = {}
    for pipeline in pipelines:
        texts, summary[pipeline] = _profile_pipeline(pipeline, case, rt, step, device, s, images, labels,
                                                     num_workers, seed, row_limit)
        parts += texts
    parts.append("`data` in the usual pipeline is the time the training process waited for the DataLoader; "
                 "its workers run in other processes (not profiled here) and compete for the same cores.\n")
    if {"ours", "usual"} <= set(summary):
        parts.append(_reading(summary["ours"], summary["usual"]))
    return "\n".join(parts)


def profile_note(missed: pd.DataFrame, sections: list[str], threads: int | None) -> str:
    """The profiling note (Markdown) of the CPU cases in `missed` (rows of the ratio table)."""
    lines = ["# Where the time goes: CPU cases that missed ours >= usual\n",
             "Missed: " + ", ".join(f"{r.model}@{r.input_size} (ours/usual {r.ours_over_usual:.2f})"
                                    for r in missed.itertuples()) + ". "
             f"Training process on {threads} thread(s); torch.profiler over the timed steps.\n", *sections]
    return "\n".join(lines)
