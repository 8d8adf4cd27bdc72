"""The self-assembly verdict: random null, matched ablations, across seeds, and its CLI path.

Circuits are constructed so that each test of the verdict decides: an
"assembled" four_synapse has U orthogonal (not symmetric), V = U^T and
B_{l+1} = U_l W_{l+1}^T U_{l+1}^T, so its effective feedback V B U is exactly
W^T; ablations are the random start.
"""
import json

import numpy as np
import pytest

from selfassembly.analysis.alignment import cross_stream_angles, forward_feedback_angles
from selfassembly.analysis.inspect import inspect_results, inspect_seeds
from selfassembly.analysis.verdict import ALPHA, N_DRAWS, null_p_value, random_null, seed_verdicts
from selfassembly.circuits.connectivity import initial_weights
from selfassembly.cli import main
from selfassembly.io import Snapshots, SnapshotError, save_snapshots
from selfassembly.plasticity import make_preset

from test_inspect import config_text

SIZES = [64, 20, 16, 10]


def orthogonal(n, rng):
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def assembled_weights(sizes, seed, cross_random=False):
    """four_synapse with V B U = W^T exactly (U orthogonal; V = U^T unless cross_random)."""
    rng = np.random.default_rng(seed)
    w, _ = initial_weights(sizes, make_preset("four_synapse"), seed=seed)
    L = len(sizes) - 1
    for l in range(1, L + 1):
        w[f"U{l}"] = orthogonal(sizes[l], rng)
        w[f"V{l}"] = rng.normal(size=(sizes[l], sizes[l])) if cross_random else w[f"U{l}"].T
    for l in range(1, L):
        # B such that V_l B U_{l+1} = W_{l+1}^T
        w[f"B{l + 1}"] = np.linalg.solve(w[f"V{l}"], w[f"W{l + 1}"].T) @ w[f"U{l + 1}"].T
    return w


def as_snapshots(w, sizes, masks=None):
    return Snapshots(sizes, np.array([0, 100]), {k: np.stack([v, v]) for k, v in w.items()}, masks or {})


def random_start(preset, sizes, seed):
    w, masks = initial_weights(sizes, make_preset(preset), seed=seed)
    return as_snapshots(w, sizes, masks)


def make_run(root, presets, seed=0, sizes=SIZES):
    for name, snaps in presets.items():
        save_snapshots(root / "snapshots" / f"{name}.npz", snaps)
    (root / "config.toml").write_text(config_text(sizes, list(presets)).replace("seed = 0", f"seed = {seed}"))
    return root


FAST = dict(n_null=3, n_samples=0, triads=None, plots=False)


def test_effective_feedback_is_V_B_U():
    """With U orthogonal and not symmetric, V B U = W^T exactly, and V B U^T would not be."""
    w = assembled_weights(SIZES, seed=1)
    for l, a in forward_feedback_angles(w).items():
        assert a < 1e-5, l
    assert all(a < 1e-5 for a in cross_stream_angles(w).values())
    wrong = w["V1"] @ w["B2"] @ w["U2"].T
    assert np.degrees(np.arccos(np.sum(wrong * w["W2"].T) / np.linalg.norm(wrong) / np.linalg.norm(w["W2"]))) > 45


def test_random_null_is_near_90_and_narrows_with_n():
    small = random_null([8, 6, 6, 4], n_draws=200, seed=0)
    large = random_null([64, 64, 64, 10], n_draws=200, seed=0)
    for null in (small, large):
        for measure in ("ff", "cross"):
            for values in null[measure].values():
                assert abs(np.median(values) - 90) < 5
    assert np.std(large["cross"][1]) < np.std(small["cross"][1]) / 4
    assert null_p_value(0.0, large["ff"][2]) == pytest.approx(1 / 201)
    # the null respects the circuit's masks: with reciprocal sparse wiring (V's mask is U's transposed,
    # 10% present) the angle between V and U^T is a sum over a tenth of the entries, so its spread
    # grows about sqrt(10) = 3.2 times (with independent masks overlap and norms shrink together)
    rng = np.random.default_rng(0)
    masks = {}
    for l in (1, 2):
        masks[f"U{l}"] = rng.random((64, 64)) < 0.1
        masks[f"V{l}"] = masks[f"U{l}"].T
    sparse = random_null([64, 64, 64, 10], masks=masks, n_draws=200, seed=0)
    assert abs(np.median(sparse["cross"][1]) - 90) < 5
    assert 2 < np.std(sparse["cross"][1]) / np.std(large["cross"][1]) < 5
    # drawn once per distinct null: a sweep asks for the same one at every point
    assert random_null([64, 64, 64, 10], masks=masks, n_draws=200, seed=0) is sparse
    assert not sparse["cross"][1].flags.writeable  # shared, so nobody may change it
    other = {k: v.copy() for k, v in masks.items()}
    other["U1"][0, 0] = not other["U1"][0, 0]
    assert random_null([64, 64, 64, 10], masks=other, n_draws=200, seed=0) is not sparse
    assert random_null([64, 64, 64, 10], masks=masks, n_draws=200, seed=1) is not sparse


