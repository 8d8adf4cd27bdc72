"""The Brian2 circuit against the numpy reference of MODEL.md's equations."""
import numpy as np
import pytest

from selfassembly.circuits import Connectivity, Dynamic, Stimulus, build_circuit, initial_weights
from selfassembly.circuits import reference as ref
from selfassembly.plasticity import PRESET_NAMES, make_preset

from model_reference import plasticity_step
from conftest import small_circuit, small_problem

SIGNALS = {"h": "h", "r": "r", "e": "err", "m": "m", "p": "p", "d": "q"}


def _check_sweep(circuit, weights, stim, f, output):
    state = circuit.state()
    k = stim.order[circuit.steps_done - 1]
    expected = ref.sweep(weights, stim.X[k], stim.Y[k], f, output)
    compared = 0
    for sym, var in SIGNALS.items():
        for l in range(1, circuit.L + 1):
            want = expected[sym][l]
            if want is None:
                continue
            np.testing.assert_allclose(state[f"{var}{l}"], want, rtol=1e-12, atol=1e-12, err_msg=f"{sym}_{l}")
            compared += 1
    return compared


@pytest.mark.parametrize("f,output", [("tanh", "softmax"), ("relu", "linear"), ("tanh", "linear")])
@pytest.mark.parametrize("sizes", [[5, 4, 3], [6, 5, 4, 3, 2]])
def test_sweep_matches_numpy(rng, seed, sizes, f, output):
    """h, r, e, m, p, d of every layer equal MODEL.md computed in numpy (one presentation)."""
    rules, w, m = small_circuit("four_synapse", sizes, seed)
    stim = small_problem(rng, sizes)
    c = build_circuit(sizes, rules, w, m, stim, f=f, output=output)
    c.run(1)
    n = _check_sweep(c, w, stim, f, output)
    L = len(sizes) - 1
    assert n == 4 * L + 2 * (L - 1)  # h, r, e, d per layer; m, p below the top


def test_sweep_matches_numpy_sparse(rng, seed):
    sizes = [7, 6, 5, 4]
    sparse = {k: Connectivity("gaussian", p=0.5) for k in "WBUV"}
    rules, w, m = small_circuit("four_synapse_fixed_cross", sizes, seed, sparse)
    assert not all(mask.all() for mask in m.values())
    stim = small_problem(rng, sizes)
    c = build_circuit(sizes, rules, w, m, stim)
    c.run(1)
    _check_sweep(c, w, stim, "tanh", "softmax")


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_plasticity_steps_match_numpy(rng, seed, preset):
    """Three presentations of every preset give the reference weights, population by population."""
    sizes = [6, 5, 4, 3]
    rules, w, masks = small_circuit(preset, sizes, seed, eta=0.05, eta_c=0.05)
    stim = small_problem(rng, sizes, n_steps=3)
    c = build_circuit(sizes, rules, w, masks, stim)
    expected = dict(w)
    for k in stim.order:
        c.run(1)
        xi = {l: np.array(c.A[l].spont[:]) for l in range(1, len(sizes))} if rules.needs_noise else None
        sig = ref.sweep(expected, stim.X[k], stim.Y[k])
        expected = plasticity_step(expected, sig, rules, xi)
    got = c.weights()
    changed = 0
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-12, err_msg=name)
        changed += not np.array_equal(expected[name], w[name])
    # W always learns; the preset decides what else does
    assert changed >= len(sizes) - 1


def test_tied_feedback_stays_tied(rng, seed):
    """backprop keeps B = W^T and sign_symmetry B = sign(W^T) at every step."""
    sizes = [6, 5, 4, 3]
    for preset, fn in (("backprop", lambda x: x), ("sign_symmetry", np.sign)):
        rules, w, m = small_circuit(preset, sizes, seed, eta=0.1)
        c = build_circuit(sizes, rules, w, m, small_problem(rng, sizes, n_steps=20))
        c.run(20)
        got = c.weights()
        for l in (2, 3):
            assert not np.allclose(got[f"W{l}"], w[f"W{l}"])
            np.testing.assert_allclose(got[f"B{l}"], fn(got[f"W{l}"].T), rtol=1e-12, atol=1e-14)


