"""Where annotated frames go: an mp4 for video/webcam sources, image files for images and folders."""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np

from fer_lib.live.errors import LiveInputError
from fer_lib.live.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES, FrameSource

WRITABLE_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class VideoSink:
    """Annotated frames -> an mp4 (OpenCV VideoWriter, 'mp4v'), opened on the first frame."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = path, fps
        self.writer = None
        self.size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, bgr: np.ndarray, name: str) -> None:
        """Append one frame (resized to the video's size when it differs); `name` is unused here."""
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
        """Finish the file; the paths written (none when no frame came)."""
        if self.writer is not None:
            self.writer.release()
            return [self.path]
        return []


class ImageSink:
    """Annotated images -> one file (single image with an image --out) or <out dir>/<same name>."""

    def __init__(self, path: Path, single_file: bool):
        self.path, self.single_file = path, single_file
        self.written: list[Path] = []

    def write(self, bgr: np.ndarray, name: str) -> None:
        """Encode one image to --out (single file) or to <out dir>/<name> (png when the suffix is not writable)."""
        import cv2

        target = self.path if self.single_file else self.path / name
        if target.suffix.lower() not in WRITABLE_IMAGE_SUFFIXES:
            target = target.with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(target.suffix, bgr)
        if not ok:
            raise LiveInputError(f"cannot encode {target}")
        encoded.tofile(str(target))
        self.written.append(target)

    def blank(self) -> None:
        """Images have no stand-in for an unreadable file: nothing is written for it."""
        return None

    def close(self) -> list[Path]:
        """The paths written."""
        return self.written


Sink = Union[VideoSink, ImageSink]


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


def open_sink(source: FrameSource, out_file: Path, single: bool) -> Sink:
    """A VideoSink at the source's frame rate for video/webcam, else an ImageSink."""
    if source.kind in ("video", "webcam"):
        return VideoSink(out_file, source.fps)
    return ImageSink(out_file, single)
