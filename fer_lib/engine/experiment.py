"""One experiment end to end: run_experiment(config) = load the dataset -> split -> train/val tensors ->
fit() (early stopping, best + last checkpoint every epoch, resumable) -> evaluate the best checkpoint
on the held-out splits (fer_lib.engine.evaluate) -> the run record (fer_lib.runs).

The test split is built only after training, from the best checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from fer_lib.allocator import allocator
from fer_lib.config import load_config
from fer_lib.data import load_dataset
from fer_lib.devices import check_new_run_precision, cpu_capability, device_name, precision_name, resolve_device
from fer_lib.engine.batches import TrainingSplits, build_splits
from fer_lib.engine.evaluate import evaluate_run
from fer_lib.engine.loop import FitState, build_criterion, build_optimizer, build_scheduler, fit
from fer_lib.engine.resume import ResumeConflict, check_resumable, restore_state
from fer_lib.engine.runtime import Runtime, log, make_runtime, prepare_model, seed_everything
from fer_lib.models import create_model
from fer_lib.outputs import portable
from fer_lib.paths import scratch_mode
from fer_lib.runs.lock import RunLock, clean_temp_files
from fer_lib.runs.provenance import git_info, library_versions
from fer_lib.runs.store import (SCHEMA_VERSION, RunRecorder, load_checkpoint, new_run_dir, recorded_data_dir,
                                save_torch, stored_config, utc_now)


def _pretrained_label(cfg: dict, model: nn.Module) -> str:
    """Where the initial weights came from: the model's own report (fer_lib.models), else from the config."""
    source = getattr(model, "pretrained_source", None)
    if source:
        return str(source)
    pretrained = cfg["model"]["pretrained"]
    if not pretrained:
        return "none: trained from scratch"
    return str(pretrained) if isinstance(pretrained, str) else "ImageNet weights (create_model pretrained=True)"


def _recipe_epochs(cfg: dict) -> int:
    """The epoch budget of the experiment's full profile (what the paper's recipe asks for)."""

    try:
        return int(load_config(cfg["experiment"], "full")["train"]["epochs"])
    except (FileNotFoundError, ValueError):
        return int(cfg["train"]["epochs"])


def run_experiment(config: dict | None, data_dir: str | Path | None = None, seed: int = 0, device: str = "auto",
                   epochs: int | None = None, out_root: str | Path | None = None, resume: str | Path | None = None,
                   on_epoch_end: Callable[[int, dict], None] | None = None) -> Path:
    """Train one experiment (a merged config from fer_lib.config.load_config) and return its run directory.

    resume: a run directory whose checkpoints/last.pt continues the run to the same result an
    uninterrupted run gives (bit-exact on the same machine). Its configuration, seed and epoch budget
    come from its manifest; a differing `config` experiment or `epochs`, or code at another commit, is
    refused (ResumeConflict). One process at a time writes a run (fer_lib.runs.lock).
    """
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if resume is not None:
        run_dir, dev = Path(resume), resolve_device(device)
        check_resumable(run_dir, config, epochs, dev)  # refuse before taking the lock or touching anything
        with RunLock(run_dir):
            clean_temp_files(run_dir, min_age_s=0, skip_live=False)  # we hold the lock: no write under way
            recorder = check_resumable(run_dir, config, epochs, dev)  # the manifest as it is now that we hold it
            manifest = recorder.manifest
            last = recorder.checkpoint_dir / "last.pt"
            ckpt = load_checkpoint(last) if last.exists() else None  # none before the first epoch ended
            return _train(stored_config(manifest), recorder, seed=int(manifest["seed"]),
                          total_epochs=int(manifest["epochs"]), data_dir=data_dir or recorded_data_dir(manifest),
                          device=device, resume_ckpt=ckpt, on_epoch_end=on_epoch_end)
    if config is None:
        raise ValueError("run_experiment needs a config (fer_lib.config.load_config) or resume=RUN_DIR")
    total_epochs = int(epochs if epochs is not None else config["train"]["epochs"])
    return _train(config, None, seed=seed, total_epochs=total_epochs, data_dir=data_dir, device=device,
                  epochs_override=epochs, on_epoch_end=on_epoch_end, out_root=out_root)


def _where_it_runs(rt: Runtime) -> dict:
    """The conditions epoch times depend on (runs.store.timing_conditions): device with its threads, the CPU's
    instruction set, precision. Recorded when a run starts and again each time it resumes."""
    return {"device": device_name(rt.device), "device_type": rt.device.type,
            "cpu_capability": cpu_capability() if rt.device.type == "cpu" else None,
            "precision": precision_name(rt.amp_dtype), "allocator": allocator()}


