"""Cross-dataset evaluation: a model trained on one dataset, tested on the others, in the shared label space.

Class names are canonical in every dataset (fer_lib.data), so two label spaces meet by name:
an evaluation uses only the images whose class the model also knows, and the model's prediction
is the argmax over those shared classes ("restricted"); the unrestricted accuracy (argmax over all
the model's classes, a prediction of a class the test set lacks counts as wrong) is kept beside it.
Images get the preprocessing of the run they are fed to: RGB images are converted to grayscale
(ITU-R 601-2 luma) when the run was trained on grayscale data, grayscale is replicated to 3
channels, then resized and normalised as in training (fer_lib.augment.preprocess).

When the test set is the run's own dataset, the run's own test split (rebuilt from its manifest)
is used, never images it was trained or selected on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fer_lib.data.explore import try_load
from fer_lib.engine.rebuild import load_trained_model, run_dataset
from fer_lib.runs.store import load_run

_LUMA = np.array([0.2989, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as fer_lib.augment


@dataclass(frozen=True)
class EvalSet:
    """A test set: registered dataset name, loader options and which of its splits are test images."""

    name: str
    splits: tuple[str, ...]
    options: dict = field(default_factory=dict)
    note: str = ""


EVAL_SETS: dict[str, EvalSet] = {
    "fer2013": EvalSet("fer2013", ("PrivateTest",), note="FER2013 PrivateTest (3,589)"),
    "ferplus": EvalSet("ferplus", ("PrivateTest",), {"classes": 8}, "FERPlus majority labels, PrivateTest"),
    "rafdb": EvalSet("rafdb", ("test",), note="RAF-DB basic test (3,068)"),
    "jaffe": EvalSet("jaffe", ("all",), note="JAFFE, all 213 images"),
    "ckplus": EvalSet("ckplus", ("all",), note="CK+ 48 px, all images"),
    "affectnet": EvalSet("affectnet", ("test", "val", "all"), note="AffectNet (not available to the study)"),
    "fane": EvalSet("fane", ("test", "all"), note="FANE (not available to the study)"),
    "synthetic": EvalSet("synthetic", ("test",), note="embedded synthetic data, test split"),
}


COLUMNS = ["trained on", "run", "model", "evaluated on", "status", "test images", "n", "accuracy %",
           "accuracy % (all model classes)", "classes dropped from test set", "model classes absent from test set"]


def shared_classes(model_classes, data_classes) -> list[str]:
    """Canonical class names present in both, in the model's order."""
    data = set(data_classes)
    return [c for c in model_classes if c in data]


def to_grayscale(images: np.ndarray) -> np.ndarray:
    """uint8 (N,H,W,3) -> (N,H,W) luma; (N,H,W) passes through."""
    if images.ndim == 3:
        return images
    return np.clip(np.rint(images.astype(np.float32) @ _LUMA), 0, 255).astype(np.uint8)


def cross_evaluate(trained, images: np.ndarray, labels: np.ndarray, class_names, batch_size: int = 128) -> dict:
    """Accuracy of a fer_lib.engine.rebuild.TrainedModel on (images, labels indexed into class_names), shared classes only.

    Returns {accuracy, accuracy_unrestricted, n, shared, dropped_from_data, not_in_data}; accuracies in %
    (NaN when no image has a shared class).
    """
    class_names = list(class_names)
    shared = shared_classes(trained.class_names, class_names)
    keep = np.isin(np.asarray(class_names)[labels], shared) if len(labels) else np.zeros(0, bool)
    out = {"shared": shared, "dropped_from_data": [c for c in class_names if c not in shared],
           "not_in_data": [c for c in trained.class_names if c not in shared], "n": int(keep.sum())}
    if not keep.any():
        return {**out, "accuracy": float("nan"), "accuracy_unrestricted": float("nan")}
    grayscale = bool(trained.manifest.get("dataset", {}).get("grayscale", False))
    x = images[keep]
    x = to_grayscale(x) if grayscale else x
    probs = []
    for start in range(0, len(x), batch_size):
        probs.append(trained.predict_proba(torch.from_numpy(np.ascontiguousarray(x[start:start + batch_size]))).numpy())
    probs = np.concatenate(probs)
    truth = np.asarray(class_names)[labels[keep]]
    names = np.asarray(trained.class_names)
    cols = [trained.class_names.index(c) for c in shared]
    restricted = names[np.asarray(cols)[probs[:, cols].argmax(1)]]
    unrestricted = names[probs.argmax(1)]
    return {**out, "accuracy": float((restricted == truth).mean() * 100),
            "accuracy_unrestricted": float((unrestricted == truth).mean() * 100)}


