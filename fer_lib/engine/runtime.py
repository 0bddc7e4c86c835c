"""How batches flow on a device: precision (autocast), memory format, preprocessing, seeding, logging.

On a CPU the engine trains in the configuration measured fastest there (issue 32; `python -m fer_lib bench`
shows each against the options-off baseline): the allocator (fer_lib.allocator, set at import), channels-last
(`train.channels_last: auto` is on for CUDA and CPU), depthwise convolutions kept in fp32 under bf16 autocast
where the CPU has AMX (`train.dwconv_fp32: auto`: AMX runs bf16 GEMMs, but its depthwise weight-gradient
kernel is 2.2x slower in bf16 than in fp32; on AVX512-BF16 without AMX, bf16 depthwise is the faster one,
22.9 vs 47.6 img/s for LC2FER C5), and `train.compile` (off by default: on this CPU it slowed C5 from 48 to
11-16 img/s after 55-130 s of compiling). A run records each choice and resumes with it.
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from fer_lib.augment import Augment, normalize, resize, to_float, to_rgb
from fer_lib.devices import autocast_dtype, cpu_has_amx


@dataclass
class Runtime:
    """How batches flow on this device: precision, memory format, preprocessing constants."""

    device: torch.device
    input_size: int
    mean: list[float]
    std: list[float]
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    dwconv_fp32: bool = False
    compile: bool = False

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)


def make_runtime(cfg: dict, device: torch.device) -> Runtime:
    """Runtime from config: train.precision (fer_lib.devices.autocast_dtype); channels_last "auto" = on (CUDA and
    CPU); dwconv_fp32 "auto" = on for bf16 autocast on a CPU with AMX; compile as set (any device)."""
    train, data = cfg["train"], cfg["data"]
    amp_dtype = autocast_dtype(train["precision"], device)
    cl = train["channels_last"]
    channels_last = device.type in ("cuda", "cpu") if cl == "auto" else bool(cl)
    dw = train.get("dwconv_fp32", False)
    dwconv_fp32 = (device.type == "cpu" and amp_dtype == torch.bfloat16 and cpu_has_amx()) if dw == "auto" else bool(dw)
    return Runtime(device=device, input_size=int(data["input_size"]), mean=list(data["mean"]), std=list(data["std"]),
                   amp_dtype=amp_dtype, channels_last=channels_last, dwconv_fp32=dwconv_fp32,
                   compile=bool(train.get("compile", False)))


class Fp32DepthwiseConv2d(nn.Conv2d):
    """A depthwise nn.Conv2d that runs in fp32 under autocast (same parameters and state dict)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float())


def keep_depthwise_fp32(model: nn.Module) -> int:
    """Make every depthwise convolution of `model` an Fp32DepthwiseConv2d in place; returns how many."""
    count = 0
    for module in model.modules():
        if type(module) is nn.Conv2d and module.groups > 1 and module.groups == module.in_channels:
            module.__class__ = Fp32DepthwiseConv2d
            count += 1
    return count


def prepare_model(model: nn.Module, rt: Runtime) -> tuple[nn.Module, nn.Module]:
    """Put a built model on rt's device in rt's layout; returns (model, the forward to call: compiled or not).

    The one place the engine, the benchmark and a rebuilt run lay a model out, so they compute alike."""
    model.to(rt.device)
    if rt.channels_last:
        model.to(memory_format=torch.channels_last)
    if rt.dwconv_fp32:
        keep_depthwise_fp32(model)
    return model, (torch.compile(model) if rt.compile else model)


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
