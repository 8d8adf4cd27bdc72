"""``plasticity.rate_scaling = "size"``: eta_c, eta_u and eta_b per layer as eta_hat / n_l, in both engines.

Tested at sizes away from the reference size (20-30-12-7, a data file of 20 features and 7 classes),
with every rate away from its default, so that a missing or misplaced factor shows.
"""
import numpy as np
import pytest

from selfassembly import cli
from selfassembly.binaries import StandaloneBinaries
from selfassembly.circuits.connectivity import initial_weights
from selfassembly.circuits.engines import build
from selfassembly.circuits.network import Stimulus
from selfassembly.circuits.numpy_engine import SampleLoop
from selfassembly.config import ConfigError, ExperimentConfig, parse_toml
from selfassembly.experiment import load_run_data, run_preset
from selfassembly.plasticity import make_preset
from selfassembly.plasticity.rules import REFERENCE_SIZE

SIZES = [20, 30, 12, 7]
PARAMS = dict(eta=0.05, lam=0.003, eta_c=0.003, lam_c=0.7, sigma_xi=0.8, eta_u=0.0007, eta_b=0.004, lam_b=0.6)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("data") / "blobs.npz"
    y = np.arange(60) % 7
    X = rng.standard_normal((60, 20)) + y[:, None] * 0.3
    np.savez(path, X=X, y=y)
    return str(path)


def _config(data_file, **kw):
    return ExperimentConfig(dataset=data_file, sizes=list(SIZES), epochs=1, records_per_epoch=3, seed=4,
                            presets=["four_synapse"], **{**PARAMS, **kw})


def _hat(name):
    """eta_hat = eta * n_ref: the rate of a layer of one unit."""
    return PARAMS[name] * REFERENCE_SIZE


#: (rate_scaling, sizes, the rate of eta in a layer of n units): "size" everywhere eta_hat / n;
#: "capped" only in the layer wider than n_ref (300 units), the others at eta
SCALINGS = [("size", SIZES, lambda name, n: _hat(name) / n),
            ("capped", [20, 300, 12, 7], lambda name, n: _hat(name) / n if n > REFERENCE_SIZE else PARAMS[name])]


@pytest.mark.parametrize("scaling, sizes, rate", SCALINGS, ids=[s[0] for s in SCALINGS])
def test_one_presentation_changes_u_v_b_at_rate_hat_over_n_l(scaling, sizes, rate):
    """The numpy engine's change of U_l, V_l (layer l) and B_{l+1} (ending on D_l) in one
    presentation, against MODEL.md's rules written out with eta_hat / n_l."""
    rules = make_preset("four_synapse", rate_scaling=scaling, b_rule="loop_mirror", **PARAMS)  # B: the mirror alone
    weights, masks = initial_weights(sizes, rules, None, 7)
    rng = np.random.default_rng(1)
    xi = {l: PARAMS["sigma_xi"] * rng.standard_normal(n) for l, n in enumerate(sizes) if l > 0}
    loop = SampleLoop(sizes, rules, weights, masks=masks)
    x, y = rng.standard_normal(sizes[0]), np.eye(sizes[-1])[2]
    loop.present(x, y, xi)
    after = loop.weights()
    W, U, V, B = ({l: weights[f"{k}{l}"] for l in range(1, len(sizes)) if f"{k}{l}" in weights} for k in "WUVB")
    for l in range(1, len(sizes)):
        n = sizes[l]
        eta_c, eta_u = rate("eta_c", n), rate("eta_u", n)
        s = U[l] @ xi[l]
        a = V[l] @ s
        np.testing.assert_allclose(after[f"V{l}"] - V[l], eta_c * (np.outer(xi[l], s) - PARAMS["lam_c"] * V[l]),
                                   rtol=1e-9, atol=1e-15, err_msg=f"V{l}")
        np.testing.assert_allclose(after[f"U{l}"] - U[l], eta_u * np.outer(s, xi[l] - a), rtol=1e-9, atol=1e-15,
                                   err_msg=f"U{l}")
        if l + 1 < len(sizes):  # B_{l+1} ends on D_l: its eta_b is eta_hat_b / n_l
            u = U[l + 1] @ (W[l + 1] @ xi[l])
            np.testing.assert_allclose(after[f"B{l + 1}"] - B[l + 1],
                                       rate("eta_b", n) * (np.outer(s, u) - PARAMS["lam_b"] * B[l + 1]),
                                       rtol=1e-9, atol=1e-15, err_msg=f"B{l + 1}")


