"""Learning happens: the Brian2 circuit trained on the bundled digits."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from selfassembly.config import ExperimentConfig
from selfassembly.datasets import load_digits
from selfassembly.experiment import run_preset
from selfassembly.plasticity import PRESET_NAMES

CHANCE = 0.1
#: the weight decay at which Kolen-Pollack's B forgets its random start within a 10-epoch digits run:
#: |W - B^T| shrinks by (1 - eta*lam)^14380 = 0.003 (at the default 1e-4 only to 0.97)
KP_LAM = 0.02


@pytest.fixture(scope="module")
def trained():
    """Every preset, three epochs of 64-32-32-10 on digits (same seed, same initial W), at the
    default settings, on the numpy engine (equal to the Brian2 engine to 1e-9, tests/test_engines.py)."""
    config = ExperimentConfig(sizes=[64, 32, 32, 10], epochs=3, records_per_epoch=2, presets=list(PRESET_NAMES),
                              engine="numpy")
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


def test_kolen_pollack_converges_to_backprop():
    """Ten epochs at lam = KP_LAM: |W - B^T| has shrunk by (1 - eta*lam)^14380 = 0.003, so the
    forward-feedback angle is below 1 deg in every layer (0.3-0.7 deg over 5 seeds)."""
    config = ExperimentConfig(sizes=[64, 16, 16, 10], epochs=10, records_per_epoch=1, presets=["kolen_pollack"],
                              lam=KP_LAM, engine="numpy")
    rows = run_preset(config, "kolen_pollack", load_digits(seed=config.seed), progress=None).rows
    final = rows[-1]
    assert rows[0]["ff_angle_2"] > 80 and rows[0]["ff_angle_3"] > 80
    assert final["ff_angle_2"] < 1 and final["ff_angle_3"] < 1
    assert final["test_acc"] > CHANCE + 0.7


def test_self_assembly_orders_the_presets(trained):
    """MODEL.md's ordering at the default decay, in every layer: V assembles to U^T in the presets
    where it mirrors; U orthogonalises only where it reconstructs; the feedback aligns best with the
    whole loop (V mirror, U reconstruction, B's loop mirror), and worse without any one part of it,
    and worse than four_synapse for fixed random feedback."""
    final = {p: trained[p].rows[-1] for p in PRESET_NAMES}
    layers = sorted(int(k.split("_")[-1]) for k in final["four_synapse"] if k.startswith("ff_angle_"))
    all_layers = range(1, layers[-1] + 1)
    assert layers == [2, 3]
    for l in all_layers:
        for p in ("four_synapse", "four_synapse_fixed_u", "four_synapse_no_loop_mirror"):
            assert final[p][f"cross_angle_{l}"] < 20 < 75 < final["four_synapse_fixed_cross"][f"cross_angle_{l}"]
        assert final["four_synapse"][f"u_orth_{l}"] < 0.65 < 0.85 < final["four_synapse_fixed_u"][f"u_orth_{l}"]
    for l in layers:
        fs = final["four_synapse"][f"ff_angle_{l}"]
        assert trained["four_synapse"].rows[0][f"ff_angle_{l}"] > 70  # random wiring: near 90 deg
        assert fs < 40  # the loop mirror (eta_b = 0.0002) is still converging after 3 epochs: 35 deg (26 after 10)
        for other in ("four_synapse_no_loop_mirror", "four_synapse_fixed_u", "four_synapse_fixed_cross",
                      "feedback_alignment"):
            assert fs < final[other][f"ff_angle_{l}"] - 10, (other, l)
        # the mirror with U = V = I (Akrout's weight mirror): the loop mirror without the cross-stream pair's
        # noise, more aligned than four_synapse (24 deg after 3 epochs at eta_b = 0.0002; 8 after 10)
        assert final["weight_mirror"][f"ff_angle_{l}"] < min(30, fs - 5)
        assert final["backprop"][f"ff_angle_{l}"] == pytest.approx(0, abs=1e-6)
