"""What travels to and from a GPU machine: datasets in a compact lossless form, and the runs' records back.

A dataset `<name>.npz` travels as its arrays (each in .npy form, concatenated, lzma-compressed, cut into
parts of at most `part_mb`) with `<name>.xfer.json`: each array's dtype, shape and the sha256 of its decoded
bytes, each part's sha256, and the original file's sha256. On arrival every part and every decoded array is
checked, the archive is rebuilt deterministically (fer_lib.data.write_npz), and a sidecar
`<name>.transfer.json` records that it decodes to the same arrays as the original, so the runs trained on it
name the original's sha256 (fer_lib.data.prepared.verified_origin). Records come back as one tar.gz cut into
at most `max_files` parts of at most `part_mb` each; unpacking never replaces a run that is already there.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import shutil
import tarfile
from pathlib import Path

import numpy as np

from fer_lib.data.prepared import TRANSFER_SUFFIX, file_sha256, write_npz
from fer_lib.paths import data_dir as resolve_data_dir, record_dir, results_dir

PART_MB = 16.0
MAX_FILES = 8  # what the GPU machine sends back: at most 8 files of at most 16 MB ...
MAX_TOTAL_MB = 60.0  # ... and at most 64 MiB in all (room left for the calibration and the campaign log)


class TransferError(ValueError):
    """A transfer that does not decode to what was sent (missing or damaged part, wrong array)."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_parts(stream: bytes, out_dir: Path, stem: str, part_mb: float) -> list[dict]:
    size = max(1, int(part_mb * 1e6))
    parts = []
    for k, start in enumerate(range(0, max(1, len(stream)), size)):
        chunk = stream[start:start + size]
        path = out_dir / f"{stem}-{k:02d}"
        path.write_bytes(chunk)
        parts.append({"file": path.name, "bytes": len(chunk), "sha256": _sha(chunk)})
    return parts


def _read_parts(folder: Path, parts: list[dict]) -> bytes:
    chunks = []
    for part in parts:
        path = folder / part["file"]
        if not path.exists():
            raise TransferError(f"{path} is missing: bring every part listed in the .xfer.json")
        chunk = path.read_bytes()
        if _sha(chunk) != part["sha256"]:
            raise TransferError(f"{path} is damaged (sha256 differs from the .xfer.json): copy it again")
        chunks.append(chunk)
    return b"".join(chunks)


def pack_dataset(name: str, out_dir: str | Path, data_dir: str | Path | None = None, part_mb: float = 60.0) -> Path:
    """Pack `<data dir>/<name>.npz` into out_dir; the path of its `<name>.xfer.json`."""
    source = resolve_data_dir(data_dir) / f"{name}.npz"
    if not source.exists():
        raise FileNotFoundError(f"{source} not found: pack-data packs a dataset's .npz from the data directory")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays, raw = [], io.BytesIO()
    with np.load(source, allow_pickle=False) as data:
        for key in sorted(data.files):
            value = np.ascontiguousarray(data[key])
            start = raw.tell()
            np.lib.format.write_array(raw, value, allow_pickle=False)
            arrays.append({"name": key, "dtype": value.dtype.str, "shape": list(value.shape),
                           "sha256": _sha(value.tobytes()), "npy_bytes": raw.tell() - start})
    parts = _write_parts(lzma.compress(raw.getvalue(), preset=6), out_dir, f"{name}.xfer", part_mb)
    record = {"dataset": name, "original_file": source.name, "original_sha256": file_sha256(source),
              "compression": "lzma (npy arrays concatenated)", "arrays": arrays, "parts": parts}
    path = out_dir / f"{name}.xfer.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def unpack_dataset(xfer_json: str | Path, data_dir: str | Path | None = None) -> Path:
    """Rebuild `<data dir>/<name>.npz` from a packed transfer, every part and decoded array checked."""
    xfer_json = Path(xfer_json)
    record = json.loads(xfer_json.read_text())
    raw = io.BytesIO(lzma.decompress(_read_parts(xfer_json.parent, record["parts"])))
    arrays = {}
    for spec in record["arrays"]:
        value = np.lib.format.read_array(raw, allow_pickle=False)
        if value.dtype.str != spec["dtype"] or list(value.shape) != spec["shape"] or \
                _sha(np.ascontiguousarray(value).tobytes()) != spec["sha256"]:
            raise TransferError(f"{xfer_json}: array {spec['name']!r} does not decode to what was sent "
                                f"(dtype, shape or sha256 differ); pack it again")
        arrays[spec["name"]] = value
    target_dir = resolve_data_dir(data_dir)
    target = target_dir / record["original_file"]
    if target.exists() and file_sha256(target) == record["original_sha256"]:
        return target  # the original is here already
    if target.exists() and not target.with_name(target.stem + TRANSFER_SUFFIX).exists():
        raise FileExistsError(f"{target} exists and is another file (sha256 {file_sha256(target)[:12]}..., not "
                              f"{record['original_sha256'][:12]}...): move it away or unpack into another --data-dir")
    rebuilt_sha = write_npz(target, arrays)
    note = {"original_sha256": record["original_sha256"], "rebuilt_sha256": rebuilt_sha,
            "arrays": {spec["name"]: spec["sha256"] for spec in record["arrays"]},
            "verified": "every decoded array's sha256 equals the original's"}
    target.with_name(target.stem + TRANSFER_SUFFIX).write_text(json.dumps(note, indent=1) + "\n")
    return target


