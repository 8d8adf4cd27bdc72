"""Phases: a run as a schedule of epochs, each with its own settings (lesions, a developmental phase).

What the rules say a phase does (selfassembly.plasticity.phases):
- sigma_xi = 0: U stops (its change is eta_u s (xi - a) with s = U xi = 0), V and B's loop mirror only decay;
- stimulus off: r_0 = 0 and e_L = 0, so W (and B's task rule) only decay, while U, V and B's loop mirror learn;
- freeze: the frozen population's weights are exactly those at the start of the phase.
"""
import brian2 as b2
import numpy as np
import pytest

from selfassembly.circuits import Stimulus, engines, initial_weights
from selfassembly.cli import build_parser, resolve_config
from selfassembly.config import ConfigError, ExperimentConfig, load_config
from selfassembly.errors import RunFolderError
from selfassembly.experiment import (load_run_data, presentation_order, preset_done, read_metrics, run_experiment,
                                     run_preset, schedule_segments)
from selfassembly.plasticity.phases import Phase, phase_at, phase_parameters
from selfassembly.plasticity import make_preset

#: every rate away from its default and from 1, so that a missing factor shows
PARAMS = dict(eta=0.05, lam=0.003, eta_c=0.01, lam_c=0.7, sigma_xi=0.8, eta_u=0.0025, eta_b=0.004, lam_b=0.6)
N = 40  # training samples: presentations per epoch


def _config(phases, preset="four_synapse", **kw):
    settings = dict(sizes=[64, 9, 7, 10], max_train=N, records_per_epoch=4, presets=[preset], seed=3, phases=phases,
                    **PARAMS)
    settings.update(kw)
    return ExperimentConfig(**settings)


def _phase_ends(config, preset, engine="numpy", signals=None):
    """Weights at the start and at the end of each phase, run phase by phase on ``engine``.

    ``signals``, a dict, receives the hidden rates r_l and the top error e_L of the last presentation."""
    data = load_run_data(config)
    rules = config.rules(preset)
    weights, masks = initial_weights(config.sizes, rules, config.connectivity_objects(), config.seed)
    order = presentation_order(len(data.X_train), config.epochs, config.seed)
    if engine == "brian2":
        b2.seed(config.seed)
        np.random.seed(config.seed)
    circuit = engines.build(engine, config.sizes, rules, weights, masks, Stimulus(data.X_train, data.Y_train, order),
                            config.time_mode(), config.activation, config.output, name=preset.replace("-", "_"),
                            seed=config.seed)
    assert len(data.X_train) == N
    ends = [circuit.weights()]
    for n, params in schedule_segments(config, preset, N):
        circuit.set_phase(params)
        circuit.run(n)
        ends.append(circuit.weights())
    if signals is not None:
        L = len(config.sizes) - 1
        if engine == "numpy":
            signals.update({f"r{l}": circuit.loop.r[l].copy() for l in range(1, L)}, eL=circuit.loop.e[L].copy())
        else:
            state = circuit.state()
            signals.update({f"r{l}": state[f"r{l}"] for l in range(1, L)}, eL=state[f"err{L}"])
    return ends


def _family(w, pop):
    return {k: v for k, v in w.items() if k[0] == pop}


# ---- the schedule in the configuration -------------------------------------------------------------
@pytest.mark.parametrize("phases, match", [
    ([{"epochs": 0}], "epochs must be a whole number >= 1"),
    ([{"epochs": 1.5}], "epochs must be a whole number"),
    ([{"name": "a"}], "phase 1: give its length, epochs = N"),
    ([{"epochs": 2, "sigma": 0.0}], "unknown key\\(s\\) 'sigma'; valid keys: name, epochs, sigma_xi, stimulus, freeze"),
    ([{"epochs": 2, "sigma_xi": -1.0}], "sigma_xi must be a finite number >= 0"),
    ([{"epochs": 2, "sigma_xi": "0"}], "sigma_xi must be a finite number >= 0"),
    ([{"epochs": 2, "stimulus": "off"}], "stimulus must be true or false"),
    ([{"epochs": 2, "stimulus": 0}], "stimulus must be true or false"),
    ([{"epochs": 2, "freeze": ["X"]}], "freeze names 'X', which is not a population; valid: W, B, U, V"),
    ([{"epochs": 2, "freeze": ["U", "U"]}], "freeze lists 'U' twice"),
    ([{"epochs": 2, "freeze": 3}], "freeze must be a list of populations"),
    ([{"epochs": 1, "name": "a"}, {"epochs": 1, "name": "a"}], "phase 2: the name 'a' is used twice"),
    ([{"epochs": 1, "name": "a,b"}], "without commas"),
    ([3], "phase 1 must be a table"),
    ({"epochs": 3}, "phases must be a list of tables"),
])
def test_invalid_schedules_are_refused_naming_the_fix(phases, match):
    with pytest.raises(ConfigError, match=match):
        ExperimentConfig(phases=phases)


