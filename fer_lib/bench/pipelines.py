"""The three pipelines that feed the timed train step, and the step itself (the engine's own functions).

  upper_bound  random float tensors already on the device at input size, no augmentation: the step only.
  ours         the engine's data path: the split held as one uint8 tensor on the device (make_split),
               seeded index batches, prepare_batch (float, resize, Augment, RGB, normalise,
               channels_last) on the device.
  usual        what most FER repositories do: PIL images kept in a Dataset, torchvision.transforms
               (Resize, RandomHorizontalFlip, RandomRotation, RandomAffine, ColorJitter, GaussianBlur,
               Grayscale(3), ToTensor, Normalize, per the recipe) through a DataLoader with
               min(4, cpu count) workers, pin_memory on CUDA.

All three feed the engine's `train_step` (autocast forward + loss, backward, optimizer step), with the
model, loss, optimizer and runtime built by the engine from the case's config.
"""

from __future__ import annotations

import os
from dataclasses import replace
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.autograd.profiler import record_function
from torchvision import transforms as T

from fer_lib.augment import Augment
from fer_lib.bench.cases import NUM_CLASSES, PIPELINES, BenchCase
from fer_lib.engine.batches import make_split
from fer_lib.engine.loop import build_criterion, build_optimizer, train_step
from fer_lib.engine.runtime import make_runtime, prepare_batch, prepare_model
from fer_lib.models import create_model

Batch = tuple[torch.Tensor, torch.Tensor]


def synthetic_images(n: int, size: int, channels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (N,S,S) (gray) or (N,S,S,3) (RGB) and random labels in [0, NUM_CLASSES)."""
    rng = np.random.default_rng(seed)
    shape = (n, size, size) if channels == 1 else (n, size, size, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, NUM_CLASSES, n, dtype=np.int64)


def upper_bound_feeder(rt, batch: int, seed: int = 0) -> Callable[[], Batch]:
    """The same random float batch (B,3,S,S), already on the device and at input size, every step."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, rt.input_size, rt.input_size, generator=g).to(rt.device)
    if rt.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, NUM_CLASSES, (batch,), generator=g).to(rt.device)
    return lambda: (x, y)


def ours_feeder(images: np.ndarray, labels: np.ndarray, rt, batch: int, recipe: dict | None,
                seed: int = 0) -> Callable[[], Batch]:
    """The engine's data path: one uint8 split tensor on the device, seeded permutation batches,
    the engine's prepare_batch with the recipe's Augment (as one training epoch does)."""
    split = make_split("bench", images, labels, np.arange(len(labels)), rt.device)
    augment = Augment(recipe)
    generator = torch.Generator().manual_seed(seed)
    n = len(split)
    if n < batch:
        raise ValueError(f"bench: {n} images cannot fill a batch of {batch}")
    state = {"perm": None, "pos": n}

    def next_batch() -> Batch:
        if state["pos"] + batch > n:
            state["perm"] = torch.randperm(n, generator=generator).to(rt.device, non_blocking=True)
            state["pos"] = 0
        idx = state["perm"][state["pos"]:state["pos"] + batch]
        state["pos"] += batch
        return prepare_batch(split.images[idx], rt, generator, augment), split.labels[idx]

    return next_batch


def _blur_op(blur: dict):
    """GaussianBlur of a recipe's `blur` entry ({kernel, sigma, p}), wrapped in RandomApply when p < 1."""
    sigma = blur.get("sigma", [0.1, 2.0])
    sigma = (float(sigma), float(sigma)) if isinstance(sigma, (int, float)) else tuple(float(s) for s in sigma)
    op = T.GaussianBlur(int(blur.get("kernel", 3)), sigma=sigma)
    p = float(blur.get("p", 1.0))
    return op if p >= 1.0 else T.RandomApply([op], p=p)


