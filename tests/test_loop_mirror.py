"""B's loop mirror: spontaneous activity alone teaches B the fixed point (sigma^2/lambda_b) U_l W^T U_{l+1}^T."""
import numpy as np
import pytest

from selfassembly.analysis.alignment import forward_feedback_angles
from selfassembly.circuits import initial_weights
from selfassembly.circuits.numpy_engine import SampleLoop
from selfassembly.plasticity import PRESET_NAMES, PRESETS, make_preset
from selfassembly.plasticity.presets import FOUR_SYNAPSE_B

#: distinct layer sizes, so that a transposed product cannot pass by shape
SIZES = [5, 9, 7, 6]
#: away from 1, so that the scale sigma_xi^2 / lambda_b shows a missing or wrong factor
SIGMA, LAM_B = 0.7, 0.5


def _angle(a, b):
    cos = np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))))


def _spontaneous_only(preset, seed, steps, **params):
    """Spontaneous activity alone (eta = 0: W and the task rule are still); returns the start, the
    end, and B averaged over the last half of the steps (which averages out the mirror's noise)."""
    rules = make_preset(preset, eta=0.0, sigma_xi=SIGMA, lam_b=LAM_B, **params)
    w, m = initial_weights(SIZES, rules, seed=seed)
    loop = SampleLoop(SIZES, rules, w)
    rng = np.random.default_rng(seed)
    xi, draw = loop._spontaneous(rng)
    x, y = np.zeros(SIZES[0]), np.zeros(SIZES[-1])
    mean = {l: np.zeros_like(loop.B[l]) for l in loop.B}
    for k in range(steps):
        draw()
        loop.present(x, y, xi)
        if k >= steps // 2:
            for l in mean:
                mean[l] += loop.B[l] / (steps - steps // 2)
    return w, loop.weights(), mean


@pytest.mark.parametrize("preset", ["weight_mirror", "four_synapse_fixed_cross", "four_synapse_fixed_u"])
def test_mirror_reaches_its_fixed_point(seed, preset):
    """With U fixed, B_{l+1} -> (sigma^2 / lambda_b) U_l W_{l+1}^T U_{l+1}^T in every layer, scale
    included (weight_mirror: U = I, so B -> (sigma^2 / lambda_b) W^T, Akrout et al.'s weight mirror)."""
    start, end, mean = _spontaneous_only(preset, seed, 4000, eta_b=0.01)
    for l in (2, 3):
        target = SIGMA**2 / LAM_B * end[f"U{l - 1}"] @ end[f"W{l}"].T @ end[f"U{l}"].T
        assert _angle(start[f"B{l}"], target) > 60  # a random start
        assert _angle(mean[l], target) < 6, l
        assert np.linalg.norm(mean[l]) / np.linalg.norm(target) == pytest.approx(1, abs=0.06)


def test_four_synapse_feedback_assembles_from_spontaneous_activity(seed):
    """four_synapse with no task at all: V mirrors U, U becomes orthogonal, B mirrors the loop, so
    the effective feedback V_{l-1} B_l U_l aligns with W_l^T in every layer; without the loop mirror
    it stays near 90 deg (B's only teacher is then the task)."""
    rates = dict(eta_c=0.02, eta_u=0.005, eta_b=0.005)
    start, end, _ = _spontaneous_only("four_synapse", seed, 6000, **rates)
    _, without, _ = _spontaneous_only("four_synapse_no_loop_mirror", seed, 6000, **rates)
    before, after, ablated = (forward_feedback_angles(w) for w in (start, end, without))
    for l in (2, 3):
        assert before[l] > 70 and ablated[l] > 70
        assert after[l] < 22, after


def test_ablations_carry_four_synapse_b_rule():
    """The matched ablations differ from four_synapse in U and V only; the no-loop-mirror ablation
    in B only; weight_mirror is the loop mirror with U = V = I."""
    assert PRESETS["four_synapse"][0] == FOUR_SYNAPSE_B
    for p in ("four_synapse_fixed_u", "four_synapse_fixed_cross"):
        assert make_preset(p).feedback.kind == make_preset("four_synapse").feedback.kind
        assert make_preset(p).feedback.mirror
    assert PRESETS["four_synapse_no_loop_mirror"][1:4] == PRESETS["four_synapse"][1:4]
    assert make_preset("four_synapse_no_loop_mirror").feedback.kind == "task"
    wm = make_preset("weight_mirror")
    assert (wm.feedback.kind, wm.cross_init, wm.cross.fixed) == ("loop_mirror", "identity", True)
    assert {p for p in PRESET_NAMES if make_preset(p).feedback.mirror} == {
        "weight_mirror", "four_synapse", "four_synapse_fixed_u", "four_synapse_fixed_cross"}


def test_b_rule_override():
    assert make_preset("kolen_pollack", b_rule="both").feedback.kind == "both"
    with pytest.raises(ValueError, match="takes no B rule override"):
        make_preset("backprop", b_rule="loop_mirror")
    with pytest.raises(ValueError, match="unknown rule 'mirror' for B; valid names: task, loop_mirror, both"):
        make_preset("four_synapse", b_rule="mirror")
