"""Data sets the circuit is trained on; nothing is downloaded at run time.

* ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 samples,
  64 pixels scaled to [0, 1], 10 classes).
* ``mnist``: the four standard IDX files read from a folder the user names
  (see :mod:`selfassembly.idx`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = ["Dataset", "DataError", "load_digits", "load_dataset", "one_hot", "DATASET_NAMES"]

DATASET_NAMES = ("digits", "mnist")


class DataError(InputError):
    """A data set cannot be loaded or split as configured."""


@dataclass
class Dataset:
    """A labelled train/test split; ``Y_*`` are one-hot teacher signals."""

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray

    @property
    def n_features(self):
        return self.X_train.shape[1]

    @property
    def n_classes(self):
        return self.Y_train.shape[1]


def one_hot(labels, n_classes=None):
    """One-hot rows for integer labels.

    >>> one_hot([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    labels = np.asarray(labels, dtype=int)
    n_classes = int(n_classes or labels.max() + 1)
    out = np.zeros((labels.size, n_classes))
    out[np.arange(labels.size), labels] = 1.0
    return out


def _split(X, labels, test_fraction, seed, name="the data set"):
    n = len(X)
    if not 0 < test_fraction < 1:
        raise DataError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
    n_test = int(round(test_fraction * n))
    if not 1 <= n_test <= n - 1:
        which = "no test samples" if n_test < 1 else "no training samples"
        raise DataError(f"data.test_fraction = {test_fraction} leaves {which} of the {n} samples of {name}; "
                        f"use a value between {1 / n:.2g} and {(n - 1) / n:.4g} (default 0.2)")
    perm = np.random.default_rng(seed).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return X[train], labels[train], X[test], labels[test]


def load_digits(test_fraction=0.2, seed=0):
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1], split at random by ``seed``."""
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    X = bunch.data / 16.0
    Xtr, ytr, Xte, yte = _split(X, bunch.target, test_fraction, seed, "digits")
    return Dataset("digits", Xtr, one_hot(ytr, 10), Xte, one_hot(yte, 10))


def load_dataset(name="digits", test_fraction=0.2, seed=0, mnist_dir=None):
    """Load a data set by name (``digits`` or ``mnist``; MNIST needs ``mnist_dir``)."""
    if name == "digits":
        return load_digits(test_fraction, seed)
    if name == "mnist":
        if not mnist_dir:
            raise DataError("the mnist data set is read from the four IDX files in a folder: give mnist_dir (--mnist DIR)")
        from .idx import load_mnist

        Xtr, ytr, Xte, yte = load_mnist(mnist_dir)
        return Dataset("mnist", Xtr, one_hot(ytr, 10), Xte, one_hot(yte, 10))
    raise DataError(f"unknown dataset {name!r}; valid names: {list(DATASET_NAMES)}")
