"""Metrics, confusion matrices, predictions and the standard figures of a trained model.

`compute_metrics` returns the dict stored per split in a run's metrics.json:
{accuracy, f1_weighted, f1_macro, balanced_accuracy, accuracy_ci95: [lo, hi], per_class: {class:
{precision, recall, f1, support}}, n}. Metrics come from scikit-learn; the accuracy interval is a
seeded percentile bootstrap over test images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from fer_lib.augment import preprocess
from fer_lib.config import split_spec


# ---------------------------------------------------------------- inference

@torch.no_grad()
def predict_proba(model: torch.nn.Module, images_uint8: torch.Tensor, input_size: int, mean: Sequence[float],
                  std: Sequence[float], batch_size: int = 256, amp_dtype: torch.dtype | None = None,
                  channels_last: bool = False) -> np.ndarray:
    """Softmax probabilities (N, C) of `model` (put in eval mode) over uint8 images held in one tensor."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, images_uint8.shape[0], batch_size):
        x = preprocess(images_uint8[start:start + batch_size].to(device, non_blocking=True), input_size, mean, std)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(x)
        out.append(torch.softmax(logits.float(), 1).cpu())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(out).numpy()


# ---------------------------------------------------------------- metrics

def bootstrap_accuracy_ci(labels: np.ndarray, preds: np.ndarray, n_resamples: int = 1000, seed: int = 0,
                          level: float = 0.95) -> list[float]:
    """Percentile bootstrap interval of accuracy (resampling images with replacement, seeded)."""
    correct = (np.asarray(labels) == np.asarray(preds)).astype(np.float64)
    if correct.size == 0 or n_resamples <= 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    stats = np.empty(n_resamples)
    for start in range(0, n_resamples, 100):  # bounded memory for large test sets
        stop = min(n_resamples, start + 100)
        idx = rng.integers(0, correct.size, size=(stop - start, correct.size))
        stats[start:stop] = correct[idx].mean(1)
    alpha = (1.0 - level) / 2.0
    return [float(np.quantile(stats, alpha)), float(np.quantile(stats, 1.0 - alpha))]


