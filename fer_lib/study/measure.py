"""Size and speed claims measured on the models the zoo builds (parameters, GMACs, FPS and epoch-time ratios)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fer_lib.bench.complexity import count_flops, param_counts, time_models
from fer_lib.claims import load_claims
from fer_lib.config import load_config
from fer_lib.devices import resolve_device
from fer_lib.models import create_model, model_spec
from fer_lib.runs.select import at_full_budget, real_runs
from fer_lib.runs.store import epoch_times_by_conditions, resumed_elsewhere, timing_conditions
from fer_lib.study.judging import applied_tolerance, judge_measured

# An FPS-ratio claim is timed in inference at batch 1 (FPS) and 64 (throughput): {batch: (warm-up, timed passes)}.
# Batch 64 of Swin-T at 224 px takes seconds a pass on one CPU core: one warm-up and two timed passes each.
FPS_TIMING = {1: (2, 5), 64: (1, 2)}


def claim_model(claim: dict) -> str | None:
    """The zoo model a size or speed claim is measured on: its `model`, else (`model_of`) the model the named
    experiment's config trains (so a claim about a trained model names the experiment, not a model by hand)."""
    if claim.get("model"):
        return claim["model"]
    return load_config(claim["model_of"], "full")["model"]["name"] if claim.get("model_of") else None


