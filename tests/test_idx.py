"""IDX reading and writing, and the MNIST loader, on small files the tests write themselves."""
import gzip

import numpy as np
import pytest

from selfassembly.datasets import load_dataset
from selfassembly.idx import MNIST_FILES, IDXError, load_mnist, read_idx, write_idx


def write_mnist(folder, rng, n_train=30, n_test=12, gz=False, names=MNIST_FILES):
    """Four small MNIST-format files with random images and labels."""
    data = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for role, arr in data.items():
        write_idx(folder / (names[role] + (".gz" if gz else "")), arr)
    return data


@pytest.mark.parametrize("dtype", ["u1", "i1", "<i2", ">i4", "f4", "f8"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path, rng, dtype, suffix):
    arr = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / f"a.idx{suffix}", arr)
    got = read_idx(path)
    assert got.dtype == arr.dtype.newbyteorder("=")
    np.testing.assert_array_equal(got, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_header_layout_is_the_standard_one(tmp_path):
    """Big-endian dims after 00 00 <type> <ndim>, as in the MNIST distribution."""
    path = write_idx(tmp_path / "x", np.arange(6, dtype=np.uint8).reshape(2, 3))
    raw = path.read_bytes()
    assert raw == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5])
    path = write_idx(tmp_path / "y", np.array([1, 256], dtype=np.int32))
    assert path.read_bytes() == bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 1, 0])


def _bad(tmp_path, raw, name="bad-idx"):
    p = tmp_path / name
    p.write_bytes(raw)
    return p


def test_read_errors_name_file_and_problem(tmp_path):
    good = write_idx(tmp_path / "g", np.zeros((2, 3), np.uint8)).read_bytes()
    cases = [
        (b"\x00\x00", "only 2 bytes"),
        (b"\x12\x34\x08\x01" + good[4:], "bad magic number 0x12340801"),
        (good[:2] + b"\x07" + good[3:], "unknown data type code 0x07"),
        (good[:3] + b"\x00" + good[4:], "0 dimensions"),
        (good[:3] + b"\x09", "truncated header"),
        (good[:-1], r"truncated: dimensions \(2, 3\) .* need 6 data bytes .* has 5"),
        (good + b"\x00", "extra bytes"),
    ]
    for raw, message in cases:
        p = _bad(tmp_path, raw)
        with pytest.raises(IDXError, match=message) as info:
            read_idx(p)
        assert str(p) in str(info.value)
    with pytest.raises(IDXError, match="no such file"):
        read_idx(tmp_path / "missing")
    with pytest.raises(IDXError, match="not gzip data"):
        read_idx(_bad(tmp_path, good, "plain.gz"))
    with pytest.raises(IDXError, match="cannot be decompressed"):
        read_idx(_bad(tmp_path, gzip.compress(good)[:-12], "cut.gz"))
    with pytest.raises(ValueError, match="IDX cannot store bool"):
        write_idx(tmp_path / "b", np.zeros(3, bool))


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist(tmp_path, rng, gz):
    data = write_mnist(tmp_path, rng, gz=gz)
    Xtr, ytr, Xte, yte = load_mnist(tmp_path)
    assert Xtr.shape == (30, 784) and Xte.shape == (12, 784)
    assert Xtr.dtype == np.float64 and 0 <= Xtr.min() and Xtr.max() <= 1
    np.testing.assert_allclose(Xtr[4], data["train_images"][4].ravel() / 255.0)
    np.testing.assert_array_equal(ytr, data["train_labels"])
    np.testing.assert_array_equal(yte, data["test_labels"])


def test_load_mnist_dotted_names_and_dataset(tmp_path, rng):
    dotted = {k: v.replace("-idx", ".idx") for k, v in MNIST_FILES.items()}
    data = write_mnist(tmp_path, rng, names=dotted)
    ds = load_dataset("mnist", mnist_dir=str(tmp_path))
    assert ds.name == "mnist" and ds.X_train.shape == (30, 784) and ds.Y_test.shape == (12, 10)
    np.testing.assert_array_equal(ds.Y_train.argmax(1), data["train_labels"])


def test_load_mnist_errors(tmp_path, rng):
    with pytest.raises(IDXError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    write_mnist(tmp_path, rng)
    (tmp_path / MNIST_FILES["test_labels"]).unlink()
    with pytest.raises(IDXError, match="lacks t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    # counts that do not agree
    write_idx(tmp_path / MNIST_FILES["test_labels"], np.zeros(11, np.uint8))
    with pytest.raises(IDXError, match="holds 12 images but t10k-labels-idx1-ubyte holds 11 labels"):
        load_mnist(tmp_path)
    write_idx(tmp_path / MNIST_FILES["test_labels"], np.full(12, 10, np.uint8))
    with pytest.raises(IDXError, match="digits 0-9, found 10"):
        load_mnist(tmp_path)
    write_idx(tmp_path / MNIST_FILES["test_labels"], np.zeros(12, np.uint8))
    load_mnist(tmp_path)
    # wrong image shape, wrong dtype, labels with two dims
    write_idx(tmp_path / MNIST_FILES["train_images"], np.zeros((30, 27, 28), np.uint8))
    with pytest.raises(IDXError, match=r"train-images-idx3-ubyte: images must have 3 dimensions \(count, 28, 28\)"):
        load_mnist(tmp_path)
    write_idx(tmp_path / MNIST_FILES["train_images"], np.zeros((30, 28, 28), np.float32))
    with pytest.raises(IDXError, match="unsigned bytes"):
        load_mnist(tmp_path)
    write_idx(tmp_path / MNIST_FILES["train_images"], np.zeros((30, 28, 28), np.uint8))
    write_idx(tmp_path / MNIST_FILES["train_labels"], np.zeros((30, 1), np.uint8))
    with pytest.raises(IDXError, match="labels must have 1 dimension"):
        load_mnist(tmp_path)
    # images and labels swapped: the magic numbers' dimensions give it away
    write_idx(tmp_path / MNIST_FILES["train_labels"], np.zeros((30, 28, 28), np.uint8))
    with pytest.raises(IDXError, match="labels must have 1 dimension"):
        load_mnist(tmp_path)


def test_mnist_config_needs_folder():
    from selfassembly.config import ConfigError, ExperimentConfig

    with pytest.raises(ConfigError, match="--mnist DIR"):
        ExperimentConfig(dataset="mnist", sizes=[784, 10, 10])
    with pytest.raises(ValueError, match="mnist_dir"):
        load_dataset("mnist")
