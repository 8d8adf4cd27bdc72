"""The benchmarks' numpy baselines against the reference and the circuit, and tiny runs of both benchmarks."""
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from selfassembly.circuits import Dynamic, Stimulus, build_circuit, initial_weights
from selfassembly.circuits import reference as ref
from selfassembly.io import population_names
from selfassembly.plasticity import PRESET_NAMES, make_preset

from conftest import small_problem
from test_idx import write_mnist

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import learning  # noqa: E402
import speed  # noqa: E402
from numpy_loop import DynamicLoop, SampleLoop  # noqa: E402

#: (preset, V rule, U rule): every preset as it is, and the Hebbian pair on the four-synapse circuit
#: (V and U both Hebbian; V mirroring on spontaneous activity while U is Hebbian)
RULES = [(p, None, None) for p in PRESET_NAMES] + [("four_synapse", "hebbian", "hebbian"),
                                                    ("four_synapse", "mirror", "hebbian"),
                                                    ("four_synapse", "fixed", "reconstruct")]
#: learning rates large enough that every plastic population moves visibly in a few steps
RATES = dict(eta=0.05, eta_c=0.05, eta_u=0.02)


@pytest.mark.parametrize("preset,cross_v,cross_u", RULES)
@pytest.mark.parametrize("f,output", [("tanh", "softmax"), ("relu", "linear")])
def test_sample_loop_matches_reference(rng, seed, preset, cross_v, cross_u, f, output):
    """The lean numpy loop of the speed benchmark computes reference.py's weights, step by step."""
    sizes = [7, 6, 5, 4]
    rules = make_preset(preset, cross_v=cross_v, cross_u=cross_u, **RATES)
    w, _ = initial_weights(sizes, rules, seed=seed)
    stim = small_problem(rng, sizes, n_steps=5)
    loop = SampleLoop(sizes, rules, w, f, output)
    expected = dict(w)
    for k in stim.order:
        xi = {l: rng.normal(size=sizes[l]) for l in range(1, len(sizes))}  # every layer l = 1..L, the top too
        sig = ref.sweep(expected, stim.X[k], stim.Y[k], f, output)
        expected = ref.plasticity_step(expected, sig, rules, xi)
        loop.present(stim.X[k], stim.Y[k], xi)
    got = loop.weights()
    assert set(got) == set(expected) == set(population_names(len(sizes) - 1))
    moved = 0
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=1e-13, err_msg=name)
        moved += not np.allclose(expected[name], w[name])
    assert moved >= 3
    for pop, kind in (("V", rules.cross.v), ("U", rules.cross.u)):  # the cross-stream rules act at every layer
        for l in range(1, len(sizes)):
            assert np.allclose(expected[f"{pop}{l}"], w[f"{pop}{l}"]) == (kind == "fixed"), f"{pop}{l}"