def compute_metrics(labels: np.ndarray, preds: np.ndarray, class_names: Sequence[str],
                    n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """accuracy, weighted/macro F1, balanced accuracy, bootstrap 95% CI and per-class report."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, classification_report, f1_score

    labels, preds = np.asarray(labels), np.asarray(preds)
    classes = list(range(len(class_names)))
    report = classification_report(labels, preds, labels=classes, target_names=list(class_names),
                                   output_dict=True, zero_division=0)
    per_class = {name: {"precision": float(report[name]["precision"]), "recall": float(report[name]["recall"]),
                        "f1": float(report[name]["f1-score"]), "support": int(report[name]["support"])}
                 for name in class_names}
    present = sorted(set(labels.tolist()))
    return {
        "accuracy": float(accuracy_score(labels, preds)),
        "f1_weighted": float(f1_score(labels, preds, labels=classes, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(labels, preds, labels=classes, average="macro", zero_division=0)),
        # balanced accuracy = mean recall over the classes present in `labels` (sklearn's definition)
        "balanced_accuracy": float(balanced_accuracy_score(labels, preds)) if present else float("nan"),
        "accuracy_ci95": bootstrap_accuracy_ci(labels, preds, n_bootstrap, seed),
        "per_class": per_class,
        "n": int(labels.size),
    }


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (C, C): rows true class, columns predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)), 1)
    return cm


def confusion_frame(labels: np.ndarray, preds: np.ndarray, class_names: Sequence[str],
                    normalize: bool = False) -> pd.DataFrame:
    """Confusion matrix as a DataFrame (index true, columns predicted); `normalize` divides each row by its sum."""
    cm = confusion_matrix(labels, preds, len(class_names)).astype(np.float64 if normalize else np.int64)
    if normalize:
        rows = cm.sum(1, keepdims=True)
        cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    df = pd.DataFrame(cm, index=list(class_names), columns=list(class_names))
    df.index.name, df.columns.name = "true", "pred"
    return df


def row_normalize(cm: pd.DataFrame) -> pd.DataFrame:
    """A counts confusion DataFrame divided by its row sums (rows with no samples stay 0)."""
    values = cm.to_numpy(dtype=np.float64)
    rows = values.sum(1, keepdims=True)
    return pd.DataFrame(np.divide(values, rows, out=np.zeros_like(values), where=rows > 0),
                        index=cm.index, columns=cm.columns)


def predictions_frame(indices: np.ndarray, labels: np.ndarray, probs: np.ndarray,
                      class_names: Sequence[str]) -> pd.DataFrame:
    """One row per image: dataset index, label, pred (class indices), their names, prob_<class>."""
    preds = probs.argmax(1)
    names = np.asarray(class_names)
    df = pd.DataFrame({"index": np.asarray(indices, dtype=np.int64), "label": np.asarray(labels, dtype=np.int64),
                       "pred": preds.astype(np.int64), "label_name": names[labels], "pred_name": names[preds]})
    for k, name in enumerate(class_names):
        df[f"prob_{name}"] = probs[:, k].astype(np.float32)
    return df


# ---------------------------------------------------------------- figures

def plot_confusion(cm: pd.DataFrame, normalize: bool = True, title: str | None = None, ax=None):
    """Seaborn heatmap of a confusion DataFrame (counts); `normalize` colours and annotates row fractions."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = row_normalize(cm) if normalize else cm
    if ax is None:
        size = 1.0 + 0.75 * len(cm)
        fig, ax = plt.subplots(figsize=(size + 1.5, size))
    else:
        fig = ax.figure
    sns.heatmap(data, annot=True, fmt=".2f" if normalize else "d", cmap="Blues", cbar=True, ax=ax,
                vmin=0, vmax=1 if normalize else None, square=True, annot_kws={"fontsize": 8})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_misclassified(images: np.ndarray, labels: np.ndarray, preds: np.ndarray, class_names: Sequence[str],
                       n: int = 16, seed: int = 0, probs: np.ndarray | None = None, short: bool = False,
                       ncols: int = 8):
    """Gallery of up to n misclassified images titled "True>Pred" (two-letter codes when `short`)."""
    import matplotlib.pyplot as plt

    wrong = np.flatnonzero(np.asarray(labels) != np.asarray(preds))
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(wrong, size=min(n, wrong.size), replace=False)) if wrong.size else wrong
    names = [c[:2] for c in class_names] if short else list(class_names)
    ncols = max(1, min(ncols, len(pick) or 1))
    nrows = max(1, int(np.ceil(len(pick) / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), pick):
        img = images[i]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
        title = f"{names[labels[i]]}>{names[preds[i]]}"
        if probs is not None:
            title += f" {probs[i, preds[i]]:.2f}"
        ax.set_title(title, fontsize=8)
    if not pick.size:
        axes[0, 0].set_title("no misclassified images", fontsize=9)
    fig.tight_layout()
    return fig


def plot_history(history: pd.DataFrame, title: str | None = None, best_epoch: int | None = None):
    """Training curves: loss, accuracy (train and val) and val weighted F1 per epoch."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    e = history["epoch"]
    axes[0].plot(e, history["train_loss"], label="train")
    axes[0].plot(e, history["val_loss"], label="val")
    axes[0].set_title("loss")
    axes[1].plot(e, history["train_acc"], label="train")
    axes[1].plot(e, history["val_acc"], label="val")
    axes[1].set_title("accuracy")
    axes[2].plot(e, history["val_f1_weighted"], label="val", color="tab:orange")
    axes[2].set_title("val weighted F1")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="gray", ls="--", lw=0.8)
    axes[0].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- a run's held-out evaluation

def evaluate_run(run_dir, splits: Sequence[str] | None = None, data_dir=None, device: str = "cpu",
                 which: str = "best", write: bool = True, dataset=None, indices: dict | None = None) -> dict:
    """Evaluate a run's checkpoint (best by default) on its held-out splits; returns {split: metrics}.

    The dataset and split indices are rebuilt from the run's manifest (same config and seed) unless
    given. Default splits: every split except train (val, test and extra test splits), plus train
    when config evaluate.include_train is set. With `write`, metrics.json, confusion_<split>.csv,
    predictions_<split>.csv and figures/ are (re)written in the run directory.
    """
    from pathlib import Path

    from fer_lib.data import load_dataset, split_indices
    from fer_lib.records import RunRecorder, load_run, load_trained_model, recorded_data_dir
    from fer_lib.train import limit_indices, make_runtime, make_split, resolve_device

    run = load_run(run_dir)
    cfg, seed = run.config, int(run.manifest["seed"])
    dev = resolve_device(device)
    trained = load_trained_model(run_dir, which=which, device=str(dev))
    if dataset is None:
        dataset = load_dataset(cfg["data"]["dataset"], data_dir or recorded_data_dir(run.manifest),
                               **(cfg["data"]["options"] or {}))
        expected = run.manifest.get("dataset", {}).get("sha256")
        if expected and dataset.sha256 != expected:
            raise ValueError(f"dataset {dataset.name!r} at {dataset.source} has sha256 {dataset.sha256[:12]}..., "
                             f"but run {run.path.name} was trained on {expected[:12]}...: point --data-dir at the "
                             f"same files")
    if indices is None:
        indices = limit_indices(split_indices(dataset, split_spec(cfg), seed), cfg["data"]["max_samples"], seed)
    if splits is None:
        splits = [s for s in indices if s != "train"]
        if cfg.get("evaluate", {}).get("include_train"):
            splits = ["train", *splits]
    unknown = [s for s in splits if s not in indices]
    if unknown:
        raise ValueError(f"unknown split(s) {unknown} for run {run.path.name}; available: {list(indices)}")
    rt = make_runtime(cfg, dev)
    n_boot = int(cfg.get("evaluate", {}).get("bootstrap", 1000))
    class_names = trained.class_names
    results = dict(run.metrics) if write else {}
    recorder = RunRecorder(Path(run_dir)) if write else None
    for name in splits:
        data = make_split(name, dataset.images, dataset.labels, indices[name], dev)
        probs = predict_proba(trained.model, data.images, trained.input_size, trained.mean, trained.std,
                              batch_size=int(cfg["train"].get("eval_batch_size", 256)), amp_dtype=rt.amp_dtype,
                              channels_last=rt.channels_last)
        labels = data.labels.cpu().numpy()
        preds = probs.argmax(1)
        results[name] = compute_metrics(labels, preds, class_names, n_bootstrap=n_boot, seed=seed)
        if recorder is not None:
            cm = confusion_frame(labels, preds, class_names)
            recorder.write_split_outputs(name, cm, predictions_frame(data.indices, labels, probs, class_names))
            if name not in ("train", "val"):
                recorder.save_figure(plot_confusion(cm, title=f"{cfg['experiment']} — {name}"), f"confusion_{name}")
            if name == "test":
                gallery = plot_misclassified(dataset.images[data.indices], labels, preds, class_names, n=16, seed=seed,
                                             probs=probs)
                recorder.save_figure(gallery, f"misclassified_{name}")
        del data
    if recorder is not None:
        recorder.write_metrics(results)
        if len(run.history):
            recorder.save_figure(plot_history(run.history, title=cfg["experiment"],
                                              best_epoch=run.manifest.get("best_epoch")), "curves")
    return {name: results[name] for name in splits}