class ModelMeasurer:
    """Measures size and speed claims on models built by the zoo (cached per model and options).

    GFLOPs claims are compared with GMACs: P4's Swin-T figure (4.51) matches a count in which one
    multiply-add is one operation, whereas torch.utils.flop_counter counts it as two.
    """

    def __init__(self, device: str = "cpu", measure_speed: bool = True, runs: list[dict] | None = None):
        self.device, self.measure_speed = device, measure_speed
        self.runs = runs
        # claim id -> (timing conditions, 'cpu' / 'cuda') of the runs an epoch-time ratio was read from
        self._timed: dict[str, tuple[str, str]] = {}
        self._cache: dict = {}

    @property
    def device_type(self) -> str:
        """'cpu' or 'cuda': where speed claims are measured."""

        return resolve_device(self.device).type

    def measured_on(self, claim: dict) -> str:
        """Where a measured claim's number comes from: the runs' timing conditions for an epoch-time ratio (it reads
        recorded runs), else this measurer's device type."""
        return self._timed[claim["id"]][0] if claim["id"] in self._timed else self.device_type

    def device_type_of(self, claim: dict) -> str:
        """The device class a measured claim's number comes from: the timed runs' for an epoch-time ratio, else
        this measurer's (what a claim's `device` is compared with)."""
        return self._timed[claim["id"]][1] if claim["id"] in self._timed else self.device_type

    def _model(self, name: str, options: dict):
        key = (name, tuple(sorted((options or {}).items())))
        if key not in self._cache:
            self._cache[key] = (create_model(name, **(options or {})), model_spec(name).input_size)
        return self._cache[key]

    def _params(self, name: str, options: dict) -> int:
        return param_counts(self._model(name, options)[0])["params"]

    def _fps_ratio(self, claim: dict) -> tuple[float, str]:
        """Batch-1 FPS ratio of the claim's two models (batch 64's img/s ratio in the note), timed in interleaved
        rounds (FPS_TIMING passes each), one CPU thread (a shared small CPU stalls on two), on this device."""
        models = {i: self._model(claim["model"], opts) for i, opts in enumerate(claim["models"])}
        threads = 1 if self.device_type == "cpu" else None
        ratios, label = {}, ""
        for batch, (warmup, repeats) in FPS_TIMING.items():
            timed = time_models(models, self.device, (batch,), warmup=warmup, repeats=repeats, threads=threads)
            ratios[batch] = timed[0][f"img_per_s_b{batch}"] / timed[1][f"img_per_s_b{batch}"]
            label = timed[0]["device"]
        for model, _ in models.values():
            model.to("cpu")                                                  # the size counts run on the CPU
        passes = ", ".join(f"batch {b}: median of {r}" for b, (_, r) in FPS_TIMING.items())
        theirs = f"; P4 timed on {claim['timed_on']}" if claim.get("timed_on") else ""
        return ratios[1], (f"inference FPS ratio at batch 1 (batch 64 img/s ratio: {ratios[64]:.3f}; {passes} passes) "
                           f"on {label}, device class {self.device_type}{theirs}")

    def _same_construction(self, claim: dict) -> str:
        """The claims measured on the same construction (claim `same_construction`), each with ours, P4's and its
        own verdict at its own tolerance, judged as its own row is (judging.judge_measured), so that one
        construction's verdicts are read together."""
        by_id = {c["id"]: c for c in load_claims()["claims"]}
        parts = []
        for other in (by_id[i] for i in claim.get("same_construction", [])):
            value, note = self._measure(other)
            if value is None:
                parts.append(f"{other['id']}: not measured ({note})")
                continue
            _, rule = applied_tolerance(other)
            judged, _ = judge_measured(other, value, note, self.device_type_of(other))
            parts.append(f"{other['id']}: ours {value:.3f} vs P4's {other['value']:g}, {judged} at its own "
                         f"tolerance ({rule})")
        return "; one construction with " + "; ".join(parts) if parts else ""

    def __call__(self, claim: dict) -> tuple[float | None, str]:
        value, note = self._measure(claim)
        if value is not None and claim.get("same_construction"):
            note += self._same_construction(claim)
        if claim.get("see"):
            note += f"; see {claim['see']}"
        return value, note

    def _measure(self, claim: dict) -> tuple[float | None, str]:
        kind, name = claim["kind"], claim_model(claim)
        if kind == "params":
            return float(self._params(name, claim.get("options", {}))), "parameters of the model built by fer_lib.models"
        if kind == "gflops":
            model, size = self._model(name, claim.get("options", {}))
            return count_flops(model, size) / 2e9, f"GMACs at {size} px (multiply-add = 1)"
        if kind == "gflops_saving":
            (with_it, size), (without, _) = (self._model(name, opts) for opts in claim["models"])
            return (count_flops(without, size) - count_flops(with_it, size)) / 2e9, \
                f"GMACs saved at {size} px (multiply-add = 1)"
        if kind == "param_ratio":
            first, second = claim["models"]
            return self._params(name, first) / self._params(name, second), "parameter ratio"
        if kind == "fps_ratio":
            if not self.measure_speed:
                return None, "speed not measured in this run of the notebook"
            return self._fps_ratio(claim)
        if kind == "epoch_time_ratio":
            return self._epoch_time_ratio(claim)
        raise ValueError(f"claim {claim['id']}: unknown kind {kind!r}")

    def _epoch_time_ratio(self, claim: dict) -> tuple[float | None, str]:
        """Ratio of median epoch times of the experiments' complete real-data runs at their full budget (any seed,
        reruns too: each is a timing), read only from runs timed under the same conditions (device with its thread
        count, CPU instruction set, precision) from their first epoch to their last: a ratio across machines or
        precisions would measure the machines."""
        runs = real_runs() if self.runs is None else self.runs
        by_conditions: list[dict[str, list[float]]] = []
        device_types: dict[str, str] = {}  # timing conditions -> device class (one label names one device)
        for experiment in claim["experiments"]:
            full = [r for r in runs if r["manifest"]["experiment"] == experiment and at_full_budget(r["manifest"])]
            mine = [r for r in full if not resumed_elsewhere(r["manifest"])]
            if not full:
                return None, f"no complete real-data run of {experiment} at its full budget yet"
            if not mine:
                return None, (f"no complete real-data run of {experiment} at its full budget timed under one condition "
                              f"yet ({len(full)} resumed under other or unrecorded conditions)")
            device_types.update({timing_conditions(r["manifest"]): r["manifest"].get("device_type", "cpu") for r in mine})
            by_conditions.append(epoch_times_by_conditions(
                [(run["manifest"], pd.read_csv(Path(run["run_dir"]) / "history.csv")) for run in mine]))
        first, second = by_conditions
        shared = [key for key in first if key in second]
        if not shared:
            seen = "; ".join(f"{e}: " + " | ".join(g) for e, g in zip(claim["experiments"], by_conditions))
            return None, f"no runs of both timed under the same conditions ({seen})"
        key = max(shared, key=lambda k: len(first[k]) + len(second[k]))
        self._timed[claim["id"]] = key, device_types[key]
        ratio = float(np.median(first[key])) / float(np.median(second[key]))
        return ratio, f"median epoch time on {key} ({len(first[key])} and {len(second[key])} run(s))"
