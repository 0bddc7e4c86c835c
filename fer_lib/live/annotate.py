"""Drawing on frames as P1 shows it: a green box per face and a blue label with its probability."""

from __future__ import annotations

from typing import Sequence

import numpy as np

BOX_BGR = (0, 200, 0)      # green
LABEL_BGR = (255, 0, 0)    # blue (OpenCV colours are BGR)
TEXT_BGR = (255, 255, 255)


def draw_faces(bgr: np.ndarray, boxes: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Draw each box (x0, y0, x1, y1) and its label text ("Happy 0.87") onto `bgr` in place; returns it."""
    import cv2

    height, width = bgr.shape[:2]
    thickness = max(2, round(max(height, width) / 320))
    font_scale = max(0.35, max(height, width) / 1200)
    for box, text in zip(np.asarray(boxes).reshape(-1, 4), labels):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(bgr, (x0, y0), (x1, y1), BOX_BGR, thickness)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = y0 - th - base - 2 if y0 - th - base - 2 >= 0 else min(y1, height - th - base - 2)  # above, else inside
        left = min(max(0, x0), max(0, width - tw - 2))
        cv2.rectangle(bgr, (left, top), (left + tw + 2, top + th + base + 2), LABEL_BGR, cv2.FILLED)
        cv2.putText(bgr, text, (left + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale, TEXT_BGR,
                    thickness, cv2.LINE_AA)
    return bgr


def draw_status(bgr: np.ndarray, text: str) -> np.ndarray:
    """A small status line (e.g. FPS) in the top-left corner, for the --show window."""
    import cv2

    cv2.putText(bgr, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1, cv2.LINE_AA)
    return bgr
