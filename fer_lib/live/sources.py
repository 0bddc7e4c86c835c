"""Frame sources: a webcam index, a video file, one image, or a folder of images.

Every source yields `Frame`s holding a BGR uint8 (H, W, 3) image, or `image=None` with an `error`
for a frame or file that could not be decoded, so one bad frame never ends a long run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from fer_lib.live.errors import LiveInputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
MAX_CONSECUTIVE_BAD_FRAMES = 25  # a video whose next 25 frames all fail to decode has ended


@dataclass
class Frame:
    """One decoded frame (or the record of one that could not be decoded)."""

    index: int
    name: str                      # file name (images) or "frame <i>" (video, webcam)
    image: np.ndarray | None       # BGR uint8 (H, W, 3); None when unreadable
    error: str | None = None
    decode_s: float = 0.0


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Any decoded image (grayscale, BGRA, 16-bit) as contiguous BGR uint8 (H, W, 3)."""
    import cv2

    if image.dtype != np.uint8:
        if image.dtype.kind in "ui":      # e.g. 16-bit PNG/TIFF
            top = float(np.iinfo(image.dtype).max)
        else:                             # float images: [0, 1] or [0, 255]
            top = 1.0 if float(np.nanmax(image, initial=0.0)) <= 1.0 else 255.0
        image = np.clip(image.astype(np.float32) * (255.0 / top), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    raise LiveInputError(f"unsupported image shape {image.shape}: expected (H,W), (H,W,3) or (H,W,4)")


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to BGR uint8; LiveInputError naming the file when it cannot be read."""
    import cv2

    try:
        raw = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:
        raise LiveInputError(f"cannot read image {path}: {err}") from err
    image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    if image is None or image.size == 0:
        raise LiveInputError(f"cannot read image {path}: not a decodable image file (corrupt, empty or unsupported format)")
    return to_bgr(image)


class FrameSource:
    """Base class: iterate to get `Frame`s; `close()` releases the device or file."""

    kind: str = ""
    fps: float = 0.0
    mirror: bool = False           # P1 mirrors webcam frames only
    description: str = ""

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the underlying capture (no-op for files)."""


class ImageSource(FrameSource):
    """One image, or every image file of a folder (sorted by name); unreadable folder files are
    yielded with an error (the pipeline warns and skips them); an unreadable single image raises."""

    def __init__(self, paths: list[Path], kind: str, description: str, max_frames: int | None = None):
        self.paths = paths[:max_frames] if max_frames else paths
        self.kind = kind
        self.description = description

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            start = time.perf_counter()
            try:
                image = read_image(path)
            except LiveInputError as err:
                if self.kind == "image":
                    raise
                yield Frame(index, path.name, None, str(err), time.perf_counter() - start)
                continue
            yield Frame(index, path.name, image, None, time.perf_counter() - start)


class CaptureSource(FrameSource):
    """A video file or a webcam read with cv2.VideoCapture."""

    def __init__(self, capture: Any, kind: str, description: str, max_frames: int | None = None):
        import cv2

        self.capture = capture
        self.kind = kind
        self.description = description
        self.mirror = kind == "webcam"
        self.max_frames = max_frames
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.5 <= fps <= 240 else 30.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if kind == "video" and count > 0 else None

    def __iter__(self) -> Iterator[Frame]:
        index, bad_run = 0, 0
        while self.max_frames is None or index < self.max_frames:
            start = time.perf_counter()
            try:
                ok, image = self.capture.read()
            except Exception as err:  # noqa: BLE001 - a decoder error must not end the run
                ok, image = False, None
                read_error = f"decoder error: {err}"
            else:
                read_error = "frame could not be decoded"
            elapsed = time.perf_counter() - start
            if ok and image is not None and image.size:
                bad_run = 0
                yield Frame(index, f"frame {index}", to_bgr(image), None, elapsed)
                index += 1
                continue
            # End of stream, or a corrupt frame in the middle of a file: keep going while the
            # container says frames remain, so a damaged frame never kills a long video halfway.
            if self.kind == "webcam" or self.frame_count is None or index >= self.frame_count:
                if self.kind == "webcam" and index == 0:
                    raise LiveInputError(f"{self.description} opened but returned no frame")
                return
            bad_run += 1
            if bad_run > MAX_CONSECUTIVE_BAD_FRAMES:
                return
            yield Frame(index, f"frame {index}", None, read_error, elapsed)
            index += 1

    def close(self) -> None:
        """Release the capture device or file."""
        self.capture.release()


def _quietly(make: Callable[[], Any]) -> Any:
    """Call `make()` with OpenCV's own warnings silenced."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        return make()
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        return make()
    finally:
        logging.setLogLevel(level)


def open_source(spec: str, max_frames: int | None = None) -> FrameSource:
    """Open SOURCE: digits -> webcam index, a folder -> its images, an image file, else a video file."""
    import cv2

    if spec.isdigit():
        capture = _quietly(lambda: cv2.VideoCapture(int(spec)))  # our error below says it better
        if not capture.isOpened():
            capture.release()
            raise LiveInputError(
                f"webcam {spec} could not be opened (no camera at index {spec}, e.g. /dev/video{spec} on Linux, "
                "or it is busy / not permitted); try another index or pass a video file")
        return CaptureSource(capture, "webcam", f"webcam {spec}", max_frames)
    path = Path(spec).expanduser()
    if not path.exists():
        raise LiveInputError(f"source {spec} does not exist (expected a webcam index, a video, an image or a folder)")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise LiveInputError(f"folder {path} holds no images (looked for {', '.join(IMAGE_SUFFIXES)})")
        return ImageSource(files, "folder", f"folder {path} ({len(files)} images)", max_frames)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource([path], "image", f"image {path}", max_frames)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise LiveInputError(f"cannot open video {path}: not a readable video file (corrupt, empty or unsupported codec)")
    return CaptureSource(capture, "video", f"video {path}", max_frames)
