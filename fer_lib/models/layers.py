"""Small layers and helpers shared by the model files (timm supplies the big blocks)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def tokens_to_nchw(x: torch.Tensor) -> torch.Tensor:
    """Grad-CAM reshape: a token map (B,H,W,C) or a square token sequence (B,N,C) -> (B,C,H,W)."""
    if x.ndim == 4:
        return x.permute(0, 3, 1, 2)
    if x.ndim == 3:
        b, n, c = x.shape
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"cannot lay out {n} tokens on a square grid")
        return x.transpose(1, 2).reshape(b, c, side, side)
    raise ValueError(f"expected (B,H,W,C) or (B,N,C), got shape {tuple(x.shape)}")


class NHWCWrap(nn.Module):
    """Run an NCHW module on an NHWC tensor (timm's Swin keeps its maps channels-last)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with requires_grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
