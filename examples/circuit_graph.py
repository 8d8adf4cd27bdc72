"""
The circuit as a graph, exported to GraphML
===========================================

A trained circuit is a directed graph: a node per neuron (ascending A_l,
descending D_l), an edge per synapse (W, B, U, V), with its weight. This
script trains the self-assembling preset briefly, builds the graph of its
strongest synapses with :func:`~selfassembly.analysis.graph.circuit_graph`,
writes it as GraphML (open ``circuit.graphml`` in Gephi or Cytoscape; node
attributes ``stream``, ``layer``, ``index``, edge attributes ``population``,
``name``, ``weight``), and counts what ``selfassembly inspect`` counts on it:
reciprocity and the triad census.

The gallery shows the quick version (64-24-24-10, 240 samples, one epoch);
``python examples/circuit_graph.py`` trains 64-128-128-10 for 10 epochs
(about 30 s).
"""

# %%
import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import networkx as nx

from selfassembly.analysis import circuit_graph, reciprocity, triad_census, write_graphml
from selfassembly.config import ExperimentConfig, quick_config
from selfassembly.experiment import load_run_data, run_preset

parser = argparse.ArgumentParser(description="The circuit as a graph, exported to GraphML")
parser.add_argument("--quick", action="store_true", help="a tiny version (seconds) instead of the full one")
parser.add_argument("--out", default=".", help="folder for circuit.graphml (default: here)")
args = parser.parse_args()

config = (quick_config() if args.quick else ExperimentConfig()).replace(presets=["four_synapse"])
result = run_preset(config, "four_synapse", load_run_data(config), progress=None)
weights = result.snapshots.at(-1)  # the last snapshot: {"W1": ..., "B2": ..., "U1": ..., "V1": ...}

# %%
# The graph of the strongest synapses
# -----------------------------------
# ``density=0.1`` keeps the strongest 10% of each population's synapses (by
# absolute weight), as ``selfassembly inspect`` does by default; without it
# every synapse is an edge.
G = circuit_graph(weights, density=0.1, masks=result.snapshots.masks)
path = write_graphml(G, Path(args.out) / "circuit.graphml")
print(f"{G.number_of_nodes()} neurons, {G.number_of_edges()} synapses -> {path}")
by_population = {}
for _, _, name in G.edges(data="name"):
    by_population[name] = by_population.get(name, 0) + 1
print("synapses per population:", dict(sorted(by_population.items())))

# %%
# Reciprocity and triads
# ----------------------
# Within a stream there are no reciprocal pairs (the streams are
# feedforward); between A_l and D_l, U and V can form loops, and their
# reciprocity against chance is what the physiology comparison reads.
rec = reciprocity(G)
print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rec.items() if not isinstance(v, dict)})
census = triad_census(G, populations=["U", "V"])
print("U-V triads:", {k: v for k, v in census.items() if v and k != "003"})

# %%
# A picture
# ---------
# Layers left to right, the ascending stream above the descending one; edges
# coloured by population. Only the smallest layers are drawn legibly, so the
# quick version is the one to look at.
pos = {v: (d["layer"] * 3 + (0.0 if d["stream"] == "A" else 1.2),
           d["index"] / max(1, max(n for n in map(int, G.graph["sizes"].split()))) * 10 + (12 if d["stream"] == "A" else 0))
       for v, d in G.nodes(data=True)}
colors = {"W": "C0", "B": "C1", "U": "C2", "V": "C3"}
fig, ax = plt.subplots(figsize=(8, 5))
for pop, color in colors.items():
    edges = [(u, v) for u, v, p in G.edges(data="population") if p == pop]
    nx.draw_networkx_edges(G, pos, edgelist=edges, edge_color=color, alpha=0.35, arrows=False, ax=ax, width=0.6)
    ax.plot([], [], color=color, label=pop)
nx.draw_networkx_nodes(G, pos, node_size=6, node_color="k", ax=ax)
ax.set_title("four_synapse, strongest 10% of each population (above: A, below: D)")
ax.legend(loc="upper right", fontsize=8)
ax.axis("off")
fig.tight_layout()
plt.show()
