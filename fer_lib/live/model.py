"""The trained run a live session classifies with: loading it, its colour mode, and face classification.

The model, class names, input size and normalisation come from the run's manifest + checkpoint through
`fer_lib.engine.rebuild.load_trained_model` (the contract's loader), so any run the engine trained works
without extra flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_lib.engine.rebuild import TrainedModel, load_trained_model

# Datasets the study stores as grayscale images (fer_lib.data): runs trained on them see grayscale
# faces replicated to 3 channels, so live crops are converted to grayscale first.
GRAYSCALE_DATASETS = frozenset({"fer2013", "ferplus", "jaffe", "ckplus"})
COLOR_MODES = ("auto", "gray", "rgb")


def checkpoint_path(run_dir: str | Path, which: str = "best") -> Path:
    """<run_dir>/checkpoints/<which>.pt, with a clear error when the run or the checkpoint is missing."""
    run = Path(run_dir).expanduser()
    if not run.is_dir():
        raise FileNotFoundError(
            f"run directory {run} does not exist; train one with `python -m fer_lib train ...` "
            "(runs are written to results/runs/<experiment>/<run_id>/)")
    path = run / "checkpoints" / f"{which}.pt"
    if not path.is_file():
        present = sorted(p.name for p in (run / "checkpoints").glob("*.pt")) if (run / "checkpoints").is_dir() else []
        hint = f" (present: {', '.join(present)}; pick one with --which)" if present else ""
        raise FileNotFoundError(
            f"checkpoint {path} is missing{hint}: checkpoints are git-ignored, so a run copied without them "
            "cannot be replayed; produce one with `python -m fer_lib train ...` (writes "
            "checkpoints/best.pt and checkpoints/last.pt into the run directory)")
    return path


def load_run(run_dir: str | Path, which: str = "best", device: str = "cpu") -> TrainedModel:
    """The run's TrainedModel (model in eval mode on `device`, class_names, input_size, mean, std,
    manifest, predict_proba) via fer_lib.engine.rebuild.load_trained_model."""
    checkpoint_path(run_dir, which)
    return load_trained_model(Path(run_dir).expanduser(), which=which, device=device)


def _find_key(tree: Any, keys: tuple[str, ...]) -> Any:
    """First value of any of `keys` found depth-first in nested dicts, else None."""
    if isinstance(tree, dict):
        for key in keys:
            if key in tree and tree[key] is not None:
                return tree[key]
        for value in tree.values():
            found = _find_key(value, keys)
            if found is not None:
                return found
    return None


def run_color_mode(trained: TrainedModel) -> str:
    """"gray" when the run trained on grayscale images, else "rgb".

    Looks for an explicit record first (TrainedModel.grayscale, or a manifest `grayscale` /
    `channels` / `in_chans` entry), then the manifest's dataset name.
    """
    flag = getattr(trained, "grayscale", None)
    if isinstance(flag, bool):
        return "gray" if flag else "rgb"
    manifest = getattr(trained, "manifest", None) or {}
    flag = _find_key(manifest.get("dataset", {}), ("grayscale",))
    if flag is None:
        flag = _find_key(manifest, ("grayscale",))
    if isinstance(flag, bool):
        return "gray" if flag else "rgb"
    channels = _find_key(manifest.get("dataset", {}), ("channels", "image_channels"))
    if isinstance(channels, int) and channels in (1, 3):
        return "gray" if channels == 1 else "rgb"
    name = (manifest.get("dataset") or {}).get("name") or _find_key(manifest.get("config") or {}, ("dataset",))
    if isinstance(name, dict):
        name = name.get("name")
    return "gray" if str(name or "").lower() in GRAYSCALE_DATASETS else "rgb"


def square_crops(rgb: np.ndarray, boxes: np.ndarray, margin: float, size: int) -> list[np.ndarray]:
    """One size x size uint8 crop per box: a square around the box centre, side max(w, h) * (1 + 2 margin),
    edge pixels replicated where it leaves the frame."""
    import cv2

    height, width = rgb.shape[:2]
    crops = []
    for x0, y0, x1, y1 in np.asarray(boxes, np.float32).reshape(-1, 4):
        side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
        side_px = max(2, int(round(side)))
        right, bottom = left + side_px, top + side_px
        crop = rgb[max(0, top):min(height, bottom), max(0, left):min(width, right)]
        pads = (max(0, -top), max(0, bottom - height), max(0, -left), max(0, right - width))
        if any(pads):
            crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE)
        interp = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR
        crops.append(cv2.resize(crop, (size, size), interpolation=interp))
    return crops


class FaceClassifier:
    """Classifies every face of a frame in one batch with a trained run.

    The crops go through the run's own `TrainedModel.predict_proba` (the study's one inference path:
    the run's preprocessing, device, precision and memory format), so live probabilities are the
    evaluation's. color: "gray" crops are converted to grayscale (then replicated by the run's
    preprocessing), as the run saw its training images; native_size > 0 first resizes crops to the
    training images' own resolution (e.g. 48 for FER2013) so that upsampling blur matches training.
    """

    def __init__(self, trained: TrainedModel, color: str = "auto", margin: float = 0.2, native_size: int = 0):
        if color not in COLOR_MODES:
            raise ValueError(f"unknown colour mode {color!r}; choose one of {', '.join(COLOR_MODES)}")
        self.trained = trained
        self.color = run_color_mode(trained) if color == "auto" else color
        self.margin = float(margin)
        self.native_size = int(native_size)
        self.class_names = list(trained.class_names)
        self.input_size = int(trained.input_size)

    def crops(self, rgb: np.ndarray, boxes: np.ndarray) -> torch.Tensor:
        """The uint8 face crops of `boxes` as one tensor: (N, S, S) for gray, (N, S, S, 3) for rgb."""
        import cv2

        crops = square_crops(rgb, boxes, self.margin, self.native_size or self.input_size)
        if self.color == "gray":
            crops = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in crops]
        return torch.from_numpy(np.stack(crops))

    def __call__(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Softmax probabilities (N, num_classes) for the faces in `boxes` (empty: (0, C))."""
        if len(boxes) == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        return np.asarray(self.trained.predict_proba(self.crops(rgb, boxes)), dtype=np.float32)
