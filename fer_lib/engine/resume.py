"""When a run may be resumed, and restoring its state: same experiment, epochs and code, or a clear refusal."""

from __future__ import annotations

from pathlib import Path

import torch

from fer_lib.engine.loop import FitState, set_rng_state
from fer_lib.runs.provenance import git_info
from fer_lib.runs.store import RunRecorder, stored_config


class ResumeConflict(ValueError):
    """A resume request whose arguments differ from what the run recorded, or from other code."""


def _dotted(cfg: dict, key: str):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return "<absent>"
        node = node[part]
    return node


def check_resume_request(run_dir: str | Path, *, experiment: str | None = None, profile: str | None = None,
                         seed: int | None = None, epochs: int | None = None, overrides: dict | None = None) -> None:
    """Refuse resuming `run_dir` with arguments that differ from its manifest (ResumeConflict listing each):
    a resumed run takes its whole configuration from the manifest, so such an argument would be ignored."""
    manifest = RunRecorder(Path(run_dir)).manifest
    if not manifest:
        raise FileNotFoundError(f"cannot resume {run_dir}: no manifest.json there (is it a run directory?)")
    cfg = stored_config(manifest)
    diffs = []
    if experiment is not None and Path(experiment).stem != manifest.get("experiment"):
        diffs.append(f"config {experiment!r}, but the run is of {manifest.get('experiment')!r}")
    if profile is not None and profile != manifest.get("profile"):
        diffs.append(f"--profile {profile}, but the run used {manifest.get('profile')!r}")
    if seed is not None and seed != manifest.get("seed"):
        diffs.append(f"--seed {seed}, but the run used seed {manifest.get('seed')}")
    if epochs is not None and epochs != manifest.get("epochs"):
        diffs.append(f"--epochs {epochs}, but the run's budget is {manifest.get('epochs')} epochs")
    for key, value in (overrides or {}).items():
        if key == "train.precision" and value == manifest.get("precision_setting"):
            continue  # the setting the run started with (`auto`), now held at what it resolved to
        if _dotted(cfg, key) != value:
            diffs.append(f"--set {key}={value!r}, but the run has {key}={_dotted(cfg, key)!r}")
    if diffs:
        raise ResumeConflict(f"cannot resume {run_dir}: a resumed run takes its configuration from its manifest, "
                             f"and these arguments differ from it: " + "; ".join(diffs) +
                             ". Resume with no such arguments, or start a new run.")


def _check_same_code(run_dir: Path, manifest: dict) -> None:
    recorded = (manifest.get("git") or {}).get("commit", "unknown")
    here = git_info()["commit"]
    if recorded != here:
        short = recorded[:10]
        raise ResumeConflict(
            f"cannot resume {run_dir}: it was trained by the code at commit {short}, and this checkout is at "
            f"{here[:10]}; resuming with other code would not give the run the original code gives. Resume it from "
            f"a worktree at that commit: git worktree add ../fer-{short} {recorded} && cd ../fer-{short} && "
            f"python -m fer_lib train {manifest.get('experiment')} --resume {Path(run_dir).resolve()}")


def check_resumable(run_dir: Path, config: dict | None, epochs: int | None, device: torch.device) -> RunRecorder:
    """The recorder of a run that may be resumed with these arguments by this code on `device` (ResumeConflict
    if not)."""
    check_resume_request(run_dir, experiment=None if config is None else config.get("experiment"), epochs=epochs)
    recorder = RunRecorder(run_dir)
    if recorder.manifest.get("status") == "complete":
        raise ResumeConflict(f"cannot resume {run_dir}: the run is complete; start a new run instead")
    _check_same_code(run_dir, recorder.manifest)
    if stored_config(recorder.manifest)["train"]["precision"] == "fp16" and device.type != "cuda":
        raise ResumeConflict(f"cannot resume {run_dir} on {device.type}: it trains in fp16 (what `auto` chose on its "
                             f"GPU), which runs on CUDA only; resume it on a GPU, or start a new run here")
    return recorder


def restore_state(ckpt: dict, model, optimizer, scheduler, scaler, generator) -> FitState:
    """Put every state last.pt saved back in place; the FitState to continue from."""
    model.load_state_dict(ckpt["model_state"])
    optimizer.load_state_dict(ckpt["optimizer_state"])
    if scheduler is not None and ckpt.get("scheduler_state"):
        scheduler.load_state_dict(ckpt["scheduler_state"])
    if scaler is not None and ckpt.get("scaler_state"):
        scaler.load_state_dict(ckpt["scaler_state"])
    set_rng_state(ckpt["rng"], generator)
    return FitState(**ckpt["fit_state"])
