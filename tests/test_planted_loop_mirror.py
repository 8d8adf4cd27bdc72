"""B's loop mirror where the other tests do not look (issue 16, item 8; tools/mutate.py's "lm-" mutants).

* The rule at eta_b and lambda_b away from their defaults, in both engines, step by step against the
  tests' transcription of MODEL.md (tests/model_reference.py): at lambda_b = 1 a rule that drops
  lambda_b computes what the correct one does.
* The configuration's eta_b, lambda_b and b_rule reach the rules (the engines agree with each other
  whatever rules they are given, so only this shows a parameter that never arrives).
* run_preset builds the engine the configuration names.
"""
import numpy as np
import pytest

import selfassembly.circuits.network as network
import selfassembly.circuits.numpy_engine as numpy_engine
from selfassembly.circuits import build_circuit, initial_weights
from selfassembly.circuits import reference as ref
from selfassembly.circuits.numpy_engine import SampleLoop
from selfassembly.config import ExperimentConfig
from selfassembly.experiment import load_run_data, run_preset
from selfassembly.plasticity import make_preset

from conftest import small_problem
from model_reference import plasticity_step

#: distinct sizes (a transpose cannot pass by shape), and square B and U throughout (a transpose, or
#: U_l for U_{l+1}, passes by shape and must show in the values); every loop-mirror number away from
#: its default and 1
SHAPES = {"distinct": [6, 5, 4, 3], "square": [6, 5, 5, 5]}
PARAMS = dict(eta=0.05, lam=0.01, eta_c=0.05, eta_u=0.0125, sigma_xi=1.5, eta_b=0.05, lam_b=0.4)
#: (preset, B rule override)
CASES = [("weight_mirror", None), ("four_synapse", None), ("four_synapse", "both")]


def _rules(preset, b_rule):
    rules = make_preset(preset, b_rule=b_rule, **PARAMS)
    assert rules.feedback.mirror and (rules.feedback.lam_b, rules.feedback.eta_b) == (0.4, 0.05)
    return rules


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("preset,b_rule", CASES)
def test_circuit_loop_mirror_matches_reference_at_non_default_lam_b(rng, seed, preset, b_rule, shape):
    sizes = SHAPES[shape]
    rules = _rules(preset, b_rule)
    w, masks = initial_weights(sizes, rules, seed=seed)
    stim = small_problem(rng, sizes, n_steps=3)
    c = build_circuit(sizes, rules, w, masks, stim)
    expected = dict(w)
    for k in stim.order:
        c.run(1)
        xi = {l: np.array(c.A[l].spont[:]) for l in range(1, len(sizes))}
        expected = plasticity_step(expected, ref.sweep(expected, stim.X[k], stim.Y[k]), rules, xi)
    got = c.weights()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-12, err_msg=name)
    for name in ("B2", "B3"):
        assert not np.allclose(got[name], w[name]), name


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("preset,b_rule", CASES)
def test_numpy_loop_mirror_matches_reference_at_non_default_lam_b(rng, seed, preset, b_rule, shape):
    sizes = SHAPES[shape]
    rules = _rules(preset, b_rule)
    w, _ = initial_weights(sizes, rules, seed=seed)
    stim = small_problem(rng, sizes, n_steps=4)
    loop, expected = SampleLoop(sizes, rules, w), dict(w)
    for k in stim.order:
        xi = {l: 1.5 * rng.normal(size=sizes[l]) for l in range(1, len(sizes))}
        expected = plasticity_step(expected, ref.sweep(expected, stim.X[k], stim.Y[k]), rules, xi)
        loop.present(stim.X[k], stim.Y[k], xi)
    got = loop.weights()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=1e-13, err_msg=name)


def test_configuration_reaches_the_loop_mirror():
    cfg = ExperimentConfig(presets=["four_synapse"], eta_b=0.007, lam_b=0.3, b_rule="loop_mirror")
    fb = cfg.rules("four_synapse").feedback
    assert (fb.kind, fb.eta_b, fb.lam_b) == ("loop_mirror", 0.007, 0.3)
    fb = ExperimentConfig(presets=["four_synapse"], eta_b=0.004, lam_b=0.6).rules("four_synapse").feedback
    assert (fb.kind, fb.eta_b, fb.lam_b) == ("both", 0.004, 0.6)  # four_synapse's own B rule by default


@pytest.mark.parametrize("engine,refused", [("numpy", (network, "build_circuit")),
                                            ("brian2", (numpy_engine, "NumpyCircuit"))])
def test_run_preset_builds_the_engine_it_is_given(monkeypatch, engine, refused):
    """With the other engine's builder refused, a run on the named engine still finishes."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"run_preset built {refused[1]} for engine {engine!r}")

    monkeypatch.setattr(*refused, refuse)
    config = ExperimentConfig(sizes=[64, 9, 7, 10], epochs=1, max_train=20, records_per_epoch=2,
                              presets=["weight_mirror"], seed=3, engine=engine)
    result = run_preset(config, "weight_mirror", load_run_data(config), progress=None)
    assert result.status == "done"
