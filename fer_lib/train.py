"""The one training loop every paper's experiment runs through (style of torchvision's references).

run_experiment(config) = load the dataset -> split -> train/val tensors -> fit() (early stopping,
best + last checkpoint every epoch, resumable) -> evaluate the best checkpoint on the held-out
splits (fer_lib.evaluate.evaluate_run) -> run records (fer_lib.records).

Data path: each split is ONE uint8 tensor (N,C,H,W) on the training device; batches are gathered
with a seeded permutation and augmented on the device (fer_lib.augment). Model selection sees only
the train and val splits: `fit` receives a `TrainingSplits`, which refuses any other split, and the
test split is built only after training, from the best checkpoint.

Imbalance: `balance.class_weights` weights the cross-entropy (the same criterion gives the val
loss); `balance.resample` builds the train tensor from fer_lib.data.resample_plan, and the extra
copies (is_copy) are augmented every epoch with `balance.copy_augment` (on top of the base recipe,
which applies to every sample), so a copy is never an exact duplicate.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from fer_lib.devices import autocast_dtype, precision_name, resolve_device, synchronize
from fer_lib.outputs import portable
from fer_lib.paths import scratch_mode

from fer_lib.augment import Augment, normalize, resize, to_float, to_nchw, to_rgb
from fer_lib.config import split_spec
from fer_lib.records import (SCHEMA_VERSION, RunRecorder, device_name, git_info, library_versions, load_checkpoint,
                             new_run_dir, recorded_data_dir, save_torch, stored_config, utc_now)
from fer_lib.runlock import RunLock, clean_temp_files

TRAIN_SPLITS = ("train", "val")


# ---------------------------------------------------------------- splits on the device

@dataclass
class SplitData:
    """One split held as a single uint8 tensor (N,C,H,W) + labels, both on the training device."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    indices: np.ndarray          # rows of the dataset these samples come from
    is_copy: torch.Tensor | None = None  # resampled extra copies (bool, N)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


class TestSplitAccessError(PermissionError):
    """Raised when the training loop asks for a split other than train/val."""

    __test__ = False  # not a pytest test class


class TrainingSplits(Mapping):
    """The only splits model training and selection may see: train and val. Anything else raises."""

    def __init__(self, train: SplitData, val: SplitData):
        self._splits = {"train": train, "val": val}

    def __getitem__(self, name: str) -> SplitData:
        if name not in self._splits:
            raise TestSplitAccessError(f"split {name!r} is not available during training: model selection uses "
                                       f"validation only; held-out splits are evaluated after training")
        return self._splits[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._splits)

    def __len__(self) -> int:
        return 2


def make_split(name: str, images: np.ndarray, labels: np.ndarray, indices: np.ndarray, device: torch.device,
               is_copy: np.ndarray | None = None) -> SplitData:
    """Copy the rows `indices` of a dataset's uint8 images into one (N,C,H,W) tensor on `device`."""
    imgs = to_nchw(torch.from_numpy(np.ascontiguousarray(images[indices]))).contiguous()
    return SplitData(name=name, images=imgs.to(device),
                     labels=torch.as_tensor(labels[indices], dtype=torch.long).to(device),
                     indices=np.asarray(indices, dtype=np.int64),
                     is_copy=None if is_copy is None else torch.as_tensor(is_copy, dtype=torch.bool).to(device))


def limit_indices(indices: dict[str, np.ndarray], max_samples: dict | None, seed: int) -> dict[str, np.ndarray]:
    """Cap each split at data.max_samples[split] (extra test splits use the "test" cap): a seeded random
    subset, kept in dataset order. Used by smoke profiles; None means no cap."""
    out = {}
    for name, idx in indices.items():
        cap = (max_samples or {}).get(name if name in ("train", "val", "test") else "test")
        if cap is not None and len(idx) > cap:
            rng = np.random.default_rng([seed, sum(map(ord, name))])
            idx = np.sort(rng.choice(idx, size=int(cap), replace=False))
        out[name] = np.asarray(idx, dtype=np.int64)
    return out


