"""How batches flow on a device: precision (autocast), memory format, preprocessing, seeding, logging."""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass

import numpy as np
import torch

from fer_lib.augment import Augment, normalize, resize, to_float, to_rgb
from fer_lib.devices import autocast_dtype


@dataclass
class Runtime:
    """How batches flow on this device: precision, memory format, preprocessing constants."""

    device: torch.device
    input_size: int
    mean: list[float]
    std: list[float]
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)


def make_runtime(cfg: dict, device: torch.device) -> Runtime:
    """Runtime from config: train.precision (fer_lib.devices.autocast_dtype), channels_last on CUDA when "auto"."""
    train, data = cfg["train"], cfg["data"]
    amp_dtype = autocast_dtype(train["precision"], device)
    cl = train["channels_last"]
    channels_last = device.type == "cuda" if cl == "auto" else bool(cl)
    return Runtime(device=device, input_size=int(data["input_size"]), mean=list(data["mean"]), std=list(data["std"]),
                   amp_dtype=amp_dtype, channels_last=channels_last)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def progress_enabled() -> bool:
    """Progress bars only on a terminal, and not when FER_PROGRESS=0."""
    return os.environ.get("FER_PROGRESS", "1") != "0" and sys.stderr.isatty()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare_batch(images_uint8: torch.Tensor, rt: Runtime, generator: torch.Generator | None = None,
                  augment: Augment | None = None, copy_mask: torch.Tensor | None = None,
                  copy_augment: Augment | None = None) -> torch.Tensor:
    """uint8 batch -> float -> resize -> augment (+ copy_augment on resampled copies) -> RGB -> normalise."""
    x = resize(to_float(images_uint8), rt.input_size)
    if augment is not None and augment.enabled:
        x = augment(x, generator)
    if copy_augment is not None and copy_augment.enabled and copy_mask is not None and bool(copy_mask.any()):
        x = x.clone()
        x[copy_mask] = copy_augment(x[copy_mask], generator)
    x = normalize(to_rgb(x), rt.mean, rt.std)
    if rt.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x
