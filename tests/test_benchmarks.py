"""The benchmarks' numpy baselines against the reference and the circuit, and tiny runs of both benchmarks."""
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from selfassembly.circuits import Dynamic, Stimulus, build_circuit, initial_weights
from selfassembly.circuits import reference as ref
from selfassembly.io import population_names, write_csv
from selfassembly.plasticity import PRESET_NAMES, make_preset
from selfassembly.plasticity.presets import DEFAULT_PARAMS
from selfassembly.plasticity.presets import PRESETS

from model_reference import plasticity_step
from selfassembly.circuits.numpy_engine import DynamicLoop, SampleLoop
from conftest import small_problem
from test_idx import write_mnist

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import learning  # noqa: E402
import speed  # noqa: E402

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
        expected = plasticity_step(expected, sig, rules, xi)
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
        xi = {l: np.array(c.A[l].spont[:]) for l in range(1, L + 1)} if rules.needs_noise else None
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

def _result(preset, seed, acc, arch="64-8-10", eta=0.02, lam=1e-4, eta_c=0.002, eta_u=0.0005, stage="test", status="done",
            b_rule=None, eta_b=DEFAULT_PARAMS["eta_b"], task="classification"):
    key = "error" if task != "classification" else "acc"
    curve = [{"epoch": 0, key: 0.1, "ff_angle": 90.0, "cross_angle": 90.0}, {"epoch": 1, key: acc,
                                                                              "ff_angle": 10.0, "cross_angle": 5.0}]
    done = status == "done"
    result = {"stage": stage, "dataset": "digits", "task": task, "arch": arch, "preset": preset, "seed": seed,
              "epochs": 1, "eta": eta, "lam": lam, "eta_c": eta_c, "eta_u": eta_u,
              "b_rule": b_rule or PRESETS[preset][0], "eta_b": eta_b, "status": status, "curve": curve,
              "final_acc": acc if done and key == "acc" else None, "wall_s": 1.0}
    if key == "error":
        result.update(final_error=acc if done else None, mean_predictor_error=4.5)
    return result


def test_learning_choice_is_the_best_validation_score_and_never_a_diverged_run():
    runs = [_result("backprop", 0, acc, eta=eta, stage="tune") for eta, acc in ((0.01, 0.90), (0.02, 0.95), (0.04, 0.93))]
    runs.append(_result("backprop", 0, None, eta=0.08, stage="tune", status="diverged"))
    assert learning.choose(runs)["eta"] == 0.02
    assert learning.choose([runs[-1]]) is None
    tie = [_result("backprop", 0, 0.95, eta=eta, lam=lam, stage="tune") for eta, lam in ((0.04, 1e-4), (0.01, 1e-3), (0.01, 1e-4))]
    assert [(c["eta"], c["lam"]) for c in (learning.choose(tie), learning.choose(tie[::-1]))] == [(0.01, 1e-4)] * 2
    # the score averages the last SCORE_EPOCHS epochs, not the last one alone
    r = dict(runs[0], curve=[{"acc": a} for a in (0.1, 0.2, 0.9, 0.6, 0.9)])
    assert learning.SCORE_EPOCHS == 3 and learning.score(r) == pytest.approx(0.8)
    chosen = learning.choices(runs + [_result("backprop", 0, 0.99, eta=0.04)], ["backprop"])  # a test run never counts
    assert chosen[("digits", "classification", "64-8-10", "backprop")]["eta"] == 0.02


