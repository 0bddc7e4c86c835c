"""Bad data inputs through the real CLI (`python -m fer_lib data describe`): each gives a clear error (exit 2,
file and line, what to do) or the right behaviour (BOM / CRLF accepted, a stale or damaged cache rebuilt)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import random_images, write_class_folders, write_fer2013_csv

from fer_lib.cli import main
from fer_lib.data import load_dataset, write_npz
from fer_lib.data.ferplus import VOTE_NAMES

USAGES = ["Training"] * 5 + ["PublicTest"] * 2 + ["PrivateTest"] * 2


def _describe(capsys, name: str, data_dir: Path) -> tuple[int, str, str]:
    rc = main(["data", "describe", name, "--data-dir", str(data_dir)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _fer_csv(tmp_path: Path, n: int = 9) -> Path:
    return write_fer2013_csv(tmp_path / "fer2013" / "fer2013.csv", random_images(n), np.arange(n) % 7, USAGES[:n])


def _break_pixel(path: Path, line: int, token: str) -> None:
    lines = path.read_text().splitlines()
    label, pixels, usage = lines[line - 1].split(",")
    values = pixels.split()
    values[4] = token
    lines[line - 1] = f"{label},{' '.join(values)},{usage}"
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("token", ["abc", "12.5", "256", "-1"])
def test_non_numeric_pixel_names_file_line_and_pixel(tmp_path, capsys, token):
    path = _fer_csv(tmp_path)
    _break_pixel(path, 3, token)
    rc, _, err = _describe(capsys, "fer2013", tmp_path)
    assert rc == 2 and "Traceback" not in err
    assert f"fer2013.csv, line 3: pixel 5 is '{token}', not an integer 0..255" in err and "re-download" in err


def test_fer2013_csv_with_bom_and_crlf_is_accepted(tmp_path, capsys):
    path = _fer_csv(tmp_path)
    plain = load_dataset("fer2013", tmp_path)
    text = path.read_text()
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    rc, out, err = _describe(capsys, "fer2013", tmp_path)
    assert rc == 0, err
    again = load_dataset("fer2013", tmp_path)
    np.testing.assert_array_equal(again.images, plain.images)
    np.testing.assert_array_equal(again.labels, plain.labels)
    assert "Training,Angry,1" in out


def test_fer2013new_csv_with_bom_is_accepted(tmp_path, capsys):
    _fer_csv(tmp_path)
    lines = [",".join(["Usage", "Image name", *VOTE_NAMES])]
    lines += [f"{u},fer{i:07d}.png,9,1,0,0,0,0,0,0,0,0" for i, u in enumerate(USAGES)]
    (tmp_path / "fer2013new.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    rc, out, err = _describe(capsys, "ferplus", tmp_path)
    assert rc == 0, err
    assert "Training,Neutral,5" in out


def _cache(tmp_path: Path) -> Path:
    return Path(os.environ["FER_CACHE_DIR"]) / "fer2013.npz"


def _corrupt(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "bit-flipped":
        data[len(data) // 2] ^= 0x40
        path.write_bytes(bytes(data))
    else:  # a valid archive with other labels: only the recorded sha256 tells
        with np.load(path) as archive:
            arrays = {k: archive[k] for k in archive.files}
        arrays["labels"] = (arrays["labels"] + 1) % 7
        write_npz(path, arrays)


@pytest.mark.parametrize("how", ["truncated", "bit-flipped", "replaced"])
def test_damaged_or_replaced_cache_is_rebuilt_from_the_public_files(tmp_path, capsys, how):
    _fer_csv(tmp_path)
    good = load_dataset("fer2013", tmp_path)
    cache = _cache(tmp_path)
    _corrupt(cache, how)
    rc, _, err = _describe(capsys, "fer2013", tmp_path)
    assert rc == 0 and "rebuilding the prepared cache" in err, err
    again = load_dataset("fer2013", tmp_path)
    assert again.sha256 == good.sha256
    np.testing.assert_array_equal(again.labels, good.labels)


def test_image_overwritten_in_place_invalidates_the_folder_cache(tmp_path):
    files = write_class_folders(tmp_path / "ckplus" / "CK+48", ["anger", "happy"], per_class=2,
                                names=lambda c, i: f"S01{i}_001_0000000{i}.png")
    first = load_dataset("ckplus", tmp_path)
    target = files["happy"][0]
    stat = target.stat()
    from PIL import Image

    Image.fromarray(np.full((48, 48), 7, np.uint8)).save(target)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # the folder's own mtime is unchanged
    second = load_dataset("ckplus", tmp_path)
    assert second.sha256 != first.sha256
    row = list(second.extras["filenames"]).index(str(target.relative_to(tmp_path / "ckplus" / "CK+48")))
    assert (second.images[row] == 7).all()


def _prepared(tmp_path: Path, **replace) -> Path:
    arrays = {"images": random_images(4), "labels": np.array([0, 1, 2, 3]),
              "split": np.array(["Training"] * 2 + ["PublicTest"] * 2), "class_names": np.array(
                  ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"])}
    arrays.update(replace)
    path = tmp_path / "fer2013.npz"
    write_npz(path, arrays)
    return path


@pytest.mark.parametrize("replace, message", [
    ({"labels": np.array([0.0, 1.5, 2.0, 3.0])}, "'labels' must be a 1-D integer array of class indices, got float64"),
    ({"images": np.zeros((4, 48, 48), np.float32)}, "'images' must be uint8 (N,H,W) or (N,H,W,3), got float32"),
    ({"images": np.zeros((3, 48, 48), np.uint8)}, "3 images but 4 labels"),
    ({"images": np.zeros((4, 48, 48, 2), np.uint8)}, "'images' must be uint8 (N,H,W) or (N,H,W,3)"),
    ({"split": np.array(["Training"])}, "'split' has shape (1,), 'labels' (4,)"),
])
def test_bad_prepared_archive_names_the_file_and_the_fix(tmp_path, capsys, replace, message):
    path = _prepared(tmp_path, **replace)
    rc, _, err = _describe(capsys, "fer2013", tmp_path)
    assert rc == 2 and "Traceback" not in err
    assert str(path) in err and message in err and "delete or replace it" in err, err


@pytest.mark.parametrize("content, kind", [(b"emotion,pixels,Usage\n0,1 2 3,Training\n", "text"), (b"", "empty"),
                                           (b"\x00\x01\x02\xff" * 8, "not a zip archive")])
def test_a_file_named_npz_that_is_not_one(tmp_path, capsys, content, kind):
    (tmp_path / "fer2013.npz").write_bytes(content)
    rc, _, err = _describe(capsys, "fer2013", tmp_path)
    assert rc == 2 and f"fer2013.npz is not an .npz archive ({kind})" in err and "pickled" not in err, err


def test_truncated_prepared_archive_in_the_data_dir(tmp_path, capsys):
    path = _prepared(tmp_path)
    path.write_bytes(path.read_bytes()[:-40])
    rc, _, err = _describe(capsys, "fer2013", tmp_path)
    assert rc == 2 and "fer2013.npz is truncated or corrupt" in err and "Traceback" not in err, err


def test_cache_meta_records_the_sha256_that_is_checked(tmp_path):
    _fer_csv(tmp_path)
    ds = load_dataset("fer2013", tmp_path)
    meta = json.loads(_cache(tmp_path).with_suffix(".json").read_text())
    assert meta["sha256"] == ds.sha256 and set(meta) == {"dataset", "sha256", "signature"}
