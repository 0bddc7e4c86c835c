"""Before a window is spent: is this machine ready, and how fast is it?

Checks the library versions the engine needs, the device (CUDA, bf16), each planned dataset (found, loads,
its sha256, and whether it was rebuilt from a checked transfer), then times a few training steps of each
model family at its experiment's input size and batch (the engine's own train step on an in-memory batch:
the synthetic-tensor upper bound of `bench`). The measured img/s replace the plan's estimates
(`campaign plan --calibration FILE`). On a CPU it also measures whether two runs at once (half the threads
each) beat one run with every thread (fer_lib.campaign.cpu_layout); `campaign run --calibration FILE` follows it.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from fer_lib.bench.cases import case_from_config
from fer_lib.bench.pipelines import make_train_step, setup_case, upper_bound_feeder
from fer_lib.bench.timing import time_steps
from fer_lib.campaign.cpu_layout import measure_cpu_layout
from fer_lib.campaign.plan import campaign_runs
from fer_lib.config import load_config
from fer_lib.data import load_dataset
from fer_lib.devices import autocast_dtype, cuda_bf16_native, device_name, precision_name, resolve_device
from fer_lib.runs.store import utc_now

CONCURRENCY_GAIN = 1.25  # img/s gain from a doubled batch above which two runs share one GPU
# The oldest releases the engine is tested with (the GPU machine has torch 2.11 / torchvision 0.26).
MINIMUM_VERSIONS = {"torch": "2.4", "torchvision": "0.19", "timm": "1.0", "numpy": "1.26", "pandas": "2.0",
                    "sklearn": "1.4", "yaml": "6.0", "submitit": "1.5"}


@dataclass
class Preflight:
    """The checks (one row each: check, ok, detail), the calibration (img/s by model@size) and, on a CPU, the
    measured layout (cpu_layout.measure_cpu_layout: one run with every thread or two at once)."""

    checks: pd.DataFrame
    calibration: dict[str, dict]
    cpu_layout: dict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks["ok"].all())


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("+")[0].split(".")[:2] if p.isdigit())


def check_versions() -> list[dict]:
    """One row per library: installed version against MINIMUM_VERSIONS."""
    rows = []
    for module, minimum in MINIMUM_VERSIONS.items():
        try:
            version = str(importlib.import_module(module).__version__)
        except ImportError:
            rows.append({"check": f"library {module}", "ok": False, "detail": f"missing (need >= {minimum})"})
            continue
        ok = _version_tuple(version) >= _version_tuple(minimum)
        rows.append({"check": f"library {module}", "ok": ok, "detail": f"{version} (need >= {minimum})"})
    return rows


def check_device(device: torch.device) -> list[dict]:
    """The device the runs will use, CUDA's presence, and which precision `auto` gives there."""
    cuda = torch.cuda.is_available()
    rows = [{"check": "device", "ok": True, "detail": device_name(device)},
            {"check": "CUDA", "ok": cuda or device.type == "cpu",
             "detail": f"{torch.cuda.device_count()} GPU(s), CUDA {torch.version.cuda}" if cuda else "not available"}]
    auto = precision_name(autocast_dtype("auto", device))
    bf16 = device.type != "cuda" or cuda_bf16_native(device)
    rows.append({"check": "bf16", "ok": bf16, "detail": f"precision 'auto' trains in {auto} here"})
    return rows


