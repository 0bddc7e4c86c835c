"""FER2013 (Goodfellow et al., ICML 2013 challenge): the Kaggle CSV and the Kaggle image-folder release.

Accepted in the data dir, first match wins:
  fer2013.npz                                   prepared archive (read directly)
  fer2013/fer2013.csv  or  fer2013.csv          columns emotion,pixels,Usage; 2304 space-separated ints
  fer2013/train/<class>/Training_<id>.jpg       Kaggle image-folder release ("msambare" layout); class
  fer2013/test/<class>/{PublicTest,PrivateTest}_<id>.jpg   folders angry disgust fear happy neutral sad surprise
Labels 0..6 = Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral (the canonical order). Splits keep
the Usage names Training / PublicTest / PrivateTest (folder release: from the file-name prefix; a file
without such a prefix gets 'Training' under train/ and 'Test' under test/). Images are 48x48 grayscale;
folder images of another size are resized (Lanczos) to 48x48. Only the CSV keeps the official row
order, which FERPlus needs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fer_lib.data.core import CANONICAL_CLASSES, FERDataset, require_canonical, split_sort_key
from fer_lib.data.images import is_image_file, read_images
from fer_lib.data.prepared import Prepared, load_with_cache, read_prepared
from fer_lib.data.registry import DatasetSpec, missing_dataset_error, register_dataset
from fer_lib.data.textfiles import csv_rows, data_rows, is_ascii_int

FER2013_CLASSES: tuple[str, ...] = CANONICAL_CLASSES[:7]   # FER2013's own label order 0..6
USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
PIXELS = 48 * 48
_PIXEL_TEXT = re.compile(r"[0-9 ]*")
URL = ("Kaggle, 'challenges-in-representation-learning-facial-expression-recognition-challenge' "
       "(https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge)")
LAYOUT = ("fer2013/fer2013.csv (or fer2013.csv): the original CSV with columns emotion,pixels,Usage; or\n"
          "fer2013/train/<class>/Training_<id>.jpg and fer2013/test/<class>/PublicTest_<id>.jpg|PrivateTest_<id>.jpg "
          "(Kaggle image-folder release; classes angry disgust fear happy neutral sad surprise)")


def csv_candidates(data_dir: Path) -> list[Path]:
    """Where fer2013.csv may be."""
    return [data_dir / "fer2013" / "fer2013.csv", data_dir / "fer2013.csv"]


def locate_fer2013(data_dir: Path) -> tuple[str, list[Path]]:
    """('csv', [file]) or ('folders', [train_dir, test_dir]); FileNotFoundError naming the tried paths."""
    for path in csv_candidates(data_dir):
        if path.is_file():
            return "csv", [path]
    folders = [data_dir / "fer2013" / "train", data_dir / "fer2013" / "test"]
    if all(p.is_dir() for p in folders):
        return "folders", folders
    raise missing_dataset_error("fer2013", data_dir, [data_dir / "fer2013.npz", *csv_candidates(data_dir), *folders])


def parse_pixels(text: str) -> np.ndarray | str:
    """48x48 uint8 pixels from fer2013.csv's space-separated 'pixels' cell, or a message saying what is wrong."""
    tokens = text.split()
    if len(tokens) != PIXELS:
        return f"wrong pixel count: found {len(tokens)} values, expected {PIXELS} (48x48)"
    if _PIXEL_TEXT.fullmatch(text) and max(map(len, tokens)) <= 3:
        values = np.array(tokens, dtype=np.int64)
        if values.max() <= 255:
            return values.astype(np.uint8).reshape(48, 48)
    k, bad = next((k, t) for k, t in enumerate(tokens) if not (is_ascii_int(t) and int(t) <= 255))
    return f"pixel {k + 1} is {bad!r}, not an integer 0..255"


