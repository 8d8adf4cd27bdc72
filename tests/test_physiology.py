"""The physiology statistics on hand-built circuits whose answers are known analytically."""
import itertools
import math

import networkx as nx
import numpy as np
import pytest

from selfassembly.analysis.physiology import (
    SONG_DENSITY,
    TRIAD_CLASSES,
    binomial_interval,
    cross_stream_graph,
    heterosynaptic_conservation,
    lognormal_fit,
    loop_index,
    model_statistics,
    reciprocity_ratio,
    triad_census_ratios,
    triad_class_probabilities,
)
from selfassembly.circuits import initial_weights
from selfassembly.plasticity import make_preset

THREE_PAIR = ("030T", "030C", "120D", "120U", "120C", "210", "300")


# --------------------------------------------------------------------------- intervals
def test_binomial_interval_matches_the_beta_quantiles_and_covers_the_estimate():
    lo, hi = binomial_interval(218, 4025)
    assert lo < 218 / 4025 < hi
    # Clopper-Pearson at k = n: the lower bound solves p^n = alpha/2
    lo_n, hi_n = binomial_interval(10, 10)
    assert hi_n == 1.0 and lo_n == pytest.approx(0.025 ** (1 / 10))
    with pytest.raises(ValueError, match="0 <= k <= n"):
        binomial_interval(5, 4)


# --------------------------------------------------------------------------- reciprocity
def test_reciprocity_of_a_hand_built_recurrent_population():
    n = 10
    A = np.zeros((n, n))
    for i, j in [(0, 1), (2, 3), (4, 5)]:  # three two-way pairs
        A[i, j] = A[j, i] = 1.0
    for i, j in [(6, 7), (8, 9), (0, 9), (3, 7)]:  # four one-way connections i -> j
        A[j, i] = 1.0
    connections = 3 * 2 + 4
    d = connections / (n * (n - 1))
    r = reciprocity_ratio(A, density=d)
    pairs = n * (n - 1) // 2
    assert r["two_way"] == 3 and r["pairs"] == pairs
    assert r["density_forward"] == pytest.approx(d)
    assert r["ratio"] == pytest.approx(3 / (pairs * d**2))
    assert r["ci_low"] < r["ratio"] < r["ci_high"]


def test_perfectly_mirrored_cross_stream_pair_has_ratio_one_over_density():
    rng = np.random.default_rng(1)
    U = rng.normal(size=(40, 40))
    r = reciprocity_ratio(U, 3.0 * U.T, density=SONG_DENSITY)  # V = c U^T: every strong U has its strong V
    d = r["density_forward"]
    assert r["density_backward"] == pytest.approx(d)
    assert r["two_way"] == round(d * U.size)
    assert r["ratio"] == pytest.approx(1 / d)


def test_independent_cross_stream_pair_has_ratio_near_one_and_ignores_scale():
    rng = np.random.default_rng(2)
    U, V = rng.normal(size=(150, 150)), rng.normal(size=(150, 150))
    r = reciprocity_ratio(U, V)
    assert 0.8 < r["ratio"] < 1.25
    assert r["ci_low"] < 1 < r["ci_high"]
    assert reciprocity_ratio(U, 100 * V)["ratio"] == r["ratio"]