# ---------------------------------------------------------------- runtime settings

@dataclass
class Runtime:
    """How batches flow on this device: precision, memory format, preprocessing constants."""

    device: torch.device
    input_size: int
    mean: list[float]
    std: list[float]
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)


def make_runtime(cfg: dict, device: torch.device) -> Runtime:
    """Runtime from config: train.precision (fer_lib.devices.autocast_dtype), channels_last on CUDA when "auto"."""
    train, data = cfg["train"], cfg["data"]
    amp_dtype = autocast_dtype(train["precision"], device)
    cl = train["channels_last"]
    channels_last = device.type == "cuda" if cl == "auto" else bool(cl)
    return Runtime(device=device, input_size=int(data["input_size"]), mean=list(data["mean"]), std=list(data["std"]),
                   amp_dtype=amp_dtype, channels_last=channels_last)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def progress_enabled() -> bool:
    """Progress bars only on a terminal, and not when FER_PROGRESS=0."""
    return os.environ.get("FER_PROGRESS", "1") != "0" and sys.stderr.isatty()


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- building blocks

def build_criterion(cfg: dict, train_labels: np.ndarray, num_classes: int, device: torch.device) -> nn.Module:
    """Cross-entropy, weighted by class when balance.class_weights names a scheme."""
    weight = None
    scheme = cfg["balance"].get("class_weights")
    if scheme:
        from fer_lib.data import class_weights

        weight = torch.as_tensor(class_weights(np.asarray(train_labels), num_classes, scheme), dtype=torch.float32)
        weight = weight.to(device)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=float(cfg["loss"]["label_smoothing"]))


