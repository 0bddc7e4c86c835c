"""fer_lib: the library behind the fer-repro reproducibility study.

Modules, one job each:
    data        dataset registry, public-format loaders, splits, balancing, synthetic faces
    models      model registry (`create_model`) with one file per paper's architecture
    complexity  parameters, GFLOPs and inference speed
    augment     batched on-device augmentation and preprocessing
    train       the one training loop every paper's experiment runs through
    evaluate    metrics, confusion matrices, predictions
    records     run directories and manifests
    config      experiment configs (YAML under fer_lib/configs/) and profiles
"""

import os as _os

# torch's OpenMP threads spin while waiting by default; on small shared CPUs that slows training
# many-fold whenever another process is busy. Must be set before torch is imported; the user's
# own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
