"""The live loop: frames -> (mirror) -> RGB -> MTCNN -> margin crops -> one batch -> labels -> drawing,
with per-stage timings, an optional per-frame prediction log and an FPS report next to the output.

The pieces live beside it: options.py (LiveOptions, LiveReport), recognizer.py (the per-frame step),
sinks.py / prediction_log.py / display.py (outputs), report.py and machine.py (the FPS report).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_lib.devices import load_avg, resolve_device
from fer_lib.live.detect import create_detector
from fer_lib.live.display import Display
from fer_lib.live.errors import LiveInputError
from fer_lib.live.model import FaceClassifier, checkpoint_path, load_run
from fer_lib.live.options import LiveOptions, LiveReport, RunStats
from fer_lib.live.prediction_log import PredictionLog
from fer_lib.live.recognizer import LiveRecognizer
from fer_lib.live.report import build_summary, report_markdown, write_reports
from fer_lib.live.sinks import Sink, open_sink, output_path
from fer_lib.live.sources import Frame, FrameSource, open_source

__all__ = ["LiveOptions", "LiveReport", "run_live"]


def _warn(message: str) -> None:
    """A one-line warning on stderr (the run goes on)."""
    print(f"warning: {message}", file=sys.stderr)


def _device(device: str) -> str:
    """--device as a string via fer_lib.devices.resolve_device; anything but auto, cpu or cuda[:N] is refused."""
    unknown = f"unknown device {device!r}; choose auto, cpu or cuda"
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ValueError(unknown)
    try:
        return str(resolve_device(device))
    except RuntimeError as err:  # torch.device() refuses a malformed "cuda..." string
        raise ValueError(unknown) from err


def _skip_unreadable(frame: Frame, sink: Sink, log: PredictionLog, stats: RunStats) -> None:
    """Warn about and log an undecodable frame; a video gets a black stand-in to keep its timing."""
    stats.unreadable += 1
    stats.skipped.append(f"{frame.name}: {frame.error}")
    _warn(f"skipping {frame.name}: {frame.error}")
    log.add(frame, "unreadable", [])
    stand_in = sink.blank()
    if stand_in is not None:  # keep a video's frame count and timing
        sink.write(stand_in, frame.name)


def _process_frame(frame: Frame, mirror: bool, recognizer: LiveRecognizer, sink: Sink, log: PredictionLog,
                   stats: RunStats) -> np.ndarray:
    """One decoded frame through recognition, the sink and the log; the annotated BGR frame."""
    import cv2

    frame_start = time.perf_counter()
    timings = {"decode": frame.decode_s}
    bgr = frame.image
    if mirror:
        bgr = cv2.flip(bgr, 1)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    timings["decode"] += time.perf_counter() - frame_start
    try:
        faces = recognizer.process(rgb, bgr, timings)
        status = "ok" if faces else "no_face"
    except Exception as err:  # noqa: BLE001 - one bad frame must not end a long run
        stats.failed += 1
        faces, status = [], f"error: {type(err).__name__}: {err}"
        _warn(f"{frame.name}: {status}; written unannotated")
    start = time.perf_counter()
    sink.write(bgr, frame.name)
    timings["write"] = time.perf_counter() - start
    log.add(frame, status, faces)
    stats.add_frame(faces, timings)
    return bgr


def _run_frames(source: FrameSource, recognizer: LiveRecognizer, sink: Sink, log: PredictionLog,
                display: Display) -> RunStats:
    """Every frame of `source` until it ends, the user stops (q, Esc, Ctrl-C); closes the outputs."""
    stats = RunStats()
    loop_start = time.perf_counter()
    cpu_start = time.process_time()
    try:
        for frame in source:
            stats.frames += 1
            if frame.image is None:
                _skip_unreadable(frame, sink, log, stats)
                continue
            bgr = _process_frame(frame, source.mirror, recognizer, sink, log, stats)
            if stats.first_frame_s is None:
                stats.first_frame_s = time.perf_counter() - loop_start
            if not display.show(bgr):
                stats.stopped_by = "user (q)"
                break
    except KeyboardInterrupt:
        stats.stopped_by = "user (Ctrl-C)"
    finally:
        stats.written = sink.close()
        log.close()
        display.close()
    stats.wall_s = time.perf_counter() - loop_start
    stats.cpu_s = time.process_time() - cpu_start
    return stats


def _print_report(opts: LiveOptions, summary: dict[str, Any], written: list[Path], out: Path, json_path: Path) -> None:
    """The speed report and what was written, on stdout."""
    print(report_markdown(summary))
    print(f"wrote {len(written)} output file(s) under {out}; report {json_path}" +
          (f"; log {opts.log}" if opts.log else ""))


def run_live(opts: LiveOptions) -> LiveReport:
    """Run the live pipeline over SOURCE; writes the annotated output, the FPS report and the log."""
    if opts.threads:
        torch.set_num_threads(opts.threads)
    checkpoint_path(opts.run_dir, opts.which)      # clear error before anything slow
    load_start = load_avg()
    device = _device(opts.device)
    source = open_source(str(opts.source), opts.max_frames)
    try:
        out = Path(opts.out).expanduser()
        out_file, single = output_path(source, str(opts.source), out)
        trained = load_run(opts.run_dir, opts.which, device)
        classifier = FaceClassifier(trained, color=opts.color, margin=0.0 if opts.detector == "full" else opts.margin,
                                    native_size=opts.native_size)
        detector = create_detector(opts.detector, device=device, max_side=opts.max_side, min_face=opts.min_face,
                                   min_conf=opts.min_conf)
        recognizer = LiveRecognizer(detector, classifier, smooth=opts.smooth,
                                    track=source.kind in ("video", "webcam"), detect_every=opts.detect_every)
        sink = open_sink(source, out_file, single)
        log = PredictionLog(Path(opts.log).expanduser() if opts.log else None, classifier.class_names)
        display = Display(opts.show, f"fer_lib live: {source.description}", _warn)
        stats = _run_frames(source, recognizer, sink, log, display)
    finally:
        source.close()

    if stats.processed == 0:
        raise LiveInputError(f"no readable frame in {source.description}: " + "; ".join(stats.skipped[:5]))
    summary = build_summary(opts, source, out_file, device, trained, classifier, recognizer, stats, load_start)
    json_path, md_path = write_reports(out, summary)
    if not opts.quiet:
        _print_report(opts, summary, stats.written, out, json_path)
    return LiveReport(summary, out_file, json_path, md_path, Path(opts.log) if opts.log else None, stats.written)