def test_brian2_synapses_hold_hat_over_n_l(data_file):
    """Each plastic Synapses group of the Brian2 circuit holds its own layer's constants."""
    config = _config(data_file, rate_scaling="size")
    data = load_run_data(config)
    rules = config.rules("four_synapse")
    weights, masks = initial_weights(SIZES, rules, config.connectivity_objects(), 0)
    order = np.arange(len(data.X_train))
    circuit = build("brian2", SIZES, rules, weights, masks, Stimulus(data.X_train, data.Y_train, order), name="rs")
    for l in range(1, len(SIZES)):
        n = SIZES[l]
        assert circuit.synapses[f"U{l}"].eta_u[:] == pytest.approx(_hat("eta_u") / n, rel=1e-12)
        assert circuit.synapses[f"V{l}"].eta_c[:] == pytest.approx(_hat("eta_c") / n, rel=1e-12)
        assert circuit.synapses[f"V{l}"].lam_c[:] == PARAMS["lam_c"]
        if l + 1 < len(SIZES):
            assert circuit.synapses[f"B{l + 1}"].eta_b[:] == pytest.approx(_hat("eta_b") / n, rel=1e-12)
    assert circuit.synapses["W2"].eta[:] == PARAMS["eta"]  # W's rate is not scaled


def test_engines_agree_with_size_scaling(data_file):
    """Both engines run the scaled rates, to 1e-9 in float64, and the scaling changes the run."""
    config = _config(data_file, rate_scaling="size")
    data = load_run_data(config)
    runs = {e: run_preset(config.replace(engine=e), "four_synapse", data, progress=None) for e in ("brian2", "numpy")}
    a, b = runs["brian2"], runs["numpy"]
    assert a.status == b.status == "done"
    np.testing.assert_array_equal(a.snapshots.steps, b.snapshots.steps)
    for name, w in a.snapshots.weights.items():
        np.testing.assert_allclose(b.snapshots.weights[name], w, rtol=0, atol=1e-9, err_msg=name)
    plain = run_preset(config.replace(engine="numpy", rate_scaling="none"), "four_synapse", data, progress=None)
    for name in ("U1", "V3", "B2"):
        assert np.abs(plain.snapshots.weights[name][-1] - b.snapshots.weights[name][-1]).max() > 1e-4, name


def test_engines_agree_with_size_scaling_across_phases(data_file):
    """A phase resets each Brian2 synapse group's rates: to its layer's scaled rate, not the rule set's
    unscaled one (0 where frozen). Both engines agree to 1e-9 through the phases."""
    config = _config(data_file, rate_scaling="size",
                     phases=[{"epochs": 1}, {"epochs": 1, "freeze": ["V"]}, {"epochs": 1, "sigma_xi": 0.5}])
    data = load_run_data(config)
    runs = {e: run_preset(config.replace(engine=e), "four_synapse", data, progress=None) for e in ("brian2", "numpy")}
    a, b = runs["brian2"], runs["numpy"]
    assert a.status == b.status == "done"
    for name, w in a.snapshots.weights.items():
        np.testing.assert_allclose(b.snapshots.weights[name], w, rtol=0, atol=1e-9, err_msg=name)


def test_standalone_reuse_passes_each_group_its_scaled_rate(data_file):
    """A reused cpp_standalone build gets each group's eta_c, eta_u, eta_b times n_ref / n_l as run_args."""
    config = _config(data_file, rate_scaling="size")
    data = load_run_data(config)
    rules = config.rules("four_synapse")
    weights, masks = initial_weights(SIZES, rules, config.connectivity_objects(), 0)
    circuit = build("brian2", SIZES, rules, weights, masks,
                    Stimulus(data.X_train, data.Y_train, np.arange(len(data.X_train))), name="rsb")
    cache = StandaloneBinaries()
    cache._circuit, cache._config = circuit, config
    args = cache._run_args(config.replace(eta_u=2 * PARAMS["eta_u"]), "four_synapse")
    values = {}
    for pop, S in circuit.synapses.items():
        for name in ("eta_c", "eta_u", "eta_b"):
            if name in S.variables and S.variables[name].owner.name == S.name:
                values[pop, name] = args[getattr(S, name)]
    assert values["U1", "eta_u"] == pytest.approx(2 * _hat("eta_u") / 30, rel=1e-12)
    assert values["U3", "eta_u"] == pytest.approx(2 * _hat("eta_u") / 7, rel=1e-12)
    assert values["V2", "eta_c"] == pytest.approx(_hat("eta_c") / 12, rel=1e-12)
    assert values["B3", "eta_b"] == pytest.approx(_hat("eta_b") / 12, rel=1e-12)


