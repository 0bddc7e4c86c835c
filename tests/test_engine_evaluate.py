"""Metrics equal scikit-learn's on a fixed example; figures and frames have the right shape."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support)

from fer_lib.engine.metrics import bootstrap_accuracy_ci, compute_metrics, confusion_frame, predictions_frame
from fer_lib.plots import plot_confusion, plot_history, plot_misclassified, row_normalize

CLASSES = ("Angry", "Disgust", "Fear", "Happy")
LABELS = np.array([0, 0, 1, 2, 2, 2, 3, 3, 3, 3, 1, 0])
PREDS = np.array([0, 2, 1, 2, 2, 0, 3, 3, 1, 3, 0, 0])


def test_metrics_equal_sklearn():
    m = compute_metrics(LABELS, PREDS, CLASSES, n_bootstrap=500, seed=0)
    assert m["accuracy"] == pytest.approx(accuracy_score(LABELS, PREDS))
    assert m["f1_weighted"] == pytest.approx(f1_score(LABELS, PREDS, average="weighted"))
    assert m["f1_macro"] == pytest.approx(f1_score(LABELS, PREDS, average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(LABELS, PREDS))
    p, r, f, s = precision_recall_fscore_support(LABELS, PREDS, labels=range(4), zero_division=0)
    for k, name in enumerate(CLASSES):
        assert m["per_class"][name] == pytest.approx({"precision": p[k], "recall": r[k], "f1": f[k], "support": s[k]})
    lo, hi = m["accuracy_ci95"]
    assert lo <= m["accuracy"] <= hi and m["n"] == len(LABELS)


def test_bootstrap_is_seeded_and_sensible():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    p = np.where(rng.random(2000) < 0.7, y, (y + 1) % 3)
    a = bootstrap_accuracy_ci(y, p, 300, seed=1)
    assert a == bootstrap_accuracy_ci(y, p, 300, seed=1) and a != bootstrap_accuracy_ci(y, p, 300, seed=2)
    acc = (y == p).mean()
    half = 1.96 * np.sqrt(acc * (1 - acc) / len(y))  # normal approximation
    assert a[0] == pytest.approx(acc - half, abs=0.01) and a[1] == pytest.approx(acc + half, abs=0.01)


def test_confusion_and_predictions_frames():
    cm = confusion_frame(LABELS, PREDS, CLASSES)
    assert (cm.to_numpy() == confusion_matrix(LABELS, PREDS, labels=range(4))).all()
    norm = row_normalize(cm)
    assert np.allclose(norm.sum(axis=1), 1.0)
    assert np.allclose(confusion_frame(LABELS, PREDS, CLASSES, normalize=True), norm)
    probs = np.eye(4)[PREDS] * 0.9 + 0.025
    df = predictions_frame(np.arange(100, 112), LABELS, probs, CLASSES)
    assert list(df.columns[:3]) == ["index", "label", "pred"] and (df["pred"] == PREDS).all()
    assert [c for c in df.columns if c.startswith("prob_")] == [f"prob_{c}" for c in CLASSES]
    assert df.loc[1, "label_name"] == "Angry" and df.loc[1, "pred_name"] == "Fear"


def test_figures():
    import matplotlib.pyplot as plt
    import pandas as pd

    fig = plot_confusion(confusion_frame(LABELS, PREDS, CLASSES), title="t")
    assert fig.axes
    images = np.random.default_rng(0).integers(0, 255, (12, 8, 8), dtype=np.uint8)
    fig2 = plot_misclassified(images, LABELS, PREDS, CLASSES, n=4)
    titles = [ax.get_title() for ax in fig2.axes if ax.get_title()]
    assert len(titles) == 4 and all(">" in t for t in titles)
    hist = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.9], "train_acc": [0.3, 0.6],
                         "val_acc": [0.3, 0.5], "val_f1_weighted": [0.2, 0.4]})
    assert len(plot_history(hist, best_epoch=2).axes) == 3
    plt.close("all")
