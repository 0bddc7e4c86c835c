"""Splits held on the training device as single uint8 tensors, and the guard that keeps test out of training.

Each split is ONE uint8 tensor (N,C,H,W) on the training device; batches are gathered with a seeded
permutation and augmented on the device (fer_lib.augment). Model selection sees only the train and val
splits: `fit` receives a `TrainingSplits`, which refuses any other split.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from fer_lib.augment import to_nchw
from fer_lib.config import split_spec
from fer_lib.data import resample_plan, split_indices

TRAIN_SPLITS = ("train", "val")


@dataclass
class SplitData:
    """One split held as a single uint8 tensor (N,C,H,W) + labels, both on the training device."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    indices: np.ndarray          # rows of the dataset these samples come from
    is_copy: torch.Tensor | None = None  # resampled extra copies (bool, N)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


class TestSplitAccessError(PermissionError):
    """Raised when the training loop asks for a split other than train/val."""

    __test__ = False  # not a pytest test class


class TrainingSplits(Mapping):
    """The only splits model training and selection may see: train and val. Anything else raises."""

    def __init__(self, train: SplitData, val: SplitData):
        self._splits = {"train": train, "val": val}

    def __getitem__(self, name: str) -> SplitData:
        if name not in self._splits:
            raise TestSplitAccessError(f"split {name!r} is not available during training: model selection uses "
                                       f"validation only; held-out splits are evaluated after training")
        return self._splits[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._splits)

    def __len__(self) -> int:
        return 2


def make_split(name: str, images: np.ndarray, labels: np.ndarray, indices: np.ndarray, device: torch.device,
               is_copy: np.ndarray | None = None) -> SplitData:
    """Copy the rows `indices` of a dataset's uint8 images into one (N,C,H,W) tensor on `device`."""
    imgs = to_nchw(torch.from_numpy(np.ascontiguousarray(images[indices]))).contiguous()
    return SplitData(name=name, images=imgs.to(device),
                     labels=torch.as_tensor(labels[indices], dtype=torch.long).to(device),
                     indices=np.asarray(indices, dtype=np.int64),
                     is_copy=None if is_copy is None else torch.as_tensor(is_copy, dtype=torch.bool).to(device))


def limit_indices(indices: dict[str, np.ndarray], max_samples: dict | None, seed: int) -> dict[str, np.ndarray]:
    """Cap each split at data.max_samples[split] (extra test splits use the "test" cap): a seeded random
    subset, kept in dataset order. Used by smoke profiles; None means no cap."""
    out = {}
    for name, idx in indices.items():
        cap = (max_samples or {}).get(name if name in ("train", "val", "test") else "test")
        if cap is not None and len(idx) > cap:
            rng = np.random.default_rng([seed, sum(map(ord, name))])
            idx = np.sort(rng.choice(idx, size=int(cap), replace=False))
        out[name] = np.asarray(idx, dtype=np.int64)
    return out


def build_splits(cfg: dict, ds, seed: int, dev: torch.device):
    """(held-out indices, TrainingSplits, resample info) of a config on a dataset."""

    indices = limit_indices(split_indices(ds, split_spec(cfg), seed), cfg["data"]["max_samples"], seed)
    train_idx, val_idx = indices["train"], indices["val"]
    is_copy, plan_info = None, None
    if cfg["balance"].get("resample"):
        plan = resample_plan(ds.labels[train_idx], ds.class_names, cfg["balance"]["resample"], seed)
        train_idx, is_copy = train_idx[plan.indices], np.asarray(plan.is_copy, dtype=bool)
        plan_info = {"before": plan.before, "after": plan.after}
    # The training loop gets train and val only; held-out splits stay as indices until training is over.
    splits = TrainingSplits(train=make_split("train", ds.images, ds.labels, train_idx, dev, is_copy),
                            val=make_split("val", ds.images, ds.labels, val_idx, dev))
    return indices, splits, plan_info
