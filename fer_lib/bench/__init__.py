"""Training-throughput benchmark: how fast the study trains, against its own upper bound and the usual
pipeline; and model complexity (parameters, FLOPs, inference speed: fer_lib.bench.complexity).

Three pipelines (fer_lib.bench.pipelines) feed the engine's own train step of each paper's model at its
paper input size, with the optimizer, loss and augmentation recipe of that paper's experiment config
(fer_lib.bench.cases): the upper bound (random tensors already on the device), ours (the engine's data
path) and the usual one (PIL images, torchvision transforms, a DataLoader). Images are random uint8
arrays of the dataset's native size (48x48 gray for FER2013, 100x100 RGB for RAF-DB) and model weights
are random: the benchmark measures pipeline speed, not accuracy. Throughput = batch / median step time
over the timed steps after warm-up (fer_lib.bench.timing); inference (batch-1 latency, batch-N
throughput) is timed by fer_lib.bench.complexity.measure_inference. Each case runs under fp32 and under
the engine's "auto" precision side by side (bf16 autocast on CUDA and on CPUs with native bf16 units;
channels_last on CUDA). fer_lib.bench.runner runs the whole benchmark, fer_lib.bench.report writes
results/bench/, fer_lib.bench.views and fer_lib.bench.complexity_views hold notebooks 11 and 10's steps.
"""

from __future__ import annotations

from fer_lib.bench import complexity  # noqa: F401  (fer_lib.bench.complexity)
from fer_lib.bench.cases import (NATIVE_IMAGES, NUM_CLASSES, PAPER_EXPERIMENTS, PIPELINES, BenchCase, Settings,
                                 case_from_config, case_settings, default_settings, make_case, resolve_cases,
                                 with_precisions)
from fer_lib.bench.pipelines import (PILImages, default_workers, make_feeder, make_train_step, ours_feeder,
                                     setup_case, synthetic_images, upper_bound_feeder, usual_feeder, usual_loader,
                                     usual_transform)
from fer_lib.bench.profiling import profile_case
from fer_lib.bench.report import (CPU_MIN_OURS_OVER_USUAL, DATA_NOTE, GPU_MIN_OURS_OVER_UPPER,
                                  GPU_MIN_OURS_OVER_USUAL_224, ROW_COLUMNS, BenchResult, markdown_report,
                                  ratio_table, read_results, targets_for, write_results)
from fer_lib.bench.runner import run_benchmark
from fer_lib.bench.timing import PeakMemory, benchmark_case, time_steps

__all__ = [
    "BenchCase", "BenchResult", "CPU_MIN_OURS_OVER_USUAL", "DATA_NOTE", "GPU_MIN_OURS_OVER_UPPER",
    "GPU_MIN_OURS_OVER_USUAL_224", "NATIVE_IMAGES", "NUM_CLASSES", "PAPER_EXPERIMENTS", "PIPELINES", "PILImages",
    "PeakMemory", "ROW_COLUMNS", "Settings", "benchmark_case", "case_from_config", "case_settings", "complexity",
    "default_settings", "default_workers", "make_case", "make_feeder", "make_train_step", "markdown_report",
    "ours_feeder", "profile_case", "ratio_table", "read_results", "resolve_cases", "run_benchmark", "setup_case",
    "synthetic_images", "targets_for", "time_steps", "upper_bound_feeder", "usual_feeder", "usual_loader",
    "usual_transform", "with_precisions", "write_results",
]
