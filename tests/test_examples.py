"""The examples run (quick versions) and say what they claim."""
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(name, *args):
    res = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_build_and_inspect_circuit():
    out = _run("build_and_inspect_circuit.py")
    lines = [l for l in out.splitlines() if l.startswith("max |")]
    assert len(lines) == 2 and all(float(l.split("=")[1]) < 1e-12 for l in lines)
    acc = float(out.split("test accuracy")[1].split()[0])
    assert acc > 0.15


def test_dynamic_mode(tmp_path):
    out = _run("dynamic_mode.py", "--out", str(tmp_path))
    rel = float(out.split("/ |dW2| =")[1].split()[0])
    assert rel < 0.2
    assert (tmp_path / "dynamic_mode.png").stat().st_size > 0


# ---- the gallery's examples (docs/gallery_args.py runs them the same way: --quick, --out DIR)
def test_default_experiment(tmp_path):
    out = _run("default_experiment.py", "--out", str(tmp_path))
    table = out.split("preset")[1]
    for preset in ("four_synapse", "four_synapse_fixed_cross", "feedback_alignment", "kolen_pollack", "backprop"):
        assert preset in table
    rows = [l.split() for l in out.splitlines() if l.startswith("backprop ")]
    assert rows and float(rows[0][1]) > 0.3 and rows[0][-1] == "done"  # backprop learns in one quick epoch
    assert (tmp_path / "default_quick" / "metrics.csv").is_file()


def test_lesions(tmp_path):
    """The three lesions, the developmental phase and the intact circuit run; the silenced loop decays as the
    rules say (V and B only decay, U is still): ||M|| by (1 - eta_c lam_c)(1 - eta_b lam_b) per presentation."""
    out = _run("lesions.py", "--out", str(tmp_path))
    for label in ("intact", "no spontaneous", "silenced after assembly", "V frozen after assembly", "development"):
        assert any(l.startswith(label) for l in out.splitlines()), label
    decays = [l for l in out.splitlines() if l.startswith("silenced loop")]
    assert len(decays) == 2
    for line in decays:
        measured = float(line.split("decays at ")[1].split()[0])
        predicted = float(line.split("(rules: ")[1].split(")")[0])
        assert measured == pytest.approx(predicted, rel=1e-3)
    assert (tmp_path / "lesions_quick" / "lesions.png").stat().st_size > 0
    assert (tmp_path / "lesions_quick" / "manifest.json").is_file()


def test_verdict_across_seeds(tmp_path):
    out = _run("verdict_across_seeds.py", "--out", str(tmp_path))
    verdicts = {l.split(":")[0]: l.split(":")[1].split("(")[0].strip() for l in out.splitlines()
                if l.split(":")[0] in ("four_synapse", "four_synapse_fixed_cross", "feedback_alignment")}
    assert verdicts["feedback_alignment"] == "STRUCTURED"
    assert verdicts["four_synapse"] in ("ASSEMBLED", "NOT ASSEMBLED", "UNDECIDED")
    assert "[3 seeds, mean]" in out


def test_circuit_graph(tmp_path):
    import networkx as nx

    out = _run("circuit_graph.py", "--out", str(tmp_path))
    G = nx.read_graphml(tmp_path / "circuit.graphml")
    # 64 + 2 * (24 + 24 + 10) neurons; the strongest 10% of each population
    assert G.number_of_nodes() == 64 + 2 * (24 + 24 + 10)
    assert f"{G.number_of_nodes()} neurons, {G.number_of_edges()} synapses" in out
    pops = {d["population"] for _, _, d in G.edges(data=True)}
    assert pops == {"W", "B", "U", "V"}


def test_physiology_comparison(tmp_path):
    out = _run("physiology_comparison.py", "--out", str(tmp_path))
    # each of the three user rows is compared with the model populations it applies to
    for statistic in ("reciprocity_ratio", "lognormal_sigma", "loop_index_V"):
        assert any(l.startswith(statistic + " [") and (": agree" in l or ": disagree" in l or ": n/a" in l)
                   for l in out.splitlines()), statistic
    assert "my_lab.csv" in (tmp_path / "physiology_quick" / "compare" / "physiology.md").read_text()


def test_phase_diagram(tmp_path):
    out = _run("phase_diagram.py", "--out", str(tmp_path))
    assert "8 runs (0 already done)" in out and "8 done, 0 failed" in out.replace("simulated: ", "")
    assert (tmp_path / "sweep_quick" / "phase_four_synapse.png").stat().st_size > 0


def test_own_dataset(tmp_path):
    out = _run("own_dataset.py", "--out", str(tmp_path))
    assert out.count("exit status 0") == 2 and "exit status 2" in out
    assert not (tmp_path / "never_written").exists()
    import json

    for run in ("iris_npz", "iris_csv"):
        summary = json.loads((tmp_path / run / "summary.json").read_text())
        assert summary["presets"]["backprop"]["final_test_acc"] > 0.5  # chance 1/3


def test_every_example_has_a_test():
    """A new example needs a test here (the gallery takes it in by itself; docs/gallery_args.py sets the order)."""
    here = Path(__file__).read_text()
    for script in sorted(EXAMPLES.glob("*.py")):
        assert f'"{script.name}"' in here, f"examples/{script.name} has no test in tests/test_examples.py"


def test_reconstruction(tmp_path):
    """The quick reconstruction run: every preset beats the mean predictor, and four_synapse (with the loop
    mirror) beats random feedback and the circuit without the mirror already after three epochs, while its
    mirror (eta_b = 0.0002) is still assembling (37-51 deg; 1.74 against 1.90 and 2.16 at seed 0)."""
    out = _run("reconstruction.py", "--out", str(tmp_path))
    err = {l.split(":")[0]: float(l.split("test error")[1].split()[0]) for l in out.splitlines() if "test error" in l
           and ":" in l and not l.startswith("test err")}
    floor = float(out.split("mean predictor")[1].split(")")[0])
    assert set(err) == {"backprop", "feedback_alignment", "four_synapse", "four_synapse_no_loop_mirror"}
    assert all(e < 0.5 * floor for e in err.values())
    assert err["four_synapse"] < err["feedback_alignment"] - 0.1
    assert err["four_synapse"] < err["four_synapse_no_loop_mirror"] - 0.3
    assert (tmp_path / "reconstruction_quick" / "summary.json").is_file()
