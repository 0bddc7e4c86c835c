"""A simple IoU tracker (stable face ids across frames) and per-face temporal smoothing of probabilities."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes a (N, 4) and b (M, 4) in x0, y0, x1, y1 form -> (N, M)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass
class _Track:
    box: np.ndarray
    missed: int = 0


class IoUTracker:
    """Greedy IoU matching of this frame's boxes to the previous tracks.

    A box overlapping a track by at least `iou_threshold` keeps its id; other boxes start new ids;
    a track unseen for more than `max_missed` frames is dropped.
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 10):
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.tracks: dict[int, _Track] = {}
        self._next_id = 0

    def reset(self) -> None:
        """Forget every track (used between unrelated images); ids restart at 0."""
        self.tracks.clear()
        self._next_id = 0

    def update(self, boxes: np.ndarray) -> list[int]:
        """Ids for `boxes` (N, 4), in their order."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        ids = [-1] * len(boxes)
        track_ids = list(self.tracks)
        if track_ids and len(boxes):
            overlap = iou_matrix(np.stack([self.tracks[t].box for t in track_ids]), boxes)
            pairs = sorted(((overlap[i, j], i, j) for i in range(len(track_ids)) for j in range(len(boxes))),
                           reverse=True)
            used_tracks: set[int] = set()
            for value, i, j in pairs:
                if value < self.iou_threshold:
                    break
                if i in used_tracks or ids[j] != -1:
                    continue
                used_tracks.add(i)
                ids[j] = track_ids[i]
        matched = set(ids)
        for track_id in track_ids:
            if track_id not in matched:
                self.tracks[track_id].missed += 1
                if self.tracks[track_id].missed > self.max_missed:
                    del self.tracks[track_id]
        for j, box in enumerate(boxes):
            if ids[j] == -1:
                ids[j] = self._next_id
                self._next_id += 1
                self.tracks[ids[j]] = _Track(box.copy())
            else:
                self.tracks[ids[j]] = _Track(box.copy())
        return ids


class ProbabilitySmoother:
    """Mean of each face's class probabilities over its last `window` frames (window <= 1: off)."""

    def __init__(self, window: int = 1):
        self.window = max(1, int(window))
        self._history: dict[int, deque[np.ndarray]] = {}

    def __call__(self, face_id: int, probs: np.ndarray) -> np.ndarray:
        """Add this frame's probabilities for `face_id`; return the smoothed vector."""
        if self.window <= 1:
            return probs
        history = self._history.setdefault(face_id, deque(maxlen=self.window))
        history.append(np.asarray(probs, np.float32))
        return np.mean(np.stack(history), axis=0)

    def keep_only(self, face_ids: Iterable[int]) -> None:
        """Forget faces that are no longer tracked."""
        alive = set(face_ids)
        for face_id in list(self._history):
            if face_id not in alive:
                del self._history[face_id]

    def reset(self) -> None:
        """Forget every face."""
        self._history.clear()
