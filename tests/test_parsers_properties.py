"""Property-based tests of the public-format parsers (fer2013.csv, fer2013new.csv, RAF-DB's label list):
valid files round-trip; a file with any malformed line gives a ValueError naming the file and line, never a
traceback of another kind."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_lib.data.fer2013 import FER2013_CLASSES, USAGES, parse_fer2013_csv
from fer_lib.data.ferplus import VOTE_NAMES, parse_fer2013new_csv
from fer_lib.data.rafdb import RAF_CLASSES, parse_label_file

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Any text a broken file may hold: every character but surrogates (which no UTF-8 file can hold).
LINE = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
ENDINGS = st.sampled_from(["\n", "\r\n"])


def _write(text: str, name: str, bom: bool = False) -> Path:
    folder = Path(tempfile.mkdtemp())
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _fails_cleanly(parse, path: Path) -> None:
    try:
        parse(path)
    except ValueError as err:
        assert str(path) in str(err), err
    # a line that happens to be valid (or blank) parses: also fine


fer_rows = st.lists(st.tuples(st.integers(0, 6), st.sampled_from(USAGES), st.integers(0, 2**32 - 1)),
                    min_size=1, max_size=4)


def _fer_text(rows, ending: str) -> tuple[str, list[np.ndarray]]:
    images = [np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8) for _, _, seed in rows]
    lines = ["emotion,pixels,Usage"]
    lines += [f"{label},{' '.join(map(str, img.reshape(-1)))},{usage}" for (label, usage, _), img in zip(rows, images)]
    return ending.join(lines) + ending, images


@SETTINGS
@given(rows=fer_rows, ending=ENDINGS, bom=st.booleans())
def test_fer2013_csv_round_trips(rows, ending, bom):
    text, images = _fer_text(rows, ending)
    parsed = parse_fer2013_csv(_write(text, "fer2013.csv", bom))
    np.testing.assert_array_equal(parsed.images, np.stack(images))
    assert parsed.labels.tolist() == [r[0] for r in rows] and parsed.split.tolist() == [r[1] for r in rows]
    assert parsed.class_names == FER2013_CLASSES


@SETTINGS
@given(rows=fer_rows, bad=LINE, where=st.integers(0, 10), cell=st.sampled_from(["line", "emotion", "pixel", "usage"]))
def test_fer2013_csv_malformed_lines_are_clear_errors(rows, bad, where, cell):
    text, _ = _fer_text(rows, "\n")
    lines = text.splitlines()
    k = 1 + where % len(rows)
    label, pixels, usage = lines[k].split(",")
    if cell == "line":
        lines[k] = bad
    elif cell == "emotion":
        lines[k] = f"{bad},{pixels},{usage}"
    elif cell == "pixel":
        values = pixels.split()
        values[where % len(values)] = bad
        lines[k] = f"{label},{' '.join(values)},{usage}"
    else:
        lines[k] = f"{label},{pixels},{bad}"
    _fails_cleanly(parse_fer2013_csv, _write("\n".join(lines) + "\n", "fer2013.csv"))


vote_rows = st.lists(st.tuples(st.sampled_from(USAGES), st.text("abcfer0123456789.", max_size=12),
                               st.lists(st.integers(0, 10), min_size=10, max_size=10)), min_size=1, max_size=5)


@SETTINGS
@given(rows=vote_rows, ending=ENDINGS, bom=st.booleans())
def test_fer2013new_csv_round_trips(rows, ending, bom):
    lines = [",".join(["Usage", "Image name", *VOTE_NAMES])]
    lines += [f"{u},{name}," + ",".join(map(str, votes)) for u, name, votes in rows]
    parsed = parse_fer2013new_csv(_write(ending.join(lines) + ending, "fer2013new.csv", bom))
    assert parsed["votes"].tolist() == [v for _, _, v in rows]
    assert parsed["split"].tolist() == [u for u, _, _ in rows]
    assert parsed["image_name"].tolist() == [n for _, n, _ in rows]


@SETTINGS
@given(rows=vote_rows, bad=LINE, where=st.integers(0, 20))
def test_fer2013new_csv_malformed_lines_are_clear_errors(rows, bad, where):
    lines = [",".join(["Usage", "Image name", *VOTE_NAMES])]
    lines += [f"{u},{name}," + ",".join(map(str, votes)) for u, name, votes in rows]
    k = 1 + where % len(rows)
    cells = lines[k].split(",")
    cells[where % len(cells)] = bad
    lines[k] = ",".join(cells)
    _fails_cleanly(parse_fer2013new_csv, _write("\n".join(lines) + "\n", "fer2013new.csv"))


raf_rows = st.lists(st.tuples(st.sampled_from(["train", "test"]), st.integers(1, 99999), st.integers(1, 7)),
                    min_size=1, max_size=6)


@SETTINGS
@given(rows=raf_rows, ending=ENDINGS, bom=st.booleans())
def test_raf_label_file_round_trips(rows, ending, bom):
    text = ending.join(f"{split}_{i:05d}.jpg {label}" for split, i, label in rows) + ending
    parsed = parse_label_file(_write(text, "list_patition_label.txt", bom))
    assert parsed == [(split, f"{split}_{i:05d}.jpg", label - 1) for split, i, label in rows]
    assert all(0 <= label < len(RAF_CLASSES) for _, _, label in parsed)


@SETTINGS
@given(rows=raf_rows, bad=LINE, where=st.integers(0, 10))
def test_raf_label_file_malformed_lines_are_clear_errors(rows, bad, where):
    lines = [f"{split}_{i:05d}.jpg {label}" for split, i, label in rows]
    lines[where % len(lines)] = bad
    _fails_cleanly(parse_label_file, _write("\n".join(lines) + "\n", "list_patition_label.txt"))


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_another_error(raw):
    for parse, name in ((parse_fer2013_csv, "fer2013.csv"), (parse_fer2013new_csv, "fer2013new.csv"),
                        (parse_label_file, "list_patition_label.txt")):
        folder = Path(tempfile.mkdtemp())
        path = folder / name
        path.write_bytes(raw)
        _fails_cleanly(parse, path)


def test_huge_numbers_are_clear_errors_not_overflows():
    """Found by the properties above: a 19-digit vote count overflowed int64."""
    lines = [",".join(["Usage", "Image name", *VOTE_NAMES]), "Training,fer0.png,9223372036854775808" + ",0" * 9]
    _fails_cleanly(parse_fer2013new_csv, _write("\n".join(lines) + "\n", "fer2013new.csv"))
    pixels = " ".join(["1"] * 2303 + ["9" * 30])
    path = _write(f"emotion,pixels,Usage\n0,{pixels},Training\n", "fer2013.csv")
    try:
        parse_fer2013_csv(path)
    except ValueError as err:
        assert "pixel 2304 is" in str(err)
    else:
        raise AssertionError("a 30-digit pixel was accepted")
