"""The cross-stream rules at lambda_c and sigma_xi other than 1 (issue 21).

At the defaults lambda_c = sigma_xi = 1, so a rule that drops lambda_c, or noise drawn with
sqrt(sigma_xi) (or sigma_xi^2) instead of sigma_xi, computes exactly what the correct one does.
These tests run the rules at lambda_c = 0.5 (0.3) and sigma_xi = 2 (2.5) in the three engines:

* step by step, the Brian2 circuit and the numpy loop against the numpy reference
  (selfassembly/circuits/reference.py), with the circuit's own spontaneous activity;
* against what the rules must converge to, independently of any engine: V's mirror rule
  dV = eta_c (xi s^T - lambda_c V), s = U xi, xi ~ N(0, sigma_xi^2 I), has the fixed point
  E[V] = (sigma_xi^2 / lambda_c) U^T, and the projection c = <V, U^T> / |U|^2 follows
  c <- (1 - eta_c lambda_c) c + eta_c |s|^2 / |U|^2, whose mean is sigma_xi^2 / lambda_c;
* the spontaneous activity's amplitude in the circuit, sigma_xi.
"""

import numpy as np
import pytest

from selfassembly.circuits import Connectivity, Dynamic, build_circuit, initial_weights
from selfassembly.circuits import reference as ref
from selfassembly.config import ExperimentConfig
from selfassembly.plasticity import make_preset

from conftest import small_problem
from model_reference import plasticity_step

from selfassembly.circuits.numpy_engine import SampleLoop

SIGMA, LAM_C, ETA_C = 2.0, 0.5, 0.05
FIXED_POINT = SIGMA**2 / LAM_C  # 8; lambda_c dropped gives 4, sqrt(sigma_xi) gives 4, both 2
SIZES = [4, 20, 20, 12]
BURN_IN, STEPS, EVERY = 400, 1200, 10  # relaxation time 1 / (eta_c lam_c) = 40 presentations


def _mirror_rules(**kw):
    """V mirrors, U is fixed, nothing else learns: only the fixed point of V's rule is tested."""
    return make_preset("four_synapse", eta=0.0, lam=0.0, eta_c=ETA_C, lam_c=LAM_C, sigma_xi=SIGMA, cross_u="fixed", **kw)


def _scale(frames, w0):
    """Mean over frames (after the burn-in) of c = <V_l, U_l^T> / |U_l|^2, per layer."""
    return {l: float(np.mean([np.sum(f[f"V{l}"] * w0[f"U{l}"].T) / np.sum(w0[f"U{l}"] ** 2) for f in frames]))
            for l in range(1, len(SIZES))}


def _check_fixed_point(scale):
    for l, c in scale.items():
        # about 3% statistical error per layer at these settings
        assert c == pytest.approx(FIXED_POINT, rel=0.12), (l, scale)


def test_reference_mirror_rule_converges_to_sigma2_over_lambda_c():
    rules = _mirror_rules()
    w0, _ = initial_weights(SIZES, rules, seed=2)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=SIZES[0]), np.eye(SIZES[-1])[0]
    w, frames = dict(w0), []
    for t in range(1, STEPS + 1):
        xi = {l: SIGMA * rng.standard_normal(SIZES[l]) for l in range(1, len(SIZES))}
        w = plasticity_step(w, ref.sweep(w, x, y), rules, xi)
        if t > BURN_IN and t % EVERY == 0:
            frames.append(w)
    _check_fixed_point(_scale(frames, w0))


def test_numpy_loop_mirror_rule_and_noise_converge_to_sigma2_over_lambda_c():
    """The loop draws its own spontaneous activity (train): amplitude and decay both count."""
    rules = _mirror_rules()
    w0, _ = initial_weights(SIZES, rules, seed=3)
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, SIZES[0])), np.eye(SIZES[-1])[:5]
    loop, frames = SampleLoop(SIZES, rules, w0), []
    noise = np.random.default_rng(30)
    for t in range(EVERY, STEPS + 1, EVERY):
        loop.train(X, Y, rng.integers(0, 5, EVERY), noise)
        if t > BURN_IN:
            frames.append(loop.weights())
    _check_fixed_point(_scale(frames, w0))


def test_circuit_mirror_rule_and_noise_converge_to_sigma2_over_lambda_c(rng, seed):
    rules = _mirror_rules()
    w0, masks = initial_weights(SIZES, rules, seed=seed)
    c = build_circuit(SIZES, rules, w0, masks, small_problem(rng, SIZES, n_steps=STEPS), record_every=EVERY)
    c.run(STEPS)
    steps, rec = c.recorded_weights()
    frames = [{k: v[i] for k, v in rec.items()} for i, s in enumerate(steps) if s > BURN_IN]
    assert len(frames) >= (STEPS - BURN_IN) // EVERY - 1
    _check_fixed_point(_scale(frames, w0))


