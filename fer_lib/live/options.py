"""What a live run takes (LiveOptions), what it finds per face (FaceResult) and what it returns (LiveReport)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("decode", "detect", "classify", "draw", "write")
REAL_TIME_FPS = 24.0  # a pipeline at least this fast keeps up with ordinary webcam / video frame rates


@dataclass
class LiveOptions:
    """Everything `python -m fer_lib live` accepts (see its --help)."""

    source: str
    run_dir: str | Path
    out: str | Path
    which: str = "best"
    device: str = "auto"
    detector: str = "mtcnn"
    smooth: int = 1
    log: str | Path | None = None
    max_frames: int | None = None
    show: bool = False
    margin: float = 0.2
    max_side: int = 640
    min_face: int = 40
    min_conf: float = 0.9
    color: str = "auto"
    native_size: int = 0
    threads: int = 0
    detect_every: int = 1
    quiet: bool = False


@dataclass
class FaceResult:
    """One classified face of one frame."""

    face_id: int
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in frame pixels
    det_score: float
    label: str
    prob: float
    probs: np.ndarray                       # (num_classes,) after smoothing


@dataclass
class LiveReport:
    """What a run produced: the summary written to <out>.fps.json and the paths it wrote."""

    summary: dict[str, Any]
    out_path: Path
    json_path: Path
    md_path: Path
    log_path: Path | None = None
    written: list[Path] = field(default_factory=list)


@dataclass
class RunStats:
    """What the frame loop counted and timed (the raw material of the FPS report)."""

    frames: int = 0
    processed: int = 0
    with_faces: int = 0
    faces: int = 0
    unreadable: int = 0
    failed: int = 0
    skipped: list[str] = field(default_factory=list)
    stopped_by: str = "end of source"
    stage_times: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in (*STAGES, "total")})
    first_frame_s: float | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    written: list[Path] = field(default_factory=list)

    def add_frame(self, faces: list[FaceResult], timings: dict[str, float]) -> None:
        """Count one processed frame and keep its stage timings (plus their total)."""
        self.processed += 1
        self.with_faces += bool(faces)
        self.faces += len(faces)
        timings["total"] = sum(timings.values())
        for stage, value in timings.items():
            self.stage_times[stage].append(value)
