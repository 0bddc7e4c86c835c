"""Real-time recognition (P1 section 5.4, extended): faces in a webcam, video, image or folder,
detected with MTCNN and classified by any run the study's engine trained.

Entry points: `run_live(LiveOptions(...))` and `python -m fer_lib live SOURCE --run RUN_DIR --out PATH`.
OpenCV and facenet-pytorch are imported lazily by the functions that need them.
"""

from __future__ import annotations

from fer_lib.live.options import LiveOptions, LiveReport
from fer_lib.live.pipeline import run_live

__all__ = ["LiveOptions", "LiveReport", "run_live"]