def usual_transform(recipe: dict | None, input_size: int, mean: Sequence[float], std: Sequence[float],
                    grayscale: bool) -> T.Compose:
    """The usual torchvision (v1) per-image pipeline for a recipe: Resize first (as our engine), then the
    random ops, Grayscale(3) for gray images, ToTensor, Normalize."""
    r = dict(recipe or {})
    ops: list = [T.Resize((input_size, input_size), interpolation=T.InterpolationMode.BILINEAR, antialias=True)]
    if r.get("hflip"):
        ops.append(T.RandomHorizontalFlip(p=float(r["hflip"])))
    if r.get("rotate_deg"):
        ops.append(T.RandomRotation(float(r["rotate_deg"]), interpolation=T.InterpolationMode.BILINEAR))
    if r.get("translate") or r.get("zoom"):
        t, z = float(r.get("translate") or 0.0), float(r.get("zoom") or 0.0)
        ops.append(T.RandomAffine(degrees=0, translate=(t, t) if t else None, scale=(1 - z, 1 + z) if z else None,
                                  interpolation=T.InterpolationMode.BILINEAR))
    jitter = {k: float(r.get(k) or 0.0) for k in ("brightness", "contrast", "saturation", "hue")}
    if any(jitter.values()):
        ops.append(T.ColorJitter(**jitter))
    if r.get("blur"):
        ops.append(_blur_op(r["blur"]))
    if grayscale:
        ops.append(T.Grayscale(num_output_channels=3))
    ops += [T.ToTensor(), T.Normalize(list(mean), list(std))]
    return T.Compose(ops)


class PILImages(torch.utils.data.Dataset):
    """Images kept as PIL images (as FER repositories do), transformed per item."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable):
        self.images = [Image.fromarray(np.ascontiguousarray(a)) for a in images]
        self.labels = [int(v) for v in labels]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def default_workers() -> int:
    """min(4, cpu count): the usual DataLoader setting."""
    return min(4, os.cpu_count() or 1)


def usual_loader(images: np.ndarray, labels: np.ndarray, rt, batch: int, recipe: dict | None,
                 num_workers: int | None = None, seed: int = 0, shuffle: bool = True) -> torch.utils.data.DataLoader:
    """DataLoader over PIL images with the usual torchvision transforms (pin_memory on CUDA, drop_last)."""
    transform = usual_transform(recipe, rt.input_size, rt.mean, rt.std, grayscale=images.ndim == 3)
    workers = default_workers() if num_workers is None else int(num_workers)
    return torch.utils.data.DataLoader(PILImages(images, labels, transform), batch_size=batch, shuffle=shuffle,
                                       num_workers=workers, pin_memory=rt.device.type == "cuda", drop_last=True,
                                       generator=torch.Generator().manual_seed(seed))


def usual_feeder(loader: torch.utils.data.DataLoader, rt) -> tuple[Callable[[], Batch], Callable[[], None]]:
    """(next_batch, close): batches from the loader moved to the device (non_blocking when pinned)."""
    state = {"it": iter(loader)}
    pinned = loader.pin_memory

    def next_batch() -> Batch:
        try:
            x, y = next(state["it"])
        except StopIteration:
            state["it"] = iter(loader)
            x, y = next(state["it"])
        x = x.to(rt.device, non_blocking=pinned)
        if rt.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(rt.device, non_blocking=pinned)

    def close() -> None:
        state["it"] = None  # shuts the workers down

    return next_batch, close


def make_feeder(pipeline: str, case: BenchCase, rt, images: np.ndarray, labels: np.ndarray, batch: int,
                num_workers: int | None, seed: int) -> tuple[Callable[[], Batch], Callable[[], None]]:
    """(next_batch, close) of one pipeline."""
    if pipeline == "upper_bound":
        return upper_bound_feeder(rt, batch, seed), lambda: None
    if pipeline == "ours":
        return ours_feeder(images, labels, rt, batch, case.recipe, seed), lambda: None
    if pipeline == "usual":
        return usual_feeder(usual_loader(images, labels, rt, batch, case.recipe, num_workers, seed), rt)
    raise ValueError(f"bench: unknown pipeline {pipeline!r} (known: {', '.join(PIPELINES)})")


def setup_case(case: BenchCase, device: torch.device):
    """(model, criterion, optimizer, runtime) built by the engine's functions from the case's config."""
    rt = make_runtime(case.cfg, device)
    model = create_model(case.model, num_classes=NUM_CLASSES, pretrained=False, **case.model_options)
    model, _ = prepare_model(model, replace(rt, compile=False))
    model.train()
    criterion = build_criterion(case.cfg, np.arange(NUM_CLASSES).repeat(4), NUM_CLASSES, device)
    optimizer = build_optimizer(case.cfg, model)
    return model, criterion, optimizer, rt


def make_train_step(model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, rt,
                    grad_clip: float | None = None) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """The engine's own `train_step`, bound to one model (so training and bench cannot drift)."""
    scaler = torch.amp.GradScaler("cuda") if rt.amp_dtype == torch.float16 else None

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with record_function("bench.train_step"):
            train_step(model, criterion, optimizer, x, y, rt, scaler=scaler, grad_clip=grad_clip)

    return step
