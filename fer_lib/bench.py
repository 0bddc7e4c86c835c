"""Training-throughput benchmark: how fast the study trains, against its own upper bound and the usual pipeline.

Three pipelines feed the same train step (autocast forward + loss, backward, optimizer step: the body
of fer_lib.train.train_one_epoch) of each paper's model at its paper input size, with the optimizer,
loss and augmentation recipe of that paper's experiment config:

  upper_bound  random float tensors already on the device at input size, no augmentation: the step only.
  ours         the engine's data path: the split held as one uint8 tensor on the device
               (train.make_split), seeded index batches, train.prepare_batch (float, resize, Augment,
               RGB, normalise, channels_last) on the device.
  usual        what most FER repositories do: PIL images kept in a Dataset, torchvision.transforms
               (Resize, RandomHorizontalFlip, RandomRotation, RandomAffine, ColorJitter, GaussianBlur,
               Grayscale(3), ToTensor, Normalize, per the recipe) through a DataLoader with
               min(4, cpu count) workers, pin_memory on CUDA.

Images are random uint8 arrays of the dataset's native size (48x48 gray for FER2013, 100x100 RGB for
RAF-DB): the benchmark measures pipeline speed, not accuracy. Model weights are random (pretrained
weights do not change speed). Throughput = batch / median step time over the timed steps after
warm-up; a step runs from asking for the batch to the end of the optimizer step, CUDA synchronised
before and after. Inference (batch-1 latency, batch-N throughput) is timed by
fer_lib.complexity.measure_inference. Each case runs under fp32 and under the engine's "auto" precision
side by side (bf16 autocast on CUDA and on CPUs with native bf16 units; channels_last on CUDA).
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from fer_lib.devices import synchronize
import torch.nn as nn
from torch.autograd.profiler import record_function

PIPELINES = ("upper_bound", "ours", "usual")
NUM_CLASSES = 7
# The four papers' experiments, each at its paper input size (issue 7).
PAPER_EXPERIMENTS = {"P3": "p3_resnet50_weighted", "P2": "p2_lc2fer_c5_aug", "P1": "p1_swin_se_resnet_fer2013",
                     "P4": "p4_swin_spst_ema"}
# Native image size and channels of each dataset the benchmarked experiments train on.
NATIVE_IMAGES = {"fer2013": (48, 1), "ferplus": (48, 1), "rafdb": (100, 3), "synthetic": (48, 1)}
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


# ---------------------------------------------------------------- what is benchmarked

@dataclass
class BenchCase:
    """One model at one input size with its experiment's recipe (cfg: a merged config, fer_lib.config)."""

    paper: str
    experiment: str
    model: str
    model_options: dict
    input_size: int
    native_size: int
    channels: int
    cfg: dict = field(repr=False)

    @property
    def recipe(self) -> dict:
        """The augmentation recipe (config `augment` section)."""
        return dict(self.cfg.get("augment") or {})

    @property
    def label(self) -> str:
        return f"{self.model}@{self.input_size}"


def case_from_config(experiment: str, paper: str | None = None) -> BenchCase:
    """The benchmark case of an experiment config (its "full" profile: the paper's recipe and sizes)."""
    from fer_lib.config import load_config

    cfg = load_config(experiment, "full")
    dataset = cfg["data"]["dataset"]
    if dataset not in NATIVE_IMAGES:
        raise ValueError(f"bench: no native image size known for dataset {dataset!r} (experiment {experiment}); "
                         f"add it to fer_lib.bench.NATIVE_IMAGES")
    size, channels = NATIVE_IMAGES[dataset]
    return BenchCase(paper=paper or str(cfg.get("paper") or "-"), experiment=experiment, model=cfg["model"]["name"],
                     model_options=dict(cfg["model"]["options"] or {}), input_size=int(cfg["data"]["input_size"]),
                     native_size=size, channels=channels, cfg=cfg)