def parse_fer2013_csv(path: Path) -> Prepared:
    """Parse the original fer2013.csv; ValueError naming the line for any malformed row."""
    images, labels, usages = [], [], []
    fix = f"re-download fer2013.csv from {URL}"
    rows = csv_rows(path, fix)
    _, header = next(rows, (1, []))
    header = [h.strip() for h in header]
    missing = [c for c in ("emotion", "pixels", "Usage") if c not in header]
    if missing:
        raise ValueError(f"{path}, line 1: header {header} lacks column(s) {missing}; expected the original "
                         f"Kaggle fer2013.csv with header 'emotion,pixels,Usage'")
    i_emo, i_pix, i_use = header.index("emotion"), header.index("pixels"), header.index("Usage")
    for line, row in data_rows(path, rows, header, fix):
        emotion = row[i_emo].strip()
        if not is_ascii_int(emotion) or int(emotion) >= len(FER2013_CLASSES):
            raise ValueError(f"{path}, line {line}: unknown label {emotion!r} in column 'emotion'; FER2013 labels "
                             f"are 0..6 ({', '.join(f'{i} {c}' for i, c in enumerate(FER2013_CLASSES))})")
        usage = row[i_use].strip()
        if usage not in USAGES:
            raise ValueError(f"{path}, line {line}: unknown Usage {usage!r}; expected one of {list(USAGES)}")
        pixels = parse_pixels(row[i_pix])
        if isinstance(pixels, str):
            raise ValueError(f"{path}, line {line}: {pixels} in column 'pixels'; the row is corrupt: {fix}")
        images.append(pixels)
        labels.append(int(emotion))
        usages.append(usage)
    if not images:
        raise ValueError(f"{path} holds a header but no data rows; {fix}")
    n = len(images)
    return Prepared(images=np.stack(images), labels=np.array(labels, dtype=np.int64), split=np.array(usages),
                    class_names=FER2013_CLASSES,
                    extras={"pixels_exact": np.ones(n, bool), "csv_row_verified": np.ones(n, bool),
                            "csv_line": np.arange(2, n + 2, dtype=np.int64)})


def parse_fer2013_folders(train_dir: Path, test_dir: Path) -> Prepared:
    """Parse the Kaggle image-folder release (split from the file-name prefix)."""
    entries = []
    for split_dir, fallback in ((train_dir, "Training"), (test_dir, "Test")):
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            canon = require_canonical(class_dir.name, where=str(class_dir))
            if canon not in FER2013_CLASSES:
                raise ValueError(f"{class_dir}: class {canon} is not one of FER2013's 7 classes {FER2013_CLASSES}")
            files = sorted(f for f in class_dir.iterdir() if is_image_file(f))
            if not files:
                raise ValueError(f"empty class: folder {class_dir} holds no images; re-extract the FER2013 "
                                 f"image-folder release from {URL}")
            for f in files:
                match = re.match(r"(Training|PublicTest|PrivateTest)_", f.name)
                usage = match.group(1) if match else fallback
                entries.append((split_sort_key(usage), f"{split_dir.name}/{class_dir.name}/{f.name}", usage, canon, f))
    entries.sort(key=lambda e: (e[0], e[1]))
    n = len(entries)
    return Prepared(
        images=read_images([e[4] for e in entries], mode="L", size=48),
        labels=np.array([FER2013_CLASSES.index(e[3]) for e in entries], dtype=np.int64),
        split=np.array([e[2] for e in entries]), class_names=FER2013_CLASSES,
        extras={"pixels_exact": np.zeros(n, bool), "csv_row_verified": np.zeros(n, bool),
                "source_path": np.array([e[1] for e in entries])},
    )


def load_fer2013(data_dir: Path) -> FERDataset:
    """FER2013 with splits Training / PublicTest / PrivateTest (see module docstring for accepted files)."""
    prepared = data_dir / "fer2013.npz"
    if prepared.is_file():
        return read_prepared(prepared, "fer2013")
    kind, sources = locate_fer2013(data_dir)
    if kind == "csv":
        return load_with_cache("fer2013", data_dir, "fer2013", sources, lambda: parse_fer2013_csv(sources[0]))
    return load_with_cache("fer2013", data_dir, "fer2013", sources, lambda: parse_fer2013_folders(*sources))


register_dataset(DatasetSpec(
    name="fer2013", description="FER2013, 35,887 48x48 grayscale faces, 7 classes, official Usage splits",
    load=load_fer2013, own_classes=FER2013_CLASSES, layout=LAYOUT, url=URL, prepared_file="fer2013.npz",
    papers=("P1", "P3"),
))
