"""P1's combined FER2013 + AffectNet dataset: pooled per class, sub-sampled to P1 Table 3, split 8:1:1.

P1 does not give the rule that produced its per-class numbers; this is our stated reading:
  1. Pool all FER2013 images (every Usage) and all AffectNet images of the 7 shared classes
     (AffectNet's contempt is dropped). Every image is resized to `size` x `size` (default 96, the
     AffectNet subset's size; bilinear) and made RGB (FER2013 grayscale replicated to 3 channels).
  2. Per class, draw `targets[class]` images uniformly without replacement (seeded), default
     P1 Table 3; a class with fewer pooled images keeps all of them (a warning names it).
  3. Per class, `test_per_class` images (default 500, P1 Table 4) go to 'test'; of the rest, one
     ninth goes to 'val' and the remainder to 'train' (so about 8:1:1 overall).
extras: 'origin' ('fer2013' / 'affectnet') and 'origin_index' (row in that dataset).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from fer_lib.claims.paper_tables import P1_COMBINED_TEST_PER_CLASS, P1_TABLE3_COMBINED
from fer_lib.data.core import CANONICAL_CLASSES, FERDataset
from fer_lib.data.fer2013 import load_fer2013
from fer_lib.data.folders import load_affectnet
from fer_lib.data.images import resize_batch, to_rgb
from fer_lib.data.prepared import combined_sha256
from fer_lib.data.registry import DatasetSpec, register_dataset

COMBINED_CLASSES: tuple[str, ...] = CANONICAL_CLASSES[:7]


def _load_parts(data_dir: Path, size: int) -> tuple[FERDataset, FERDataset]:
    parts, missing = {}, []
    for name, loader in (("fer2013", lambda: load_fer2013(data_dir)),
                         ("affectnet", lambda: load_affectnet(data_dir, size=size))):
        try:
            parts[name] = loader()
        except FileNotFoundError as err:
            missing.append(f"--- {name} ---\n{err}")
    if missing:
        names = [m.split(" ---")[0].strip("- ") for m in missing]
        raise FileNotFoundError(f"fer2013_affectnet pools FER2013 and AffectNet, but {' and '.join(names)} "
                                f"{'is' if len(names) == 1 else 'are'} missing:\n" + "\n".join(missing))
    return parts["fer2013"], parts["affectnet"]


def load_fer2013_affectnet(data_dir: Path, size: int = 96, seed: int = 0, targets: dict | None = None,
                           test_per_class: int = P1_COMBINED_TEST_PER_CLASS) -> FERDataset:
    """P1's combined dataset (see module docstring); splits train / val / test."""
    targets = dict(P1_TABLE3_COMBINED if targets is None else targets)   # P1 Table 3
    fer, aff = _load_parts(data_dir, size)
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, str, np.ndarray, np.ndarray]] = []   # (class, split, origin codes, rows)
    short = []
    for k, name in enumerate(COMBINED_CLASSES):
        fer_rows = np.flatnonzero(fer.labels == fer.class_names.index(name))
        aff_rows = (np.flatnonzero(aff.labels == aff.class_names.index(name)) if name in aff.class_names
                    else np.zeros(0, np.int64))
        origin = np.concatenate([np.zeros(len(fer_rows), np.int8), np.ones(len(aff_rows), np.int8)])
        rows = np.concatenate([fer_rows, aff_rows])
        target = int(targets.get(name, len(rows)))
        if len(rows) < target:
            short.append(f"{name}: {len(rows)} pooled < target {target}")
        pick = rng.permutation(len(rows))[:target]
        if len(pick) < test_per_class + 2:
            raise ValueError(f"fer2013_affectnet: class {name} has {len(pick)} images, too few for a test set of "
                             f"{test_per_class} per class plus train and val")
        n_val = int(round((len(pick) - test_per_class) / 9))
        parts = (("test", pick[:test_per_class]), ("val", pick[test_per_class:test_per_class + n_val]),
                 ("train", pick[test_per_class + n_val:]))
        chosen += [(k, split, origin[p], rows[p]) for split, p in parts]
    if short:
        warnings.warn("fer2013_affectnet: fewer pooled images than P1 Table 3's target, all kept: " + "; ".join(short),
                      stacklevel=2)
    n = sum(len(c[3]) for c in chosen)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    labels, split, origin, origin_index = (np.empty(n, np.int64), np.empty(n, "U5"), np.empty(n, np.int8),
                                           np.empty(n, np.int64))
    at = 0
    for k, split_name, codes, rows in chosen:
        for code, source in ((0, fer), (1, aff)):
            sel = rows[codes == code]
            block = to_rgb(resize_batch(source.images[np.sort(sel)], size))
            m = len(sel)
            images[at:at + m], labels[at:at + m], split[at:at + m] = block, k, split_name
            origin[at:at + m], origin_index[at:at + m] = code, np.sort(sel)
            at += m
    sha = combined_sha256({"fer2013": fer.sha256, "affectnet": aff.sha256, "size": str(size), "seed": str(seed),
                           "targets": str(sorted(targets.items())), "test_per_class": str(test_per_class)})
    return FERDataset(name="fer2013_affectnet", images=images, labels=labels, split=split,
                      class_names=COMBINED_CLASSES, sha256=sha, source=f"{fer.source} + {aff.source}",
                      extras={"origin": np.array(["fer2013", "affectnet"])[origin], "origin_index": origin_index})


register_dataset(DatasetSpec(
    name="fer2013_affectnet", description="P1 combined FER2013 + AffectNet, sub-sampled to P1 Table 3, 8:1:1",
    load=load_fer2013_affectnet, own_classes=COMBINED_CLASSES,
    layout="both FER2013 (fer2013.npz or fer2013/fer2013.csv) and AffectNet (affectnet/<split>/<class>/*.jpg)",
    url="FER2013: Kaggle; AffectNet: http://mohammadmahoor.com/affectnet/", papers=("P1",),
    options={"size": 96, "seed": 0, "targets": None, "test_per_class": P1_COMBINED_TEST_PER_CLASS},
))