def test_schedule_from_toml_sets_the_epochs_and_round_trips(tmp_path):
    path = tmp_path / "lesion.toml"
    path.write_text('[training]\npresets = ["four_synapse"]\n\n[[phases]]\nname = "assembly"\nepochs = 3\n\n'
                    '[[phases]]\nname = "silenced"\nepochs = 2\nsigma_xi = 0.0\nfreeze = ["V", "U"]\n'
                    '\n[[phases]]\nepochs = 1\nstimulus = false\n')
    config = load_config(path)
    assert config.epochs == 6
    assert [p.name for p in config.schedule()] == ["assembly", "silenced", "phase3"]
    assert config.schedule()[1] == Phase(epochs=2, name="silenced", sigma_xi=0.0, freeze=("U", "V"))
    assert not config.schedule()[2].stimulus
    again = tmp_path / "again.toml"
    again.write_text(config.to_toml())
    assert load_config(again).config_hash() == config.config_hash()
    # training.epochs that disagrees with the phases is refused, one that agrees is accepted
    path.write_text('[training]\nepochs = 4\n[[phases]]\nepochs = 3\n')
    with pytest.raises(ConfigError, match="training.epochs = 4 but the \\[\\[phases\\]\\] add up to 3"):
        load_config(path)
    path.write_text('[training]\nepochs = 3\n[[phases]]\nepochs = 3\n')
    assert load_config(path).epochs == 3
    path.write_text('[phases]\nepochs = 3\n')  # one bracket: a table, not a list of tables
    with pytest.raises(ConfigError, match="with two brackets"):
        load_config(path)


def test_hash_follows_the_schedule_and_only_it():
    plain = ExperimentConfig()
    assert "phases" not in plain.to_dict()  # runs without a schedule keep their hashes
    one = ExperimentConfig(phases=[{"epochs": 10}])
    two = ExperimentConfig(phases=[{"epochs": 5}, {"epochs": 5, "sigma_xi": 0.0}])
    three = ExperimentConfig(phases=[{"epochs": 5}, {"epochs": 5, "sigma_xi": 0.5}])
    frozen = ExperimentConfig(phases=[{"epochs": 5}, {"epochs": 5, "freeze": ["U", "V"]}])
    frozen_again = ExperimentConfig(phases=[{"epochs": 5}, {"epochs": 5, "freeze": ["V", "U"]}])
    hashes = {c.config_hash() for c in (plain, one, two, three, frozen)}
    assert len(hashes) == 5
    assert frozen.config_hash() == frozen_again.config_hash()  # the same schedule, written in another order


def test_cli_refuses_epochs_with_a_schedule(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[phases]]\nepochs = 2\n[[phases]]\nepochs = 1\nsigma_xi = 0.0\n')
    args = build_parser().parse_args(["run", "--config", str(path), "--epochs", "4"])
    with pytest.raises(ConfigError, match="--epochs 4 conflicts with the \\[\\[phases\\]\\] schedule"):
        resolve_config(args)
    args = build_parser().parse_args(["run", "--config", str(path), "--seed", "4"])
    assert resolve_config(args).epochs == 3


