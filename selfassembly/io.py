"""Reading and writing run outputs: atomic files and weight snapshots.

Every file is written to a temporary name in the same folder and then
renamed, so an interrupted run never leaves a half-written file behind.

Weight snapshots
----------------
``snapshots/<preset>.npz`` holds, for one preset, the weights of the four
synapse populations at each recording step, in MODEL.md's orientation
(rows are postsynaptic cells, so that ``h_l = W_l r_{l-1}``):

===========  =====================  ==============================================
key          shape                  meaning
===========  =====================  ==============================================
steps        (S,)                   presentations done when the snapshot was taken
sizes        (L+1,)                 layer sizes n_0 .. n_L
W{l}         (S, n_l, n_{l-1})      A_{l-1} -> A_l, l = 1..L
B{l}         (S, n_{l-1}, n_l)      D_l -> D_{l-1}, l = 2..L
U{l}         (S, n_l, n_l)          A_l -> D_l, ``U[d, a]``, l = 1..L
V{l}         (S, n_l, n_l)          D_l -> A_l, ``V[a, d]``, l = 1..L
mask_X       (rows, cols) bool      which synapses of population X exist
config_hash  () str                 sha256 of the configuration that made the run
===========  =====================  ==============================================

Absent synapses (sparse connectivity) hold 0 in the weight arrays.
``config_hash`` (see :meth:`selfassembly.config.ExperimentConfig.config_hash`) is
absent from files written before it existed, and from snapshots made outside
``selfassembly run``; it is then read as "".
"""
from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, RunFolderError

__all__ = [
    "atomic_write_text",
    "atomic_write_bytes",
    "atomic_savez",
    "to_jsonable",
    "write_json",
    "write_csv",
    "population_names",
    "population_shape",
    "Snapshots",
    "save_snapshots",
    "load_snapshots",
    "SnapshotError",
    "ensure_writable_folder",
    "is_temporary_file",
    "remove_temporary_files",
    "check_weights",
    "check_samples",
    "check_seed",
]


_UMASK = os.umask(0)
os.umask(_UMASK)


class SnapshotError(InputError):
    """A snapshot file is missing, malformed or inconsistent."""


def _atomic(path, write, mode):
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        blocker = next((p for p in [path.parent, *path.parent.parents] if p.exists() and not p.is_dir()), path.parent)
        raise RunFolderError(f"cannot write {path}: {blocker} is a file where a folder is needed; move that file "
                             "away (selfassembly writes a folder of that name there)") from None
    except OSError as exc:
        raise RunFolderError(f"cannot create the folder {path.parent} for {path.name}: {exc.strerror or exc}; "
                             "choose a path where you can write") from None
    if path.is_dir():
        raise RunFolderError(f"cannot write {path}: a folder of that name is in the way; move it away "
                             "(selfassembly writes a file of that name there)")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise RunFolderError(f"cannot write in the folder {path.parent} (for {path.name}): {exc.strerror or exc}; "
                             "choose a writable folder or fix its permissions") from None
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError, PermissionError)):
            # name the file being written, not the hidden temporary one (e.g. a full disk)
            raise RunFolderError(f"cannot write {path}: {exc.strerror or exc}; free space or choose another "
                                 "folder") from None
        raise
    return path


#: names of the temporary files :func:`_atomic` writes (``.NAME.XXXXXXXX.tmp``, mkstemp's 8 random characters)
_TMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def is_temporary_file(path):
    """True for a hidden temporary file of an atomic write (left behind only if the process was killed)."""
    return bool(_TMP_NAME.match(Path(path).name))


