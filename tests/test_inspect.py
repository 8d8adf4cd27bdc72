"""`selfassembly inspect`: files written, verdicts, and clear errors on bad results folders."""
import argparse
import csv
import json

import networkx as nx
import numpy as np
import pytest

from selfassembly.analysis.alignment import forward_feedback_angles
from selfassembly.analysis.inspect import inspect_results, register
from selfassembly.analysis.motifs import motif_census
from selfassembly.circuits.connectivity import initial_weights
from selfassembly.io import SnapshotError, Snapshots, save_snapshots
from selfassembly.plasticity import make_preset

SIZES = [64, 20, 16, 10]  # digits: 64 pixels, 10 classes
FAST = dict(n_null=5, n_samples=10, triads="W")


def config_text(sizes, presets):
    quoted = ", ".join(f'"{p}"' for p in presets)
    return (f"[circuit]\nsizes = {list(sizes)}\nactivation = \"tanh\"\noutput = \"softmax\"\n\n"
            f"[data]\ndataset = \"digits\"\ntest_fraction = 0.2\n\n[training]\nseed = 0\npresets = [{quoted}]\n")


def assembling_snapshots(sizes=SIZES, seed=0):
    """kolen_pollack-like: U = V = I, B moves from random to W^T over three snapshots."""
    w0, masks = initial_weights(sizes, make_preset("kolen_pollack"), seed=seed)
    frames = []
    for a in (0.0, 0.5, 1.0):
        w = {k: v.copy() for k, v in w0.items()}
        for l in range(2, len(sizes)):
            w[f"B{l}"] = (1 - a) * w0[f"B{l}"] + a * w0[f"W{l}"].T
        frames.append(w)
    return Snapshots(sizes, np.array([0, 50, 100]), {k: np.stack([f[k] for f in frames]) for k in w0}, masks)


def random_snapshots(sizes=SIZES, seed=0):
    """four_synapse at its random start, unchanged over three snapshots (nothing assembles)."""
    w, masks = initial_weights(sizes, make_preset("four_synapse"), seed=seed)
    rng = np.random.default_rng(seed)
    frames = [{k: v + 0.01 * rng.normal(size=v.shape) * masks[k] for k, v in w.items()} for _ in range(3)]
    return Snapshots(sizes, np.array([0, 50, 100]), {k: np.stack([f[k] for f in frames]) for k in w}, masks)


def make_results(root, presets=None, config=True, sizes=SIZES):
    presets = presets or {"kolen_pollack": assembling_snapshots(sizes), "four_synapse": random_snapshots(sizes)}
    for name, snaps in presets.items():
        save_snapshots(root / "snapshots" / f"{name}.npz", snaps)
    if config:
        (root / "config.toml").write_text(config_text(sizes, list(presets)))
    return root


@pytest.fixture(scope="module")
def inspected(tmp_path_factory):
    root = make_results(tmp_path_factory.mktemp("run"))
    lines = []
    verdicts = inspect_results(root, echo=lines.append, **FAST)
    return root, root / "inspect", verdicts, lines


def test_verdicts_structured_and_random_not(inspected):
    root, out, verdicts, lines = inspected
    assert verdicts["kolen_pollack"]["verdict"] == "STRUCTURED"
    assert verdicts["four_synapse"]["verdict"] == "NOT ASSEMBLED"
    # a random circuit fails the first test, the cross-stream angle against the null
    assert verdicts["four_synapse"]["decided_by"].startswith("cross-stream angle of layer 1 is inside the random null")
    kp = next(x for x in lines if x.startswith("kolen_pollack:"))
    fs = next(x for x in lines if x.startswith("four_synapse:"))
    assert kp.startswith("kolen_pollack: STRUCTURED (U = V = I by construction")
    assert fs.startswith("four_synapse: NOT ASSEMBLED (cross-stream angle")
    # the printed numbers are the data's: angles of the last snapshot
    last = random_snapshots().at(2)
    for a in forward_feedback_angles(last).values():
        assert f"{a:.1f}" in fs
    saved = json.loads((out / "verdicts.json").read_text())
    assert saved["presets"]["kolen_pollack"]["verdict"] == "STRUCTURED"
    assert saved["alpha"] == 0.01 and "random-matrix null" in saved["criterion"]
    # the census is reported beside the verdict
    assert set(saved["presets"]["kolen_pollack"]["motifs"]) == {"2", "3"}


def test_files_written(inspected):
    root, out, verdicts, lines = inspected
    for preset in ("kolen_pollack", "four_synapse"):
        d = out / preset
        for name in ("graph.graphml", "motifs.json", "alignment.csv", "circuit.png", "feedback_heatmaps.png", "timecourse.png"):
            assert (d / name).is_file(), name
        for png in d.glob("*.png"):
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "overview.png").read_bytes()[:4] == b"\x89PNG"
    assert any(str(out) in x for x in lines)


def test_motifs_json_matches_direct_census(inspected):
    root, out, verdicts, lines = inspected
    data = json.loads((out / "kolen_pollack" / "motifs.json").read_text())
    assert data["strong_synapses"] == {"density": 0.1} and data["n_null"] == FAST["n_null"]
    snaps = assembling_snapshots()
    assert [s["step"] for s in data["snapshots"]] == [0, 50, 100]
    for k, entry in enumerate(data["snapshots"]):
        direct = motif_census(snaps.at(k), density=0.1, masks=snaps.masks)
        for l, c in direct.items():
            assert entry["layers"][str(l)]["count"] == c["count"]
            assert entry["layers"][str(l)]["weighted"] == pytest.approx(c["weighted"])
        assert set(entry["reciprocity"]) == {"A", "D", "cross", "paired"}
        assert ("triads" in entry) == (k in (0, 2))
    final = data["snapshots"][-1]
    assert final["total"]["z"] > 3 and final["total"]["ratio"] > 3
    assert data["snapshots"][0]["total"]["ratio"] < final["total"]["ratio"]