def test_single_run_verdicts(tmp_path):
    """Assembled circuit: ASSEMBLED; its ablation at the random start and the random circuit: NOT ASSEMBLED."""
    root = make_run(tmp_path / "run", {
        "four_synapse": as_snapshots(assembled_weights(SIZES, 0), SIZES),
        "four_synapse_fixed_u": random_start("four_synapse", SIZES, 0),
        "four_synapse_fixed_cross": random_start("four_synapse_fixed_cross", SIZES, 0),
        "kolen_pollack": random_start("kolen_pollack", SIZES, 0),
    })
    lines = []
    v = inspect_results(root, echo=lines.append, **FAST)
    assert v["four_synapse"]["verdict"] == "ASSEMBLED"
    assert "below four_synapse_fixed_cross's in every layer (one seed)" in v["four_synapse"]["decided_by"]
    assert v["four_synapse"]["missing_ablations"] == ["feedback_alignment"]
    assert any("add feedback_alignment" in n for n in v["four_synapse"]["notes"])
    for ablation in ("four_synapse_fixed_u", "four_synapse_fixed_cross"):
        assert v[ablation]["verdict"] == "NOT ASSEMBLED"
        assert "cross-stream angle of layer 1 is inside the random null" in v[ablation]["decided_by"]
    assert v["kolen_pollack"]["verdict"] == "STRUCTURED"
    assert any(x.startswith("four_synapse: ASSEMBLED (cross-stream and forward-feedback") for x in lines)


def test_verdict_needs_the_cross_stream_test(tmp_path):
    """Feedback aligned through a random V (cross-stream angle at chance) is not self-assembly."""
    w = assembled_weights(SIZES, 0, cross_random=True)
    assert all(a < 1e-5 for a in forward_feedback_angles(w).values())
    root = make_run(tmp_path / "run", {"four_synapse": as_snapshots(w, SIZES),
                                       "four_synapse_fixed_cross": random_start("four_synapse_fixed_cross", SIZES, 0)})
    v = inspect_results(root, echo=lambda x: None, **FAST)["four_synapse"]
    assert v["verdict"] == "NOT ASSEMBLED"
    assert v["decided_by"].startswith("cross-stream angle of layer 1 is inside the random null")


def test_verdict_needs_an_ablation(tmp_path):
    root = make_run(tmp_path / "run", {"four_synapse": as_snapshots(assembled_weights(SIZES, 0), SIZES)})
    v = inspect_results(root, echo=lambda x: None, **FAST)["four_synapse"]
    assert v["verdict"] == "UNDECIDED"
    assert "add four_synapse_fixed_cross or feedback_alignment" in v["decided_by"]


def entry(ff, cross=(10.0, 10.0, 10.0), seed=0):
    return {"seed": seed, "status": "done", "ff": dict(zip((2, 3), ff)), "cross": dict(zip((1, 2, 3), cross))}