def make_case(model: str, input_size: int | None = None, native_size: int = 48, channels: int = 1,
              recipe: dict | None = None, model_options: dict | None = None, paper: str = "-",
              cfg_overrides: dict | None = None) -> BenchCase:
    """A case for any registered model (e.g. tiny_cnn in tests): config defaults (Adam 1e-3, plain
    cross-entropy, ImageNet mean/std) with `recipe` as the augmentation."""
    from fer_lib.config import SCHEMA, deep_merge, expand_dotted
    from fer_lib.models import model_spec

    size = int(input_size or model_spec(model).input_size)
    cfg = deep_merge(SCHEMA, {"experiment": f"bench_{model}", "paper": paper,
                              "model": {"name": model, "options": dict(model_options or {})},
                              "data": {"dataset": "synthetic", "input_size": size},
                              "augment": dict(recipe or {})}, replace=frozenset())
    cfg = deep_merge(cfg, expand_dotted(cfg_overrides))
    return BenchCase(paper=paper, experiment=cfg["experiment"], model=model, model_options=dict(model_options or {}),
                     input_size=size, native_size=native_size, channels=channels, cfg=cfg)


def resolve_cases(names: Iterable[str] | None = None) -> list[BenchCase]:
    """Cases for paper tags (P1..P4), experiment names, the papers' model names or any registered model;
    None: the four papers' experiments (P3, P2, P1, P4: small to large)."""
    from fer_lib.config import list_configs
    from fer_lib.models import list_models

    if not names:
        return [case_from_config(exp, paper) for paper, exp in PAPER_EXPERIMENTS.items()]
    by_model = {}
    for paper, exp in PAPER_EXPERIMENTS.items():
        case = case_from_config(exp, paper)
        by_model[case.model] = case
    cases = []
    for name in names:
        if name.upper() in PAPER_EXPERIMENTS:
            cases.append(case_from_config(PAPER_EXPERIMENTS[name.upper()], name.upper()))
        elif name in by_model:
            cases.append(by_model[name])
        elif name in list_configs():
            cases.append(case_from_config(name))
        elif name in list_models():
            cases.append(make_case(name))
        else:
            raise ValueError(f"bench: unknown model {name!r}; use a paper tag ({', '.join(PAPER_EXPERIMENTS)}), "
                             f"an experiment config ({', '.join(list_configs())}) "
                             f"or a model ({', '.join(list_models())})")
    return cases


