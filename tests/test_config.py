"""Configuration: defaults, TOML round trip, and errors that name the field and the fix."""
import csv
from pathlib import Path

import pytest

from selfassembly.config import ConfigError, ExperimentConfig, load_config


def test_defaults_are_the_self_assembly_experiment():
    c = ExperimentConfig()
    assert c.sizes == [64, 128, 128, 10]
    # the circuit, both matched ablations of the assembly verdict, and the two references
    assert c.presets == ["four_synapse", "four_synapse_fixed_cross", "feedback_alignment", "kolen_pollack", "backprop"]
    assert c.dataset == "digits" and c.mode == "sample" and c.target == "numpy"


def test_default_rates_are_backprops_tuned_setting():
    """eta and lam are what the learning benchmark chose for backprop at the default architecture."""
    chosen = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "learning" / "chosen.csv"
    rows = [r for r in csv.DictReader(chosen.open())
            if (r["dataset"], r["arch"], r["preset"]) == ("digits", "64-128-128-10", "backprop")]
    c = ExperimentConfig()
    assert len(rows) == 1 and (c.eta, c.lam) == (float(rows[0]["eta"]), float(rows[0]["lam"]))


def test_toml_round_trip(tmp_path):
    c = ExperimentConfig(sizes=[64, 20, 10], epochs=3, eta=0.05, mode="dynamic",
                         connectivity={"W": {"p": 0.5}, "U": {"kind": "uniform", "scale": 2.0}})
    path = tmp_path / "c.toml"
    path.write_text(c.to_toml())
    back = load_config(path)
    assert back == c
    assert back.connectivity["W"] == {"kind": "gaussian", "scale": 1.0, "p": 0.5}
    assert back.time_mode().name == "dynamic"


def test_partial_file_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[training]\nepochs = 2\npresets = ["backprop"]\n[connectivity.B]\np = 0.25\n')
    c = load_config(path)
    assert c.epochs == 2 and c.presets == ["backprop"]
    assert c.sizes == [64, 128, 128, 10]
    assert c.connectivity["B"]["p"] == 0.25 and c.connectivity["W"]["p"] == 1.0


@pytest.mark.parametrize("text,match", [
    ("[training]\nepochs = 0\n", r"training.epochs must be >= 1"),
    ("[training]\nepochs = 1.5\n", r"training.epochs must be a whole number"),
    ("[training]\npresets = ['backprob']\n", r"training.presets: unknown value 'backprob'; valid values: backprop"),
    ("[circuit]\nsizes = [64, -3, 10]\n", r"circuit.sizes: every layer size must be positive"),
    ("[circuit]\nactivation = 'sigmoid'\n", r"circuit.activation: unknown value 'sigmoid'; valid values: tanh, relu"),
    ("[circuit]\nwidth = 3\n", r"unknown key circuit.width; valid keys in \[circuit\]: sizes, activation, output"),
    ("[model]\nx = 1\n", r"unknown section \[model\]"),
    ("[plasticity]\neta = -1.0\n", r"plasticity.eta must be >= 0"),
    ("[connectivity.W]\np = 2.0\n", r"connectivity.W: connection probability p must be in \(0, 1\]"),
    ("[connectivity.W]\nkind = 'identity'\n", r"identity connectivity is only for the square populations U and V"),
    ("[connectivity.X]\np = 0.5\n", r"unknown population \[connectivity.X\]"),
    ("[data]\ndataset = 'mnist'\n", r"give the folder of the four IDX files"),
    ("[time]\nmode = 'dynamic'\ndt_ms = 1.0\ntau_r_ms = 1.0\n", r"dt_ms .* must be at most tau_r_ms / 2"),
    ("[training\nepochs = 1\n", r"is not valid TOML"),
])
def test_bad_files_name_the_field(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_missing_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("/nonexistent/config.toml")