def test_kolen_pollack_difference_decays(rng, seed):
    """With U = V = I the mirrored rule makes |W - B^T| shrink by exactly (1 - eta*lam) per step."""
    sizes = [6, 5, 4, 3]
    eta, lam = 0.1, 0.2
    rules, w, m = small_circuit("kolen_pollack", sizes, seed, eta=eta, lam=lam)
    c = build_circuit(sizes, rules, w, m, small_problem(rng, sizes, n_steps=10))
    norms = []
    for _ in range(10):
        c.run(1)
        got = c.weights()
        norms.append(np.linalg.norm(got["W3"] - got["B3"].T))
    ratios = np.array(norms[1:]) / np.array(norms[:-1])
    np.testing.assert_allclose(ratios, 1 - eta * lam, rtol=1e-9)


def test_backprop_update_is_true_gradient(rng, seed):
    """The backprop preset's dW equals -eta * dLoss/dW, the loss gradient by finite differences."""
    sizes = [5, 4, 3, 2]
    eta = 1e-3
    rules, w, m = small_circuit("backprop", sizes, seed, eta=eta, lam=0.0)
    stim = small_problem(rng, sizes, n_steps=1)
    c = build_circuit(sizes, rules, w, m, stim)
    c.run(1)
    dW = {k: (c.weights()[k] - w[k]) / -eta for k in ("W1", "W2", "W3")}
    x, y = stim.X[stim.order[0]], stim.Y[stim.order[0]]

    def loss(weights):
        return ref.loss(ref.forward(weights, x)[1][-1], y)

    eps = 1e-6
    for name, grad in dW.items():
        fd = np.zeros_like(grad)
        for idx in np.ndindex(grad.shape):
            plus, minus = dict(w), dict(w)
            plus[name] = w[name].copy()
            minus[name] = w[name].copy()
            plus[name][idx] += eps
            minus[name][idx] -= eps
            fd[idx] = (loss(plus) - loss(minus)) / (2 * eps)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("preset", ["kolen_pollack", "four_synapse"])
def test_dynamic_mode_approaches_sample_clocked(rng, seed, preset):
    """tau_r << T_present << tau_w: the dynamic mode's weights and forward-feedback angles approach
    the sample-clocked ones. four_synapse runs with its cross-stream rates and its loop mirror at 0
    here, so that both modes are deterministic (the noise-driven rules are tested statistically below)."""
    from selfassembly.analysis.alignment import forward_feedback_angles

    sizes = [5, 4, 3, 2]
    # tau_w = T_present / eta = 500 T_present: weights barely move within one presentation
    rules, w, m = small_circuit(preset, sizes, seed, eta=0.002, eta_c=0.0, eta_u=0.0, eta_b=0.0)
    stim = small_problem(rng, sizes, n_steps=3)
    sample = build_circuit(sizes, rules, w, m, stim, name="sample")
    sample.run(3)
    want = sample.weights()
    errors, angle_errors = [], []
    for T in (10.0, 40.0):
        mode = Dynamic(tau_r_ms=0.5, T_present_ms=T, dt_ms=0.05)
        dyn = build_circuit(sizes, rules, w, m, stim, mode=mode, name=f"dyn{int(T)}")
        dyn.run(3)
        got = dyn.weights()
        change = np.linalg.norm(np.concatenate([(want[k] - w[k]).ravel() for k in want]))
        err = np.linalg.norm(np.concatenate([(got[k] - want[k]).ravel() for k in want]))
        errors.append(err / change)
        a_dyn, a_sample, a_start = (forward_feedback_angles(x) for x in (got, want, w))
        angle_errors.append(max(abs(a_dyn[l] - a_sample[l]) / abs(a_sample[l] - a_start[l]) for l in a_dyn))
    # the transient share of a presentation scales like tau_r / T_present
    assert errors[1] < 0.05
    assert errors[1] < errors[0] / 2.5
    # so does the angles' share of their change (KP: B moves; four_synapse: B moves through U)
    assert angle_errors[1] < 0.05 and angle_errors[1] < angle_errors[0] / 2.5


