"""The loaders on the real datasets (skipped without them): counts vs the papers, public-format round trips."""

from __future__ import annotations

import numpy as np
import pytest
from data_fixtures import write_fer2013_csv

from fer_lib.data import class_weights, load_dataset, resample_plan
from fer_lib.data.ferplus import VOTE_NAMES, majority_labels
from fer_lib.data.images import decode_jpeg_rows
from fer_lib.claims.paper_tables import FER2013_OFFICIAL_SPLITS, P1_TABLE1_FER2013, P3_RESAMPLE_FACTORS

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def fer(real_data_dir):
    return load_dataset("fer2013", real_data_dir)


def test_fer2013_counts_match_p1_table1_and_official_splits(fer):
    totals = dict(zip(fer.class_names, np.bincount(fer.labels).tolist()))
    assert totals == P1_TABLE1_FER2013                                     # P1 Table 1
    assert {s: int((fer.split == s).sum()) for s in FER2013_OFFICIAL_SPLITS} == FER2013_OFFICIAL_SPLITS
    assert fer.images.shape == (35887, 48, 48) and len(fer.sha256) == 64


def test_fer2013_csv_written_from_the_npz_loads_pixel_equal(fer, real_data_dir, tmp_path):
    rows = np.flatnonzero(fer.extras["pixels_exact"])[::350][:100]
    write_fer2013_csv(tmp_path / "fer2013" / "fer2013.csv", fer.images[rows], fer.labels[rows], fer.split[rows])
    ds = load_dataset("fer2013", tmp_path)
    assert len(ds) == 100 and set(ds.split) == {"Training", "PublicTest", "PrivateTest"}
    np.testing.assert_array_equal(ds.images, fer.images[rows])
    np.testing.assert_array_equal(ds.labels, fer.labels[rows])
    # FERPlus from its public CSV, joined to those rows, labels them as the prepared archive does
    with np.load(real_data_dir / "ferplus.npz") as data:
        votes, names = data["votes"][rows], data["image_name"][rows]
    lines = [",".join(["Usage", "Image name", *VOTE_NAMES])]
    lines += [",".join([u, n, *map(str, v)]) for u, n, v in zip(fer.split[rows], names, votes)]
    (tmp_path / "fer2013new.csv").write_text("\n".join(lines) + "\n")
    small = load_dataset("ferplus", tmp_path)
    full = load_dataset("ferplus", real_data_dir)
    in_full = np.isin(full.extras["fer2013_row"], rows)
    np.testing.assert_array_equal(rows[small.extras["fer2013_row"]], full.extras["fer2013_row"][in_full])
    np.testing.assert_array_equal(small.labels, full.labels[in_full])


def test_ferplus_majority_labels_on_real_votes(real_data_dir, fer):
    ds = load_dataset("ferplus", real_data_dir)
    assert ds.num_classes == 8 and len(ds) > 30000
    np.testing.assert_array_equal(ds.images, fer.images[ds.extras["fer2013_row"]])
    own = majority_labels(ds.extras["votes"])
    assert (own >= 0).all()
    kept = np.asarray(ds.extras["votes"], float)
    kept[kept <= 1] = 0
    assert (kept.max(1) > kept.sum(1) / 2).all()                      # every label holds a strict majority
    seven = load_dataset("ferplus", real_data_dir, classes=7)
    assert seven.num_classes == 7 and len(seven) == len(ds) - int((ds.labels == 7).sum())


def test_rafdb_public_layout_from_a_slice_of_the_npz(real_data_dir, tmp_path):
    with np.load(real_data_dir / "rafdb_basic.npz") as data:
        jb, off, labels, files = data["jpeg_bytes"], data["jpeg_offsets"], data["labels"], data["filenames"]
        sha = data["pixel_sha256"]
    rows = np.concatenate([np.arange(0, 12271, 491), np.arange(12271, 15339, 123)])[:50]
    root = tmp_path / "rafdb"
    (root / "Image" / "aligned").mkdir(parents=True)
    (root / "EmoLabel").mkdir()
    lines = []
    for i in rows:
        (root / "Image" / "aligned" / files[i]).write_bytes(jb[off[i]:off[i + 1]].tobytes())
        lines.append(f"{files[i].replace('_aligned', '')} {labels[i] + 1}")    # official labels are 1..7
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(reversed(lines)) + "\n")
    ds = load_dataset("rafdb", tmp_path)
    expected = decode_jpeg_rows(jb, off, rows)
    np.testing.assert_array_equal(ds.images, expected)
    import hashlib
    assert [hashlib.sha256(img.tobytes()).hexdigest() for img in ds.images] == list(sha[rows])
    raf_order = ("Surprise", "Fear", "Disgust", "Happy", "Sad", "Angry", "Neutral")
    assert [ds.class_names[k] for k in ds.labels] == [raf_order[k] for k in labels[rows]]
    assert set(ds.split) == {"train", "test"}


def test_ckplus_and_jaffe_prepared_archives(real_data_dir):
    ck = load_dataset("ckplus", real_data_dir)
    assert len(ck) == 981 and "Contempt" in ck.class_names and "Neutral" not in ck.class_names
    assert len(set(ck.extras["subject"])) == 118
    jaffe = load_dataset("jaffe", real_data_dir)
    assert len(jaffe) == 213 and jaffe.num_classes == 7 and len(set(jaffe.extras["subject"])) == 10


def test_p3_resampling_plan_on_fer2013_training(fer):
    train = fer.subset(fer.split == "Training")
    plan = resample_plan(train.labels, train.class_names, P3_RESAMPLE_FACTORS, seed=0)
    assert plan.before["Disgust"] == 436 and plan.after["Disgust"] == 436 * 6           # P3: disgust x6
    assert plan.after["Surprise"] == round(3171 * 1.2) == 3805                            # P3: surprise +20%
    assert plan.after["Happy"] == round(7215 * 0.8) == 5772                               # P3: drop 20% of happy
    for cls in ("Angry", "Fear", "Sad", "Neutral"):
        assert plan.after[cls] == plan.before[cls]
    assert int(plan.is_copy.sum()) == 436 * 5 + (3805 - 3171)
    assert len(np.unique(plan.indices[~plan.is_copy])) == int((~plan.is_copy).sum())   # originals once each
    w = class_weights(train.labels, train.num_classes)
    assert w[train.labels].mean() == pytest.approx(1.0, rel=1e-5)
    assert w[train.class_names.index("Disgust")] / w[train.class_names.index("Happy")] == pytest.approx(7215 / 436, rel=1e-4)
