"""A data audit: duplicates and leakage within and across splits and datasets, blank images, label noise.

Exact duplicates are images with identical pixels (hash of the uint8 bytes). Near duplicates are pairs
whose perceptual hashes (imagehash's DCT `phash`, 64 bits, computed on the grayscale image) differ in
at most NEAR_THRESHOLD bits; a gallery of pairs AT the threshold (local-only: it shows dataset images)
lets a reader judge it. A test image "leaks" when it has an exact or near duplicate in train. Label
noise: FER2013's original labels against the FERPlus majority vote of ten annotators.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from fer_lib.data.core import FERDataset

NEAR_THRESHOLD = 4  # bits of 64 (phash); stated in every table that uses it
TRAIN_SPLITS = ("Training", "train")
TEST_SPLITS = ("PublicTest", "PrivateTest", "test")


def pixel_digests(images: np.ndarray) -> np.ndarray:
    """sha1 of each image's uint8 pixels (shape included), as strings."""
    return np.array([hashlib.sha1(str(img.shape).encode() + np.ascontiguousarray(img).tobytes()).hexdigest()
                     for img in images])


def exact_groups(images: np.ndarray) -> list[np.ndarray]:
    """Index groups (size >= 2) of pixel-identical images."""
    digests = pixel_digests(images)
    order = np.argsort(digests, kind="stable")
    sorted_digests = digests[order]
    starts = np.flatnonzero(np.r_[True, sorted_digests[1:] != sorted_digests[:-1]])
    groups = np.split(order, starts[1:])
    return [np.sort(g) for g in groups if len(g) > 1]


def perceptual_hashes(images: np.ndarray) -> np.ndarray:
    """64-bit DCT perceptual hash (imagehash.phash) of each image, on grayscale, as uint64."""
    import imagehash
    from PIL import Image

    out = np.empty(len(images), dtype=np.uint64)
    for i, img in enumerate(images):
        bits = imagehash.phash(Image.fromarray(img).convert("L")).hash.reshape(-1)
        out[i] = np.packbits(bits).view(">u8")[0]
    return out


def near_pairs(hashes_a: np.ndarray, hashes_b: np.ndarray | None = None, threshold: int = NEAR_THRESHOLD,
               block: int = 2048) -> np.ndarray:
    """(i, j, distance) rows for pairs within `threshold` Hamming bits: within one set (i < j) or across two."""
    same = hashes_b is None
    hashes_b = hashes_a if same else hashes_b
    rows = []
    for start in range(0, len(hashes_a), block):
        chunk = hashes_a[start:start + block]
        dist = np.bitwise_count(chunk[:, None] ^ hashes_b[None, :])
        i, j = np.nonzero(dist <= threshold)
        i = i + start
        keep = i < j if same else np.ones(len(i), bool)
        rows.append(np.stack([i[keep], j[keep], dist[i[keep] - start, j[keep]]], axis=1))
    return np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)


def blank_images(images: np.ndarray) -> np.ndarray:
    """Indices of constant images (every pixel the same value)."""
    flat = images.reshape(len(images), -1)
    return np.flatnonzero(flat.min(1) == flat.max(1))


def audit_dataset(ds: FERDataset, threshold: int = NEAR_THRESHOLD) -> dict:
    """Counts of one dataset: duplicate groups, conflicting labels, leakage from train into test, blanks."""
    groups = exact_groups(ds.images)
    split = ds.split
    is_train = np.isin(split, TRAIN_SPLITS)
    is_test = np.isin(split, TEST_SPLITS)
    conflicting = [g for g in groups if len(set(ds.labels[g].tolist())) > 1]
    exact_leak = {int(i) for g in groups if is_train[g].any() for i in g[is_test[g]]}
    hashes = perceptual_hashes(ds.images)
    pairs = near_pairs(hashes, threshold=threshold)
    cross = is_train[pairs[:, 0]] & is_test[pairs[:, 1]] | is_test[pairs[:, 0]] & is_train[pairs[:, 1]]
    near_leak = {int(i) for i, j in pairs[cross][:, :2] for i in (i, j) if is_test[i]}
    return {"dataset": ds.name, "images": len(ds), "exact duplicate groups": len(groups),
            "images in exact groups": int(sum(len(g) for g in groups)),
            "groups with conflicting labels": len(conflicting),
            "groups across splits": sum(len(set(split[g].tolist())) > 1 for g in groups),
            "test images with an exact train duplicate": len(exact_leak),
            f"near-duplicate pairs (phash <= {threshold})": int(len(pairs)),
            f"test images with a near train duplicate (<= {threshold})": len(near_leak | exact_leak),
            "blank images": int(len(blank_images(ds.images))),
            "leaking test indices": sorted(near_leak | exact_leak),
            "conflicting indices": sorted(int(i) for g in conflicting for i in g),
            "pairs at threshold": pairs[pairs[:, 2] == threshold][:, :2], "hashes": hashes}


def audit_table(audits: list[dict]) -> pd.DataFrame:
    """The count columns of several audit_dataset results, one row per dataset."""
    drop = ("leaking test indices", "conflicting indices", "pairs at threshold", "hashes")
    return pd.DataFrame([{k: v for k, v in a.items() if k not in drop} for a in audits])


