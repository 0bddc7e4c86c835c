"""Prepared `<name>.npz` archives: deterministic writing, reading into FERDataset, sha256, the cache rule.

A prepared archive holds `images` (uint8), `labels` (int64 into `class_names`), `split` (str),
`class_names` and optional per-sample extras. Files written here are byte-for-byte reproducible
(fixed zip timestamps), so the same data always gives the same sha256. Archives from the shared
data directory may instead store `jpeg_bytes` + `jpeg_offsets` (RAF-DB), decoded with Pillow.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from fer_lib.data.core import FERDataset, to_canonical
from fer_lib.data.images import decode_jpeg_rows
from fer_lib.outputs import atomic_write_text
from fer_lib.paths import cache_dir

_SHA_CACHE: dict[tuple[str, int, int], str] = {}
# Beside `<name>.npz`, written when the archive was rebuilt from a checked transfer (fer_lib.campaign.transfer).
TRANSFER_SUFFIX = ".transfer.json"
# Arrays of a prepared archive that are not per-sample extras.
_RESERVED = {"images", "labels", "split", "class_names", "jpeg_bytes", "jpeg_offsets"}


@dataclass
class Prepared:
    """Arrays parsed from a public release, before they are written as a prepared archive."""

    images: np.ndarray
    labels: np.ndarray          # indices into class_names
    split: np.ndarray
    class_names: tuple[str, ...]
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """All arrays to store, with string arrays as fixed-width unicode (no pickles)."""
        out = {"images": np.ascontiguousarray(self.images, dtype=np.uint8),
               "labels": np.asarray(self.labels, dtype=np.int64),
               "split": np.asarray(self.split).astype(str),
               "class_names": np.asarray(self.class_names).astype(str)}
        for key, value in self.extras.items():
            value = np.asarray(value)
            out[key] = value.astype(str) if value.dtype == object else value
        return out


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed .npz (readable by np.load) whose bytes depend only on the arrays."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asarray(arrays[key]), allow_pickle=False)
    return buffer.getvalue()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write arrays as a deterministic compressed npz (atomically); returns its sha256."""
    data = npz_bytes(arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    stat = path.stat()
    _SHA_CACHE[(str(path.resolve()), stat.st_mtime_ns, stat.st_size)] = digest
    return digest


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, memoised per (path, mtime, size) so repeated loads do not re-hash."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        _SHA_CACHE[key] = digest.hexdigest()
    return _SHA_CACHE[key]


def combined_sha256(parts: dict[str, str]) -> str:
    """sha256 identifying data derived from several sources: hash of sorted 'key=value' lines."""
    text = "\n".join(f"{k}={v}" for k, v in sorted(parts.items()))
    return hashlib.sha256(text.encode()).hexdigest()


class CorruptArchiveError(ValueError):
    """A prepared archive that cannot be read (not a zip, truncated, bit-flipped, wrong arrays)."""


@contextmanager
def open_npz(path: Path, fix: str):
    """np.load an .npz, turning every way a damaged file fails into one CorruptArchiveError naming it.

    `fix` says what the user should do (delete it to have it rebuilt, re-download it, ...).
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            head = handle.read(64)
        if head.startswith(b"PK\x03\x04"):  # a zip whose end (the central directory) is missing
            raise CorruptArchiveError(f"{path} is truncated or corrupt (its zip directory is missing); {fix}")
        kind = "empty" if not head else ("text" if _looks_like_text(head) else "not a zip archive")
        raise CorruptArchiveError(f"{path} is not an .npz archive ({kind}); {fix}")
    try:
        with np.load(path, allow_pickle=False) as data:
            yield data
    except CorruptArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as err:
        raise CorruptArchiveError(f"{path} is truncated or corrupt ({type(err).__name__}: {err}); {fix}") from err


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_arrays(path: Path, labels: np.ndarray, split: np.ndarray, images: np.ndarray | None, fix: str) -> None:
    """Types and shapes a prepared archive must have; CorruptArchiveError saying which array is wrong."""
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise CorruptArchiveError(f"{path}: 'labels' must be a 1-D integer array of class indices, got "
                                  f"{labels.dtype} {labels.shape}; {fix}")
    if split.shape != labels.shape:
        raise CorruptArchiveError(f"{path}: 'split' has shape {split.shape}, 'labels' {labels.shape}; they must "
                                  f"match; {fix}")
    if images is None:
        return
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise CorruptArchiveError(f"{path}: 'images' must be uint8 (N,H,W) or (N,H,W,3), got {images.dtype} "
                                  f"{images.shape}; {fix}")
    if len(images) != len(labels):
        raise CorruptArchiveError(f"{path}: {len(images)} images but {len(labels)} labels; {fix}")


def read_prepared(path: Path, name: str, source: str | None = None, fix: str | None = None) -> FERDataset:
    """Read a prepared archive (own class order mapped to canonical) into a FERDataset.

    Any damage (not a zip, truncated, wrong dtype or shape) is a CorruptArchiveError naming the file
    and `fix`, what to do about it.
    """
    fix = fix or ("delete or replace it to use the dataset's public release files instead "
                  "(README, 'Data'), or re-create it as uint8 'images', int 'labels', str 'split', 'class_names'")
    with open_npz(path, fix) as data:
        files = set(data.files)
        missing = {"labels", "split", "class_names"} - files
        if missing or not ({"images"} & files or {"jpeg_bytes", "jpeg_offsets"} <= files):
            raise CorruptArchiveError(f"{path} is not a prepared dataset archive: it lacks "
                                      f"{sorted(missing) or 'images'} (found {sorted(files)}); {fix}")
        raw_labels, split = data["labels"], data["split"].astype(str)
        images = data["images"] if "images" in files else None
        _check_arrays(path, raw_labels, split, images, fix)
        labels, class_names = to_canonical(raw_labels, data["class_names"].tolist(), where=str(path))
        n = len(labels)
        if images is None:
            images = decode_jpeg_rows(data["jpeg_bytes"], data["jpeg_offsets"], mode="RGB")
            _check_arrays(path, raw_labels, split, images, fix)
        extras = {k: data[k] for k in sorted(files - _RESERVED) if data[k].ndim >= 1 and len(data[k]) == n}
    sha256, origin = file_sha256(path), verified_origin(path)
    if origin:
        source = f"{source or path} (rebuilt from a checked transfer of sha256 {origin[:12]}...)"
    return FERDataset(name=name, images=images, labels=labels, split=split, class_names=class_names,
                      sha256=origin or sha256, source=source or str(path), extras=extras)


def verified_origin(path: Path) -> str | None:
    """The original archive's sha256 when `path` was rebuilt from a transfer whose every decoded array was
    checked against the original's (its sidecar names this very file's sha256), else None."""
    note = Path(path).with_name(Path(path).stem + TRANSFER_SUFFIX)
    if not note.exists():
        return None
    try:
        record = json.loads(note.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record.get("original_sha256") if record.get("rebuilt_sha256") == file_sha256(path) else None


def source_signature(paths: list[Path]) -> dict[str, list]:
    """Size and mtime of each public file; for a folder, a digest of every file's path, size and mtime below
    it (an image overwritten in place changes its size or mtime, so the signature changes)."""
    sig: dict[str, list] = {}
    for path in paths:
        if path.is_dir():
            listing = hashlib.sha256()
            count = 0
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    stat = os.stat(os.path.join(root, name))
                    rel = os.path.relpath(os.path.join(root, name), path)
                    listing.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
                    count += 1
            sig[str(path)] = [count, listing.hexdigest()]
        elif path.exists():
            stat = path.stat()
            sig[str(path)] = [stat.st_mtime_ns, stat.st_size]
    return sig


def _cache_is_current(cache: Path, meta_path: Path, signature: dict) -> bool:
    """The cache exists, was built from these very source files, and still has the sha256 recorded when
    it was written (a truncated, bit-flipped or replaced cache does not)."""
    if not (cache.is_file() and meta_path.is_file()):
        return False
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("signature") == signature and meta.get("sha256") == file_sha256(cache)


def ensure_cache(data_dir: Path, cache_name: str, sources: list[Path],
                 build: Callable[[], dict[str, np.ndarray]], dataset: str) -> Path:
    """Path of `<cache_dir>/<cache_name>.npz`, rebuilt with `build()` from the public files unless it is
    current: same source signature (sizes and mtimes of `sources`) and its recorded sha256 (checked on
    every load)."""
    cache = cache_dir(data_dir) / f"{cache_name}.npz"
    meta_path = cache.with_suffix(".json")
    signature = source_signature(sources)
    if _cache_is_current(cache, meta_path, signature):
        return cache
    if cache.exists():
        print(f"[data] rebuilding the prepared cache {cache} from {', '.join(map(str, sources))} "
              f"(it is stale or damaged)", file=sys.stderr)
    arrays = build()
    try:
        digest = write_npz(cache, arrays)
        atomic_write_text(meta_path, json.dumps({"dataset": dataset, "sha256": digest, "signature": signature},
                                                indent=1))
    except OSError as err:
        raise OSError(f"cannot write the prepared cache {cache} ({err}); set FER_CACHE_DIR to a writable "
                      f"folder") from err
    return cache


def load_with_cache(name: str, data_dir: Path, cache_name: str, sources: list[Path],
                    parse: Callable[[], Prepared]) -> FERDataset:
    """Read the prepared cache of a public release, parsing the public files (`parse`) when there is none
    or when they changed since it was written."""
    cache = ensure_cache(data_dir, cache_name, sources, lambda: parse().arrays(), name)
    described = " + ".join(str(p) for p in sources)
    return read_prepared(cache, name, source=f"{cache} (prepared from {described})",
                         fix="delete it: it is rebuilt from the public files on the next load")
