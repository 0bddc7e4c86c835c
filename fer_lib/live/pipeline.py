"""The live loop: frames -> (mirror) -> RGB -> MTCNN -> margin crops -> one batch -> labels -> drawing,
with per-stage timings, an optional per-frame prediction log and an FPS report next to the output.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_lib.live.errors import LiveInputError
from fer_lib.live.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Frame, FrameSource, open_source

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


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when a GPU is present, else "cpu"; an explicit "cuda" without one is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but torch sees no CUDA GPU; use --device cpu or auto")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; choose auto, cpu or cuda")
    return device


class LiveRecognizer:
    """Detect, classify (one batch per frame), track/smooth and draw, for one frame at a time.

    track: frames are consecutive (video, webcam): faces keep ids and probabilities are smoothed over
    `smooth` frames; detect_every > 1 re-detects only every N-th frame and reuses the last boxes in
    between (classification still runs on every frame).
    """

    def __init__(self, detector, classifier, smooth: int = 1, track: bool = True, detect_every: int = 1):
        from fer_lib.live.tracker import IoUTracker, ProbabilitySmoother

        self.detector = detector
        self.classifier = classifier
        self.track = track
        self.detect_every = max(1, int(detect_every)) if track else 1
        self.tracker = IoUTracker()
        self.smoother = ProbabilitySmoother(smooth if track else 1)
        self.frames_seen = 0
        self.detections_run = 0
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def process(self, rgb: np.ndarray, bgr_out: np.ndarray, timings: dict[str, float]) -> list[FaceResult]:
        """Classify every face of `rgb`, draw onto `bgr_out` (in place); stage seconds go into `timings`."""
        from fer_lib.live.annotate import draw_faces

        start = time.perf_counter()
        if self._last is not None and self.frames_seen % self.detect_every:
            boxes, scores = self._last
        else:
            boxes, scores = self.detector(rgb)
            self._last = (boxes, scores)
            self.detections_run += 1
        self.frames_seen += 1
        timings["detect"] = time.perf_counter() - start

        start = time.perf_counter()
        probs = self.classifier(rgb, boxes)
        if not self.track:
            self.tracker.reset()
            self.smoother.reset()
        ids = self.tracker.update(boxes)
        self.smoother.keep_only(self.tracker.tracks)
        names = self.classifier.class_names
        faces = []
        for face_id, box, score, p in zip(ids, boxes, scores, probs):
            p = self.smoother(face_id, p)
            k = int(np.argmax(p))
            faces.append(FaceResult(int(face_id), tuple(float(v) for v in box), float(score), names[k],
                                    float(p[k]), np.asarray(p, np.float32)))
        timings["classify"] = time.perf_counter() - start

        start = time.perf_counter()
        if faces:
            draw_faces(bgr_out, np.array([f.box for f in faces]), [f"{f.label} {f.prob:.2f}" for f in faces])
        timings["draw"] = time.perf_counter() - start
        return faces


# ---------------------------------------------------------------- outputs

class _VideoSink:
    """Annotated frames -> an mp4 (OpenCV VideoWriter, 'mp4v'), opened on the first frame."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = path, fps
        self.writer = None
        self.size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, bgr: np.ndarray, name: str) -> None:
        import cv2

        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.size = (bgr.shape[1], bgr.shape[0])
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.size)
            if not self.writer.isOpened():
                raise LiveInputError(f"cannot write video {self.path} (OpenCV VideoWriter, codec mp4v, refused it)")
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size)
        self.writer.write(bgr)
        self.frames += 1

    def blank(self) -> np.ndarray | None:
        """A black frame of the video's size (stands in for an undecodable frame), None before the first."""
        return None if self.size is None else np.zeros((self.size[1], self.size[0], 3), np.uint8)

    def close(self) -> list[Path]:
        if self.writer is not None:
            self.writer.release()
            return [self.path]
        return []


class _ImageSink:
    """Annotated images -> one file (single image with an image --out) or <out dir>/<same name>."""

    def __init__(self, path: Path, single_file: bool):
        self.path, self.single_file = path, single_file
        self.written: list[Path] = []

    def write(self, bgr: np.ndarray, name: str) -> None:
        import cv2

        target = self.path if self.single_file else self.path / name
        if target.suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"):
            target = target.with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(target.suffix, bgr)
        if not ok:
            raise LiveInputError(f"cannot encode {target}")
        encoded.tofile(str(target))
        self.written.append(target)

    def blank(self) -> None:
        return None

    def close(self) -> list[Path]:
        return self.written


def output_path(source: FrameSource, source_spec: str, out: Path) -> tuple[Path, bool]:
    """Where annotated output goes, and whether it is a single file."""
    if source.kind in ("video", "webcam"):
        if out.suffix.lower() in VIDEO_SUFFIXES:
            return out, True
        stem = f"webcam{source_spec}" if source.kind == "webcam" else Path(source_spec).stem
        return out / f"{stem}_live.mp4", True
    if source.kind == "image" and out.suffix.lower() in IMAGE_SUFFIXES:
        return out, True
    if out.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
        raise LiveInputError(f"--out {out} looks like a file, but a {source.kind} source writes several images: "
                             "give a directory")
    return out, False


class _PredictionLog:
    """Per-frame predictions -> CSV (one row per face, or one row per face-less frame) or JSON."""

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
            import csv

            self._handle = open(path, "w", newline="", encoding="utf-8")
            fields = ["frame", "source", "status", "face_id", "x0", "y0", "x1", "y1", "det_score", "label", "prob"]
            self._csv = csv.DictWriter(self._handle, fieldnames=fields + [f"prob_{c}" for c in class_names])
            self._csv.writeheader()

    def add(self, frame: Frame, status: str, faces: list[FaceResult]) -> None:
        if self.path is None:
            return
        if self._csv is not None:
            base = {"frame": frame.index, "source": frame.name, "status": status}
            if not faces:
                self._csv.writerow(base)
            for f in faces:
                row = dict(base, face_id=f.face_id, x0=round(f.box[0], 1), y0=round(f.box[1], 1),
                           x1=round(f.box[2], 1), y1=round(f.box[3], 1), det_score=round(f.det_score, 4),
                           label=f.label, prob=round(f.prob, 4))
                row.update({f"prob_{c}": round(float(p), 4) for c, p in zip(self.class_names, f.probs)})
                self._csv.writerow(row)
            return
        self.rows.append({
            "frame": frame.index, "source": frame.name, "status": status,
            "faces": [{"face_id": f.face_id, "box": [round(v, 1) for v in f.box], "det_score": round(f.det_score, 4),
                       "label": f.label, "prob": round(f.prob, 4),
                       "probs": {c: round(float(p), 4) for c, p in zip(self.class_names, f.probs)}}
                      for f in faces]})

    def close(self) -> None:
        if self.path is None:
            return
        if self._csv is not None:
            self._handle.close()
        else:
            from fer_lib.outputs import atomic_write_text

            atomic_write_text(self.path, json.dumps(self.rows, indent=1) + "\n")


class _Display:
    """An OpenCV window when --show and a display exist; 'q' or Esc stops the run."""

    def __init__(self, wanted: bool, title: str, warn):
        self.enabled = False
        self.title = title
        if not wanted:
            return
        has_display = sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        if not has_display:
            warn("--show ignored: no display (DISPLAY/WAYLAND_DISPLAY unset)")
            return
        self.enabled = True
        self._warn = warn

    def show(self, bgr: np.ndarray) -> bool:
        """Show a frame; False when the user asked to stop."""
        if not self.enabled:
            return True
        import cv2

        try:
            cv2.imshow(self.title, bgr)
            key = cv2.waitKey(1) & 0xFF
        except cv2.error:
            self._warn("--show ignored: this OpenCV build has no GUI (opencv-python-headless)")
            self.enabled = False
            return True
        return key not in (ord("q"), 27)

    def close(self) -> None:
        if self.enabled:
            import cv2

            cv2.destroyAllWindows()


# ---------------------------------------------------------------- the run

