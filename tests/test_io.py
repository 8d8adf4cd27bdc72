"""Atomic files and the snapshot format."""
import os

import numpy as np
import pytest

from selfassembly.io import (Snapshots, SnapshotError, atomic_write_text, load_snapshots, population_names,
                             save_snapshots)


def _snapshots(sizes=(4, 3, 2), S=2, seed=0):
    rng = np.random.default_rng(seed)
    L = len(sizes) - 1
    shapes = {}
    for name in population_names(L):
        kind, l = name[0], int(name[1:])
        shapes[name] = {"W": (sizes[l], sizes[l - 1]), "B": (sizes[l - 1], sizes[l])}.get(kind, (sizes[l], sizes[l]))
    weights = {k: rng.normal(size=(S,) + s) for k, s in shapes.items()}
    return Snapshots(sizes=list(sizes), steps=np.arange(S) * 10, weights=weights,
                     masks={k: np.ones(s, bool) for k, s in shapes.items()})


def test_round_trip(tmp_path):
    snaps = _snapshots()
    save_snapshots(tmp_path / "s.npz", snaps)
    back = load_snapshots(tmp_path / "s.npz")
    assert back.sizes == [4, 3, 2] and list(back.steps) == [0, 10]
    for k, v in snaps.weights.items():
        np.testing.assert_array_equal(back.weights[k], v)
    assert back.at(1)["W2"].shape == (2, 3)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(SnapshotError, match="no snapshot file"):
        load_snapshots(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip archive")
    with pytest.raises(SnapshotError, match=r"not an \.npz snapshot archive \(it starts with b'not '"):
        load_snapshots(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(SnapshotError, match="missing array 'sizes'"):
        load_snapshots(tmp_path / "other.npz")


def test_mismatched_shapes_are_named(tmp_path):
    snaps = _snapshots()
    snaps.weights["B2"] = snaps.weights["B2"][:, :2]
    with pytest.raises(SnapshotError, match=r"population B2 has shape \(2, 2, 2\), expected \(2, 3, 2\)"):
        save_snapshots(tmp_path / "s.npz", snaps)
    del snaps.weights["V1"]
    with pytest.raises(SnapshotError, match=r"missing populations \['V1'\]"):
        snaps.validate()


def test_object_arrays_are_never_unpickled(tmp_path):
    arrays = {k: v for k, v in np.load(save_snapshots(tmp_path / "s.npz", _snapshots())).items()}
    arrays["W1"] = np.array([{"evil": 1}, None], dtype=object)
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(SnapshotError, match=r"holds object \(pickled\) arrays, which are never loaded"):
        load_snapshots(tmp_path / "pickled.npz")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_archives_are_named_not_crashed(tmp_path, damage):
    path = save_snapshots(tmp_path / "s.npz", _snapshots(sizes=(30, 20, 10), S=3))
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]  # BadZipFile: the central directory is gone
    else:
        raw[200:260] = bytes(60)  # a member's compressed data destroyed: zlib.error or a CRC error
    path.write_bytes(bytes(raw))
    with pytest.raises(SnapshotError, match="truncated or corrupt"):
        load_snapshots(path)


def test_config_hash_round_trip(tmp_path):
    snaps = _snapshots()
    snaps.config_hash = "ab" * 32
    assert load_snapshots(save_snapshots(tmp_path / "s.npz", snaps)).config_hash == "ab" * 32
    snaps.config_hash = ""
    assert load_snapshots(save_snapshots(tmp_path / "t.npz", snaps)).config_hash == ""


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "old")

    class Boom:
        def __str__(self):
            raise RuntimeError("interrupted")

    with pytest.raises(TypeError):
        atomic_write_text(path, Boom())
    assert path.read_text() == "old"
    assert not list(tmp_path.glob("*.tmp"))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
