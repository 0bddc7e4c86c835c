"""Writers of tiny datasets in their public formats (used by the tests/test_data_*.py files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

FER_CLASS_FOLDERS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # label order 0..6


def write_fer2013_csv(path: Path, images: np.ndarray, labels, usages) -> Path:
    """A fer2013.csv (emotion,pixels,Usage) holding the given 48x48 uint8 images."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["emotion,pixels,Usage"]
    for img, label, usage in zip(images, labels, usages):
        lines.append(f"{int(label)},{' '.join(map(str, np.asarray(img).reshape(-1)))},{usage}")
    path.write_text("\n".join(lines) + "\n")
    return path


def random_images(n: int, size: int = 48, rgb: bool = False, seed: int = 0) -> np.ndarray:
    shape = (n, size, size, 3) if rgb else (n, size, size)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def write_png(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


def write_class_folders(root: Path, classes, per_class: int = 2, size: int = 48, rgb: bool = False,
                        names=None, seed: int = 0) -> dict[str, list[Path]]:
    """root/<class>/<name>.png with random images; names(class, i) gives the file name."""
    rng_seed = seed
    out = {}
    for cls in classes:
        imgs = random_images(per_class, size, rgb, seed=rng_seed)
        rng_seed += 1
        out[cls] = [write_png(root / cls / (names(cls, i) if names else f"img{i:03d}.png"), img)
                    for i, img in enumerate(imgs)]
    return out
