"""Shared fixtures: seeds, small random circuits, and a diagnostic-plot folder."""
import os
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from selfassembly.circuits import Stimulus, configure_target, initial_weights  # noqa: E402
from selfassembly.plasticity import make_preset  # noqa: E402


@pytest.fixture
def seed(request):
    """A per-test seed derived from the test's name: tests do not share random streams,
    and a failure repeats on the next run (crc32, unlike hash(), is not salted per process)."""
    return zlib.crc32(request.node.name.encode())


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)


@pytest.fixture
def plot_dir(request):
    """Folder for diagnostic plots (set SELFASSEMBLY_TEST_PLOTS to keep them; default: pytest's tmp dir)."""
    root = os.environ.get("SELFASSEMBLY_TEST_PLOTS")
    path = Path(root) / request.node.name if root else request.getfixturevalue("tmp_path")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def numpy_target():
    """Every test starts on Brian2's runtime device with the numpy target."""
    configure_target("numpy")
    yield
    configure_target("numpy")


def small_problem(rng, sizes, n_samples=8, n_steps=4):
    """Random data and presentation order for a circuit of the given sizes."""
    X = rng.normal(size=(n_samples, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n_samples)]
    order = rng.integers(0, n_samples, n_steps)
    return Stimulus(X, Y, order)


def small_circuit(preset, sizes, seed, connectivity=None, **params):
    """Rules and initial weights of a small circuit."""
    rules = make_preset(preset, **params)
    weights, masks = initial_weights(sizes, rules, connectivity, seed)
    return rules, weights, masks