def test_learning_summary_pairs_seeds_with_a_t_interval():
    from scipy import stats

    chosen = {("digits", "classification", "64-8-10", "backprop"): _result("backprop", 0, 0.9, stage="tune"),
              ("digits", "classification", "64-8-10", "four_synapse"): _result("four_synapse", 0, 0.9, eta_c=0.004, eta_u=0.001, stage="tune")}
    bp, fs = [0.90, 0.80, 0.70], [0.85, 0.78, 0.73]
    tests = [_result("backprop", s, a) for s, a in enumerate(bp)]
    tests += [_result("four_synapse", s, a, eta_c=0.004, eta_u=0.001) for s, a in enumerate(fs)]  # its tuned setting
    tests += [_result("four_synapse", s, a - 0.1) for s, a in enumerate(fs[:2])]  # backprop's setting, 2 seeds
    rows = {(r["preset"], r["setting"]): r for r in learning.summarize(tests, chosen, {"digits": "digits"})}
    d = 100 * (np.array(fs) - np.array(bp))  # -5, -2, +3: paired, not the difference of the means' sds
    low, high = stats.t.interval(0.95, df=2, loc=d.mean(), scale=stats.sem(d))
    tuned = rows[("four_synapse", "tuned")]
    assert tuned["diff_to_backprop_mean"] == pytest.approx(d.mean(), abs=0.01)
    assert (tuned["diff_ci_low"], tuned["diff_ci_high"]) == (pytest.approx(low, abs=0.01),
                                                             pytest.approx(high, abs=0.01))
    assert tuned["seeds"] == 3 and tuned["eta_c"] == 0.004 and tuned["test_acc_sd"] == pytest.approx(np.std(fs, ddof=1), abs=1e-4)
    shared = rows[("four_synapse", "shared")]
    assert shared["seeds"] == 2 and shared["paired_seeds"] == 2 and shared["eta_c"] == 0.002
    assert shared["diff_to_backprop_mean"] == pytest.approx(np.mean(100 * (np.array(fs[:2]) - 0.1 - bp[:2])), abs=0.01)
    assert rows[("backprop", "tuned")]["diff_to_backprop_mean"] == 0 and ("backprop", "shared") in rows
    assert {"dataset", "arch", "preset", "seeds", "test_acc_mean", "test_acc_sd", "diff_to_backprop_mean",
            "diff_ci_low", "diff_ci_high", "eta", "lam"} <= set(tuned)


def test_learning_test_and_shared_stages_take_the_right_settings():
    chosen = {("digits", "classification", "64-8-10", "backprop"): _result("backprop", 0, 0.9, eta=0.02, lam=1e-4, stage="tune"),
              ("digits", "classification", "64-8-10", "four_synapse"): _result("four_synapse", 0, 0.9, eta=0.04, lam=1e-3, eta_c=0.004,
                                                           eta_u=0.001, stage="tune")}
    archs, presets = ["64-8-10", "64-8-8-10"], ["backprop", "four_synapse"]
    setting = lambda j: (j["eta"], j["lam"], j["eta_c"], j["eta_u"])  # noqa: E731
    test = learning.stage_jobs("test", "digits", archs[:1], presets, 2, chosen, seeds=(0, 1))
    assert {setting(j) for j in test if j["preset"] == "four_synapse"} == {(0.04, 1e-3, 0.004, 0.001)}
    shared = learning.stage_jobs("shared", "digits", archs[:1], presets, 2, chosen, seeds=(0, 1))
    assert {setting(j) for j in shared} == {(0.02, 1e-4, 0.002, 0.0005)}  # backprop's eta, lam; default cross rates
    assert len(shared) == 4 and {j["stage"] for j in shared} == {"test"}


def test_learning_split_and_labels():
    fit, val = learning.split(1438)
    assert len(val) == 288 and len(fit) == 1150 and not set(fit) & set(val)
    assert np.array_equal(learning.split(1438)[1], val)  # fixed: every preset is tuned on the same split
    assert learning.dataset_label("mnist", 8000) == "MNIST-8k" and learning.dataset_label("digits", 1437) == "digits"
    assert learning.parse_arch("784-256-256-10") == [784, 256, 256, 10]
    with pytest.raises(ValueError, match="at least one hidden"):
        learning.parse_arch("64-10")


def test_learning_run_diverges_cleanly():
    # U's reconstruction rule at eta_u = eta_c runs away (MODEL.md: stable below STABLE_U_RATIO)
    job = learning._job("test", "digits", "64-8-10", "four_synapse", 0, 2, eta=0.02, lam=1e-4, eta_c=0.01, eta_u=0.01)
    result = learning.train_run(job)
    assert result["status"] == "diverged" and result["final_acc"] is None and len(result["curve"]) == 1
    assert learning.score(result) == -np.inf