def test_alignment_csv_and_graphml(inspected):
    root, out, verdicts, lines = inspected
    with open(out / "kolen_pollack" / "alignment.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [0, 50, 100]
    assert float(rows[-1]["ff_angle_2"]) == pytest.approx(0.0, abs=1e-6)
    assert float(rows[0]["ff_angle_2"]) > 60
    assert float(rows[-1]["grad_angle_1"]) == pytest.approx(0.0, abs=1e-6)  # B = W^T, U = V = I: backprop
    G = nx.read_graphml(out / "kolen_pollack" / "graph.graphml")
    assert G.number_of_nodes() == sum(SIZES) + sum(SIZES[1:])
    pops = {d["population"] for _, _, d in G.edges(data=True)}
    assert pops == {"W", "B", "U", "V"}


def test_register_adds_inspect_command(tmp_path, capsys):
    root = make_results(tmp_path / "run", presets={"four_synapse": random_snapshots()})
    parser = argparse.ArgumentParser(prog="selfassembly")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["inspect", str(root), "--out", str(tmp_path / "o"), "--null", "3",
                              "--samples", "0", "--no-plots", "--triads", "U,V"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "four_synapse: NOT ASSEMBLED (cross-stream angle" in printed
    data = json.loads((tmp_path / "o" / "four_synapse" / "motifs.json").read_text())
    assert data["snapshots"][0]["triads"]["populations"] == ["U", "V"]
    assert not (tmp_path / "o" / "four_synapse" / "circuit.png").exists()
    with pytest.raises(SystemExit):
        parser.parse_args(["inspect", str(root), "--density", "0"])
    with pytest.raises(SystemExit):
        parser.parse_args(["inspect", str(root), "--density", "0.1", "--threshold", "0.2"])
    args = parser.parse_args(["inspect", str(root), "--null", "1"])
    with pytest.raises(ValueError, match="--null must be at least 2"):
        args.func(args)


def test_bad_results_folders(tmp_path):
    with pytest.raises(SnapshotError, match="does not exist"):
        inspect_results(tmp_path / "nowhere")
    (tmp_path / "empty" / "snapshots").mkdir(parents=True)
    with pytest.raises(SnapshotError, match="no weight snapshots.*selfassembly run"):
        inspect_results(tmp_path / "empty")
    root = make_results(tmp_path / "run", presets={"four_synapse": random_snapshots()})
    with pytest.raises(SnapshotError, match=r"no snapshots for preset\(s\) \['backprop'\]"):
        inspect_results(root, presets=["backprop"])
    with pytest.raises(ValueError, match="leaves no strong synapse in population .*threshold below"):
        inspect_results(root, threshold=50.0, plots=False, **FAST)


def test_snapshots_of_mismatched_shapes(tmp_path):
    # snapshot sizes disagree with config.toml
    root = make_results(tmp_path / "a", presets={"four_synapse": random_snapshots([64, 12, 10])}, config=False)
    (root / "config.toml").write_text(config_text(SIZES, ["four_synapse"]))
    with pytest.raises(SnapshotError, match=r"layer sizes \[64, 12, 10\] but .*config.toml says \[64, 20, 16, 10\]"):
        inspect_results(root, **FAST)
    # presets of one folder with different circuits (no config.toml to compare with)
    root = make_results(tmp_path / "c", presets={"four_synapse": random_snapshots([64, 12, 10]),
                                                 "backprop": assembling_snapshots()}, config=False)
    with pytest.raises(SnapshotError, match="have different layer sizes"):
        inspect_results(root, **FAST)
    # a population of the wrong shape inside the file
    snaps = random_snapshots()
    arrays = {"sizes": np.array(SIZES), "steps": snaps.steps, **snaps.weights}
    arrays["W2"] = arrays["W2"][:, :, :5]
    (tmp_path / "b" / "snapshots").mkdir(parents=True)
    np.savez(tmp_path / "b" / "snapshots" / "four_synapse.npz", **arrays)
    with pytest.raises(SnapshotError, match="population W2 has shape"):
        inspect_results(tmp_path / "b", **FAST)


def test_without_config_and_one_layer_circuit(tmp_path):
    root = make_results(tmp_path / "run", presets={"backprop": assembling_snapshots([6, 4])}, config=False)
    lines = []
    verdicts = inspect_results(root, plots=True, echo=lines.append, **FAST)
    assert verdicts["backprop"]["verdict"] == "NOT APPLICABLE"
    assert any("no config.toml" in x for x in lines)
    assert any(x.startswith("backprop: NOT APPLICABLE (one-layer circuit") for x in lines)
    assert (root / "inspect" / "backprop" / "circuit.png").is_file()


def test_diverged_snapshots_are_left_out_with_a_note(tmp_path):
    snaps = random_snapshots()
    snaps.weights["W2"][2, 0, 0] = np.nan
    root = make_results(tmp_path / "run", presets={"four_synapse": snaps})
    lines = []
    verdicts = inspect_results(root, plots=False, echo=lines.append, **FAST)
    assert verdicts["four_synapse"]["verdict"] == "NOT ASSEMBLED"
    assert json.loads((root / "inspect" / "four_synapse" / "motifs.json").read_text())["snapshots"][-1]["step"] == 50
    assert any("steps [100] hold non-finite weights" in x for x in lines)
    for k in range(3):
        snaps.weights["W2"][k, 0, 0] = np.inf
    save_snapshots(root / "snapshots" / "four_synapse.npz", snaps)
    with pytest.raises(SnapshotError, match="every snapshot holds non-finite weights"):
        inspect_results(root, **FAST)
