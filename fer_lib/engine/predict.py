"""The one inference loop of the study.

Every prediction — validation during training, the held-out evaluation, cross-dataset accuracy, the live
pipeline, features for t-SNE — goes through `predict`: eval mode, the batch preprocessing training used
(fer_lib.engine.runtime.prepare_batch) and the run's precision and memory format (its Runtime).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from fer_lib.engine.runtime import Runtime, prepare_batch, progress_enabled


@torch.no_grad()
def predict(model: torch.nn.Module, images_uint8: torch.Tensor, rt: Runtime, *, batch_size: int = 256,
            forward: Callable[[torch.Tensor], torch.Tensor] | None = None, desc: str = "predict") -> torch.Tensor:
    """Outputs (N, ...) of `forward` (default: the model, i.e. logits) over uint8 images (any layout
    fer_lib.augment.to_nchw accepts), in float32 on rt.device; the model is put in eval mode."""
    model.eval()
    forward = forward or model
    out = []
    for start in tqdm(range(0, images_uint8.shape[0], batch_size), desc=desc, leave=False,
                      disable=not progress_enabled(), file=sys.stderr):
        x = prepare_batch(images_uint8[start:start + batch_size].to(rt.device, non_blocking=True), rt)
        with rt.autocast():
            out.append(forward(x).float())
    return torch.cat(out) if out else torch.zeros((0, 0), device=rt.device)


def predict_proba(model: torch.nn.Module, images_uint8: torch.Tensor, rt: Runtime, *, batch_size: int = 256,
                  desc: str = "predict") -> np.ndarray:
    """Softmax probabilities (N, C) as a float32 numpy array."""
    logits = predict(model, images_uint8, rt, batch_size=batch_size, desc=desc)
    if logits.numel() == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.softmax(logits, 1).cpu().numpy()
