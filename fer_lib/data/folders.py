"""Class-folder releases: AffectNet subsets, FANE and CK+ (CK+48).

Layouts (relative to the data dir):
  affectnet/<split>/<class>/*.jpg|png  or  affectnet/<class>/*   (prepared: affectnet.npz)
      classes like anger/Angry, contempt, disgust, fear, happy, neutral, sad, surprise; RGB, resized
      to `size` (default 96, the size of P1's subset).
  fane/<split>/<class>/*  or  fane/<class>/*                       (prepared: fane.npz)
      RGB; size None keeps the first image's size (others are resized to it).
  ckplus/CK+48/<class>/S###_###_########.png  (or ckplus/<class>/, CK+48/<class>/)  (prepared: ckplus48.npz)
      grayscale; classes anger contempt disgust fear happy sadness surprise; the subject (S###) is
      read from the file name into extras['subject'] for subject-wise folds.
Split folder names train/training, val/valid/validation, test/testing become train, val, test;
without split folders the split is 'all'. Class folder names map to canonical names (any case).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fer_lib.data.core import FERDataset, canonical_name, canonical_order, require_canonical
from fer_lib.data.images import is_image_file, read_images, resize_batch
from fer_lib.data.prepared import Prepared, load_with_cache, read_prepared
from fer_lib.data.registry import DatasetSpec, missing_dataset_error, register_dataset

SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "test": "test", "testing": "test"}
CK_SUBJECT = re.compile(r"^(S\d+)_(\d+)_(\d+)")


def _visible_dirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_class_folders(root: Path) -> list[tuple[str, str, Path]]:
    """(split, canonical class, file) for every image under root/<class>/ or root/<split>/<class>/."""
    subdirs = _visible_dirs(root)
    if not subdirs:
        raise ValueError(f"{root} holds no class folders; expected {root}/<class>/*.jpg or {root}/<split>/<class>/*.jpg")
    flat = any(canonical_name(d.name) for d in subdirs)
    groups = [("all", root)] if flat else [(SPLIT_ALIASES.get(d.name.lower(), d.name.lower()), d) for d in subdirs]
    entries = []
    for split, base in groups:
        class_dirs = _visible_dirs(base)
        if not class_dirs:
            raise ValueError(f"{base} holds no class folders (found only files); expected {base}/<class>/*.jpg")
        for class_dir in class_dirs:
            canon = require_canonical(class_dir.name, where=f"folder {class_dir}")
            files = sorted(f for f in class_dir.iterdir() if is_image_file(f))
            if not files:
                raise ValueError(f"empty class: folder {class_dir} holds no images (.jpg/.png/...); remove the "
                                 f"folder or re-extract the dataset")
            entries += [(split, canon, f) for f in files]
    return entries


def parse_class_folders(root: Path, mode: str, size: int | None, subject_pattern: re.Pattern | None = None) -> Prepared:
    """Read a class-folder release into arrays (classes in canonical order)."""
    entries = scan_class_folders(root)
    class_names = canonical_order(e[1] for e in entries)
    extras = {"filenames": np.array([str(e[2].relative_to(root)) for e in entries])}
    if subject_pattern is not None:
        subjects = []
        for _, _, path in entries:
            match = subject_pattern.match(path.name)
            if not match:
                raise ValueError(f"cannot read the subject from file name {path}; CK+48 names look like "
                                 f"S010_004_00000017.png (subject S010)")
            subjects.append(match.group(1))
        extras["subject"] = np.array(subjects)
    return Prepared(images=read_images([e[2] for e in entries], mode=mode, size=size),
                    labels=np.array([class_names.index(e[1]) for e in entries], dtype=np.int64),
                    split=np.array([e[0] for e in entries]), class_names=class_names, extras=extras)


def load_folder_dataset(name: str, data_dir: Path, prepared_file: str, roots: list[str], mode: str,
                        size: int | None, subject_pattern: re.Pattern | None = None) -> FERDataset:
    """Prepared archive if present, else the first root folder found, parsed once and cached."""
    prepared = data_dir / prepared_file
    if prepared.is_file():
        ds = read_prepared(prepared, name)
    else:
        candidates = [data_dir / r for r in roots]
        root = next((c for c in candidates if c.is_dir() and _visible_dirs(c)), None)
        if root is None:
            raise missing_dataset_error(name, data_dir, [prepared, *candidates])
        ds = load_with_cache(name, data_dir, f"{name}-{size or 'native'}", [root],
                             lambda: parse_class_folders(root, mode, size, subject_pattern))
    if size is not None and ds.images.shape[1:3] != (size, size):
        ds.images = resize_batch(ds.images, size)
    return ds


def load_affectnet(data_dir: Path, size: int | None = 96) -> FERDataset:
    """AffectNet subset from class folders (RGB)."""
    return load_folder_dataset("affectnet", data_dir, "affectnet.npz", ["affectnet", "AffectNet"], "RGB", size)


def load_fane(data_dir: Path, size: int | None = None) -> FERDataset:
    """FANE from class folders (RGB)."""
    return load_folder_dataset("fane", data_dir, "fane.npz", ["fane", "FANE"], "RGB", size)


def load_ckplus(data_dir: Path, size: int | None = None) -> FERDataset:
    """CK+ (CK+48 version, 981 images) from class folders, grayscale, with subjects."""
    return load_folder_dataset("ckplus", data_dir, "ckplus48.npz", ["ckplus/CK+48", "ckplus", "CK+48"], "L", size,
                               subject_pattern=CK_SUBJECT)


register_dataset(DatasetSpec(
    name="affectnet", description="AffectNet subset, class folders (P1 uses 22,244 96x96 images, 7 classes)",
    load=load_affectnet, own_classes=("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
    layout="affectnet/<split>/<class>/*.jpg or affectnet/<class>/*.jpg (classes anger contempt disgust fear "
           "happy neutral sad surprise)",
    url="http://mohammadmahoor.com/affectnet/ (by agreement with the authors)", prepared_file="affectnet.npz",
    papers=("P1",), options={"size": 96},
))
register_dataset(DatasetSpec(
    name="fane", description="FANE, class folders (P4)", load=load_fane,
    own_classes=("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
    layout="fane/<split>/<class>/*.jpg or fane/<class>/*.jpg",
    url="origin not given by P4; no public source identified", prepared_file="fane.npz",
    papers=("P4",), options={"size": None},
))
register_dataset(DatasetSpec(
    name="ckplus", description="CK+ (CK+48 version), 981 48x48 grayscale images, 7 classes, 118 subjects",
    load=load_ckplus, own_classes=("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"),
    layout="ckplus/CK+48/<class>/S###_###_########.png (classes anger contempt disgust fear happy sadness surprise)",
    url="https://www.jeffcohn.net/Resources/ (CK+, by agreement with the authors)", prepared_file="ckplus48.npz",
    papers=(), options={"size": None},
))
