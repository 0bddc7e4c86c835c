"""The campaign plan: every (experiment, seed[, fold]) of the full study, ordered by verdicts gained per
GPU-minute, with what each run needs.

Estimate of a run's device minutes = images per epoch x epochs / img/s, where img/s comes from a
measurement when there is one for the model at its input size on that device (a `bench` table or the
preflight's calibration; the source is shown), else from a two-term model of one training step: a
fixed cost per step (STEP_OVERHEAD_S: kernel launches, optimiser) plus about 3 x the forward FLOPs per
image at an assumed sustained rate (ASSUMED_TFLOPS). Both assumptions are stated in every row.
Verdicts gained: each claim needs its experiment's seeds (and folds), so one run earns
claims / runs-needed, where a claim made with ImageNet weights (which this study cannot load) counts
SCRATCH_VS_PRETRAINED: a from-scratch run bounds it but rarely settles it. Runs are ordered by that per
estimated minute. Complete runs in the record are always skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fer_lib.bench.complexity import count_flops
from fer_lib.claims import load_claims
from fer_lib.config import list_configs, load_config, run_fold, split_spec
from fer_lib.data import load_dataset, split_indices
from fer_lib.models import create_model
from fer_lib.paths import runs_dir_for
from fer_lib.runs.select import at_full_budget, counted_runs
from fer_lib.runs.store import load_run

ASSUMED_TFLOPS = 200.0  # sustained bf16 training throughput assumed on one H200 (~25 % of its 790 peak)
SCRATCH_VS_PRETRAINED = 0.25  # weight of an ImageNet-pretrained claim that a from-scratch run can only bound
STEP_OVERHEAD_S = 0.010  # assumed fixed cost of one optimisation step (small models at low resolution)
MARGIN = 1.3         # a run's time request over its estimate (estimates are a model or a few timed steps)
SETUP_MINUTES = 0.5  # process start, data load and the held-out evaluation, on top of the training estimate
# Runs whose best checkpoint a later notebook reads (t-SNE, Grad-CAM, cross-dataset): kept, if small.
KEEP_CHECKPOINT = frozenset({"p2_lc2fer_c5_aug", "p2_lc2fer_c5"})
# Plan statuses. A complete run trained by an older engine (its manifest has no `allocator`: before the engine
# set the allocator, channels-last and fp32 depthwise convs, issue 32) is run again with --retrain-older-engine.
TO_RUN, COMPLETE, RETRAIN = "to run", "complete (skipped)", "complete, older engine: retrain"
RUNNABLE = (TO_RUN, RETRAIN)
ENGINE_KEY = "allocator"  # recorded by every run of the current engine, by none before it


@dataclass(frozen=True)
class PlannedRun:
    """One run of the campaign."""

    experiment: str
    paper: str
    seed: int
    fold: int | None
    dataset: str
    model: str
    input_size: int
    epochs: int
    batch: int
    profile: str = "full"


def request_minutes(estimate: float) -> float:
    """The device time a run asks for: its estimate x MARGIN + SETUP_MINUTES (what a budget must hold)."""
    return estimate * MARGIN + SETUP_MINUTES


def campaign_runs(only: list[str] | None = None, profile: str = "full") -> list[PlannedRun]:
    """Every (experiment, seed, fold) of the study at `profile` (full: the papers' budgets; smoke: the
    embedded synthetic data, for pipeline checks); `only` keeps papers (P1..P4) or experiments."""
    runs = []
    for name in list_configs():
        cfg = load_config(name, profile)
        if only and cfg["paper"] not in only and name not in only:
            continue
        spec = cfg["data"]["splits"]
        folds = list(range(int(spec["kfold"]))) if "kfold" in spec else [None]
        for seed in cfg["seeds"]:
            for fold in folds:
                runs.append(PlannedRun(name, cfg["paper"], int(seed), fold, cfg["data"]["dataset"],
                                       cfg["model"]["name"], int(cfg["data"]["input_size"]),
                                       int(cfg["train"]["epochs"]), int(cfg["train"]["batch_size"]), profile))
    if only and not runs:
        raise ValueError(f"no experiment matches --only {' '.join(only)}: give papers (P1..P4) or experiment names "
                         f"(fer_lib/configs/*.yaml)")
    return runs


def _claims_per_experiment() -> dict[str, float]:
    """Claims each experiment's runs can settle, ImageNet-pretrained ones weighted SCRATCH_VS_PRETRAINED."""
    data = load_claims()
    weights = data["defaults"].get("paper_weights", {})
    counts: dict[str, float] = {}
    for claim in data["claims"]:
        weight = SCRATCH_VS_PRETRAINED if weights.get(claim["paper"]) == "imagenet" else 1.0
        for experiment in [claim.get("experiment"), *claim.get("experiments", [])]:
            if experiment:
                counts[experiment] = counts.get(experiment, 0.0) + weight
    return counts


def train_images(experiment: str, data_dir=None, profile: str = "full", _cache: dict = {}) -> int | None:
    """Training images per epoch of an experiment at `profile` (None when its dataset is not here)."""
    cfg = load_config(experiment, profile)
    data = cfg["data"]
    dataset_key = (data["dataset"], json.dumps(data["options"] or {}, sort_keys=True), str(data_dir))
    if dataset_key not in _cache:  # one load per dataset, not per experiment (RAF-DB decodes 15k JPEGs)
        try:
            _cache[dataset_key] = load_dataset(data["dataset"], data_dir, **(data["options"] or {}))
        except (FileNotFoundError, ValueError):
            _cache[dataset_key] = None
    ds = _cache[dataset_key]
    split_key = (dataset_key, json.dumps(split_spec(cfg), sort_keys=True, default=str))
    if ds is not None and split_key not in _cache:
        _cache[split_key] = int(len(split_indices(ds, split_spec(cfg), 0)["train"]))
    return None if ds is None else _cache[split_key]


