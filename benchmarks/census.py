"""Benchmark: four-synapse motif census on a circuit with 10^6 synapses.

Times :func:`selfassembly.analysis.motifs.motif_census` (sparse matrix
algebra) and measures its peak memory, against two baselines run in the same
process:

* the dense-matrix version of the same count,
  ``sum((V B) * (U W)^T)`` with 0/1 numpy arrays;
* NetworkX subgraph matching (:func:`brute_force_census`) on a small circuit
  (it grows roughly with the number of paths, so it is run small and its rate
  reported).

Two circuits of 10^6 synapses in the four loop populations W2, U2, B2, V1
(every population 250 000 synapses):

* ``dense``: n_1 = n_2 = 500, all-to-all, every synapse counted;
* ``sparse``: n_1 = n_2 = 2000, connection probability 1/16;

and one beyond dense matrices (``large sparse``: n_1 = n_2 = 50 000, five
synapses per cell and population, 10^6 synapses; census only, no baseline).

Run: ``.venv/bin/python benchmarks/census.py`` (about a minute on 2 cores;
``--quick`` for a 10^5-synapse version).
"""
from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc

import numpy as np

from selfassembly.analysis.motifs import brute_force_census, loop_count, motif_census, rewire, strong_matrices


def circuit(n, p, seed=0):
    """W2 (n, n), U2 (n, n), B2 (n, n), V1 (n, n), each synapse present with probability p."""
    rng = np.random.default_rng(seed)
    w, masks = {}, {}
    for name in ("W2", "U2", "B2", "V1"):
        mask = rng.random((n, n)) < p if p < 1 else np.ones((n, n), bool)
        w[name] = np.where(mask, rng.normal(0, 1 / np.sqrt(p * n), (n, n)), 0.0)
        masks[name] = mask
    return w, masks


def measure(fn):
    """(result, seconds, peak MiB traced) of one call."""
    gc.collect()
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, dt, peak / 2**20


def dense_count(w, masks):
    W, U, B, V = (masks[k].astype(np.float64) for k in ("W2", "U2", "B2", "V1"))
    return int(round(np.sum((V @ B) * (U @ W).T)))


def run(label, n, p):
    w, masks = circuit(n, p)
    synapses = sum(int(m.sum()) for m in masks.values())
    print(f"\n[{label}] n1 = n2 = {n}, p = {p:g}: {synapses:,} synapses in W2, U2, B2, V1")
    census, t_c, m_c = measure(lambda: motif_census(w, threshold=0.0, masks=masks))
    print(f"  sparse census (threshold + count + weighted + per-W-synapse): {t_c:7.2f} s, peak {m_c:7.1f} MiB, "
          f"{census[2]['count']:,} loops")
    strong = strong_matrices(w, threshold=0.0, masks=masks)
    count, t_l, m_l = measure(lambda: loop_count(strong["W2"], strong["U2"], strong["B2"], strong["V1"]))
    print(f"  sparse loop count only (prebuilt CSR):                      {t_l:7.2f} s, peak {m_l:7.1f} MiB")
    dense, t_d, m_d = measure(lambda: dense_count(w, masks))
    print(f"  dense numpy baseline sum((V B) * (U W)^T):                 {t_d:7.2f} s, peak {m_d:7.1f} MiB")
    assert dense == count == census[2]["count"], (dense, count, census[2]["count"])
    rng = np.random.default_rng(0)
    _, t_r, m_r = measure(lambda: [rewire(strong[k], rng) for k in ("W2", "U2", "B2", "V1")])
    print(f"  one null circuit (rewire 4 populations, 10 swap rounds):    {t_r:7.2f} s, peak {m_r:7.1f} MiB")
    return t_c


def run_large(n, per_cell):
    """A circuit too big for dense matrices: n cells per layer, ``per_cell`` synapses per cell and population."""
    import scipy.sparse as sp

    rng = np.random.default_rng(2)
    density = per_cell / n
    strong = {name: sp.random(n, n, density=density, random_state=rng, format="csr",
                              data_rvs=lambda k: rng.normal(size=k)) for name in ("W2", "U2", "B2", "V1")}
    synapses = sum(m.nnz for m in strong.values())
    print(f"\n[large sparse] n1 = n2 = {n:,}, {per_cell} synapses per cell: {synapses:,} synapses "
          f"(a dense 0/1 float64 copy of the four matrices would need {4 * n * n * 8 / 2**30:,.0f} GiB)")
    census, t_c, m_c = measure(lambda: motif_census(None, strong=strong))
    print(f"  sparse census from CSR matrices:                            {t_c:7.2f} s, peak {m_c:7.1f} MiB, "
          f"{census[2]['count']:,} loops")
    rng2 = np.random.default_rng(0)
    _, t_r, m_r = measure(lambda: [rewire(strong[k], rng2) for k in strong])
    print(f"  one null circuit (rewire 4 populations, 10 swap rounds):    {t_r:7.2f} s, peak {m_r:7.1f} MiB")


def brute(n=12, p=0.3):
    w, masks = circuit(n, p, seed=1)
    w["W1"] = np.zeros((n, 3))  # the graph needs A0 to size the layers
    synapses = sum(int(m.sum()) for m in masks.values())
    out, t, m = measure(lambda: brute_force_census(w, threshold=0.0, masks=masks))
    fast = motif_census(w, threshold=0.0, masks=masks)[2]["count"]
    assert out[2]["count"] == fast
    print(f"\n[networkx brute force] n = {n}, p = {p:g}: {synapses} synapses, {out[2]['count']:,} loops: "
          f"{t:.2f} s, peak {m:.1f} MiB ({out[2]['count'] / t:,.0f} loops/s; the sparse census agrees)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^5 synapses instead of 10^6")
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    n_dense, n_sparse = int(500 / np.sqrt(scale)), int(2000 / np.sqrt(scale))
    run("dense", n_dense, 1.0)
    run("sparse", n_sparse, 1 / 16)
    run_large(int(50_000 / scale), 5)
    brute()
    print(f"\nmax resident set size of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
