"""Train/val/test index sets from a split spec (named splits, holdout, ratios, subject-wise k-fold)."""

from __future__ import annotations

import numpy as np

from fer_lib.data.core import FERDataset

_KEYS = {"train", "val", "test", "extra", "ratios", "kfold", "fold", "group"}
_NEEDS_VAL = ("model selection and early stopping need a validation split; add val: {holdout: 0.1} (a stratified "
              "10% of train) or val: [<split names>]")


def _named(ds: FERDataset, names, role: str) -> np.ndarray:
    names = [names] if isinstance(names, str) else list(names)
    idx = np.flatnonzero(np.isin(ds.split, names))
    if idx.size == 0:
        raise ValueError(f"{ds.name}: split name(s) {names} for {role!r} match no rows; "
                         f"this dataset's splits are {ds.split_names}")
    return idx


def _can_stratify(labels: np.ndarray, n_test: int) -> bool:
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    return counts.min() >= 2 and n_test >= len(counts) and len(labels) - n_test >= len(counts)


def _holdout(idx: np.ndarray, labels: np.ndarray, fraction: float, seed: int,
             groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split idx into (kept, held out ~fraction), stratified by label (and by group when given)."""
    from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, StratifiedShuffleSplit, ShuffleSplit

    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    y = labels[idx]
    if groups is not None:
        g = groups[idx]
        n_splits = max(2, int(round(1.0 / fraction)))
        if len(np.unique(g)) >= n_splits:
            splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            keep, held = next(splitter.split(np.zeros(len(y)), y, g))
        else:
            keep, held = next(GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
                              .split(np.zeros(len(y)), y, g))
        return np.sort(idx[keep]), np.sort(idx[held])
    n_held = int(round(fraction * len(idx)))
    if n_held < 1 or n_held >= len(idx):
        raise ValueError(f"holdout {fraction} of {len(idx)} rows leaves an empty part")
    splitter = (StratifiedShuffleSplit if _can_stratify(y, n_held) else ShuffleSplit)(
        n_splits=1, test_size=n_held, random_state=seed)
    keep, held = next(splitter.split(np.zeros(len(y)), y))
    return np.sort(idx[keep]), np.sort(idx[held])


def _as_fraction(holdout, n: int) -> float:
    """A hold-out given as a count of images (int >= 1) or a fraction, as a fraction of n rows."""
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)):
        raise ValueError(f"holdout must be a count of images or a fraction, got {holdout!r}")
    if isinstance(holdout, int) and holdout >= 1:
        if holdout >= n:
            raise ValueError(f"holdout of {holdout} images leaves nothing of {n} rows to train on")
        return holdout / n
    return float(holdout)


def _groups(ds: FERDataset, key: str | None) -> np.ndarray | None:
    if key is None:
        return None
    if key not in ds.extras:
        raise ValueError(f"{ds.name}: group {key!r} is not among its per-sample extras {sorted(ds.extras)}")
    return np.asarray(ds.extras[key])


def _kfold(ds: FERDataset, k: int, fold: int, groups: np.ndarray | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if not 0 <= fold < k:
        raise ValueError(f"fold must be in 0..{k - 1}, got {fold}")
    x = np.zeros(len(ds))
    if groups is not None:
        if len(np.unique(groups)) < k:
            raise ValueError(f"{ds.name}: {k} folds need at least {k} groups, found {len(np.unique(groups))}")
        folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(x, ds.labels, groups)
    else:
        folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x, ds.labels)
    train, test = list(folds)[fold]
    return np.sort(train), np.sort(test)


def _named_splits(ds: FERDataset, spec: dict, seed: int, groups) -> dict[str, np.ndarray]:
    """train / val / test of a spec that names the dataset's own splits (test and val may be hold-outs)."""
    val_spec = spec.get("val")
    out: dict[str, np.ndarray] = {}
    if "train" not in spec or "test" not in spec:
        raise ValueError(f"split spec needs 'train' and 'test' (or 'ratios' / 'kfold'), got {spec}")
    train = _named(ds, spec["train"], "train")
    if isinstance(spec["test"], dict):  # {"holdout": 41} images, or a fraction, stratified, out of train
        if set(spec["test"]) != {"holdout"}:
            raise ValueError(f"test must be a list of split names or {{'holdout': count or fraction}}, "
                             f"got {spec['test']!r}")
        train, out["test"] = _holdout(train, ds.labels, _as_fraction(spec["test"]["holdout"], len(train)),
                                      seed + 7, groups)
    else:
        out["test"] = _named(ds, spec["test"], "test")
    if isinstance(val_spec, dict):
        if "holdout" not in val_spec:
            raise ValueError(f"val must be a list of split names or {{'holdout': fraction}}, got {val_spec!r}")
        out["train"], out["val"] = _holdout(train, ds.labels, val_spec["holdout"], seed, groups)
    elif val_spec is None:
        raise ValueError(f"{ds.name}: split spec {spec} has no 'val': {_NEEDS_VAL}")
    else:
        out["train"], out["val"] = train, _named(ds, val_spec, "val")
    return out


def _check_disjoint(ds: FERDataset, spec: dict, out: dict[str, np.ndarray]) -> None:
    """A non-empty val, and no row shared by train/val/test or by train/val and an extra held-out split."""
    if out["val"].size == 0:
        raise ValueError(f"{ds.name}: split spec {spec} gives an empty val split: {_NEEDS_VAL}")
    pairs = [("train", "val"), ("train", "test"), ("val", "test")]
    pairs += [(a, extra) for extra in (spec.get("extra") or {}) for a in ("train", "val")]
    for a, b in pairs:
        overlap = np.intersect1d(out[a], out[b])
        if overlap.size:
            what = "a held-out split" if b not in ("val", "test") else b
            raise ValueError(f"{ds.name}: split spec {spec} puts {overlap.size} row(s) in both {a} and {b} "
                             f"({what} must not share images with {a}: a model would be scored on images it "
                             f"trained or was selected on)")


def split_indices(ds: FERDataset, spec: dict, seed: int) -> dict[str, np.ndarray]:
    """Index sets {"train", "val", "test", **extra} for a split spec; deterministic for a seed.

    Spec forms:
      {"train": ["Training"], "val": ["PublicTest"], "test": ["PrivateTest"]}        named splits
      {"train": [...], "val": {"holdout": 0.1}, "test": [...], "extra": {"name": [...]}}
                                                   holdout = stratified fraction taken out of train
      {"train": ["all"], "test": {"holdout": 41}, "val": {"holdout": 0.1}}
                                                   test = a stratified hold-out of 41 images (or a fraction),
                                                   seeded, taken out of train first
      {"ratios": [0.8, 0.1, 0.1]}                  stratified over all rows
      {"kfold": 10, "fold": 0, "group": "subject", "val": {"holdout": 0.1}}
                                                   (subject-wise when "group" is given) k-fold: the fold is
                                                   test, val is held out of the rest (group-wise too)
    val is required (model selection uses it); no split shares a row with train or val, and test none
    with val (checked).
    """
    unknown = set(spec) - _KEYS
    if unknown:
        raise ValueError(f"unknown split spec key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    groups = _groups(ds, spec.get("group"))
    val_spec = spec.get("val")
    out: dict[str, np.ndarray] = {}
    if "ratios" in spec:
        ratios = np.asarray(spec["ratios"], dtype=float)
        if ratios.shape != (3,) or (ratios <= 0).any():
            raise ValueError(f"ratios must be three positive numbers (train, val, test), got {spec['ratios']}")
        ratios = ratios / ratios.sum()
        rest, out["test"] = _holdout(np.arange(len(ds)), ds.labels, ratios[2], seed, groups)
        out["train"], out["val"] = _holdout(rest, ds.labels, ratios[1] / (ratios[0] + ratios[1]), seed + 1, groups)
    elif "kfold" in spec:
        rest, out["test"] = _kfold(ds, int(spec["kfold"]), int(spec.get("fold", 0)), groups, seed)
        if isinstance(val_spec, dict) and "holdout" in val_spec:
            out["train"], out["val"] = _holdout(rest, ds.labels, val_spec["holdout"], seed + 1, groups)
        else:
            raise ValueError(f"with kfold, val must be {{'holdout': fraction}}, got {val_spec!r}: {_NEEDS_VAL}")
    else:
        out.update(_named_splits(ds, spec, seed, groups))
    for name, names in (spec.get("extra") or {}).items():
        if name in ("train", "val", "test"):
            raise ValueError(f"extra split name {name!r} clashes with train/val/test")
        out[name] = _named(ds, names, name)
    out = {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in out.items()}
    _check_disjoint(ds, spec, out)
    return out
