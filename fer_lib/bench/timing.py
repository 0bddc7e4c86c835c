"""Timing one case: warm-up, the pipelines in alternating-order blocks, CUDA synchronised around every
timed step, peak memory per pipeline, then inference (fer_lib.bench.complexity.measure_inference).

Throughput = batch / median step time over the timed steps after warm-up; a step runs from asking for
the batch to the end of the optimizer step.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.autograd.profiler import record_function

from fer_lib.bench.cases import PIPELINES, BenchCase, Settings
from fer_lib.bench.complexity import measure_inference
from fer_lib.bench.pipelines import (Batch, default_workers, make_feeder, make_train_step, setup_case,
                                     synthetic_images, upper_bound_feeder)
from fer_lib.devices import device_name, synchronize

Step = Callable[[torch.Tensor, torch.Tensor], None]


def time_steps(next_batch: Callable[[], Batch], step: Step, device: torch.device, warmup: int, steps: int,
               prime: bool = True) -> list[float]:
    """Seconds per timed step (batch fetch + train step). First, untimed: one batch fetched and dropped
    (prime: starts a DataLoader's workers) and `warmup` steps."""
    if prime:
        next_batch()
    for _ in range(max(0, warmup)):
        step(*next_batch())
    times = []
    for _ in range(max(1, steps)):
        synchronize(device)
        start = time.perf_counter()
        with record_function("bench.data"):
            x, y = next_batch()
        step(x, y)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


class PeakMemory:
    """Peak memory of a block: CUDA max_memory_allocated (MiB), or on CPU the growth of the process's
    peak RSS (getrusage ru_maxrss, MiB; 0 when the block stayed under an earlier peak)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.kind = "cuda_max_allocated" if device.type == "cuda" else "cpu_peak_rss_delta"
        self.mb = float("nan")

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            self.mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self._before) / 1024  # KiB on Linux


def _recipe_text(recipe: dict) -> str:
    on = {k: v for k, v in recipe.items() if v}
    return "none" if not on else "; ".join(f"{k}={v}" for k, v in on.items())


def _precision(rt) -> str:
    return f"{str(rt.amp_dtype).replace('torch.', '')}-autocast" if rt.amp_dtype is not None else "fp32"


def time_pipelines(case: BenchCase, rt, step: Step, device: torch.device, s: Settings, pipelines: Sequence[str],
                   num_workers: int | None, seed: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """({pipeline: seconds per timed step}, {pipeline: peak MiB}): the pipelines timed in s.blocks blocks,
    in alternating order, after s.warmup model warm-up steps on upper-bound data."""
    images, labels = synthetic_images(s.pool_size, case.native_size, case.channels, seed)
    if s.warmup:
        time_steps(upper_bound_feeder(rt, s.batch, seed), step, device, s.warmup - 1, 1, prime=False)
    times: dict[str, list[float]] = {p: [] for p in pipelines}
    peak: dict[str, float] = {p: float("nan") for p in pipelines}
    for r in range(s.blocks):
        for pipeline in (pipelines if r % 2 == 0 else list(reversed(pipelines))):
            with PeakMemory(device) as mem:
                next_batch, close = make_feeder(pipeline, case, rt, images, labels, s.batch, num_workers, seed + r)
                try:
                    times[pipeline] += time_steps(next_batch, step, device, s.block_warmup, s.steps_per_block)
                finally:
                    close()
            peak[pipeline] = float(np.nanmax([peak[pipeline], mem.mb]))
    return times, peak


def _train_rows(case: BenchCase, base: dict, s: Settings, times: dict[str, list[float]], peak: dict[str, float],
                mem_kind: str, workers: int, log: Callable[[str], None]) -> list[dict]:
    rows = []
    for pipeline, t in times.items():
        median = statistics.median(t)
        rows.append(dict(base, mode="train", pipeline=pipeline, batch=s.batch, warmup=s.warmup, steps=len(t),
                         augment="none" if pipeline == "upper_bound" else _recipe_text(case.recipe),
                         img_per_s=s.batch / median, step_ms_median=1000 * median, step_ms_min=1000 * min(t),
                         step_ms_max=1000 * max(t), latency_ms=None, peak_mem_mb=peak[pipeline], mem_kind=mem_kind,
                         num_workers=workers if pipeline == "usual" else 0))
        log(f"[bench] {case.paper} {case.label} {pipeline:<11} batch {s.batch:>3}: {rows[-1]['img_per_s']:8.2f} img/s "
            f"(steps {', '.join(f'{1000 * v:.0f}' for v in t)} ms)")
    return rows


def _inference_rows(case: BenchCase, base: dict, model: torch.nn.Module, rt, device: torch.device, s: Settings,
                    log: Callable[[str], None]) -> list[dict]:
    with PeakMemory(device) as mem, rt.autocast():
        speed = measure_inference(model, case.input_size, device, batch_sizes=s.inference_batches,
                                  warmup=s.inference_warmup, repeats=s.inference_repeats)
    rows = []
    for b in s.inference_batches:
        rows.append(dict(base, mode="inference", pipeline="inference", batch=b, warmup=s.inference_warmup,
                         steps=s.inference_repeats, augment="none", img_per_s=speed[f"img_per_s_b{b}"],
                         step_ms_median=speed[f"latency_ms_b{b}"], step_ms_min=None, step_ms_max=None,
                         latency_ms=speed[f"latency_ms_b{b}"], peak_mem_mb=mem.mb, mem_kind=mem.kind,
                         num_workers=0))
        log(f"[bench] {case.paper} {case.label} inference   batch {b:>3}: {rows[-1]['img_per_s']:8.2f} img/s, "
            f"{rows[-1]['latency_ms']:.1f} ms")
    return rows


def benchmark_case(case: BenchCase, device: torch.device, settings: Settings, pipelines: Sequence[str] = PIPELINES,
                   num_workers: int | None = None, inference: bool = True, seed: int = 0,
                   log: Callable[[str], None] | None = None) -> list[dict]:
    """Rows for one case: one per training pipeline, one per inference batch size."""
    log = log or (lambda msg: None)
    torch.manual_seed(seed)
    model, criterion, optimizer, rt = setup_case(case, device)
    step = make_train_step(model, criterion, optimizer, rt, case.cfg["train"].get("grad_clip"))
    workers = default_workers() if num_workers is None else int(num_workers)
    base = dict(device=device_name(device), device_type=device.type, paper=case.paper, experiment=case.experiment,
                model=case.model, input_size=case.input_size, native_size=case.native_size,
                native_channels=case.channels, precision=_precision(rt), channels_last=rt.channels_last,
                threads=torch.get_num_threads() if device.type == "cpu" else None)
    times, peak = time_pipelines(case, rt, step, device, settings, pipelines, num_workers, seed)
    rows = _train_rows(case, base, settings, times, peak, PeakMemory(device).kind, workers, log)
    if inference:
        rows += _inference_rows(case, base, model, rt, device, settings, log)
    del model, optimizer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows
