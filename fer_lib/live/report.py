"""The FPS report of a live run: the summary dict, <out>.fps.json and <out>.fps.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fer_lib.engine.rebuild import TrainedModel
from fer_lib.live.machine import machine_info
from fer_lib.live.model import FaceClassifier
from fer_lib.live.options import REAL_TIME_FPS, STAGES, LiveOptions, RunStats
from fer_lib.live.recognizer import LiveRecognizer
from fer_lib.live.sources import FrameSource
from fer_lib.outputs import atomic_write_text


def stage_stats(values: list[float]) -> dict[str, float]:
    """Count, mean, median and 95th percentile (milliseconds) of one stage's per-frame seconds."""
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


def model_name(trained: TrainedModel) -> str:
    """The run's model name: the TrainedModel's, its network's, the manifest's config, else the class name."""
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


def _speeds(stats: RunStats) -> dict[str, Any]:
    """End-to-end, steady (first frame excluded) and median-frame FPS, and the real-time verdict."""
    fps = stats.processed / stats.wall_s if stats.wall_s > 0 else 0.0
    steady_n = stats.processed - 1
    steady_wall = stats.wall_s - (stats.first_frame_s or 0.0)
    fps_steady = steady_n / steady_wall if steady_n > 0 and steady_wall > 0 else fps
    totals = stats.stage_times["total"]
    return {"fps_end_to_end": round(fps, 3), "fps_steady": round(fps_steady, 3),
            "fps_median_frame": round(1.0 / float(np.median(totals)), 3) if totals else 0.0,
            "real_time": bool(fps_steady >= REAL_TIME_FPS), "real_time_threshold_fps": REAL_TIME_FPS}


def build_summary(opts: LiveOptions, source: FrameSource, out_file: Path, device: str, trained: TrainedModel,
                  classifier: FaceClassifier, recognizer: LiveRecognizer, stats: RunStats,
                  load_start: float | None) -> dict[str, Any]:
    """The summary of a finished run, as written to <out>.fps.json."""
    spec = getattr(trained, "manifest", {}) or {}
    return {
        "source": str(opts.source), "source_kind": source.kind, "source_fps": source.fps or None,
        "out": str(out_file), "run_dir": str(opts.run_dir), "which": opts.which,
        "run_id": spec.get("run_id"), "experiment": spec.get("experiment"),
        "model": model_name(trained), "input_size": classifier.input_size, "class_names": classifier.class_names,
        "color": classifier.color, "device": device, "detector": opts.detector, "max_side": opts.max_side,
        "min_face": opts.min_face, "min_conf": opts.min_conf, "margin": classifier.margin, "smooth": opts.smooth,
        "detect_every": recognizer.detect_every, "detections_run": recognizer.detections_run,
        "frames": stats.frames, "frames_processed": stats.processed,
        "frames_with_faces": stats.with_faces, "faces": stats.faces,
        "frames_unreadable": stats.unreadable, "frames_failed": stats.failed, "skipped": stats.skipped,
        "stopped_by": stats.stopped_by, "wall_s": round(stats.wall_s, 3), "process_cpu_s": round(stats.cpu_s, 3),
        **_speeds(stats),
        "stages": {stage: stage_stats(values) for stage, values in stats.stage_times.items()},
        "machine": machine_info(device, load_start),
    }


def write_reports(out: Path, summary: dict[str, Any]) -> tuple[Path, Path]:
    """Write <out>.fps.json and <out>.fps.md (atomically); their paths."""
    json_path, md_path = report_paths(out)
    atomic_write_text(json_path, json.dumps(summary, indent=2) + "\n")
    atomic_write_text(md_path, report_markdown(summary))
    return json_path, md_path
