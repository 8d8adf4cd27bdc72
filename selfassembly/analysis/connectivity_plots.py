"""PNG figures of a circuit's connectivity and of its assembly over training.

* :func:`plot_circuit`: the two streams side by side, edges coloured by
  population (W blue, B red, U green, V orange) and weighted by strength;
* :func:`plot_feedback_heatmaps`: W_l^T beside the effective feedback
  M_l = V_{l-1} B_l U_l, at the first and the last snapshot;
* :func:`plot_timecourse`: alignment angles and motif statistics of one
  preset over training;
* :func:`plot_overview`: the verdict measures of every preset over training.

Every function writes the PNG atomically and returns its path. Matplotlib
runs with the non-interactive Agg backend.
"""
from __future__ import annotations


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .plots import save_png  # noqa: E402
from .alignment import angle, effective_feedback  # noqa: E402
from .timecourse import series  # noqa: E402

__all__ = ["COLORS", "plot_circuit", "plot_feedback_heatmaps", "plot_timecourse", "plot_overview"]

#: edge colour of each population
COLORS = {"W": "tab:blue", "B": "tab:red", "U": "tab:green", "V": "tab:orange"}


def _save(fig, path):
    return save_png(fig, path, dpi=110, bbox_inches="tight")


def _position(stream, layer, index, n):
    """A_l cells on a row at height l, D_l cells on a row to its right, slightly higher."""
    frac = (index + 0.5) / n
    return (frac, float(layer)) if stream == "A" else (1.4 + frac, layer + 0.3)


def _bezier(p0, p1, bend, n=12):
    p0, p1 = np.asarray(p0), np.asarray(p1)
    mid = (p0 + p1) / 2
    d = p1 - p0
    ctrl = mid + bend * np.array([-d[1], d[0]])
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t**2 * p1


def plot_circuit(G, path, max_edges=4000, title=None):
    """Draw the circuit graph: A stream on the left, D stream on the right.

    Parameters
    ----------
    G : networkx.DiGraph
        From :func:`~selfassembly.analysis.graph.circuit_graph`.
    path : str or Path
        PNG to write.
    max_edges : int
        Draw at most this many synapses, the strongest relative to their
        population's largest ``|weight|`` (a readable picture needs a small or a
        thresholded circuit).
    title : str, optional

    Notes
    -----
    Line width and opacity grow with ``|w| / max |w|`` of the population; U
    (A -> D) and V (D -> A) synapses are drawn as arcs bending opposite ways
    so that a reciprocal pair shows as a closed lens.
    """
    sizes = [int(n) for n in str(G.graph["sizes"]).split()]
    pos = {v: _position(d["stream"], d["layer"], d["index"], sizes[d["layer"]]) for v, d in G.nodes(data=True)}
    edges = list(G.edges(data=True))
    peak = {}
    for _, _, d in edges:
        peak[d["name"]] = max(peak.get(d["name"], 0.0), abs(d["weight"]))
    rel = np.array([abs(d["weight"]) / peak[d["name"]] if peak[d["name"]] > 0 else 0.0 for _, _, d in edges])
    order = np.argsort(-rel, kind="stable")[: int(max_edges)]
    fig, ax = plt.subplots(figsize=(9, 1.6 + 1.5 * len(sizes)))
    for pop, bend in (("W", 0.0), ("B", 0.0), ("U", 0.12), ("V", -0.12)):
        sel = [k for k in order if edges[k][2]["population"] == pop]
        if not sel:
            continue
        segs = [_bezier(pos[edges[k][0]], pos[edges[k][1]], bend) for k in sel]
        strength = rel[sel]
        colors = [matplotlib.colors.to_rgba(COLORS[pop], 0.08 + 0.6 * s) for s in strength]
        ax.add_collection(LineCollection(segs, colors=colors, linewidths=0.3 + 1.7 * strength, zorder=1))
    for stream, color in (("A", "0.25"), ("D", "0.55")):
        xy = np.array([pos[v] for v, d in G.nodes(data=True) if d["stream"] == stream])
        if len(xy):
            ax.scatter(xy[:, 0], xy[:, 1], s=6, c=color, zorder=2, linewidths=0)
    for l in range(len(sizes)):
        ax.text(-0.05, l, f"A{l}", ha="right", va="center", fontsize=9)
        if l >= 1:
            ax.text(2.45, l + 0.3, f"D{l}", ha="left", va="center", fontsize=9)
    shown = len(order)
    handles = [Line2D([], [], color=COLORS[p], label=p) for p in "WBUV"]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=4, frameon=False)
    ax.set_xlim(-0.2, 2.6)
    ax.set_ylim(-0.5, len(sizes) - 0.4)
    ax.axis("off")
    note = f"{shown} of {len(edges)} synapses drawn" if shown < len(edges) else f"{len(edges)} synapses"
    ax.set_title(f"{title + ': ' if title else ''}ascending (A) and descending (D) streams, {note}", fontsize=10)
    return _save(fig, path)