def model_train_flops(model: str, input_size: int, _cache: dict = {}) -> float:
    """About 3 x the forward FLOPs of one image: the training cost of one image (forward + backward)."""
    key = (model, input_size)
    if key not in _cache:
        _cache[key] = 3.0 * count_flops(create_model(model, num_classes=7), input_size)
    return _cache[key]


def throughput(model: str, input_size: int, batch: int, measured: dict[tuple[str, int], float] | None,
               tflops: float = ASSUMED_TFLOPS, overhead_s: float = STEP_OVERHEAD_S) -> tuple[float, str]:
    """(img/s, source): a measurement for the model at its size if given, else the step-cost estimate."""
    if measured and (model, input_size) in measured:
        return measured[(model, input_size)], "measured (bench / preflight)"
    step_s = overhead_s + batch * model_train_flops(model, input_size) / (tflops * 1e12)
    return batch / step_s, (f"estimate: {1000 * overhead_s:g} ms per step + 3 x forward FLOPs at "
                            f"{tflops:g} TFLOP/s (assumed)")


def destination(dataset: str, profile: str) -> Path:
    """Where a campaign run's records go: the record for real data at the full profile, else the scratch space."""
    return runs_dir_for(dataset, profile)


def complete_keys(profile: str = "full", dataset: str = "fer2013",
                  current_engine: bool = False) -> set[tuple[str, int, int | None]]:
    """(experiment, seed, fold) of the complete runs at `profile` already where the campaign writes them:
    full-budget real-data runs in the record (full), or complete runs at that profile in the scratch space;
    current_engine: only runs trained by this engine (their manifest records ENGINE_KEY)."""
    keys = set()
    real = profile == "full"
    for path in counted_runs(real_only=real, root=destination(dataset if real else "synthetic", profile))["path"]:
        run = load_run(path)
        m = run.manifest
        if m.get("profile") == profile and (not real or at_full_budget(m)) and (not current_engine or ENGINE_KEY in m):
            keys.add((m["experiment"], int(m["seed"]), run_fold(run.config)))
    return keys


def _status(key: tuple, done: set, older: set, n_images: int | None) -> str:
    """A run's plan status: complete runs are skipped (unless all of them are an older engine's and retraining
    those was asked), runs without their dataset here cannot run, the rest are to run."""
    if key in done:
        return RETRAIN if key in older and n_images is not None else COMPLETE
    return "dataset unavailable" if n_images is None else TO_RUN


def plan(budget_minutes: float | None = None, only: list[str] | None = None, data_dir=None,
         measured: dict[tuple[str, int], float] | None = None, tflops: float = ASSUMED_TFLOPS,
         images: dict[str, int] | None = None, profile: str = "full",
         retrain_older_engine: bool = False) -> pd.DataFrame:
    """The campaign, best verdicts-per-minute first, with the cumulative time requests (request_minutes) and
    what fits the budget.

    images: training images per epoch by experiment (default: counted from the datasets found here).
    measured: img/s by (model, input size), from a bench table or the preflight's calibration.
    retrain_older_engine: a (experiment, seed, fold) whose only complete runs were trained by an older engine
    is run again (status RETRAIN); the old run stays in the record beside the new one."""
    claims = _claims_per_experiment()
    done = complete_keys(profile)
    older = done - complete_keys(profile, current_engine=True) if retrain_older_engine else set()
    planned = campaign_runs(only, profile)
    per_experiment: dict[str, int] = {}
    for run in planned:
        per_experiment[run.experiment] = per_experiment.get(run.experiment, 0) + 1
    rows = []
    for run in planned:
        n_images = (images or {}).get(run.experiment) or train_images(run.experiment, data_dir, profile)
        rate, source = throughput(run.model, run.input_size, run.batch, measured, tflops)
        minutes = None if n_images is None else n_images * run.epochs / rate / 60.0
        gain = claims.get(run.experiment, 0) / per_experiment[run.experiment]
        rows.append({"paper": run.paper, "experiment": run.experiment, "seed": run.seed, "fold": run.fold,
                     "dataset": run.dataset, "model": run.model, "input": run.input_size, "epochs": run.epochs,
                     "batch": run.batch, "train images": n_images, "img/s": round(rate, 1), "estimate source": source,
                     "est. minutes": None if minutes is None else round(minutes, 2), "claims per run": round(gain, 3),
                     "keep checkpoint": run.experiment in KEEP_CHECKPOINT, "profile": profile,
                     "status": _status((run.experiment, run.seed, run.fold), done, older, n_images)})
    table = pd.DataFrame(rows)
    todo = table["status"].isin(RUNNABLE)
    table["claims per minute"] = (table["claims per run"] / table["est. minutes"]).where(todo)
    table = table.sort_values(["claims per minute", "experiment", "seed"], ascending=[False, True, True],
                              na_position="last", kind="stable").reset_index(drop=True)
    todo = table["status"].isin(RUNNABLE)
    table["request minutes"] = table["est. minutes"].map(lambda m: None if pd.isna(m) else round(request_minutes(m), 2))
    table["cumulative minutes"] = table["request minutes"].where(todo).fillna(0).cumsum().round(2)
    if budget_minutes is not None:
        table["fits budget"] = todo & (table["cumulative minutes"] <= budget_minutes)
    return table
