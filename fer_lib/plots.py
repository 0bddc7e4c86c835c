"""The study's standard figures: confusion matrices, misclassified galleries, training curves, bubbles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def row_normalize(cm: pd.DataFrame) -> pd.DataFrame:
    """A counts confusion DataFrame divided by its row sums (rows with no samples stay 0)."""
    values = cm.to_numpy(dtype=np.float64)
    rows = values.sum(1, keepdims=True)
    return pd.DataFrame(np.divide(values, rows, out=np.zeros_like(values), where=rows > 0),
                        index=cm.index, columns=cm.columns)


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


def plot_bubbles(table: pd.DataFrame, x: str = "median epoch s", y: str = "accuracy %", size: str = "params",
                 label: str = "label", title: str = "", group: str | None = None):
    """Bubble chart (P2 Fig 2.7): x epoch time, y accuracy, bubble area proportional to `size`; one colour per
    value of `group` (what the times were measured on), with a legend when there are several."""
    import matplotlib.pyplot as plt

    data = table.dropna(subset=[x, y, size])
    fig, ax = plt.subplots(figsize=(7, 5))
    if data.empty:
        ax.text(0.5, 0.5, "no complete runs", ha="center", va="center", transform=ax.transAxes)
        return fig
    area = 1500.0 * data[size].astype(float) / float(data[size].max())
    groups = list(dict.fromkeys(data[group])) if group else [None]
    for colour, name in zip(plt.get_cmap("tab10").colors, groups):
        rows = data[data[group] == name] if group else data
        ax.scatter(rows[x], rows[y], s=area[rows.index], alpha=0.45, color=colour, edgecolor="k", label=name)
    if len(groups) > 1:
        ax.legend(title="timed on (compare within one colour)", fontsize=7, title_fontsize=7, loc="best", markerscale=0.3)
    for _, row in data.iterrows():
        ax.annotate(f"{row[label]}\n{row[size] / 1e6:.2f} M", (row[x], row[y]), ha="center", va="center", fontsize=8)
    ax.set_xlabel(f"{x} (our device)")
    ax.set_ylabel(y)
    ax.margins(0.2)
    ax.grid(alpha=0.3)
    ax.set_title(title or "accuracy vs epoch time, bubble area = parameters")
    fig.tight_layout()
    return fig
