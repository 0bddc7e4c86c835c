"""Tables and figures for the data notebooks: availability, class x split counts, comparisons with the
papers' stated counts, sample grids, pixel statistics, balancing histograms and class weights."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from fer_lib.claims.paper_tables import (FER2013_OFFICIAL_SPLITS, FER2013_TOTAL, P1_TABLE2_STATED_TOTAL,
                                         P1_TABLE3_STATED_TOTAL, P1_TABLE4)
from fer_lib.data.balance import ResamplePlan, class_weights
from fer_lib.data.core import FERDataset, split_sort_key
from fer_lib.data.images import resize_batch, to_rgb
from fer_lib.data.registry import list_datasets, load_dataset

TRAIN_SPLIT_NAMES = ("Training", "train", "all")


def try_load(name: str, data_dir: str | os.PathLike | None = None, **options) -> tuple[FERDataset | None, str]:
    """(dataset, "") when it loads, else (None, why): the first line of the error."""
    try:
        return load_dataset(name, data_dir, **options), ""
    except (FileNotFoundError, ValueError, OSError) as err:
        text = str(err).strip()
        return None, (text.splitlines()[0] if text else type(err).__name__)


def load_all(data_dir: str | os.PathLike | None = None, names: list[str] | None = None
             ) -> dict[str, tuple[FERDataset | None, str]]:
    """Try every registered dataset (or `names`); never raises for a missing or malformed one."""
    return {name: try_load(name, data_dir) for name in (names or list_datasets())}


def availability_table(loaded: dict[str, tuple[FERDataset | None, str]]) -> pd.DataFrame:
    """One row per dataset: available, size, image shape, classes, splits, sha256 prefix, source or reason."""
    rows = []
    for name, (ds, reason) in loaded.items():
        if ds is None:
            rows.append(dict(dataset=name, available=False, n=0, image_shape="", classes=0, splits="",
                             sha256="", source_or_reason=f"not available: {reason}"))
        else:
            rows.append(dict(dataset=name, available=True, n=len(ds), image_shape="x".join(map(str, ds.images.shape[1:])),
                             classes=ds.num_classes, splits=" / ".join(ds.split_names), sha256=ds.sha256[:16],
                             source_or_reason=ds.source))
    return pd.DataFrame(rows)


def count_table(ds: FERDataset) -> pd.DataFrame:
    """Class x split counts with a 'total' column and a 'total' row (classes in canonical order)."""
    long = ds.counts()
    wide = long.pivot(index="class", columns="split", values="count")
    wide = wide.reindex(index=list(ds.class_names), columns=sorted(wide.columns, key=split_sort_key)).fillna(0)
    wide = wide.astype(int)
    wide["total"] = wide.sum(axis=1)
    wide.loc["total"] = wide.sum(axis=0)
    wide.columns.name = None
    return wide.reset_index().rename(columns={"index": "class"})


def class_totals(ds: FERDataset, splits: list[str] | None = None) -> dict[str, int]:
    """Images per class over all splits (or the given split names)."""
    mask = np.ones(len(ds), bool) if splits is None else np.isin(ds.split, splits)
    counts = np.bincount(ds.labels[mask], minlength=ds.num_classes)
    return {c: int(k) for c, k in zip(ds.class_names, counts)}


def compare_counts(ours: dict[str, int], paper: dict[str, int], source: str) -> pd.DataFrame:
    """Per-class comparison with a paper's stated counts; 'flag' marks each discrepancy."""
    rows = []
    for cls in list(paper) + [c for c in ours if c not in paper]:
        p, o = paper.get(cls), ours.get(cls)
        diff = None if p is None or o is None else o - p
        rows.append(dict(**{"class": cls, f"paper ({source})": p, "ours": o, "ours - paper": diff,
                            "flag": "" if diff == 0 else "DIFFERS"}))
    total_p, total_o = sum(paper.values()), sum(v for v in ours.values())
    rows.append(dict(**{"class": "total", f"paper ({source})": total_p, "ours": total_o,
                        "ours - paper": total_o - total_p, "flag": "" if total_o == total_p else "DIFFERS"}))
    return pd.DataFrame(rows)


