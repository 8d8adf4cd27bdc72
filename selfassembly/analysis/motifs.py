"""Census of the four-synapse motif, with a degree-preserving null model.

The motif (MODEL.md, "The four synapse populations") is the closed loop

    a_i --W_{l+1}--> a_j --U_{l+1}--> d_k --B_{l+1}--> d_m --V_l--> a_i

through A_l, A_{l+1}, D_{l+1} and D_l, for l = 1 .. L-1. Loops are indexed
here by the upper layer ``l + 1`` (2 .. L), like
:func:`~selfassembly.analysis.alignment.forward_feedback_angles`.

Definition used
---------------
A loop is *any* closed 4-cycle of the four-partite graph
A_l -> A_{l+1} -> D_{l+1} -> D_l -> A_l made of strong synapses: d_k is any
D_{l+1} cell that a_j reaches through U (U need not be the identity) and d_m
any D_l cell that reaches a_i through V. With 0/1 adjacency matrices in
MODEL.md's orientation (rows are postsynaptic: ``W[j, i]`` is a_i -> a_j,
``U[k, j]`` is a_j -> d_k, ``B[m, k]`` is d_k -> d_m, ``V[i, m]`` is
d_m -> a_i) the number of loops is

.. math:: N_{l+1} = \\sum_{i,j,k,m} V_{im} B_{mk} U_{kj} W_{ji}
          = \\operatorname{tr}(V_l B_{l+1} U_{l+1} W_{l+1}),

and the weighted (sign-aware) census is the same trace with the signed
weights of the strong synapses, i.e. the sum over loops of the product of
their four weights. With every synapse kept this is the Frobenius product
:math:`\\langle W_{l+1}^T, M_{l+1}\\rangle_F` of the forward weights and the
effective feedback ``M_{l+1} = V_l B_{l+1} U_{l+1}``, whose normalised
version is the cosine of the forward-feedback angle.

The number of loops through one W synapse a_i -> a_j is ``(V B U)[i, j]``
(0/1 matrices), so the fraction of strong W synapses that close at least one
loop is read from the same products.

Null model
----------
Each of the four strong populations is rewired independently by
degree-preserving double edge swaps (a -> b, c -> d becomes a -> d, c -> b
when neither new synapse exists), which keeps every cell's in- and
out-degree within that population, and the population's strong weights are
shuffled over its new edges (same weight distribution). The statistics of
the census over ``n_null`` such circuits give the over-representation ratio
``observed / mean`` and the z-score ``(observed - mean) / std``.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from .threshold import strong_synapses

__all__ = [
    "loop_names",
    "strong_matrices",
    "loop_count",
    "loops_per_w_synapse",
    "motif_census",
    "brute_force_census",
    "rewire",
    "null_census",
    "motif_statistics",
]


def _n_layers(weights):
    L = max((int(k[1:]) for k in weights if k.startswith("W") and k[1:].isdigit()), default=0)
    if L == 0:
        raise ValueError("weights hold no W population; expected keys W1 .. WL, B2 .. BL, U1 .. UL, V1 .. V(L-1)")
    return L


def loop_names(l):
    """Populations of the loop through A_{l-1}, A_l, D_l, D_{l-1} (``l`` = upper layer, >= 2).

    >>> loop_names(2)
    {'W': 'W2', 'U': 'U2', 'B': 'B2', 'V': 'V1'}
    """
    if int(l) < 2:
        raise ValueError(f"four-synapse loops close between layers l-1 and l for l >= 2, got l = {l}")
    l = int(l)
    return {"W": f"W{l}", "U": f"U{l}", "B": f"B{l}", "V": f"V{l - 1}"}


def _check_shapes(weights, l):
    n = loop_names(l)
    try:
        W, U, B, V = (np.shape(weights[n[k]]) for k in "WUBV")
    except KeyError as exc:
        raise ValueError(f"the loop of layer {l} needs population {exc.args[0]}; weights hold {sorted(weights)}") from None
    n_lo, n_hi = W[1], W[0]
    want = {n["W"]: (n_hi, n_lo), n["U"]: (n_hi, n_hi), n["B"]: (n_lo, n_hi), n["V"]: (n_lo, n_lo)}
    for name, shape in zip((n[k] for k in "WUBV"), (W, U, B, V)):
        if tuple(shape) != want[name]:
            raise ValueError(
                f"population {name} has shape {tuple(shape)}, but {n['W']} of shape {W} needs {want[name]} "
                "(rows are postsynaptic cells, MODEL.md orientation)"
            )


def strong_matrices(weights, threshold=None, density=None, masks=None, names=None):
    """Strong synapses of each population as sparse matrices of their signed weights.

    Parameters
    ----------
    weights : dict of str -> ndarray
        Weights in MODEL.md orientation (rows postsynaptic).
    threshold : float, optional
        Keep synapses with ``|w| > threshold``.
    density : float in (0, 1], optional
        Keep this fraction of each population's possible synapses, the
        strongest ones (a threshold per population, so that populations of
        different weight scales are thresholded alike). Give exactly one of
        ``threshold`` and ``density``.
    masks : dict of str -> ndarray of bool, optional
        Synapses that exist; absent ones never count.
    names : list of str, optional
        Populations to threshold; default all of ``weights``.

    Returns
    -------
    dict of str -> scipy.sparse.csr_matrix
        Entries are the weights of the strong synapses; all others are absent.

    Raises
    ------
    ValueError
        If the threshold is invalid, or leaves a population with no synapse.

    Examples
    --------
    >>> s = strong_matrices({"W1": np.array([[0.1, -0.5], [0.3, 0.0]])}, threshold=0.2)
    >>> s["W1"].toarray()
    array([[ 0. , -0.5],
           [ 0.3,  0. ]])
    """
    masks = masks or {}
    out = {}
    for name in names if names is not None else list(weights):
        w = np.asarray(weights[name], dtype=float)
        keep = strong_synapses(w, threshold=threshold, density=density, mask=masks.get(name))
        if not keep.any():
            mask = masks.get(name)
            mags = np.abs(w[np.asarray(mask, bool)]) if mask is not None else np.abs(w)
            largest = float(mags.max()) if mags.size else 0.0
            how = f"threshold {threshold}" if threshold is not None else f"density {density}"
            fix = (
                f"use a threshold below {largest:.4g} (its largest |weight|), or give a density"
                if threshold is not None
                else "every synapse of it weighs 0"
            )
            raise InputError(f"{how} leaves no strong synapse in population {name}; {fix}")
        out[name] = sp.csr_matrix(np.where(keep, w, 0.0))
    return out


def _as_csr(m, weighted):
    m = sp.csr_matrix(m, dtype=float)
    m.eliminate_zeros()
    if not weighted:
        m = m.copy()
        m.data = np.ones_like(m.data)
    return m


def _flops(a, b):
    """Multiply-adds of the sparse product a @ b."""
    return int(np.dot(np.diff(a.tocsc().indptr), np.diff(b.indptr)))


def loop_count(W, U, B, V, weighted=False):
    """Number (or weighted sum) of closed loops ``tr(V B U W)`` of one layer pair.

    Parameters
    ----------
    W, U, B, V : ndarray or sparse matrix
        ``W_{l+1}`` (n_{l+1}, n_l), ``U_{l+1}`` (n_{l+1}, n_{l+1}),
        ``B_{l+1}`` (n_l, n_{l+1}), ``V_l`` (n_l, n_l); nonzero entries are
        synapses.
    weighted : bool
        False: count loops (entries taken as 0/1). True: sum over loops of the
        product of the four signed weights.

    Returns
    -------
    int or float

    Notes
    -----
    ``tr(V B U W) = sum((V B) * (U W)^T) = sum((B U) * (W V)^T)``; the
    pairing with fewer multiply-adds is used, so no n x n x n product is
    ever formed densely.

    Examples
    --------
    With U = V = I every reciprocal pair W[j, i], B[i, j] closes one loop:

    >>> W = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> loop_count(W, np.eye(2), W.T, np.eye(2))
    3
    >>> loop_count(W, np.eye(2), -W.T, np.eye(2), weighted=True)
    -3.0
    """
    W, U, B, V = (_as_csr(m, weighted) for m in (W, U, B, V))
    if W.shape[0] != U.shape[1] or U.shape[0] != B.shape[1] or B.shape[0] != V.shape[1] or V.shape[0] != W.shape[1]:
        raise ValueError(
            f"shapes W {W.shape}, U {U.shape}, B {B.shape}, V {V.shape} do not close a loop "
            "(need W (n2, n1), U (n2, n2), B (n1, n2), V (n1, n1))"
        )
    if _flops(V, B) + _flops(U, W) <= _flops(B, U) + _flops(W, V):
        left, right = V @ B, U @ W
    else:
        left, right = B @ U, W @ V
    total = left.multiply(right.T.tocsr()).sum()
    return float(total) if weighted else int(round(total))


def loops_per_w_synapse(W, U, B, V):
    """Number of loops through each W synapse, as a sparse matrix shaped like W.

    The loops through a_i -> a_j (``W[j, i]``) number ``(V B U)[i, j]`` with
    0/1 matrices; entries where W has no synapse are 0.

    >>> W = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> loops_per_w_synapse(W, np.eye(2), np.eye(2), np.eye(2)).toarray()
    array([[1., 0.],
           [0., 1.]])
    """
    W, U, B, V = (_as_csr(m, False) for m in (W, U, B, V))
    M = (V @ B) @ U
    return W.multiply(M.T.tocsr()).tocsr()


def motif_census(weights, threshold=None, density=None, masks=None, strong=None):
    """Four-synapse loop census of every layer pair of a circuit.

    Parameters
    ----------
    weights : dict of str -> ndarray
        Weights in MODEL.md orientation (see :mod:`selfassembly.io`).
    threshold, density : float
        Which synapses are strong (see :func:`strong_matrices`; give one).
    masks : dict, optional
        Existing synapses per population.
    strong : dict of str -> sparse matrix, optional
        Already thresholded populations (then ``threshold``/``density`` are
        not used); :func:`null_census` passes rewired circuits this way.

    Returns
    -------
    dict of int -> dict
        Keyed by the upper layer l + 1 = 2 .. L, each with ``count`` (loops),
        ``weighted`` (sum over loops of the product of the four weights),
        ``n_strong`` (strong synapses per population), ``w_in_loop`` (strong
        W synapses that close at least one loop) and ``w_in_loop_fraction``.

    Examples
    --------
    A structured circuit (U = V = I, B = W^T) closes one loop per W synapse:

    >>> rng = np.random.default_rng(0)
    >>> W2 = rng.normal(size=(4, 3))
    >>> w = {"W1": rng.normal(size=(3, 5)), "W2": W2, "B2": W2.T.copy(),
    ...      "U1": np.eye(3), "U2": np.eye(4), "V1": np.eye(3)}
    >>> c = motif_census(w, threshold=0.0)[2]
    >>> c["count"], c["n_strong"]["W2"], c["w_in_loop_fraction"]
    (12, 12, 1.0)
    """
    L = _n_layers(weights if strong is None else strong)
    if strong is None:
        names = [n for l in range(2, L + 1) for n in loop_names(l).values()]
        for l in range(2, L + 1):
            _check_shapes(weights, l)
        strong = strong_matrices(weights, threshold, density, masks, names)
    out = {}
    for l in range(2, L + 1):
        n = loop_names(l)
        W, U, B, V = (strong[n[k]] for k in "WUBV")
        per_w = loops_per_w_synapse(W, U, B, V)
        w_in_loop = int(per_w.count_nonzero())
        n_w = int(W.count_nonzero())
        out[l] = {
            "count": int(round(per_w.sum())),
            "weighted": loop_count(W, U, B, V, weighted=True),
            "n_strong": {n[k]: int(strong[n[k]].count_nonzero()) for k in "WUBV"},
            "w_in_loop": w_in_loop,
            "w_in_loop_fraction": w_in_loop / n_w if n_w else float("nan"),
        }
    return out


def brute_force_census(weights, threshold=None, density=None, masks=None):
    """The census by subgraph matching with NetworkX (slow; for checking small circuits).

    Builds :func:`~selfassembly.analysis.graph.circuit_graph` of the strong
    synapses and enumerates the monomorphisms of the labelled 4-cycle
    A_l -W-> A_{l+1} -U-> D_{l+1} -B-> D_l -V-> A_l with
    :class:`networkx.algorithms.isomorphism.DiGraphMatcher` (extra edges
    among the four cells are allowed; every node of the pattern has its own
    stream and layer, so each loop matches exactly once).

    Returns
    -------
    dict of int -> dict
        ``{l + 1: {"count": int, "weighted": float}}``.
    """
    import networkx as nx
    from networkx.algorithms import isomorphism as iso

    from .graph import circuit_graph

    G = circuit_graph(weights, threshold=threshold, density=density, masks=masks)
    L = _n_layers(weights)
    out = {}
    for l in range(2, L + 1):
        pattern = nx.DiGraph()
        pattern.add_node("a_i", stream="A", layer=l - 1)
        pattern.add_node("a_j", stream="A", layer=l)
        pattern.add_node("d_k", stream="D", layer=l)
        pattern.add_node("d_m", stream="D", layer=l - 1)
        pattern.add_edge("a_i", "a_j", population="W")
        pattern.add_edge("a_j", "d_k", population="U")
        pattern.add_edge("d_k", "d_m", population="B")
        pattern.add_edge("d_m", "a_i", population="V")
        keep = [v for v, d in G.nodes(data=True) if d["layer"] in (l - 1, l)]
        H = G.subgraph(keep)
        matcher = iso.DiGraphMatcher(
            H,
            pattern,
            node_match=lambda a, b: a["stream"] == b["stream"] and a["layer"] == b["layer"],
            edge_match=lambda a, b: a["population"] == b["population"],
        )
        count, weighted = 0, 0.0
        for mapping in matcher.subgraph_monomorphisms_iter():
            inv = {p: g for g, p in mapping.items()}
            cycle = [inv["a_i"], inv["a_j"], inv["d_k"], inv["d_m"], inv["a_i"]]
            count += 1
            weighted += math.prod(H.edges[u, v]["weight"] for u, v in zip(cycle, cycle[1:]))
        out[l] = {"count": count, "weighted": weighted}
    return out


def rewire(matrix, rng, n_rounds=10):
    """Degree-preserving rewiring of one population, weights shuffled over the new edges.

    Parameters
    ----------
    matrix : sparse matrix or ndarray, shape (n_post, n_pre)
        Synapses (nonzero entries) and their weights.
    rng : numpy.random.Generator
    n_rounds : int
        Rounds of parallel double edge swaps; each round pairs all edges at
        random and proposes swapping the presynaptic cells of every pair
        (a -> b, c -> d becomes c -> b, a -> d). A proposal is refused if it
        would create a synapse that exists or that another proposal of the
        round creates, so the result is always a simple graph.

    Returns
    -------
    scipy.sparse.csr_matrix
        Same shape, same number of synapses per row (in-degree of each
        postsynaptic cell) and per column (out-degree of each presynaptic
        cell), same multiset of weights.

    Examples
    --------
    >>> m = sp.random(30, 20, density=0.2, random_state=1, format="csr")
    >>> r = rewire(m, np.random.default_rng(0))
    >>> bool((r.getnnz(axis=0) == m.getnnz(axis=0)).all() and (r.getnnz(axis=1) == m.getnnz(axis=1)).all())
    True
    >>> bool(np.allclose(np.sort(r.data), np.sort(m.data)))
    True
    """
    m = sp.coo_matrix(matrix, dtype=float)
    m.sum_duplicates()
    m.eliminate_zeros()
    n_post, n_pre = m.shape
    rows = m.row.astype(np.int64)
    cols = m.col.astype(np.int64)
    E = rows.size
    half = E // 2
    size = n_post * n_pre
    bitmap = size <= _BITMAP_LIMIT
    if bitmap:  # O(1) look-ups in dense scratch arrays
        occupied = np.zeros(size, dtype=bool)
        occupied[rows * n_pre + cols] = True
        owner = np.empty(size, dtype=np.int64)
    for _ in range(int(n_rounds) if E >= 2 else 0):
        perm = rng.permutation(E)
        a, b = perm[:half], perm[half : 2 * half]
        # proposals: (row a, col b) and (row b, col a)
        new = np.concatenate([rows[a] * n_pre + cols[b], rows[b] * n_pre + cols[a]])
        exists = occupied[new] if bitmap else _in_sorted(new, np.sort(rows * n_pre + cols))
        ok = (rows[a] != rows[b]) & (cols[a] != cols[b]) & ~exists[:half] & ~exists[half:]
        # refuse both proposals that would create the same new synapse
        both = np.concatenate([ok, ok])
        pair = np.concatenate([np.arange(half)] * 2)[both]
        cand = new[both]
        ok[pair[_duplicated(cand, owner if bitmap else None)]] = False
        sa, sb = a[ok], b[ok]
        if bitmap:
            occupied[rows[sa] * n_pre + cols[sa]] = False
            occupied[rows[sb] * n_pre + cols[sb]] = False
        cols[sa], cols[sb] = cols[sb], cols[sa]
        if bitmap:
            occupied[rows[sa] * n_pre + cols[sa]] = True
            occupied[rows[sb] * n_pre + cols[sb]] = True
    data = rng.permutation(m.data)
    return sp.csr_matrix((data, (rows, cols)), shape=m.shape)


#: populations with at most this many possible synapses are rewired with dense look-up arrays
_BITMAP_LIMIT = 2**24


def _duplicated(keys, owner=None):
    """Boolean mask of the entries of ``keys`` whose value occurs more than once."""
    if keys.size == 0:
        return np.zeros(0, dtype=bool)
    if owner is not None:
        idx = np.arange(keys.size)
        owner[keys] = idx  # one entry per value wins the write
        lost = owner[keys] != idx
        owner[keys[lost]] = -1  # mark values written more than once
        return owner[keys] == -1
    order = np.argsort(keys, kind="stable")
    same = keys[order][1:] == keys[order][:-1]
    dup = np.zeros(keys.size, dtype=bool)
    dup[order[1:][same]] = True
    dup[order[:-1][same]] = True
    return dup


def _in_sorted(values, sorted_keys):
    idx = np.searchsorted(sorted_keys, values)
    idx[idx == sorted_keys.size] = 0
    return sorted_keys[idx] == values if sorted_keys.size else np.zeros(values.shape, bool)


def _summary(observed, samples):
    samples = np.asarray(samples, dtype=float)
    mean = float(samples.mean())
    std = float(samples.std(ddof=1)) if samples.size > 1 else float("nan")
    ratio = observed / mean if mean > 0 else float("nan")
    if std > 0:
        z = (observed - mean) / std
    elif std == 0:
        z = 0.0 if observed == mean else math.copysign(float("inf"), observed - mean)
    else:
        z = float("nan")
    return {"null_mean": mean, "null_std": std, "ratio": float(ratio), "z": float(z)}


def null_census(strong, n_null=20, seed=0, n_rounds=10):
    """Census of ``n_null`` degree-preserving rewirings of the strong circuit.

    Parameters
    ----------
    strong : dict of str -> sparse matrix
        Strong synapses of the loop populations (:func:`strong_matrices`).
    n_null : int
        Number of null circuits (>= 2 for a z-score).
    seed : int
        Seeds the rewiring; the same seed gives the same null circuits.
    n_rounds : int
        Swap rounds per rewiring (:func:`rewire`).

    Returns
    -------
    dict of int -> dict of str -> ndarray
        ``{l + 1: {"count": (n_null,), "weighted": (n_null,)}}``.
    """
    n_null = int(n_null)
    if n_null < 1:
        raise ValueError(f"n_null must be a positive number of null circuits, got {n_null}")
    rng = np.random.default_rng(seed)
    L = _n_layers(strong)
    out = {l: {"count": np.zeros(n_null), "weighted": np.zeros(n_null)} for l in range(2, L + 1)}
    for s in range(n_null):
        for l in range(2, L + 1):
            n = loop_names(l)
            W, U, B, V = (rewire(strong[n[k]], rng, n_rounds) for k in "WUBV")
            out[l]["count"][s] = loop_count(W, U, B, V)
            out[l]["weighted"][s] = loop_count(W, U, B, V, weighted=True)
    return out


def motif_statistics(weights, threshold=None, density=None, masks=None, n_null=20, seed=0, n_rounds=10):
    """Observed census against the degree-preserving null, per layer pair and in total.

    Parameters
    ----------
    weights, threshold, density, masks
        As for :func:`motif_census`.
    n_null, seed, n_rounds
        As for :func:`null_census`.

    Returns
    -------
    dict
        ``{"layers": {l + 1: stats}, "total": stats}`` where ``stats`` holds
        the census entries (``count``, ``weighted``, ``n_strong``,
        ``w_in_loop``, ``w_in_loop_fraction``) plus, for the count,
        ``null_mean``, ``null_std``, ``ratio`` = observed / null mean and
        ``z`` = (observed - null mean) / null std, and the same for the
        weighted census under ``weighted_null_mean``, ``weighted_null_std``
        and ``weighted_z`` (no ratio: its null mean is near 0). The total
        sums counts over layer pairs, sample by sample.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> W2 = rng.normal(size=(20, 20))
    >>> w = {"W1": rng.normal(size=(20, 5)), "W2": W2, "B2": W2.T.copy(),
    ...      "U1": np.eye(20), "U2": np.eye(20), "V1": np.eye(20)}
    >>> st = motif_statistics(w, density=0.2, n_null=10)["layers"][2]
    >>> st["count"], st["ratio"] > 3, st["z"] > 3
    (80, True, True)
    """
    L = _n_layers(weights)
    if L < 2:
        raise ValueError("a circuit with one layer (L = 1) has no four-synapse loop; it needs at least sizes [n0, n1, n2]")
    names = [n for l in range(2, L + 1) for n in loop_names(l).values()]
    for l in range(2, L + 1):
        _check_shapes(weights, l)
    strong = strong_matrices(weights, threshold, density, masks, names)
    census = motif_census(None, strong=strong)
    null = null_census(strong, n_null=n_null, seed=seed, n_rounds=n_rounds)
    layers = {}
    for l, c in census.items():
        stats = dict(c)
        stats.update(_summary(c["count"], null[l]["count"]))
        w = _summary(c["weighted"], null[l]["weighted"])
        stats.update({"weighted_null_mean": w["null_mean"], "weighted_null_std": w["null_std"], "weighted_z": w["z"]})
        layers[l] = stats
    total = {
        "count": sum(c["count"] for c in census.values()),
        "weighted": sum(c["weighted"] for c in census.values()),
        "w_in_loop": sum(c["w_in_loop"] for c in census.values()),
    }
    n_w = sum(c["n_strong"][loop_names(l)["W"]] for l, c in census.items())
    total["w_in_loop_fraction"] = total["w_in_loop"] / n_w if n_w else float("nan")
    total.update(_summary(total["count"], sum(null[l]["count"] for l in census)))
    w = _summary(total["weighted"], sum(null[l]["weighted"] for l in census))
    total.update({"weighted_null_mean": w["null_mean"], "weighted_null_std": w["null_std"], "weighted_z": w["z"]})
    return {"layers": layers, "total": total}