def test_phase_parameters_zero_the_rates_of_frozen_populations():
    rules = make_preset("four_synapse", **PARAMS)
    p = phase_parameters(rules, Phase(epochs=1, freeze=("W", "V")))
    assert p["W"] == {"eta": 0.0, "lam": PARAMS["lam"]}
    assert p["V"] == {"eta_c": 0.0, "lam_c": PARAMS["lam_c"]}
    assert p["U"] == {"eta_u": PARAMS["eta_u"]}
    # four_synapse's B: task rule (W's eta, lam) + loop mirror; not frozen with W
    assert p["B"] == {"eta": PARAMS["eta"], "lam": PARAMS["lam"], "eta_b": PARAMS["eta_b"], "lam_b": PARAMS["lam_b"]}
    assert phase_parameters(rules, Phase(epochs=1, freeze=("B",)))["B"] == {
        "eta": 0.0, "lam": PARAMS["lam"], "eta_b": 0.0, "lam_b": PARAMS["lam_b"]}
    assert p["sigma_xi"] == PARAMS["sigma_xi"] and p["stimulus"]
    # a tied B is a copy of W^T: frozen with W
    tied = phase_parameters(make_preset("backprop", **PARAMS), Phase(epochs=1, freeze=("W",)))
    assert tied["B"]["eta"] == 0.0 and tied["frozen"] == {"W", "B"}
    assert [phase_at(s, (Phase(1, "a"), Phase(2, "b")), 10) for s in (0, 10, 11, 30)] == ["a", "a", "b", "b"]


# ---- what each phase does to the weights, as the rules say ------------------------------------------
def test_silenced_spontaneous_activity_stops_u_and_decays_v_and_the_loop_mirror():
    # B by the loop mirror alone, so that the silenced phase leaves B nothing but its decay
    config = _config([{"epochs": 1, "name": "assembly"}, {"epochs": 1, "name": "silenced", "sigma_xi": 0.0}],
                     b_rule="loop_mirror")
    start, assembled, silenced = _phase_ends(config, "four_synapse")
    for k in _family(start, "U"):  # U learned in the first phase, and stopped exactly in the second
        assert not np.allclose(assembled[k], start[k])
        np.testing.assert_array_equal(silenced[k], assembled[k], err_msg=k)
    decay_v = (1 - PARAMS["eta_c"] * PARAMS["lam_c"]) ** N
    for k in _family(start, "V"):  # dV = eta_c (xi s^T - lam_c V) with xi = 0: decay only
        np.testing.assert_allclose(silenced[k], decay_v * assembled[k], rtol=1e-12, atol=0, err_msg=k)
    decay_b = (1 - PARAMS["eta_b"] * PARAMS["lam_b"]) ** N
    for k in _family(start, "B"):  # the loop mirror: dB = eta_b (s u^T - lam_b B) with s = 0
        np.testing.assert_allclose(silenced[k], decay_b * assembled[k], rtol=1e-12, atol=0, err_msg=k)
    for k in _family(start, "W"):  # the task goes on
        assert not np.allclose(silenced[k], assembled[k], rtol=1e-3)


@pytest.mark.parametrize("engine", ["numpy", "brian2"])
@pytest.mark.parametrize("pop", ["W", "B", "U", "V"])
def test_a_frozen_population_is_exactly_unchanged_and_the_others_learn(pop, engine):
    config = _config([{"epochs": 1, "name": "assembly"}, {"epochs": 1, "name": "lesion", "freeze": [pop]}])
    _, before, after = _phase_ends(config, "four_synapse", engine)
    for k in before:
        if k[0] == pop:
            np.testing.assert_array_equal(after[k], before[k], err_msg=k)
        else:
            assert not np.allclose(after[k], before[k], rtol=1e-6, atol=0), k


@pytest.mark.parametrize("engine", ["numpy", "brian2"])
def test_frozen_feedback_of_backprop_stops_the_transport(engine):
    config = _config([{"epochs": 1}, {"epochs": 1, "freeze": ["B"]}, {"epochs": 1, "freeze": ["W"]}],
                     preset="backprop")
    _, first, b_frozen, w_frozen = _phase_ends(config, "backprop", engine)
    np.testing.assert_allclose(first["B2"], first["W2"].T, atol=1e-12)  # the transport works
    np.testing.assert_array_equal(b_frozen["B2"], first["B2"])
    assert not np.allclose(b_frozen["W2"], first["W2"], rtol=1e-4)  # W learned, B did not follow
    for k in ("W2", "B2"):  # W frozen: its transported copy too
        np.testing.assert_array_equal(w_frozen[k], b_frozen[k], err_msg=k)