def cross_dataset_table(datasets: list[FERDataset], threshold: int = NEAR_THRESHOLD,
                        audits: list[dict] | None = None) -> pd.DataFrame:
    """Near-duplicate pairs between every two datasets (grayscale phash, any size); `audits` (audit_dataset's
    results, in the same order) saves hashing the images again."""
    hashes = {ds.name: (audits[i]["hashes"] if audits else perceptual_hashes(ds.images))
              for i, ds in enumerate(datasets)}
    rows = []
    for a in range(len(datasets)):
        for b in range(a + 1, len(datasets)):
            na, nb = datasets[a].name, datasets[b].name
            pairs = near_pairs(hashes[na], hashes[nb], threshold)
            rows.append({"dataset A": na, "dataset B": nb, f"near-duplicate pairs (phash <= {threshold})": len(pairs),
                         f"images of A with a twin in B": len(set(pairs[:, 0].tolist()))})
    return pd.DataFrame(rows)


def pairs_gallery(ds: FERDataset, pairs: np.ndarray, n: int = 8):
    """Figure of up to n near-duplicate pairs (local-only: shows dataset images)."""
    import matplotlib.pyplot as plt

    pairs = pairs[:n]
    fig, axes = plt.subplots(2, max(1, len(pairs)), figsize=(1.6 * max(1, len(pairs)), 3.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for col, (i, j) in enumerate(pairs):
        for row, k in enumerate((i, j)):
            img = ds.images[k]
            axes[row, col].imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
            axes[row, col].set_title(f"{ds.split[k]} {ds.class_names[ds.labels[k]][:2]}", fontsize=7)
    fig.suptitle(f"{ds.name}: near-duplicate pairs at the threshold", fontsize=9)
    return fig


def label_agreement(fer2013: FERDataset, ferplus: FERDataset) -> pd.DataFrame:
    """FER2013 original label (rows) against the FERPlus majority label (columns), on the images FERPlus
    keeps (fer2013_row pairs them); counts."""
    rows = ferplus.extras["fer2013_row"]
    original = np.asarray(fer2013.class_names)[fer2013.labels[rows]]
    majority = np.asarray(ferplus.class_names)[ferplus.labels]
    table = pd.crosstab(pd.Series(original, name="FER2013 label"), pd.Series(majority, name="FERPlus majority"))
    return table.reindex(index=list(fer2013.class_names), columns=list(ferplus.class_names), fill_value=0)


def label_noise_table(fer2013: FERDataset, ferplus: FERDataset) -> pd.DataFrame:
    """Per FER2013 class and split group: how often FERPlus's annotators agree with the original label, and
    the share of original labels they reject (another majority, or no usable majority: dropped)."""
    verified = fer2013.extras.get("csv_row_verified", np.ones(len(fer2013), bool))
    kept = np.zeros(len(fer2013), bool)
    kept[ferplus.extras["fer2013_row"]] = True
    agree = np.zeros(len(fer2013), bool)
    rows = ferplus.extras["fer2013_row"]
    agree[rows] = np.asarray(ferplus.class_names)[ferplus.labels] == np.asarray(fer2013.class_names)[fer2013.labels[rows]]
    out = []
    for group, splits in (("train", TRAIN_SPLITS), ("test", TEST_SPLITS)):
        in_group = np.isin(fer2013.split, splits) & verified
        for k, name in enumerate([*fer2013.class_names, "all"]):
            mask = in_group & ((fer2013.labels == k) if name != "all" else True)
            n = int(mask.sum())
            out.append({"split": group, "FER2013 class": name, "images": n,
                        "FERPlus agrees %": round(100 * agree[mask].mean(), 2) if n else None,
                        "FERPlus other majority %": round(100 * (kept & ~agree)[mask].mean(), 2) if n else None,
                        "no usable majority %": round(100 * (~kept)[mask].mean(), 2) if n else None})
    return pd.DataFrame(out)


def split_digests(ds: FERDataset) -> pd.DataFrame:
    """sha256 of each split's decoded arrays (images then labels, C order): comparable across file formats,
    unlike the sha256 of an npz file."""
    rows = []
    for name in ds.split_names:
        mask = ds.split == name
        digest = hashlib.sha256(np.ascontiguousarray(ds.images[mask]).tobytes())
        digest.update(np.ascontiguousarray(ds.labels[mask], dtype=np.int64).tobytes())
        rows.append({"split": name, "images": int(mask.sum()), "sha256": digest.hexdigest()})
    return pd.DataFrame(rows)


def test_subsets(ds: FERDataset, result: dict) -> dict[str, set[int]]:
    """Test images to leave out for each cleaned view of a dataset's test set (audit_dataset's result)."""
    subsets = {"without train (near-)duplicates": set(result["leaking test indices"]),
               "without conflicting-label duplicates": set(result["conflicting indices"])}
    subsets["cleaned (both)"] = subsets["without train (near-)duplicates"] | subsets["without conflicting-label duplicates"]
    if "pixels_exact" in ds.extras:
        subsets["without non-exact pixels"] = {int(i) for i in np.flatnonzero(~ds.extras["pixels_exact"].astype(bool))}
    return subsets


def accuracy_on_subsets(run_dirs, subsets: dict[str, set[int]], split: str = "test") -> pd.DataFrame:
    """Each run's accuracy (%) on its official split and on that split without each subset's images, from the
    predictions it recorded (no re-inference)."""
    rows = []
    for run_dir in run_dirs:
        preds = pd.read_csv(f"{run_dir}/predictions_{split}.csv")
        right = (preds["label"] == preds["pred"]).to_numpy()
        row = {"run": str(run_dir).rstrip("/").rsplit("/", 2)[-2] + "/" + str(run_dir).rstrip("/").rsplit("/", 1)[-1],
               f"{split} (official) %": round(100 * right.mean(), 2), "n": len(preds)}
        for name, excluded in subsets.items():
            keep = ~preds["index"].isin(excluded).to_numpy()
            row[f"{name} %"] = round(100 * right[keep].mean(), 2) if keep.any() else None
            row[f"{name} n"] = int(keep.sum())
        rows.append(row)
    return pd.DataFrame(rows)
