"""IDX files (the MNIST format): read, write, and load the four MNIST files from a folder.

An IDX file is a header followed by the array in C order, big-endian::

    bytes 0-1   0x00 0x00
    byte  2     data type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions k
    4k bytes    each dimension as a big-endian uint32
    ...         prod(dims) items

MNIST (https://yann.lecun.com/exdb/mnist/) is four such files, each plain or
gzipped: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (the variants with a
dot, ``train-images.idx3-ubyte``, are accepted too). Nothing is downloaded:
the user names the folder.

Every check failure raises :class:`IDXError` naming the file and what is wrong.
"""
from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["IDXError", "read_idx", "write_idx", "load_mnist", "MNIST_FILES", "find_mnist_files"]

#: IDX type code -> big-endian numpy dtype
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: role -> standard file name (without .gz)
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(InputError):
    """An IDX file is missing, malformed, or does not fit the others."""


def _read_bytes(path):
    path = Path(path)
    if not path.is_file():
        raise IDXError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise IDXError(f"{path}: looks gzipped but cannot be decompressed ({exc}); the file is probably "
                           "truncated or corrupt, download it again") from None
    if path.suffix == ".gz":
        raise IDXError(f"{path}: named .gz but is not gzip data (starts with {raw[:2].hex()}, gzip starts with 1f8b)")
    return raw


def read_idx(path, ndim=None, what="this file"):
    """Read one IDX file (plain or gzip) into a numpy array of native byte order.

    Parameters
    ----------
    path : path-like
    ndim : int, optional
        The number of dimensions the file must have (checked on the header's
        byte 3 before its dimensions are read).
    what : str
        What the file holds, for that message (e.g. ``"labels"``).

    Raises
    ------
    IDXError
        If the file is missing, the magic number, type code or number of
        dimensions is wrong, or the data are shorter or longer than the header says.
    """
    expected_ndim = ndim
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise IDXError(f"{path}: only {len(raw)} bytes; an IDX file starts with a 4-byte magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise IDXError(f"{path}: bad magic number 0x{raw[:4].hex()}; an IDX file starts with two zero bytes "
                       "(is this an IDX file?)")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise IDXError(f"{path}: unknown data type code 0x{code:02X} in the magic number; valid codes: "
                       + ", ".join(f"0x{c:02X}" for c in IDX_DTYPES))
    if ndim == 0:
        raise IDXError(f"{path}: the magic number says 0 dimensions")
    if expected_ndim is not None and ndim != expected_ndim:
        raise IDXError(f"{path}: the magic number (byte 3) says {ndim} dimensions, but {what} must have "
                       f"{expected_ndim} dimension{'s' if expected_ndim > 1 else ''}; the file is corrupt or not "
                       "the file its name says")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: truncated header: {ndim} dimensions need {header} header bytes, the file has {len(raw)}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: absurd dimensions cannot overflow
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "has extra bytes"
        hint = ""
        if expected > 16 * max(got, 1) or (got and expected * 16 < got):
            hint = ("; the header's dimension count (byte 3) or sizes are probably wrong: the file is corrupt or "
                    "not an IDX file")
        raise IDXError(f"{path}: {what}: dimensions {dims} of {dtype.itemsize}-byte items need {expected} data bytes "
                       f"after the header, the file has {got}{hint}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` as an IDX file; gzipped if ``path`` ends in ``.gz``.

    The type is taken from the array: uint8, int8, int16, int32, float32 or float64.
    """
    array = np.asarray(array)
    kind = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    codes = {dt: code for code, dt in IDX_DTYPES.items()}
    if kind not in codes:
        raise ValueError(f"IDX cannot store {array.dtype}; use one of uint8, int8, int16, int32, float32, float64")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX stores arrays of 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, codes[kind], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(array, dtype=kind).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def find_mnist_files(directory):
    """Paths of the four MNIST files in ``directory`` (plain or .gz; hyphen or dot before ``idx``)."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        what = ("is a file, not a folder; give the folder that holds it" if directory.exists() else "does not exist")
        raise IDXError(f"MNIST folder {directory} {what} (it must hold the four IDX files: "
                       + ", ".join(MNIST_FILES.values()) + ", each plain or .gz)")
    found, missing = {}, []
    for role, name in MNIST_FILES.items():
        dotted = name.replace("-idx", ".idx")
        candidates = [directory / n for base in (name, dotted) for n in (base, base + ".gz")]
        hits = [c for c in candidates if c.is_file()]
        if not hits:
            missing.append(name)
        elif len(hits) > 1:
            raise IDXError(f"MNIST folder {directory} holds {' and '.join(h.name for h in hits)}: {len(hits)} "
                           f"versions of {name}; remove all but one, so that it is clear which is read")
        else:
            found[role] = hits[0]
    if missing:
        raise IDXError(f"MNIST folder {directory} lacks {', '.join(missing)} (plain or .gz); it holds: "
                       + (", ".join(sorted(p.name for p in directory.iterdir())) or "nothing"))
    return found


def _check_images(path, arr):
    if arr.dtype != np.uint8:
        raise IDXError(f"{path}: images must be unsigned bytes (type code 0x08), got {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1:] != (28, 28):
        raise IDXError(f"{path}: images must have 3 dimensions (count, 28, 28), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise IDXError(f"{path}: holds no images")


def _check_labels(path, arr):
    if arr.dtype != np.uint8:
        raise IDXError(f"{path}: labels must be unsigned bytes (type code 0x08), got {arr.dtype}")
    if arr.ndim != 1:
        raise IDXError(f"{path}: labels must have 1 dimension (count), got shape {arr.shape}")
    if arr.size and arr.max() > 9:
        raise IDXError(f"{path}: labels must be digits 0-9, found {int(arr.max())}")


def load_mnist(directory):
    """The MNIST training and test sets from the four IDX files in ``directory``.

    Returns
    -------
    X_train : ndarray of float64, shape (N_train, 784), pixels scaled to [0, 1]
    y_train : ndarray of int64, shape (N_train,)
    X_test, y_test : likewise for the test set

    Raises
    ------
    IDXError
        If a file is missing or malformed, or images and labels of a set differ in count.
    """
    paths = find_mnist_files(directory)
    arrays = {role: read_idx(p, *((3, "images (count, 28, 28)") if role.endswith("images") else (1, "labels")))
              for role, p in paths.items()}
    out = []
    for split in ("train", "test"):
        ip, lp = paths[f"{split}_images"], paths[f"{split}_labels"]
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        _check_images(ip, images)
        _check_labels(lp, labels)
        if len(images) != len(labels):
            raise IDXError(f"{ip.name} holds {len(images)} images but {lp.name} holds {len(labels)} labels "
                           f"(in {ip.parent}); the two files of the {split} set must match")
        out += [images.reshape(len(images), 784).astype(np.float64) / 255.0, labels.astype(np.int64)]
    return tuple(out)
