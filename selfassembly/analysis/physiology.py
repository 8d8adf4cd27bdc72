"""Statistics that hold the simulated circuit against physiology and anatomy.

One function per statistic; each computes on weight matrices exactly what
an experiment measured on a cortical circuit (docs/physiology.md explains
the biology, the computation and the limits of each):

====================================  ==========================================  ==================================
function                              measures                                    experimental counterpart
====================================  ==========================================  ==================================
:func:`reciprocity_ratio`             two-way pairs over the number independent   Song et al. 2005: 4.05x
                                      connections predict
:func:`triad_census_ratios`           triad counts over Song's pair-state null    Song et al. 2005, Fig. 4
:func:`lognormal_fit`                 sigma of ln(positive weights), mean/median  Song et al. 2005 EPSP amplitudes
:func:`loop_index`                    feedback onto "looped" cells over the rest  Siu et al. 2021, Young et al. 2021
:func:`heterosynaptic_conservation`   net change of a cell's input weight over    Royer & Pare 2003
                                      the sum of absolute changes
====================================  ==========================================  ==================================

:func:`model_statistics` applies them to the populations of a run's weight
snapshots (which population answers which experiment is documented there).

Orientation: matrices are in MODEL.md's orientation, rows postsynaptic, so
``A[j, i]`` is the synapse (or connection) i -> j. Connections are counted
after keeping the strongest synapses with
:func:`selfassembly.analysis.threshold.strong_synapses`, at the connection
density the experiment found (:data:`SONG_DENSITY`).
"""
from __future__ import annotations

import math
from functools import lru_cache

import networkx as nx
import numpy as np
from scipy import stats

from .alignment import effective_feedback
from .threshold import strong_synapses

__all__ = [
    "SONG_DENSITY",
    "TRIAD_CLASSES",
    "binomial_interval",
    "reciprocity_ratio",
    "triad_class_probabilities",
    "triad_census_ratios",
    "cross_stream_graph",
    "lognormal_fit",
    "loop_index",
    "heterosynaptic_conservation",
    "model_statistics",
]

#: connection probability of Song et al. 2005 (931 of 8050 tested connections)
SONG_DENSITY = 931 / 8050

#: the 16 triad classes in networkx's (and Song et al.'s) order
TRIAD_CLASSES = tuple(nx.algorithms.triads.TRIAD_NAMES)

_LEVEL = 0.95


def binomial_interval(k, n, level=_LEVEL):
    """Exact (Clopper-Pearson) interval of a binomial proportion ``k / n``.

    Parameters
    ----------
    k, n : int
        Successes and trials, ``0 <= k <= n``, ``n >= 1``.
    level : float
        Coverage, 0.95 by default.

    Returns
    -------
    (low, high) : tuple of float

    Examples
    --------
    >>> lo, hi = binomial_interval(0, 10)
    >>> lo, round(hi, 4)
    (0.0, 0.3085)
    """
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    alpha = 1 - level
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def _ratio(num, den):
    """num / den with 0/0 -> nan and x/0 -> inf, without warnings."""
    if den == 0:
        return float("nan") if num == 0 else float("inf")
    return float(num) / float(den)


