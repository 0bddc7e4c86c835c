"""Figures of a run saved into a notebook's results section."""

from __future__ import annotations

from pathlib import Path

from fer_lib import outputs
from fer_lib.engine.rebuild import split_predictions
from fer_lib.plots import plot_confusion, plot_history, plot_misclassified
from fer_lib.runs.store import load_run
from fer_lib.study.setup import data_label


def save_run_figures(run_dir: Path, section: str, prefix: str, split: str = "test") -> list[Path]:
    """Training curves and the row-normalised confusion matrix of a run, saved under results/<section>/."""
    import matplotlib.pyplot as plt

    run = load_run(run_dir)
    data = run.manifest["dataset"]["name"] + ("" if run.manifest["dataset"].get("real") else " (embedded synthetic)")
    label = f"{run.experiment} · {data} · {run.manifest['profile']} · seed {run.manifest['seed']}"
    saved = []
    if not run.history.empty:
        fig = plot_history(run.history, title=label, best_epoch=run.manifest.get("best_epoch"))
        saved.append(outputs.save_figure(fig, section, f"{prefix}_curves"))
        plt.close(fig)
    if (run.path / f"confusion_{split}.csv").exists():
        fig = plot_confusion(run.confusion(split), normalize=True, title=f"{label} · {split}")
        figure = fig if hasattr(fig, "savefig") else fig.figure
        saved.append(outputs.save_figure(figure, section, f"{prefix}_confusion_{split}"))
        plt.close(figure)
    return saved


def misclassified_figure(run_dir: str | Path, split: str = "test", data_dir=None, short: bool = False, n: int = 16,
                         seed: int = 0, title: str | None = None):
    """Gallery of a run's misclassified images on a split ("True>Pred", two-letter codes when `short`)."""

    data = split_predictions(run_dir, split, data_dir)
    fig = plot_misclassified(data["images"], data["labels"], data["preds"], data["class_names"], n=n, seed=seed,
                             probs=data["probs"], short=short)
    manifest = load_run(run_dir).manifest
    fig.suptitle(title or f"{manifest['experiment']} · {data_label(manifest)} · misclassified ({split})", fontsize=9)
    fig.tight_layout()
    return fig
