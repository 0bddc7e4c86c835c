"""A run rebuilt for inference: its best (or last) checkpoint as a model with the preprocessing and
runtime (precision, memory format) it was trained with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_lib.config import split_spec
from fer_lib.data import load_dataset, split_indices
from fer_lib.devices import resolve_device
from fer_lib.engine.batches import limit_indices
from fer_lib.engine.predict import predict_proba
from fer_lib.engine.runtime import Runtime, make_runtime, prepare_batch, prepare_model
from fer_lib.models import create_model
from fer_lib.runs.select import latest_runs
from fer_lib.runs.store import MANIFEST, load_checkpoint, load_run, recorded_data_dir, stored_config


@dataclass
class TrainedModel:
    """A trained network ready for inference, with the preprocessing it was trained with."""

    model: Any
    class_names: list[str]
    input_size: int
    mean: list[float]
    std: list[float]
    manifest: dict

    runtime: Runtime | None = None  # the run's precision and memory format on the model's device

    def __post_init__(self):
        if self.runtime is None:
            self.runtime = Runtime(device=next(self.model.parameters()).device, input_size=self.input_size,
                                   mean=self.mean, std=self.std)

    def preprocess(self, batch_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 (B,H,W) or (B,H,W,3) -> the normalised float batch (B,3,S,S) the model sees, on its device."""
        return prepare_batch(batch_uint8.to(self.runtime.device), self.runtime)

    def predict_proba(self, batch_uint8: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, C) as a float tensor on the CPU, through the study's one predict loop."""
        return torch.from_numpy(predict_proba(self.model, batch_uint8, self.runtime)).reshape(len(batch_uint8), -1)


def run_runtime(manifest: dict, checkpoint: dict, device: torch.device) -> Runtime:
    """The Runtime a run predicts with: its config's precision and memory format, its checkpoint's
    preprocessing constants; plain fp32 when the manifest holds no config."""
    config = manifest.get("config") or {}
    if "train" in config and "data" in config:
        cfg = stored_config(manifest)
        if cfg["train"]["precision"] == "fp16" and device.type != "cuda":
            # fp16 autocast is CUDA-only here: off a GPU an fp16 run predicts in fp32, its nearest exact arithmetic
            cfg["train"]["precision"] = "fp32"
        base = make_runtime(cfg, device)
    else:
        base = Runtime(device=device, input_size=0, mean=[], std=[])
    return replace(base, input_size=int(checkpoint["input_size"]), mean=list(checkpoint["mean"]),
                   std=list(checkpoint["std"]))


def load_trained_model(run_dir: str | Path, which: str = "best", device: str = "cpu") -> TrainedModel:
    """Rebuild the model of a run from checkpoints/<which>.pt (best or last), in eval mode on `device`."""
    run_dir = Path(run_dir)
    path = run_dir / "checkpoints" / f"{which}.pt"
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint {path} (is the run complete? checkpoints are not in git: "
                                f"re-run `python -m fer_lib train` to recreate them)")
    meta = load_checkpoint(path)
    model = create_model(meta["model_name"], num_classes=meta["num_classes"], pretrained=False,
                         **(meta.get("model_options") or {}))
    model.load_state_dict(meta["model_state"])
    dev = resolve_device(device)
    manifest_path = run_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    runtime = run_runtime(manifest, meta, dev)
    model, _ = prepare_model(model, replace(runtime, compile=False))  # laid out as it trained; eager to predict
    return TrainedModel(model=model.eval(), class_names=list(meta["class_names"]), input_size=int(meta["input_size"]),
                        mean=list(meta["mean"]), std=list(meta["std"]), manifest=manifest, runtime=runtime)


def usable_run(experiments: list[str], data_dir=None, real_first: bool = True):
    """The newest complete run (real data first) among `experiments` whose dataset can be rebuilt here.

    Returns (run_dir, dataset, uncapped split indices) or None; runs whose data are missing are passed over.
    """

    for experiment in experiments:
        for run_dir in latest_runs(experiment, real_first=real_first):
            if not (run_dir / "checkpoints" / "best.pt").exists():
                continue
            try:
                dataset, indices = run_dataset(run_dir, data_dir, capped=False)
            except (FileNotFoundError, ValueError):
                continue
            return run_dir, dataset, indices
    return None


def run_dataset(run_dir: str | Path, data_dir=None, capped: bool = True):
    """(dataset, split indices) of a run, rebuilt from its manifest (same config and seed, sha256 checked).

    capped=False ignores data.max_samples (smoke caps): the uncapped splits are still disjoint, so
    the uncapped test split holds no image the run trained or selected on.
    """

    run = load_run(run_dir)
    cfg, seed = run.config, int(run.manifest["seed"])
    dataset = load_dataset(cfg["data"]["dataset"], data_dir or recorded_data_dir(run.manifest),
                           **(cfg["data"]["options"] or {}))
    expected = run.manifest.get("dataset", {}).get("sha256")
    if expected and dataset.sha256 != expected:
        raise ValueError(f"{dataset.name} at {dataset.source} has sha256 {dataset.sha256[:12]}..., but run "
                         f"{run.path.name} was trained on {expected[:12]}...: point data_dir at the same files")
    indices = split_indices(dataset, split_spec(cfg), seed)
    if capped:
        indices = limit_indices(indices, cfg["data"]["max_samples"], seed)
    return dataset, indices


def split_predictions(run_dir: str | Path, split: str = "test", data_dir=None) -> dict:
    """A run's recorded predictions on a split with the images they were made on.

    Returns {images, labels, preds, probs, class_names, indices}; images come from the dataset
    rebuilt from the manifest (the predictions file stores dataset row indices).
    """
    run = load_run(run_dir)
    preds = run.predictions(split)
    dataset, _ = run_dataset(run_dir, data_dir)
    class_names = list(run.manifest["dataset"]["class_names"])
    index = preds["index"].to_numpy()
    if not np.array_equal(dataset.labels[index], preds["label"].to_numpy()):
        raise ValueError(f"{run.path}: predictions_{split}.csv labels do not match the rebuilt dataset")
    probs = preds[[f"prob_{c}" for c in class_names]].to_numpy()
    return {"images": dataset.images[index], "labels": preds["label"].to_numpy(), "preds": preds["pred"].to_numpy(),
            "probs": probs, "class_names": class_names, "indices": index}