def pack_records(paths: list[Path], out_dir: str | Path, part_mb: float = PART_MB, max_files: int = MAX_FILES,
                 base: Path | None = None, max_total_mb: float = MAX_TOTAL_MB) -> list[Path]:
    """One tar.gz of `paths` (run folders, tables) relative to `base` (the record; the scratch space in scratch
    mode), cut into parts."""
    base = Path(base or results_dir()).resolve()
    outside = [str(p) for p in paths if not Path(p).resolve().is_relative_to(base)]
    if outside:
        raise ValueError(f"{outside[0]} is not under {base}: pack-results packs records of the study's results "
                         f"folder (set FER_OUTPUT=scratch for pipeline-check runs)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in paths:
            archive.add(path, arcname=str(Path(path).resolve().relative_to(base)),
                        filter=lambda info: None if "/checkpoints/last.pt" in info.name else info)
    stream = buffer.getvalue()
    if part_mb <= 0:
        raise ValueError(f"--part-mb must be positive, got {part_mb:g}")
    if len(stream) > max_total_mb * 1e6:
        raise TransferError(f"the records pack to {len(stream) / 1e6:.1f} MB, more than the {max_total_mb:g} MB that "
                            f"can come back at once: send fewer runs back at a time")
    needed = 1 - (-len(stream) // max(1, int(part_mb * 1e6)))  # the parts and their index
    if needed > max_files:
        raise TransferError(f"the records pack to {len(stream) / 1e6:.1f} MB, more than {max_files} files of "
                            f"{part_mb:g} MB: send fewer runs back at a time")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = _write_parts(stream, out_dir, "records.tar.gz", part_mb)
    index = out_dir / "records.json"
    index.write_text(json.dumps({"parts": parts, "members": [str(p) for p in paths]}, indent=1) + "\n")
    return [index] + [out_dir / p["file"] for p in parts]


def unpack_records(index: str | Path, base: Path | None = None) -> list[str]:
    """Add packed run records to the record (the scratch space in scratch mode, or `base`): each run must be
    complete, and only real-data runs at the full profile enter the record; a run folder already there is
    refused, never merged. Other files (tables) are written in place."""
    index = Path(index)
    base = Path(base or results_dir())
    record = json.loads(index.read_text())
    staging = base / ".staging" / index.parent.name
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(_read_parts(index.parent, record["parts"])), mode="r:gz") as archive:
            archive.extractall(staging, filter="data")
        runs = sorted(str(m.parent.relative_to(staging)) for m in staging.glob("runs/*/*/manifest.json"))
        for run in runs:
            _check_unpacked(staging / run, base)
        clashes = [run for run in runs if (base / run).exists()]
        if clashes:
            raise FileExistsError(f"{clashes[0]} is in the record already: a finished run is never replaced "
                                  f"({len(clashes)} clash(es)); move it away first if it is to be replaced")
        for run in runs:
            (base / run).parent.mkdir(parents=True, exist_ok=True)
            (staging / run).rename(base / run)
        for path in sorted(p for p in staging.rglob("*") if p.is_file() and not p.is_relative_to(staging / "runs")):
            (base / path.relative_to(staging)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, base / path.relative_to(staging))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return runs


def _check_unpacked(run_dir: Path, base: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    if manifest.get("status") != "complete":
        raise ValueError(f"{run_dir.name}: status {manifest.get('status')!r}: only complete runs are added")
    record_worthy = bool((manifest.get("dataset") or {}).get("real")) and manifest.get("profile") == "full"
    if base.resolve() == record_dir().resolve() and not record_worthy:
        raise ValueError(f"{run_dir.name}: a synthetic-data or smoke run never enters the record; unpack it with "
                         f"FER_OUTPUT=scratch")