def test_learning_workers_need_only_the_package(tmp_path):
    """What learning.py submits to its Dask workers unpickles in a fresh Python that has the package
    but not benchmarks/ on its path (a remote worker): the run is the package's, not the script's."""
    import subprocess

    import cloudpickle

    payload = tmp_path / "task.pkl"
    payload.write_bytes(cloudpickle.dumps(learning.train_run))
    code = ("import pickle, sys; f = pickle.load(open(sys.argv[1], 'rb')); "
            "assert not any(p.rstrip('/').endswith('benchmarks') for p in sys.path), sys.path; print(f.__module__)")
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code, str(payload)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "selfassembly.sweep.learning_run"


def _check_learning_manifest(out, runs, kw):
    """The manifest of test_learning_protocol_tiny's run, and its slice through `make reproduce`: equal to
    seeds.csv, and DRIFTED once seeds.csv is off by one test image."""
    import importlib.util

    from selfassembly.manifest import read_manifest

    m = read_manifest(out)
    assert m["command"] == "python benchmarks/learning.py --workers 1"
    st = m["settings"]
    assert st["grid"] == {"digits": {"eta": [0.002, 0.04], "lam": [1e-4]}}  # the grid the run used (patched here)
    assert st["presets"] == ["backprop", "four_synapse"] and st["seeds"] == [0, 1] and st["shared_seeds"] == {"digits": [0]}
    assert st["archs"] == {"digits classification": ["64-12-10", "64-12-12-10"]} and st["val_seed"] == learning.VAL_SEED
    assert st["default_params"]["eta_b"] == learning.DEFAULT_PARAMS["eta_b"]
    assert m["runs"] == {"in_report": len(runs), "trained_this_call": len(runs), "workers": 1} and m["wall_s"] > 0
    rep = m["reproduce"]
    assert (rep["dataset"], rep["task"], rep["arch"]) == ("digits", "classification", "64-12-10")
    assert [(r["preset"], r["seed"], r["epochs"]) for r in rep["runs"]] == [("backprop", 0, 2), ("four_synapse", 0, 2)]
    spec = importlib.util.spec_from_file_location("reproduce_tool", Path(__file__).resolve().parents[1] / "tools" / "reproduce.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    status, comparisons, _ = tool.check(out)
    assert status == "REPRODUCED" and len(comparisons) == 2, comparisons
    text = (out / "seeds.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    fs = next(r for r in rows if r["preset"] == "four_synapse" and r["arch"] == "64-12-10" and r["seed"] == "0"
              and all(str(rep["runs"][1][k]) == r[k] or float(r[k]) == rep["runs"][1][k] for k in ("eta", "lam", "eta_b")))
    fs["test_acc"] = str(round(float(fs["test_acc"]) - 1 / 359, 5))
    write_csv(out / "seeds.csv", rows)
    status, comparisons, _ = tool.check(out)
    assert status == "DRIFTED" and [c[-1] for c in comparisons] == [True, False]
    (out / "seeds.csv").write_text(text)


def test_learning_protocol_tiny(tmp_path, monkeypatch):
    """The whole protocol on a tiny grid through a 1-worker LocalCluster: tuning on the validation split,
    the choice, 2 seeds on the full training set, every output; learning happens; a rerun does nothing."""
    monkeypatch.setattr(learning, "GRID", {"eta": (0.002, 0.04), "lam": (1e-4,)})
    monkeypatch.setattr(learning, "CROSS_GRID", {"four_synapse": [(0.002, 0.0005)]})  # stage 1's cross rates: no new run
    monkeypatch.setattr(learning, "B_GRID", {"four_synapse": [("both", 0.0002), ("loop_mirror", 0.0002)]})  # one new
    out = tmp_path / "learn"
    kw = dict(presets=("backprop", "four_synapse"), seeds=(0, 1), archs={"digits": ["64-12-10", "64-12-12-10"]},
              epochs={"digits": 2}, workers=1, shared_seeds={"digits": (0,)})
    lines = []
    rows = learning.run_benchmark(("digits",), out, echo=lines.append, argv=["--workers", "1"], **kw)
    tuning = list(csv.DictReader(open(out / "tuning.csv")))
    assert len(tuning) == 2 * 2 * 2 + 2  # archs x presets x grid, + four_synapse's new B point per arch (one is stage 1's)
    for arch in ("64-12-10", "64-12-12-10"):  # the choice is the best validation score
        bp = [r for r in tuning if r["arch"] == arch and r["preset"] == "backprop"]
        best = max(bp, key=lambda r: float(r["val_score"]))
        row = next(r for r in rows if r["arch"] == arch and r["preset"] == "backprop" and r["setting"] == "tuned")
        assert row["eta"] == float(best["eta"])
    runs = [json.loads(p.read_text()) for p in (out / "runs").rglob("*.json")]
    assert {(r["n_fit"], r["n_eval"]) for r in runs if r["stage"] == "tune"} == {(1150, 288)}  # never the test set
    assert {(r["n_fit"], r["n_eval"]) for r in runs if r["stage"] == "test"} == {(1438, 359)}
    seeds = list(csv.DictReader(open(out / "seeds.csv")))
    tuned = [r for r in rows if r["setting"] == "tuned"]
    assert len(tuned) == 4 and all(r["seeds"] == 2 for r in tuned)
    for r in tuned:  # learning happened: chance is 0.1, and eta = 0.002 for 2 epochs would not get here
        assert r["test_acc_mean"] > 0.75, r
    assert len(list(csv.DictReader(open(out / "curves.csv")))) == len(seeds) * 3  # epochs 0, 1, 2
    for name in ("summary.md", "chosen.csv", "summary.csv"):
        assert (out / name).stat().st_size > 100
    for name in ("digits_curves.png", "digits_diff.png", "digits_tuning.png"):
        assert (out / name).stat().st_size > 10_000
    assert "| four_synapse |" in (out / "summary.md").read_text()
    manifest = (out / "manifest.json").read_bytes()
    _check_learning_manifest(out, runs, kw)
    stamp = {p: p.stat().st_mtime for p in (out / "runs").rglob("*.json")}
    lines.clear()
    again = learning.run_benchmark(("digits",), out, echo=lines.append, argv=["--workers", "1"], **kw)
    assert not any("runs to do" in s for s in lines) and again == rows
    assert {p: p.stat().st_mtime for p in (out / "runs").rglob("*.json")} == stamp
    assert (out / "manifest.json").read_bytes() == manifest  # nothing trained: the call that trained stays recorded
    # --report-only counts the protocol's runs only: a run of another grid lying in the folder is not one
    stray = json.loads(next((out / "runs" / "tune").rglob("*.json")).read_text())
    stray.update(eta=0.5, curve=[dict(c, acc=1.0) for c in stray["curve"]])
    (out / "runs" / "tune" / "stray.json").write_text(json.dumps(stray))
    assert learning.run_benchmark(("digits",), out, echo=lines.append, report_only=True, **kw) == rows
    assert len(list(csv.DictReader(open(out / "tuning.csv")))) == len(tuning)


def test_learning_tunes_four_synapse_b_and_keeps_the_ablations_matched(tmp_path):
    """Stage tune_b tries B_GRID at four_synapse's chosen rates; the matched ablations then take its
    (b_rule, eta_b) whatever scored best at the default B; the test stage carries it, the shared
    stage does not; and B's setting is part of the run's file name and resume key."""
    fs = [_result("four_synapse", 0, 0.90, eta=0.04, lam=1e-3, eta_c=0.004, eta_u=0.001, stage="tune"),
          _result("four_synapse", 0, 0.95, eta=0.04, lam=1e-3, eta_c=0.004, eta_u=0.001, b_rule="both", eta_b=0.0005,
                  stage="tune")]
    fc = [_result("four_synapse_fixed_cross", 0, 0.93, eta=0.01, stage="tune"),
          _result("four_synapse_fixed_cross", 0, 0.92, eta=0.02, stage="tune")]
    presets = ["four_synapse", "four_synapse_fixed_cross"]
    chosen = learning.choices(fs[:1] + fc, presets)
    key = lambda p: ("digits", "classification", "64-8-10", p)  # noqa: E731
    tune_b = learning.stage_jobs("tune_b", "digits", ["64-8-10"], presets, 2, chosen)
    assert {(j["preset"], j["eta"], j["lam"], j["eta_c"], j["eta_u"]) for j in tune_b} == {
        ("four_synapse", 0.04, 1e-3, 0.004, 0.001)}
    assert sorted((j["b_rule"], j["eta_b"]) for j in tune_b) == sorted(learning.B_GRID["four_synapse"])
    assert chosen[key("four_synapse_fixed_cross")]["eta"] == 0.01  # no matched run yet: its best
    chosen = learning.choices(fs + fc, presets)
    assert (chosen[key("four_synapse")]["b_rule"], chosen[key("four_synapse")]["eta_b"]) == ("both", 0.0005)
    match = learning.stage_jobs("tune_match", "digits", ["64-8-10"], presets, 2, chosen)
    assert [(j["preset"], j["eta"], j["b_rule"], j["eta_b"]) for j in match] == [
        ("four_synapse_fixed_cross", 0.01, "both", 0.0005)]
    matched = _result("four_synapse_fixed_cross", 0, 0.80, eta=0.01, b_rule="both", eta_b=0.0005, stage="tune")
    chosen = learning.choices(fs + fc + [matched], presets)
    assert chosen[key("four_synapse_fixed_cross")] is matched  # lower score, but four_synapse's B
    test = learning.stage_jobs("test", "digits", ["64-8-10"], presets, 2, chosen, seeds=(0,))
    assert {(j["preset"], j["b_rule"], j["eta_b"]) for j in test} == {
        ("four_synapse", "both", 0.0005), ("four_synapse_fixed_cross", "both", 0.0005)}
    chosen[key("backprop")] = _result("backprop", 0, 0.9, stage="tune")
    shared = learning.stage_jobs("shared", "digits", ["64-8-10"], presets, 2, chosen, seeds=(0,))
    assert {(j["b_rule"], j["eta_b"]) for j in shared} == {("both", 0.0002)}  # the default B
    # B's setting names the run's file, and a result of another eta_b is not taken as done
    a = learning._job("test", "digits", "64-8-10", "four_synapse", 0, 2, 0.02, 1e-4, b_rule="both", eta_b=0.0005)
    b = dict(a, eta_b=0.002)
    assert learning.job_path(tmp_path, a) != learning.job_path(tmp_path, b)
    path = learning.job_path(tmp_path, a)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(dict(b, status="diverged")))
    assert learning._load_done(tmp_path, a) is None
    path.write_text(json.dumps(dict(a, status="diverged")))
    assert learning._load_done(tmp_path, a)["eta_b"] == 0.0005


