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
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from fer_lib.data.core import FERDataset, to_canonical
from fer_lib.data.images import decode_jpeg_rows
from fer_lib.paths import cache_dir

_SHA_CACHE: dict[tuple[str, int, int], str] = {}
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
    tmp.write_bytes(data)
    os.replace(tmp, path)
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


def read_prepared(path: Path, name: str, source: str | None = None) -> FERDataset:
    """Read a prepared archive (own class order mapped to canonical) into a FERDataset."""
    with np.load(path, allow_pickle=False) as data:
        files = set(data.files)
        missing = {"labels", "split", "class_names"} - files
        if missing or not ({"images"} & files or {"jpeg_bytes", "jpeg_offsets"} <= files):
            raise ValueError(f"{path} is not a prepared dataset archive: it lacks {sorted(missing) or 'images'} "
                             f"(found {sorted(files)}); delete it to have it rebuilt from the public files")
        labels, class_names = to_canonical(data["labels"], data["class_names"].tolist(), where=str(path))
        n = len(labels)
        if "images" in files:
            images = data["images"]
        else:
            images = decode_jpeg_rows(data["jpeg_bytes"], data["jpeg_offsets"], mode="RGB")
        extras = {k: data[k] for k in sorted(files - _RESERVED) if data[k].ndim >= 1 and len(data[k]) == n}
        split = data["split"].astype(str)
    return FERDataset(name=name, images=images, labels=labels, split=split, class_names=class_names,
                      sha256=file_sha256(path), source=source or str(path), extras=extras)


def source_signature(paths: list[Path]) -> dict[str, list]:
    """Size and mtime of each public file, and of every sub-folder for folders (cheap change detection)."""
    sig: dict[str, list] = {}
    for path in paths:
        if path.is_dir():
            for root, dirs, _files in os.walk(path):
                dirs.sort()
                stat = os.stat(root)
                sig[root] = [stat.st_mtime_ns, len(_files)]
        elif path.exists():
            stat = path.stat()
            sig[str(path)] = [stat.st_mtime_ns, stat.st_size]
    return sig


def ensure_cache(data_dir: Path, cache_name: str, sources: list[Path],
                 build: Callable[[], dict[str, np.ndarray]], dataset: str) -> Path:
    """Path of `<cache_dir>/<cache_name>.npz`, rebuilt with `build()` unless its recorded source signature
    (sizes and mtimes of `sources`) still matches."""
    cache = cache_dir(data_dir) / f"{cache_name}.npz"
    meta_path = cache.with_suffix(".json")
    signature = source_signature(sources)
    if cache.is_file() and meta_path.is_file():
        try:
            if json.loads(meta_path.read_text()).get("signature") == signature:
                return cache
        except (OSError, ValueError):
            pass
    arrays = build()
    try:
        digest = write_npz(cache, arrays)
        meta_path.write_text(json.dumps({"dataset": dataset, "sha256": digest, "signature": signature}, indent=1))
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
    return read_prepared(cache, name, source=f"{cache} (prepared from {described})")
