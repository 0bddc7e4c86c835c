"""Each public-format loader on tiny fixtures written by the test itself, and its bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
from data_fixtures import FER_CLASS_FOLDERS, random_images, write_class_folders, write_fer2013_csv, write_png

from fer_lib.data import load_dataset
from fer_lib.data import fer2013 as fer_module
from fer_lib.data.ferplus import VOTE_NAMES, majority_labels

USAGES = ["Training"] * 5 + ["PublicTest"] * 2 + ["PrivateTest"] * 2


# ---------------------------------------------------------------- FER2013 CSV
def _fer_csv(tmp_path, n=9):
    images = random_images(n)
    labels = np.arange(n) % 7
    path = write_fer2013_csv(tmp_path / "fer2013" / "fer2013.csv", images, labels, USAGES[:n])
    return path, images, labels


def test_fer2013_csv_loads_and_is_cached(tmp_path, monkeypatch):
    path, images, labels = _fer_csv(tmp_path)
    ds = load_dataset("fer2013", tmp_path)
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)     # FER2013 order is the canonical order
    assert list(ds.split) == USAGES and ds.class_names[0] == "Angry" and len(ds.class_names) == 7
    assert ds.extras["csv_row_verified"].all() and "prepared from" in ds.source
    # second load reads the cache (parsing is not called) and gives the same sha256
    monkeypatch.setattr(fer_module, "parse_fer2013_csv", lambda p: pytest.fail("re-parsed despite the cache"))
    assert load_dataset("fer2013", tmp_path).sha256 == ds.sha256
    monkeypatch.undo()
    # a changed CSV is re-parsed
    write_fer2013_csv(path, images[:7], labels[:7], USAGES[:7])
    assert len(load_dataset("fer2013", tmp_path)) == 7


def _bad_csv(tmp_path, body: str):
    path = tmp_path / "fer2013.csv"
    path.write_text(body)
    return path


def test_fer2013_csv_errors_name_file_line_and_fix(tmp_path):
    good = " ".join(["7"] * 2304)
    _bad_csv(tmp_path, f"emotion,pixels,Usage\n0,{good},Training\n0,{good},Training,extra\n")
    with pytest.raises(ValueError, match=r"fer2013\.csv, line 3: malformed row with 4 field.*re-download"):
        load_dataset("fer2013", tmp_path)
    _bad_csv(tmp_path, f"emotion,pixels,Usage\n0,{good[:-2]},Training\n")
    with pytest.raises(ValueError, match=r"line 2: wrong pixel count: found 2303 values, expected 2304"):
        load_dataset("fer2013", tmp_path)
    _bad_csv(tmp_path, f"emotion,pixels,Usage\n0,{good},Training\n9,{good},Training\n")
    with pytest.raises(ValueError, match=r"fer2013\.csv, line 3: unknown label '9'.*0\.\.6"):
        load_dataset("fer2013", tmp_path)
    _bad_csv(tmp_path, f"emotion,pixels\n0,{good}\n")
    with pytest.raises(ValueError, match=r"line 1: header .* lacks column\(s\) \['Usage'\]"):
        load_dataset("fer2013", tmp_path)
    _bad_csv(tmp_path, f"emotion,pixels,Usage\n0,{good},Validation\n")
    with pytest.raises(ValueError, match=r"line 2: unknown Usage 'Validation'"):
        load_dataset("fer2013", tmp_path)


def test_fer2013_image_folder_release(tmp_path):
    root = tmp_path / "fer2013"
    for i, cls in enumerate(FER_CLASS_FOLDERS):
        write_png(root / "train" / cls / f"Training_{100 + i}.png", random_images(1, seed=i)[0])
        write_png(root / "test" / cls / f"PublicTest_{200 + i}.png", random_images(1, seed=10 + i)[0])
        write_png(root / "test" / cls / f"PrivateTest_{300 + i}.png", random_images(1, size=96, seed=20 + i)[0])
    ds = load_dataset("fer2013", tmp_path)
    assert len(ds) == 21 and ds.images.shape[1:] == (48, 48)     # the 96 px images are resized
    assert ds.split_names == ["Training", "PublicTest", "PrivateTest"]
    assert (ds.counts()["count"] == 1).all()
    assert not ds.extras["csv_row_verified"].any()
    row = list(ds.extras["source_path"]).index("train/happy/Training_103.png")
    assert ds.class_names[ds.labels[row]] == "Happy"
    np.testing.assert_array_equal(ds.images[row], random_images(1, seed=3)[0])
    # FERPlus cannot pair votes with folder images (no CSV row order)
    rows = [f"{u},fer{i:07d}.png,10,0,0,0,0,0,0,0,0,0" for i, u in enumerate(ds.split)]
    (tmp_path / "fer2013new.csv").write_text("\n".join([",".join(["Usage", "Image name", *VOTE_NAMES]), *rows]))
    with pytest.raises(ValueError, match="FERPlus needs FER2013 in the original fer2013.csv row order"):
        load_dataset("ferplus", tmp_path)


def test_empty_class_folder_is_an_error(tmp_path):
    root = tmp_path / "fer2013"
    write_png(root / "train" / "happy" / "Training_1.png", random_images(1)[0])
    (root / "train" / "sad").mkdir(parents=True)
    (root / "test").mkdir()
    with pytest.raises(ValueError, match=r"empty class: folder .*train/sad holds no images"):
        load_dataset("fer2013", tmp_path)


# ---------------------------------------------------------------- FERPlus
def test_ferplus_majority_scheme_on_hand_made_votes():
    rows = {  # votes in the order neutral happiness surprise sadness anger disgust fear contempt unknown NF
        "happy, single votes dropped": ([0, 8, 1, 1, 0, 0, 0, 0, 0, 0], 1),
        "no strict majority (4 of 10)": ([4, 3, 3, 0, 0, 0, 0, 0, 0, 0], -1),
        "tie after outlier removal": ([2, 2, 1, 1, 1, 1, 1, 1, 0, 0], -1),
        "neutral 6 of 10 beats unknown": ([6, 0, 0, 0, 0, 0, 0, 0, 4, 0], 0),
        "unknown wins": ([0, 0, 0, 0, 0, 0, 0, 0, 6, 4], -1),
        "not a face": ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], -1),
        "all single votes": ([1] * 10, -1),
        "3 of 5 remaining": ([3, 0, 0, 0, 0, 0, 0, 2, 0, 0], 0),
        "contempt": ([0, 0, 0, 0, 0, 0, 0, 7, 3, 0], 7),
        "exact half is not a majority": ([5, 5, 0, 0, 0, 0, 0, 0, 0, 0], -1),
        "only two votes, both neutral": ([2, 1, 1, 1, 1, 1, 1, 1, 1, 0], 0),
    }
    got = majority_labels(np.array([v for v, _ in rows.values()]))
    assert dict(zip(rows, got.tolist())) == {k: e for k, (_, e) in rows.items()}


def test_ferplus_public_csv_joined_to_fer2013_rows(tmp_path):
    _path, images, _labels = _fer_csv(tmp_path)
    votes = [[0, 9, 1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 8, 2, 0, 0, 0, 0], [4, 3, 3, 0, 0, 0, 0, 0, 0, 0],
             [0, 0, 0, 0, 0, 0, 0, 6, 4, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 10], [7, 3, 0, 0, 0, 0, 0, 0, 0, 0],
             [0, 0, 10, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 9, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 10, 0, 0, 0]]
    lines = [",".join(["Usage", "Image name", *VOTE_NAMES])]
    lines += [f"{u},fer{i:07d}.png," + ",".join(map(str, v)) for i, (u, v) in enumerate(zip(USAGES, votes))]
    (tmp_path / "fer2013new.csv").write_text("\n".join(lines) + "\n")
    ds = load_dataset("ferplus", tmp_path)
    assert ds.class_names == ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral", "Contempt")
    assert list(ds.extras["fer2013_row"]) == [0, 1, 3, 5, 6, 7, 8]
    assert [ds.class_names[i] for i in ds.labels] == ["Happy", "Angry", "Contempt", "Neutral", "Surprise", "Sad",
                                                      "Fear"]
    np.testing.assert_array_equal(ds.images, images[ds.extras["fer2013_row"]])
    seven = load_dataset("ferplus", tmp_path, classes=7)
    assert "Contempt" not in seven.class_names and len(seven) == 6 and seven.sha256 != ds.sha256
    with pytest.raises(ValueError, match="classes must be 8"):
        load_dataset("ferplus", tmp_path, classes=6)
    lines[2] = lines[2].replace(",8,2,", ",x,2,")
    (tmp_path / "fer2013new.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"fer2013new\.csv, line 3: vote counts must be non-negative integers"):
        load_dataset("ferplus", tmp_path)


# ---------------------------------------------------------------- RAF-DB
def _raf(tmp_path, lines):
    root = tmp_path / "rafdb"
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return root


def test_rafdb_public_layout(tmp_path):
    lines = ["test_0001.jpg 7", "train_00002.jpg 1", "train_00001.jpg 4"]
    root = _raf(tmp_path, lines)
    imgs = random_images(3, size=100, rgb=True)
    for line, img in zip(lines, imgs):
        write_png(root / "Image" / "aligned" / line.split()[0].replace(".jpg", "_aligned.jpg"), img)
    ds = load_dataset("rafdb", tmp_path)
    assert list(ds.extras["filenames"]) == ["train_00001_aligned.jpg", "train_00002_aligned.jpg",
                                            "test_0001_aligned.jpg"]
    assert list(ds.split) == ["train", "train", "test"] and ds.images.shape == (3, 100, 100, 3)
    assert [ds.class_names[i] for i in ds.labels] == ["Happy", "Surprise", "Neutral"]   # RAF 4, 1, 7


def test_rafdb_errors(tmp_path):
    root = _raf(tmp_path, ["train_00001.jpg 8"])
    (root / "Image" / "aligned").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"list_patition_label\.txt, line 1: unknown label '8'.*1\.\.7"):
        load_dataset("rafdb", tmp_path)
    root = _raf(tmp_path / "b", ["train_00001.jpg 3"])
    (root / "Image" / "aligned").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"1 image\(s\) listed .* missing .*train_00001_aligned\.jpg"):
        load_dataset("rafdb", tmp_path / "b")


# ---------------------------------------------------------------- class folders: AffectNet, FANE, CK+
def test_affectnet_split_folders_rgb_resized(tmp_path):
    classes = ["anger", "Contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    write_class_folders(tmp_path / "affectnet" / "train", classes, per_class=2, size=64, rgb=True)
    write_class_folders(tmp_path / "affectnet" / "val", classes, per_class=1, size=64, rgb=True, seed=50)
    ds = load_dataset("affectnet", tmp_path)
    assert ds.images.shape == (24, 96, 96, 3) and ds.split_names == ["train", "val"]
    assert ds.class_names == ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral", "Contempt")
    assert load_dataset("affectnet", tmp_path, size=48).images.shape[1:] == (48, 48, 3)


def test_fane_flat_folders_and_unknown_class(tmp_path):
    write_class_folders(tmp_path / "fane", ["happy", "sad"], per_class=3, size=40, rgb=True)
    ds = load_dataset("fane", tmp_path)
    assert ds.split_names == ["all"] and ds.images.shape == (6, 40, 40, 3) and ds.class_names == ("Happy", "Sad")
    write_class_folders(tmp_path / "fane", ["bored"], per_class=1)
    with pytest.raises(ValueError, match=r"unknown expression class 'bored' in folder .*fane/bored"):
        load_dataset("fane", tmp_path)


def test_ckplus_subjects_from_file_names(tmp_path):
    classes = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
    write_class_folders(tmp_path / "ckplus" / "CK+48", classes, per_class=2,
                        names=lambda c, i: f"S{10 + i:03d}_004_{i:08d}.png")
    ds = load_dataset("ckplus", tmp_path)
    assert ds.class_names == ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Contempt")
    assert sorted(set(ds.extras["subject"])) == ["S010", "S011"] and ds.images.shape[1:] == (48, 48)
    write_png(tmp_path / "ckplus" / "CK+48" / "happy" / "face.png", random_images(1)[0])
    with pytest.raises(ValueError, match=r"cannot read the subject from file name .*face\.png.*S010_004"):
        load_dataset("ckplus", tmp_path)


# ---------------------------------------------------------------- JAFFE
def test_jaffe_tiffs(tmp_path):
    codes = ["AN", "DI", "FE", "HA", "NE", "SA", "SU"]
    imgs = random_images(7, size=64)
    for i, (code, img) in enumerate(zip(codes, imgs)):
        write_png(tmp_path / "jaffe" / f"{'KA' if i < 4 else 'YM'}.{code}1.{40 + i}.tiff", img)
    ds = load_dataset("jaffe", tmp_path)
    assert len(ds) == 7 and ds.num_classes == 7 and ds.images.shape[1:] == (64, 64)
    happy = list(ds.extras["filenames"]).index("KA.HA1.43.tiff")
    assert ds.class_names[ds.labels[happy]] == "Happy" and ds.extras["subject"][happy] == "KA"
    np.testing.assert_array_equal(ds.images[happy], imgs[3])
    write_png(tmp_path / "jaffe" / "KA.XX1.50.tiff", imgs[0])
    with pytest.raises(ValueError, match=r"unknown label 'XX' in JAFFE file name .*KA\.XX1\.50\.tiff"):
        load_dataset("jaffe", tmp_path)


# ---------------------------------------------------------------- P1 combined
def test_fer2013_affectnet_pools_subsamples_and_splits(tmp_path):
    n = 28
    write_fer2013_csv(tmp_path / "fer2013.csv", random_images(n), np.arange(n) % 7, ["Training"] * n)
    write_class_folders(tmp_path / "affectnet", ["anger", "disgust", "fear", "happy", "neutral", "sad", "surprise",
                                                 "contempt"], per_class=6, size=96, rgb=True)
    targets = {"Angry": 8, "Disgust": 6, "Fear": 8, "Happy": 8, "Neutral": 8, "Sad": 8, "Surprise": 20}
    with pytest.warns(UserWarning, match=r"Surprise: 10 pooled < target 20"):
        ds = load_dataset("fer2013_affectnet", tmp_path, targets=targets, test_per_class=2, size=64)
    assert ds.images.shape[1:] == (64, 64, 3) and "Contempt" not in ds.class_names
    per_class = dict(zip(ds.class_names, np.bincount(ds.labels)))
    assert per_class == {**targets, "Surprise": 10}
    test = ds.labels[ds.split == "test"]
    assert (np.bincount(test) == 2).all()
    assert set(ds.extras["origin"]) == {"fer2013", "affectnet"}
    with pytest.warns(UserWarning):
        again = load_dataset("fer2013_affectnet", tmp_path, targets=targets, test_per_class=2, size=64)
    assert again.sha256 == ds.sha256 and (again.images == ds.images).all()
