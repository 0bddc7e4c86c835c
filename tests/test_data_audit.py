"""The data audit on planted duplicates, blanks and label disagreements; per-split digests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fer_lib.cli import main
from fer_lib.data import FERDataset
from fer_lib.data import audit

CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")


def _faces(n: int, seed: int = 0) -> np.ndarray:
    """Smooth random images (distinct perceptual hashes, unlike white noise at 48 px)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 6, 6)).astype(np.float32)
    return np.stack([np.kron(img, np.ones((8, 8))) for img in small]).clip(0, 255).astype(np.uint8)


def _planted() -> FERDataset:
    images = _faces(40)
    split = np.array(["Training"] * 30 + ["PublicTest"] * 10)
    labels = np.arange(40) % 7
    images[31] = images[2]                        # exact: a test image that is in train, same label
    labels[31] = labels[2]
    images[5] = images[6]                         # exact, within train, conflicting labels (5 -> 5, 6 -> 6)
    near = images[10].astype(np.int16) + 2        # near: a brightness shift of 2 grey levels
    images[33] = near.clip(0, 255).astype(np.uint8)
    images[20] = 77                               # blank
    return FERDataset(name="planted", images=images, labels=labels, split=split, class_names=CLASSES,
                      sha256="0" * 64, source="test")


def test_planted_duplicates_leaks_conflicts_and_blanks_are_found():
    ds = _planted()
    groups = audit.exact_groups(ds.images)
    assert sorted(map(list, groups)) == [[2, 31], [5, 6]]
    result = audit.audit_dataset(ds)
    assert result["exact duplicate groups"] == 2 and result["groups with conflicting labels"] == 1
    assert result["groups across splits"] == 1 and result["test images with an exact train duplicate"] == 1
    assert result["blank images"] == 1
    assert set(result["leaking test indices"]) == {31, 33}   # the exact copy and the brightness-shifted one
    assert result["conflicting indices"] == [5, 6]
    table = audit.audit_table([result])
    assert list(table["dataset"]) == ["planted"] and "leaking test indices" not in table.columns


def test_near_pairs_respect_the_threshold_within_and_across_sets():
    hashes = np.array([0b0, 0b1111, 0b11111, 2**64 - 1], dtype=np.uint64)
    within = audit.near_pairs(hashes, threshold=4)
    assert [tuple(r) for r in within] == [(0, 1, 4), (1, 2, 1)]
    across = audit.near_pairs(hashes[:1], hashes[1:], threshold=4)
    assert [tuple(r) for r in across] == [(0, 0, 4)]


def test_label_noise_against_hand_made_majorities():
    fer = FERDataset(name="fer2013", images=_faces(4), labels=np.array([2, 2, 3, 3]),
                     split=np.array(["Training", "Training", "PrivateTest", "PrivateTest"]), class_names=CLASSES,
                     sha256="0" * 64, source="t", extras={"csv_row_verified": np.ones(4, bool)})
    plus = FERDataset(name="ferplus", images=fer.images[[0, 1, 2]], labels=np.array([2, 5, 3]),
                      split=fer.split[[0, 1, 2]], class_names=CLASSES + ("Contempt",), sha256="0" * 64, source="t",
                      extras={"fer2013_row": np.array([0, 1, 2])})
    noise = audit.label_noise_table(fer, plus).set_index(["split", "FER2013 class"])
    assert noise.loc[("train", "Fear"), "FERPlus agrees %"] == 50.0
    assert noise.loc[("train", "Fear"), "FERPlus other majority %"] == 50.0
    assert noise.loc[("test", "Happy"), "no usable majority %"] == 50.0
    agreement = audit.label_agreement(fer, plus)
    assert agreement.loc["Fear", "Fear"] == 1 and agreement.loc["Fear", "Surprise"] == 1


def test_data_verify_prints_a_digest_per_split(capsys):
    assert main(["data", "verify", "synthetic"]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(out.columns) == ["split", "images", "sha256"] and out["sha256"].str.len().eq(64).all()
    assert set(out["split"]) == {"train", "val", "test"}


def test_accuracy_on_cleaned_test_sets_from_recorded_predictions(tmp_path):
    run = tmp_path / "exp" / "run1"
    run.mkdir(parents=True)
    pd.DataFrame({"index": [30, 31, 32, 33], "label": [0, 1, 2, 3], "pred": [0, 1, 0, 0]}).to_csv(
        run / "predictions_test.csv", index=False)
    ds = _planted()
    subsets = audit.test_subsets(ds, audit.audit_dataset(ds))
    table = audit.accuracy_on_subsets([run], subsets).iloc[0]
    assert table["test (official) %"] == 50.0 and table["n"] == 4
    # leaving out 31 (exact copy of a train image) and 33 (near copy) leaves 30 right, 32 wrong
    assert table["without train (near-)duplicates %"] == 50.0 and table["without train (near-)duplicates n"] == 2
    assert table["run"] == "exp/run1"


def test_cross_dataset_pairs_reuse_the_audit_hashes():
    ds = _planted()
    other = FERDataset(name="other", images=ds.images[[2, 7]], labels=ds.labels[[2, 7]],
                       split=np.array(["train", "train"]), class_names=CLASSES, sha256="0" * 64, source="t")
    fresh = audit.cross_dataset_table([ds, other])
    reused = audit.cross_dataset_table([ds, other], audits=[audit.audit_dataset(ds), audit.audit_dataset(other)])
    pd.testing.assert_frame_equal(fresh, reused)
    assert fresh.iloc[0]["images of A with a twin in B"] >= 2   # images 2 (and its copy 31) and 7
