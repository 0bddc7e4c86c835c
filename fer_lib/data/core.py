"""The canonical label space and the in-memory dataset every loader returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CANONICAL_CLASSES: tuple[str, ...] = (
    "Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral", "Contempt",
)

# Every spelling found in the public releases (folder names, CSV headers, JAFFE codes), lower-case
# letters only, mapped to its canonical name.
SYNONYMS: dict[str, str] = {
    **dict.fromkeys(("angry", "anger", "an", "ang", "mad"), "Angry"),
    **dict.fromkeys(("disgust", "disgusted", "di", "dis"), "Disgust"),
    **dict.fromkeys(("fear", "fearful", "scared", "afraid", "fe", "fea"), "Fear"),
    **dict.fromkeys(("happy", "happiness", "joy", "ha", "hap"), "Happy"),
    **dict.fromkeys(("sad", "sadness", "sa"), "Sad"),
    **dict.fromkeys(("surprise", "surprised", "su", "sur"), "Surprise"),
    **dict.fromkeys(("neutral", "ne", "neu"), "Neutral"),
    **dict.fromkeys(("contempt", "co", "con"), "Contempt"),
}

# Display order of split names in tables (others follow alphabetically).
SPLIT_ORDER: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest", "train", "val", "test", "all")


def canonical_name(name: str) -> str | None:
    """The canonical class for a dataset's own class name (case and punctuation ignored), or None."""
    return SYNONYMS.get(re.sub(r"[^a-z]", "", str(name).lower()))


def require_canonical(name: str, where: str = "") -> str:
    """Like canonical_name, but raises ValueError naming the unknown class and where it was found."""
    canon = canonical_name(name)
    if canon is None:
        loc = f" in {where}" if where else ""
        raise ValueError(
            f"unknown expression class {name!r}{loc}; known names: {sorted(set(SYNONYMS))} "
            f"(canonical: {', '.join(CANONICAL_CLASSES)})"
        )
    return canon


def canonical_order(names) -> tuple[str, ...]:
    """Canonical names sorted in canonical order (duplicates removed)."""
    present = set(names)
    return tuple(c for c in CANONICAL_CLASSES if c in present)


def to_canonical(labels: np.ndarray, own_names, where: str = "") -> tuple[np.ndarray, tuple[str, ...]]:
    """Map labels indexing `own_names` (a dataset's own class order) to indices into canonical-order names."""
    canon = [require_canonical(n, where) for n in own_names]
    if len(set(canon)) != len(canon):
        raise ValueError(f"class names {list(own_names)}{' in ' + where if where else ''} map to duplicate "
                         f"canonical classes {canon}")
    class_names = canonical_order(canon)
    lut = np.array([class_names.index(c) for c in canon], dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(lut)):
        bad = labels[(labels < 0) | (labels >= len(lut))][0]
        raise ValueError(f"label {int(bad)}{' in ' + where if where else ''} is outside 0..{len(lut) - 1} "
                         f"(classes {list(own_names)})")
    return lut[labels], class_names


def split_sort_key(name: str) -> tuple[int, str]:
    """Sort key putting known split names in their conventional order."""
    return (SPLIT_ORDER.index(name), "") if name in SPLIT_ORDER else (len(SPLIT_ORDER), name)


@dataclass
class FERDataset:
    """A loaded dataset: images, canonical labels, the dataset's own split names, provenance.

    sha256 is the hash of the prepared npz the data was read from; for data derived from several
    files (ferplus: votes + FER2013; fer2013_affectnet) it hashes the parts' sha256 and the options;
    for the synthetic set it hashes the generated arrays and the generator parameters.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    class_names: tuple[str, ...]
    sha256: str
    source: str
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.class_names = tuple(self.class_names)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.split = np.asarray(self.split).astype(str)
        n = len(self.labels)
        if self.images.dtype != np.uint8 or self.images.ndim not in (3, 4) or len(self.images) != n:
            raise ValueError(f"{self.name}: images must be uint8 (N,H,W) or (N,H,W,3) with N={n}, "
                             f"got {self.images.dtype} {self.images.shape}")
        if self.images.ndim == 4 and self.images.shape[-1] != 3:
            raise ValueError(f"{self.name}: RGB images must have 3 channels, got {self.images.shape}")
        if len(self.split) != n:
            raise ValueError(f"{self.name}: {len(self.split)} split names for {n} labels")
        if self.class_names != canonical_order(self.class_names) or len(set(self.class_names)) != len(self.class_names):
            raise ValueError(f"{self.name}: class_names {self.class_names} must be canonical names in canonical "
                             f"order {CANONICAL_CLASSES}")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError(f"{self.name}: labels must lie in 0..{len(self.class_names) - 1}")
        for key, value in self.extras.items():
            if len(value) != n:
                raise ValueError(f"{self.name}: extras[{key!r}] has {len(value)} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        """Number of classes (len(class_names))."""
        return len(self.class_names)

    @property
    def split_names(self) -> list[str]:
        """The distinct split names, in conventional order."""
        return sorted(set(self.split.tolist()), key=split_sort_key)

    def subset(self, indices) -> "FERDataset":
        """A new dataset holding the given rows (indices or boolean mask); provenance is kept."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        return FERDataset(
            name=self.name, images=self.images[idx], labels=self.labels[idx], split=self.split[idx],
            class_names=self.class_names, sha256=self.sha256, source=self.source,
            extras={k: v[idx] for k, v in self.extras.items()},
        )

    def counts(self) -> pd.DataFrame:
        """Long table: columns split, class, count (every split x every class, zeros included)."""
        rows = []
        for split_name in self.split_names:
            per_class = np.bincount(self.labels[self.split == split_name], minlength=self.num_classes)
            rows += [(split_name, c, int(k)) for c, k in zip(self.class_names, per_class)]
        return pd.DataFrame(rows, columns=["split", "class", "count"])

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.images.shape[1:]))
        return (f"FERDataset(name={self.name!r}, n={len(self)}, images={shape}, classes={list(self.class_names)}, "
                f"splits={self.split_names}, sha256={self.sha256[:12]}..., source={self.source!r})")