def test_learning_reconstruction_is_scored_by_lower_error():
    """Reconstruction: the target is the input, the output linear, the error 2 x the loss; the
    lowest validation error wins, a diverged run never; rows report error, its paired difference
    (positive: worse) and the share of feedback alignment's gap closed."""
    runs = [_result("backprop", 0, e, eta=eta, stage="tune", task="reconstruction")
            for eta, e in ((0.01, 1.3), (0.02, 1.1), (0.04, 1.2))]
    runs.append(_result("backprop", 0, None, eta=0.005, stage="tune", status="diverged", task="reconstruction"))
    assert learning.choose(runs)["eta"] == 0.02 and learning.score(runs[-1]) == np.inf
    assert learning.choose(runs[-1:]) is None
    chosen = learning.choices(runs, ["backprop", "four_synapse", "feedback_alignment"])
    chosen[("digits", "reconstruction", "64-8-10", "four_synapse")] = _result(
        "four_synapse", 0, 1.2, stage="tune", task="reconstruction")
    chosen[("digits", "reconstruction", "64-8-10", "feedback_alignment")] = _result(
        "feedback_alignment", 0, 2.0, stage="tune", task="reconstruction")
    bp, fa, fs = [1.0, 1.2, 1.1], [2.0, 2.4, 2.3], [1.2, 1.5, 1.3]
    tests = [_result(p, s, e, task="reconstruction") for p, errs in
             (("backprop", bp), ("feedback_alignment", fa), ("four_synapse", fs)) for s, e in enumerate(errs)]
    rows = {r["preset"]: r for r in learning.summarize(tests, chosen, {}) if r["setting"] == "tuned"}
    r = rows["four_synapse"]
    assert r["task"] == "reconstruction" and r["test_acc_mean"] == "" and r["mean_predictor_error"] == 4.5
    assert r["test_error_mean"] == pytest.approx(np.mean(fs), abs=1e-4)
    assert r["diff_to_backprop_mean"] == pytest.approx(np.mean(np.subtract(fs, bp)), abs=1e-4)  # error units, > 0
    gap = np.mean(np.subtract(fa, bp))
    assert r["fa_gap_closed"] == pytest.approx(1 - np.mean(np.subtract(fs, bp)) / gap, abs=1e-3)
    assert rows["feedback_alignment"]["fa_gap_closed"] == pytest.approx(0.0, abs=1e-3)
    # one real run: the error is 2 x the linear loss on the input as target; the mean predictor's floor
    from selfassembly.datasets import load_dataset
    from selfassembly.experiment import for_task, mean_predictor_error

    job = learning._job("test", "digits", "64-6-64", "four_synapse", 0, 1, 0.02, 1e-4, task="reconstruction")
    result = learning.train_run(job)
    data = for_task(load_dataset("digits", 0.2, 0), "reconstruction")
    loss, _ = ref.evaluate(result["final_weights"], data.X_test, data.X_test, "tanh", "linear")
    assert result["final_error"] == pytest.approx(2 * loss, abs=1e-5) and result["final_acc"] is None
    assert result["mean_predictor_error"] == pytest.approx(mean_predictor_error(data), abs=1e-5)
    assert result["final_error"] < result["curve"][0]["error"] < 100  # it learned
    with pytest.raises(ValueError, match="needs 64 inputs and 64 outputs"):
        learning.train_run(dict(job, arch="64-6-10"))


