"""Metrics, confusion matrices and prediction tables of a model's outputs on one split.

`compute_metrics` returns the dict stored per split in a run's metrics.json:
{accuracy, f1_weighted, f1_macro, balanced_accuracy, accuracy_ci95: [lo, hi], per_class: {class:
{precision, recall, f1, support}}, n}. Metrics come from scikit-learn; the accuracy interval is a
seeded percentile bootstrap over test images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


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
