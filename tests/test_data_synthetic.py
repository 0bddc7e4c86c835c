"""The embedded synthetic faces: fast, deterministic, learnable, not trivial."""

from __future__ import annotations

import time

import numpy as np

from fer_lib.data import load_dataset
from fer_lib.data.synthetic import render_faces


def hog_features(images: np.ndarray, cell: int = 6, bins: int = 9) -> np.ndarray:
    """Minimal HOG: gradient-orientation histograms per cell, L2-normalised over 2x2 cell blocks."""
    x = images.astype(np.float32) / 255
    gy, gx = np.gradient(x, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    orientation = np.minimum((np.arctan2(gy, gx) % np.pi / np.pi * bins).astype(int), bins - 1)
    n, h, w = x.shape
    ch, cw = h // cell, w // cell
    cell_of = (np.arange(ch * cell)[:, None] // cell) * cw + np.arange(cw * cell)[None, :] // cell
    index = (np.arange(n)[:, None, None] * (ch * cw) + cell_of) * bins + orientation[:, :ch * cell, :cw * cell]
    cells = np.bincount(index.ravel(), magnitude[:, :ch * cell, :cw * cell].ravel(), minlength=n * ch * cw * bins)
    cells = cells.reshape(n, ch, cw, bins)
    blocks = np.concatenate([cells[:, :-1, :-1], cells[:, 1:, :-1], cells[:, :-1, 1:], cells[:, 1:, 1:]], -1)
    return (blocks / np.sqrt((blocks ** 2).sum(-1, keepdims=True) + 1e-6)).reshape(n, -1)


def test_default_set_is_fast_and_well_formed():
    start = time.perf_counter()
    ds = load_dataset("synthetic", n_per_class=401, seed=123)      # parameters not cached by other tests
    elapsed = time.perf_counter() - start
    assert elapsed < 6.0, f"generation took {elapsed:.1f} s"          # ~1 s on an idle core
    assert ds.images.shape == (7 * 401, 48, 48) and ds.images.dtype == np.uint8
    assert ds.class_names == ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
    counts = ds.counts().pivot(index="class", columns="split", values="count")
    assert (counts["train"] == 281).all() and (counts["val"] == 60).all() and (counts["test"] == 60).all()
    assert ds.images.std() > 30                                       # real images, not blank


def test_same_seed_same_bytes_different_seed_differs():
    a = load_dataset("synthetic", n_per_class=20, seed=1)
    b = load_dataset("synthetic", n_per_class=20, seed=1)
    c = load_dataset("synthetic", n_per_class=20, seed=2)
    assert a.images.tobytes() == b.images.tobytes() and a.sha256 == b.sha256
    assert a.images.tobytes() != c.images.tobytes() and a.sha256 != c.sha256
    assert load_dataset("synthetic", n_per_class=20, seed=1, size=64).images.shape[1:] == (64, 64)
    fresh = render_faces(np.arange(7), size=48, seed=5)
    assert fresh.tobytes() == render_faces(np.arange(7), size=48, seed=5).tobytes()


def test_learnable_but_not_trivial():
    from sklearn.linear_model import LogisticRegression, RidgeClassifier

    ds = load_dataset("synthetic")                       # 1960 train / 420 test
    train, test = ds.split == "train", ds.split == "test"
    features = hog_features(ds.images)
    clf = RidgeClassifier(alpha=10.0).fit(features[train], ds.labels[train])
    accuracy = clf.score(features[test], ds.labels[test])
    assert 0.5 < accuracy < 0.95, accuracy               # chance is 1/7; expression, not noise, carries the label
    mean = ds.images.reshape(len(ds), -1).mean(1, keepdims=True) / 255
    trivial = LogisticRegression().fit(mean[train], ds.labels[train]).score(mean[test], ds.labels[test])
    assert trivial < 0.3, trivial                        # brightness alone says nothing
