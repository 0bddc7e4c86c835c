"""The per-frame step: detect faces, classify them in one batch, track/smooth, draw."""

from __future__ import annotations

import time

import numpy as np

from fer_lib.live.annotate import draw_faces
from fer_lib.live.detect import Detector
from fer_lib.live.model import FaceClassifier
from fer_lib.live.options import FaceResult
from fer_lib.live.tracker import IoUTracker, ProbabilitySmoother


class LiveRecognizer:
    """Detect, classify (one batch per frame), track/smooth and draw, for one frame at a time.

    track: frames are consecutive (video, webcam): faces keep ids and probabilities are smoothed over
    `smooth` frames; detect_every > 1 re-detects only every N-th frame and reuses the last boxes in
    between (classification still runs on every frame).
    """

    def __init__(self, detector: Detector, classifier: FaceClassifier, smooth: int = 1, track: bool = True,
                 detect_every: int = 1):
        self.detector = detector
        self.classifier = classifier
        self.track = track
        self.detect_every = max(1, int(detect_every)) if track else 1
        self.tracker = IoUTracker()
        self.smoother = ProbabilitySmoother(smooth if track else 1)
        self.frames_seen = 0
        self.detections_run = 0
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def _detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This frame's boxes and scores: a fresh detection, or the last one between detect_every frames."""
        if self._last is not None and self.frames_seen % self.detect_every:
            boxes, scores = self._last
        else:
            boxes, scores = self.detector(rgb)
            self._last = (boxes, scores)
            self.detections_run += 1
        self.frames_seen += 1
        return boxes, scores

    def _classify(self, rgb: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> list[FaceResult]:
        """One batch through the classifier, then track ids and smoothed probabilities per face."""
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
        return faces

    def process(self, rgb: np.ndarray, bgr_out: np.ndarray, timings: dict[str, float]) -> list[FaceResult]:
        """Classify every face of `rgb`, draw onto `bgr_out` (in place); stage seconds go into `timings`."""
        start = time.perf_counter()
        boxes, scores = self._detect(rgb)
        timings["detect"] = time.perf_counter() - start

        start = time.perf_counter()
        faces = self._classify(rgb, boxes, scores)
        timings["classify"] = time.perf_counter() - start

        start = time.perf_counter()
        if faces:
            draw_faces(bgr_out, np.array([f.box for f in faces]), [f"{f.label} {f.prob:.2f}" for f in faces])
        timings["draw"] = time.perf_counter() - start
        return faces