def _start_manifest(recorder: RunRecorder, cfg: dict, ds, indices: dict, splits: TrainingSplits, plan_info,
                    *, seed: int, rt: Runtime, model: nn.Module, compiled: bool, total_epochs: int,
                    epochs_override: int | None, data_dir) -> None:
    split_sizes = {name: int(len(idx)) for name, idx in indices.items()}
    split_sizes["train_fit"] = len(splits["train"])  # after resampling (= train without it)
    recorder.update(
        schema_version=SCHEMA_VERSION, experiment=cfg["experiment"], run_id=recorder.dir.name, paper=cfg["paper"],
        profile=cfg.get("profile"), description=cfg.get("description", ""), config=cfg, git=git_info(),
        dataset={"name": ds.name, "sha256": ds.sha256, "source": portable(ds.source), "real": ds.name != "synthetic",
                 "n": int(len(ds)), "class_names": list(ds.class_names),
                 "channels": 1 if ds.images.ndim == 3 else 3, "grayscale": ds.images.ndim == 3},
        data_dir=portable(str(data_dir)) if data_dir else None, split_sizes=split_sizes, resample=plan_info,
        seed=seed, **_where_it_runs(rt), precision_setting=cfg["train"]["precision"],
        channels_last=rt.channels_last, dwconv_fp32=rt.dwconv_fp32, compiled=compiled,
        versions=library_versions(),
        num_params=int(sum(p.numel() for p in model.parameters())), pretrained=_pretrained_label(cfg, model),
        epochs=total_epochs, epochs_override=epochs_override, recipe_epochs=_recipe_epochs(cfg), started=utc_now(),
        finished=None, wall_s=0.0, epochs_run=0, best_epoch=None, best_val_metric=None, status="running",
        train_img_per_s=None)
    recorder.write_history([])


def _compact_for_pipeline_check(ckpt_dir: Path) -> None:
    """A pipeline check (scratch mode) keeps what later notebooks read and nothing more: best.pt with its
    weights in bf16 (half the disk; evaluated as stored, so re-evaluation agrees), no last.pt (a complete
    run never resumes). Keeps `make reproduce` under ~1 GB of checkpoints."""
    (ckpt_dir / "last.pt").unlink(missing_ok=True)
    best = ckpt_dir / "best.pt"
    if best.exists():
        ckpt = load_checkpoint(best)
        ckpt["model_state"] = {k: v.to(torch.bfloat16) if v.is_floating_point() else v
                               for k, v in ckpt["model_state"].items()}
        ckpt["weights_dtype"] = "bfloat16 (pipeline check)"
        save_torch(best, ckpt)


def _train(cfg: dict, recorder: RunRecorder | None, *, seed: int, total_epochs: int, data_dir, device: str,
           resume_ckpt: dict | None = None, epochs_override: int | None = None,
           on_epoch_end: Callable[[int, dict], None] | None = None, out_root=None) -> Path:
    """Build data, model and optimiser for `cfg`, fit, evaluate the best checkpoint; the run directory.

    recorder None starts a new run: its directory is created (and locked) only once the data, splits and
    model are built, so bad input leaves no half-made run behind."""
    with ExitStack() as stack:
        return _train_locked(stack, cfg, recorder, seed=seed, total_epochs=total_epochs, data_dir=data_dir,
                             device=device, resume_ckpt=resume_ckpt, epochs_override=epochs_override,
                             on_epoch_end=on_epoch_end, out_root=out_root)


@dataclass
class Training:
    """What fit() needs besides the data: the model (and its compiled forward), loss, optimiser, schedule,
    gradient scaler, the seeded batch-order generator, and the checkpoint's model description."""

    model: nn.Module
    forward_model: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler | None
    generator: torch.Generator
    meta: dict


def _build_training(cfg: dict, ds, train_indices: np.ndarray, rt: Runtime, *, seed: int,
                    total_epochs: int) -> Training:
    """Model, loss (class weights from the train split), optimiser and schedule of `cfg` on rt.device."""
    mcfg = cfg["model"]
    model = create_model(mcfg["name"], num_classes=ds.num_classes, pretrained=mcfg["pretrained"],
                         **(mcfg["options"] or {}))
    model, forward_model = prepare_model(model, rt)
    optimizer = build_optimizer(cfg, model)
    meta = {"model_name": mcfg["name"], "model_options": dict(getattr(model, "model_options", mcfg["options"]) or {}),
            "num_classes": ds.num_classes, "class_names": list(ds.class_names), "input_size": rt.input_size,
            "mean": rt.mean, "std": rt.std}
    return Training(model=model, forward_model=forward_model,
                    criterion=build_criterion(cfg, ds.labels[train_indices], ds.num_classes, rt.device),
                    optimizer=optimizer, scheduler=build_scheduler(cfg, optimizer, total_epochs),
                    scaler=torch.amp.GradScaler("cuda") if rt.amp_dtype == torch.float16 else None,
                    generator=torch.Generator().manual_seed(seed), meta=meta)


