"""FERPlus (Barsoum et al. 2016): ten crowd votes per FER2013 image, labelled with the official majority scheme.

Accepted in the data dir: the prepared vote archive `ferplus.npz` or the public `fer2013new.csv`
(also under `ferplus/` or `FERPlus/`), columns Usage, Image name, neutral, happiness, surprise,
sadness, anger, disgust, fear, contempt, unknown, NF; PLUS FER2013 itself in its original CSV row
order (fer2013.npz or fer2013.csv: the Kaggle image folders lose the row order). Row i of the vote
file labels row i of fer2013.csv; rows whose pairing is not verified (fer2013.npz
`csv_row_verified`) are left out.

Majority scheme, as implemented in Microsoft's FERPlus reader (`_process_data`, mode 'majority'):
votes of 1 are discarded as outliers; the emotion with the most remaining votes is the label if it
holds more than half of them; images without such a majority, or whose winner is 'unknown' or
'NF' (not a face), are dropped. classes=8 keeps contempt; classes=7 drops contempt images.
The votes come from `fer2013new.csv`; the official reader's per-folder `label.csv` files give another
majority for 377 images (Training keeps 25,057 images here, 25,045 there), so counts differ slightly
from studies that used those files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_lib.data.core import FERDataset, to_canonical
from fer_lib.data.fer2013 import USAGES, load_fer2013
from fer_lib.data.prepared import CorruptArchiveError, combined_sha256, ensure_cache, file_sha256, open_npz
from fer_lib.data.textfiles import csv_rows, data_rows, is_ascii_int
from fer_lib.data.registry import DatasetSpec, missing_dataset_error, register_dataset

VOTE_NAMES: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                               "contempt", "unknown", "NF")
EMOTIONS: tuple[str, ...] = VOTE_NAMES[:8]     # FERPlus's own class order
URL = "https://github.com/microsoft/FERPlus (fer2013new.csv; images from FER2013 on Kaggle)"
LAYOUT = ("fer2013new.csv (or ferplus/fer2013new.csv) from github.com/microsoft/FERPlus, plus FER2013 as "
          "fer2013/fer2013.csv (the original CSV: its row order pairs the votes with the images)")


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """FERPlus majority label per row (index into EMOTIONS), -1 where the image is dropped."""
    votes = np.asarray(votes, dtype=np.float64)
    if votes.ndim != 2 or votes.shape[1] != len(VOTE_NAMES):
        raise ValueError(f"votes must have shape (N, {len(VOTE_NAMES)}) in the order {VOTE_NAMES}, got {votes.shape}")
    kept = np.where(votes > 1, votes, 0.0)            # outlier removal: single votes are ignored
    total = kept.sum(axis=1)
    winner = kept.argmax(axis=1)
    has_majority = kept.max(axis=1) > 0.5 * total    # strict majority of the remaining votes
    return np.where(has_majority & (winner < len(EMOTIONS)), winner, -1).astype(np.int64)


def vote_csv_candidates(data_dir: Path) -> list[Path]:
    """Where fer2013new.csv may be."""
    return [data_dir / "fer2013new.csv", data_dir / "ferplus" / "fer2013new.csv",
            data_dir / "FERPlus" / "fer2013new.csv"]


def parse_fer2013new_csv(path: Path) -> dict[str, np.ndarray]:
    """Parse fer2013new.csv into arrays votes (N,10), split, image_name; ValueError naming the line."""
    votes, usages, names = [], [], []
    fix = f"re-download fer2013new.csv from {URL}"
    rows = csv_rows(path, fix)
    _, header = next(rows, (1, []))
    header = [h.strip() for h in header]
    expected = ["Usage", "Image name", *VOTE_NAMES]
    if header != expected:
        raise ValueError(f"{path}, line 1: header {header} is not FERPlus's {expected}; get fer2013new.csv from {URL}")
    for line, row in data_rows(path, rows, expected, fix):
        usage = row[0].strip()
        if usage not in USAGES:
            raise ValueError(f"{path}, line {line}: unknown Usage {usage!r}; expected one of {list(USAGES)}")
        cells = [c.strip() for c in row[2:]]
        if not all(is_ascii_int(c) and len(c) <= 6 for c in cells):
            raise ValueError(f"{path}, line {line}: vote counts must be non-negative integers (at most 6 digits), "
                             f"got {cells}")
        votes.append([int(c) for c in cells])
        usages.append(usage)
        names.append(row[1].strip())
    if not votes:
        raise ValueError(f"{path} holds a header but no data rows; {fix}")
    return {"votes": np.array(votes, dtype=np.int64).reshape(-1, len(VOTE_NAMES)), "split": np.array(usages),
            "image_name": np.array(names), "vote_names": np.array(VOTE_NAMES)}


def vote_archive(data_dir: Path) -> Path:
    """The prepared vote archive: ferplus.npz in the data dir, else built (cached) from fer2013new.csv."""
    prepared = data_dir / "ferplus.npz"
    if prepared.is_file():
        return prepared
    for path in vote_csv_candidates(data_dir):
        if path.is_file():
            return ensure_cache(data_dir, "ferplus_votes", [path], lambda p=path: parse_fer2013new_csv(p), "ferplus")
    raise missing_dataset_error("ferplus", data_dir, [prepared, *vote_csv_candidates(data_dir)])


def load_ferplus(data_dir: Path, classes: int = 8, scheme: str = "majority") -> FERDataset:
    """FERPlus images (FER2013 pixels) with majority-vote labels; classes=8 (with contempt) or 7."""
    if classes not in (7, 8):
        raise ValueError(f"ferplus: classes must be 8 (with contempt) or 7 (contempt images dropped), got {classes}")
    if scheme != "majority":
        raise ValueError(f"ferplus: only the 'majority' label scheme is implemented, got {scheme!r}")
    votes_path = vote_archive(data_dir)
    fer = load_fer2013(data_dir)
    with open_npz(votes_path, f"delete it to have it rebuilt from fer2013new.csv, or re-download it ({URL})") as data:
        missing = {"votes", "split"} - set(data.files)
        if missing:
            raise CorruptArchiveError(f"{votes_path} lacks array(s) {sorted(missing)}: it is not a FERPlus vote "
                                      f"archive; delete it to use fer2013new.csv ({URL})")
        votes, split = data["votes"], data["split"].astype(str)
        image_name = data["image_name"].astype(str) if "image_name" in data.files else np.full(len(votes), "")
        row_ok = data["fer2013_row_verified"] if "fer2013_row_verified" in data.files else np.ones(len(votes), bool)
    if len(votes) != len(fer):
        raise ValueError(f"{votes_path} has {len(votes)} rows but FER2013 ({fer.source}) has {len(fer)}; FERPlus "
                         f"votes pair with fer2013.csv row by row, so both must be complete")
    mismatch = np.flatnonzero(split != fer.split)
    if mismatch.size:
        i = int(mismatch[0])
        raise ValueError(f"row {i}: FERPlus Usage {split[i]!r} differs from FER2013 split {fer.split[i]!r} "
                         f"({mismatch.size} rows differ): the images are not in fer2013.csv row order")
    verified = row_ok & fer.extras.get("csv_row_verified", np.zeros(len(fer), bool))
    if not verified.any():
        raise ValueError(f"FERPlus needs FER2013 in the original fer2013.csv row order, but {fer.source} does not "
                         f"record it (the Kaggle image folders lose it); put fer2013.csv (or fer2013.npz) in {data_dir}")
    own = majority_labels(votes)
    keep = verified & (own >= 0)
    if classes == 7:
        keep &= own != EMOTIONS.index("contempt")
    rows = np.flatnonzero(keep)
    labels, class_names = to_canonical(own[rows], EMOTIONS, where=str(votes_path))
    if classes == 7:
        class_names = class_names[:7]   # Contempt is last in canonical order, so indices are unchanged
    extras = {k: v[rows] for k, v in fer.extras.items()}
    extras.update(votes=votes[rows], image_name=image_name[rows], fer2013_row=rows.astype(np.int64))
    sha = combined_sha256({"fer2013": fer.sha256, "ferplus_votes": file_sha256(votes_path),
                           "classes": str(classes), "scheme": scheme})
    return FERDataset(name="ferplus", images=fer.images[rows], labels=labels, split=fer.split[rows],
                      class_names=class_names, sha256=sha, source=f"{votes_path} + {fer.source}", extras=extras)


register_dataset(DatasetSpec(
    name="ferplus", description="FERPlus: FER2013 images relabelled by 10 annotators (majority scheme), 8 or 7 classes",
    load=load_ferplus, own_classes=EMOTIONS, layout=LAYOUT, url=URL,
    prepared_file="ferplus.npz", papers=("P4",), options={"classes": 8, "scheme": "majority"},
))