def remove_temporary_files(folder, recursive=True):
    """Delete the hidden temporary files a killed run left in ``folder``; return how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp"):
        if path.is_file() and is_temporary_file(path):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def ensure_writable_folder(path, what="--out"):
    """Create ``path`` if needed and check that files can be written in it.

    Raises
    ------
    RunFolderError
        If ``path`` is a file, cannot be created, or is not writable; the
        message names the path, ``what`` (the flag or role) and the fix.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"{what} {path} is a file, not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"cannot create the folder {path} ({what}): {exc.strerror or exc}; "
                             "choose a path where you can write") from None
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-check.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RunFolderError(f"cannot write in the folder {path} ({what}): {exc.strerror or exc}; "
                             "choose a writable folder or fix its permissions") from None
    return path


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` atomically (temporary file, then rename)."""
    return _atomic(path, lambda fh: fh.write(text), "w")


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically."""
    return _atomic(path, lambda fh: fh.write(data), "wb")


def atomic_savez(path, **arrays):
    """``numpy.savez_compressed`` to ``path`` atomically."""
    return _atomic(path, lambda fh: np.savez_compressed(fh, **arrays), "wb")


def to_jsonable(obj):
    """Strict-JSON form of nested results: numpy scalars and arrays to Python, keys to str,
    NaN to None, infinities to the strings "inf" and "-inf"."""
    t = type(obj)  # the plain types first: results of compare hold millions of them
    if t is str or t is int or t is bool or obj is None:
        return obj
    if t is float:
        return obj if obj - obj == 0 else (None if obj != obj else ("inf" if obj > 0 else "-inf"))
    if t is dict:
        return {(k if type(k) is str else str(k)): to_jsonable(v) for k, v in obj.items()}
    if t is list:
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if np.isnan(x):
            return None
        if np.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    return obj


def write_json(path, obj, indent=2):
    """Write ``obj`` as strict JSON (see :func:`to_jsonable`), atomically; ``indent=None`` writes it on one
    line, which Python's C encoder does many times faster (for large results)."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=indent, sort_keys=False) + "\n")


def write_csv(path, rows, fieldnames=None):
    """Write a list of dicts as CSV, atomically; columns default to the union of keys."""
    if fieldnames is None:
        fieldnames = []
        for row in rows:
            fieldnames.extend(k for k in row if k not in fieldnames)

    def write(fh):
        writer = csv.DictWriter(fh, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    return _atomic(path, write, "w")


def population_names(n_layers):
    """Names of the synapse populations of a circuit with ``n_layers`` = L layers.

    V_L exists too: it carries no error (e_L comes from the teacher), but the
    top pair U_L, V_L assembles like the others (MODEL.md).

    >>> population_names(2)
    ['W1', 'W2', 'B2', 'U1', 'U2', 'V1', 'V2']
    """
    L = int(n_layers)
    return (
        [f"W{l}" for l in range(1, L + 1)]
        + [f"B{l}" for l in range(2, L + 1)]
        + [f"U{l}" for l in range(1, L + 1)]
        + [f"V{l}" for l in range(1, L + 1)]
    )


def population_shape(name, sizes):
    """Shape (rows = postsynaptic, columns = presynaptic) of a population's weight matrix.

    >>> population_shape("W2", [64, 128, 10]), population_shape("B2", [64, 128, 10]), population_shape("V1", [64, 128, 10])
    ((10, 128), (128, 10), (128, 128))
    """
    kind, l = name[0], int(name[1:])
    if kind == "W":
        return (sizes[l], sizes[l - 1])
    if kind == "B":
        return (sizes[l - 1], sizes[l])
    return (sizes[l], sizes[l])


# --------------------------------------------------------------------------- arguments of the public API
_POP = re.compile(r"^[WBUV][1-9][0-9]*$")


def check_seed(seed, name="seed"):
    """Return ``seed`` as an int, refusing what numpy would silently truncate (1.5) or reject (-1, "1")."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number in 0 .. 2**32 - 1, got {seed!r} ({type(seed).__name__})")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"{name} must be in 0 .. 2**32 - 1 (Brian2 takes 32-bit seeds), got {seed}")
    return seed


def _matrix(value, label):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{label} must be a 2-D array of numbers ({exc})") from None
    if arr.ndim != 2:
        raise ValueError(f"{label} must be a 2-D array (rows postsynaptic, columns presynaptic), got shape {arr.shape}")
    return arr


def check_weights(weights, sizes=None, name="weights", need=("W",)):
    """Check a dict of weight matrices against each other (and ``sizes``); return (float arrays, sizes).

    Parameters
    ----------
    weights : dict of str -> 2-D array
        Population name (:func:`population_names`) -> matrix, rows postsynaptic.
    sizes : list of int, optional
        Layer sizes n_0 .. n_L; default: read from W1 .. WL.
    name : str
        The argument's name, for messages.
    need : iterable of str
        Families that must be complete (``"W"``, ``"B"``, ``"U"``, ``"V"``).

    Raises
    ------
    TypeError, ValueError
        Naming the argument, the population and the expected shape.
    """
    if not isinstance(weights, dict):
        raise TypeError(f"{name} must be a dict of population name -> 2-D array (e.g. from "
                        f"selfassembly.circuits.initial_weights), got {type(weights).__name__}")
    bad = [k for k in weights if not (isinstance(k, str) and _POP.match(k))]
    if bad:
        raise ValueError(f"{name}: unknown population name(s) {bad}; names are W1.., B2.., U1.., V1..")
    out = {k: _matrix(v, f"{name}[{k!r}]") for k, v in weights.items()}
    if sizes is None:
        L = sum(1 for k in out if k[0] == "W")
        missing = [f"W{l}" for l in range(1, L + 1) if f"W{l}" not in out]
        if L == 0 or missing:
            raise ValueError(f"{name} must hold W1 .. WL, which give the layer sizes; got {sorted(out)}")
        sizes = [out["W1"].shape[1]] + [out[f"W{l}"].shape[0] for l in range(1, L + 1)]
    L = len(sizes) - 1
    for family in need:
        first = 2 if family == "B" else 1
        missing = [f"{family}{l}" for l in range(first, L + 1) if f"{family}{l}" not in out]
        if missing:
            raise ValueError(f"{name} lacks {missing} (a circuit of {L} layers needs {family}{first} .. {family}{L})")
    for k, arr in out.items():
        l = int(k[1:])
        if l > L or (k[0] == "B" and l < 2):
            raise ValueError(f"{name}[{k!r}]: no such population in a circuit of sizes {list(sizes)}")
        want = population_shape(k, sizes)
        if arr.shape != want:
            raise ValueError(f"{name}[{k!r}] has shape {arr.shape}, expected {want} for layer sizes {list(sizes)} "
                             "(rows postsynaptic, columns presynaptic)")
    return out, list(sizes)


def check_samples(X, Y, n_in, n_out, names=("X", "Y")):
    """Check stimuli ``X`` (N, n_in) and teacher signals ``Y`` (N, n_out); return them as float arrays."""
    out = []
    for value, label, n in ((X, names[0], n_in), (Y, names[1], n_out)):
        try:
            arr = np.atleast_2d(np.asarray(value, dtype=float))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{label} must be an array of numbers ({exc})") from None
        if arr.ndim != 2 or arr.shape[1] != n:
            raise ValueError(f"{label} has shape {np.shape(value)}, expected (samples, {n}) for these weights")
        out.append(arr)
    if len(out[0]) != len(out[1]):
        raise ValueError(f"{names[0]} has {len(out[0])} samples but {names[1]} has {len(out[1])}; "
                         "they must match row for row")
    return out


@dataclass
class Snapshots:
    """Weight snapshots of one preset's run.

    Attributes
    ----------
    sizes : list of int
        Layer sizes n_0 .. n_L.
    steps : ndarray of int, shape (S,)
        Presentations done at each snapshot.
    weights : dict of str -> ndarray, shape (S, rows, cols)
        One entry per population name (see :func:`population_names`).
    masks : dict of str -> ndarray of bool, shape (rows, cols)
        Which synapses exist.
    config_hash : str
        Hash of the configuration that made them ("" where unknown).
    """

    sizes: list
    steps: np.ndarray
    weights: dict
    masks: dict = field(default_factory=dict)
    config_hash: str = ""

    @property
    def n_layers(self):
        return len(self.sizes) - 1

    def at(self, k):
        """Weights of snapshot ``k`` as a dict of 2-D arrays."""
        return {name: w[k] for name, w in self.weights.items()}

    def validate(self, source="snapshots"):
        """Check names and shapes; raise :class:`SnapshotError` naming the problem."""
        try:
            sizes = [int(n) for n in self.sizes]
        except (TypeError, ValueError):
            raise SnapshotError(f"{source}: 'sizes' must be a list of layer sizes, got {self.sizes!r}") from None
        steps = np.asarray(self.steps)
        if steps.ndim != 1 or not (np.issubdtype(steps.dtype, np.integer) or steps.size == 0):
            raise SnapshotError(f"{source}: 'steps' must be a 1-D array of whole numbers (presentations done), got "
                                f"{steps.dtype} of shape {steps.shape}")
        if np.any(np.diff(steps) < 0):
            raise SnapshotError(f"{source}: 'steps' must not decrease, got {steps.tolist()[:10]}")
        if not isinstance(self.weights, dict):
            raise SnapshotError(f"{source}: 'weights' must be a dict of population name -> array")
        for name, w in self.weights.items():
            if not np.issubdtype(np.asarray(w).dtype, np.number):
                raise SnapshotError(f"{source}: population {name} holds {np.asarray(w).dtype} values, not numbers")
        if len(sizes) < 2 or min(sizes) < 1:
            raise SnapshotError(f"{source}: 'sizes' must list at least two positive layer sizes, got {sizes}")
        S = len(self.steps)
        expected = population_names(len(sizes) - 1)
        missing = [n for n in expected if n not in self.weights]
        if missing:
            raise SnapshotError(f"{source}: missing populations {missing}; a snapshot file needs {expected}")
        for name in expected:
            w = np.asarray(self.weights[name])
            want = (S,) + population_shape(name, sizes)
            if w.shape != want:
                raise SnapshotError(
                    f"{source}: population {name} has shape {w.shape}, expected {want} "
                    f"for sizes {sizes} and {S} snapshots"
                )
            if name in self.masks and self.masks[name].shape != want[1:]:
                raise SnapshotError(f"{source}: mask of {name} has shape {self.masks[name].shape}, expected {want[1:]}")
        return self


def save_snapshots(path, snapshots):
    """Write :class:`Snapshots` to ``path`` (``.npz``), atomically."""
    if not isinstance(snapshots, Snapshots):
        raise TypeError(f"snapshots must be a Snapshots object, got {type(snapshots).__name__}")
    snapshots.validate(str(path))
    arrays = {"sizes": np.asarray(snapshots.sizes, dtype=np.int64), "steps": np.asarray(snapshots.steps, dtype=np.int64)}
    arrays.update({k: np.asarray(v) for k, v in snapshots.weights.items()})
    arrays.update({f"mask_{k}": np.asarray(v, dtype=bool) for k, v in snapshots.masks.items()})
    if snapshots.config_hash:
        arrays["config_hash"] = np.asarray(str(snapshots.config_hash))
    return atomic_savez(path, **arrays)


#: how every .npz (zip) archive starts: a local file header, or the end record of an empty archive
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _read_npz(path):
    """Every array of an .npz archive, or a :class:`SnapshotError` saying what is wrong with the file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if head not in _ZIP_MAGIC:
        what = "is empty" if not head else f"starts with {head!r}"
        raise SnapshotError(f"{path} is not an .npz snapshot archive (it {what}; an .npz file is a zip archive "
                            "written by `selfassembly run`); remove it, or rerun that preset")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise SnapshotError(f"{path} holds object (pickled) arrays, which are never loaded; a snapshot file "
                                "holds numeric arrays only, as written by `selfassembly run`") from None
        raise SnapshotError(f"{path} is not a readable .npz snapshot file ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise SnapshotError(f"{path} is not a readable .npz snapshot file: it is truncated or corrupt "
                            f"({type(exc).__name__}: {exc}); remove it and rerun that preset "
                            "(`selfassembly run` with the same --out redoes it)") from None


def load_snapshots(path):
    """Read a snapshot file written by :func:`save_snapshots` (no pickle is ever loaded).

    Raises
    ------
    SnapshotError
        If the file is missing, is not an ``.npz`` archive, or its arrays do not
        fit together.
    """
    path = Path(path)
    if not path.is_file():
        raise SnapshotError(f"no snapshot file at {path}; run `selfassembly run` first or check the path")
    arrays = _read_npz(path)
    for key in ("sizes", "steps"):
        if key not in arrays:
            raise SnapshotError(f"{path}: missing array '{key}'; is this a selfassembly snapshot file?")
    sizes_arr, steps = arrays.pop("sizes"), arrays.pop("steps")
    if sizes_arr.ndim != 1 or not np.issubdtype(sizes_arr.dtype, np.integer):
        raise SnapshotError(f"{path}: 'sizes' must be a 1-D integer array, got {sizes_arr.dtype} of shape {sizes_arr.shape}")
    if steps.ndim != 1 or not np.issubdtype(steps.dtype, np.integer):
        raise SnapshotError(f"{path}: 'steps' must be a 1-D integer array, got {steps.dtype} of shape {steps.shape}")
    config_hash = arrays.pop("config_hash", None)
    config_hash = str(config_hash) if config_hash is not None else ""
    masks = {k[5:]: v.astype(bool) for k, v in arrays.items() if k.startswith("mask_")}
    weights = {k: v for k, v in arrays.items() if not k.startswith("mask_")}
    for name, w in weights.items():
        if not np.issubdtype(w.dtype, np.number):
            raise SnapshotError(f"{path}: population {name} holds {w.dtype} values, not numbers")
    return Snapshots(sizes=[int(n) for n in sizes_arr], steps=steps, weights=weights, masks=masks,
                     config_hash=config_hash).validate(str(path))