def _resume(recorder: RunRecorder, resume_ckpt: dict | None, t: Training, rt: Runtime) -> FitState | None:
    """Put last.pt's states back (None before the first epoch ended) and record where this resume runs."""
    state = None
    if resume_ckpt is not None:
        state = restore_state(resume_ckpt, t.model, t.optimizer, t.scheduler, t.scaler, t.generator)
        log(f"[train] resuming {recorder.dir} after epoch {state.epoch}")
    here = _where_it_runs(rt)
    started_on = {key: recorder.manifest.get(key) for key in ("device", "cpu_capability")}
    if any(value is not None and value != here[key] for key, value in started_on.items()):
        log(f"[train] note: this run started on {started_on['device']} ({started_on['cpu_capability']}) and "
            f"resumes on {here['device']} ({here['cpu_capability']}): its epoch times mix the two, and the "
            f"manifest says so (resumed); it keeps its precision, {here['precision']}")
    resumed = {"at": utc_now(), "after_epoch": state.epoch if state is not None else 0, **here}
    recorder.update(status="running", resumed=[*recorder.manifest.get("resumed", []), resumed])
    return state


def _train_locked(stack: ExitStack, cfg: dict, recorder: RunRecorder | None, *, seed: int, total_epochs: int,
                  data_dir, device: str, resume_ckpt: dict | None, epochs_override: int | None,
                  on_epoch_end: Callable[[int, dict], None] | None, out_root) -> Path:
    t_start = time.perf_counter()
    resuming = recorder is not None
    dev = resolve_device(device)
    if not resuming:
        check_new_run_precision(cfg["train"]["precision"], dev)
    rt = make_runtime(cfg, dev)
    seed_everything(seed)
    ds = load_dataset(cfg["data"]["dataset"], data_dir, **(cfg["data"]["options"] or {}))
    recorded_sha = (recorder.manifest.get("dataset") or {}).get("sha256") if resuming else None
    if resuming and recorded_sha and ds.sha256 != recorded_sha:
        raise ResumeConflict(f"cannot resume {recorder.dir}: it was trained on {ds.name} with sha256 "
                             f"{recorded_sha[:12]}..., but {ds.source} has {ds.sha256[:12]}...; point --data-dir "
                             f"at the same files")
    indices, splits, plan_info = build_splits(cfg, ds, seed, dev)

    t = _build_training(cfg, ds, indices["train"], rt, seed=seed, total_epochs=total_epochs)

    state = None
    if resuming:
        state = _resume(recorder, resume_ckpt, t, rt)
    else:
        run_dir = new_run_dir(cfg["experiment"], cfg.get("profile", "custom"), cfg["data"]["dataset"], seed, out_root)
        stack.enter_context(RunLock(run_dir))
        recorder = RunRecorder(run_dir)
        _start_manifest(recorder, cfg, ds, indices, splits, plan_info, seed=seed, rt=rt, model=t.model,
                        compiled=t.forward_model is not t.model, total_epochs=total_epochs,
                        epochs_override=epochs_override, data_dir=data_dir)
    wall_before = float(recorder.manifest.get("wall_s") or 0.0)

    def _wall() -> float:
        return round(wall_before + time.perf_counter() - t_start, 3)

    def _epoch_hook(epoch: int, row: dict) -> None:
        recorder.update(wall_s=_wall())
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)

    try:
        fit(t.model, splits, cfg, rt=rt, criterion=t.criterion, optimizer=t.optimizer, scheduler=t.scheduler,
            scaler=t.scaler, generator=t.generator, epochs=total_epochs, meta=t.meta, recorder=recorder,
            state=state, on_epoch_end=_epoch_hook, forward_model=t.forward_model)
        del splits  # free the training tensors before the held-out evaluation
        if scratch_mode():
            _compact_for_pipeline_check(recorder.checkpoint_dir)
        # Held-out evaluation: a separate step from the best checkpoint (the test split is built only now).
        metrics = evaluate_run(recorder.dir, device=str(dev), data_dir=data_dir, dataset=ds, indices=indices)
        recorder.update(status="complete", finished=utc_now(), wall_s=_wall(),
                        headline={k: v.get("accuracy") for k, v in metrics.items()})
    except BaseException as err:
        recorder.update(status="interrupted", wall_s=_wall(), interrupted=f"{type(err).__name__}: {err}"[:500],
                        updated=utc_now())
        raise
    log(f"[train] done: {recorder.dir}")
    return recorder.dir
