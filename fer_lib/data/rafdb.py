"""RAF-DB basic (Li, Deng & Du, CVPR 2017): 15,339 aligned 100x100 RGB faces, 7 classes, official train/test.

Accepted in the data dir, first match wins:
  rafdb_basic.npz                                   prepared archive (JPEG bytes, decoded with Pillow)
  rafdb/EmoLabel/list_patition_label.txt            public release: lines "train_00001.jpg 5",
  rafdb/Image/aligned/train_00001_aligned.jpg       labels 1..7 = Surprise, Fear, Disgust, Happiness,
                                                    Sadness, Anger, Neutral
(the folder may also be called RAF-DB/basic or raf-basic). The split is the file-name prefix
(train_ / test_). Rows are ordered train files by name, then test files by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_lib.data.core import FERDataset
from fer_lib.data.images import read_images
from fer_lib.data.textfiles import is_ascii_int, text_lines
from fer_lib.data.prepared import Prepared, load_with_cache, read_prepared
from fer_lib.data.registry import DatasetSpec, missing_dataset_error, register_dataset

RAF_CLASSES: tuple[str, ...] = ("Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral")
ROOTS = ("rafdb", "RAF-DB/basic", "raf-basic")
LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"
IMAGE_DIR = Path("Image") / "aligned"
URL = "http://whdeng.cn/RAF/model1.html (RAF-DB basic; released by its authors under a research agreement)"
LAYOUT = ("rafdb/EmoLabel/list_patition_label.txt and rafdb/Image/aligned/<name>_aligned.jpg "
          "(e.g. rafdb/Image/aligned/train_00001_aligned.jpg)")


def locate_rafdb(data_dir: Path) -> Path:
    """The RAF-DB basic root folder holding EmoLabel/ and Image/aligned/."""
    tried = []
    for root in ROOTS:
        base = data_dir / root
        tried += [base / LABEL_FILE, base / IMAGE_DIR]
        if (base / LABEL_FILE).is_file() and (base / IMAGE_DIR).is_dir():
            return base
    raise missing_dataset_error("rafdb", data_dir, [data_dir / "rafdb_basic.npz", *tried])


def parse_label_file(path: Path) -> list[tuple[str, str, int]]:
    """(split, image name, label 0..6 in RAF order) per line; ValueError naming the line for bad input."""
    entries = []
    for line_no, line in text_lines(path, f"re-download RAF-DB basic from {URL}"):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}, line {line_no}: malformed line {line!r}; expected '<image>.jpg <label 1..7>'")
        name, label = parts
        if not is_ascii_int(label) or not 1 <= int(label) <= len(RAF_CLASSES):
            raise ValueError(f"{path}, line {line_no}: unknown label {label!r}; RAF-DB basic labels are 1..7 "
                             f"({', '.join(f'{i + 1} {c}' for i, c in enumerate(RAF_CLASSES))})")
        split = name.split("_", 1)[0]
        if split not in ("train", "test"):
            raise ValueError(f"{path}, line {line_no}: image name {name!r} does not start with train_ or test_")
        entries.append((split, name, int(label) - 1))
    if not entries:
        raise ValueError(f"{path} lists no images; re-download RAF-DB basic from {URL}")
    return entries


def aligned_name(name: str) -> str:
    """'train_00001.jpg' -> 'train_00001_aligned.jpg'."""
    stem, _, ext = name.rpartition(".")
    return f"{stem}_aligned.{ext}"


def parse_rafdb(root: Path) -> Prepared:
    """Parse the public RAF-DB basic release into arrays (RGB, the images' own size)."""
    label_file = root / LABEL_FILE
    entries = sorted(parse_label_file(label_file), key=lambda e: (e[0] != "train", e[1]))
    paths = [root / IMAGE_DIR / aligned_name(name) for _, name, _ in entries]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} image(s) listed in {label_file} are missing from {root / IMAGE_DIR}, "
                                f"e.g. {missing[0]}; re-extract the aligned images (Image/aligned.zip) from {URL}")
    return Prepared(images=read_images(paths, mode="RGB"),
                    labels=np.array([e[2] for e in entries], dtype=np.int64),
                    split=np.array([e[0] for e in entries]), class_names=RAF_CLASSES,
                    extras={"filenames": np.array([p.name for p in paths])})


def load_rafdb(data_dir: Path) -> FERDataset:
    """RAF-DB basic, aligned faces, splits train / test."""
    prepared = data_dir / "rafdb_basic.npz"
    if prepared.is_file():
        return read_prepared(prepared, "rafdb")
    root = locate_rafdb(data_dir)
    return load_with_cache("rafdb", data_dir, "rafdb", [root / LABEL_FILE, root / IMAGE_DIR],
                           lambda: parse_rafdb(root))


register_dataset(DatasetSpec(
    name="rafdb", description="RAF-DB basic, 15,339 aligned 100x100 RGB faces, 7 classes, official train/test",
    load=load_rafdb, own_classes=RAF_CLASSES, layout=LAYOUT, url=URL, prepared_file="rafdb_basic.npz",
    papers=("P2", "P4"),
))