def _planted(rng, sizes, preset, noise=0.05):
    """Final weights of a constructed run: four_synapse assembled (U orthogonal, V = U^T, B the loop's
    fixed point, so V B U = W^T up to noise); fixed_cross random; feedback_alignment U = V = I, B random."""
    L = len(sizes) - 1
    w = {f"W{l}": rng.normal(size=(sizes[l], sizes[l - 1])) for l in range(1, L + 1)}
    for l in range(1, L + 1):
        n = sizes[l]
        if preset == "four_synapse":
            q, _ = np.linalg.qr(rng.normal(size=(n, n)))
            w[f"U{l}"], w[f"V{l}"] = q, q.T + noise * rng.normal(size=(n, n))
        elif preset == "four_synapse_fixed_cross":
            w[f"U{l}"], w[f"V{l}"] = rng.normal(size=(n, n)), rng.normal(size=(n, n))
        else:
            w[f"U{l}"], w[f"V{l}"] = np.eye(n), np.eye(n)
    for l in range(2, L + 1):
        if preset == "four_synapse":
            w[f"B{l}"] = w[f"U{l - 1}"] @ w[f"W{l}"].T @ w[f"U{l}"].T + noise * rng.normal(size=(sizes[l - 1], sizes[l]))
        else:
            w[f"B{l}"] = rng.normal(size=(sizes[l - 1], sizes[l]))
    return w