@dataclass
class Settings:
    """How hard one case is timed.

    warmup: untimed train steps on upper-bound data before any pipeline is timed (model warm-up).
    rounds: the pipelines are timed in `rounds` blocks, in alternating order (upper, ours, usual, then
    usual, ours, upper, ...), so drifting load from other processes falls on all of them alike.
    steps: timed steps per pipeline in total (ceil(steps / rounds) per block). Each block first fetches
    one batch untimed (starts the DataLoader's workers) and runs block_warmup untimed steps.
    """

    batch: int
    warmup: int
    steps: int
    rounds: int
    block_warmup: int
    inference_batches: tuple[int, ...]
    inference_warmup: int
    inference_repeats: int

    @property
    def steps_per_block(self) -> int:
        return -(-max(1, self.steps) // self.blocks)

    @property
    def blocks(self) -> int:
        return max(1, min(self.rounds, self.steps))


def default_settings(case: BenchCase, device: torch.device, quick: bool = False) -> Settings:
    """CUDA: the config's batch size, 10 warm-up steps, 30 timed steps in 3 rounds (quick: 3, 10 in 2),
    inference batches 1 and 64. CPU (always quick, for a small shared machine): batch 32 (<= 64 px),
    16 (<= 128 px) or 4 (224 px), 1 warm-up step, 4 timed steps in 2 rounds (2 at 224 px), inference
    batches 1 and 32 (4 at 224 px)."""
    if device.type == "cuda":
        return Settings(batch=int(case.cfg["train"]["batch_size"]), warmup=3 if quick else 10,
                        steps=10 if quick else 30, rounds=2 if quick else 3, block_warmup=2,
                        inference_batches=(1, 64), inference_warmup=3 if quick else 10,
                        inference_repeats=10 if quick else 30)
    size = case.input_size
    batch = 32 if size <= 64 else 16 if size <= 128 else 4
    return Settings(batch=batch, warmup=1, steps=4 if size <= 128 else 2, rounds=2, block_warmup=0,
                    inference_batches=(1, 32 if size <= 128 else 4), inference_warmup=1,
                    inference_repeats=3 if size <= 128 else 2)


# ---------------------------------------------------------------- the three pipelines

Batch = tuple[torch.Tensor, torch.Tensor]


def synthetic_images(n: int, size: int, channels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (N,S,S) (gray) or (N,S,S,3) (RGB) and random labels in [0, NUM_CLASSES)."""
    rng = np.random.default_rng(seed)
    shape = (n, size, size) if channels == 1 else (n, size, size, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, NUM_CLASSES, n, dtype=np.int64)


def upper_bound_feeder(rt, batch: int, seed: int = 0) -> Callable[[], Batch]:
    """The same random float batch (B,3,S,S), already on the device and at input size, every step."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, rt.input_size, rt.input_size, generator=g).to(rt.device)
    if rt.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, NUM_CLASSES, (batch,), generator=g).to(rt.device)
    return lambda: (x, y)


def ours_feeder(images: np.ndarray, labels: np.ndarray, rt, batch: int, recipe: dict | None,
                seed: int = 0) -> Callable[[], Batch]:
    """The engine's data path: one uint8 split tensor on the device, seeded permutation batches,
    fer_lib.train.prepare_batch with the recipe's Augment (as train_one_epoch)."""
    from fer_lib.augment import Augment
    from fer_lib.train import make_split, prepare_batch

    split = make_split("bench", images, labels, np.arange(len(labels)), rt.device)
    augment = Augment(recipe)
    generator = torch.Generator().manual_seed(seed)
    n = len(split)
    if n < batch:
        raise ValueError(f"bench: {n} images cannot fill a batch of {batch}")
    state = {"perm": None, "pos": n}

    def next_batch() -> Batch:
        if state["pos"] + batch > n:
            state["perm"] = torch.randperm(n, generator=generator).to(rt.device, non_blocking=True)
            state["pos"] = 0
        idx = state["perm"][state["pos"]:state["pos"] + batch]
        state["pos"] += batch
        return prepare_batch(split.images[idx], rt, generator, augment), split.labels[idx]

    return next_batch


def usual_transform(recipe: dict | None, input_size: int, mean: Sequence[float], std: Sequence[float],
                    grayscale: bool):
    """The usual torchvision (v1) per-image pipeline for a recipe: Resize first (as our engine), then the
    random ops, Grayscale(3) for gray images, ToTensor, Normalize."""
    from torchvision import transforms as T

    r = dict(recipe or {})
    ops: list = [T.Resize((input_size, input_size), interpolation=T.InterpolationMode.BILINEAR, antialias=True)]
    if r.get("hflip"):
        ops.append(T.RandomHorizontalFlip(p=float(r["hflip"])))
    if r.get("rotate_deg"):
        ops.append(T.RandomRotation(float(r["rotate_deg"]), interpolation=T.InterpolationMode.BILINEAR))
    if r.get("translate") or r.get("zoom"):
        t, z = float(r.get("translate") or 0.0), float(r.get("zoom") or 0.0)
        ops.append(T.RandomAffine(degrees=0, translate=(t, t) if t else None, scale=(1 - z, 1 + z) if z else None,
                                  interpolation=T.InterpolationMode.BILINEAR))
    jitter = {k: float(r.get(k) or 0.0) for k in ("brightness", "contrast", "saturation", "hue")}
    if any(jitter.values()):
        ops.append(T.ColorJitter(**jitter))
    if r.get("blur"):
        blur = r["blur"]
        sigma = blur.get("sigma", [0.1, 2.0])
        sigma = (float(sigma), float(sigma)) if isinstance(sigma, (int, float)) else tuple(float(s) for s in sigma)
        op = T.GaussianBlur(int(blur.get("kernel", 3)), sigma=sigma)
        p = float(blur.get("p", 1.0))
        ops.append(op if p >= 1.0 else T.RandomApply([op], p=p))
    if grayscale:
        ops.append(T.Grayscale(num_output_channels=3))
    ops += [T.ToTensor(), T.Normalize(list(mean), list(std))]
    return T.Compose(ops)


class PILImages(torch.utils.data.Dataset):
    """Images kept as PIL images (as FER repositories do), transformed per item."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable):
        from PIL import Image

        self.images = [Image.fromarray(np.ascontiguousarray(a)) for a in images]
        self.labels = [int(v) for v in labels]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def default_workers() -> int:
    """min(4, cpu count): the usual DataLoader setting."""
    return min(4, os.cpu_count() or 1)


def usual_loader(images: np.ndarray, labels: np.ndarray, rt, batch: int, recipe: dict | None,
                 num_workers: int | None = None, seed: int = 0, shuffle: bool = True) -> torch.utils.data.DataLoader:
    """DataLoader over PIL images with the usual torchvision transforms (pin_memory on CUDA, drop_last)."""
    transform = usual_transform(recipe, rt.input_size, rt.mean, rt.std, grayscale=images.ndim == 3)
    workers = default_workers() if num_workers is None else int(num_workers)
    return torch.utils.data.DataLoader(PILImages(images, labels, transform), batch_size=batch, shuffle=shuffle,
                                       num_workers=workers, pin_memory=rt.device.type == "cuda", drop_last=True,
                                       generator=torch.Generator().manual_seed(seed))


def usual_feeder(loader: torch.utils.data.DataLoader, rt) -> tuple[Callable[[], Batch], Callable[[], None]]:
    """(next_batch, close): batches from the loader moved to the device (non_blocking when pinned)."""
    state = {"it": iter(loader)}
    pinned = loader.pin_memory

    def next_batch() -> Batch:
        try:
            x, y = next(state["it"])
        except StopIteration:
            state["it"] = iter(loader)
            x, y = next(state["it"])
        x = x.to(rt.device, non_blocking=pinned)
        if rt.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(rt.device, non_blocking=pinned)

    def close() -> None:
        state["it"] = None  # shuts the workers down

    return next_batch, close


# ---------------------------------------------------------------- timing

def make_train_step(model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, rt,
                    grad_clip: float | None = None) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """The engine's own `fer_lib.train.train_step`, bound to one model (so training and bench cannot drift)."""
    from fer_lib.train import train_step

    scaler = torch.amp.GradScaler("cuda") if rt.amp_dtype == torch.float16 else None

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with record_function("bench.train_step"):
            train_step(model, criterion, optimizer, x, y, rt, scaler=scaler, grad_clip=grad_clip)

    return step


def time_steps(next_batch: Callable[[], Batch], step: Callable[[torch.Tensor, torch.Tensor], None],
               device: torch.device, warmup: int, steps: int, prime: bool = True) -> list[float]:
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


def setup_case(case: BenchCase, device: torch.device):
    """(model, criterion, optimizer, runtime) built by the engine's functions from the case's config."""
    from fer_lib.models import create_model
    from fer_lib.train import build_criterion, build_optimizer, make_runtime

    rt = make_runtime(case.cfg, device)
    model = create_model(case.model, num_classes=NUM_CLASSES, pretrained=False, **case.model_options).to(device)
    if rt.channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    criterion = build_criterion(case.cfg, np.arange(NUM_CLASSES).repeat(4), NUM_CLASSES, device)
    optimizer = build_optimizer(case.cfg, model)
    return model, criterion, optimizer, rt


def make_feeder(pipeline: str, case: BenchCase, rt, images: np.ndarray, labels: np.ndarray, batch: int,
                num_workers: int | None, seed: int) -> tuple[Callable[[], Batch], Callable[[], None]]:
    """(next_batch, close) of one pipeline."""
    if pipeline == "upper_bound":
        return upper_bound_feeder(rt, batch, seed), lambda: None
    if pipeline == "ours":
        return ours_feeder(images, labels, rt, batch, case.recipe, seed), lambda: None
    if pipeline == "usual":
        return usual_feeder(usual_loader(images, labels, rt, batch, case.recipe, num_workers, seed), rt)
    raise ValueError(f"bench: unknown pipeline {pipeline!r} (known: {', '.join(PIPELINES)})")


def _pool_size(s: Settings) -> int:
    """Images per pipeline block: every fetched batch distinct, no DataLoader restart inside a block."""
    return s.batch * (1 + s.block_warmup + s.steps_per_block)


def benchmark_case(case: BenchCase, device: torch.device, settings: Settings, pipelines: Sequence[str] = PIPELINES,
                   num_workers: int | None = None, inference: bool = True, seed: int = 0,
                   log: Callable[[str], None] | None = None) -> list[dict]:
    """Rows for one case: one per training pipeline, one per inference batch size."""
    from fer_lib.complexity import measure_inference
    from fer_lib.records import device_name

    log = log or (lambda msg: None)
    torch.manual_seed(seed)
    model, criterion, optimizer, rt = setup_case(case, device)
    step = make_train_step(model, criterion, optimizer, rt, case.cfg["train"].get("grad_clip"))
    s = settings
    images, labels = synthetic_images(_pool_size(s), case.native_size, case.channels, seed)
    workers = default_workers() if num_workers is None else int(num_workers)
    base = dict(device=device_name(device), device_type=device.type, paper=case.paper, experiment=case.experiment,
                model=case.model, input_size=case.input_size, native_size=case.native_size,
                native_channels=case.channels, precision=_precision(rt), channels_last=rt.channels_last,
                threads=torch.get_num_threads() if device.type == "cpu" else None)
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
    rows = []
    for pipeline in pipelines:
        t = times[pipeline]
        median = statistics.median(t)
        rows.append(dict(base, mode="train", pipeline=pipeline, batch=s.batch, warmup=s.warmup, steps=len(t),
                         augment="none" if pipeline == "upper_bound" else _recipe_text(case.recipe),
                         img_per_s=s.batch / median, step_ms_median=1000 * median, step_ms_min=1000 * min(t),
                         step_ms_max=1000 * max(t), latency_ms=None, peak_mem_mb=peak[pipeline], mem_kind=mem.kind,
                         num_workers=workers if pipeline == "usual" else 0))
        log(f"[bench] {case.paper} {case.label} {pipeline:<11} batch {s.batch:>3}: {rows[-1]['img_per_s']:8.2f} img/s "
            f"(steps {', '.join(f'{1000 * v:.0f}' for v in t)} ms)")
    if inference:
        with PeakMemory(device) as mem, rt.autocast():
            speed = measure_inference(model, case.input_size, device, batch_sizes=s.inference_batches,
                                      warmup=s.inference_warmup, repeats=s.inference_repeats)
        for b in s.inference_batches:
            rows.append(dict(base, mode="inference", pipeline="inference", batch=b, warmup=s.inference_warmup,
                             steps=s.inference_repeats, augment="none", img_per_s=speed[f"img_per_s_b{b}"],
                             step_ms_median=speed[f"latency_ms_b{b}"], step_ms_min=None, step_ms_max=None,
                             latency_ms=speed[f"latency_ms_b{b}"], peak_mem_mb=mem.mb, mem_kind=mem.kind,
                             num_workers=0))
            log(f"[bench] {case.paper} {case.label} inference   batch {b:>3}: {rows[-1]['img_per_s']:8.2f} img/s, "
                f"{rows[-1]['latency_ms']:.1f} ms")
    del model, optimizer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


# ---------------------------------------------------------------- ratios and targets

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


# ---------------------------------------------------------------- profiling (when a CPU target is missed)

def profile_case(case: BenchCase, device: torch.device, settings: Settings,
                 pipelines: Sequence[str] = ("ours", "usual"),
                 num_workers: int | None = None, seed: int = 0, row_limit: int = 12) -> str:
    """Markdown: where a step's time goes in each pipeline (torch.profiler, the main process only)."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # keep the profiler's own start/stop logging quiet
    from torch.profiler import ProfilerActivity, profile

    model, criterion, optimizer, rt = setup_case(case, device)
    step = make_train_step(model, criterion, optimizer, rt, case.cfg["train"].get("grad_clip"))
    s = settings
    steps = s.steps_per_block
    images, labels = synthetic_images(s.batch * (2 + s.warmup + steps), case.native_size, case.channels, seed)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    parts = [f"### {case.paper} {case.label}, batch {s.batch}, {steps} profiled steps per pipeline\n"]
    summary: dict[str, dict[str, float]] = {}
    for pipeline in pipelines:
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
        label_rows, summary[pipeline] = [], {}
        for label in ("bench.data", "bench.train_step"):
            if label in avg:
                ms = avg[label].cpu_time_total / 1000 / steps
                summary[pipeline][label.removeprefix("bench.")] = ms
                label_rows.append(f"| {label.removeprefix('bench.')} | {ms:.1f} | {100 * ms / (1000 * wall):.0f} % |")
        summary[pipeline]["step"] = 1000 * wall
        parts.append(f"**{pipeline}**: {1000 * wall:.0f} ms per step ({s.batch / wall:.1f} img/s)\n\n"
                     "| part | ms / step | share |\n|---|---:|---:|\n" + "\n".join(label_rows) + "\n")
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=row_limit, max_name_column_width=50)
        parts.append(f"<details><summary>top {row_limit} ops by self CPU time ({pipeline})</summary>\n\n"
                     f"```\n{table}\n```\n</details>\n")
    parts.append("`data` in the usual pipeline is the time the training process waited for the DataLoader; "
                 "its workers run in other processes (not profiled here) and compete for the same cores.\n")
    if {"ours", "usual"} <= set(summary):
        o, u = summary["ours"], summary["usual"]
        model_o = o["step"] - o.get("data", 0.0)
        model_u = u["step"] - u.get("data", 0.0)
        parts.append(f"**Reading**: data work is {o.get('data', 0.0):.1f} ms of ours' {o['step']:.0f} ms step "
                     f"({100 * o.get('data', 0.0) / o['step']:.1f} %) and {u.get('data', 0.0):.1f} ms of the usual "
                     f"{u['step']:.0f} ms ({100 * u.get('data', 0.0) / u['step']:.1f} %); the rest is the same "
                     f"train step (forward + backward + optimizer: {model_o:.0f} vs {model_u:.0f} ms here). A gap "
                     f"between the two pipelines larger than the data parts is the train step itself running at a "
                     f"different speed (load from other processes on the shared machine and, in the usual "
                     f"pipeline, its DataLoader workers competing for the cores), not the data work of the "
                     f"training process.\n")
    return "\n".join(parts)


# ---------------------------------------------------------------- the whole benchmark

@dataclass
class BenchResult:
    """Rows (one per model, input size, batch, precision, pipeline), the ratio table, the manifest, and a
    profiling note (Markdown) when a CPU target was missed."""

    rows: pd.DataFrame
    ratios: pd.DataFrame
    manifest: dict
    profile_note: str | None = None


def device_slug(device: torch.device) -> str:
    """File-name form of the device: 'cpu-amd-epyc', 'nvidia-h100-80gb-hbm3'."""
    from fer_lib.records import device_name

    name = device_name(device)
    if device.type == "cpu":
        name = "cpu " + re.sub(r"\s*CPU \(\d+ threads?\)$", "", name)
    name = re.sub(r"\((r|tm)\)", "", name.lower())
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-") or device.type


def with_precisions(cases: Sequence[BenchCase], device: torch.device,
                    precisions: Sequence[str] | None = None) -> list[BenchCase]:
    """Each case once per distinct autocast dtype of `precisions` (default fp32 and auto) on `device`."""
    from fer_lib.config import deep_merge
    from fer_lib.devices import autocast_dtype

    out = []
    for case in cases:
        seen = set()
        for precision in precisions or ("fp32", "auto"):
            dtype = autocast_dtype(precision, device)
            if dtype in seen:
                continue
            seen.add(dtype)
            out.append(replace(case, cfg=deep_merge(case.cfg, {"train": {"precision": precision}})))
    return out


def run_benchmark(models: Iterable[str] | None = None, device: str | torch.device = "auto", *,
                  cases: Sequence[BenchCase] | None = None, steps: int | None = None, warmup: int | None = None,
                  batch: int | None = None, rounds: int | None = None, quick: bool = False, threads: int | None = None,
                  num_workers: int | None = None, pipelines: Sequence[str] = PIPELINES, inference: bool = True,
                  inference_batches: Sequence[int] | None = None, profile_missed: bool = True, seed: int = 0,
                  precisions: Sequence[str] | None = None, log: Callable[[str], None] | None = print) -> BenchResult:
    """Benchmark `models` (names as resolve_cases; or explicit `cases`) on `device`.

    steps/warmup/batch/rounds/inference_batches override default_settings. threads: CPU threads of the
    training process (default 1 on CPU: on a small shared machine a busy second core stalls every
    parallel op; the usual pipeline's workers use the other cores). num_workers: the usual DataLoader's
    workers (default min(4, cpu count)). profile_missed: on CPU, profile every case whose target is
    missed (see profile_case); the note is BenchResult.profile_note. precisions: train.precision settings
    to time each case under (default: fp32 and the engine's "auto" choice side by side, once when they agree).
    """
    from fer_lib.complexity import cpu_threads
    from fer_lib.records import device_name, git_info, library_versions, utc_now
    from fer_lib.devices import resolve_device

    log = log or (lambda msg: None)
    dev = resolve_device(device)
    cases = with_precisions(list(cases) if cases is not None else resolve_cases(models), dev, precisions)
    if threads is None and dev.type == "cpu":
        threads = 1
    started, t0, load_start = utc_now(), time.perf_counter(), os.getloadavg()
    rows, used, settings = [], {}, {}
    with cpu_threads(threads):
        for case in cases:
            s = default_settings(case, dev, quick)
            s = replace(s, batch=batch or s.batch, warmup=s.warmup if warmup is None else warmup,
                        steps=steps or s.steps, rounds=rounds or s.rounds,
                        inference_batches=tuple(inference_batches or s.inference_batches))
            settings[(case.model, case.input_size)] = s
            used[case.label] = dict(paper=case.paper, experiment=case.experiment, **asdict(s))
            rows += benchmark_case(case, dev, s, pipelines, num_workers, inference, seed, log)
        dev_name = device_name(dev)
        table = pd.DataFrame(rows, columns=ROW_COLUMNS)
        ratios = ratio_table(table)
        note = None
        missed = ratios[(ratios.target_met == False) & (ratios.device_type == "cpu")]  # noqa: E712
        if profile_missed and len(missed) and {"ours", "usual"} <= set(pipelines):
            sections = []
            missed_keys = set(zip(missed.model, missed.input_size.astype(int)))
            for case in cases:
                if (case.model, case.input_size) in missed_keys:
                    log(f"[bench] target missed for {case.label}: profiling")
                    sections.append(profile_case(case, dev, settings[(case.model, case.input_size)],
                                                 num_workers=num_workers, seed=seed))
            note = _profile_note(missed, sections, threads)
    manifest = dict(
        device=dev_name, device_type=dev.type, device_slug=device_slug(dev), date=started,
        finished=utc_now(), wall_s=round(time.perf_counter() - t0, 1), git=git_info(), versions=library_versions(),
        quick=bool(quick or dev.type == "cpu"), threads=threads if dev.type == "cpu" else None,
        cpu_count=os.cpu_count(), usual_num_workers=default_workers() if num_workers is None else num_workers,
        load_average_start=list(load_start), load_average_end=list(os.getloadavg()), seed=seed,
        pipelines={"upper_bound": "random float tensors on the device at input size; train step only",
                   "ours": "engine data path: uint8 split on the device, index batches, train.prepare_batch "
                           "(resize, Augment, RGB, normalise) on the device",
                   "usual": "PIL images in a Dataset, torchvision.transforms v1 per the recipe, DataLoader "
                            "(num_workers, pin_memory on CUDA)"},
        timing="img/s = batch / median step time over the timed steps after warm-up (CUDA synchronised); "
               "inference from fer_lib.complexity.measure_inference (eval mode, under the training precision)",
        memory="cuda_max_allocated: torch.cuda.max_memory_allocated (MiB); cpu_peak_rss_delta: growth of the "
               "process's peak RSS (getrusage, MiB; 0 = stayed under an earlier configuration's peak; "
               "DataLoader workers not included)",
        data=DATA_NOTE, settings=used,
        targets={"gpu": f"ours/upper >= {GPU_MIN_OURS_OVER_UPPER}; ours/usual >= {GPU_MIN_OURS_OVER_USUAL_224} "
                        "(224-px models)", "cpu": f"ours/usual >= {CPU_MIN_OURS_OVER_USUAL}"},
    )
    return BenchResult(rows=table, ratios=ratios, manifest=manifest, profile_note=note)


def _profile_note(missed: pd.DataFrame, sections: list[str], threads: int | None) -> str:
    lines = ["# Where the time goes: CPU cases that missed ours >= usual\n",
             "Missed: " + ", ".join(f"{r.model}@{r.input_size} (ours/usual {r.ours_over_usual:.2f})"
                                    for r in missed.itertuples()) + ". "
             f"Training process on {threads} thread(s); torch.profiler over the timed steps.\n", *sections]
    return "\n".join(lines)


# ---------------------------------------------------------------- writing

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
    cols = ["paper", "model", "input_size", "mode", "pipeline", "batch", "precision", "img_per_s", "step_ms_median",
            "peak_mem_mb", "mem_kind"]
    ratio_cols = ["paper", "model", "input_size", "batch", "precision", "upper_bound_img_s", "ours_img_s",
                  "usual_img_s", "ours_over_upper", "ours_over_usual", "target", "target_met"]
    return "\n".join([
        f"# Training-pipeline benchmark: {m['device']}\n",
        f"{m['date']} · git {m['git'].get('commit', 'unknown')[:12]}"
        f"{' (dirty)' if m['git'].get('dirty') is True else ''}"
        f" · torch {m['versions']['torch']} · wall {m['wall_s']} s"
        + (f" · {m['threads']} training thread(s), {m['usual_num_workers']} DataLoader workers, load average "
           f"{m['load_average_start'][0]:.1f} -> {m['load_average_end'][0]:.1f}" if m["device_type"] == "cpu" else "")
        + "\n",
        f"{m['data']} {m['timing']}.\n",
        "## Throughput\n", _fmt(rows[[c for c in cols if c in rows]]), "",
        "## Ratios and targets\n", _fmt(result.ratios[[c for c in ratio_cols if c in result.ratios]]), "",
        f"Memory: {m['memory']}.\n",
    ])


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_results(result: BenchResult, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write <slug>.csv, <slug>_ratios.csv, <slug>.md, <slug>.manifest.json (and <slug>_profile.md when a
    profile note exists) under results/bench/ (or out_dir); returns the paths."""
    from fer_lib.outputs import atomic_write_text
    from fer_lib.paths import results_dir

    out = Path(out_dir) if out_dir else results_dir() / "bench"
    slug = result.manifest["device_slug"]
    paths = {"csv": out / f"{slug}.csv", "ratios": out / f"{slug}_ratios.csv", "md": out / f"{slug}.md",
             "manifest": out / f"{slug}.manifest.json"}
    atomic_write_text(paths["csv"], result.rows.to_csv(index=False))
    atomic_write_text(paths["ratios"], result.ratios.to_csv(index=False))
    atomic_write_text(paths["md"], markdown_report(result))
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
    from fer_lib.paths import results_dir

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