def _subsample(indices: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    if cap is None or len(indices) <= cap:
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, size=cap, replace=False))


def cross_dataset_table(run_dirs: list[str | Path], eval_sets: list[str], data_dir=None, max_per_set: int | None = None,
                        seed: int = 0, device: str = "cpu") -> pd.DataFrame:
    """Long table: one row per (run, test set) with accuracy in the shared label space, n and dropped classes.

    A test set that cannot be loaded gets a row with its reason. `max_per_set` caps the images per
    cell (seeded random subset) for quick CPU runs; None uses every test image.
    """

    loaded: dict[str, tuple] = {}
    rows = []
    for run_dir in run_dirs:
        run = load_run(run_dir)
        manifest = run.manifest
        trained = load_trained_model(run_dir, device=device)
        own = manifest["dataset"]["name"]
        real = manifest["dataset"].get("real")
        trained_on = f"{manifest['experiment']} · {own}" + ("" if real else " (embedded synthetic)")
        for name in eval_sets:
            spec = EVAL_SETS[name]
            row = {"trained on": trained_on, "run": run.path.name, "model": manifest["config"]["model"]["name"],
                   "evaluated on": name}
            if name == own:
                try:
                    dataset, indices = run_dataset(run_dir, data_dir)
                except (FileNotFoundError, ValueError) as err:
                    rows.append({**row, "status": f"not available: {str(err).splitlines()[0]}"})
                    continue
                idx, which = indices["test"], "the run's own test split"
            else:
                if name not in loaded:
                    loaded[name] = try_load(spec.name, data_dir, **spec.options)
                dataset, why = loaded[name]
                if dataset is None:
                    rows.append({**row, "status": f"not available: {why}"})
                    continue
                names = [s for s in spec.splits if s in set(dataset.split_names)][:1] or list(dataset.split_names)
                idx, which = np.flatnonzero(np.isin(dataset.split, names)), "+".join(names)
            idx = _subsample(idx, max_per_set, seed)
            result = cross_evaluate(trained, dataset.images[idx], dataset.labels[idx], dataset.class_names)
            rows.append({**row, "status": "ok", "test images": which, "n": result["n"],
                         "accuracy %": round(result["accuracy"], 2),
                         "accuracy % (all model classes)": round(result["accuracy_unrestricted"], 2),
                         "classes dropped from test set": ", ".join(result["dropped_from_data"]) or "none",
                         "model classes absent from test set": ", ".join(result["not_in_data"]) or "none"})
    return pd.DataFrame(rows, columns=COLUMNS)


def cross_dataset_matrix(table: pd.DataFrame, value: str = "accuracy %") -> pd.DataFrame:
    """Rows trained-on, columns evaluated-on, cells `value` ('-' where the test set was unavailable)."""
    if table.empty:
        return pd.DataFrame()
    ok = table[table["status"] == "ok"]
    columns = list(dict.fromkeys(table["evaluated on"]))
    matrix = ok.pivot_table(index="trained on", columns="evaluated on", values=value, aggfunc="first")
    matrix = matrix.reindex(index=list(dict.fromkeys(table["trained on"])), columns=columns)
    return matrix