def test_dynamic_cross_stream_pair_matches_sample_clocked(rng, seed, plot_dir):
    """What the cross-stream pair learns from spontaneous activity does not depend on the time mode
    or on dt: with spontaneous activity as an Ornstein-Uhlenbeck process (tau_xi = T_present), the
    cross-stream angle and U's orthogonality match the sample-clocked mode's in distribution.
    (With noise redrawn every dt the angle fell from 28 to 3 deg as dt shrank.)"""
    from selfassembly.analysis.alignment import cross_stream_angles, u_orthogonality

    sizes = [3, 10, 8, 4]
    rules, w, m = small_circuit("four_synapse", sizes, seed, eta=0.0, lam=0.0, eta_c=0.05, eta_u=0.0125,
                                eta_b=0.02, lam_b=1.0)
    stim = small_problem(rng, sizes, n_steps=250)
    measured, loop = {}, {}
    for label, mode in (("sample", None), ("dt 0.1 ms", Dynamic(tau_r_ms=0.2, T_present_ms=1.0, dt_ms=0.1)),
                        ("dt 0.05 ms", Dynamic(tau_r_ms=0.2, T_present_ms=1.0, dt_ms=0.05))):
        c = build_circuit(sizes, rules, w, m, stim, mode=mode, record_every=25, name=label.replace(" ", "").replace(".", ""))
        c.run(250)
        steps, rec = c.recorded_weights()
        late = [{k: v[i] for k, v in rec.items()} for i in range(len(steps)) if steps[i] >= 100]  # after V's 20-step decay
        measured[label] = (np.mean([list(cross_stream_angles(f).values()) for f in late]),
                           np.mean([list(u_orthogonality(f).values()) for f in late]))
        # B's loop mirror: B_{l+1} against its fixed point U_l W_{l+1}^T U_{l+1}^T (W does not learn here)
        loop[label] = np.mean([_angle(f["B3"], f["U2"] @ f["W3"].T @ f["U3"].T) for f in late])
    (cross0, orth0) = measured["sample"]
    assert 15 < cross0 < 45 and orth0 < 0.75  # assembled from 90 deg and about 1, to the noise floor
    assert loop["sample"] < 40, loop  # from about 90 deg
    for label in ("dt 0.1 ms", "dt 0.05 ms"):
        cross, orth = measured[label]
        assert abs(cross - cross0) < 5, measured
        assert abs(orth - orth0) < 0.08, measured
        assert abs(loop[label] - loop["sample"]) < 6, loop


def _angle(a, b):
    cos = np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))))


def test_tied_feedback_stays_tied_in_dynamic_mode(rng, seed):
    """backprop's B = W^T and sign_symmetry's B = sign(W^T) hold exactly while rates relax too.

    The tied B reads D's input q (= e), not its rate d, which lags q by tau_r, and every weight
    steps before the rates relax, so B receives W's own update at every time step."""
    sizes = [6, 5, 4, 3]
    mode = Dynamic(tau_r_ms=1.0, T_present_ms=4.0, dt_ms=0.25)
    for preset, fn in (("backprop", lambda x: x), ("sign_symmetry", np.sign)):
        rules, w, m = small_circuit(preset, sizes, seed, eta=0.2)
        c = build_circuit(sizes, rules, w, m, small_problem(rng, sizes, n_steps=5), mode=mode, name=preset)
        c.run(5)
        got = c.weights()
        for l in (2, 3):
            moved = np.linalg.norm(got[f"W{l}"] - w[f"W{l}"])
            assert moved > 1e-3
            np.testing.assert_allclose(got[f"B{l}"], fn(got[f"W{l}"].T), rtol=0, atol=1e-15 * moved)


