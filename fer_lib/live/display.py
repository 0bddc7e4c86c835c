"""The optional --show window (OpenCV), only where a display exists."""

from __future__ import annotations

import os
import sys
from typing import Callable

import numpy as np


class Display:
    """An OpenCV window when --show and a display exist; 'q' or Esc stops the run."""

    def __init__(self, wanted: bool, title: str, warn: Callable[[str], None]):
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
        """Close the window, if one was opened."""
        if self.enabled:
            import cv2

            cv2.destroyAllWindows()