def build_optimizer(cfg: dict, model: nn.Module) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (momentum) from config.optim."""
    o = cfg["optim"]
    params = [p for p in model.parameters() if p.requires_grad]
    if o["name"] == "adam":
        return torch.optim.Adam(params, lr=o["lr"], betas=tuple(o["betas"]), weight_decay=o["weight_decay"])
    if o["name"] == "adamw":
        return torch.optim.AdamW(params, lr=o["lr"], betas=tuple(o["betas"]), weight_decay=o["weight_decay"])
    if o["name"] == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"], weight_decay=o["weight_decay"])
    raise ValueError(f"unknown optimizer {o['name']!r}")


def build_scheduler(cfg: dict, optimizer: torch.optim.Optimizer, epochs: int):
    """Per-epoch LR schedule: step (StepLR), cosine (CosineAnnealingLR over `epochs`) or none (None)."""
    s = cfg["schedule"]
    if s["name"] == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(s["step_size"]), gamma=float(s["gamma"]))
    if s["name"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs), eta_min=float(s["min_lr"]))
    return None


def prepare_batch(images_uint8: torch.Tensor, rt: Runtime, generator: torch.Generator | None = None,
                  augment: Augment | None = None, copy_mask: torch.Tensor | None = None,
                  copy_augment: Augment | None = None) -> torch.Tensor:
    """uint8 batch -> float -> resize -> augment (+ copy_augment on resampled copies) -> RGB -> normalise."""
    x = resize(to_float(images_uint8), rt.input_size)
    if augment is not None and augment.enabled:
        x = augment(x, generator)
    if copy_augment is not None and copy_augment.enabled and copy_mask is not None and bool(copy_mask.any()):
        x = x.clone()
        x[copy_mask] = copy_augment(x[copy_mask], generator)
    x = normalize(to_rgb(x), rt.mean, rt.std)
    if rt.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def train_step(model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, rt: Runtime, *, scaler: torch.amp.GradScaler | None = None,
               grad_clip: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on a prepared batch (autocast forward + loss, backward, clip, step); returns (loss, logits)."""
    with rt.autocast():
        logits = model(x)
        loss = criterion(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        if grad_clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
    return loss, logits


def train_one_epoch(model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, data: SplitData,
                    rt: Runtime, *, batch_size: int, generator: torch.Generator, augment: Augment | None = None,
                    copy_augment: Augment | None = None, scaler: torch.amp.GradScaler | None = None,
                    grad_clip: float | None = None, desc: str = "train") -> dict:
    """One pass over `data` in a seeded random order; returns {loss, acc, n, seconds, img_per_s}."""
    from tqdm.auto import tqdm

    model.train()
    n = len(data)
    perm = torch.randperm(n, generator=generator).to(rt.device, non_blocking=True)
    loss_sum = torch.zeros((), device=rt.device)
    correct = torch.zeros((), device=rt.device, dtype=torch.long)
    seen = 0
    synchronize(rt.device)
    start = time.perf_counter()
    batches = [perm[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) < 2:
        batches = batches[:-1]  # a batch of one breaks BatchNorm in train mode
    for idx in tqdm(batches, desc=desc, leave=False, disable=not progress_enabled(), file=sys.stderr):
        x = prepare_batch(data.images[idx], rt, generator, augment,
                          None if data.is_copy is None else data.is_copy[idx], copy_augment)
        y = data.labels[idx]
        loss, logits = train_step(model, criterion, optimizer, x, y, rt, scaler=scaler, grad_clip=grad_clip)
        loss_sum += loss.detach() * len(idx)
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(idx)
    synchronize(rt.device)
    seconds = time.perf_counter() - start
    seen = max(seen, 1)
    return {"loss": float(loss_sum) / seen, "acc": float(correct) / seen, "n": seen, "seconds": seconds,
            "img_per_s": seen / seconds if seconds > 0 else float("nan")}


@torch.no_grad()
def evaluate_split(model: nn.Module, data: SplitData, rt: Runtime, *, batch_size: int = 256,
                   criterion: nn.Module | None = None, desc: str = "eval") -> dict:
    """Eval-mode pass (no augmentation): {loss, acc, f1_weighted, probs (N,C), preds, labels} (numpy)."""
    from sklearn.metrics import f1_score
    from tqdm.auto import tqdm

    model.eval()
    logits = []
    for start in tqdm(range(0, len(data), batch_size), desc=desc, leave=False, disable=not progress_enabled(),
                      file=sys.stderr):
        x = prepare_batch(data.images[start:start + batch_size], rt)
        with rt.autocast():
            logits.append(model(x).float())
    out = torch.cat(logits) if logits else torch.zeros((0, 1), device=rt.device)
    labels = data.labels
    loss = float(criterion(out, labels)) if criterion is not None and len(data) else float("nan")
    probs = torch.softmax(out, 1).cpu().numpy()
    preds = probs.argmax(1)
    y = labels.cpu().numpy()
    return {"loss": loss, "acc": float((preds == y).mean()) if len(y) else float("nan"),
            "f1_weighted": float(f1_score(y, preds, average="weighted", zero_division=0)) if len(y) else float("nan"),
            "probs": probs, "preds": preds, "labels": y}


# ---------------------------------------------------------------- checkpoints and RNG state

def rng_state(generator: torch.Generator) -> dict:
    """Every random state a resumed run needs to continue identically."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
             "generator": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    """Restore what rng_state() captured."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _better(metric: str, value: float, best: float | None) -> bool:
    if best is None or np.isnan(best):
        return not np.isnan(value)
    return value < best if metric.endswith("loss") else value > best


@dataclass
class FitState:
    """Progress of fit(): what last.pt stores besides model/optimizer/scheduler/scaler states."""

    epoch: int = 0
    history: list | None = None
    best_value: float | None = None
    best_epoch: int = 0
    es_value: float | None = None
    bad_epochs: int = 0
    done: bool = False
    stopped_early: bool = False

    def __post_init__(self):
        self.history = list(self.history or [])


def fit(model: nn.Module, splits: TrainingSplits, cfg: dict, *, rt: Runtime, criterion: nn.Module,
        optimizer: torch.optim.Optimizer, scheduler, scaler, generator: torch.Generator, epochs: int,
        meta: dict, recorder: RunRecorder | None = None, state: FitState | None = None,
        on_epoch_end: Callable[[int, dict], None] | None = None, forward_model: nn.Module | None = None) -> FitState:
    """Train for up to `epochs` epochs with early stopping and per-epoch checkpoints (best.pt, last.pt).

    Model selection (best.pt) uses config train.select on the val split; early stopping uses
    train.early_stopping {metric, patience}. `state` continues a resumed run; `on_epoch_end(epoch,
    row)` runs after each epoch's checkpoint is written (an exception there interrupts the run).
    """
    if not isinstance(splits, TrainingSplits):
        raise TypeError("fit() takes a TrainingSplits (train and val only)")
    train_data, val_data = splits["train"], splits["val"]
    tcfg = cfg["train"]
    select, es_metric = tcfg["select"], tcfg["early_stopping"]["metric"]
    patience = tcfg["early_stopping"].get("patience")
    augment = Augment(cfg["augment"])
    copy_augment = Augment(cfg["balance"].get("copy_augment")) if cfg["balance"].get("copy_augment") else None
    state = state or FitState()
    net = forward_model or model
    ckpt_dir = recorder.checkpoint_dir if recorder else None
    while state.epoch < epochs and not state.done:
        epoch = state.epoch + 1
        lr = optimizer.param_groups[0]["lr"]
        t0 = time.perf_counter()
        tr = train_one_epoch(net, criterion, optimizer, train_data, rt, batch_size=tcfg["batch_size"],
                             generator=generator, augment=augment, copy_augment=copy_augment, scaler=scaler,
                             grad_clip=tcfg["grad_clip"], desc=f"epoch {epoch}/{epochs}")
        va = evaluate_split(net, val_data, rt, batch_size=tcfg["eval_batch_size"], criterion=criterion, desc="val")
        if scheduler is not None:
            scheduler.step()
        row = {"epoch": epoch, "lr": lr, "train_loss": tr["loss"], "train_acc": tr["acc"], "val_loss": va["loss"],
               "val_acc": va["acc"], "val_f1_weighted": va["f1_weighted"], "epoch_s": time.perf_counter() - t0,
               "img_per_s": tr["img_per_s"]}
        state.history.append(row)
        state.epoch = epoch
        values = {"val_acc": va["acc"], "val_loss": va["loss"], "val_f1_weighted": va["f1_weighted"]}
        improved = _better(select, values[select], state.best_value)
        if improved:
            state.best_value, state.best_epoch = values[select], epoch
            if ckpt_dir:
                save_torch(ckpt_dir / "best.pt", {**meta, "model_state": model.state_dict(), "epoch": epoch,
                                                  "val_metric": values[select], "val_metric_name": select})
        if _better(es_metric, values[es_metric], state.es_value):
            state.es_value, state.bad_epochs = values[es_metric], 0
        else:
            state.bad_epochs += 1
        if patience is not None and state.bad_epochs >= patience:
            state.done = state.stopped_early = True
        if state.epoch >= epochs:
            state.done = True
        _log(f"[train] epoch {epoch}/{epochs} lr {lr:.2e} train loss {tr['loss']:.4f} acc {tr['acc']:.4f} | "
             f"val loss {va['loss']:.4f} acc {va['acc']:.4f} f1w {va['f1_weighted']:.4f} | "
             f"{tr['img_per_s']:.0f} img/s{' *' if improved else ''}")
        if recorder is not None:
            save_torch(ckpt_dir / "last.pt", {
                **meta, "model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
                "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
                "scaler_state": scaler.state_dict() if scaler is not None else None,
                "rng": rng_state(generator), "fit_state": vars(state).copy(), "epoch": epoch,
                "val_metric": values[select]})
            recorder.write_history(state.history)
            recorder.update(epochs_run=state.epoch, best_epoch=state.best_epoch, best_val_metric=state.best_value,
                            train_img_per_s=_median([r["img_per_s"] for r in state.history]),
                            stopped_early=state.stopped_early, updated=utc_now())
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    return state


def _median(values: list[float]) -> float:
    vals = [v for v in values if v == v]
    return float(np.median(vals)) if vals else float("nan")


# ---------------------------------------------------------------- one experiment, end to end

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
    from fer_lib.config import load_config

    try:
        return int(load_config(cfg["experiment"], "full")["train"]["epochs"])
    except (FileNotFoundError, ValueError):
        return int(cfg["train"]["epochs"])


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


def _check_resumable(run_dir: Path, config: dict | None, epochs: int | None) -> RunRecorder:
    """The recorder of a run that may be resumed with these arguments by this code (ResumeConflict if not)."""
    check_resume_request(run_dir, experiment=None if config is None else config.get("experiment"), epochs=epochs)
    recorder = RunRecorder(run_dir)
    if recorder.manifest.get("status") == "complete":
        raise ResumeConflict(f"cannot resume {run_dir}: the run is complete; start a new run instead")
    _check_same_code(run_dir, recorder.manifest)
    return recorder


def _restore(ckpt: dict, model, optimizer, scheduler, scaler, generator) -> FitState:
    """Put every state last.pt saved back in place; the FitState to continue from."""
    model.load_state_dict(ckpt["model_state"])
    optimizer.load_state_dict(ckpt["optimizer_state"])
    if scheduler is not None and ckpt.get("scheduler_state"):
        scheduler.load_state_dict(ckpt["scheduler_state"])
    if scaler is not None and ckpt.get("scaler_state"):
        scaler.load_state_dict(ckpt["scaler_state"])
    set_rng_state(ckpt["rng"], generator)
    return FitState(**ckpt["fit_state"])


def run_experiment(config: dict | None, data_dir: str | Path | None = None, seed: int = 0, device: str = "auto",
                   epochs: int | None = None, out_root: str | Path | None = None, resume: str | Path | None = None,
                   on_epoch_end: Callable[[int, dict], None] | None = None) -> Path:
    """Train one experiment (a merged config from fer_lib.config.load_config) and return its run directory.

    resume: a run directory whose checkpoints/last.pt continues the run to the same result an
    uninterrupted run gives (bit-exact on the same machine). Its configuration, seed and epoch budget
    come from its manifest; a differing `config` experiment or `epochs`, or code at another commit, is
    refused (ResumeConflict). One process at a time writes a run (fer_lib.runlock).
    """
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if resume is not None:
        run_dir = Path(resume)
        _check_resumable(run_dir, config, epochs)  # refuse before taking the lock or touching anything
        with RunLock(run_dir):
            clean_temp_files(run_dir, min_age_s=0, skip_live=False)  # we hold the lock: no write under way
            recorder = _check_resumable(run_dir, config, epochs)  # the manifest as it is now that we hold it
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


def _build_splits(cfg: dict, ds, seed: int, dev: torch.device):
    """(held-out indices, TrainingSplits, resample info) of a config on a dataset."""
    from fer_lib.data import resample_plan, split_indices

    indices = limit_indices(split_indices(ds, split_spec(cfg), seed), cfg["data"]["max_samples"], seed)
    train_idx, val_idx = indices["train"], indices["val"]
    is_copy, plan_info = None, None
    if cfg["balance"].get("resample"):
        plan = resample_plan(ds.labels[train_idx], ds.class_names, cfg["balance"]["resample"], seed)
        train_idx, is_copy = train_idx[plan.indices], np.asarray(plan.is_copy, dtype=bool)
        plan_info = {"before": plan.before, "after": plan.after}
    # The training loop gets train and val only; held-out splits stay as indices until training is over.
    splits = TrainingSplits(train=make_split("train", ds.images, ds.labels, train_idx, dev, is_copy),
                            val=make_split("val", ds.images, ds.labels, val_idx, dev))
    return indices, splits, plan_info


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
        seed=seed, device=device_name(rt.device), device_type=rt.device.type,
        precision=precision_name(rt.amp_dtype), precision_setting=cfg["train"]["precision"],
        channels_last=rt.channels_last, compiled=compiled, versions=library_versions(),
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


def _train_locked(stack: ExitStack, cfg: dict, recorder: RunRecorder | None, *, seed: int, total_epochs: int,
                  data_dir, device: str, resume_ckpt: dict | None, epochs_override: int | None,
                  on_epoch_end: Callable[[int, dict], None] | None, out_root) -> Path:
    from fer_lib.data import load_dataset
    from fer_lib.evaluate import evaluate_run
    from fer_lib.models import create_model

    t_start = time.perf_counter()
    resuming = recorder is not None
    dev = resolve_device(device)
    rt = make_runtime(cfg, dev)
    seed_everything(seed)
    ds = load_dataset(cfg["data"]["dataset"], data_dir, **(cfg["data"]["options"] or {}))
    recorded_sha = (recorder.manifest.get("dataset") or {}).get("sha256") if resuming else None
    if resuming and recorded_sha and ds.sha256 != recorded_sha:
        raise ResumeConflict(f"cannot resume {recorder.dir}: it was trained on {ds.name} with sha256 "
                             f"{recorded_sha[:12]}..., but {ds.source} has {ds.sha256[:12]}...; point --data-dir "
                             f"at the same files")
    indices, splits, plan_info = _build_splits(cfg, ds, seed, dev)

    mcfg = cfg["model"]
    model = create_model(mcfg["name"], num_classes=ds.num_classes, pretrained=mcfg["pretrained"],
                         **(mcfg["options"] or {}))
    model.to(dev)
    if rt.channels_last:
        model.to(memory_format=torch.channels_last)
    forward_model = torch.compile(model) if cfg["train"]["compile"] and dev.type == "cuda" else model
    criterion = build_criterion(cfg, ds.labels[indices["train"]], ds.num_classes, dev)
    optimizer = build_optimizer(cfg, model)
    scheduler = build_scheduler(cfg, optimizer, total_epochs)
    scaler = torch.amp.GradScaler("cuda") if rt.amp_dtype == torch.float16 else None
    generator = torch.Generator().manual_seed(seed)
    meta = {"model_name": mcfg["name"], "model_options": dict(getattr(model, "model_options", mcfg["options"]) or {}),
            "num_classes": ds.num_classes, "class_names": list(ds.class_names), "input_size": rt.input_size,
            "mean": rt.mean, "std": rt.std}

    state = None
    if resuming:
        recorder.update(status="running", resumed=[*recorder.manifest.get("resumed", []), utc_now()])
        if resume_ckpt is not None:
            state = _restore(resume_ckpt, model, optimizer, scheduler, scaler, generator)
            _log(f"[train] resuming {recorder.dir} after epoch {state.epoch}")
    else:
        run_dir = new_run_dir(cfg["experiment"], cfg.get("profile", "custom"), cfg["data"]["dataset"], seed, out_root)
        stack.enter_context(RunLock(run_dir))
        recorder = RunRecorder(run_dir)
        _start_manifest(recorder, cfg, ds, indices, splits, plan_info, seed=seed, rt=rt, model=model,
                        compiled=forward_model is not model, total_epochs=total_epochs,
                        epochs_override=epochs_override, data_dir=data_dir)
    wall_before = float(recorder.manifest.get("wall_s") or 0.0)

    def _wall() -> float:
        return round(wall_before + time.perf_counter() - t_start, 3)

    def _epoch_hook(epoch: int, row: dict) -> None:
        recorder.update(wall_s=_wall())
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)

    try:
        fit(model, splits, cfg, rt=rt, criterion=criterion, optimizer=optimizer, scheduler=scheduler,
            scaler=scaler, generator=generator, epochs=total_epochs, meta=meta, recorder=recorder,
            state=state, on_epoch_end=_epoch_hook, forward_model=forward_model)
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
    _log(f"[train] done: {recorder.dir}")
    return recorder.dir
