"""The process's memory allocator, set by the project itself so that notebooks, the CLI and campaign jobs
all train at the CPU's real speed without anyone remembering an environment variable.

Why: a training step frees and re-allocates the same large activation buffers every step. Under glibc's
defaults each buffer over the mmap threshold is a fresh mmap/munmap pair (page faults, zeroing), and
freed heap tops are trimmed back to the OS, so on a 2-core CPU half the wall time went to the kernel
(measured, issue 32: LC2FER C5 17 -> 49 img/s, ResNet-50 @48 129 -> 178). Keeping freed memory in the
heap (no mmap for large blocks, a trim threshold of 1 GiB) removes that. The cost is a process that
holds its peak heap until it exits, which a training or benchmark process does anyway.

`configure()` runs once when `fer_lib` is imported (before torch allocates). It does nothing when
FER_MALLOC=system (the benchmark's options-off baseline, or a user who wants glibc's defaults), when
jemalloc or tcmalloc is preloaded (LD_PRELOAD; they already keep memory), or off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

# glibc <malloc.h> parameter numbers for mallopt()
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30

_state: dict[str, str] = {"allocator": "not configured"}


def _preloaded() -> str | None:
    """The name of a preloaded allocator (jemalloc, tcmalloc, mimalloc), if LD_PRELOAD names one."""
    preload = os.environ.get("LD_PRELOAD", "")
    for name in ("jemalloc", "tcmalloc", "mimalloc"):
        if name in preload:
            return name
    return None


def configure() -> str:
    """Set the allocator for this process (see the module docstring); returns what is in force."""
    preloaded = _preloaded()
    if preloaded:
        _state["allocator"] = f"{preloaded} (LD_PRELOAD)"
    elif os.environ.get("FER_MALLOC", "").lower() in ("system", "default", "off", "0"):
        _state["allocator"] = "glibc defaults (FER_MALLOC=system)"
    else:
        _state["allocator"] = _glibc_keep_memory()
    return _state["allocator"]


def _glibc_keep_memory() -> str:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        version = libc.gnu_get_libc_version
    except (OSError, AttributeError):
        return "system allocator (not glibc: left as it is)"
    version.restype = ctypes.c_char_p
    ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    if not ok:
        return f"glibc {version().decode()} defaults (mallopt refused)"
    return f"glibc {version().decode()} mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=1GiB)"


def allocator() -> str:
    """What allocator this process runs with, as recorded in run manifests and bench files."""
    return _state["allocator"]
