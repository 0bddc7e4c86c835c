"""Reading image files and JPEG byte blobs into uint8 arrays (Pillow), with one common size per dataset."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def is_image_file(path: Path) -> bool:
    """True for a visible file with a known image extension."""
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: Path, mode: str = "L", size: tuple[int, int] | None = None) -> np.ndarray:
    """One image as uint8 (H,W) for mode 'L' or (H,W,3) for 'RGB', resized (Lanczos) to size=(W,H) if given."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert(mode)
            if size is not None and img.size != tuple(size):
                img = img.resize(tuple(size), Image.Resampling.LANCZOS)
            return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read image {path}: {err}. Delete or replace the file "
                         f"(re-extract it from the official archive).") from err


def read_images(paths: list[Path], mode: str = "L", size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Stack images; size None = the first image's size (others are resized to it), int = square side."""
    if not paths:
        return np.zeros((0, 0, 0) if mode == "L" else (0, 0, 0, 3), dtype=np.uint8)
    if isinstance(size, int):
        size = (size, size)
    first = read_image(paths[0], mode, size)
    target = (first.shape[1], first.shape[0])
    out = np.empty((len(paths),) + first.shape, dtype=np.uint8)
    out[0] = first
    for i, path in enumerate(paths[1:], start=1):
        out[i] = read_image(path, mode, target)
    return out


def decode_jpeg_rows(jpeg_bytes: np.ndarray, offsets: np.ndarray, indices=None, mode: str = "RGB") -> np.ndarray:
    """Decode JPEGs stored back to back (`jpeg_bytes[offsets[i]:offsets[i+1]]`); all must share one size."""
    from PIL import Image

    blob = memoryview(np.ascontiguousarray(jpeg_bytes, dtype=np.uint8)).cast("B")
    rows = range(len(offsets) - 1) if indices is None else np.asarray(indices, dtype=np.int64)
    decoded = []
    for i in rows:
        with Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]])) as img:
            decoded.append(np.asarray(img.convert(mode), dtype=np.uint8))
    if not decoded:
        return np.zeros((0, 0, 0, 3) if mode == "RGB" else (0, 0, 0), dtype=np.uint8)
    return np.stack(decoded)


def to_rgb(images: np.ndarray) -> np.ndarray:
    """Grayscale (N,H,W) replicated to (N,H,W,3); RGB input is returned unchanged."""
    return images if images.ndim == 4 else np.repeat(images[..., None], 3, axis=-1)


def resize_batch(images: np.ndarray, size: int) -> np.ndarray:
    """Resize every image of a uint8 batch to size x size (bilinear with antialiasing, Pillow)."""
    from PIL import Image

    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size) + images.shape[3:], dtype=np.uint8)
    for i, img in enumerate(images):
        out[i] = np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))
    return out