@pytest.mark.parametrize("mode", ["sample", "dynamic"])
def test_circuit_spontaneous_activity_has_amplitude_sigma_xi(rng, seed, mode):
    """xi ~ N(0, sigma_xi^2) in every layer, from the first step on (the OU process starts stationary)."""
    sizes = [3, 300, 300, 200]
    rules = make_preset("four_synapse", eta=0.0, lam=0.0, eta_c=0.0, eta_u=0.0, sigma_xi=2.5)
    w, masks = initial_weights(sizes, rules, seed=seed)
    m = Dynamic(tau_r_ms=2.0, T_present_ms=4.0, dt_ms=1.0, tau_xi_ms=1.0) if mode == "dynamic" else None
    c = build_circuit(sizes, rules, w, masks, small_problem(rng, sizes, n_steps=4), mode=m)
    samples = []
    for _ in range(4):
        if mode == "dynamic":
            c.network.run(m.dt, namespace={})
        else:
            c.run(1)
        samples += [np.array(c.A[l].spont[:]) for l in (1, 2, 3)]
    xi = np.concatenate(samples)
    assert xi.size == 4 * 800
    # 3200 draws (partly correlated in the dynamic mode): the std to within about 4%
    assert np.std(xi) == pytest.approx(2.5, rel=0.08)
    assert abs(np.mean(xi)) < 0.2


RULES = [("four_synapse", None, None), ("four_synapse", "hebbian", "hebbian"), ("four_synapse_fixed_u", None, None)]
PARAMS = dict(eta=0.05, lam=0.1, eta_c=0.05, lam_c=0.3, sigma_xi=2.5, eta_u=0.02)


@pytest.mark.parametrize("preset,cross_v,cross_u", RULES)
def test_circuit_steps_match_reference_at_non_default_lam_c(rng, seed, preset, cross_v, cross_u):
    sizes = [6, 5, 4, 3]
    rules = make_preset(preset, cross_v=cross_v, cross_u=cross_u, **PARAMS)
    w, masks = initial_weights(sizes, rules, seed=seed)
    stim = small_problem(rng, sizes, n_steps=3)
    c = build_circuit(sizes, rules, w, masks, stim)
    expected = dict(w)
    for k in stim.order:
        c.run(1)
        xi = {l: np.array(c.A[l].spont[:]) for l in range(1, len(sizes))} if rules.needs_noise else None
        expected = plasticity_step(expected, ref.sweep(expected, stim.X[k], stim.Y[k]), rules, xi)
    got = c.weights()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-12, err_msg=name)
    assert not np.allclose(got["V1"], w["V1"])


@pytest.mark.parametrize("preset,cross_v,cross_u", RULES)
def test_numpy_loop_steps_match_reference_at_non_default_lam_c(rng, seed, preset, cross_v, cross_u):
    sizes = [6, 5, 4, 3]
    rules = make_preset(preset, cross_v=cross_v, cross_u=cross_u, **PARAMS)
    w, _ = initial_weights(sizes, rules, seed=seed)
    stim = small_problem(rng, sizes, n_steps=4)
    loop, expected = SampleLoop(sizes, rules, w), dict(w)
    for k in stim.order:
        xi = {l: 2.5 * rng.normal(size=sizes[l]) for l in range(1, len(sizes))}
        expected = plasticity_step(expected, ref.sweep(expected, stim.X[k], stim.Y[k]), rules, xi)
        loop.present(stim.X[k], stim.Y[k], xi)
    got = loop.weights()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=1e-13, err_msg=name)


def test_configuration_parameters_reach_the_rules():
    cfg = ExperimentConfig(presets=["four_synapse"], eta=0.03, lam=0.002, eta_c=0.003, lam_c=0.5, sigma_xi=0.7,
                           eta_u=0.001)
    r = cfg.rules("four_synapse")
    assert (r.forward.eta, r.forward.lam) == (0.03, 0.002)
    assert (r.cross.eta_c, r.cross.lam_c, r.cross.sigma_xi, r.cross.eta_u) == (0.003, 0.5, 0.7, 0.001)


def test_sparse_weights_keep_their_variance_per_input():
    """gaussian connectivity: N(0, s^2) with s = scale / sqrt(p n_pre), so each cell's summed input
    has the same variance whatever the connection probability."""
    w, mask = Connectivity("gaussian", scale=2.0, p=0.25).sample(300, 400, np.random.default_rng(0))
    assert mask.mean() == pytest.approx(0.25, abs=0.01)
    assert np.std(w[mask]) == pytest.approx(2.0 / np.sqrt(0.25 * 400), rel=0.02)
    assert np.mean(np.sum(w**2, axis=1)) == pytest.approx(4.0, rel=0.02)


def test_ablations_are_what_their_names_say():
    """The verdict's matched ablations differ from four_synapse in the cross-stream rules alone."""
    full, fixed_u, fixed_cross = (make_preset(p) for p in ("four_synapse", "four_synapse_fixed_u",
                                                          "four_synapse_fixed_cross"))
    assert (full.cross.v, full.cross.u) == ("mirror", "reconstruct")
    assert (fixed_u.cross.v, fixed_u.cross.u) == ("mirror", "fixed")
    assert (fixed_cross.cross.v, fixed_cross.cross.u) == ("fixed", "fixed")
    for r in (full, fixed_u, fixed_cross):
        assert r.cross_init == "random" and r.feedback.kind == full.feedback.kind == "both"
    fa = make_preset("feedback_alignment")
    assert (fa.feedback.kind, fa.cross.v, fa.cross.u, fa.cross_init) == ("fixed", "fixed", "fixed", "identity")