def plot_feedback_heatmaps(snapshots, path, title=None):
    """W_l^T beside its effective feedback M_l = V_{l-1} B_l U_l, first and last snapshot.

    One row per (layer, snapshot), each matrix scaled by its largest ``|entry|``
    (colour range -1 .. 1), the angle between the two in the row title.
    Needs L >= 2 (a circuit with one layer has no feedback pathway).
    """
    L = snapshots.n_layers
    if L < 2:
        raise ValueError("feedback heatmaps need at least two layers (sizes [n0, n1, n2]); this circuit has no feedback")
    picks = [0, len(snapshots.steps) - 1] if len(snapshots.steps) > 1 else [0]
    nrows = (L - 1) * len(picks)
    fig, axes = plt.subplots(nrows, 2, figsize=(7, 3.2 * nrows), squeeze=False)
    row = 0
    for l in range(2, L + 1):
        for k in picks:
            w = snapshots.at(k)
            Wt, M = w[f"W{l}"].T, effective_feedback(w, l - 1)
            for ax, mat, name in ((axes[row, 0], Wt, f"W{l}^T"), (axes[row, 1], M, f"M{l} = V{l-1} B{l} U{l}")):
                scale = np.max(np.abs(mat)) or 1.0
                im = ax.imshow(mat / scale, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
                ax.set_title(f"{name}, step {int(snapshots.steps[k])}", fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])
            axes[row, 0].set_ylabel(f"angle {angle(Wt, M):.1f} deg", fontsize=9)
            row += 1
    fig.colorbar(im, ax=axes, shrink=0.6, label="entry / max |entry|")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _motif_series(motif_rows, key):
    layers = sorted({int(l) for r in motif_rows for l in r["layers"]})
    return {l: np.array([_num(r["layers"].get(l, r["layers"].get(str(l), {})).get(key)) for r in motif_rows]) for l in layers}


def _num(x):
    return float("nan") if x is None else float(x)


def plot_timecourse(align_rows, motif_rows, path, title=None):
    """Alignment angles, motif statistics and U's orthogonality of one preset over training (3 x 2 panels).

    Parameters
    ----------
    align_rows : list of dict
        :func:`~selfassembly.analysis.timecourse.alignment_timecourse`.
    motif_rows : list of dict
        :func:`~selfassembly.analysis.timecourse.motif_timecourse`.
    path : str or Path
    """
    steps_a = [r["step"] for r in align_rows]
    steps_m = [r["step"] for r in motif_rows]
    fig, axes = plt.subplots(3, 2, figsize=(10, 10), sharex=True)
    ax = axes[0, 0]
    for l, y in series(align_rows, "ff_angle_").items():
        ax.plot(steps_a, y, marker=".", label=f"W{l}^T vs M{l}")
    for l, y in series(align_rows, "cross_angle_").items():
        ax.plot(steps_a, y, ls="--", marker=".", label=f"V{l} vs U{l}^T")
    ax.axhline(90, color="k", ls=":", lw=0.8)  # random matrices
    ax.set(ylabel="angle (deg)", ylim=(0, 180 if ax.get_ylim()[1] > 95 else 95), title="forward-feedback and cross-stream angles")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    grad = series(align_rows, "grad_angle_")
    for l, y in grad.items():
        ax.plot(steps_a, y, marker=".", label=f"dW{l}")
    ax.set(ylabel="angle (deg)", title="gradient alignment (vs backprop)")
    if grad:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no held-out data", transform=ax.transAxes, ha="center")
    ax = axes[1, 0]
    for l, y in _motif_series(motif_rows, "ratio").items():
        ax.plot(steps_m, y, marker=".", label=f"layers {l - 1}-{l}")
    ax.axhline(1.0, color="k", ls=":", lw=0.8)
    ax.set(xlabel="presentations", ylabel="observed / null mean", title="loop count over-representation")
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    for l, y in _motif_series(motif_rows, "weighted_z").items():
        ax.plot(steps_m, y, marker=".", label=f"weighted, layers {l - 1}-{l}")
    for l, y in _motif_series(motif_rows, "z").items():
        ax.plot(steps_m, y, ls="--", marker=".", label=f"count, layers {l - 1}-{l}")
    ax.axhline(0, color="k", ls=":", lw=0.8)
    ax.set_yscale("symlog", linthresh=3)
    ax.set(xlabel="presentations", ylabel="z against shuffled null", title="motif z-score")
    ax.legend(fontsize=7)
    ax = axes[2, 0]
    for l, y in series(align_rows, "u_orth_").items():
        ax.plot(steps_a, y, marker=".", label=f"U{l}")
    ax.set(xlabel="presentations", ylabel="||U^T U / mean diag - I|| / sqrt(n)", title="orthogonality of U (0 = orthogonal)")
    ax.legend(fontsize=7)
    ax = axes[2, 1]
    for l, y in series(align_rows, "u_cond_").items():
        ax.plot(steps_a, y, marker=".", label=f"U{l}")
    ax.set_yscale("log")
    ax.set(xlabel="presentations", ylabel="condition number", title="condition number of U (1 = orthogonal)")
    ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_overview(per_preset, path):
    """Verdict measures of every preset over training.

    Parameters
    ----------
    per_preset : dict of str -> dict
        ``{preset: {"steps": [...], "ff_angle": [...], "cross_angle": [...],
        "weighted_z": [...]}}``: the worst layer at each snapshot (largest
        angle, smallest z).
    """
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, d in per_preset.items():
        axes[0].plot(d["steps"], d["ff_angle"], marker=".", label=name)
        axes[1].plot(d["steps"], d["cross_angle"], marker=".", label=name)
        axes[2].plot(d["steps"], d["weighted_z"], marker=".", label=name)
    axes[0].set(title="forward-feedback angle (worst layer)", ylabel="deg", xlabel="presentations")
    axes[1].set(title="cross-stream angle (worst layer)", ylabel="deg", xlabel="presentations")
    axes[2].set(title="weighted motif z (worst layer)", ylabel="z", xlabel="presentations")
    axes[2].set_yscale("symlog", linthresh=3)
    for ax in axes[:2]:
        ax.axhline(90, color="k", ls=":", lw=0.8)  # random matrices
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)
