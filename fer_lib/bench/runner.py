"""The whole benchmark: every case under each precision, its ratio table, profiling of missed CPU targets,
and the manifest (device, date, code, library versions, settings, load on the machine)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict

import pandas as pd
import torch

from fer_lib.allocator import allocator
from fer_lib.bench.cases import (ENGINE_OPTIONS, PIPELINES, BenchCase, Settings, case_settings, resolve_cases,
                                 with_engine, with_precisions)
from fer_lib.bench.pipelines import default_workers
from fer_lib.bench.profiling import profile_case, profile_note
from fer_lib.bench.report import (CPU_MIN_OURS_OVER_USUAL, DATA_NOTE, GPU_MIN_OURS_OVER_UPPER,
                                  GPU_MIN_OURS_OVER_USUAL_224, ROW_COLUMNS, BenchResult, ratio_table)
from fer_lib.bench.timing import benchmark_case
from fer_lib.devices import autocast_dtype, cpu_capability, cpu_threads, device_name, device_slug, precision_name, resolve_device
from fer_lib.runs.provenance import git_info, library_versions
from fer_lib.runs.store import utc_now

PIPELINE_NOTES = {"upper_bound": "random float tensors on the device at input size; train step only",
                  "ours": "engine data path: uint8 split on the device, index batches, the engine's prepare_batch "
                          "(resize, Augment, RGB, normalise) on the device",
                  "usual": "PIL images in a Dataset, torchvision.transforms v1 per the recipe, DataLoader "
                           "(num_workers, pin_memory on CUDA)"}
TIMING_NOTE = ("img/s = batch / median step time over the timed steps after warm-up (CUDA synchronised); "
               "inference from fer_lib.bench.complexity.measure_inference (eval mode, under the training precision)")
MEMORY_NOTE = ("cuda_max_allocated: torch.cuda.max_memory_allocated (MiB); cpu_peak_rss_delta: growth of the "
               "process's peak RSS (getrusage, MiB; 0 = stayed under an earlier configuration's peak; "
               "DataLoader workers not included)")


def run_benchmark(models: Iterable[str] | None = None, device: str | torch.device = "auto", *,
                  cases: Sequence[BenchCase] | None = None, steps: int | None = None, warmup: int | None = None,
                  batch: int | None = None, rounds: int | None = None, quick: bool = False, threads: int | None = None,
                  num_workers: int | None = None, pipelines: Sequence[str] = PIPELINES, inference: bool = True,
                  inference_batches: Sequence[int] | None = None, profile_missed: bool = True, seed: int = 0,
                  precisions: Sequence[str] | None = None, engine: str = "tuned",
                  log: Callable[[str], None] | None = print) -> BenchResult:
    """Benchmark `models` (names as resolve_cases; or explicit `cases`) on `device`.

    steps/warmup/batch/rounds/inference_batches override default_settings. threads: CPU threads of the
    training process (default 1 on CPU: on a small shared machine a busy second core stalls every
    parallel op; the usual pipeline's workers use the other cores). num_workers: the usual DataLoader's
    workers (default min(4, cpu count)). profile_missed: on CPU, profile every case whose target is
    missed (see profile_case); the note is BenchResult.profile_note. precisions: train.precision settings
    to time each case under (default: fp32 and the engine's "auto" choice side by side, once when they agree).
    engine: "tuned" (the layout runs use) or "baseline" (channels-last, fp32 depthwise and compile off; the
    allocator is a process setting, see fer_lib.bench.engine_gain, which runs both in their own processes).
    """
    log = log or (lambda msg: None)
    dev = resolve_device(device)
    cases = with_precisions(list(cases) if cases is not None else resolve_cases(models), dev, precisions)
    cases = with_engine(cases, engine)
    started, t0, load_start = utc_now(), time.perf_counter(), os.getloadavg()
    threads_used = threads or torch.get_num_threads()
    rows, used, settings = [], {}, {}
    with cpu_threads(threads):
        for case in cases:
            s = case_settings(case, dev, quick, batch=batch, warmup=warmup, steps=steps, rounds=rounds,
                              inference_batches=inference_batches)
            settings[(case.model, case.input_size)] = s
            used[case.label] = dict(paper=case.paper, experiment=case.experiment, **asdict(s))
            rows += benchmark_case(case, dev, s, pipelines, num_workers, inference, seed, log)
        dev_name = device_name(dev)
        table = pd.DataFrame(rows, columns=ROW_COLUMNS).assign(engine=engine, allocator=allocator())
        ratios = ratio_table(table)
        note = None
        if profile_missed and {"ours", "usual"} <= set(pipelines):
            note = profile_missed_cases(cases, ratios, dev, settings, threads, num_workers, seed, log)
    manifest = dict(
        device=dev_name, device_type=dev.type, device_slug=device_slug(dev), date=started,
        cpu_capability=cpu_capability() if dev.type == "cpu" else None,
        auto_precision=precision_name(autocast_dtype("auto", dev)),
        finished=utc_now(), wall_s=round(time.perf_counter() - t0, 1), git=git_info(), versions=library_versions(),
        engine=engine, allocator=allocator(), engine_options=ENGINE_OPTIONS[engine],
        quick=bool(quick or dev.type == "cpu"), threads=threads_used if dev.type == "cpu" else None,
        cpu_count=os.cpu_count(), usual_num_workers=default_workers() if num_workers is None else num_workers,
        load_average_start=list(load_start), load_average_end=list(os.getloadavg()), seed=seed,
        pipelines=PIPELINE_NOTES, timing=TIMING_NOTE, memory=MEMORY_NOTE, data=DATA_NOTE, settings=used,
        targets={"gpu": f"ours/upper >= {GPU_MIN_OURS_OVER_UPPER}; ours/usual >= {GPU_MIN_OURS_OVER_USUAL_224} "
                        "(224-px models)", "cpu": f"ours/usual >= {CPU_MIN_OURS_OVER_USUAL}"},
    )
    return BenchResult(rows=table, ratios=ratios, manifest=manifest, profile_note=note)


def profile_missed_cases(cases: Sequence[BenchCase], ratios: pd.DataFrame, device: torch.device,
                         settings: dict[tuple[str, int], Settings], threads: int | None, num_workers: int | None,
                         seed: int, log: Callable[[str], None]) -> str | None:
    """The profiling note of every CPU case whose target the ratio table shows missed (None: none missed)."""
    missed = ratios[(ratios.target_met == False) & (ratios.device_type == "cpu")]  # noqa: E712
    if not len(missed):
        return None
    sections = []
    missed_keys = set(zip(missed.model, missed.input_size.astype(int)))
    for case in cases:
        if (case.model, case.input_size) in missed_keys:
            log(f"[bench] target missed for {case.label}: profiling")
            sections.append(profile_case(case, device, settings[(case.model, case.input_size)],
                                         num_workers=num_workers, seed=seed))
    return profile_note(missed, sections, threads)
