"""A run's held-out evaluation: rebuild its data and best model, predict each split, write metrics and figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fer_lib.config import split_spec
from fer_lib.data import load_dataset, split_indices
from fer_lib.devices import precision_name, resolve_device
from fer_lib.engine.batches import limit_indices, make_split
from fer_lib.engine.metrics import compute_metrics, confusion_frame, predictions_frame
from fer_lib.engine.predict import predict_proba
from fer_lib.engine.rebuild import load_trained_model
from fer_lib.plots import plot_confusion, plot_history, plot_misclassified
from fer_lib.runs.store import RunRecorder, load_run, recorded_data_dir


def _check_same_precision(run_name: str, trained_in: str | None, amp_dtype, device_type: str) -> None:
    """Refuse rewriting a run's metrics in another precision than it trained in (fp16 off a GPU runs in fp32)."""
    evaluated_in = precision_name(amp_dtype)
    if trained_in and evaluated_in != trained_in:
        raise ValueError(f"run {run_name} trained in {trained_in}, which {device_type} does not compute; rewriting "
                         f"its metrics in {evaluated_in} would replace what it recorded: evaluate it on a GPU, or "
                         f"without --write")


def evaluate_run(run_dir, splits: Sequence[str] | None = None, data_dir=None, device: str = "cpu",
                 which: str = "best", write: bool = True, dataset=None, indices: dict | None = None) -> dict:
    """Evaluate a run's checkpoint (best by default) on its held-out splits; returns {split: metrics}.

    The dataset and split indices are rebuilt from the run's manifest (same config and seed) unless
    given. Default splits: every split except train (val, test and extra test splits), plus train
    when config evaluate.include_train is set. With `write`, metrics.json, confusion_<split>.csv,
    predictions_<split>.csv and figures/ are (re)written in the run directory.
    """
    run = load_run(run_dir)
    cfg, seed = run.config, int(run.manifest["seed"])
    dev = resolve_device(device)
    trained = load_trained_model(run_dir, which=which, device=str(dev))
    if write:
        _check_same_precision(run.path.name, run.manifest.get("precision"), trained.runtime.amp_dtype, dev.type)
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
    n_boot = int(cfg.get("evaluate", {}).get("bootstrap", 1000))
    class_names = trained.class_names
    results = dict(run.metrics) if write else {}
    recorder = RunRecorder(Path(run_dir)) if write else None
    for name in splits:
        data = make_split(name, dataset.images, dataset.labels, indices[name], dev)
        probs = predict_proba(trained.model, data.images, trained.runtime,
                              batch_size=int(cfg["train"].get("eval_batch_size", 256)), desc=name)
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
