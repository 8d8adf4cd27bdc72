"""Learning happens: the Brian2 circuit trained on the bundled digits."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from selfassembly.config import ExperimentConfig
from selfassembly.datasets import load_digits
from selfassembly.experiment import run_preset
from selfassembly.plasticity import PRESET_NAMES

CHANCE = 0.1


@pytest.fixture(scope="module")
def trained():
    """Every preset, one epoch of 64-32-32-10 on digits (same seed, same initial W)."""
    config = ExperimentConfig(sizes=[64, 32, 32, 10], epochs=1, records_per_epoch=4, presets=list(PRESET_NAMES))
    data = load_digits(seed=config.seed)
    return {p: run_preset(config, p, data, progress=None) for p in PRESET_NAMES}


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_every_preset_beats_chance_widely(trained, preset):
    rows = trained[preset].rows
    assert rows[0]["test_acc"] < 0.3  # it starts near chance
    assert rows[-1]["test_acc"] > CHANCE + 0.5
    assert rows[-1]["test_loss"] < rows[0]["test_loss"] - 0.5


def test_kolen_pollack_aligns_feedback(trained, plot_dir):
    rows = trained["kolen_pollack"].rows
    angles = np.array([[r["ff_angle_2"], r["ff_angle_3"]] for r in rows])
    assert np.all(angles[0] > 80)  # random B: about 90 degrees
    assert np.all(angles[-1] < 60)
    assert np.all(np.diff(angles, axis=0) < 0)  # it falls at every record
    fig, ax = plt.subplots()
    ax.plot([r["epoch"] for r in rows], angles)
    ax.set(xlabel="epoch", ylabel="forward-feedback angle (deg)")
    fig.savefig(plot_dir / "kolen_pollack_alignment.png")
    plt.close(fig)


def test_self_assembly_orders_the_presets(trained):
    """MODEL.md's qualitative ordering: mirror-assembled V makes four_synapse align far better than with fixed V."""
    final = {p: trained[p].rows[-1] for p in PRESET_NAMES}
    assert final["four_synapse"]["cross_angle_1"] < 60 < final["four_synapse_fixed_cross"]["cross_angle_1"]
    assert final["four_synapse"]["ff_angle_2"] < final["four_synapse_fixed_cross"]["ff_angle_2"] - 10
    assert final["backprop"]["ff_angle_2"] == pytest.approx(0, abs=1e-6)
