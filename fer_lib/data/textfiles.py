"""Reading the public releases' text files (fer2013.csv, fer2013new.csv, RAF-DB's label list) robustly.

A UTF-8 byte-order mark and CRLF line ends are accepted; undecodable bytes, NUL bytes and the csv
module's own errors become a ValueError naming the file and line, with `fix` (what to do).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path


def csv_rows(path: Path, fix: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for every row of a CSV file, the header first (line 1)."""
    line = 1
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for row in reader:
                yield reader.line_num, row
                line = reader.line_num + 1
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}, near line {line}: not UTF-8 text (byte {err.object[err.start:err.start + 1]!r}); "
                         f"{fix}") from None
    except csv.Error as err:
        raise ValueError(f"{path}, line {line}: unreadable CSV ({err}); {fix}") from None


def data_rows(path: Path, rows: Iterator[tuple[int, list[str]]], header: list[str],
              fix: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank rows after a CSV's header, each with exactly the header's field count (else a ValueError
    naming the file, the line and the fields expected)."""
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ValueError(f"{path}, line {line}: malformed row with {len(row)} field(s), expected "
                             f"{len(header)} ({','.join(header)}); the file is corrupt or truncated: {fix}")
        yield line, row


def text_lines(path: Path, fix: str) -> Iterator[tuple[int, str]]:
    """(line number, text) for every line of a UTF-8 text file (BOM and CRLF accepted)."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = err.object[:err.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}: not UTF-8 text (byte {err.object[err.start:err.start + 1]!r}); "
                         f"{fix}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if "\x00" in line:
            raise ValueError(f"{path}, line {number}: contains a NUL byte; {fix}")
        yield number, line


def is_ascii_int(text: str) -> bool:
    """'12' yes; '', '-1', '1.5', '１２' (full-width), '²' no."""
    return text.isascii() and text.isdigit()
