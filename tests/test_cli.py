"""The main command: outputs, resume, divergence, bad input."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from selfassembly.cli import main
from selfassembly.config import ExperimentConfig, quick_config
from selfassembly.experiment import divergence_advice, run_experiment
from selfassembly.io import load_snapshots


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick") / "run"
    assert main(["run", "--quick", "--out", str(out)]) == 0
    return out


def test_quick_run_writes_every_output(quick_run):
    presets = quick_config().presets
    for name in ["config.toml", "metrics.csv", "summary.json", "accuracy.png", "alignment.png"]:
        assert (quick_run / name).stat().st_size > 0, name
    summary = json.loads((quick_run / "summary.json").read_text())
    assert list(summary["presets"]) == presets
    with open(quick_run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    for p in presets:
        snaps = load_snapshots(quick_run / "snapshots" / f"{p}.npz")
        assert list(snaps.steps) == [0, 120, 240]
        assert [int(r["step"]) for r in rows if r["preset"] == p] == [0, 120, 240]
        s = summary["presets"][p]
        assert s["status"] == "done" and 0 <= s["final_test_acc"] <= 1
        assert set(s["ff_angle"]) == {"2", "3"}
    # same initial W for every preset
    w0 = [load_snapshots(quick_run / "snapshots" / f"{p}.npz").weights["W1"][0] for p in presets]
    assert all(np.array_equal(w0[0], w) for w in w0[1:])
    # backprop's feedback is W^T exactly
    assert summary["presets"]["backprop"]["ff_angle"]["2"] == pytest.approx(0, abs=1e-6)


def test_rerun_skips_finished_presets(quick_run, capsys):
    before = (quick_run / "summary.json").read_text()
    assert main(["run", "--quick", "--out", str(quick_run)]) == 0
    out = capsys.readouterr().out
    assert out.count("already done") == len(quick_config().presets)
    assert (quick_run / "summary.json").read_text() == before


def test_rerun_with_other_config_is_refused(quick_run, capsys):
    assert main(["run", "--quick", "--epochs", "2", "--out", str(quick_run)]) == 2
    assert "different configuration" in capsys.readouterr().err


def test_divergence_advice_does_not_blame_the_assembly_regimes_decay():
    """lam = 0.02 is 200 times the default but only damps; the advice names the large rate."""
    config = ExperimentConfig(eta=1.0, lam=0.02)
    advice = divergence_advice(config)
    assert "plasticity.eta (now 1, default 0.02)" in advice and "plasticity.lam" not in advice
    assert "eta * lam" in divergence_advice(ExperimentConfig(eta=1.0, lam=1.5))  # the decay overshoots zero


def test_divergence_is_recorded_and_the_run_goes_on(tmp_path, capsys):
    out = tmp_path / "div"
    args = ["run", "--quick", "--presets", "kolen_pollack,backprop", "--eta", "1000", "--lam", "0", "--out", str(out)]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "preset 'kolen_pollack' diverged" in err and "at presentation" in err
    assert "plasticity.eta (now 1000, default 0.02)" in err  # the advice names the parameter that is large
    summary = json.loads((out / "summary.json").read_text())
    assert summary["presets"]["kolen_pollack"]["status"] == "diverged"
    assert "backprop" in summary["presets"]  # the run went on to the next preset
    snaps = load_snapshots(out / "snapshots" / "kolen_pollack.npz")
    assert all(np.all(np.isfinite(w)) for w in snaps.weights.values())
    assert not list(out.glob("**/*.tmp"))
    # the rerun does not train again: the outcome is recorded, and the status still says so
    assert main(args) == 3
    out_text, err = capsys.readouterr()
    assert "kolen_pollack: already diverged" in out_text and "kolen_pollack (diverged)" in err


@pytest.mark.parametrize("args,match", [
    (["--presets", "backprob"], "unknown value 'backprob'; valid values: backprop"),
    (["--sizes", "64,0,10"], "every layer size must be positive"),
    (["--sizes", "60,20,10"], r"stimuli have 64 features but the input layer has n_0 = 60"),
    (["--activation", "sigmoid"], "valid values: tanh, relu"),
    (["--config", "/nonexistent.toml"], "does not exist"),
])
def test_bad_input_is_named(tmp_path, capsys, args, match):
    assert main(["run", "--quick", "--out", str(tmp_path / "o"), *args]) == 2
    assert match in capsys.readouterr().err or pytest.fail(capsys.readouterr().err)


def test_config_file_and_flags(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[training]\npresets = ["feedback_alignment"]\nepochs = 1\n[data]\nmax_train = 60\n')
    out = tmp_path / "o"
    assert main(["run", "--config", str(cfg), "--sizes", "64,16,10", "--records-per-epoch", "1", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["presets"]) == ["feedback_alignment"]
    assert load_snapshots(out / "snapshots" / "feedback_alignment.npz").sizes == [64, 16, 10]


def test_console_script_is_installed(tmp_path):
    res = subprocess.run([sys.executable, "-m", "selfassembly", "presets"], capture_output=True, text=True, check=True)
    assert "four_synapse_fixed_cross" in res.stdout


def test_run_experiment_api(tmp_path):
    summary = run_experiment(quick_config().replace(presets=["backprop"], max_train=40, sizes=[64, 8, 10]),
                             tmp_path / "api", progress=None)
    assert summary["presets"]["backprop"]["steps"] == 40


@pytest.mark.slow
def test_cpp_standalone_run_matches_numpy(quick_run, tmp_path):
    """The whole experiment path on cpp_standalone gives numpy's weights (a preset without Brian2 randomness)."""
    out = tmp_path / "sa"
    assert main(["run", "--quick", "--target", "cpp_standalone", "--presets", "kolen_pollack", "--out", str(out)]) == 0
    got = load_snapshots(out / "snapshots" / "kolen_pollack.npz")
    want = load_snapshots(quick_run / "snapshots" / "kolen_pollack.npz")
    assert list(got.steps) == list(want.steps)
    for k in want.weights:
        np.testing.assert_allclose(got.weights[k], want.weights[k], rtol=1e-9, atol=1e-12, err_msg=k)
