"""Run-folder integrity: the configuration hash and the resume check (issue 21).

A rerun skips a preset whose results carry the configuration's hash (preset_done). If the hash
missed a field that changes results, a changed run would be resumed as done; if preset_done
did not compare the snapshot file with metrics.csv, a half-written preset would count as
finished. Both would mislabel results.
"""
import dataclasses
import json

import numpy as np
import pytest

from selfassembly.circuits import initial_weights
from selfassembly.config import ExperimentConfig, quick_config
from selfassembly.experiment import PresetResult, prepare_run_folder, preset_done, read_metrics, record_preset
from selfassembly.io import Snapshots, load_snapshots, save_snapshots, write_csv
from selfassembly.plasticity import make_preset

#: a valid value other than the base's for every field that can change a result; a new field of
#: ExperimentConfig fails test_every_field_is_covered until it is added here (or to NOT_RESULTS)
ALTERNATIVES = {
    "sizes": [64, 20, 20, 10], "activation": "relu", "output": "linear",
    "dataset": "mnist", "mnist_dir": "/elsewhere/mnist", "test_fraction": 0.3, "max_train": 100,
    "presets": ["four_synapse", "kolen_pollack"], "epochs": 3, "seed": 1, "records_per_epoch": 3,
    "eta": 0.03, "lam": 0.002, "eta_c": 0.003, "lam_c": 0.5, "sigma_xi": 0.7, "eta_u": 0.001,
    "cross_v": "hebbian", "cross_u": "hebbian",
    "mode": "dynamic", "dt_ms": 0.5, "tau_r_ms": 2.0, "T_present_ms": 10.0, "tau_xi_ms": 3.0,
    "target": "cython", "eta_b": 0.004, "lam_b": 0.5, "b_rule": "both", "engine": "numpy", "rate_scaling": "size",
    "phases": [{"epochs": 2}, {"epochs": 1, "sigma_xi": 0.0}],
}
#: fields whose alternative is valid only on another base: field -> (the base's changes, the alternative)
COUPLED = {"task": ({"output": "linear"}, "reconstruction"), "dtype": ({"engine": "numpy"}, "float32")}
#: fields that exist only for a data file (tested with one: test_hash_changes_with_the_label_column)
DATA_FILE_ONLY = ("label_column",)
#: fields that cannot change a result (left out of the hash on purpose)
NOT_RESULTS = {"cache_dir": "/some/cache"}
CONNECTIVITY_ALTERNATIVES = {"kind": "uniform", "scale": 2.0, "p": 0.5}


def _base():
    return ExperimentConfig(presets=["four_synapse"], mnist_dir="/data/mnist")


def test_every_field_is_covered():
    names = {f.name for f in dataclasses.fields(ExperimentConfig)}
    assert names == set(ALTERNATIVES) | set(COUPLED) | set(DATA_FILE_ONLY) | set(NOT_RESULTS) | {"connectivity"}, \
        "a configuration field is neither in ALTERNATIVES (hashed) nor in NOT_RESULTS"
    keys = {(pop, k) for pop, spec in _base().connectivity.items() for k in spec}
    assert keys == {(pop, k) for pop in "WBUV" for k in CONNECTIVITY_ALTERNATIVES}


@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_hash_changes_with_every_field(name):
    base = _base()
    other = base.replace(**{name: ALTERNATIVES[name]})
    assert getattr(other, name) != getattr(base, name)
    assert other.config_hash() != base.config_hash(), name


@pytest.mark.parametrize("name", sorted(COUPLED))
def test_hash_changes_with_every_coupled_field(name):
    changes, value = COUPLED[name]
    base = _base().replace(**changes)
    other = base.replace(**{name: value})
    assert getattr(other, name) != getattr(base, name)
    assert other.config_hash() != base.config_hash(), name


def test_hash_changes_with_the_label_column(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,digit,kind\n0.1,0.2,1,0\n0.3,0.4,0,1\n")
    base = ExperimentConfig(presets=["four_synapse"], dataset=str(data), label_column="digit")
    assert base.replace(label_column="kind").config_hash() != base.config_hash()


@pytest.mark.parametrize("pop", "WBUV")
@pytest.mark.parametrize("key", sorted(CONNECTIVITY_ALTERNATIVES))
def test_hash_changes_with_every_connectivity_key(pop, key):
    base = _base()
    conn = {k: dict(v) for k, v in base.connectivity.items()}
    assert conn[pop][key] != CONNECTIVITY_ALTERNATIVES[key]
    conn[pop][key] = CONNECTIVITY_ALTERNATIVES[key]
    assert base.replace(connectivity=conn).config_hash() != base.config_hash()


def test_hash_ignores_only_what_cannot_change_a_result():
    base = _base()
    for name, value in NOT_RESULTS.items():
        assert base.replace(**{name: value}).config_hash() == base.config_hash(), name
    assert ExperimentConfig(presets=["four_synapse"], mnist_dir="/data/mnist").config_hash() == base.config_hash()


# ---- preset_done ------------------------------------------------------------------------------
def _record(out, config, steps=(0, 120, 240), status="done"):
    w, masks = initial_weights(config.sizes, make_preset("backprop"), seed=config.seed)
    snaps = Snapshots(config.sizes, np.array(steps), {k: np.stack([v] * len(steps)) for k, v in w.items()}, masks)
    rows = [{"preset": "backprop", "step": s, "epoch": s / 240, "train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.0,
             "test_acc": 0.5} for s in steps]
    record_preset(out, config, PresetResult("backprop", snaps, rows, 1.0, status=status), plots=False)


@pytest.fixture
def recorded(tmp_path):
    config = quick_config().replace(presets=["backprop"])
    out = prepare_run_folder(tmp_path / "run", config)
    _record(out, config)
    assert preset_done(out, config, "backprop")
    return out, config


def test_resume_check_rejects_metrics_that_miss_a_snapshot(recorded):
    out, config = recorded
    rows = read_metrics(out)
    write_csv(out / "metrics.csv", rows[:-1])  # a run killed between the two writes
    assert not preset_done(out, config, "backprop")
    write_csv(out / "metrics.csv", rows)
    assert preset_done(out, config, "backprop")


def test_resume_check_rejects_a_snapshot_file_with_other_steps(recorded):
    out, config = recorded
    path = out / "snapshots" / "backprop.npz"
    snaps = load_snapshots(path)
    assert snaps.config_hash == config.config_hash()
    other = Snapshots(snaps.sizes, np.array([0, 100, 240]), snaps.weights, snaps.masks, snaps.config_hash)
    save_snapshots(path, other)  # same hash and sizes, steps that metrics.csv does not hold
    assert not preset_done(out, config, "backprop")
    save_snapshots(path, snaps)
    assert preset_done(out, config, "backprop")


def test_resume_check_rejects_other_configurations_and_unfinished_runs(recorded):
    out, config = recorded
    assert not preset_done(out, config.replace(eta=0.5), "backprop")
    path = out / "snapshots" / "backprop.npz"
    snaps = load_snapshots(path)
    save_snapshots(path, Snapshots(snaps.sizes, snaps.steps, snaps.weights, snaps.masks, "0" * 64))
    assert not preset_done(out, config, "backprop")  # the snapshot file of another configuration
    save_snapshots(path, snaps)
    summary = json.loads((out / "summary.json").read_text())
    summary["presets"]["backprop"]["status"] = "failed"
    (out / "summary.json").write_text(json.dumps(summary))
    assert not preset_done(out, config, "backprop")
    _record(out, config, status="diverged")  # finished, though not well: not rerun
    assert preset_done(out, config, "backprop")
