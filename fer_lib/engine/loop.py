"""The one training loop (style of torchvision's references): train_one_epoch and evaluate_split side by
side, fit() with early stopping and per-epoch checkpoints.

Imbalance: `balance.class_weights` weights the cross-entropy (the same criterion gives the val loss);
resampled copies (is_copy) are augmented every epoch with `balance.copy_augment` on top of the base
recipe, so a copy is never an exact duplicate.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from sklearn.metrics import f1_score

from fer_lib.augment import Augment
from fer_lib.data import class_weights
from fer_lib.devices import load_avg, synchronize
from fer_lib.engine.batches import SplitData, TrainingSplits
from fer_lib.engine.predict import predict
from fer_lib.engine.runtime import Runtime, log, prepare_batch, progress_enabled
from fer_lib.runs.store import RunRecorder, save_torch, utc_now


def build_criterion(cfg: dict, train_labels: np.ndarray, num_classes: int, device: torch.device) -> nn.Module:
    """Cross-entropy, weighted by class when balance.class_weights names a scheme."""
    weight = None
    scheme = cfg["balance"].get("class_weights")
    if scheme:

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
    out = predict(model, data.images, rt, batch_size=batch_size, desc=desc)
    if not len(data):
        out = torch.zeros((0, 1), device=rt.device)
    labels = data.labels
    loss = float(criterion(out, labels)) if criterion is not None and len(data) else float("nan")
    probs = torch.softmax(out, 1).cpu().numpy()
    preds = probs.argmax(1)
    y = labels.cpu().numpy()
    return {"loss": loss, "acc": float((preds == y).mean()) if len(y) else float("nan"),
            "f1_weighted": float(f1_score(y, preds, average="weighted", zero_division=0)) if len(y) else float("nan"),
            "probs": probs, "preds": preds, "labels": y}


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


def _track_selection(state: FitState, values: dict, select: str, es_metric: str, patience: int | None,
                     epochs: int) -> bool:
    """Update the best-so-far (train.select) and early-stopping counters after an epoch; True when the
    selection metric improved (best.pt is then rewritten)."""
    improved = _better(select, values[select], state.best_value)
    if improved:
        state.best_value, state.best_epoch = values[select], state.epoch
    if _better(es_metric, values[es_metric], state.es_value):
        state.es_value, state.bad_epochs = values[es_metric], 0
    else:
        state.bad_epochs += 1
    if patience is not None and state.bad_epochs >= patience:
        state.done = state.stopped_early = True
    if state.epoch >= epochs:
        state.done = True
    return improved


def _record_epoch(recorder: RunRecorder, state: FitState, meta: dict, model: nn.Module, optimizer, scheduler,
                  scaler, generator: torch.Generator, val_metric: float) -> None:
    """last.pt (everything an exact resume needs), history.csv and the manifest's progress fields."""
    save_torch(recorder.checkpoint_dir / "last.pt", {
        **meta, "model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
        "scaler_state": scaler.state_dict() if scaler is not None else None,
        "rng": rng_state(generator), "fit_state": vars(state).copy(), "epoch": state.epoch,
        "val_metric": val_metric})
    _record_progress(recorder, state)


def _record_progress(recorder: RunRecorder, state: FitState) -> None:
    """history.csv and the manifest's progress fields, as the fit state holds them."""
    recorder.write_history(state.history)
    recorder.update(epochs_run=state.epoch, best_epoch=state.best_epoch, best_val_metric=state.best_value,
                    train_img_per_s=_median([r["img_per_s"] for r in state.history]),
                    load_1m_median=_median([r.get("load_1m", float("nan")) for r in state.history]),
                    stopped_early=state.stopped_early, updated=utc_now())


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
    if recorder is not None and state.history:  # resumed: a kill between last.pt and the records left them behind
        _record_progress(recorder, state)
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
               "img_per_s": tr["img_per_s"], "load_1m": load_avg()}  # the CPU shared or not
        state.history.append(row)
        state.epoch = epoch
        values = {"val_acc": va["acc"], "val_loss": va["loss"], "val_f1_weighted": va["f1_weighted"]}
        improved = _track_selection(state, values, select, es_metric, patience, epochs)
        if improved and ckpt_dir:
            save_torch(ckpt_dir / "best.pt", {**meta, "model_state": model.state_dict(), "epoch": epoch,
                                              "val_metric": values[select], "val_metric_name": select})
        log(f"[train] epoch {epoch}/{epochs} lr {lr:.2e} train loss {tr['loss']:.4f} acc {tr['acc']:.4f} | "
            f"val loss {va['loss']:.4f} acc {va['acc']:.4f} f1w {va['f1_weighted']:.4f} | "
            f"{tr['img_per_s']:.0f} img/s{' *' if improved else ''}")
        if recorder is not None:
            _record_epoch(recorder, state, meta, model, optimizer, scheduler, scaler, generator, values[select])
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    return state


def _median(values: list[float]) -> float:
    vals = [v for v in values if v == v]
    return float(np.median(vals)) if vals else float("nan")
