"""The optional per-frame prediction log (--log): CSV, one row per face (or per face-less frame), or JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from fer_lib.live.options import FaceResult
from fer_lib.live.sources import Frame
from fer_lib.outputs import atomic_write_text

CSV_FIELDS = ["frame", "source", "status", "face_id", "x0", "y0", "x1", "y1", "det_score", "label", "prob"]


class PredictionLog:
    """Per-frame predictions -> CSV (one row per face, or one row per face-less frame) or JSON; path None: off."""

    def __init__(self, path: Path | None, class_names: list[str]):
        self.path = path
        self.class_names = class_names
        self.rows: list[dict[str, Any]] = []
        self._csv = None
        if path is None:
            return
        if path.suffix.lower() not in (".csv", ".json"):
            raise ValueError(f"--log {path}: use a .csv or .json file name")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            self._handle = open(path, "w", newline="", encoding="utf-8")
            self._csv = csv.DictWriter(self._handle, fieldnames=CSV_FIELDS + [f"prob_{c}" for c in class_names])
            self._csv.writeheader()

    def _csv_rows(self, frame: Frame, status: str, faces: list[FaceResult]) -> None:
        base = {"frame": frame.index, "source": frame.name, "status": status}
        if not faces:
            self._csv.writerow(base)
        for f in faces:
            row = dict(base, face_id=f.face_id, x0=round(f.box[0], 1), y0=round(f.box[1], 1),
                       x1=round(f.box[2], 1), y1=round(f.box[3], 1), det_score=round(f.det_score, 4),
                       label=f.label, prob=round(f.prob, 4))
            row.update({f"prob_{c}": round(float(p), 4) for c, p in zip(self.class_names, f.probs)})
            self._csv.writerow(row)

    def add(self, frame: Frame, status: str, faces: list[FaceResult]) -> None:
        """Record one frame's status ("ok", "no_face", "unreadable", "error: ...") and faces."""
        if self.path is None:
            return
        if self._csv is not None:
            self._csv_rows(frame, status, faces)
            return
        self.rows.append({
            "frame": frame.index, "source": frame.name, "status": status,
            "faces": [{"face_id": f.face_id, "box": [round(v, 1) for v in f.box], "det_score": round(f.det_score, 4),
                       "label": f.label, "prob": round(f.prob, 4),
                       "probs": {c: round(float(p), 4) for c, p in zip(self.class_names, f.probs)}}
                      for f in faces]})

    def close(self) -> None:
        """Close the CSV file, or write the JSON file (atomically)."""
        if self.path is None:
            return
        if self._csv is not None:
            self._handle.close()
        else:
            atomic_write_text(self.path, json.dumps(self.rows, indent=1) + "\n")
