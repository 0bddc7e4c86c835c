"""The steps of notebook 08 (what the models learned), each one call: find (or smoke-train) the runs,
the t-SNE of penultimate features, Grad-CAM per class for each model, the heat-map entropy table beside
P4 Table 3, and the lines of the closing note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fer_lib.claims import load_claims
from fer_lib.data.core import FERDataset
from fer_lib.devices import resolve_device
from fer_lib.engine.rebuild import load_trained_model, usable_run
from fer_lib.runs.store import load_run
from fer_lib.study import analysis
from fer_lib.study.plans import train_experiments
from fer_lib.study.setup import data_label, smoke_overrides

TSNE_FROM = ["p3_resnet50_weighted", "p3_resnet50_resampled", "p2_lc2fer_c5_aug", "p2_lc2fer_c5"]
SWIN_BASE = ["p4_swin_rafdb", "p4_swin_t_rafdb"]            # original Swin-T (ours / timm's)
SWIN_IMPROVED = ["p4_swin_spst_ema_rafdb", "p4_swin_spst_ema"]
P1_HYBRID = ["p1_swin_se_resnet_fer2013"]
ENTROPY_MODELS = ("Swin-T (original)", "Swin-T SPST+EMA")

Found = tuple[Path, FERDataset, dict]  # (run dir, dataset, uncapped split indices), as usable_run returns


def find_or_train(experiments: list[str], *, data_dir=None, seed: int = 0, device: str = "auto",
                  train: bool = True) -> tuple[Found | None, list[Path]]:
    """(the newest usable run of the experiments, the runs trained here): with train=True, a smoke run of the
    first experiment when none is usable."""
    found = usable_run(experiments, data_dir)
    runs: list[Path] = []
    if found is None and train:
        runs, _ = train_experiments(experiments[:1], profile="smoke", data_dir=data_dir, seeds=[seed],
                                    device=device, overrides=smoke_overrides("smoke"))
        found = usable_run(experiments[:1], data_dir)
    return found, runs


def describe(found: Found) -> str:
    """'experiment · data · profile · run id' of a found run."""
    run_dir, _, _ = found
    manifest = load_run(run_dir).manifest
    return f"{manifest['experiment']} · {data_label(manifest)} · {manifest['profile']} · {run_dir.name}"


def tsne_figure(found: Found | None, points: int, *, seed: int = 0, device: str = "auto"):
    """t-SNE of the penultimate features of up to `points` seeded images of the run's train+val+test splits,
    coloured by class (P2 Fig 2.12); None (saying so) without a run."""
    if found is None:
        print("no usable run for t-SNE (train=False and none recorded)")
        return None
    run_dir, dataset, indices = found
    print("run:", describe(found))
    rows = np.unique(np.concatenate([indices[s] for s in ("train", "val", "test")]))
    rows = np.sort(np.random.default_rng(seed).choice(rows, size=min(points, len(rows)), replace=False))
    trained_model = load_trained_model(run_dir, device=str(resolve_device(device)))
    feats = analysis.extract_features(trained_model, dataset.images[rows])
    emb = analysis.tsne_embedding(feats, seed=seed)
    return analysis.plot_embedding(emb, dataset.labels[rows], dataset.class_names,
                                   title=f"t-SNE of {len(rows)} images (train+val+test)\n{describe(found)}")


def cam_models(tsne_run: Found | None, *, data_dir=None, seed: int = 0, device: str = "auto",
               train: bool = True) -> tuple[dict[str, Found | None], list[Path]]:
    """({model label: its run or None} for Grad-CAM: the t-SNE CNN, the two Swin-T of P4 (smoke-trained when
    missing and train=True) and P1's hybrid when a run exists; the runs trained here)."""
    options = dict(data_dir=data_dir, seed=seed, device=device, train=train)
    base, base_runs = find_or_train(SWIN_BASE, **options)
    improved, improved_runs = find_or_train(SWIN_IMPROVED, **options)
    models = {"CNN": tsne_run, "Swin-T (original)": base, "Swin-T SPST+EMA": improved,
              "Swin-SE-ResNet (P1)": usable_run(P1_HYBRID, data_dir)}
    return models, base_runs + improved_runs


def _cam_row(name: str, found: Found, n_cam: int, seed: int, device: str) -> tuple[tuple, tuple]:
    """((found, picked test rows, maps, dataset), the model's row of the Grad-CAM grid) for one model."""
    run_dir, dataset, indices = found
    trained_model = load_trained_model(run_dir, device=device)
    test = indices["test"]
    pick = test[analysis.examples_per_class(dataset.labels[test], dataset.num_classes, n_cam, seed)]
    maps = analysis.gradcam_batches(trained_model, dataset.images[pick], dataset.labels[pick])
    probs = trained_model.predict_proba(torch.from_numpy(dataset.images[pick])).numpy()
    first = np.unique(dataset.labels[pick], return_index=True)[1]
    titles = [f"{dataset.class_names[dataset.labels[pick][i]][:2]} "
              f"(pred {trained_model.class_names[probs[i].argmax()][:2]})" for i in first]
    real = trained_model.manifest["dataset"].get("real")
    label = f"{name}\n{dataset.name}" + ("" if real else " (synthetic)")
    print(f"{name}: {describe(found)}; CAM maps {maps.shape}")
    return (found, pick, maps, dataset), (label, dataset.images[pick][first], maps[first], titles)


def gradcam_per_class(models: dict[str, Found | None], n_cam: int, *, seed: int = 0,
                      device: str = "auto") -> tuple[dict[str, tuple], object]:
    """Grad-CAM for the true class of `n_cam` seeded test images per class of each model: ({label: (found,
    picked rows, maps, dataset)}, the grid figure of one image per class and model, or None without a run)."""
    dev = str(resolve_device(device))
    cams, cam_rows = {}, []
    for name, found in models.items():
        if found is None:
            print(f"{name}: no usable run")
            continue
        cams[name], row = _cam_row(name, found, n_cam, seed, dev)
        cam_rows.append(row)
    if not cam_rows:
        return cams, None
    return cams, analysis.plot_cam_grid(cam_rows, title="Grad-CAM for the true class (code: true, pred)")


def entropy_table(cams: dict[str, tuple]) -> pd.DataFrame:
    """Heat-map entropy per class (nats) of the two Swin-T models beside P4 Table 3 (cited in claims.yaml),
    with n, all-zero maps and the maxima ln(H*W) of our maps and of 224-px maps."""
    paper3 = load_claims()["paper_tables"]["P4_table3_entropy"]
    columns = {}
    for name in ENTROPY_MODELS:
        if name in cams:
            _, pick, maps, dataset = cams[name]
            table = analysis.entropy_by_class(maps, dataset.labels[pick], dataset.class_names).set_index("class")
            columns[f"{name} ours"] = table["entropy"].round(4)
            columns[f"{name} n"] = table["n"]
            columns[f"{name} zero maps"] = table["zero maps"]
            h, w = maps.shape[1:]
    classes = list(dict.fromkeys([c for col in columns.values() for c in col.index] + list(paper3["original"])))
    entropy = pd.DataFrame(columns, index=classes)
    entropy["P4 original (paper)"] = pd.Series(paper3["original"])
    entropy["P4 improved (paper)"] = pd.Series(paper3["improved"])
    if columns:
        entropy["max ln(H*W) ours"] = round(analysis.max_entropy(h, w), 4)
    entropy["max ln(224*224)"] = round(analysis.max_entropy(224, 224), 4)
    return entropy.rename_axis("class").reset_index()


def swin_runs(cams: dict[str, tuple]) -> dict[str, str]:
    """{Swin-T model label: its run, described} of the models in the entropy table."""
    return {name: describe(cams[name][0]) for name in cams if name.startswith("Swin-T")}


def used_runs(models: dict[str, Found | None]) -> list[Path]:
    """The run dirs of the models that had a run."""
    return [found[0] for found in models.values() if found is not None]


def note_lines(models: dict[str, Found | None], tsne_points: int, n_cam: int) -> list[str]:
    """The section note's lines: the runs used, the images, how entropy is computed and what synthetic runs mean."""
    return [
        "**Runs used**: " + ("; ".join(f"{name}: {describe(found)}" for name, found in models.items()
                                       if found is not None)
                             or "none (no usable recorded run, and train=False)"),
        f"**Images**: t-SNE on up to {tsne_points} images of the run's train+val+test splits; Grad-CAM on {n_cam} "
        "test image(s) per class.",
        "**Entropy**: Grad-CAM (pytorch-grad-cam) for the true class, normalised over the H x W pixels, nats; "
        "maximum ln(H*W); an all-zero map (no positive evidence, column `zero maps`) counts as uniform, at the "
        "maximum. P4's dataset and CAM method are unknown, so only the pattern (improved < original, distance "
        "from the maximum) is comparable.",
        "**Synthetic runs**: where a run is on the embedded synthetic faces its maps and embeddings show the "
        "pipeline, not the papers' models.",
    ]
