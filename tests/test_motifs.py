"""Four-synapse motif census, null model and alignment time courses.

Seeds are fixed numbers (not the per-test hash seed) so that the statistical
assertions (z-scores against the null) are reproducible run to run.
"""
import doctest

import numpy as np
import pytest
import scipy.sparse as sp

from selfassembly.analysis import graph as graph_mod
from selfassembly.analysis import inspect as inspect_mod
from selfassembly.analysis import motifs, timecourse
from selfassembly.analysis.motifs import (
    brute_force_census,
    loop_count,
    loops_per_w_synapse,
    motif_census,
    motif_statistics,
    null_census,
    rewire,
    strong_matrices,
)
from selfassembly.analysis.timecourse import alignment_timecourse, motif_timecourse
from selfassembly.circuits.connectivity import Connectivity, initial_weights
from selfassembly.io import Snapshots
from selfassembly.plasticity import make_preset


def random_circuit(sizes, seed, p=1.0):
    """The four_synapse preset's initial circuit: every population random and independent."""
    conn = {k: Connectivity("gaussian", p=p) for k in "WBUV"}
    return initial_weights(sizes, make_preset("four_synapse"), conn, seed=seed)


def structured_circuit(sizes, seed):
    """U = V = I, B_l = W_l^T (the backprop / assembled Kolen-Pollack circuit)."""
    w, masks = initial_weights(sizes, make_preset("backprop"), seed=seed)
    return w, masks


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("how", [{"density": 0.4}, {"threshold": 0.3}, {"density": 1.0}])
def test_census_equals_networkx_brute_force(seed, how):
    sizes = [3, 5, 4, 3]
    w, masks = random_circuit(sizes, seed, p=0.7)
    fast = motif_census(w, masks=masks, **how)
    slow = brute_force_census(w, masks=masks, **how)
    assert set(fast) == set(slow) == {2, 3}
    for l in fast:
        assert fast[l]["count"] == slow[l]["count"]
        assert fast[l]["weighted"] == pytest.approx(slow[l]["weighted"], rel=1e-10, abs=1e-12)
    # the comparison is not vacuous: some loops exist in these circuits
    if how.get("density") == 1.0:
        assert sum(fast[l]["count"] for l in fast) > 0


def test_brute_force_on_structured_circuit_finds_one_loop_per_w_synapse():
    w, masks = structured_circuit([4, 5, 3], seed=1)
    slow = brute_force_census(w, threshold=0.0, masks=masks)
    assert slow[2]["count"] == np.count_nonzero(w["W2"]) == 15
    # each loop's weight product is W[j, i] * 1 * W[j, i] * 1
    assert slow[2]["weighted"] == pytest.approx(np.sum(w["W2"] ** 2))


def test_loop_orientation_single_hand_built_loop():
    # a_0 (A1) -> a_1 (A2) -> d_2 (D2) -> d_1 (D1) -> a_0: W2[1, 0], U2[2, 1], B2[1, 2], V1[0, 1]
    W, U, B, V = np.zeros((3, 2)), np.zeros((3, 3)), np.zeros((2, 3)), np.zeros((2, 2))
    W[1, 0], U[2, 1], B[1, 2], V[0, 1] = 2.0, 3.0, -1.0, 0.5
    assert loop_count(W, U, B, V) == 1
    assert loop_count(W, U, B, V, weighted=True) == pytest.approx(-3.0)
    assert loops_per_w_synapse(W, U, B, V).toarray()[1, 0] == 1
    # the same synapses with B read the wrong way round (B^T orientation) close nothing
    B_wrong = np.zeros((2, 3))
    B_wrong[0, 1] = -1.0  # d_1 (D2) -> d_0 (D1): does not continue the path a_1 -> d_2
    assert loop_count(W, U, B_wrong, V) == 0


def test_weighted_census_with_all_synapses_is_frobenius_product_with_effective_feedback():
    w, masks = random_circuit([6, 30, 25, 4], seed=3)
    c = motif_census(w, density=1.0, masks=masks)
    for l in (2, 3):
        M = w[f"V{l - 1}"] @ w[f"B{l}"] @ w[f"U{l}"]
        assert c[l]["weighted"] == pytest.approx(np.sum(w[f"W{l}"].T * M), rel=1e-9)
        assert c[l]["count"] == np.prod(w[f"W{l}"].shape) * w[f"U{l}"].shape[0] * w[f"V{l - 1}"].shape[0]