def test_learning_verdict_column_from_the_final_weights(tmp_path, rng):
    """Each row's verdict is the across-seed verdict of its table, from the saved final weights:
    ASSEMBLED against the null and both ablations; UNDECIDED without them; NOT ASSEMBLED when
    the feedback is random; a run whose weights are missing is rerun, not trusted."""
    from selfassembly.io import atomic_savez

    sizes, arch = [12, 10, 10, 6], "12-10-10-6"
    presets = ["backprop", "feedback_alignment", "four_synapse", "four_synapse_fixed_cross"]
    eta = {p: 0.04 if p == "backprop" else 0.02 for p in presets}  # backprop's own eta: tuned rows only, no shared
    chosen = {("digits", "classification", arch, p): _result(p, 0, 0.9, arch=arch, eta=eta[p], stage="tune")
              for p in presets}
    tests = []
    for seed in range(3):
        for p in presets:
            r = _result(p, seed, 0.9, arch=arch, eta=eta[p])
            atomic_savez(learning.weights_path(tmp_path, r), **_planted(rng, sizes, p))
            tests.append(r)
    verdict = lambda rows: {r["preset"]: r["verdict"] for r in rows}  # noqa: E731
    assert {r["setting"] for r in learning.summarize(tests, chosen, {}, tmp_path)} == {"tuned"}
    v = verdict(learning.summarize(tests, chosen, {}, tmp_path))
    assert v == {"backprop": "STRUCTURED", "feedback_alignment": "STRUCTURED", "four_synapse": "ASSEMBLED",
                 "four_synapse_fixed_cross": "NOT ASSEMBLED"}
    assert {r["verdict"] for r in learning.summarize(tests, chosen, {})} == {""}  # no weights folder: no verdict
    alone = [r for r in tests if r["preset"] in ("backprop", "four_synapse")]
    assert verdict(learning.summarize(alone, chosen, {}, tmp_path))["four_synapse"] == "UNDECIDED"
    for r in tests:  # four_synapse's feedback random in one seed (the last): inside the null there
        if r["preset"] == "four_synapse" and r["seed"] == 2:
            w = _planted(rng, sizes, "four_synapse")
            w.update({k: rng.normal(size=v.shape) for k, v in w.items() if k.startswith("B")})
            atomic_savez(learning.weights_path(tmp_path, r), **w)
    assert verdict(learning.summarize(tests, chosen, {}, tmp_path))["four_synapse"] == "NOT ASSEMBLED"
    job = {k: tests[0][k] for k in ("stage", "dataset", "task", "arch", "preset", "seed", "epochs", *learning.PARAMS)}
    learning.job_path(tmp_path, job).write_text(json.dumps(tests[0]))
    assert learning._load_done(tmp_path, job) is not None
    learning.weights_path(tmp_path, job).unlink()
    assert learning._load_done(tmp_path, job) is None