def test_dynamic_mode_without_decay(rng, seed):
    """lambda = 0 is a valid choice in the dynamic mode too (weights are integrated by Euler steps)."""
    sizes = [4, 3, 2]
    rules, w, m = small_circuit("four_synapse", sizes, seed, eta=0.01, lam=0.0, lam_c=0.0)
    c = build_circuit(sizes, rules, w, m, small_problem(rng, sizes, n_steps=2),
                      mode=Dynamic(tau_r_ms=1.0, T_present_ms=5.0, dt_ms=0.1))
    c.run(2)
    got = c.weights()
    assert all(np.all(np.isfinite(v)) for v in got.values())
    assert not np.allclose(got["W1"], w["W1"])


@pytest.mark.slow
def test_cpp_standalone_matches_numpy(rng, seed, tmp_path):
    """numpy and cpp_standalone give the same weights after a short run."""
    from selfassembly.circuits import configure_target

    sizes = [6, 5, 4, 3]
    rules, w, m = small_circuit("kolen_pollack", sizes, seed, eta=0.05)
    stim = small_problem(rng, sizes, n_steps=30)
    c = build_circuit(sizes, rules, w, m, stim, record_every=10)
    c.run(30)
    want = c.weights()
    configure_target("cpp_standalone", standalone_dir=str(tmp_path / "sa"))
    try:
        c2 = build_circuit(sizes, rules, w, m, stim, record_every=10)
        c2.run(30)
        with pytest.raises(RuntimeError, match="runs once"):
            c2.run(1)
        got = c2.weights()
        steps, rec = c2.recorded_weights()
    finally:
        configure_target("numpy")
    assert list(steps) == [0, 10, 20]
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cython", "cpp_standalone"])
@pytest.mark.parametrize("preset", ["four_synapse", "weight_mirror"])
def test_compiled_targets_compute_the_new_rule(rng, seed, tmp_path, target, preset):
    """four_synapse (V mirror, U reconstruction, V_L, B's task rule and loop mirror) and weight_mirror
    on a compiled target equal the reference fed with the spontaneous activity that target drew
    (each target has its own random stream)."""
    import brian2 as b2

    from selfassembly.circuits import configure_target

    sizes = [6, 5, 4, 3]
    rules, w, m = small_circuit(preset, sizes, seed, eta=0.05, eta_c=0.05, eta_u=0.0125, eta_b=0.05, lam_b=0.5)
    stim = small_problem(rng, sizes, n_steps=6)
    configure_target(target, cache_dir=str(tmp_path / "cache"), standalone_dir=str(tmp_path / "sa"))
    try:
        b2.seed(seed)
        c = build_circuit(sizes, rules, w, m, stim)
        # the noise as each step used it: recorded after the update at the start of the step
        mons = {l: b2.StateMonitor(c.A[l], "spont", record=True, when="start", order=1) for l in (1, 2, 3)}
        c.network.add(*mons.values())
        c.run(len(stim.order))
        got = c.weights()
        xi = {l: np.asarray(mon.spont) for l, mon in mons.items()}  # (n_l, steps)
    finally:
        configure_target("numpy")
    expected = dict(w)
    for k, sample in enumerate(stim.order):
        sig = ref.sweep(expected, stim.X[sample], stim.Y[sample])
        expected = plasticity_step(expected, sig, rules, {l: xi[l][:, k] for l in xi})
    without_mirror = dict(w)  # the same steps with B's task rule alone: the mirror must show
    task_only = make_preset(preset, eta=0.05, eta_c=0.05, eta_u=0.0125, b_rule="task") if preset == "four_synapse" else None
    for k, sample in enumerate(stim.order):
        if task_only:
            sig = ref.sweep(without_mirror, stim.X[sample], stim.Y[sample])
            without_mirror = plasticity_step(without_mirror, sig, task_only, {l: xi[l][:, k] for l in xi})
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-9, atol=1e-12, err_msg=name)
    for name in ("B2", "B3") + (("U1", "U3", "V3") if preset == "four_synapse" else ()):
        assert not np.allclose(got[name], w[name]), name
    for name in ("B2", "B3"):
        assert not np.allclose(got[name], without_mirror[name] if task_only else w[name], rtol=1e-3), name