def p1_table4_comparison(fer2013: FERDataset | None) -> pd.DataFrame:
    """P1 Table 4 (train/val/test/total as printed) beside the sum of its parts, the dataset sizes the
    paper states elsewhere, and our FER2013 split sizes; 'finding' names each inconsistency."""
    ours = {}
    if fer2013 is not None:
        sizes = {s: int((fer2013.split == s).sum()) for s in FER2013_OFFICIAL_SPLITS}
        ours = {"train": sizes["Training"], "val": sizes["PublicTest"], "test": sizes["PrivateTest"],
                "total": len(fer2013)}
    expected_total = {"FER2013": FER2013_TOTAL, "AffectNet": P1_TABLE2_STATED_TOTAL,
                      "FER+AffectNet": P1_TABLE3_STATED_TOTAL}
    expected_src = {"FER2013": "FER2013 size (P1 text, Table 1)", "AffectNet": "P1 Table 2 total",
                    "FER+AffectNet": "P1 Table 3 total"}
    rows = []
    for dataset, t in P1_TABLE4.items():
        parts = t["train"] + t["val"] + t["test"]
        findings = []
        if parts != t["total"]:
            findings.append(f"parts sum to {parts:,}, printed total {t['total']:,}")
        if t["total"] != expected_total[dataset]:
            findings.append(f"total {t['total']:,} != {expected_src[dataset]} {expected_total[dataset]:,}")
        row = dict(dataset=dataset, **{f"paper_{k}": v for k, v in t.items()}, paper_parts_sum=parts,
                   stated_size=expected_total[dataset])
        if dataset == "FER2013" and ours:
            row.update({f"ours_{k}": v for k, v in ours.items()})
            for k in ("train", "val", "test", "total"):
                if ours[k] != t[k]:
                    findings.append(f"{k}: paper {t[k]:,} vs ours {ours[k]:,}")
        row["finding"] = "; ".join(findings) or "consistent"
        rows.append(row)
    return pd.DataFrame(rows)


def pixel_stats(ds: FERDataset, chunk: int = 2048) -> dict:
    """Mean and std of pixel values in [0, 1] (per channel for RGB), exact, from 256-bin histograms."""
    channels = 3 if ds.images.ndim == 4 else 1
    hist = np.zeros((channels, 256), dtype=np.int64)
    for start in range(0, len(ds), chunk):
        block = ds.images[start:start + chunk].reshape(-1, channels)
        for c in range(channels):
            hist[c] += np.bincount(block[:, c], minlength=256)
    values = np.arange(256) / 255.0
    count = np.maximum(hist.sum(1), 1)
    mean = (hist * values).sum(1) / count
    std = np.sqrt(np.maximum((hist * values ** 2).sum(1) / count - mean ** 2, 0))
    fmt = (lambda a: round(float(a[0]), 4)) if channels == 1 else (lambda a: [round(float(x), 4) for x in a])
    return dict(dataset=ds.name, n=len(ds), image_shape="x".join(map(str, ds.images.shape[1:])),
                channels="gray" if channels == 1 else "RGB", mean=fmt(mean), std=fmt(std))


def pixel_stats_table(datasets: list[FERDataset]) -> pd.DataFrame:
    """pixel_stats for several datasets, one row each."""
    return pd.DataFrame([pixel_stats(ds) for ds in datasets])


def sample_montage(ds: FERDataset, per_class: int = 8, seed: int = 0, split: str | None = None,
                   tile: int = 64) -> tuple[np.ndarray, list[int]]:
    """An RGB uint8 montage: one row per class of `per_class` random images (resized to tile x tile,
    blank where a class has fewer), and the number of images available per class."""

    rng = np.random.default_rng(seed)
    mask = np.ones(len(ds), bool) if split is None else ds.split == split
    pad = 2
    montage = np.full((ds.num_classes * (tile + pad), per_class * (tile + pad), 3), 255, dtype=np.uint8)
    available = []
    for k in range(ds.num_classes):
        rows = np.flatnonzero(mask & (ds.labels == k))
        available.append(len(rows))
        pick = np.sort(rng.choice(rows, size=min(per_class, len(rows)), replace=False))
        if not len(pick):
            continue
        tiles = to_rgb(resize_batch(ds.images[pick], tile))
        for j, img in enumerate(tiles):
            y, x = k * (tile + pad), j * (tile + pad)
            montage[y:y + tile, x:x + tile] = img
    return montage, available


