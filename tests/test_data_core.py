"""Canonical labels, FERDataset, prepared npz files, the registry and its missing-dataset errors."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lib.data import (CANONICAL_CLASSES, FERDataset, canonical_name, file_sha256, list_datasets, load_dataset,
                          read_prepared, write_npz)
from fer_lib.data.core import to_canonical
from fer_lib.data.prepared import npz_bytes


def test_synonyms_map_every_release_spelling_to_canonical():
    assert canonical_name("anger") == canonical_name("Angry") == canonical_name("AN") == "Angry"
    assert canonical_name("happiness") == canonical_name("HA") == "Happy"
    assert canonical_name("sadness") == "Sad" and canonical_name("surprised") == "Surprise"
    assert canonical_name("NE") == "Neutral" and canonical_name("contempt") == "Contempt"
    assert canonical_name("bored") is None


def test_to_canonical_reorders_raf_labels():
    raf = ("Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral")
    labels, names = to_canonical(np.arange(7), raf)
    assert names == CANONICAL_CLASSES[:7]
    assert [names[i] for i in labels] == ["Surprise", "Fear", "Disgust", "Happy", "Sad", "Angry", "Neutral"]
    with pytest.raises(ValueError, match="label 7.*outside"):
        to_canonical(np.array([7]), raf, where="x.npz")


def _tiny(n=6) -> FERDataset:
    return FERDataset(name="t", images=np.zeros((n, 4, 4), np.uint8), labels=np.arange(n) % 3,
                      split=np.array(["train", "test"] * (n // 2)), class_names=("Angry", "Fear", "Happy"),
                      sha256="0" * 64, source="mem", extras={"subject": np.arange(n)})


def test_dataset_subset_counts_and_validation():
    ds = _tiny()
    sub = ds.subset([0, 2, 4])
    assert len(sub) == 3 and list(sub.extras["subject"]) == [0, 2, 4] and sub.sha256 == ds.sha256
    counts = ds.counts()
    assert list(counts.columns) == ["split", "class", "count"]
    assert counts["count"].sum() == 6 and set(counts["split"]) == {"train", "test"}
    assert len(counts) == 2 * 3   # every split x every class, zeros included
    with pytest.raises(ValueError, match="canonical order"):
        FERDataset("t", np.zeros((1, 2, 2), np.uint8), np.array([0]), np.array(["a"]), ("Happy", "Angry"), "", "")
    with pytest.raises(ValueError, match="labels must lie"):
        FERDataset("t", np.zeros((1, 2, 2), np.uint8), np.array([3]), np.array(["a"]), ("Angry",), "", "")


def test_prepared_npz_is_deterministic_and_hashed(tmp_path):
    arrays = {"images": np.arange(32, dtype=np.uint8).reshape(2, 4, 4), "labels": np.array([0, 1]),
              "split": np.array(["train", "test"]), "class_names": np.array(["happy", "anger"]),
              "subject": np.array(["S1", "S2"])}
    assert npz_bytes(arrays) == npz_bytes(arrays)
    sha = write_npz(tmp_path / "a.npz", arrays)
    assert sha == file_sha256(tmp_path / "a.npz")
    ds = read_prepared(tmp_path / "a.npz", "x")
    assert ds.class_names == ("Angry", "Happy") and list(ds.labels) == [1, 0]   # remapped to canonical
    assert ds.sha256 == sha and list(ds.extras["subject"]) == ["S1", "S2"]
    np.testing.assert_array_equal(np.load(tmp_path / "a.npz")["images"], arrays["images"])


def test_registry_lists_every_dataset_and_rejects_unknown_names():
    assert {"synthetic", "fer2013", "ferplus", "rafdb", "affectnet", "jaffe", "ckplus", "fane",
            "fer2013_affectnet"} <= set(list_datasets())
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*registered"):
        load_dataset("nope")
    with pytest.raises(ValueError, match="no option"):
        load_dataset("synthetic", colour=True)


@pytest.mark.parametrize("name, expected", [
    ("fer2013", ["fer2013/fer2013.csv", "fer2013.npz", "kaggle.com"]),
    ("ferplus", ["fer2013new.csv", "github.com/microsoft/FERPlus"]),
    ("rafdb", ["EmoLabel/list_patition_label.txt", "Image/aligned", "whdeng.cn/RAF/model1.html"]),
    ("affectnet", ["affectnet/<split>/<class>", "mohammadmahoor.com/affectnet"]),
    ("jaffe", ["KA.AN1.39.tiff", "zenodo.org/record/3451524"]),
    ("ckplus", ["CK+48", "jeffcohn.net/Resources"]),
    ("fane", ["fane/"]),
])
def test_missing_dataset_error_says_what_to_download_and_where(tmp_path, name, expected):
    with pytest.raises(FileNotFoundError) as info:
        load_dataset(name, tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "FER_DATA_DIR" in message
    for text in expected:
        assert text in message


def test_combined_error_names_the_missing_part(tmp_path):
    with pytest.raises(FileNotFoundError, match="FER2013 and AffectNet, but fer2013 and affectnet are missing"):
        load_dataset("fer2013_affectnet", tmp_path)