@pytest.mark.parametrize("preset", ["four_synapse", "four_synapse_no_loop_mirror"])
def test_without_stimulus_w_only_decays_while_the_loop_assembles(preset):
    """The developmental phase: spontaneous activity alone (r_0 = 0, e_L = 0)."""
    config = _config([{"epochs": 1, "name": "development", "stimulus": False}, {"epochs": 1, "name": "learning"}],
                     preset=preset)
    start, developed, learned = _phase_ends(config, preset)
    decay = (1 - PARAMS["eta"] * PARAMS["lam"]) ** N
    for k in _family(start, "W"):  # dW = -eta (e r^T + lam W) with e r^T = 0
        np.testing.assert_allclose(developed[k], decay * start[k], rtol=1e-12, atol=0, err_msg=k)
        assert not np.allclose(learned[k], developed[k], rtol=1e-3)  # then the stimulus teaches it
    for k in [*_family(start, "U"), *_family(start, "V")]:
        assert not np.allclose(developed[k], start[k], rtol=1e-3), k
    for k in _family(start, "B"):
        if preset == "four_synapse":  # the loop mirror learns from xi alone
            assert not np.allclose(developed[k], decay * start[k], rtol=1e-3), k
        else:  # the task rule: dB = -eta ((U r) d^T + lam B) with r = 0, d = 0: decay only
            np.testing.assert_allclose(developed[k], decay * start[k], rtol=1e-12, atol=0, err_msg=k)


@pytest.mark.parametrize("engine", ["numpy", "brian2"])
def test_without_stimulus_there_is_no_teacher_either(engine):
    """e_L = 0 as well as r_0 = 0: the Hebbian cross-stream rules (task-driven: d = U e, r) only decay.

    The top layer's softmax rate is 1/n_L even without input, so only a zero error keeps U_L from learning."""
    config = _config([{"epochs": 1, "stimulus": False}], cross_u="hebbian", cross_v="hebbian")
    signals = {}
    start, end = _phase_ends(config, "four_synapse", engine, signals)
    assert set(signals) == {"r1", "r2", "eL"}
    for name, value in signals.items():  # r_0 = 0, so r_l = f(0) = 0; and no teacher: e_L = 0
        np.testing.assert_array_equal(value, 0.0, err_msg=name)
    decay = (1 - PARAMS["eta_c"] * PARAMS["lam_c"]) ** N
    for k in [*_family(start, "U"), *_family(start, "V")]:
        np.testing.assert_allclose(end[k], decay * start[k], rtol=1e-12, atol=0, err_msg=k)


def test_run_switches_phase_where_the_records_do_not_fall():
    """Records every 13 presentations, phases of 40: the run still switches at presentation 40 exactly."""
    config = _config([{"epochs": 1}, {"epochs": 1, "name": "lesion", "sigma_xi": 0.0, "freeze": ["W"]}],
                     records_per_epoch=3, engine="numpy")
    result = run_preset(config, "four_synapse", load_run_data(config), progress=None)
    assert 40 not in result.snapshots.steps
    *_, end = _phase_ends(config, "four_synapse")
    final = result.snapshots.at(len(result.snapshots.steps) - 1)
    for k, w in end.items():
        np.testing.assert_array_equal(final[k], w, err_msg=k)
    assert [r["phase"] for r in result.rows] == ["phase1"] * 4 + ["lesion"] * 4  # steps 0, 13, 26, 39 | 52 ... 80


