"""fer_lib: the library behind the fer-repro reproducibility study.

Packages, one job each (ARCHITECTURE.md has the picture and the rules):
    data      dataset registry, public-format loaders, splits, balancing, synthetic faces, the data audit
    models    model registry (`create_model`) with one file per paper's architecture
    claims    every published number the study checks, with its one lookup
    runs      run records: store, provenance, write lock, and which runs count
    engine    runtime, the one training loop, the one predict loop, metrics, evaluation, resume, rebuild
    bench     training throughput, parameters, GMACs and inference speed
    live      the webcam / video demo
    study     what the notebooks call: tables, verdicts, comparisons, the report, the site, the campaign
    commands  one module per subcommand of `python -m fer_lib`
    allocator the process's memory allocator, set at import (fast CPU training; FER_MALLOC=system keeps glibc's)
"""

import os as _os

# torch's OpenMP threads spin while waiting by default; on small shared CPUs that slows training
# many-fold whenever another process is busy. Must be set before torch is imported; the user's
# own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from fer_lib import allocator as _allocator  # noqa: E402  (after the OpenMP setting, before torch allocates)

_allocator.configure()

__version__ = "0.1.0"
