"""Datasets: registry, public-format loaders, prepared-npz cache, synthetic faces, splits, balancing.

    from fer_lib.data import load_dataset, split_indices
    ds = load_dataset("fer2013")            # or "synthetic" (embedded, no download)
    idx = split_indices(ds, {"train": ["Training"], "val": ["PublicTest"], "test": ["PrivateTest"]}, seed=0)
"""

from fer_lib.data.core import CANONICAL_CLASSES, FERDataset, canonical_name
from fer_lib.data.registry import (DatasetSpec, dataset_spec, list_datasets, load_dataset,
                                   missing_dataset_error, register_dataset)
from fer_lib.data.prepared import file_sha256, read_prepared, write_npz
from fer_lib.data.splits import split_indices
from fer_lib.data.balance import ResamplePlan, class_weights, resample_plan

# Importing a format module registers its dataset(s); the order is the order of list_datasets().
from fer_lib.data import synthetic as _synthetic  # noqa: E402,F401
from fer_lib.data import fer2013 as _fer2013  # noqa: E402,F401
from fer_lib.data import ferplus as _ferplus  # noqa: E402,F401
from fer_lib.data import rafdb as _rafdb  # noqa: E402,F401
from fer_lib.data import folders as _folders  # noqa: E402,F401
from fer_lib.data import jaffe as _jaffe  # noqa: E402,F401
from fer_lib.data import combined as _combined  # noqa: E402,F401

__all__ = [
    "CANONICAL_CLASSES", "FERDataset", "canonical_name", "DatasetSpec", "dataset_spec", "list_datasets",
    "load_dataset", "missing_dataset_error", "register_dataset", "file_sha256", "read_prepared", "write_npz",
    "split_indices", "ResamplePlan", "class_weights", "resample_plan",
]
