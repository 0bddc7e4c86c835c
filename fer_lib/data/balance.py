"""Class imbalance: loss class weights and per-class resampling plans (P3's two strategies)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WEIGHT_SCHEMES = ("inverse_frequency", "inverse_sqrt_frequency", "none")


def class_weights(labels: np.ndarray, num_classes: int, scheme: str = "inverse_frequency") -> np.ndarray:
    """Per-class loss weights (float32), scaled so their mean over the samples is 1.

    inverse_frequency: w_c proportional to 1/n_c (= N / (K n_c), sklearn's 'balanced');
    inverse_sqrt_frequency: proportional to 1/sqrt(n_c); none: all ones. Absent classes get 0.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0:
        raise ValueError("class_weights needs at least one label")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    raw = np.zeros(num_classes)
    if scheme == "inverse_frequency":
        raw[present] = 1.0 / counts[present]
    elif scheme == "inverse_sqrt_frequency":
        raw[present] = 1.0 / np.sqrt(counts[present])
    elif scheme == "none":
        raw[present] = 1.0
    else:
        raise ValueError(f"unknown class-weight scheme {scheme!r}; choose one of {WEIGHT_SCHEMES}")
    raw *= labels.size / float((raw * counts).sum())
    return raw.astype(np.float32)


@dataclass
class ResamplePlan:
    """Which rows to train on: `indices` into the original labels; `is_copy` marks extra copies (augment them)."""

    indices: np.ndarray
    is_copy: np.ndarray
    before: dict[str, int]
    after: dict[str, int]
    factors: dict[str, float]

    def table(self) -> pd.DataFrame:
        """One row per class: before, factor, after."""
        return pd.DataFrame({"class": list(self.before), "before": list(self.before.values()),
                             "factor": [self.factors.get(c, 1.0) for c in self.before],
                             "after": [self.after[c] for c in self.before]})


def resample_plan(labels: np.ndarray, class_names, factors: dict[str, float], seed: int) -> ResamplePlan:
    """Scale each named class to round(factor * count): factor > 1 adds copies (every row repeated
    floor(factor) - 1 times, then a random subset without replacement for the remainder), factor < 1
    keeps a random subset. Other classes are kept as they are. Deterministic for a seed."""
    labels = np.asarray(labels, dtype=np.int64)
    class_names = list(class_names)
    unknown = set(factors) - set(class_names)
    if unknown:
        raise ValueError(f"resample factors name unknown class(es) {sorted(unknown)}; classes: {class_names}")
    if any(f <= 0 for f in factors.values()):
        raise ValueError(f"resample factors must be > 0, got {factors}")
    rng = np.random.default_rng(seed)
    kept, copies = [], []
    for k, name in enumerate(class_names):
        rows = np.flatnonzero(labels == k)
        factor = float(factors.get(name, 1.0))
        target = int(round(factor * len(rows)))
        if target <= len(rows):
            kept.append(np.sort(rng.choice(rows, size=target, replace=False)) if target < len(rows) else rows)
            continue
        kept.append(rows)
        extra = target - len(rows)
        repeats, remainder = divmod(extra, len(rows))
        copies.append(np.tile(rows, repeats))
        copies.append(np.sort(rng.choice(rows, size=remainder, replace=False)))
    kept_idx = np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)
    copy_idx = np.sort(np.concatenate(copies)) if copies else np.zeros(0, np.int64)
    indices = np.concatenate([kept_idx, copy_idx]).astype(np.int64)
    is_copy = np.concatenate([np.zeros(len(kept_idx), bool), np.ones(len(copy_idx), bool)])
    before = {c: int((labels == k).sum()) for k, c in enumerate(class_names)}
    after = {c: int((labels[indices] == k).sum()) for k, c in enumerate(class_names)}
    return ResamplePlan(indices=indices, is_copy=is_copy, before=before, after=after,
                        factors={c: float(f) for c, f in factors.items()})