def test_reciprocity_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="transposed shape"):
        reciprocity_ratio(np.ones((3, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="square"):
        reciprocity_ratio(np.ones((3, 4)))


# --------------------------------------------------------------------------- triads
def test_song_null_reproduces_the_published_over_representations():
    # Song et al. 2005: pair states 3312 / 495 / 218 of 4025; 300 is 7.7x, 030T 2.6x, 120D 4.0x
    p = np.array([3312, 495 / 2, 495 / 2, 218]) / 4025
    probs = triad_class_probabilities(p)
    assert sum(probs.values()) == pytest.approx(1.0)
    observed = {"300": 3, "030T": 9, "120D": 6}
    for cls, published in (("300", 7.7), ("030T", 2.6), ("120D", 4.0)):
        assert round(observed[cls] / (2446 * probs[cls]), 1) == published


def test_triad_probabilities_of_extreme_pair_states():
    assert triad_class_probabilities([0, 0, 0, 1])["300"] == 1.0
    assert triad_class_probabilities([1, 0, 0, 0])["003"] == 1.0
    # one reciprocal pair and two empty pairs
    p = triad_class_probabilities([0, 0, 0, 1], [1, 0, 0, 0], [1, 0, 0, 0])
    assert p["102"] == 1.0


def test_three_cycle_is_four_times_over_represented():
    A = np.zeros((3, 3), bool)
    A[1, 0] = A[2, 1] = A[0, 2] = True  # 0 -> 1 -> 2 -> 0
    r = triad_census_ratios(A)
    assert r["observed"]["030C"] == 1 and r["expected"]["030C"] == pytest.approx(0.25)
    assert r["ratio"]["030C"] == pytest.approx(4.0)
    assert r["ratio"]["030T"] == 0.0


def _brute_force_expected(adj, types):
    """Expected census by enumerating every triple (independent check of the typed null)."""
    n = len(types)

    def freqs(a, b):
        counts = np.zeros(4)
        for i in range(n):
            for j in range(n):
                if i == j or types[i] != a or types[j] != b or (a == b and j < i):
                    continue
                counts[int(adj[j, i]) + 2 * int(adj[i, j])] += 1  # 1: i -> j, 2: j -> i, 3: both
        p = counts / counts.sum()
        if a == b:
            p[1] = p[2] = (p[1] + p[2]) / 2
        return p

    expected = dict.fromkeys(TRIAD_CLASSES, 0.0)
    for trip in itertools.combinations(range(n), 3):
        x, y, z = sorted(trip, key=lambda k: (types[k], k))
        pairs = [(x, y), (x, z), (y, z)]
        dists = [freqs(types[u], types[v]) for u, v in pairs]
        for states in itertools.product(range(4), repeat=3):
            prob = np.prod([d[s] for d, s in zip(dists, states)])
            if prob == 0:
                continue
            g = nx.DiGraph()
            g.add_nodes_from([x, y, z])
            for (u, v), s in zip(pairs, states):
                if s in (1, 3):
                    g.add_edge(u, v)
                if s in (2, 3):
                    g.add_edge(v, u)
            expected[nx.triad_type(g)] += prob
    return expected


def test_typed_null_matches_brute_force_enumeration():
    rng = np.random.default_rng(3)
    types = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    adj = rng.random((9, 9)) < 0.35
    np.fill_diagonal(adj, False)
    r = triad_census_ratios(adj, types)
    brute = _brute_force_expected(adj, types)
    for cls in TRIAD_CLASSES:
        assert r["expected"][cls] == pytest.approx(brute[cls], abs=1e-9)
    assert sum(r["observed"].values()) == math.comb(9, 3)


def test_cross_stream_graph_is_bipartite_so_three_pair_triads_are_undefined():
    rng = np.random.default_rng(4)
    U, V = rng.normal(size=(30, 30)), rng.normal(size=(30, 30))
    adj, types = cross_stream_graph(U, V)
    assert not adj[:30, :30].any() and not adj[30:, 30:].any()
    assert adj[30:, :30].sum() == round(SONG_DENSITY * 900)
    r = triad_census_ratios(adj, types)
    for cls in THREE_PAIR:
        assert r["observed"][cls] == 0 and r["expected"][cls] == 0
        assert math.isnan(r["ratio"][cls])
    assert sum(r["expected"].values()) == pytest.approx(math.comb(60, 3))
    # independent U and V: the observed census is close to the null
    for cls in ("003", "012", "021D", "021U", "021C"):
        assert 0.8 < r["ratio"][cls] < 1.25


def test_random_graph_census_is_close_to_its_null():
    rng = np.random.default_rng(5)
    adj = rng.random((80, 80)) < 0.1
    r = triad_census_ratios(adj)
    for cls in ("003", "012", "102", "021C"):
        assert r["ci_low"][cls] < r["ratio"][cls] < r["ci_high"][cls]
        assert 0.85 < r["ratio"][cls] < 1.15


# --------------------------------------------------------------------------- lognormal
def test_lognormal_weights_give_their_sigma_and_mean_median_ratio():
    rng = np.random.default_rng(6)
    sigma = 0.9355
    w = np.exp(rng.normal(-0.7, sigma, size=50_000))
    fit = lognormal_fit(w)
    assert fit["sigma_ci_low"] < sigma < fit["sigma_ci_high"]
    assert fit["mean_median_ratio"] == pytest.approx(np.exp(sigma**2 / 2), rel=0.03)
    assert fit["ks_distance"] < 0.01


def test_gaussian_weights_give_the_half_normal_values():
    # ln|x| of a normal x has standard deviation pi / sqrt(8); mean/median of |x| is sqrt(2/pi) / z_0.75
    rng = np.random.default_rng(7)
    fit = lognormal_fit(rng.normal(0, 0.3, size=200_000))
    assert fit["n"] == pytest.approx(100_000, rel=0.02)
    assert fit["ln_sigma"] == pytest.approx(np.pi / np.sqrt(8), abs=0.01)
    assert fit["mean_median_ratio"] == pytest.approx(np.sqrt(2 / np.pi) / 0.6744897501960817, rel=0.01)
    assert fit["ks_distance"] > 0.05  # not lognormal


def test_lognormal_fit_ignores_non_positive_and_absent_weights():
    w = np.array([[np.e, -5.0], [0.0, 1 / np.e]])
    assert math.isnan(lognormal_fit(w)["ln_sigma"])  # only two positive weights
    w3 = np.array([np.e, 1.0, 1 / np.e, 100.0])
    fit = lognormal_fit(w3, mask=np.array([True, True, True, False]))
    assert fit["n"] == 3 and fit["ln_sigma"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- loop index
def test_loop_index_of_a_hand_built_feedback_matrix():
    rng = np.random.default_rng(8)
    U = rng.normal(size=(20, 20))  # U[d, a]: a -> d
    looped = (np.abs(U) > np.sort(np.abs(U).ravel())[::-1][round(SONG_DENSITY * 400)]).T
    V = np.where(looped, 3.0, 1.0)  # V[a, d] is 3 exactly where a projects to d
    r = loop_index(V, U)
    assert r["n_looped"] == looped.sum()
    assert r["index"] == pytest.approx(3.0)
    assert r["ci_low"] == pytest.approx(3.0) and r["ci_high"] == pytest.approx(3.0)


def test_loop_index_is_near_one_for_independent_feedback_and_infinite_for_identity():
    rng = np.random.default_rng(9)
    r = loop_index(rng.normal(size=(100, 100)), rng.normal(size=(100, 100)))
    assert r["ci_low"] < 1 < r["ci_high"]
    eye = loop_index(np.eye(20), np.eye(20))  # 20 > 1/p: every diagonal synapse is kept
    assert eye["index"] == math.inf and eye["ci_low"] == math.inf


def test_loop_index_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="transposed shape"):
        loop_index(np.ones((3, 4)), np.ones((3, 4)))


# --------------------------------------------------------------------------- heterosynaptic
def test_balanced_changes_are_perfectly_conserved():
    before = np.zeros((2, 4))
    after = np.array([[1.0, -1.0, 2.0, -2.0], [0.5, 0.5, -1.0, 0.0]])
    r = heterosynaptic_conservation(before, after)
    assert r["c"].tolist() == [0.0, 0.0]
    assert r["index"] == 0.0 and r["exact_reference"]


def test_same_sign_changes_against_the_exact_random_sign_reference():
    # four equal changes: E|s1+s2+s3+s4| = (2*4 + 8*2) / 16 = 1.5, so the reference is 1.5 / 4
    r = heterosynaptic_conservation(np.zeros((3, 4)), np.ones((3, 4)))
    assert r["mean_reference"] == pytest.approx(0.375)
    assert r["index"] == pytest.approx(1 / 0.375)


def test_sampled_reference_for_many_inputs():
    # 20 equal changes: E|sum of 20 signs| = 20 C(20,10) / 2^20
    n = 20
    r = heterosynaptic_conservation(np.zeros((5, n)), -np.ones((5, n)), n_signs=20_000, seed=1)
    assert not r["exact_reference"]
    assert r["mean_reference"] == pytest.approx(math.comb(n, n // 2) / 2**n, abs=0.01)
    assert np.all(r["c"] == -1.0)


def test_unchanged_cells_and_absent_synapses_are_left_out():
    before = np.zeros((3, 3))
    after = np.array([[1.0, -1.0, 5.0], [0.0, 0.0, 0.0], [2.0, 2.0, 0.0]])
    mask = np.array([[True, True, False]] * 3)
    r = heterosynaptic_conservation(before, after, mask)
    assert r["n_changed"] == 2 and r["n_cells"] == 3
    assert r["c"][0] == 0.0 and math.isnan(r["c"][1]) and r["c"][2] == 1.0
    none = heterosynaptic_conservation(before, before)
    assert none["n_changed"] == 0 and math.isnan(none["index"])


# --------------------------------------------------------------------------- model populations
SIZES = [6, 12, 12, 4]


def _records(first, last, masks=None):
    recs = model_statistics(first, last, masks, seed=0)
    return {(r["statistic"], r["population"]): r for r in recs}


def test_model_statistics_cover_every_population_and_statistic():
    w, masks = initial_weights(SIZES, make_preset("four_synapse"), seed=1)
    recs = _records(w, w, masks)
    L = len(SIZES) - 1
    for l in range(1, L):
        assert ("reciprocity_ratio", f"U{l}/V{l}") in recs
        assert ("loop_index_V", f"V{l}") in recs and ("loop_index_B", f"B{l + 1}") in recs
        for cls in TRIAD_CLASSES:
            assert (f"triad_ratio_{cls}", f"U{l}/V{l}") in recs
    for name in w:
        assert ("lognormal_sigma", name) in recs and ("heterosynaptic_conservation", name) in recs
        assert math.isnan(recs[("heterosynaptic_conservation", name)]["value"])  # first == last: no change


def test_assembled_cross_stream_pair_is_reciprocal_and_looped():
    w0, masks = initial_weights(SIZES, make_preset("four_synapse"), seed=2)
    w1 = dict(w0)
    for l in (1, 2):
        w1[f"V{l}"] = 0.5 * w0[f"U{l}"].T  # what the mirror rule converges to
    recs = _records(w0, w1, masks)
    rec = recs[("reciprocity_ratio", "U1/V1")]
    assert rec["value"] == pytest.approx(1 / rec["details"]["density_forward"])
    assert rec["initial"] < rec["value"]
    loop = recs[("loop_index_V", "V1")]
    assert loop["value"] > 1 and loop["ci_low"] > 1
    assert recs[("heterosynaptic_conservation", "V1")]["details"]["n_changed"] == 12
    assert math.isnan(recs[("heterosynaptic_conservation", "U1")]["value"])


def test_identity_cross_stream_pair_is_flagged_and_has_no_weight_distribution():
    w, masks = initial_weights(SIZES, make_preset("kolen_pollack"), seed=3)
    recs = _records(w, w, masks)
    assert recs[("reciprocity_ratio", "U1/V1")]["details"]["diagonal_U_V"]
    assert recs[("reciprocity_ratio", "U1/V1")]["value"] == pytest.approx(SIZES[1])  # n two-way of 1 expected
    assert recs[("loop_index_V", "V1")]["value"] == math.inf
    assert math.isnan(recs[("lognormal_sigma", "U1")]["value"])
    assert recs[("lognormal_sigma", "U1")]["details"]["constant"]
    # with U = V = I the effective feedback is B itself
    assert recs[("loop_index_B", "B2")]["value"] == pytest.approx(loop_index(w["B2"], w["W2"])["index"])
