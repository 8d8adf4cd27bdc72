"""Data sets the circuit is trained on; nothing is downloaded at run time.

* ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 samples,
  64 pixels scaled to [0, 1], 10 classes).
* ``mnist``: the four standard IDX files read from a folder the user names
  (see :mod:`selfassembly.idx`).
* a **data file** of the user's (``--dataset PATH``, ``data.dataset = "PATH"``):
  an ``.npz`` archive or a ``.csv`` table, read by :func:`load_data_file`.

Data files
----------
``.npz`` (read with ``allow_pickle=False``: plain numeric arrays only)
    Either ``X`` and ``y`` (split at random into training and test sets by
    ``data.test_fraction`` and the seed), or ``X_train``, ``y_train``,
    ``X_test`` and ``y_test`` (used as given). ``X`` is samples x features.
``.csv``
    A header line naming the columns, then one sample per line. The column
    named by ``--label-column`` (``data.label_column``) holds ``y``; every
    other column is a feature and must hold numbers. Split like ``X`` and ``y``.

What ``y`` means
    Integer labels (any whole numbers, or class names in a CSV) are
    **classification**: the classes, in increasing order, become one-hot
    teacher signals, so n_L is the number of classes; the split is random
    within each class (stratified), so every class needs at least two
    samples. A float ``y`` (a matrix, samples x outputs, or a column of
    non-whole numbers) is **regression**: ``y`` is the teacher signal as
    given, n_L is its number of columns, the output layer must be linear
    (``--output linear``), and accuracy is not defined (``nan`` in metrics.csv, null in
    summary.json; read the loss, 0.5 * squared error).

Scaling
    Features are divided by one number, the largest absolute value in the
    training features, so that they lie in [-1, 1] like the digits' pixels
    (divided by 16) and MNIST's (by 255): zero stays zero and the ratios
    between features are kept. Test features are divided by the same number.
    If your columns are in different units, standardise them before saving
    the file. Regression targets are not scaled.

Every problem (a missing or empty file, pickled objects, missing arrays,
shapes that do not fit, NaN or infinite values, a non-numeric column, too
few samples of a class for the split) raises :class:`DataError` with one
line naming the file, the problem and the fix, before anything runs.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["Dataset", "DataError", "load_digits", "load_dataset", "load_data_file", "is_data_file", "file_sha256",
           "one_hot", "DATASET_NAMES", "DATA_FILE_SUFFIXES"]

DATASET_NAMES = ("digits", "mnist")
#: endings of the data files a user can give instead of a name
DATA_FILE_SUFFIXES = (".npz", ".csv")
#: arrays an .npz data file holds: X and y, or the four arrays of a split made in advance
NPZ_WHOLE = ("X", "y")
NPZ_SPLIT = ("X_train", "y_train", "X_test", "y_test")


class DataError(InputError):
    """A data set cannot be loaded or split as configured."""


@dataclass
class Dataset:
    """A labelled train/test split; ``Y_*`` are the teacher signals.

    For ``task == "classification"`` the teacher signals are one-hot rows;
    for ``"regression"`` they are the targets as given.
    """

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    task: str = "classification"

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


def load_dataset(name="digits", test_fraction=0.2, seed=0, mnist_dir=None, label_column=""):
    """Load a data set by name (``digits`` or ``mnist``; MNIST needs ``mnist_dir``) or a data file's path.

    A path ending in ``.npz`` or ``.csv`` is read by :func:`load_data_file`
    (a CSV needs ``label_column``).
    """
    if is_data_file(name):
        return load_data_file(name, label_column, test_fraction, seed)
    if name == "digits":
        return load_digits(test_fraction, seed)
    if name == "mnist":
        if not mnist_dir:
            raise DataError("the mnist data set is read from the four IDX files in a folder: give mnist_dir (--mnist DIR)")
        from .idx import load_mnist

        Xtr, ytr, Xte, yte = load_mnist(mnist_dir)
        return Dataset("mnist", Xtr, one_hot(ytr, 10), Xte, one_hot(yte, 10))
    raise DataError(f"unknown dataset {name!r}; valid names: {list(DATASET_NAMES)}, or the path of an .npz or "
                    ".csv file")


# --------------------------------------------------------------------------- users' data files
def is_data_file(name):
    """Whether a ``data.dataset`` value names a data file (by its ending) rather than a bundled set.

    >>> is_data_file("digits"), is_data_file("lab/stimuli.NPZ"), is_data_file("table.csv")
    (False, True, True)
    """
    return str(name).lower().endswith(DATA_FILE_SUFFIXES)


_SHA_CACHE = {}


def file_sha256(path):
    """sha256 (hex) of a file's content; cached while its size and modification time stay the same.

    Raises
    ------
    DataError
        If the file does not exist or cannot be read.
    """
    path = os.path.abspath(path)
    try:
        st = os.stat(path)
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in _SHA_CACHE:
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            _SHA_CACHE[key] = digest.hexdigest()
    except FileNotFoundError:
        raise DataError(f"data file {path} does not exist; give the path of an .npz or .csv file "
                        "(the configuration's hash includes the file's content)") from None
    except OSError as exc:
        raise DataError(f"cannot read data file {path}: {exc.strerror or exc}") from None
    return _SHA_CACHE[key]


def load_data_file(path, label_column="", test_fraction=0.2, seed=0):
    """Read, check, scale and split a user's ``.npz`` or ``.csv`` data file.

    See the module docstring for the formats, what ``y`` means and how
    features are scaled.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` or ``.csv`` file.
    label_column : str
        The CSV column that holds ``y`` (not used for ``.npz``).
    test_fraction : float
        Share of the samples held out for testing when the file is not split already.
    seed : int
        Seed of the random split.

    Returns
    -------
    Dataset
        Named after the file; ``task`` is ``"classification"`` or ``"regression"``.

    Raises
    ------
    DataError
        One line naming the file, the problem and the fix.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"data file {path} is a folder; give an .npz or .csv file")
    if not path.is_file():
        raise DataError(f"data file {path} does not exist; give the path of an .npz or .csv file")
    if path.stat().st_size == 0:
        raise DataError(f"data file {path} is empty; write the data into it (np.savez or a CSV with a header line)")
    if path.suffix.lower() == ".npz":
        parts = _read_npz(path)
    elif path.suffix.lower() == ".csv":
        parts = _read_csv(path, label_column)
    else:
        raise DataError(f"data file {path}: unknown format {path.suffix!r}; give an .npz or .csv file")
    return _make_dataset(path, parts, test_fraction, seed)


def _read_npz(path):
    """``{"X": .., "y": ..}`` or the four split arrays, checked for pickles, names, dtypes and finiteness."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":  # np.load would take anything else for a pickle or a .npy file
            raise DataError(f"data file {path} is not a readable .npz archive (it is not a zip file); "
                            "write it with np.savez(path, X=X, y=y)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            wanted = NPZ_SPLIT if set(NPZ_SPLIT) <= names else NPZ_WHOLE
            if not set(wanted) <= names:
                raise DataError(f"data file {path} holds the arrays {sorted(names)}; it needs X and y, or X_train, "
                                "y_train, X_test and y_test (np.savez(path, X=X, y=y))")
            arrays = {name: archive[name] for name in wanted}
    except DataError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(f"data file {path} holds object (pickled) arrays, which are not read (allow_pickle=False); "
                            "save plain numeric arrays, e.g. np.savez(path, X=X.astype(float), y=y.astype(int))") from None
        raise DataError(f"data file {path} is not a readable .npz archive ({exc}); write it with np.savez") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"data file {path} is not a readable .npz archive ({exc}); write it with np.savez") from None
    for name, arr in arrays.items():
        if arr.dtype.kind not in "biuf":
            raise DataError(f"data file {path}: {name} holds {arr.dtype} values, not numbers; save it as a numeric "
                            "array (class names: map them to 0, 1, 2, ...)")
        if name.startswith("X") and arr.ndim != 2:
            raise DataError(f"data file {path}: {name} has shape {arr.shape}; it must be 2-D, samples x features "
                            f"(e.g. {name}.reshape(len({name}), -1))")
        if name.startswith("y") and arr.ndim not in (1, 2):
            raise DataError(f"data file {path}: {name} has shape {arr.shape}; it must be 1-D (labels) or 2-D "
                            "(samples x outputs)")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise DataError(f"data file {path}: {name} holds {int(np.sum(~np.isfinite(arr)))} NaN or infinite "
                            f"values (the first at index {tuple(int(i) for i in bad)}); remove or fill them")
    for x, y in (("X", "y"), ("X_train", "y_train"), ("X_test", "y_test")):
        if x in arrays and len(arrays[x]) != len(arrays[y]):
            raise DataError(f"data file {path}: {x} has {len(arrays[x])} samples but {y} has {len(arrays[y])}; "
                            "they need one row per sample")
    if "X_train" in arrays:
        for a, b in (("X_train", "X_test"), ("y_train", "y_test")):
            if arrays[a].shape[1:] != arrays[b].shape[1:]:
                raise DataError(f"data file {path}: {a} has shape {arrays[a].shape} but {b} {arrays[b].shape}; "
                                "training and test sets need the same columns")
    for name, arr in arrays.items():
        if len(arr) == 0:
            raise DataError(f"data file {path}: {name} holds no samples")
    return arrays


def _read_csv(path, label_column):
    """The CSV as ``{"X": features, "y": labels (numbers or text)}``, checked cell by cell."""
    if not label_column:
        raise DataError(f"data file {path} is a CSV: name its label column with --label-column NAME "
                        "(data.label_column in the configuration)")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"data file {path}: cannot read as UTF-8 text (byte {exc.start}); save it as a UTF-8 CSV") from None
    rows = [r for r in csv.reader(io.StringIO(text))]
    lines = [(k + 1, r) for k, r in enumerate(rows) if any(cell.strip() for cell in r)]
    if not lines:
        raise DataError(f"data file {path} holds no rows; write a header line and one line per sample")
    _, header = lines[0]
    header = [h.strip() for h in header]
    if label_column not in header:
        raise DataError(f"data file {path} has no column {label_column!r} (--label-column); its columns are: "
                        + ", ".join(header))
    if len(lines) < 2:
        raise DataError(f"data file {path} has a header line but no samples")
    li = header.index(label_column)
    features = [h for k, h in enumerate(header) if k != li]
    if not features:
        raise DataError(f"data file {path} has only the label column {label_column!r}; it needs feature columns")
    X = np.empty((len(lines) - 1, len(features)))
    labels = []
    for i, (lineno, row) in enumerate(lines[1:]):
        if len(row) != len(header):
            raise DataError(f"data file {path}, line {lineno}: {len(row)} fields, but the header has {len(header)}")
        labels.append(row[li].strip())
        if not labels[-1]:
            raise DataError(f"data file {path}, line {lineno}: the label ({label_column}) is empty")
        for j, cell in enumerate(c for k, c in enumerate(row) if k != li):
            try:
                X[i, j] = float(cell)
            except ValueError:
                raise DataError(f"data file {path}, line {lineno}: column {features[j]!r} holds {cell.strip()!r}, "
                                f"not a number; every column but the label column {label_column!r} must hold "
                                "numbers (drop or encode the column)") from None
            if not np.isfinite(X[i, j]):
                raise DataError(f"data file {path}, line {lineno}: column {features[j]!r} is {cell.strip()!r}; "
                                "NaN or infinite values cannot be learned from (remove or fill them)")
    try:
        y = np.array([float(v) for v in labels])
        if not np.all(np.isfinite(y)):
            bad = int(np.argmax(~np.isfinite(y)))
            raise DataError(f"data file {path}, line {lines[bad + 1][0]}: the label ({label_column}) is "
                            f"{labels[bad]!r}; NaN or infinite values cannot be learned from")
    except ValueError:
        y = np.array(labels)  # text: class names
    return {"X": X, "y": y}


def _is_labels(y):
    """Whether ``y`` holds class labels (whole numbers or text, one per sample) rather than regression targets."""
    if y.dtype.kind in "biuU":
        return y.ndim == 1
    return y.ndim == 1 and bool(np.all(y == np.round(y)))


def _make_dataset(path, parts, test_fraction, seed):
    name = str(path)
    split = "X_train" in parts
    ys = [parts["y_train"], parts["y_test"]] if split else [parts["y"]]
    if all(_is_labels(y) for y in ys):
        classes = np.unique(np.concatenate(ys))
        if len(classes) < 2:
            raise DataError(f"data file {path}: y holds one class only ({classes[0]!r}); classification needs at "
                            "least two (for regression targets save y as floats, e.g. y.astype(float)[:, None])")
        if split:
            missing = sorted(set(parts["y_test"].tolist()) - set(parts["y_train"].tolist()))
            if missing:
                raise DataError(f"data file {path}: class(es) {missing[:5]} appear in y_test but not in y_train; "
                                "every class needs training samples")
            Xtr, ytr, Xte, yte = parts["X_train"], parts["y_train"], parts["X_test"], parts["y_test"]
        else:
            Xtr, ytr, Xte, yte = _stratified_split(path, parts["X"], parts["y"], classes, test_fraction, seed)
        index = {c: k for k, c in enumerate(classes.tolist())}
        Ytr = one_hot([index[c] for c in ytr.tolist()], len(classes))
        Yte = one_hot([index[c] for c in yte.tolist()], len(classes))
        task = "classification"
    else:
        if split:
            Xtr, Ytr, Xte, Yte = parts["X_train"], parts["y_train"], parts["X_test"], parts["y_test"]
        else:
            Xtr, Ytr, Xte, Yte = _split(parts["X"], parts["y"], test_fraction, seed, f"data file {path}")
        Ytr = np.asarray(Ytr, dtype=float).reshape(len(Ytr), -1)
        Yte = np.asarray(Yte, dtype=float).reshape(len(Yte), -1)
        task = "regression"
    Xtr, Xte = np.asarray(Xtr, dtype=float), np.asarray(Xte, dtype=float)
    scale = float(np.max(np.abs(Xtr)))
    if scale == 0:
        raise DataError(f"data file {path}: every training feature is zero; there is nothing to learn from")
    return Dataset(name, Xtr / scale, Ytr, Xte / scale, Yte, task=task)


def _stratified_split(path, X, y, classes, test_fraction, seed):
    """Within each class: round(test_fraction * n_c) test samples, at least one of each and one training sample."""
    if not 0 < test_fraction < 1:
        raise DataError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
    counts = {c: int(np.sum(y == c)) for c in classes.tolist()}
    few = {c: n for c, n in counts.items() if n < 2}
    if few:
        shown = ", ".join(f"{c!r} ({n})" for c, n in list(few.items())[:5])
        raise DataError(f"data file {path}: too few samples per class for the split: class {shown} has fewer than 2; "
                        "each class needs at least one training and one test sample (add samples or drop the class)")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in classes.tolist():
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = min(max(int(round(test_fraction * len(idx))), 1), len(idx) - 1)
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    train, test = rng.permutation(train), rng.permutation(test)  # classes mixed, so that max_train cuts at random
    return X[train], y[train], X[test], y[test]
