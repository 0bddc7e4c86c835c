"""Choosing, synchronising and naming the compute device (one place for training, complexity and bench)."""

from __future__ import annotations

import contextlib
import os
import platform
import re
from collections.abc import Iterator
from pathlib import Path

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> cuda when available, else cpu; asking for cuda without CUDA is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available (use --device cpu or auto)")
    return dev


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so that wall-clock timings are true (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_bf16_hardware(cpuinfo: str | None = None) -> bool:
    """Whether this CPU's flags (/proc/cpuinfo, or `cpuinfo`) name native bf16 matrix units (AMX-BF16, AVX512-BF16):
    a fact of the machine, which no setting changes."""
    flags = _cpu_flags(cpuinfo)
    return any(flag in flags for flag in _CPU_BF16_FLAGS)


def _cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's flags from /proc/cpuinfo (or `cpuinfo`); empty where there is none."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_amx(cpuinfo: str | None = None) -> bool:
    """Whether torch may use AMX-BF16 tile units here: the CPU has them (/proc/cpuinfo flag amx_bf16) and the
    kernels are not held below AVX-512 (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA)."""
    if os.environ.get("ATEN_CPU_CAPABILITY", "").lower() in ("default", "avx2"):
        return False
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper().startswith(("SSE", "AVX2", "AVX ", "AVX_")):
        return False
    return "amx_bf16" in _cpu_flags(cpuinfo)


def load_avg() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def cpu_bf16_native(cpuinfo: str | None = None) -> bool:
    """Whether `auto` precision may use bf16 on this CPU: it has native bf16 units (cpu_bf16_hardware).

    Without them bf16 autocast on a CPU is emulated and slower than fp32. Setting
    ATEN_CPU_CAPABILITY below avx512 (as on a CPU without it) also rules bf16 out; FER_CPU_BF16=0|1
    overrides the detection (the test suite sets 0, so "auto" means fp32 there).
    """
    forced = os.environ.get("FER_CPU_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    if os.environ.get("ATEN_CPU_CAPABILITY", "").lower() in ("default", "avx2"):
        return False
    return cpu_bf16_hardware(cpuinfo)


def cuda_bf16_native(device: torch.device | None = None) -> bool:
    """Whether the GPU (`device`, else the current one) computes bf16 natively (NVIDIA Ampere and later);
    older ones only emulate it, slowly."""
    if not torch.cuda.is_available():
        return False
    if torch.version.hip:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.cuda.get_device_capability(device)[0] >= 8


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for config train.precision on `device` (None = plain fp32).

    auto: bf16 on CUDA (fp16 where the GPU has no native bf16) and on CPUs with native bf16 units, else fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"train.precision={precision!r} is not one of {list(PRECISIONS)}")
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise ValueError("train.precision=fp16 needs a CUDA device; on a CPU use bf16 or fp32")
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if cuda_bf16_native(device) else torch.float16
    return torch.bfloat16 if device.type == "cpu" and cpu_bf16_native() else None


def check_new_run_precision(precision: str, device: torch.device) -> None:
    """Refuse starting a run in bf16 on a GPU that only emulates it: it would neither train nor time as on a real
    bf16 unit. Stored bf16 runs still re-evaluate and resume there (emulated, same arithmetic), so only new runs
    ask this."""
    if precision == "bf16" and device.type == "cuda" and not cuda_bf16_native(device):
        raise ValueError(f"train.precision=bf16 but {torch.cuda.get_device_name(device)} has no native bf16; "
                         "use fp16 or auto on this GPU")


def precision_name(dtype: torch.dtype | None) -> str:
    """The manifest's precision label: "float32" for plain fp32, else the autocast dtype's name."""
    return "float32" if dtype is None else str(dtype).replace("torch.", "")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_capability() -> str:
    """The vector instruction set torch's CPU kernels use here ('avx2', 'avx512', ...), with '+bf16' when the CPU
    has native bf16 units: two CPUs of one model name can differ in it, and speed and the `auto` precision with them.
    It names the hardware: FER_CPU_BF16 changes what `auto` picks (recorded as the run's precision), not this."""
    capability = str(torch.backends.cpu.get_cpu_capability()).lower()
    return capability + ("+bf16" if cpu_bf16_hardware() else "")


def device_name(device: str | torch.device) -> str:
    """Run records' device name: the CUDA device name, or '<CPU model> CPU (N threads)'."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} CPU ({torch.get_num_threads()} threads)"


def device_label(device: str | torch.device) -> str:
    """Complexity tables' short device label: 'cuda: <GPU name>', or 'cpu (N thread[s])' (no CPU model)."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'s' if n > 1 else ''})"


def device_slug(device: str | torch.device) -> str:
    """File-name form of the device: 'cpu-amd-epyc-avx2' (a CPU with its instruction set, cpu_capability),
    'nvidia-h100-80gb-hbm3'."""
    device = torch.device(device)
    name = device_name(device)
    if device.type == "cpu":
        name = "cpu " + re.sub(r"\s*CPU \(\d+ threads?\)$", "", name) + " " + cpu_capability()
    name = re.sub(r"\((r|tm)\)", "", name.lower())
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-") or device.type


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Temporarily set torch's CPU thread count (None: leave it as it is)."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