def test_ablation_test_is_paired_over_seeds():
    null = random_null(SIZES, n_draws=N_DRAWS, seed=0)
    # consistently 20 degrees below the ablation in both layers: assembled
    runs = {"four_synapse": [entry((30 + k, 35 + k), seed=k) for k in range(3)],
            "four_synapse_fixed_cross": [entry((50 + k, 55 + k), (90, 90, 90), seed=k) for k in range(3)]}
    v = seed_verdicts(runs, null)["four_synapse"]
    assert v["verdict"] == "ASSEMBLED" and "paired over 3 seeds" in v["decided_by"]
    d = v["ablations"]["four_synapse_fixed_cross"]["ff"][2]
    assert d["mean"] == pytest.approx(-20) and d["low"] == pytest.approx(-20) and d["high"] == pytest.approx(-20)
    # below on average but not in every seed: the interval crosses 0
    runs["four_synapse"] = [entry((30, 35), seed=0), entry((60, 35), seed=1), entry((40, 35), seed=2)]
    runs["four_synapse_fixed_cross"] = [entry((50, 55), seed=k) for k in range(3)]
    v = seed_verdicts(runs, null)["four_synapse"]
    assert v["verdict"] == "NOT ASSEMBLED"
    assert v["decided_by"].startswith("forward-feedback angle of layer 2 is not clearly below four_synapse_fixed_cross's")
    # a forward-feedback angle at chance fails the null before the ablations are consulted
    runs["four_synapse"] = [entry((89.9, 35), seed=k) for k in range(3)]
    v = seed_verdicts(runs, null)["four_synapse"]
    assert v["decided_by"].startswith("forward-feedback angle of layer 2 is inside the random null")
    # a diverged seed: no verdict
    runs["four_synapse"][1]["status"] = "diverged"
    assert seed_verdicts(runs, null)["four_synapse"]["verdict"] == "DIVERGED"


def test_inspect_across_seed_folders(tmp_path):
    dirs = []
    for seed in range(3):
        dirs.append(make_run(tmp_path / f"seed{seed}", {
            "four_synapse": as_snapshots(assembled_weights(SIZES, seed), SIZES),
            "four_synapse_fixed_cross": random_start("four_synapse_fixed_cross", SIZES, seed),
            "backprop": random_start("backprop", SIZES, seed),
        }, seed=seed))
    lines = []
    v = inspect_seeds(dirs, n_samples=0, echo=lines.append)
    assert v["four_synapse"]["verdict"] == "ASSEMBLED" and v["four_synapse"]["seeds"] == [0, 1, 2]
    assert "paired over 3 seeds, 95% CI below 0" in v["four_synapse"]["decided_by"]
    assert v["backprop"]["verdict"] == "STRUCTURED"
    saved = json.loads((tmp_path / "inspect_seeds" / "verdicts.json").read_text())
    assert saved["seeds"] == [0, 1, 2] and saved["presets"]["four_synapse"]["verdict"] == "ASSEMBLED"
    # folders of other configurations, or the same seed twice, are refused
    text = (dirs[2] / "config.toml").read_text()
    (dirs[2] / "config.toml").write_text(text.replace("[64, 20, 16, 10]", "[64, 20, 16, 10]\nactivation = \"relu\"")
                                         .replace('activation = "tanh"\n', ""))
    with pytest.raises(SnapshotError, match="differs from .* in circuit.activation"):
        inspect_seeds(dirs, n_samples=0, echo=lines.append)
    with pytest.raises(SnapshotError, match="repeat a seed"):
        inspect_seeds([dirs[0], dirs[0]], n_samples=0, echo=lines.append)


def test_cli_uses_the_documented_cut_offs(tmp_path, capsys):
    """The command line decides with the verdict module's ALPHA and N_DRAWS, as the API does."""
    root = make_run(tmp_path / "run", {
        "four_synapse": as_snapshots(assembled_weights(SIZES, 0), SIZES),
        "four_synapse_fixed_cross": random_start("four_synapse_fixed_cross", SIZES, 0),
    })
    assert main(["inspect", str(root), "--null", "3", "--samples", "0", "--no-plots", "--triads", "none"]) == 0
    cli = json.loads((root / "inspect" / "verdicts.json").read_text())
    assert (cli["alpha"], cli["n_draws"]) == (ALPHA, N_DRAWS) == (0.01, 199)
    api = inspect_results(root, out_dir=tmp_path / "api", echo=lambda x: None, **FAST)
    for preset, v in api.items():
        assert cli["presets"][preset]["verdict"] == v["verdict"]
        assert cli["presets"][preset]["decided_by"] == v["decided_by"]
    assert "four_synapse: ASSEMBLED" in capsys.readouterr().out
    assert main(["inspect", str(root), "--null-draws", "50"]) == 2
    assert "cannot reach p < 0.01" in capsys.readouterr().err
