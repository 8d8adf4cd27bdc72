"""The circuit as a NetworkX graph: nodes, edge orientation, GraphML, reciprocity, triads."""
from math import comb

import networkx as nx
import numpy as np
import pytest

from selfassembly.analysis.graph import circuit_graph, node_id, population_ends, reciprocity, triad_census, write_graphml
from selfassembly.analysis.motifs import strong_matrices
from selfassembly.circuits.connectivity import Connectivity, initial_weights
from selfassembly.io import population_names
from selfassembly.plasticity import make_preset

SIZES = [5, 7, 6, 4]


def random_circuit(sizes=SIZES, seed=0, p=1.0):
    conn = {k: Connectivity("gaussian", p=p) for k in "WBUV"}
    return initial_weights(sizes, make_preset("four_synapse"), conn, seed=seed)


def structured_circuit(sizes=SIZES, seed=0):
    return initial_weights(sizes, make_preset("backprop"), seed=seed)


def test_nodes_one_per_neuron_with_attributes():
    w, masks = random_circuit()
    G = circuit_graph(w, masks=masks)
    assert G.number_of_nodes() == sum(SIZES) + sum(SIZES[1:])
    for l, n in enumerate(SIZES):
        A = [v for v, d in G.nodes(data=True) if d["stream"] == "A" and d["layer"] == l]
        D = [v for v, d in G.nodes(data=True) if d["stream"] == "D" and d["layer"] == l]
        assert len(A) == n and len(D) == (n if l else 0)
    assert G.nodes["A2_3"] == {"stream": "A", "layer": 2, "index": 3}


def test_edges_follow_model_orientation():
    w, masks = random_circuit(p=0.6, seed=3)
    G = circuit_graph(w, masks=masks)
    assert G.number_of_edges() == sum(int(m.sum()) for m in masks.values())
    # rows are postsynaptic: W2[j, i] is A1_i -> A2_j, B2[m, k] is D2_k -> D1_m,
    # U2[k, j] is A2_j -> D2_k, V1[i, m] is D1_m -> A1_i
    for name in population_names(3):
        (s_pre, l_pre), (s_post, l_post) = population_ends(name)
        post, pre = np.nonzero(masks[name])
        for j, i in zip(post, pre):
            e = G.edges[node_id(s_pre, l_pre, i), node_id(s_post, l_post, j)]
            want = {"population": name[0], "name": name, "weight": pytest.approx(w[name][j, i])}
            if name[0] in "UV":  # with masks: does the reverse cross-stream synapse exist (partner's entry [i, j])?
                want["looped"] = bool(masks[{"U": "V", "V": "U"}[name[0]] + name[1:]][i, j])
            assert e == want
    post, pre = np.nonzero(~masks["W2"])
    assert not any(G.has_edge(node_id("A", 1, i), node_id("A", 2, j)) for j, i in zip(post, pre))


def test_thresholded_graph_matches_census_thresholding():
    w, masks = random_circuit(seed=1)
    G = circuit_graph(w, density=0.3, masks=masks)
    strong = strong_matrices(w, density=0.3, masks=masks)
    counts = {}
    for _, _, d in G.edges(data=True):
        counts[d["name"]] = counts.get(d["name"], 0) + 1
    assert counts == {name: m.nnz for name, m in strong.items()}


def test_graphml_round_trip(tmp_path):
    w, masks = random_circuit(seed=2)
    G = circuit_graph(w, density=0.5, masks=masks)
    path = write_graphml(G, tmp_path / "sub" / "graph.graphml")
    H = nx.read_graphml(path)
    assert isinstance(H, nx.DiGraph)
    assert set(H.nodes) == set(G.nodes) and set(H.edges) == set(G.edges)
    u, v = next(iter(G.edges))
    assert H.edges[u, v]["population"] == G.edges[u, v]["population"]
    assert H.edges[u, v]["weight"] == pytest.approx(G.edges[u, v]["weight"])
    assert H.nodes["D3_1"]["stream"] == "D" and H.nodes["D3_1"]["layer"] == 3 and H.nodes["D3_1"]["label"] == "D3_1"
    assert not list(tmp_path.glob("sub/.*.tmp"))  # atomic write leaves no temporary file


def test_reciprocity_structured_and_random():
    ws, ms = structured_circuit()
    rec = reciprocity(circuit_graph(ws, masks=ms))
    assert rec["A"] == 0.0 and rec["D"] == 0.0  # feedforward streams
    for l in (1, 2):
        assert rec["cross"][l]["reciprocity"] == 1.0
        assert rec["cross"][l]["ratio"] > 3
    for l in (2, 3):
        assert rec["paired"][l]["reciprocity"] == 1.0

    wr, mr = random_circuit(sizes=[10, 60, 60, 10], seed=4)
    rec = reciprocity(circuit_graph(wr, density=0.2, masks=mr))
    for l in (1, 2):
        assert 0.6 < rec["cross"][l]["ratio"] < 1.4
    assert 0.6 < rec["paired"][2]["ratio"] < 1.4


def test_reciprocity_equals_networkx_on_the_pair_subgraph():
    w, masks = random_circuit(sizes=[4, 9, 8], seed=5)
    G = circuit_graph(w, density=0.4, masks=masks)
    rec = reciprocity(G)
    H = G.edge_subgraph([(u, v) for u, v, d in G.edges(data=True) if d["name"] in ("U1", "V1")])
    assert rec["cross"][1]["reciprocity"] == pytest.approx(nx.reciprocity(H))
    assert rec["cross"][1]["reciprocity"] > 0  # the comparison is not vacuous


def test_triad_census_of_a_population():
    w, masks = random_circuit(seed=6)
    G = circuit_graph(w, density=0.4, masks=masks)
    t = triad_census(G, ["U", "V"])
    n = sum(SIZES[1:]) * 2  # A_l and D_l for l = 1..L
    assert sum(t.values()) == comb(n, 3)
    K = nx.DiGraph()
    K.add_nodes_from(v for v, d in G.nodes(data=True) if d["layer"] >= 1)
    K.add_edges_from((u, v) for u, v, d in G.edges(data=True) if d["population"] in "UV")
    assert t == dict(nx.triadic_census(K))
    assert t["102"] > 0  # reciprocal U/V pairs appear as mutual dyads
    w_only = triad_census(G, "W2")
    assert w_only["102"] == 0 and sum(w_only.values()) == comb(SIZES[1] + SIZES[2], 3)
    with pytest.raises(ValueError, match="no synapse of populations"):
        triad_census(G, ["X9"])


def test_graph_bad_input():
    w, masks = random_circuit()
    with pytest.raises(ValueError, match="population W2 has shape"):
        circuit_graph(dict(w, W2=np.zeros((3, 3))))
    with pytest.raises(ValueError, match="does not exist in a circuit"):
        circuit_graph(dict(w, B1=np.zeros((5, 7))))
    with pytest.raises(ValueError, match="unknown population name"):
        population_ends("Q2")
    with pytest.raises(ValueError, match="need W1"):
        circuit_graph({"U1": np.eye(2)})