def test_learning_benchmark_on_a_data_file(tmp_path, monkeypatch, capsys):
    """--dataset PATH with --archs: the protocol runs on the user's file; an architecture that does
    not fit is one line naming n_0 and n_L (exit 2); an edited file is not taken as done."""
    monkeypatch.setattr(learning, "GRID", {"eta": (0.04,), "lam": (1e-4,)})
    g = np.random.default_rng(3)
    centres = g.normal(scale=3.0, size=(3, 5))
    y = np.repeat(np.arange(3), 40)
    path = tmp_path / "blobs.npz"
    np.savez(path, X=centres[y] + g.normal(size=(120, 5)), y=y)
    out = tmp_path / "out"
    args = ["--dataset", str(path), "--out", str(out), "--presets", "backprop", "feedback_alignment", "--seeds", "2",
            "--workers", "1"]
    learning.main(args + ["--archs", "5-8-3"])
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert {(r["dataset"], r["task"], r["arch"], r["setting"]) for r in rows} == {
        ("blobs.npz", "classification", "5-8-3", setting) for setting in ("tuned", "shared")}
    assert all(float(r["test_acc_mean"]) > 0.8 for r in rows)  # 3 separated blobs: learned
    runs = [json.loads(p.read_text()) for p in (out / "runs").rglob("*.json")]
    assert {(r["n_fit"] + r["n_eval"]) for r in runs if r["stage"] == "tune"} == {96}  # 80% of the file trains
    with pytest.raises(SystemExit) as exit_:
        learning.main(args + ["--archs", "4-8-3"])
    assert exit_.value.code == 2 and "n_0 = 5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        learning.main(args)  # --dataset needs --archs
    kw = dict(presets=("backprop", "feedback_alignment"), seeds=(0, 1), archs={str(path): ["5-8-3"]}, report_only=True)
    assert len(learning.run_benchmark((str(path),), out, **kw)) == 4  # 2 presets, tuned and shared
    np.savez(path, X=centres[y] + g.normal(size=(120, 5)), y=y)  # edited: new content, same name
    learning._data.cache_clear()
    assert learning.run_benchmark((str(path),), out, **kw) == []


