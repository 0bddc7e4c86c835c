"""Model complexity: parameters, FLOPs / MACs and inference speed.

FLOPs come from `torch.utils.flop_counter.FlopCounterMode` (`flop_counter`), which counts the matrix products and
convolutions (including attention's batched products) and counts one multiply-add as 2 FLOPs;
element-wise work (norms, activations, softmax, pooling) is not counted, as in fvcore/ptflops.
Many papers (P4 among them) print multiply-accumulates as "GFLOPs", so tables carry both
`gflops` (= FLOPs / 1e9) and `gmacs` (= FLOPs / 2e9); compare P4's 4.51 "GFLOPs" with `gmacs`.

Speed: `measure_inference` times eval-mode fp32 forward passes under `torch.inference_mode` on
random input, after warm-up, synchronising CUDA around each timed pass, and reports the median
of the repeats: per-batch latency (ms) and images per second for each batch size (batch 1 = FPS).
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Iterable

import pandas as pd
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from fer_lib.claims.paper_figures import PAPER_FIGURES, RATIO_CLAIMS
from fer_lib.devices import cpu_threads, device_label, resolve_device, synchronize
from fer_lib.models import count_params, create_model, model_spec

# How hard notebooks time models: smoke = a few repeats (CPU minutes), full = the benchmark setting.
# smoke runs single-threaded: on a small shared CPU, waiting for a busy second core makes every
# parallel op stall, which swamps the timings (and the FLOP-counting passes) far more than it helps.
SPEED_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(batch_sizes=(1, 4), warmup=2, repeats=3, threads=1),
    "full": dict(batch_sizes=(1, 64), warmup=10, repeats=30, threads=None),
}


def _cpu_attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of CPU's fused attention kernel, as torch counts its CUDA kernels (QK^T and AV: 2 products)."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def flop_counter() -> FlopCounterMode:
    """torch's FLOP counter, also counting scaled_dot_product_attention on CPU: torch's registry has only the
    CUDA kernels, so on CPU a fused attention (timm's Block, SparTa's layers) would count as zero."""
    cpu_kernel = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    return FlopCounterMode(display=False, custom_mapping={cpu_kernel: _cpu_attention_flops} if cpu_kernel else None)


def param_counts(model: nn.Module) -> dict[str, int]:
    """{'params': all parameters, 'trainable_params': those with requires_grad}."""
    return dict(params=count_params(model), trainable_params=count_params(model, trainable_only=True))


@torch.no_grad()
def count_flops(model: nn.Module, input_size: int, device: str | torch.device = "cpu") -> int:
    """FLOPs of one forward pass of one (3, S, S) image (a multiply-add counts 2)."""
    device = resolve_device(device)
    was_training = model.training
    model.eval()
    x = torch.randn(1, 3, input_size, input_size, device=device)
    counter = flop_counter()
    with counter:
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


@torch.no_grad()
def flops_by_module(model: nn.Module, input_size: int, depth: int = 2) -> pd.DataFrame:
    """GMACs of each submodule down to `depth` levels (one (3,S,S) image), largest first."""
    was_training = model.training
    model.eval()
    counter = flop_counter()
    with counter:
        model(torch.randn(1, 3, input_size, input_size))
    model.train(was_training)
    root = type(model).__name__
    rows = []
    for name, ops in counter.get_flop_counts().items():
        if name == "Global":
            continue
        name = "(total)" if name == root else name.removeprefix(root + ".")
        if name == "(total)" or name.count(".") < depth:
            rows.append(dict(module=name, gmacs=sum(ops.values()) / 2e9))
    return pd.DataFrame(rows).sort_values("gmacs", ascending=False, ignore_index=True)


def _time_passes(
    models: dict[Any, tuple[nn.Module, int]],
    device: torch.device,
    batch_sizes: Iterable[int],
    warmup: int,
    repeats: int,
) -> dict[Any, dict[str, Any]]:
    """Time forward passes of several models in interleaved rounds (round r times every model once per
    batch size), so that load from other processes on a shared machine falls on all of them alike."""
    batch_sizes = tuple(batch_sizes)
    inputs: dict[tuple[int, int], torch.Tensor] = {}
    times: dict[Any, dict[int, list[float]]] = {key: {b: [] for b in batch_sizes} for key in models}
    with torch.inference_mode():
        for key, (model, size) in models.items():
            model.to(device).eval()
            for b in batch_sizes:
                if (size, b) not in inputs:
                    inputs[(size, b)] = torch.randn(b, 3, size, size, device=device)
                for _ in range(warmup):
                    model(inputs[(size, b)])
        for _ in range(max(1, repeats)):
            for key, (model, size) in models.items():
                for b in batch_sizes:
                    x = inputs[(size, b)]
                    synchronize(device)
                    start = time.perf_counter()
                    model(x)
                    synchronize(device)
                    times[key][b].append(time.perf_counter() - start)
    out = {}
    for key in models:
        res: dict[str, Any] = dict(device=device_label(device), warmup=warmup, repeats=max(1, repeats))
        for b in batch_sizes:
            median = statistics.median(times[key][b])
            res[f"latency_ms_b{b}"] = 1000.0 * median
            res[f"img_per_s_b{b}"] = b / median
        if 1 in batch_sizes:
            res["fps_b1"] = res["img_per_s_b1"]
        out[key] = res
    return out


def measure_inference(
    model: nn.Module,
    input_size: int,
    device: str | torch.device = "auto",
    batch_sizes: Iterable[int] = (1, 64),
    warmup: int = 10,
    repeats: int = 30,
    threads: int | None = None,
) -> dict[str, Any]:
    """Median latency and throughput of eval-mode forward passes at each batch size.

    Returns {'device', 'warmup', 'repeats', 'latency_ms_b{B}', 'img_per_s_b{B}' for each B,
    'fps_b1' (= img_per_s_b1) when 1 is among the batch sizes}. The model is moved to `device`.
    threads: CPU threads while timing (None: torch's current setting).
    """
    with cpu_threads(threads):
        return _time_passes({0: (model, input_size)}, resolve_device(device), batch_sizes, warmup, repeats)[0]


def time_models(models: dict[Any, tuple[nn.Module, int]], device: str | torch.device = "auto",
                batch_sizes: Iterable[int] = (1, 64), warmup: int = 1, repeats: int = 3,
                threads: int | None = None) -> dict[Any, dict[str, Any]]:
    """{key: measure_inference-style timings} of several (model, input size), timed in interleaved rounds (so load
    from other processes falls on all alike): what a speed ratio between two models is read from."""
    with cpu_threads(threads):
        return _time_passes(models, resolve_device(device), batch_sizes, warmup, repeats)


def _entry(item: Any) -> dict[str, Any]:
    """Normalise a table entry: 'name', (name, options) or dict(name=..., options=..., label=..., input_size=...)."""
    if isinstance(item, str):
        item = dict(name=item)
    elif isinstance(item, (tuple, list)):
        item = dict(name=item[0], options=dict(item[1]) if len(item) > 1 else {})
    item = dict(item)
    item.setdefault("options", {})
    item.setdefault("input_size", model_spec(item["name"]).input_size)
    item.setdefault("label", item["name"] + "".join(f" {k}={v}" for k, v in item["options"].items()))
    return item


def complexity_table(
    names_and_options: Iterable[Any],
    device: str | torch.device = "auto",
    measure_speed: bool = True,
    num_classes: int = 7,
    batch_sizes: Iterable[int] = (1, 64),
    warmup: int = 10,
    repeats: int = 30,
    threads: int | None = None,
) -> pd.DataFrame:
    """One row per model: params, trainable params, GFLOPs, GMACs (and speed when measure_speed).

    Entries are 'name', (name, options) or dict(name, options, label, input_size); identical
    (name, options, input_size) entries are measured once. Speed is timed in interleaved rounds
    over all models (see `_time_passes`), so ratios between rows are fair on a busy machine.
    threads: CPU threads for the whole computation (None: torch's current setting).
    """
    with cpu_threads(threads):
        return _complexity_table(names_and_options, resolve_device(device), measure_speed, num_classes,
                                 batch_sizes, warmup, repeats)


def _complexity_table(names_and_options, device, measure_speed, num_classes, batch_sizes, warmup,
                      repeats) -> pd.DataFrame:
    entries = [_entry(item) for item in names_and_options]
    models: dict[Any, tuple[nn.Module, int]] = {}
    stats: dict[Any, dict[str, Any]] = {}
    for item in entries:
        key = (item["name"], repr(sorted(item["options"].items())), item["input_size"])
        item["key"] = key
        if key not in stats:
            model = create_model(item["name"], num_classes=num_classes, **item["options"])
            flops = count_flops(model, item["input_size"], "cpu")
            stats[key] = dict(**param_counts(model), gflops=flops / 1e9, gmacs=flops / 2e9)
            models[key] = (model, item["input_size"])
    if measure_speed:
        for key, speed in _time_passes(models, device, batch_sizes, warmup, repeats).items():
            stats[key].update(speed)
    del models
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return pd.DataFrame([dict(label=item["label"], model=item["name"], options=item["options"],
                              paper=model_spec(item["name"]).paper, input_size=item["input_size"],
                              **stats[item["key"]]) for item in entries])


def compare_with_papers(table: pd.DataFrame) -> pd.DataFrame:
    """`table` (labelled as fer_lib.claims.paper_figures) joined with the papers' printed figures.

    Adds paper_params / paper_gflops / paper_fps / source / note, `params_match` (exact counts equal,
    or rounded counts equal at the paper's 0.1 M precision) and `gmacs / paper_gflops`.
    """
    figs = pd.DataFrame([dict(label=f.label, paper_params=f.params, paper_params_exact=f.params_exact,
                              paper_gflops=f.gflops, paper_fps=f.fps, source=f.source, note=f.note)
                         for f in PAPER_FIGURES])
    df = table.merge(figs, on="label", how="left")

    def match(row) -> object:
        if pd.isna(row.paper_params):
            return None
        if row.paper_params_exact:
            return bool(row.params == row.paper_params)
        return bool(round(row.params / 1e6, 1) == round(row.paper_params / 1e6, 1))

    df["params_match"] = df.apply(match, axis=1)
    df["gmacs / paper_gflops"] = df["gmacs"] / df["paper_gflops"]
    return df.drop(columns=["paper_params_exact"])


def ratio_table(table: pd.DataFrame) -> pd.DataFrame:
    """The papers' stated ratios (paper_figures.RATIO_CLAIMS) beside the same ratios measured in `table`.

    For FPS claims both batch-1 FPS and the largest measured batch's img/s are given.
    """
    by_label = table.set_index("label")
    speed_cols = sorted((c for c in table.columns if c.startswith("img_per_s_b")), key=lambda c: int(c[11:]))
    rows = []
    for c in RATIO_CLAIMS:
        if c.numerator not in by_label.index or c.denominator not in by_label.index:
            continue
        num, den = by_label.loc[c.numerator], by_label.loc[c.denominator]
        row = dict(claim=c.claim, paper=c.paper_value, source=c.source)
        if c.metric == "fps":
            for col in speed_cols:
                row[f"measured {col}"] = num[col] / den[col]
        else:
            row["measured"] = num[c.metric] / den[c.metric]
        rows.append(row)
    return pd.DataFrame(rows)