@pytest.mark.parametrize("preset,cross_v,cross_u", RULES)
def test_dynamic_loop_matches_circuit(rng, seed, preset, cross_v, cross_u):
    """The numpy time-step loop computes what the Brian2 circuit computes in the dynamic mode, step by step."""
    sizes = [6, 5, 4, 3]
    rules = make_preset(preset, cross_v=cross_v, cross_u=cross_u, **RATES)
    w, m = initial_weights(sizes, rules, seed=seed)
    mode = Dynamic(tau_r_ms=1.0, T_present_ms=2.0, dt_ms=0.5, tau_xi_ms=3.0)
    stim = small_problem(rng, sizes, n_steps=2)
    c = build_circuit(sizes, rules, w, m, stim, mode=mode)
    loop = DynamicLoop(sizes, rules, w, 1.0, 2.0, 0.5, tau_xi_ms=3.0)
    assert loop.noise_decay == pytest.approx(mode.noise_decay, rel=1e-15)
    L = len(sizes) - 1
    for step in range(2 * mode.steps_per_presentation):
        k = stim.order[step // mode.steps_per_presentation]
        c.network.run(mode.dt, namespace={})
        # the circuit's spontaneous activity of this step, in every layer l = 1..L (the top too)
        xi = {l: np.array(c.A[l].spont[:]) for l in range(1, L + 1)} if rules.cross.needs_noise else None
        loop.step(stim.X[k], stim.Y[k], xi)
    got, want = loop.weights(), c.weights()
    assert set(got) == set(want) == set(population_names(L))
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-13, err_msg=name)
    assert not np.allclose(want["W1"], w["W1"])
    for pop, kind in (("V", rules.cross.v), ("U", rules.cross.u)):
        for l in range(1, L + 1):
            assert np.allclose(want[f"{pop}{l}"], w[f"{pop}{l}"]) == (kind == "fixed"), f"{pop}{l}"
    for l in range(1, L + 1):  # the rates after relaxation, in both streams
        np.testing.assert_allclose(loop.r[l], np.asarray(c.A[l].r[:]), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(loop.d[l], np.asarray(c.D[l].d[:]), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("loop_kind", ["sample", "dynamic"])
def test_loop_spontaneous_activity_is_the_modes_ou_process(loop_kind):
    """The loops' own noise (used by train): exactly the circuit's update
    xi <- decay xi + sigma sqrt(1 - decay^2) z, from a stationary start, in every layer l = 1..L."""
    sizes = [5, 4, 3, 2]
    rules = make_preset("four_synapse", sigma_xi=0.7)
    w, _ = initial_weights(sizes, rules, seed=1)
    if loop_kind == "sample":
        loop, decay = SampleLoop(sizes, rules, w), 0.0
    else:
        loop = DynamicLoop(sizes, rules, w, 1.0, 2.0, 0.5, tau_xi_ms=3.0)
        decay = Dynamic(tau_r_ms=1.0, T_present_ms=2.0, dt_ms=0.5, tau_xi_ms=3.0).noise_decay
        assert decay == pytest.approx(np.exp(-0.5 / 3.0), rel=1e-15)
    xi, draw = loop._spontaneous(np.random.default_rng(5))
    assert sorted(xi) == [1, 2, 3]
    mirror = np.random.default_rng(5)
    want = {l: 0.7 * mirror.standard_normal(sizes[l]) for l in (1, 2, 3)}
    for _ in range(4):
        draw()
        for l in (1, 2, 3):
            want[l] = decay * want[l] + 0.7 * np.sqrt(1 - decay**2) * mirror.standard_normal(sizes[l])
            np.testing.assert_allclose(xi[l], want[l], rtol=1e-14, atol=1e-15)
    assert SampleLoop(sizes, make_preset("kolen_pollack"), w)._spontaneous()[0] is None  # no noise without mirror/reconstruct


# ---- learning benchmark ---------------------------------------------------------

def _final(arch, seed, preset, acc, status="done"):
    return {"dataset": "digits", "arch": arch, "seed": seed, "preset": preset, "test_acc": acc, "train_acc": acc,
            "test_acc_late": acc - 0.01 if preset == "backprop" else acc,
            "epoch": 2.0, "status": status, "wall_time_s": 1.0, "ff_angle_mean": 40.0, "cross_angle_mean": 10.0,
            "grad_angle_mean": 20.0}


def test_summary_pairs_seeds_and_says_who_is_behind():
    finals = [_final("a", 0, "backprop", 0.90), _final("a", 1, "backprop", 0.80), _final("a", 2, "backprop", 0.70),
              _final("a", 0, "four_synapse", 0.85), _final("a", 1, "four_synapse", 0.78),
              _final("a", 2, "four_synapse", 0.73), _final("a", 0, "kolen_pollack", float("nan"), "diverged")]
    table = learning.summarize(finals)
    row = {r["preset"]: r for r in table}
    fs = row["four_synapse"]
    assert fs["seeds"] == 3 and fs["seeds_behind_backprop"] == 2
    assert fs["test_acc_mean"] == pytest.approx(0.78667, abs=1e-4)
    # paired: -0.05, -0.02, +0.03 (the unpaired difference of the means would be the same, the sd not)
    assert fs["gap_to_backprop_mean"] == pytest.approx(-0.0133333, abs=1e-6)
    assert fs["gap_to_backprop_sd"] == pytest.approx(np.std([-0.05, -0.02, 0.03], ddof=1), abs=1e-9)
    assert row["kolen_pollack"]["diverged"] == 1 and row["kolen_pollack"]["seeds"] == 0
    sentence = learning.verdict(table, "a")
    assert "behind backprop by 1.3 ± 4.0 percentage points" in sentence and "behind in 2 of 3" in sentence
    assert "last 5 snapshots of each run: behind by 0.3 ± 4.0" in sentence
    md = learning.markdown(table, "digits", 2, [0, 1, 2])
    assert "| four_synapse | 3 | 0.787 ± 0.060 | -1.3 ± 4.0 | 0.787 ± 0.060 | -0.3 ± 4.0 |" in md
    assert "| kolen_pollack | 0 (1 diverged) | n/a |" in md


def test_learning_benchmark_tiny(tmp_path):
    """Two architectures, two seeds, two presets, a few samples: every output, and a rerun resumes."""
    out = tmp_path / "learn"
    kw = dict(archs=["64-8-10", "64-8-8-10"], seeds=[0, 1], presets=["backprop", "four_synapse"], epochs=1, out=out,
              max_train=40, records_per_epoch=2, progress=None)
    table = learning.run_benchmark("digits", **kw)
    assert [(r["arch"], r["preset"]) for r in table] == [
        ("64-8-10", "backprop"), ("64-8-10", "four_synapse"), ("64-8-8-10", "backprop"), ("64-8-8-10", "four_synapse")]
    assert all(r["seeds"] == 2 for r in table)
    assert all(0 <= r["test_acc_mean"] <= 1 for r in table)
    bp = [r for r in table if r["preset"] == "backprop"]
    assert all(r["gap_to_backprop_mean"] == 0 and r["ff_angle_mean"] < 1e-6 for r in bp)
    with open(out / "digits_curves.csv") as fh:
        curves = list(csv.DictReader(fh))
    assert len(curves) == 2 * 2 * 2 * 3  # archs x seeds x presets x (initial + 2 records)
    assert {"ff_angle_2", "cross_angle_1", "grad_angle_1", "ff_angle_mean"} <= set(curves[0])
    md = (out / "digits.md").read_text()
    assert md.count("four_synapse reaches") == 2 and "percentage points" in md
    assert (out / "digits.png").stat().st_size > 10_000
    # same seed, same initial W: both presets of a seed start at the same accuracy
    first = {(r["arch"], r["seed"], r["preset"]): r["test_acc"] for r in curves if float(r["step"]) == 0}
    for arch in ("64-8-10", "64-8-8-10"):
        assert first[(arch, "0", "backprop")] == first[(arch, "0", "four_synapse")]
    stamp = (out / "runs" / "digits_64-8-10" / "seed0" / "backprop" / "summary.json").stat().st_mtime
    lines = []

    class Capture:
        def write(self, s):
            lines.append(s)

        def flush(self):
            pass

    again = learning.run_benchmark("digits", **dict(kw, progress=Capture()))
    assert sum("skipped" in s for s in lines) == 8
    assert (out / "runs" / "digits_64-8-10" / "seed0" / "backprop" / "summary.json").stat().st_mtime == stamp
    assert again == table


def test_learning_benchmark_mnist_from_idx(tmp_path, rng, capsys):
    """The MNIST path: IDX files the test writes, through the command line of the benchmark."""
    write_mnist(tmp_path / "mnist", rng, n_train=30, n_test=10, gz=True)
    out = tmp_path / "out"
    learning.main(["--mnist", str(tmp_path / "mnist"), "--archs", "784-6-10", "--seeds", "3", "--epochs", "1",
                   "--presets", "backprop", "four_synapse", "--out", str(out)])
    text = capsys.readouterr().out
    assert "784-6-10: four_synapse reaches" in text
    with open(out / "mnist_final.csv") as fh:
        finals = list(csv.DictReader(fh))
    assert [r["preset"] for r in finals] == ["backprop", "four_synapse"]
    assert all(r["dataset"] == "mnist" for r in finals)
    config = (out / "runs" / "mnist_784-6-10" / "seed3" / "backprop" / "config.toml").read_text()
    assert 'dataset = "mnist"' in config
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(Exception, match="lacks t10k-labels-idx1-ubyte"):
        learning.main(["--mnist", str(tmp_path / "mnist"), "--out", str(out)])


def test_parse_arch():
    assert learning.parse_arch("784-256-256-10") == [784, 256, 256, 10]
    with pytest.raises(ValueError, match="at least one hidden"):
        learning.parse_arch("64-10")
    with pytest.raises(ValueError, match="like 64-128-10"):
        learning.parse_arch("64-x-10")


# ---- speed benchmark ------------------------------------------------------------

def test_work_per_step_counts():
    """Synapses, plastic synapses and signal products of 4-3-2-1, counted by hand from the rules.

    Sizes n = 4-3-2-1 (L = 3). Populations and their synapses:
    W: 12 + 6 + 2 = 20; U_l = n_l x n_l: 9 + 4 + 1 = 14; B: B2 6 + B3 2 = 8;
    V_l = n_l x n_l at every layer, V_3 included: 9 + 4 + 1 = 14. 56 in all.
    Signals each carries (what the Brian2 circuit sums):
    W_l: h (1). U_l: e (1); r for B below the top (l < L) when B changes; xi (s = U xi) at every
    layer when V mirrors or U reconstructs. B: d (1). V_l: p below the top (l < L); s back
    (a = V s) at every layer when U reconstructs.
    """
    w = speed.work_per_step([4, 3, 2, 1], "four_synapse")  # B plastic, V mirror, U reconstruct
    assert w["synapses"] == 20 + 14 + 8 + 14
    assert w["plastic"] == 20 + 8 + 14 + 14  # W, B, V (mirror) and U (reconstruct): everything
    # U1, U2: e, r, xi; U3: e, xi. V1, V2: p, s back; V3: s back only
    assert w["signals"] == 20 + (3 * 9 + 3 * 4 + 2 * 1) + 8 + (2 * 9 + 2 * 4 + 1 * 1)
    assert w["bytes_read_min"] == 8 * 56 and w["bytes_rmw_min"] == 16 * 56
    assert w["flops"] == 2 * w["signals"] + 3 * w["plastic"] and w["weight_bytes"] == 8 * 56
    assert w["bytes_brian2"] == 16 * w["signals"] + 24 * w["plastic"]

    fu = speed.work_per_step([4, 3, 2, 1], "four_synapse_fixed_u")  # V mirror, U fixed: xi but no way back
    assert fu["plastic"] == 20 + 8 + 14  # U fixed
    assert fu["signals"] == 20 + (3 * 9 + 3 * 4 + 2 * 1) + 8 + (9 + 4 + 0)
    assert fu["bytes_read_min"] == 8 * (56 - 1)  # V3 transmits nothing; read and written by its update only
    assert fu["bytes_rmw_min"] == 16 * 42

    hh = speed.work_per_step([4, 3, 2, 1], "four_synapse", cross_v="hebbian", cross_u="hebbian")
    assert hh["plastic"] == 56  # every population learns; Hebbian U and V read r and d, no spontaneous activity
    assert hh["signals"] == 20 + (2 * 9 + 2 * 4 + 1) + 8 + (9 + 4)

    bp = speed.work_per_step([4, 3, 2, 1], "backprop")  # tied B (changes with W), U = V = I fixed
    assert bp["synapses"] == 56 and bp["plastic"] == 20 + 8
    assert bp["signals"] == 20 + (2 * 9 + 2 * 4 + 1) + 8 + (9 + 4)  # no spontaneous activity
    assert bp["bytes_read_min"] == 8 * 55  # V3 (= I, fixed) transmits nothing
    fa = speed.work_per_step([4, 3, 2, 1], "feedback_alignment")  # B fixed: U carries no r
    assert fa["signals"] == 20 + (9 + 4 + 1) + 8 + (9 + 4) and fa["plastic"] == 20


def test_speed_benchmark_quick(tmp_path):
    """The quick version: numpy loop against Brian2's numpy target, every output written."""
    report, rows = speed.main(["--quick", "--out", str(tmp_path / "s")])
    assert {(r["mode"], r["implementation"]) for r in rows} == {
        ("sample", "numpy_loop"), ("sample", "numpy"), ("dynamic", "numpy_loop"), ("dynamic", "numpy")}
    for r in rows:
        assert r["rate"] > 0 and 0 < r["fraction_of_hardware_limit"] < 1 and r["peak_rss_mib"] > 10
        if r["implementation"] == "numpy_loop":
            assert r["ratio_to_numpy_loop"] == pytest.approx(1.0)
    # both implementations learn the same task from the same start (accuracy on the training set)
    accs = [report["sample"][k]["train_acc"] for k in ("numpy_loop", "numpy")]
    assert min(accs) > 0.15 and abs(accs[0] - accs[1]) < 0.1  # chance is 0.1; 200 presentations at eta = 0.02
    peak = report["peak"]
    assert peak["ws_read_GBps"] > 0.5 and peak["dgemm_GFLOPs"] > 0.5
    md = (tmp_path / "s" / "speed.md").read_text()
    assert "## Sample-clocked training" in md and "## Hardware limit" in md
    saved = json.loads((tmp_path / "s" / "speed.json").read_text())
    assert saved["sample"]["numpy_loop"]["steps"] == 200


@pytest.mark.slow
def test_speed_benchmark_cpp_standalone(tmp_path):
    """cpp_standalone: compiled once; the rerun with new parameters uses the same binary and changes the result."""
    report, rows = speed.main(["--sizes", "64-16-16-10", "--presentations", "300", "--targets", "numpy_loop",
                               "cpp_standalone", "--dyn-sizes", "64-16-16-10", "--dyn-presentations", "2",
                               "--out", str(tmp_path / "s")])
    cpp = report["sample"]["cpp_standalone"]
    assert cpp["build_s"] > 0 and cpp["rerun_recompiled"] is False and cpp["rerun_weights_changed"] is True
    assert cpp["binary_maxrss_mib"] > 1
    assert abs(cpp["train_acc"] - report["sample"]["numpy_loop"]["train_acc"]) < 0.15
    assert any(r["mode"] == "dynamic" and r["implementation"] == "cpp_standalone" for r in rows)
    assert "Targets" in (tmp_path / "s" / "speed.md").read_text()