def test_learning_benchmark_reads_mnist_idx(tmp_path, rng, capsys):
    """The MNIST path: IDX files the test writes; a missing file is named."""
    write_mnist(tmp_path / "mnist", rng, n_train=30, n_test=10, gz=True)
    job = learning._job("test", "mnist", "784-6-10", "four_synapse", 0, 1, eta=0.02, lam=1e-4)
    result = learning.train_run(job, str(tmp_path / "mnist"))
    assert result["status"] == "done" and (result["n_fit"], result["n_eval"]) == (30, 10)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    learning._data.cache_clear()
    with pytest.raises(SystemExit) as exit_:  # one line and exit code 2, not a traceback
        learning.main(["--mnist", str(tmp_path / "mnist"), "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2 and "lacks t10k-labels-idx1-ubyte" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        learning.main(["--mnist", str(tmp_path / "nothing-here")])


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
    """The quick version: the numpy engine (float64, float32) against Brian2's numpy target, every output written."""
    report, rows = speed.main(["--quick", "--out", str(tmp_path / "s")])
    assert {(r["mode"], r["implementation"]) for r in rows} == {
        ("sample", "numpy_engine"), ("sample", "numpy_engine_float32"), ("sample", "numpy"),
        ("dynamic", "numpy_engine"), ("dynamic", "numpy")}
    for r in rows:
        assert r["rate"] > 0 and 0 < r["fraction_of_roofline"] < 1 and r["peak_rss_mib"] > 10
        if r["implementation"] == "numpy_engine":
            assert r["ratio_to_numpy_engine"] == pytest.approx(1.0)
    by = {r["implementation"]: r for r in rows if r["mode"] == "sample"}
    # the memory roofline; float32's moves half the bytes at the same measured bandwidth
    sample = report["sample"]["64-32-32-10"]
    w, peak = sample["work"], sample["peak"]
    mem64 = w["bytes_read_min"] / (peak["ws_read_GBps"] * 1e9) + w["bytes_rmw_min"] / (peak["ws_rmw_GBps"] * 1e9)
    assert by["numpy_engine"]["roofline_ms"] == pytest.approx(1e3 * mem64, rel=1e-12)
    assert by["numpy_engine_float32"]["roofline_ms"] == pytest.approx(1e3 * mem64 / 2, rel=1e-12)
    # every implementation learns the same task from the same start (accuracy on the training set)
    accs = [sample[k]["train_acc"] for k in ("numpy_engine", "numpy_engine_float32", "numpy")]
    assert min(accs) > 0.15 and max(accs) - min(accs) < 0.1  # chance is 0.1; 200 presentations at eta = 0.02
    assert len(sample["numpy_engine"]["run_s_all"]) == speed.NUMPY_REPEATS + 1  # the first process's best, one round
    peak = sample["peak"]
    assert peak["ws_read_GBps"] > 0.5 and peak["dgemm_GFLOPs"] > 0.5
    md = (tmp_path / "s" / "speed.md").read_text()
    assert "## Sample-clocked training" in md and "## Hardware limit" in md and "numpy engine, float32" in md
    assert "load average" in md and len(report["machine"]["load_average_at_end"]) == 3
    saved = json.loads((tmp_path / "s" / "speed.json").read_text())
    assert saved["sample"]["64-32-32-10"]["numpy_engine"]["steps"] == 200
    # the manifest: the command as given, the options as they ran (--quick applied), no worker-only options
    from selfassembly.manifest import read_manifest

    m = read_manifest(tmp_path / "s")
    assert m["command"] == f"python benchmarks/speed.py --quick --out {tmp_path / 's'}"
    st = m["settings"]
    assert st["sizes"] == [[64, 32, 32, 10]] and st["presentations"] == 200 and st["rounds"] == 1 and st["quick"]
    assert st["targets"] == ["numpy_engine", "numpy_engine_float32", "numpy"]
    assert st["timed_run_params"] == {"eta": 0.02, "lam": 0.02}
    assert not set(speed.WORKER_OPTIONS) & set(st) and m["reproduce"]["timing"] and m["wall_s"] > 0


@pytest.mark.slow
def test_speed_benchmark_cpp_standalone(tmp_path):
    """cpp_standalone: compiled once; the rerun with new parameters uses the same binary and changes the result."""
    report, rows = speed.main(["--sizes", "64-16-16-10", "--presentations", "300", "--targets", "numpy_engine",
                               "cpp_standalone", "--dyn-sizes", "64-16-16-10", "--dyn-presentations", "2",
                               "--out", str(tmp_path / "s")])
    cpp = report["sample"]["64-16-16-10"]["cpp_standalone"]
    assert cpp["build_s"] > 0 and cpp["rerun_recompiled"] is False and cpp["rerun_weights_changed"] is True
    assert cpp["binary_maxrss_mib"] > 1
    assert abs(cpp["train_acc"] - report["sample"]["64-16-16-10"]["numpy_engine"]["train_acc"]) < 0.15
    assert any(r["mode"] == "dynamic" and r["implementation"] == "cpp_standalone" for r in rows)
    assert "Targets" in (tmp_path / "s" / "speed.md").read_text()