def test_sparse_and_dense_inputs_agree_and_pairing_choice_does_not_matter():
    rng = np.random.default_rng(5)
    W, U, B, V = (sp.random(*s, density=d, random_state=rng, format="csr") for s, d in
                  (((40, 30), 0.3), ((40, 40), 0.02), ((30, 40), 0.5), ((30, 30), 0.1)))
    V01, B01, U01, W01 = ((m.toarray() != 0).astype(int) for m in (V, B, U, W))
    dense = np.trace(V01 @ B01 @ U01 @ W01)
    assert dense > 0
    assert loop_count(W, U, B, V) == int(dense)
    assert loop_count(W.toarray(), U.toarray(), B.toarray(), V.toarray(), weighted=True) == pytest.approx(
        np.trace(V.toarray() @ B.toarray() @ U.toarray() @ W.toarray()))


def test_structured_circuit_every_strong_w_synapse_in_a_loop_and_overrepresented():
    w, masks = structured_circuit([10, 40, 30, 10], seed=2)
    st = motif_statistics(w, density=0.1, masks=masks, n_null=20, seed=0)
    for l, s in st["layers"].items():
        assert s["w_in_loop_fraction"] == 1.0
        assert s["count"] == s["n_strong"][f"W{l}"]
        assert s["ratio"] > 3
        assert s["z"] > 3
        assert s["weighted_z"] > 3
    assert st["total"]["z"] > 3


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_circuit_is_not_overrepresented(seed):
    w, masks = random_circuit([10, 40, 40, 30], seed=seed)
    st = motif_statistics(w, density=0.1, masks=masks, n_null=20, seed=seed)
    for s in st["layers"].values():
        assert 0.75 < s["ratio"] < 1.25
        assert abs(s["z"]) < 3
        assert abs(s["weighted_z"]) < 3


def _degrees(m):
    m = sp.csr_matrix(m)
    return m.getnnz(axis=0), m.getnnz(axis=1)


def test_rewire_preserves_degrees_and_weights_and_breaks_structure():
    rng = np.random.default_rng(0)
    m = sp.random(50, 40, density=0.15, random_state=1, format="csr")
    r = rewire(m, rng, n_rounds=10)
    for a, b in zip(_degrees(m), _degrees(r)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.sort(r.data), np.sort(m.data))
    assert r.nnz == m.nnz  # simple graph: no synapse merged with another
    kept = (m != 0).multiply(r != 0).nnz
    assert kept < 0.5 * m.nnz  # most synapses moved
    # the same seed gives the same null circuit
    r2 = rewire(m, np.random.default_rng(0), n_rounds=10)
    assert (r != r2).nnz == 0


def test_rewire_of_identity_is_a_permutation_and_of_complete_graph_is_itself():
    r = rewire(sp.identity(30, format="csr"), np.random.default_rng(1))
    assert r.nnz == 30
    np.testing.assert_array_equal(r.getnnz(axis=0), 1)
    np.testing.assert_array_equal(r.getnnz(axis=1), 1)
    assert r.diagonal().sum() < 10  # the diagonal is broken up
    full = sp.csr_matrix(np.arange(1, 13, dtype=float).reshape(3, 4))
    rf = rewire(full, np.random.default_rng(1))
    assert (rf != 0).sum() == 12


def test_null_census_is_seeded():
    w, masks = random_circuit([5, 20, 15, 5], seed=4)
    strong = strong_matrices(w, density=0.2, masks=masks, names=["W2", "U2", "B2", "V1", "W3", "U3", "B3", "V2"])
    a = null_census(strong, n_null=4, seed=9)
    b = null_census(strong, n_null=4, seed=9)
    c = null_census(strong, n_null=4, seed=10)
    np.testing.assert_array_equal(a[2]["count"], b[2]["count"])
    assert not np.array_equal(a[2]["count"], c[2]["count"]) or not np.array_equal(a[3]["count"], c[3]["count"])


def test_census_bad_input_is_named():
    w, masks = random_circuit([4, 6, 5], seed=0)
    with pytest.raises(ValueError, match="leaves no strong synapse in population .*threshold below"):
        motif_census(w, threshold=100.0, masks=masks)
    with pytest.raises(ValueError, match="density must be in"):
        motif_census(w, density=1.5, masks=masks)
    with pytest.raises(ValueError, match="exactly one of threshold"):
        motif_census(w, threshold=0.1, density=0.1, masks=masks)
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        motif_census(w, threshold=-1.0)
    with pytest.raises(ValueError, match="every synapse of it weighs 0"):
        motif_census(dict(w, V1=np.zeros_like(w["V1"])), density=0.1)
    bad = dict(w, B2=np.zeros((5, 6)))
    with pytest.raises(ValueError, match="population B2 has shape"):
        motif_census(bad, density=0.5)
    with pytest.raises(ValueError, match="at least sizes"):
        motif_statistics(random_circuit([4, 6], seed=0)[0], density=0.5)
    with pytest.raises(ValueError, match="do not close a loop"):
        loop_count(np.ones((3, 2)), np.ones((3, 3)), np.ones((3, 2)), np.ones((2, 2)))