def sample_grid(ds: FERDataset, per_class: int = 8, seed: int = 0, split: str | None = None, tile: int = 64):
    """A matplotlib figure of sample_montage: one row per class (label and class size on the left)."""
    import matplotlib.pyplot as plt

    montage, available = sample_montage(ds, per_class, seed, split, tile)
    height = montage.shape[0] / montage.shape[1] * per_class * 1.0
    fig, ax = plt.subplots(figsize=(per_class * 1.0 + 1.2, height))
    ax.imshow(montage)
    ax.set_yticks([(k + 0.5) * (tile + 2) for k in range(ds.num_classes)])
    ax.set_yticklabels([f"{c} ({n:,})" for c, n in zip(ds.class_names, available)], fontsize=8)
    ax.set_xticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    where = f", split {split}" if split else ""
    ax.set_title(f"{ds.name}: {per_class} random images per class (seed {seed}{where})", fontsize=9)
    fig.tight_layout()
    return fig


def class_histogram_figure(panels: list[tuple[str, dict[str, int]]], ylabel: str = "images"):
    """Bar charts of class counts side by side, one panel per (title, counts); shared y axis."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.6), sharey=True, squeeze=False)
    for ax, (title, counts) in zip(axes[0], panels):
        bars = ax.bar(list(counts), list(counts.values()), color="tab:blue")
        ax.bar_label(bars, fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", rotation=45, labelsize=8)
        ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def resample_figure(plan: ResamplePlan, dataset: str):
    """P3 Figures 1-2 analogue: class histogram before and after a resampling plan."""
    return class_histogram_figure([(f"{dataset} training, before", plan.before),
                                   (f"after resampling {plan.factors}", plan.after)])


def weights_table(labels: np.ndarray, class_names) -> pd.DataFrame:
    """Per class: count, share, and the loss weights of each scheme (mean 1 over the samples)."""
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=len(class_names))
    out = pd.DataFrame({"class": list(class_names), "count": counts, "share": np.round(counts / counts.sum(), 4)})
    for scheme in ("inverse_frequency", "inverse_sqrt_frequency"):
        out[scheme] = np.round(class_weights(labels, len(class_names), scheme), 4)
    return out


def training_split(ds: FERDataset) -> FERDataset:
    """The dataset's training rows ('Training', else 'train', else 'all')."""
    for name in TRAIN_SPLIT_NAMES:
        if (ds.split == name).any():
            return ds.subset(ds.split == name)
    raise ValueError(f"{ds.name}: no training split among {ds.split_names}")


def resample_table(plan: ResamplePlan) -> pd.DataFrame:
    """The plan per class (before, factor, after, extra copies) plus each class's size relative to the
    mean class before resampling (P3: disgust is about 1/6 of the average class)."""
    table = plan.table()
    table["copies"] = table["after"] - table["before"]
    table.loc[table["copies"] < 0, "copies"] = 0
    table["before / class mean"] = (table["before"] / table["before"].mean()).round(3)
    return table


def availability_note(loaded: dict[str, tuple[FERDataset | None, str]]) -> str:
    """Markdown lines: which datasets were used (with sha256) and which were not available, and why."""
    lines = ["Datasets:"]
    for name, (ds, reason) in loaded.items():
        if ds is None:
            lines.append(f"- {name}: not available ({reason})")
        else:
            lines.append(f"- {name}: {len(ds):,} images, sha256 {ds.sha256[:16]}..., from {ds.source}")
    return "\n".join(lines)
