"""Face detection: facenet-pytorch's MTCNN (P1) on a downscaled copy of the frame, boxes scaled back.

`create_detector("mtcnn" | "full", ...)` returns a callable rgb (H, W, 3) uint8 -> (boxes, scores):
boxes float32 (N, 4) as x0, y0, x1, y1 in the original frame's pixels, scores float32 (N,).
"full" treats the whole image as one face (for already-cropped face images such as FER2013's).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

DETECTORS = ("mtcnn", "full")
PNET_CELL = 12  # MTCNN's P-Net sees 12x12 windows: the smallest face it can find at a given scale

Detector = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)


class MTCNNDetector:
    """MTCNN (facenet-pytorch, weights shipped in its wheel) with CPU-friendly settings.

    max_side: the frame is downscaled so that its longest side is at most this (0 = never);
    min_face: smallest face to find, in original-frame pixels (larger = fewer pyramid levels = faster);
    min_conf: detections with a lower O-Net probability are dropped.
    """

    def __init__(self, device: str = "cpu", max_side: int = 640, min_face: int = 40, min_conf: float = 0.9):
        try:
            from facenet_pytorch import MTCNN
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "MTCNN needs facenet-pytorch: `.venv/bin/pip install --no-deps facenet-pytorch==2.6.0` "
                f"(its metadata pins an old torch, its MTCNN code runs on ours) ({err})") from err
        self._mtcnn_cls = MTCNN
        self.device = device
        self.max_side = int(max_side)
        self.min_face = int(min_face)
        self.min_conf = float(min_conf)
        self._models: dict[int, object] = {}

    def _model(self, min_size: int) -> Any:
        # one MTCNN per detector-scale min face size (frames of one source share a size: built once)
        if min_size not in self._models:
            self._models[min_size] = self._mtcnn_cls(keep_all=True, min_face_size=min_size, device=self.device)
        return self._models[min_size]

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N, 4) in frame pixels and O-Net probabilities (N,) of the faces in `rgb` above min_conf."""
        import cv2

        height, width = rgb.shape[:2]
        scale = 1.0
        if self.max_side and max(height, width) > self.max_side:
            scale = self.max_side / max(height, width)
            small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                               interpolation=cv2.INTER_AREA)
        else:
            small = rgb
        if min(small.shape[:2]) < PNET_CELL:
            return _empty()
        min_size = max(PNET_CELL, int(round(self.min_face * scale)))
        min_size = min(min_size, min(small.shape[:2]))
        boxes, probs = self._model(min_size).detect(np.ascontiguousarray(small))
        if boxes is None or len(boxes) == 0:
            return _empty()
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4) / scale
        probs = np.asarray(probs, np.float32).reshape(-1)
        keep = probs >= self.min_conf
        boxes, probs = boxes[keep], probs[keep]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        valid = (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)
        return boxes[valid], probs[valid]


class FullFrameDetector:
    """The whole frame is one face (inputs that are already face crops)."""

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One box covering the whole frame, score 1."""
        height, width = rgb.shape[:2]
        return np.array([[0, 0, width, height]], np.float32), np.ones((1,), np.float32)


def create_detector(name: str = "mtcnn", device: str = "cpu", max_side: int = 640, min_face: int = 40,
                    min_conf: float = 0.9) -> Detector:
    """A face detector by name ("mtcnn" or "full"); see the classes for the options."""
    if name == "mtcnn":
        return MTCNNDetector(device=device, max_side=max_side, min_face=min_face, min_conf=min_conf)
    if name == "full":
        return FullFrameDetector()
    raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
