"""What a manifest records about where a run came from: the code's commit and the library versions."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from fer_lib.paths import PROJECT_ROOT


def git_info(repo: Path = PROJECT_ROOT) -> dict:
    """{commit, dirty} of the repository holding the code. A copy of the tree without its .git (a GPU
    machine's) names the commit it was packed at through $FER_SOURCE_COMMIT ("<sha>" or "<sha> dirty", written
    by `make window-pack`); else "unknown"."""
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "--no-optional-locks", "-C", str(repo), "status", "--porcelain"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
        return {"commit": commit, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        recorded = os.environ.get("FER_SOURCE_COMMIT", "").split()
        if recorded:
            return {"commit": recorded[0], "dirty": recorded[1:] == ["dirty"], "source": "copy of the tree"}
        return {"commit": "unknown", "dirty": "unknown"}


def library_versions() -> dict:
    """Versions of the libraries a run depends on."""
    import torch
    import torchvision

    try:
        import timm

        timm_version = timm.__version__
    except ImportError:  # pragma: no cover
        timm_version = "not installed"
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "timm": timm_version,
            "numpy": np.__version__, "python": platform.python_version(),
            "cuda": torch.version.cuda or "none"}