def test_engines_agree_across_phase_boundaries():
    """Brian2 (numpy target) and the numpy engine, through every kind of phase, to 1e-9."""
    config = _config([{"epochs": 1, "name": "development", "stimulus": False},
                      {"epochs": 1, "name": "learning"},
                      {"epochs": 1, "name": "silenced", "sigma_xi": 0.0, "freeze": ["U"]},
                      {"epochs": 1, "name": "restored", "sigma_xi": 1.3, "freeze": ["W"]}])
    data = load_run_data(config)
    a, b = (run_preset(config.replace(engine=e), "four_synapse", data, progress=None) for e in ("brian2", "numpy"))
    assert a.status == b.status == "done"
    np.testing.assert_array_equal(a.snapshots.steps, b.snapshots.steps)
    assert set(np.arange(0, 4 * N + 1, N)) <= set(a.snapshots.steps.tolist())  # every boundary is recorded
    for name, w in a.snapshots.weights.items():
        np.testing.assert_allclose(b.snapshots.weights[name], w, rtol=0, atol=1e-9, err_msg=name)
    assert [r["phase"] for r in a.rows] == [r["phase"] for r in b.rows]
    assert [r["phase"] for r in a.rows][::4] == ["development", "development", "learning", "silenced", "restored"]


@pytest.mark.slow
def test_cpp_standalone_runs_the_schedule_as_one_program(tmp_path):
    config = _config([{"epochs": 1, "name": "development", "stimulus": False},
                      {"epochs": 1, "name": "silenced", "sigma_xi": 0.0, "freeze": ["V"]}], target="cpp_standalone")
    data = load_run_data(config)
    a = run_preset(config, "four_synapse", data, progress=None, standalone_dir=str(tmp_path / "build"))
    b = run_preset(config.replace(engine="numpy", target="numpy"), "four_synapse", data, progress=None)
    for name, w in a.snapshots.weights.items():
        np.testing.assert_allclose(b.snapshots.weights[name], w, rtol=0, atol=1e-9, err_msg=name)


# ---- run folders ------------------------------------------------------------------------------------
def test_run_folder_follows_the_schedule(tmp_path):
    phases = [{"epochs": 1, "name": "assembly"}, {"epochs": 1, "name": "silenced", "sigma_xi": 0.0}]
    config = _config(phases, engine="numpy")
    out = tmp_path / "run"
    run_experiment(config, out, progress=None)
    rows = read_metrics(out)
    assert list(rows[0])[:4] == ["preset", "step", "epoch", "phase"]
    assert [r["phase"] for r in rows] == ["assembly"] * 5 + ["silenced"] * 4
    assert (out / "alignment.png").stat().st_size > 0
    assert "[[phases]]" in (out / "config.toml").read_text()
    assert preset_done(out, config, "four_synapse")
    before = (out / "summary.json").read_text()
    run_experiment(config, out, progress=None)  # resumed: nothing to do
    assert (out / "summary.json").read_text() == before
    changed = _config([phases[0], {**phases[1], "sigma_xi": 0.5}], engine="numpy")
    with pytest.raises(RunFolderError, match="phases"):
        run_experiment(changed, out, progress=None)


def test_dynamic_mode_runs_a_schedule_on_brian2():
    """The dynamic mode (Brian2 only): the settings change between runs there too."""
    lesion = {"sigma_xi": 0.0, "freeze": ["V"]}
    config = _config([{"epochs": 1}, {"epochs": 1, "name": "lesion", **lesion}, {"epochs": 1, "name": "later", **lesion},
                      {"epochs": 1, "name": "dark", "stimulus": False, "freeze": ["U", "B"]}],
                     mode="dynamic", tau_r_ms=1.0, T_present_ms=2.0, dt_ms=0.5)
    start, first, lesion, later, dark = _phase_ends(config, "four_synapse", "brian2")
    for k in first:
        if k[0] == "V":
            np.testing.assert_array_equal(lesion[k], first[k], err_msg=k)
        if k[0] == "U":  # xi decays with tau_xi = 2 ms once silenced (by e^-40 in 80 ms), and U's change with it
            assert not np.allclose(lesion[k], first[k], rtol=1e-6)
            np.testing.assert_array_equal(later[k], lesion[k], err_msg=k)
        if k[0] in "UB":
            np.testing.assert_array_equal(dark[k], later[k], err_msg=k)
    for k in _family(first, "W"):  # the task goes on in the lesion phase
        assert not np.allclose(lesion[k], first[k], rtol=1e-4)