# ---- bad input ---------------------------------------------------------------

def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="valid names: backprop, feedback_alignment"):
        make_preset("backprob")
    with pytest.raises(ValueError, match=r"valid names: \['relu', 'tanh'\]"):
        ref.activation("sigmoid")


def test_bad_sizes_and_shapes(rng, seed):
    rules = make_preset("kolen_pollack")
    with pytest.raises(ValueError, match="positive"):
        initial_weights([5, 0, 3], rules)
    with pytest.raises(ValueError, match="at least one more layer"):
        initial_weights([5], rules)
    sizes = [5, 4, 3]
    w, m = initial_weights(sizes, rules, seed=seed)
    stim = small_problem(rng, [6, 4, 3])
    with pytest.raises(ValueError, match=r"n_0 = 5; make sizes\[0\] = 6"):
        build_circuit(sizes, rules, w, m, stim)
    with pytest.raises(ValueError, match="must match row for row"):
        Stimulus(np.zeros((3, 5)), np.zeros((4, 3)), np.array([0]))
    with pytest.raises(ValueError, match="outside"):
        Stimulus(np.zeros((3, 5)), np.zeros((3, 3)), np.array([3]))
    with pytest.raises(ValueError, match="finite"):
        Stimulus(np.full((3, 5), np.nan), np.zeros((3, 3)), np.array([0]))
    with pytest.raises(ValueError, match="probability"):
        Connectivity("gaussian", p=1.5)


def test_spontaneous_activity_assembles_the_cross_stream_pair(rng, seed, plot_dir):
    """Driven only by spontaneous activity (eta = 0), V mirrors U and U becomes orthogonal, in every
    layer including the top pair (Oja's subspace rule: U^T U -> (lam_c / sigma_xi^2) I).

    The floor (orthogonality about 0.2, condition number about 1.4, cross-stream angle about
    20 deg) is set by the noise of V's mirror at eta_c = 0.02; a random square U starts near
    1, with condition numbers of 10 to 10^5."""
    import matplotlib.pyplot as plt

    from selfassembly.analysis.alignment import cross_stream_angles, u_condition, u_orthogonality

    sizes = [4, 12, 10, 6]
    rules, w, m = small_circuit("four_synapse", sizes, seed, eta=0.0, lam=0.0, eta_c=0.02, eta_u=0.005)
    c = build_circuit(sizes, rules, w, m, small_problem(rng, sizes, n_steps=2500), record_every=250)
    c.run(2500)
    steps, rec = c.recorded_weights()
    frames = [{k: v[i] for k, v in rec.items()} for i in range(len(steps))]
    orth = np.array([list(u_orthogonality(f).values()) for f in frames])
    cross = np.array([list(cross_stream_angles(f).values()) for f in frames])
    final = c.weights()
    assert np.all(orth[0] > 0.8) and np.all(cross[0] > 75)  # the random start
    values = (u_orthogonality(final), u_condition(final), cross_stream_angles(final))
    for l in (1, 2, 3):
        assert values[0][l] < 0.35 and values[1][l] < 2.5 and values[2][l] < 30, values
        # the scale of the fixed point: U^T U -> I for sigma_xi = lam_c = 1
        assert np.mean(np.diag(final[f"U{l}"].T @ final[f"U{l}"])) == pytest.approx(1.0, abs=0.25)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    axes[0].plot(steps, orth)
    axes[0].set(xlabel="presentations", ylabel="||U^T U / mean diag - I|| / sqrt(n)")
    axes[1].plot(steps, cross)
    axes[1].set(xlabel="presentations", ylabel="angle(V, U^T) (deg)")
    fig.savefig(plot_dir / "cross_stream_assembly.png")
    plt.close(fig)