def test_density_keeps_tied_identity_synapses():
    # density_threshold's cutoff sits on the tied weight 1 of U = I; all ties are kept
    w, masks = structured_circuit([4, 20, 20, 4], seed=0)
    s = strong_matrices(w, density=0.1, masks=masks, names=["U2", "V1"])
    assert s["U2"].nnz == 20 and s["V1"].nnz == 20


def _snapshots(ws, steps):
    return Snapshots(sizes=[ws[0]["W1"].shape[1]] + [ws[0][f"W{l}"].shape[0] for l in range(1, 4)],
                     steps=np.array(steps), weights={k: np.stack([w[k] for w in ws]) for k in ws[0]})


def test_alignment_angles_zero_for_aligned_and_ninety_for_independent():
    aligned, _ = structured_circuit([8, 60, 50, 6], seed=1)
    rand, _ = random_circuit([8, 60, 50, 6], seed=1)
    rows = alignment_timecourse(_snapshots([aligned, rand], [0, 10]))
    assert [r["step"] for r in rows] == [0, 10]
    for l in (2, 3):
        assert rows[0][f"ff_angle_{l}"] == pytest.approx(0.0, abs=1e-6)
        assert abs(rows[1][f"ff_angle_{l}"] - 90) < 12
    for l in (1, 2):
        assert rows[0][f"cross_angle_{l}"] == pytest.approx(0.0, abs=1e-6)
        assert abs(rows[1][f"cross_angle_{l}"] - 90) < 8


def test_gradient_alignment_timecourse_zero_for_backprop_circuit():
    aligned, _ = structured_circuit([8, 12, 10, 3], seed=2)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 8)), np.eye(3)[rng.integers(0, 3, 5)]
    rows = alignment_timecourse(_snapshots([aligned], [0]), X, Y)
    for l in (1, 2, 3):
        assert rows[0][f"grad_angle_{l}"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="give both X and Y"):
        alignment_timecourse(_snapshots([aligned], [0]), X, None)


def test_motif_timecourse_rises_as_feedback_aligns():
    rand, masks = random_circuit([6, 30, 30, 5], seed=7)
    ws = []
    for a in (0.0, 1.0):
        w = {k: v.copy() for k, v in rand.items()}
        for l in (1, 2):
            w[f"V{l}"] = (1 - a) * rand[f"V{l}"] + a * np.eye(30)
        for l in (2, 3):
            w[f"U{l}"] = (1 - a) * rand[f"U{l}"] + a * np.eye(w[f"U{l}"].shape[0])
            w[f"B{l}"] = (1 - a) * rand[f"B{l}"] + a * rand[f"W{l}"].T
        ws.append(w)
    rows = motif_timecourse(_snapshots(ws, [0, 100]), density=0.1, n_null=10)
    assert [r["step"] for r in rows] == [0, 100]
    assert rows[1]["total"]["z"] > 3 > abs(rows[0]["total"]["z"])
    assert rows[1]["total"]["ratio"] > rows[0]["total"]["ratio"]


@pytest.mark.parametrize("module", [motifs, graph_mod, timecourse, inspect_mod])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_rewire_lookup_strategies_agree(monkeypatch):
    # small populations use dense look-up arrays, huge ones sorted keys: same swaps, same result
    m = sp.random(60, 45, density=0.2, random_state=3, format="csr")
    fast = rewire(m, np.random.default_rng(4))
    monkeypatch.setattr(motifs, "_BITMAP_LIMIT", 0)
    slow = rewire(m, np.random.default_rng(4))
    assert (fast != slow).nnz == 0
    assert (fast != 0).multiply(m != 0).nnz < 0.5 * m.nnz


@pytest.mark.slow
def test_census_of_a_million_synapses_takes_seconds():
    import time

    rng = np.random.default_rng(0)
    n, p = 2000, 1 / 16
    w = {name: np.where(rng.random((n, n)) < p, rng.normal(size=(n, n)), 0.0) for name in ("W2", "U2", "B2", "V1")}
    assert sum(np.count_nonzero(m) for m in w.values()) > 990_000
    t = time.perf_counter()
    c = motif_census(w, threshold=0.0)[2]
    elapsed = time.perf_counter() - t
    W, U, B, V = ((w[k] != 0).astype(float) for k in ("W2", "U2", "B2", "V1"))
    assert c["count"] == int(round(np.sum((V @ B) * (U @ W).T)))
    assert c["weighted"] == pytest.approx(np.sum((w["V1"] @ w["B2"]) * (w["U2"] @ w["W2"]).T), rel=1e-9)
    assert elapsed < 30
