"""The machine a live run measured its speed on (recorded in the FPS report)."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

from fer_lib.devices import cpu_model, load_avg


def machine_info(device: str, load_start: float | None) -> dict[str, Any]:
    """CPU, threads, torch version, platform, load average at start/end, and the GPU when on CUDA."""
    info = {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "platform": platform.platform(),
            "load_avg_start": load_start, "load_avg_end": load_avg()}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