def test_rate_scaling_configuration(tmp_path):
    with pytest.raises(ConfigError, match="plasticity.rate_scaling: unknown value 'layer'; valid values: none, size, "
                                          "capped"):
        ExperimentConfig(rate_scaling="layer")
    with pytest.raises(ValueError, match="unknown rate scaling 'layer'"):
        make_preset("four_synapse", rate_scaling="layer")
    # the smallest layer's decay per presentation must stay below 1: eta_c lam_c 128 / 4 = 0.96 passes, 1.28 not
    ExperimentConfig(sizes=[64, 4, 10], rate_scaling="size", eta_c=0.03, lam_c=1.0, eta_b=0.001)
    with pytest.raises(ConfigError, match=r"layer of 4 units eta_c = 0\.04 \* 128 / 4 = 1\.28.*plasticity.rate_scaling "
                                          "= 'capped' or 'none'"):
        ExperimentConfig(sizes=[64, 4, 10], rate_scaling="size", eta_c=0.04, lam_c=1.0)
    with pytest.raises(ConfigError, match="eta_b = 0.02 \\* 128 / 4"):
        ExperimentConfig(sizes=[64, 4, 10], rate_scaling="size", eta_b=0.02, lam_b=2.0)
    ExperimentConfig(sizes=[64, 4, 10], rate_scaling="none", eta_c=0.04)  # unscaled: no such limit
    ExperimentConfig(sizes=[64, 4, 10], rate_scaling="capped", eta_c=0.04)  # capped never raises a rate
    # TOML round trip, the hash, the CLI
    config = ExperimentConfig(rate_scaling="size")
    again = ExperimentConfig.from_dict(parse_toml(config.to_toml(), "x.toml"))
    assert again.rate_scaling == "size" and again.config_hash() == config.config_hash()
    assert config.config_hash() != ExperimentConfig().config_hash()
    assert "rate_scaling" not in ExperimentConfig().rules("four_synapse").as_dict()
    args = cli.build_parser().parse_args(["run", "--rate-scaling", "size"])
    assert cli.resolve_config(args).rate_scaling == "size"
    assert cli.resolve_config(cli.build_parser().parse_args(["run"])).rate_scaling == "none"


def test_default_hash_is_unchanged_by_the_new_field():
    """Run folders made before rate_scaling existed keep their hash: the default leaves the key out."""
    import hashlib
    import json

    data = ExperimentConfig().to_dict()
    assert data["plasticity"].pop("rate_scaling") == "none"
    for section, key in (("simulator", "cache_dir"), ("simulator", "dtype"), ("data", "label_column")):
        data[section].pop(key)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert ExperimentConfig().config_hash() == hashlib.sha256(text.encode()).hexdigest()


def _size_scaling_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "size_scaling.py"
    spec = importlib.util.spec_from_file_location("size_scaling", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_developmental_phase_moves_only_u_v_b(data_file):
    """The benchmark's developmental phase (spontaneous activity alone) leaves W exactly as it was,
    and assembles U and V: the cross-stream angle falls."""
    from selfassembly.analysis.alignment import cross_stream_angles

    script = _size_scaling_script()
    config = _config(data_file, rate_scaling="size")
    rules = config.rules("four_synapse")
    weights, masks = initial_weights(SIZES, rules, config.connectivity_objects(), 0)
    out = script.develop(weights, masks, config, "four_synapse", 3000, 0)
    for name, w in weights.items():
        assert np.array_equal(out[name], w) == name.startswith("W"), name
    before, after = cross_stream_angles(weights), cross_stream_angles(out)
    assert all(after[l] < before[l] - 20 for l in before), (before, after)


def test_benchmark_summary_and_rates(tmp_path):
    script = _size_scaling_script()
    config = script.config_of("mnist", "size", 0, "/nowhere")
    rates = script.effective_rates(config, "four_synapse")
    assert rates["u4"] == pytest.approx(0.0005 * 128 / 784) and rates["b3"] == pytest.approx(0.002 * 128 / 32)
    assert rates["c1"] == pytest.approx(0.002)
    row = {c: "" for c in script.COLUMNS}
    rows = [dict(row, problem="mnist", setting=s, preset="four_synapse", seed=k, status=st, test_error=e,
                 mean_predictor_error=55.9, ff_angle_mean=a, ff_angle_max=a, ff_angles=f"{a}", rates="{}")
            for s, k, st, e, a in (("size", 0, "done", 20.0, 30.0), ("size", 1, "done", 22.0, 34.0),
                                   ("absolute", 0, "diverged", 150.0, 90.0))]
    script.summarize(rows, tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "| size | 2 | done | 21.000 ± 1.414 | 32.000 ± 2.828" in text
    assert "| absolute | 1 | diverged | - |" in text
    assert (tmp_path / "size_scaling.png").stat().st_size > 1000


def test_divergence_advice_names_rate_scaling_for_wide_layers():
    from selfassembly.experiment import divergence_advice

    wide = ExperimentConfig(sizes=[64, 300, 10], presets=["four_synapse"], eta_u=0.0004)
    advice = divergence_advice(wide, wide.rules("four_synapse"))
    assert "eta_u n_l sigma_xi^2 = 0.12 per presentation in the 300-unit layer (0.051 at 128 units)" in advice
    assert "--rate-scaling capped" in advice
    for config in (wide.replace(rate_scaling="capped"), ExperimentConfig(presets=["four_synapse"])):
        assert "rate-scaling" not in divergence_advice(config, config.rules("four_synapse"))
    assert "rate-scaling" not in divergence_advice(wide, wide.rules("four_synapse_fixed_u"))  # U does not learn