def _stage_stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "mean_ms": 0.0, "median_ms": 0.0, "p95_ms": 0.0}
    ms = np.asarray(values) * 1000.0
    return {"n": len(values), "mean_ms": round(float(ms.mean()), 2), "median_ms": round(float(np.median(ms)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def report_paths(out: Path) -> tuple[Path, Path]:
    """<out>.fps.json and <out>.fps.md, next to --out."""
    base = str(out).rstrip("/\\")
    return Path(base + ".fps.json"), Path(base + ".fps.md")


def report_markdown(summary: dict[str, Any]) -> str:
    """The FPS report as a short Markdown page."""
    lines = [f"# Live recognition speed: {summary['model']} ({summary['input_size']} px) on {summary['device']}", "",
             f"- source: {summary['source']} ({summary['source_kind']}); output: `{summary['out']}`",
             f"- run: `{summary['run_dir']}` ({summary['which']}), classes: {', '.join(summary['class_names'])}, "
             f"colour: {summary['color']}",
             f"- detector: {summary['detector']} (longest side <= {summary['max_side']} px, min face "
             f"{summary['min_face']} px, min conf {summary['min_conf']}, every {summary['detect_every']} "
             f"frame(s)), margin {summary['margin']}, smoothing window {summary['smooth']}",
             f"- frames: {summary['frames']} read, {summary['frames_processed']} processed, "
             f"{summary['frames_with_faces']} with faces ({summary['faces']} faces), "
             f"{summary['frames_unreadable']} unreadable, {summary['frames_failed']} failed",
             f"- end-to-end: **{summary['fps_end_to_end']:.2f} FPS** (steady, first frame excluded: "
             f"{summary['fps_steady']:.2f} FPS; from the median frame time: {summary['fps_median_frame']:.2f} FPS); "
             f"real time (steady >= {REAL_TIME_FPS:g} FPS): "
             f"**{'yes' if summary['real_time'] else 'no'}**",
             f"- machine: {summary['machine']['cpu']}, {summary['machine']['torch_threads']} torch threads, "
             f"torch {summary['machine']['torch']}; process CPU {summary['process_cpu_s']:.1f} s over "
             f"{summary['wall_s']:.1f} s wall; load average (1 min) at start/end "
             f"{summary['machine']['load_avg_start']}/{summary['machine']['load_avg_end']}", "",
             "| stage | frames | mean ms | median ms | p95 ms |", "|---|---:|---:|---:|---:|"]
    for stage in (*STAGES, "total"):
        s = summary["stages"][stage]
        lines.append(f"| {stage} | {s['n']} | {s['mean_ms']:.2f} | {s['median_ms']:.2f} | {s['p95_ms']:.2f} |")
    if summary["skipped"]:
        lines += ["", "Skipped inputs:", *[f"- {item}" for item in summary["skipped"]]]
    return "\n".join(lines) + "\n"


def _load_avg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _machine(device: str, load_start: float | None) -> dict[str, Any]:
    import torch

    from fer_lib.records import cpu_model

    info = {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "platform": platform.platform(),
            "load_avg_start": load_start, "load_avg_end": _load_avg()}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run_live(opts: LiveOptions) -> LiveReport:
    """Run the live pipeline over SOURCE; writes the annotated output, the FPS report and the log."""
    import cv2
    import torch

    from fer_lib.live.detect import create_detector
    from fer_lib.live.model import FaceClassifier, checkpoint_path, load_run

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    if opts.threads:
        torch.set_num_threads(opts.threads)
    checkpoint_path(opts.run_dir, opts.which)      # clear error before anything slow
    load_start = _load_avg()
    device = resolve_device(opts.device)
    source = open_source(str(opts.source), opts.max_frames)
    try:
        out = Path(opts.out).expanduser()
        out_file, single = output_path(source, str(opts.source), out)
        trained = load_run(opts.run_dir, opts.which, device)
        classifier = FaceClassifier(trained, device=device, color=opts.color,
                                    margin=0.0 if opts.detector == "full" else opts.margin,
                                    native_size=opts.native_size)
        detector = create_detector(opts.detector, device=device, max_side=opts.max_side, min_face=opts.min_face,
                                   min_conf=opts.min_conf)
        recognizer = LiveRecognizer(detector, classifier, smooth=opts.smooth,
                                    track=source.kind in ("video", "webcam"), detect_every=opts.detect_every)
        sink = _VideoSink(out_file, source.fps) if source.kind in ("video", "webcam") else _ImageSink(out_file, single)
        log = _PredictionLog(Path(opts.log).expanduser() if opts.log else None, classifier.class_names)
        display = _Display(opts.show, f"fer_lib live: {source.description}", warn)
        stage_times: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
        counts = {"frames": 0, "processed": 0, "with_faces": 0, "faces": 0, "unreadable": 0, "failed": 0}
        skipped: list[str] = []
        stopped_by = "end of source"
        loop_start = time.perf_counter()
        cpu_start = time.process_time()
        first_frame_s = None
        try:
            for frame in source:
                counts["frames"] += 1
                if frame.image is None:
                    counts["unreadable"] += 1
                    skipped.append(f"{frame.name}: {frame.error}")
                    warn(f"skipping {frame.name}: {frame.error}")
                    log.add(frame, "unreadable", [])
                    stand_in = sink.blank()
                    if stand_in is not None:  # keep a video's frame count and timing
                        sink.write(stand_in, frame.name)
                    continue
                frame_start = time.perf_counter()
                timings = {"decode": frame.decode_s}
                bgr = frame.image
                if source.mirror:
                    bgr = cv2.flip(bgr, 1)
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                timings["decode"] += time.perf_counter() - frame_start
                try:
                    faces = recognizer.process(rgb, bgr, timings)
                    status = "ok" if faces else "no_face"
                except Exception as err:  # noqa: BLE001 - one bad frame must not end a long run
                    counts["failed"] += 1
                    faces, status = [], f"error: {type(err).__name__}: {err}"
                    warn(f"{frame.name}: {status}; written unannotated")
                start = time.perf_counter()
                sink.write(bgr, frame.name)
                timings["write"] = time.perf_counter() - start
                log.add(frame, status, faces)
                counts["processed"] += 1
                counts["with_faces"] += bool(faces)
                counts["faces"] += len(faces)
                total = sum(timings.values())
                timings["total"] = total
                if first_frame_s is None:
                    first_frame_s = time.perf_counter() - loop_start
                for stage, value in timings.items():
                    stage_times[stage].append(value)
                if not display.show(bgr):
                    stopped_by = "user (q)"
                    break
        except KeyboardInterrupt:
            stopped_by = "user (Ctrl-C)"
        finally:
            written = sink.close()
            log.close()
            display.close()
        wall = time.perf_counter() - loop_start
        cpu_s = time.process_time() - cpu_start
    finally:
        source.close()

    if counts["processed"] == 0:
        raise LiveInputError(f"no readable frame in {source.description}: " + "; ".join(skipped[:5]))
    fps = counts["processed"] / wall if wall > 0 else 0.0
    steady_n = counts["processed"] - 1
    steady_wall = wall - (first_frame_s or 0.0)
    fps_steady = steady_n / steady_wall if steady_n > 0 and steady_wall > 0 else fps
    spec = getattr(trained, "manifest", {}) or {}
    summary = {
        "source": str(opts.source), "source_kind": source.kind, "source_fps": source.fps or None,
        "out": str(out_file), "run_dir": str(opts.run_dir), "which": opts.which,
        "run_id": spec.get("run_id"), "experiment": spec.get("experiment"),
        "model": _model_name(trained), "input_size": classifier.input_size, "class_names": classifier.class_names,
        "color": classifier.color, "device": device, "detector": opts.detector, "max_side": opts.max_side,
        "min_face": opts.min_face, "min_conf": opts.min_conf, "margin": classifier.margin, "smooth": opts.smooth,
        "detect_every": recognizer.detect_every, "detections_run": recognizer.detections_run,
        "frames": counts["frames"], "frames_processed": counts["processed"],
        "frames_with_faces": counts["with_faces"], "faces": counts["faces"],
        "frames_unreadable": counts["unreadable"], "frames_failed": counts["failed"], "skipped": skipped,
        "stopped_by": stopped_by, "wall_s": round(wall, 3), "process_cpu_s": round(cpu_s, 3),
        "fps_end_to_end": round(fps, 3), "fps_steady": round(fps_steady, 3),
        "fps_median_frame": round(1.0 / float(np.median(stage_times["total"])), 3) if stage_times["total"] else 0.0,
        "real_time": bool(fps_steady >= REAL_TIME_FPS), "real_time_threshold_fps": REAL_TIME_FPS,
        "stages": {stage: _stage_stats(values) for stage, values in stage_times.items()},
        "machine": _machine(device, load_start),
    }
    json_path, md_path = report_paths(out)
    from fer_lib.outputs import atomic_write_text

    atomic_write_text(json_path, json.dumps(summary, indent=2) + "\n")
    atomic_write_text(md_path, report_markdown(summary))
    if not opts.quiet:
        print(report_markdown(summary))
        print(f"wrote {len(written)} output file(s) under {out}; report {json_path}" +
              (f"; log {opts.log}" if opts.log else ""))
    return LiveReport(summary, out_file, json_path, md_path, Path(opts.log) if opts.log else None, written)


def _model_name(trained) -> str:
    manifest = getattr(trained, "manifest", {}) or {}
    for getter in (lambda: getattr(trained, "model_name", None) or getattr(trained.model, "model_name", None),
                   lambda: (manifest.get("config") or {}).get("model", {}).get("name")
                   if isinstance((manifest.get("config") or {}).get("model"), dict)
                   else (manifest.get("config") or {}).get("model"),
                   lambda: type(trained.model).__name__):
        try:
            name = getter()
        except Exception:  # noqa: BLE001 - manifests of other shapes
            name = None
        if name:
            return str(name)
    return "unknown"
