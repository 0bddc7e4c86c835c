"""JAFFE (Lyons, Kamachi & Gyoba 1998): 213 posed 256x256 grayscale images of 10 Japanese women.

Accepted in the data dir: the prepared archive `jaffe.npz`, or the public TIFFs anywhere under
`jaffe/` (or `jaffedbase/`), named like `KA.AN1.39.tiff`: subject KA, class code AN (AN DI FE HA
NE SA SU), pose number, image number. Split is 'all' (no official split: use subject-wise folds,
extras['subject']).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fer_lib.data.core import FERDataset
from fer_lib.data.images import read_images
from fer_lib.data.prepared import Prepared, load_with_cache, read_prepared
from fer_lib.data.registry import DatasetSpec, missing_dataset_error, register_dataset

JAFFE_CODES: tuple[str, ...] = ("AN", "DI", "FE", "HA", "NE", "SA", "SU")   # alphabetical, JAFFE's own order
JAFFE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})\d*\.\d+\.tiff?$", re.IGNORECASE)
ROOTS = ("jaffe", "jaffedbase")
URL = "https://zenodo.org/record/3451524 (JAFFE, non-commercial research terms)"
LAYOUT = "jaffe/*.tiff named like KA.AN1.39.tiff (subject.code+pose.number.tiff)"


def parse_jaffe(root: Path) -> Prepared:
    """Parse the JAFFE TIFFs under root (recursively, sorted by name)."""
    files = sorted((p for p in root.rglob("*") if p.suffix.lower() in (".tif", ".tiff") and p.is_file()),
                   key=lambda p: p.name)
    if not files:
        raise FileNotFoundError(f"no .tiff images under {root}; expected {LAYOUT}; get JAFFE from {URL}")
    subjects, labels = [], []
    for path in files:
        match = JAFFE_NAME.match(path.name)
        if not match:
            raise ValueError(f"unexpected JAFFE file name {path}; names look like KA.AN1.39.tiff "
                             f"(subject.class-code+pose.number.tiff)")
        code = match.group(2).upper()
        if code not in JAFFE_CODES:
            raise ValueError(f"unknown label {code!r} in JAFFE file name {path}; class codes are {JAFFE_CODES}")
        subjects.append(match.group(1).upper())
        labels.append(JAFFE_CODES.index(code))
    return Prepared(images=read_images(files, mode="L"), labels=np.array(labels, dtype=np.int64),
                    split=np.full(len(files), "all"), class_names=JAFFE_CODES,
                    extras={"subject": np.array(subjects), "filenames": np.array([p.name for p in files])})


def load_jaffe(data_dir: Path) -> FERDataset:
    """JAFFE, 7 classes, split 'all', with subjects."""
    prepared = data_dir / "jaffe.npz"
    if prepared.is_file():
        return read_prepared(prepared, "jaffe")
    root = next((data_dir / r for r in ROOTS if (data_dir / r).is_dir()), None)
    if root is None:
        raise missing_dataset_error("jaffe", data_dir, [prepared, *(data_dir / r for r in ROOTS)])
    return load_with_cache("jaffe", data_dir, "jaffe", [root], lambda: parse_jaffe(root))


register_dataset(DatasetSpec(
    name="jaffe", description="JAFFE, 213 posed 256x256 grayscale images, 10 subjects, 7 classes",
    load=load_jaffe, own_classes=JAFFE_CODES, layout=LAYOUT, url=URL, prepared_file="jaffe.npz", papers=("P4",),
))