def _percentile_interval(samples, level=_LEVEL):
    """Percentile interval of bootstrap samples (nearest rank, so infinities stay exact)."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    low, high = np.quantile(samples, q, method="nearest")
    return float(low), float(high)


# --------------------------------------------------------------------------- reciprocity
def reciprocity_ratio(forward, backward=None, density=SONG_DENSITY):
    """Two-way connected pairs over the number that independent connections predict.

    Experimental counterpart: Song et al. 2005 found 218 two-way pairs among
    4025 tested pairs of L5 pyramidal cells, 4.05 times the 53.9 expected if
    each of the two connections of a pair existed independently with the
    overall connection probability p = 931 / 8050.

    The weights are first thresholded to ``density`` (by ``|weight|``, with
    :func:`~selfassembly.analysis.threshold.strong_synapses`); absent
    synapses (weight 0) are unconnected pairs, as untested-negative pairs
    are in the experiment.

    Parameters
    ----------
    forward : ndarray, shape (n_b, n_a)
        Synapses a -> b (rows postsynaptic). With ``backward`` omitted it
        must be a square recurrent population (n x n), whose unordered pairs
        {i, j}, i != j, are counted as in Song et al.; the diagonal is ignored.
    backward : ndarray, shape (n_a, n_b), optional
        Synapses b -> a between the same two sets of cells (for the model's
        cross-stream pair: ``forward = U_l`` (A_l -> D_l), ``backward = V_l``
        (D_l -> A_l)). Each population is thresholded to ``density`` on its
        own, so a different weight scale of the two does not bias the count.
    density : float
        Fraction of possible connections kept (default: Song's p).

    Returns
    -------
    dict
        ``ratio`` (observed / expected two-way pairs), ``two_way``,
        ``expected`` (pairs x p_forward x p_backward, with the densities
        actually reached), ``pairs``, ``density_forward``,
        ``density_backward``, and ``ci_low``/``ci_high``: the exact binomial
        95% interval of the two-way fraction, divided by the expected one
        (the densities are taken as given, as in Song et al.'s null).

    Examples
    --------
    Two cells connected both ways, two more connected one way:

    >>> A = np.zeros((4, 4)); A[1, 0] = A[0, 1] = A[3, 2] = 1.0
    >>> r = reciprocity_ratio(A, density=3 / 12)
    >>> r["two_way"], r["pairs"], round(r["ratio"], 3)
    (1, 6, 2.667)
    """
    forward = np.asarray(forward, dtype=float)
    if backward is None:
        n = _square(forward, "forward")
        off = ~np.eye(n, dtype=bool)
        strong = strong_synapses(forward, density=density, mask=off)
        pairs = n * (n - 1) // 2
        two_way = int(np.sum(strong & strong.T) // 2)
        d_f = d_b = float(strong.sum()) / (n * (n - 1)) if n > 1 else float("nan")
    else:
        backward = np.asarray(backward, dtype=float)
        if backward.shape != forward.T.shape:
            raise ValueError(f"backward must have the transposed shape of forward {forward.T.shape}, got {backward.shape}")
        s_f = strong_synapses(forward, density=density)
        s_b = strong_synapses(backward, density=density)
        pairs = forward.size
        two_way = int(np.sum(s_f.T & s_b))
        d_f, d_b = float(s_f.mean()), float(s_b.mean())
    expected_fraction = d_f * d_b
    expected = pairs * expected_fraction
    out = {"ratio": _ratio(two_way, expected), "two_way": two_way, "expected": float(expected), "pairs": int(pairs),
           "density_forward": d_f, "density_backward": d_b, "density_target": float(density)}
    if pairs >= 1 and expected_fraction > 0:
        lo, hi = binomial_interval(two_way, pairs)
        out["ci_low"], out["ci_high"] = lo / expected_fraction, hi / expected_fraction
    else:
        out["ci_low"] = out["ci_high"] = float("nan")
    return out


def _square(a, name):
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square matrix (one recurrent population), got shape {a.shape}")
    return a.shape[0]


# --------------------------------------------------------------------------- triads
@lru_cache(maxsize=1)
def _triad_table():
    """Class index of each of the 64 joint states of a triple's three pairs.

    A pair (x, y), x < y, is in state 0 (unconnected), 1 (x -> y only),
    2 (y -> x only) or 3 (both). Index ``[s01, s02, s12]``.
    """
    table = np.zeros((4, 4, 4), dtype=int)
    for s01 in range(4):
        for s02 in range(4):
            for s12 in range(4):
                g = nx.DiGraph()
                g.add_nodes_from(range(3))
                for (x, y), s in (((0, 1), s01), ((0, 2), s02), ((1, 2), s12)):
                    if s in (1, 3):
                        g.add_edge(x, y)
                    if s in (2, 3):
                        g.add_edge(y, x)
                census = nx.triadic_census(g)
                table[s01, s02, s12] = TRIAD_CLASSES.index(next(c for c, v in census.items() if v))
    return table


def triad_class_probabilities(p01, p02=None, p12=None):
    """Probability of each triad class when a triple's three pairs take states independently.

    This is the null of Song et al. 2005: each pair of the triple
    independently takes the observed pair-state frequencies.

    Parameters
    ----------
    p01, p02, p12 : array_like of 4 floats
        State probabilities of the pairs (0, 1), (0, 2), (1, 2) of the triple,
        in the order (unconnected, lower -> higher only, higher -> lower only,
        both ways). ``p02`` and ``p12`` default to ``p01`` (a homogeneous
        population, as in the experiment).

    Returns
    -------
    dict
        Triad class name (:data:`TRIAD_CLASSES`) -> probability.

    Examples
    --------
    Every pair connected one way, each direction equally likely: a triple is
    a 3-cycle with probability 2/8 and transitive with probability 6/8.

    >>> p = triad_class_probabilities([0, 0.5, 0.5, 0])
    >>> p["030C"], p["030T"]
    (0.25, 0.75)
    """
    p01 = _pair_probs(p01)
    p02 = p01 if p02 is None else _pair_probs(p02)
    p12 = p01 if p12 is None else _pair_probs(p12)
    joint = p01[:, None, None] * p02[None, :, None] * p12[None, None, :]
    probs = np.bincount(_triad_table().ravel(), weights=joint.ravel(), minlength=len(TRIAD_CLASSES))
    return {c: float(p) for c, p in zip(TRIAD_CLASSES, probs)}


def _pair_probs(p):
    p = np.asarray(p, dtype=float)
    if p.shape != (4,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"pair-state probabilities must be 4 non-negative numbers summing to 1, got {p.tolist()}")
    return p


def _pair_state_probs(adjacency, idx_a, idx_b):
    """State frequencies of the pairs between node sets a and b (oriented a -> b), or within a if a is b."""
    if idx_a is idx_b:
        sub = adjacency[np.ix_(idx_a, idx_a)]
        n = len(idx_a)
        pairs = n * (n - 1) // 2
        if pairs == 0:
            return None
        iu = np.triu_indices(n, 1)
        fwd, bwd = sub.T[iu], sub[iu]  # sub.T[i, j] = sub[j, i] is i -> j
        both = int(np.sum(fwd & bwd))
        one = int(np.sum(fwd ^ bwd))
        return np.array([pairs - both - one, one / 2, one / 2, both], dtype=float) / pairs
    fwd = adjacency[np.ix_(idx_b, idx_a)].T  # [i, j]: a_i -> b_j
    bwd = adjacency[np.ix_(idx_a, idx_b)]    # [i, j]: b_j -> a_i
    pairs = fwd.size
    if pairs == 0:
        return None
    counts = [np.sum(~fwd & ~bwd), np.sum(fwd & ~bwd), np.sum(~fwd & bwd), np.sum(fwd & bwd)]
    return np.array(counts, dtype=float) / pairs


def _triples(counts, types):
    """Number of node triples with the given (sorted) type indices."""
    out = 1
    for t in set(types):
        out *= math.comb(counts[t], types.count(t))
    return out


def triad_census_ratios(adjacency, types=None):
    """Observed triad census over Song et al.'s pair-state null, per triad class.

    Experimental counterpart: Song et al. 2005, Fig. 4 (2446 triplets of L5
    pyramidal cells). Their null model gives each pair of a triplet,
    independently, the observed frequencies of the pair states (unconnected,
    one-way in either direction, two-way); clustered triads (e.g. 300, all
    six connections) were several times over-represented.

    Parameters
    ----------
    adjacency : ndarray of bool, shape (N, N)
        Connections in MODEL.md orientation: ``adjacency[j, i]`` is i -> j.
        The diagonal is ignored.
    types : array_like, shape (N,), optional
        Cell type of each node. Pair-state frequencies are estimated
        separately for each (unordered) pair of types, oriented from the
        lower to the higher type; within one type the two one-way directions
        share their frequency equally, as in Song et al. A type pair with no
        connection at all (e.g. A-A in the model, whose circuit graph is
        bipartite) stays unconnected under the null too, so triad classes
        that need it have expected count 0 and ratio NaN. Default: one type.

    Returns
    -------
    dict
        ``observed``, ``expected``, ``ratio``, ``ci_low``, ``ci_high``: dicts
        keyed by triad class; ``triples`` (total); ``pair_states``: the
        frequencies used, keyed ``"s-t"`` by type pair. The interval is the
        exact binomial 95% interval of the class's share of all triples,
        divided by the null's share (triples share pairs, so this interval is
        somewhat too narrow; Song et al.'s triplets share pairs too).

    Examples
    --------
    A directed 3-cycle: every pair is one-way, so the null makes a cycle with
    probability 1/4 and the observed cycle is 4 times over-represented.

    >>> A = np.zeros((3, 3), bool); A[1, 0] = A[2, 1] = A[0, 2] = True
    >>> triad_census_ratios(A)["ratio"]["030C"]
    4.0
    """
    adj = np.array(adjacency, dtype=bool)
    n = _square(adj, "adjacency")
    np.fill_diagonal(adj, False)
    labels = np.zeros(n, dtype=int) if types is None else np.asarray(types)
    if labels.shape != (n,):
        raise ValueError(f"types must give one label per node ({n}), got shape {labels.shape}")
    kinds = sorted(set(labels.tolist()))
    index = {k: np.flatnonzero(labels == k) for k in kinds}
    probs = {}
    for a_i, a in enumerate(kinds):
        for b in kinds[a_i:]:
            probs[(a, b)] = _pair_state_probs(adj, index[a], index[a] if a == b else index[b])
    counts = {k: len(v) for k, v in index.items()}
    expected = np.zeros(len(TRIAD_CLASSES))
    for i, a in enumerate(kinds):
        for j, b in enumerate(kinds[i:], i):
            for c in kinds[j:]:
                number = _triples(counts, [a, b, c])
                if number == 0:
                    continue
                p = triad_class_probabilities(probs[(a, b)], probs[(a, c)], probs[(b, c)])
                expected += number * np.array([p[k] for k in TRIAD_CLASSES])
    observed = nx.triadic_census(nx.from_numpy_array(adj.T.astype(np.int8), create_using=nx.DiGraph))
    total = math.comb(n, 3)
    out = {"observed": {}, "expected": {}, "ratio": {}, "ci_low": {}, "ci_high": {}, "triples": total,
           "pair_states": {f"{a}-{b}": (p.tolist() if p is not None else None) for (a, b), p in probs.items()}}
    for k, cls in enumerate(TRIAD_CLASSES):
        obs, exp = int(observed[cls]), float(expected[k])
        out["observed"][cls], out["expected"][cls] = obs, exp
        out["ratio"][cls] = _ratio(obs, exp) if exp > 1e-12 * max(total, 1) else float("nan")
        if total and exp > 1e-12 * total:
            lo, hi = binomial_interval(obs, total)
            out["ci_low"][cls], out["ci_high"][cls] = lo * total / exp, hi * total / exp
        else:
            out["ci_low"][cls] = out["ci_high"][cls] = float("nan")
    return out


def cross_stream_graph(U, V, density=SONG_DENSITY):
    """Connection graph of A_l and D_l through the cross-stream pair U_l, V_l.

    Parameters
    ----------
    U : ndarray, shape (n, n)
        A_l -> D_l, ``U[d, a]``.
    V : ndarray, shape (n, n)
        D_l -> A_l, ``V[a, d]``.
    density : float
        Each population is thresholded to this density on its own.

    Returns
    -------
    adjacency : ndarray of bool, shape (2n, 2n)
        Nodes 0..n-1 are A_l cells, n..2n-1 are D_l cells; MODEL.md
        orientation (``adjacency[j, i]`` is i -> j).
    types : ndarray of str, shape (2n,)
        ``"A"`` or ``"D"``.
    """
    U, V = np.asarray(U, dtype=float), np.asarray(V, dtype=float)
    n = _square(U, "U")
    if V.shape != (n, n):
        raise ValueError(f"V must have the shape of U^T {(n, n)}, got {V.shape}")
    adj = np.zeros((2 * n, 2 * n), dtype=bool)
    adj[n:, :n] = strong_synapses(U, density=density)  # rows D (post), cols A (pre)
    adj[:n, n:] = strong_synapses(V, density=density)  # rows A (post), cols D (pre)
    return adj, np.array(["A"] * n + ["D"] * n)


# --------------------------------------------------------------------------- lognormal
def lognormal_fit(weights, mask=None):
    """Lognormal fit of the positive weights: sigma in ln-space and the mean/median ratio.

    Experimental counterpart: Song et al. 2005 fitted the EPSP amplitudes of
    connected L5 pyramidal pairs with a lognormal, ln-space sigma 0.9355
    (variance 0.8752), mean 0.77 mV and median 0.50 mV (ratio 1.54). Both
    compared numbers are scale-free; the ln-space mean depends on the
    model's arbitrary weight units and is reported but never compared.

    Parameters
    ----------
    weights : ndarray
    mask : ndarray of bool, optional
        Synapses that exist; absent ones are never counted.

    Returns
    -------
    dict
        ``n`` (positive weights), ``ln_mean``, ``ln_sigma`` (sample standard
        deviation of ln w), ``sigma_ci_low``/``sigma_ci_high`` (chi-square
        95% interval for a normal ln w), ``mean_median_ratio`` (empirical
        mean / median of the positive weights), ``lognormal_mean_median``
        (exp(sigma^2 / 2), what a lognormal with that sigma would give) and
        ``ks_distance`` (Kolmogorov-Smirnov distance of the standardised ln w
        from a normal: large values mean the weights are not lognormal).
        Fewer than 3 positive weights give NaN.

    Examples
    --------
    >>> w = np.exp(np.array([-1.0, 0.0, 1.0]))
    >>> fit = lognormal_fit(np.append(w, -2.0))
    >>> fit["n"], fit["ln_sigma"], round(fit["mean_median_ratio"], 4)
    (3, 1.0, 1.3621)
    """
    w = np.asarray(weights, dtype=float)
    if mask is not None:
        w = w[np.asarray(mask, dtype=bool)]
    w = w[np.isfinite(w) & (w > 0)].ravel()
    n = int(w.size)
    nan = float("nan")
    if n < 3:
        return {"n": n, "ln_mean": nan, "ln_sigma": nan, "sigma_ci_low": nan, "sigma_ci_high": nan,
                "mean_median_ratio": nan, "lognormal_mean_median": nan, "ks_distance": nan}
    ln = np.log(w)
    sigma = float(np.std(ln, ddof=1))
    lo, hi = _sigma_interval(sigma, n)
    ks = float(stats.kstest((ln - ln.mean()) / sigma, "norm").statistic) if sigma > 0 else nan
    return {"n": n, "ln_mean": float(ln.mean()), "ln_sigma": sigma, "sigma_ci_low": lo, "sigma_ci_high": hi,
            "mean_median_ratio": float(w.mean() / np.median(w)), "lognormal_mean_median": float(np.exp(sigma**2 / 2)),
            "ks_distance": ks}


def _sigma_interval(sigma, n, level=_LEVEL):
    """Chi-square interval of a normal standard deviation estimated from n samples."""
    dof = n - 1
    a = (1 - level) / 2
    return (float(sigma * np.sqrt(dof / stats.chi2.ppf(1 - a, dof))),
            float(sigma * np.sqrt(dof / stats.chi2.ppf(a, dof))))


# --------------------------------------------------------------------------- loop index
def loop_index(feedback, forward, density=SONG_DENSITY, n_boot=1000, seed=0):
    """Mean feedback weight onto "looped" cells over the mean onto the other cells.

    Experimental counterpart: Siu et al. 2021 (macaque V1 cells that project
    to V2 get monosynaptic feedback from V2 specifically) and Young et al.
    2021 (mouse: feedforward and feedback inputs are stronger onto cells that
    project back to the input's source, in L5/6 but not L2/3). Neither gives
    a ratio; both say it is above 1.

    A target cell i is *looped* with a feedback source cell j if i projects
    to j: ``forward[j, i]`` is among the strongest synapses (thresholded to
    ``density``). The index is mean ``|feedback[i, j]|`` over looped (i, j) over
    the mean over all other (i, j). 1 means feedback ignores the loops.

    Parameters
    ----------
    feedback : ndarray, shape (n_t, n_s)
        Feedback synapses source j -> target i (rows postsynaptic). Model:
        ``V_l`` (D_l -> A_l), or the effective ``V_l B_{l+1} U_{l+1}``.
    forward : ndarray, shape (n_s, n_t)
        The targets' projections to the sources, i -> j. Model: ``U_l``
        (A_l -> D_l), or ``W_{l+1}``.
    density : float
        Fraction of ``forward`` synapses counted as projections.
    n_boot : int
        Bootstrap resamples of the source cells for the 95% interval.
    seed : int

    Returns
    -------
    dict
        ``index``, ``ci_low``, ``ci_high`` (percentile bootstrap over source
        cells), ``mean_looped``, ``mean_other``, ``n_looped``, ``n_other``.
        ``inf`` where every other weight is 0 (e.g. U = V = I), NaN where a
        group is empty.

    Examples
    --------
    >>> V = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> loop_index(V, np.eye(2), density=0.5)["index"]
    2.0
    """
    F = np.abs(np.asarray(feedback, dtype=float))
    G = np.asarray(forward, dtype=float)
    if G.shape != F.T.shape:
        raise ValueError(f"forward must have the transposed shape of feedback {F.T.shape}, got {G.shape}")
    looped = strong_synapses(G, density=density).T
    sums_l = np.sum(F * looped, axis=0)
    cnt_l = np.sum(looped, axis=0)
    sums_o = np.sum(F * ~looped, axis=0)
    cnt_o = np.sum(~looped, axis=0)
    mean_l = _ratio(sums_l.sum(), cnt_l.sum())
    mean_o = _ratio(sums_o.sum(), cnt_o.sum())
    out = {"index": _index(sums_l.sum(), cnt_l.sum(), sums_o.sum(), cnt_o.sum()), "mean_looped": mean_l,
           "mean_other": mean_o, "n_looped": int(cnt_l.sum()), "n_other": int(cnt_o.sum())}
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, F.shape[1], size=(int(n_boot), F.shape[1]))
    boot = [_index(sums_l[p].sum(), cnt_l[p].sum(), sums_o[p].sum(), cnt_o[p].sum()) for p in pick]
    out["ci_low"], out["ci_high"] = _percentile_interval(boot)
    return out


def _index(sum_l, cnt_l, sum_o, cnt_o):
    if cnt_l == 0 or cnt_o == 0:
        return float("nan")
    return _ratio(sum_l / cnt_l, sum_o / cnt_o)


# --------------------------------------------------------------------------- heterosynaptic
_EXACT_SIGNS = 12


def heterosynaptic_conservation(before, after, mask=None, n_signs=2000, n_boot=1000, seed=0):
    """How well each cell's total input weight is conserved over a training interval.

    Experimental counterpart: Royer & Pare 2003, where potentiation or
    depression of some inputs came with opposite heterosynaptic changes at
    the others, so that a cell's total synaptic weight was roughly conserved.
    The paper gives no index; the comparison is one-sided (below 1).

    Per postsynaptic cell i, ``c_i = sum_j dw_ij / sum_j |dw_ij|``, in
    [-1, 1]: 0 when potentiation and depression cancel exactly, +-1 when all
    of the cell's synapses changed the same way. Because ``|c_i|`` is small for
    many inputs even when signs are random, it is normalised by the value
    expected if the same ``|dw_ij|`` had independent random signs,
    ``r_i = E|sum_j s_j |dw_ij|| / sum_j |dw_ij|`` (exact over all sign
    patterns for up to 12 inputs, else the mean over ``n_signs`` random
    patterns). The index is ``mean_i |c_i| / mean_i r_i``: below 1 the
    changes compensate each other more than chance (conservation), above 1
    they share a sign (net potentiation or depression, as with purely
    homosynaptic plasticity).

    Parameters
    ----------
    before, after : ndarray, shape (n_post, n_pre)
        Weights at the start and end of the interval.
    mask : ndarray of bool, optional
        Synapses that exist.
    n_signs, n_boot, seed : int
        Random sign patterns (beyond 12 inputs), bootstrap resamples of the
        cells for the 95% interval, and the seed of both.

    Returns
    -------
    dict
        ``index``, ``ci_low``, ``ci_high`` (bootstrap over cells),
        ``mean_abs_c``, ``mean_reference``, ``c`` (per cell, NaN for cells
        whose inputs did not change), ``n_cells``, ``n_changed``,
        ``exact_reference``. With no change at all, ``index`` is NaN.

    Examples
    --------
    A cell whose four inputs all grew by 1 (no conservation):

    >>> r = heterosynaptic_conservation(np.zeros((1, 4)), np.ones((1, 4)))
    >>> r["c"].tolist(), r["mean_reference"], round(r["index"], 4)
    ([1.0], 0.375, 2.6667)
    """
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if before.shape != after.shape or before.ndim != 2:
        raise ValueError(f"before and after must be matrices of one shape, got {before.shape} and {after.shape}")
    delta = after - before
    if mask is not None:
        delta = np.where(np.asarray(mask, dtype=bool), delta, 0.0)
    size = np.abs(delta)
    total_abs = size.sum(axis=1)
    scale = total_abs.max() if total_abs.size else 0.0
    changed = total_abs > 1e-12 * scale if scale > 0 else np.zeros(len(total_abs), bool)
    c = np.full(len(total_abs), np.nan)
    c[changed] = delta[changed].sum(axis=1) / total_abs[changed]
    out = {"c": c, "n_cells": int(len(c)), "n_changed": int(changed.sum()),
           "exact_reference": delta.shape[1] <= _EXACT_SIGNS}
    if not changed.any():
        nan = float("nan")
        out.update(index=nan, ci_low=nan, ci_high=nan, mean_abs_c=nan, mean_reference=nan)
        return out
    signs = _sign_patterns(delta.shape[1], n_signs, seed)
    ref = np.mean(np.abs(signs @ size[changed].T), axis=0) / total_abs[changed]
    abs_c = np.abs(c[changed])
    out.update(index=float(abs_c.mean() / ref.mean()), mean_abs_c=float(abs_c.mean()),
               mean_reference=float(ref.mean()))
    rng = np.random.default_rng([int(seed), 1])
    pick = rng.integers(0, len(ref), size=(int(n_boot), len(ref)))
    out["ci_low"], out["ci_high"] = _percentile_interval(abs_c[pick].mean(axis=1) / ref[pick].mean(axis=1))
    return out


def _sign_patterns(n, n_signs, seed):
    """All 2^n sign patterns (n <= 12) or ``n_signs`` random ones, as rows of +-1."""
    if n <= _EXACT_SIGNS:
        bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
        return 1.0 - 2.0 * bits
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(int(n_signs), n))


# --------------------------------------------------------------------------- model populations
def _n_layers(weights):
    return sum(1 for k in weights if k.startswith("W"))


def model_statistics(first, last, masks=None, density=SONG_DENSITY, seed=0):
    """Every statistic on the populations of one run, at its last and first snapshot.

    Which model populations answer which experiment (docs/physiology.md):

    * ``reciprocity_ratio`` and ``triad_ratio_<class>``: the cross-stream
      pair, cells A_l and D_l connected by U_l (A -> D) and V_l (D -> A), for
      l = 1 .. L-1 (population ``"U{l}/V{l}"``). It is the only place in the
      circuit where two cells can be connected both ways; the circuit has no
      recurrent population, and its graph is bipartite, so triads that need
      three connected pairs (030T, 030C, 120D/U/C, 210, 300) cannot occur.
    * ``lognormal_sigma``, ``lognormal_mean_median_ratio``: every population
      (NaN where all positive weights are equal, as for U = V = I).
    * ``loop_index_V``: V_l against U_l, l = 1 .. L-1 (population ``"V{l}"``).
    * ``loop_index_B``: feedback from layer l+1 onto A_l through the
      descending stream, ``M_{l+1} = V_l B_{l+1} U_{l+1}``, against W_{l+1}
      (population ``"B{l+1}"``). With U = V = I this is B_{l+1} itself; with
      random U and V the index correspondence of a_i and d_i means nothing,
      and M is what reaches the ascending cells.
    * ``heterosynaptic_conservation``: every population, from the first to
      the last snapshot (populations that did not change give NaN).

    Parameters
    ----------
    first, last : dict of str -> ndarray
        Weights of the first and last snapshot (MODEL.md orientation).
    masks : dict of str -> ndarray of bool, optional
    density : float
        Connection density for every thresholding (default: Song's p).
    seed : int
        Seed of the bootstrap and sign resampling.

    Returns
    -------
    list of dict
        One record per (statistic, population): ``statistic``,
        ``population``, ``value``, ``ci_low``, ``ci_high``, ``initial`` (the
        value at the first snapshot, where defined), ``details``.
    """
    masks = masks or {}
    L = _n_layers(last)
    records = []
    for l in range(1, L):
        records += _cross_stream_records(first, last, l, density)
        records += _loop_records(first, last, l, density, seed)
    for name in sorted(last, key=_population_order):
        records += _lognormal_records(first[name], last[name], masks.get(name), name)
        records.append(_heterosynaptic_record(first[name], last[name], masks.get(name), name, seed))
    return records


def _population_order(name):
    return ("WBUV".index(name[0]), int(name[1:]))


def _record(statistic, population, value, ci=(None, None), initial=None, details=None):
    return {"statistic": statistic, "population": population, "value": value, "ci_low": ci[0], "ci_high": ci[1],
            "initial": initial, "details": details or {}}


def _is_identity_like(a):
    a = np.asarray(a)
    return a.shape[0] == a.shape[1] and not np.any(a - np.diag(np.diag(a)))


def _cross_stream_records(first, last, l, density):
    U, V = last[f"U{l}"], last[f"V{l}"]
    pop = f"U{l}/V{l}"
    structured = _is_identity_like(U) and _is_identity_like(V)
    rec = reciprocity_ratio(U, V, density)
    rec0 = reciprocity_ratio(first[f"U{l}"], first[f"V{l}"], density)
    details = {k: rec[k] for k in ("two_way", "expected", "pairs", "density_forward", "density_backward")}
    details["diagonal_U_V"] = structured
    out = [_record("reciprocity_ratio", pop, rec["ratio"], (rec["ci_low"], rec["ci_high"]), rec0["ratio"], details)]
    tri = triad_census_ratios(*cross_stream_graph(U, V, density))
    unchanged = np.array_equal(U, first[f"U{l}"]) and np.array_equal(V, first[f"V{l}"])
    tri0 = tri if unchanged else triad_census_ratios(*cross_stream_graph(first[f"U{l}"], first[f"V{l}"], density))
    for cls in TRIAD_CLASSES:
        out.append(_record(f"triad_ratio_{cls}", pop, tri["ratio"][cls], (tri["ci_low"][cls], tri["ci_high"][cls]),
                           tri0["ratio"][cls], {"observed": tri["observed"][cls], "expected": tri["expected"][cls],
                                                "triples": tri["triples"]}))
    return out


def _loop_records(first, last, l, density, seed):
    out = []
    for stat, pop, fb, fw in (("loop_index_V", f"V{l}", lambda w: w[f"V{l}"], lambda w: w[f"U{l}"]),
                              ("loop_index_B", f"B{l + 1}", lambda w: effective_feedback(w, l),
                               lambda w: w[f"W{l + 1}"])):
        r = loop_index(fb(last), fw(last), density, seed=seed)
        r0 = loop_index(fb(first), fw(first), density, n_boot=0, seed=seed)
        details = {k: r[k] for k in ("mean_looped", "mean_other", "n_looped", "n_other")}
        details["diagonal_U_V"] = _is_identity_like(last[f"U{l}"]) and _is_identity_like(last[f"V{l}"])
        out.append(_record(stat, pop, r["index"], (r["ci_low"], r["ci_high"]), r0["index"], details))
    return out


def _lognormal_records(w0, w1, mask, name):
    fit, fit0 = lognormal_fit(w1, mask), lognormal_fit(w0, mask)
    details = {k: fit[k] for k in ("n", "ln_mean", "lognormal_mean_median", "ks_distance")}
    # all positive weights equal (U = V = I): there is no distribution to fit, so no value
    details["constant"] = bool(fit["ln_sigma"] == 0)
    nan = float("nan")
    sigma, ratio = (nan, nan) if details["constant"] else (fit["ln_sigma"], fit["mean_median_ratio"])
    sigma0, ratio0 = (nan, nan) if fit0["ln_sigma"] == 0 else (fit0["ln_sigma"], fit0["mean_median_ratio"])
    ci = (None, None) if details["constant"] else (fit["sigma_ci_low"], fit["sigma_ci_high"])
    return [_record("lognormal_sigma", name, sigma, ci, sigma0, details),
            _record("lognormal_mean_median_ratio", name, ratio, (None, None), ratio0, details)]


def _heterosynaptic_record(w0, w1, mask, name, seed):
    r = heterosynaptic_conservation(w0, w1, mask, seed=seed)
    details = {k: r[k] for k in ("mean_abs_c", "mean_reference", "n_cells", "n_changed", "exact_reference")}
    return _record("heterosynaptic_conservation", name, r["index"], (r["ci_low"], r["ci_high"]), None, details)
