"""The circuit as a graph: NetworkX DiGraph, GraphML export, reciprocity, triad census.

Nodes are neurons, named ``"A{l}_{i}"`` (cell i of the ascending population
A_l, l = 0..L) and ``"D{l}_{i}"`` (descending D_l, l = 1..L), with attributes
``stream`` ("A" or "D"), ``layer`` and ``index``. Edges are synapses,
presynaptic -> postsynaptic, with attributes ``population`` ("W", "B", "U",
"V"), ``name`` (e.g. "W2") and ``weight`` (and, when masks are given, ``looped`` on
U and V edges: whether the reverse cross-stream synapse exists, see :func:`cross_wiring`):

==========  ==================  ==================
population  edge                matrix entry
==========  ==================  ==================
W_l         A_{l-1}:i -> A_l:j  ``W{l}[j, i]``
B_l         D_l:k -> D_{l-1}:m  ``B{l}[m, k]``
U_l         A_l:j -> D_l:k      ``U{l}[k, j]``
V_l         D_l:m -> A_l:i      ``V{l}[i, m]``
==========  ==================  ==================
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from ..io import atomic_write_text, population_names
from .threshold import strong_synapses

__all__ = [
    "node_id",
    "population_ends",
    "circuit_graph",
    "write_graphml",
    "reciprocity",
    "cross_wiring",
    "WIRING_Z",
    "triad_census",
]

#: z-score (mutual A-D pairs above the independent-mask expectation) beyond which wiring is not chance
WIRING_Z = 3.0


def node_id(stream, layer, index):
    """Name of a neuron's node.

    >>> node_id("D", 2, 7)
    'D2_7'
    """
    return f"{stream}{int(layer)}_{int(index)}"


def population_ends(name):
    """``((pre stream, pre layer), (post stream, post layer))`` of a population.

    >>> population_ends("B3")
    (('D', 3), ('D', 2))
    >>> population_ends("U1")
    (('A', 1), ('D', 1))
    """
    try:
        kind, l = name[0], int(name[1:])
    except (IndexError, ValueError):
        kind, l = None, None
    ends = {
        "W": (("A", l - 1 if l is not None else 0), ("A", l)),
        "B": (("D", l), ("D", l - 1 if l is not None else 0)),
        "U": (("A", l), ("D", l)),
        "V": (("D", l), ("A", l)),
    }
    if kind not in ends or l is None:
        raise ValueError(f"unknown population name {name!r}; names are W{{l}}, B{{l}}, U{{l}}, V{{l}} (e.g. W2)")
    return ends[kind]


def _sizes(weights):
    L = sum(1 for k in weights if k.startswith("W"))
    if L == 0 or "W1" not in weights:
        raise ValueError(f"weights need W1 .. WL to size the layers; got {sorted(weights)}")
    sizes = [np.shape(weights["W1"])[1]] + [np.shape(weights[f"W{l}"])[0] for l in range(1, L + 1)]
    for l in range(2, L + 1):
        if np.shape(weights[f"W{l}"])[1] != sizes[l - 1]:
            raise ValueError(
                f"population W{l} has shape {np.shape(weights[f'W{l}'])}: its {np.shape(weights[f'W{l}'])[1]} columns "
                f"(presynaptic A{l - 1} cells) do not match the {sizes[l - 1]} rows of W{l - 1}"
            )
    return sizes


def circuit_graph(weights, threshold=None, density=None, masks=None):
    """Build the circuit's DiGraph: a node per neuron, an edge per synapse.

    Parameters
    ----------
    weights : dict of str -> ndarray
        Weights of one snapshot in MODEL.md orientation (rows postsynaptic).
    threshold, density : float, optional
        Keep only strong synapses (see
        :func:`~selfassembly.analysis.threshold.strong_synapses`; density is
        applied per population). Neither: every existing synapse.
    masks : dict of str -> ndarray of bool, optional
        Existing synapses; without a mask, nonzero weights are synapses.

    Returns
    -------
    networkx.DiGraph
        ``G.graph["sizes"]`` holds n_0 .. n_L.

    Examples
    --------
    >>> w = {"W1": np.array([[0.5, -1.0]]), "U1": np.array([[2.0]])}
    >>> G = circuit_graph(w)
    >>> sorted(G.nodes)
    ['A0_0', 'A0_1', 'A1_0', 'D1_0']
    >>> G.edges["A0_1", "A1_0"]
    {'population': 'W', 'name': 'W1', 'weight': -1.0}
    >>> G.nodes["D1_0"]
    {'stream': 'D', 'layer': 1, 'index': 0}
    """
    sizes = _sizes(weights)
    masks = masks or {}
    G = nx.DiGraph(sizes=" ".join(str(n) for n in sizes))
    for l, n in enumerate(sizes):
        streams = ("A",) if l == 0 else ("A", "D")
        for s in streams:
            G.add_nodes_from((node_id(s, l, i), {"stream": s, "layer": l, "index": i}) for i in range(n))
    valid = population_names(len(sizes) - 1)
    for name in sorted(weights):
        if name not in valid:
            raise ValueError(f"population {name!r} does not exist in a circuit of layer sizes {sizes}; valid names: {valid}")
        (s_pre, l_pre), (s_post, l_post) = population_ends(name)
        w = np.asarray(weights[name], dtype=float)
        want = (sizes[l_post], sizes[l_pre])
        if w.shape != want:
            raise ValueError(f"population {name} has shape {w.shape}, expected {want} for layer sizes {sizes}")
        mask = masks.get(name)
        if threshold is None and density is None:
            keep = (w != 0) if mask is None else np.asarray(mask, bool)
        else:
            keep = strong_synapses(w, threshold=threshold, density=density, mask=mask)
        post, pre = np.nonzero(keep)
        G.add_edges_from(
            (node_id(s_pre, l_pre, i), node_id(s_post, l_post, j), {"population": name[0], "name": name, "weight": float(w[j, i])})
            for j, i in zip(post.tolist(), pre.tolist())
        )
        partner = {"U": "V", "V": "U"}.get(name[0], "") + name[1:]
        if name[0] in "UV" and mask is not None and masks.get(partner) is not None:
            # the wiring, not the strong subgraph: does the reverse synapse (partner's transposed entry) exist?
            back = np.asarray(masks[partner], bool).T
            for j, i in zip(post.tolist(), pre.tolist()):
                G.edges[node_id(s_pre, l_pre, i), node_id(s_post, l_post, j)]["looped"] = bool(back[j, i])
    if masks:
        for l, stats in cross_wiring(masks).items():
            G.graph[f"cross_wiring_{l}"] = stats["wiring"]
            G.graph[f"cross_reciprocity_{l}"] = stats["fraction_u"]
    return G


def write_graphml(G, path):
    """Write ``G`` as GraphML (opens in Gephi and Cytoscape), atomically.

    Node attributes ``stream``, ``layer``, ``index`` and a ``label``; edge
    attributes ``population``, ``name``, ``weight``.
    """
    H = G.copy()
    for v in H.nodes:
        H.nodes[v].setdefault("label", v)
    text = "\n".join(nx.generate_graphml(H))
    return atomic_write_text(path, text + "\n")


def _edge_subgraph(G, populations):
    pops = set(populations)
    edges = [(u, v) for u, v, d in G.edges(data=True) if d["population"] in pops or d["name"] in pops]
    return G.edge_subgraph(edges)


def _reciprocity(edges):
    """Fraction of edges whose reverse edge is also an edge (networkx.reciprocity, without copying the graph)."""
    edges = set(edges)
    if not edges:
        return float("nan")
    return sum((v, u) in edges for u, v in edges) / len(edges)


def _pair_reciprocity(up, down, n_pre, n_post):
    """Reciprocity of the union of two opposite edge sets, and its chance level."""
    m = len(set(up) | set(down))
    if m == 0:
        return {"reciprocity": float("nan"), "expected": float("nan"), "ratio": float("nan"), "edges": 0}
    r = _reciprocity(list(up) + list(down))
    # independent placement: each of the len(up) synapses is mirrored with
    # probability len(down) / (n_pre * n_post)
    expected_mutual = len(up) * len(down) / (n_pre * n_post)
    expected = 2 * expected_mutual / m
    return {
        "reciprocity": float(r),
        "expected": float(expected),
        "ratio": float(r / expected) if expected > 0 else float("nan"),
        "edges": m,
    }


def cross_wiring(masks, z_cut=WIRING_Z):
    """Reciprocity of the cross-stream wiring (the masks, not the weights): are A-D pairs looped?

    For each layer l with masks U_l (A_l:j -> D_l:k at ``U[k, j]``) and V_l (D_l:k -> A_l:j at
    ``V[j, k]``), a U synapse is *looped* when its reverse V synapse exists, ``V[j, k]``. With
    V's mask drawn independently of U's, each U synapse is looped with probability
    ``q = |V_l| / n_l^2`` (V's density, about p), so the number of looped U synapses is
    ``Binomial(|U_l|, q)`` and

    .. math:: z = (m - |U_l| q) / \\sqrt{|U_l| q (1 - q)},  m = \\sum_{jk} U_{kj} V_{jk}.

    ``wiring`` says what the masks are:

    * ``"reciprocal"``: V_l's mask is U_l's transposed exactly, and that is beyond chance
      (z >= ``z_cut``);
    * ``"independent"``: ``|z| < z_cut`` (looped pairs as often as independent masks give);
    * ``"more looped than chance"`` / ``"less looped than chance"``: z beyond +-``z_cut``
      without V = U^T;
    * ``"dense"``: U_l or V_l has every synapse (every pair is looped; nothing to tell);
    * ``"undecided"``: V_l = U_l^T, but the masks are so dense that independent masks would
      often agree as well (z < ``z_cut``).

    Parameters
    ----------
    masks : dict of str -> ndarray of bool
        Existing synapses, keyed by population (``U1``, ``V1``, ...); layers without both
        U_l and V_l are left out.
    z_cut : float

    Returns
    -------
    dict of int -> dict
        ``{l: {"n": n_l, "u_synapses", "v_synapses", "looped" (m), "fraction_u" (m / |U_l|),
        "fraction_v" (m / |V_l|), "expected" (q), "z", "wiring"}}``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> U = rng.random((100, 100)) < 0.2
    >>> cross_wiring({"U1": U, "V1": U.T})[1]["wiring"]
    'reciprocal'
    >>> stats = cross_wiring({"U1": U, "V1": rng.random((100, 100)) < 0.2})[1]
    >>> stats["wiring"], round(stats["fraction_u"], 2), round(stats["expected"], 2)
    ('independent', 0.18, 0.19)
    """
    out = {}
    layers = sorted(int(k[1:]) for k in masks if k[0] == "U" and k[1:].isdigit() and f"V{k[1:]}" in masks)
    for l in layers:
        U, V = np.asarray(masks[f"U{l}"], bool), np.asarray(masks[f"V{l}"], bool)
        if U.shape != V.T.shape:
            raise ValueError(f"masks U{l} {U.shape} and V{l} {V.shape} are not transposed shapes; U_l is "
                             "n_l x n_l (D_l x A_l) and V_l n_l x n_l (A_l x D_l)")
        n_u, n_v, total = int(U.sum()), int(V.sum()), U.size
        looped = int(np.count_nonzero(U & V.T))
        q = n_v / total
        var = n_u * q * (1 - q)
        z = (looped - n_u * q) / np.sqrt(var) if var > 0 else float("nan")
        if n_u == total or n_v == total:
            wiring = "dense"
        elif n_u == n_v == looped:
            wiring = "reciprocal" if z >= z_cut else "undecided"
        elif not np.isfinite(z) or abs(z) < z_cut:
            wiring = "independent"
        else:
            wiring = "more looped than chance" if z > 0 else "less looped than chance"
        out[l] = {"n": int(U.shape[0]), "u_synapses": n_u, "v_synapses": n_v, "looped": looped,
                  "fraction_u": looped / n_u if n_u else float("nan"),
                  "fraction_v": looped / n_v if n_v else float("nan"),
                  "expected": q, "z": float(z), "wiring": wiring}
    return out


def reciprocity(G):
    """Reciprocity of each stream, of the cross-stream pair, and of the streams paired by index.

    Reciprocity is that of :func:`networkx.reciprocity` (computed here
    without copying the graph), the fraction of edges whose reverse edge also
    exists, ``r = 2 * mutual / edges``. Its chance level
    for two opposite populations X (P -> Q) and Y (Q -> P) wired
    independently is ``r_0 = 2 |X| |Y| / (|P| |Q| (|X| + |Y|))``, and the
    ratio ``r / r_0`` is 1 at chance.

    Returns
    -------
    dict
        ``"A"``, ``"D"``: reciprocity within each stream (0 by construction
        in this feedforward architecture; NaN for a stream without edges);
        ``"cross"``: ``{l: stats}`` of U_l and V_l (A_l <-> D_l), l = 1..L;
        ``"paired"``: ``{l: stats}`` of W_l and B_l with cell i of D_l read
        as cell i of A_l (the pairing that U = V = I sets up), l = 2..L.
        ``stats`` holds ``reciprocity``, ``expected``, ``ratio``, ``edges``.

    Examples
    --------
    >>> W2 = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> w = {"W1": np.ones((2, 2)), "W2": W2, "B2": W2.T, "U1": np.eye(2), "U2": np.eye(2), "V1": np.eye(2),
    ...      "V2": np.eye(2)}
    >>> rec = reciprocity(circuit_graph(w))
    >>> rec["cross"][1]["reciprocity"], rec["paired"][2]["reciprocity"], rec["A"]
    (1.0, 1.0, 0.0)
    """
    sizes = [int(n) for n in str(G.graph["sizes"]).split()]
    L = len(sizes) - 1
    out = {}
    stream = nx.get_node_attributes(G, "stream")
    for s in ("A", "D"):
        out[s] = _reciprocity((u, v) for u, v in G.edges if stream[u] == s and stream[v] == s)
    by_name = {}
    for u, v, d in G.edges(data=True):
        by_name.setdefault(d["name"], []).append((u, v))
    out["cross"] = {}
    for l in range(1, L + 1):
        out["cross"][l] = _pair_reciprocity(by_name.get(f"U{l}", []), by_name.get(f"V{l}", []), sizes[l], sizes[l])
    out["paired"] = {}
    for l in range(2, L + 1):
        # D_l:k -> D_{l-1}:m read as A_l:k -> A_{l-1}:m
        down = [("A" + u[1:], "A" + v[1:]) for u, v in by_name.get(f"B{l}", [])]
        out["paired"][l] = _pair_reciprocity(by_name.get(f"W{l}", []), down, sizes[l - 1], sizes[l])
    return out


def triad_census(G, populations=None):
    """:func:`networkx.triadic_census` of the synapses of some populations.

    Parameters
    ----------
    G : networkx.DiGraph
        From :func:`circuit_graph`.
    populations : list of str, optional
        Population kinds ("W", "U", ...) or names ("W2", "V1", ...); the
        census runs on their edges and on every neuron of the layers they
        connect. Default: the whole graph.

    Returns
    -------
    dict of str -> int
        Count of each of the 16 triad types ("003", "012", ..., "300").

    Examples
    --------
    >>> w = {"W1": np.ones((1, 2)), "U1": np.ones((1, 1))}
    >>> t = triad_census(circuit_graph(w), ["W"])
    >>> t["021C"], t["021D"], t["021U"]
    (0, 0, 1)
    """
    if populations is None:
        return {k: int(v) for k, v in nx.triadic_census(G).items()}
    populations = [populations] if isinstance(populations, str) else list(populations)
    H = _edge_subgraph(G, populations)
    if H.number_of_edges() == 0:
        raise ValueError(f"no synapse of populations {populations} in the graph; names are W, B, U, V or e.g. W2")
    groups = {(d["stream"], d["layer"]) for v, d in H.nodes(data=True)}
    nodes = [v for v, d in G.nodes(data=True) if (d["stream"], d["layer"]) in groups]
    K = nx.DiGraph()
    K.add_nodes_from(nodes)
    K.add_edges_from(H.edges)
    return {k: int(v) for k, v in nx.triadic_census(K).items()}