def check_datasets(experiments: list[str], profile: str, data_dir) -> list[dict]:
    """Each dataset the experiments train on: loads, with its size and sha256 (and where it came from)."""
    rows, seen = [], set()
    for experiment in experiments:
        data = load_config(experiment, profile)["data"]
        key = (data["dataset"], json.dumps(data["options"] or {}, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        try:
            ds = load_dataset(data["dataset"], data_dir, **(data["options"] or {}))
        except (FileNotFoundError, ValueError) as err:
            rows.append({"check": f"dataset {data['dataset']}", "ok": False, "detail": str(err).splitlines()[0][:200]})
            continue
        rows.append({"check": f"dataset {data['dataset']}", "ok": True,
                     "detail": f"{len(ds)} images, sha256 {ds.sha256[:16]}..., {ds.source}"})
    return rows


def calibrate(experiments: list[str], device: torch.device, steps: int = 3, batch: int | None = None) -> tuple[
        list[dict], dict[str, dict]]:
    """Time `steps` training steps of each model family (one per model@size); (check rows, calibration)."""
    rows, calibration = [], {}
    for experiment in experiments:
        case = case_from_config(experiment)
        if case.label in calibration:
            continue
        size = batch or int(case.cfg["train"]["batch_size"])
        started = time.perf_counter()
        try:
            model, criterion, optimizer, rt = setup_case(case, device)
            step = make_train_step(model, criterion, optimizer, rt, case.cfg["train"].get("grad_clip"))
            times = time_steps(upper_bound_feeder(rt, size), step, device, warmup=1, steps=steps)
            # Does one run keep the GPU busy? (runs_per_gpu)
            doubled = time_steps(upper_bound_feeder(rt, 2 * size), step, device, warmup=1, steps=steps) \
                if device.type == "cuda" else None
        except (RuntimeError, ValueError) as err:  # out of memory, an op the device lacks, a bad option
            rows.append({"check": f"train step {case.label}", "ok": False, "detail": str(err).splitlines()[0][:200]})
            continue
        rate = size / statistics.median(times)
        calibration[case.label] = {"model": case.model, "input_size": case.input_size, "batch": size,
                                   "img_per_s": round(rate, 1), "precision": precision_name(rt.amp_dtype),
                                   "experiment": experiment}
        if doubled:
            calibration[case.label]["img_per_s_double_batch"] = round(2 * size / statistics.median(doubled), 1)
        rows.append({"check": f"train step {case.label}", "ok": True,
                     "detail": f"{rate:.1f} img/s at batch {size} ({precision_name(rt.amp_dtype)}), "
                               f"{time.perf_counter() - started:.1f} s"})
        del model, optimizer
    return rows, calibration


def runs_per_gpu(calibration: dict[str, dict]) -> tuple[int, float, str]:
    """(runs at once on one GPU, slowdown of each run then, why), from the calibration: when doubling the batch
    raises a family's img/s by more than CONCURRENCY_GAIN, one run leaves the GPU idle part of each step (launch
    and Python overhead), and two runs at once finish sooner than one after the other. Median over families."""
    gains = [f["img_per_s_double_batch"] / f["img_per_s"] for f in calibration.values() if "img_per_s_double_batch" in f]
    if not gains:
        return 1, 1.0, "one run per GPU (no concurrency measurement: not on CUDA)"
    gain = statistics.median(gains)
    if gain <= CONCURRENCY_GAIN:
        return 1, 1.0, f"one run per GPU: a doubled batch gains only x{gain:.2f} img/s (median of {len(gains)})"
    return 2, round(2 / min(gain, 2.0), 2), (f"two runs per GPU: a doubled batch gains x{gain:.2f} img/s (median "
                                             f"of {len(gains)}), so each of two runs is ~x{2 / min(gain, 2.0):.2f} slower")


def check_cpu_layout(calibration: dict[str, dict], batch: int | None, steps: int) -> tuple[list[dict], dict]:
    """(check rows, layout): one run with every thread or two at once, per calibrated family, then the campaign's."""
    cases = [case_from_config(family["experiment"]) for family in calibration.values()]
    layout = measure_cpu_layout(cases, batch=batch, steps=steps)
    rows = [{"check": f"cpu layout {label}", "ok": bool(f["ok"]), "detail": f["reason"]}
            for label, f in layout["families"].items()]
    return rows + [{"check": "cpu layout", "ok": True, "detail": layout["reason"]}], layout


def preflight(only: list[str] | None = None, profile: str = "full", data_dir=None, device: str = "auto",
              steps: int = 3, batch: int | None = None, layout_steps: int = 5) -> Preflight:
    """Every check, then the calibration of each planned model family; on a CPU, the layout measurement
    (`layout_steps` timed steps per layout and family, at `batch` or each experiment's; 0: not measured)."""
    dev = resolve_device(device)
    experiments = list(dict.fromkeys(run.experiment for run in campaign_runs(only, profile)))
    rows = check_versions() + check_device(dev) + check_datasets(experiments, profile, data_dir)
    timed, calibration = calibrate(experiments, dev, steps, batch)
    layout_rows, layout = check_cpu_layout(calibration, batch, layout_steps) \
        if dev.type == "cpu" and layout_steps > 0 and calibration else ([], None)
    return Preflight(pd.DataFrame(rows + timed + layout_rows), calibration, layout)


def write_calibration(path: str | Path, result: Preflight, device: str = "auto") -> None:
    """Save the calibration (with the device and time) for `campaign plan --calibration`."""
    runs, slowdown, why = runs_per_gpu(result.calibration)
    payload = {"device": device_name(resolve_device(device)), "measured": utc_now(),
               "method": "engine train step on an in-memory batch (synthetic-tensor upper bound)",
               "runs_per_gpu": runs, "slowdown_when_sharing": slowdown, "runs_per_gpu_reason": why,
               "families": result.calibration}
    if result.cpu_layout is not None:
        payload["cpu_layout"] = result.cpu_layout
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=1) + "\n")


def read_calibration(path: str | Path) -> dict[tuple[str, int], float]:
    """img/s by (model, input size) from a calibration file."""
    payload = _calibration_file(path)
    return {(f["model"], int(f["input_size"])): float(f["img_per_s"]) for f in payload["families"].values()}


def read_concurrency(path: str | Path, cpu: bool = False) -> tuple[int, float, str]:
    """(runs per GPU, slowdown of each when sharing, why) recorded in a calibration file; cpu: (runs at once on
    this CPU, slowdown, why) from its measured CPU layout, one at a time when it has none or was measured on a
    machine with another number of CPUs."""
    payload = _calibration_file(path)
    if not cpu:
        return int(payload.get("runs_per_gpu", 1)), float(payload.get("slowdown_when_sharing", 1.0)), \
            str(payload.get("runs_per_gpu_reason", "one run per GPU"))
    layout = payload.get("cpu_layout")
    if not layout:
        return 1, 1.0, "one run at a time: no CPU layout in the calibration (run `campaign preflight` on this CPU)"
    if int(layout["cpus"]) != (os.cpu_count() or 1):
        return 1, 1.0, f"one run at a time: the CPU layout was measured with {layout['cpus']} CPUs, this machine has " \
                       f"{os.cpu_count()}"
    return int(layout["runs_at_once"]), float(layout["slowdown_when_sharing"]), str(layout["reason"])


def _calibration_file(path: str | Path) -> dict:
    try:
        payload = json.loads(Path(path).read_text())
        for family in payload["families"].values():
            float(family["img_per_s"]), int(family["input_size"]), str(family["model"])
        return payload
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a calibration file written by `campaign preflight` ({err})") from None
