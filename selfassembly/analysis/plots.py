"""Training curves: test accuracy, forward-feedback angle and U's orthogonality per preset (PNG).

A run with a schedule (``[[phases]]``; metric rows with a ``phase`` column) has each phase
boundary marked on every panel: a dotted line at the epoch where a phase starts, and its name.
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_training", "training_figures", "png_bytes", "save_png", "phase_marks", "mark_phases"]

_LINESTYLES = ["-", "--", ":", "-."]


def _series(rows, preset, key):
    pts = [(float(r["epoch"]), float(r[key])) for r in rows if r["preset"] == preset and r.get(key) not in (None, "")]
    return [p[0] for p in pts], [p[1] for p in pts]


def phase_marks(rows):
    """Where the phases of a scheduled run start, from its metric rows: ``[(epoch, name), ...]``.

    The first phase starts at epoch 0. A snapshot at a phase's last presentation belongs to that
    phase, and phases last whole epochs, so the next starts at the ceiling of the epoch of the
    last snapshot of the one before. Rows without a ``phase`` column give ``[]``.

    >>> phase_marks([{"preset": "a", "epoch": "0", "phase": "x"}, {"preset": "a", "epoch": "1.5", "phase": "x"},
    ...              {"preset": "a", "epoch": "2.5", "phase": "y"}])
    [(0.0, 'x'), (2.0, 'y')]
    """
    import math

    rows = [r for r in rows if r.get("phase") not in (None, "")]
    if not rows:
        return []
    first = rows[0]["preset"]
    rows = [r for r in rows if r["preset"] == first]
    marks = [(0.0, rows[0]["phase"])]
    for prev, row in zip(rows, rows[1:]):
        if row["phase"] != prev["phase"]:
            marks.append((float(math.ceil(float(prev["epoch"]) - 1e-9)), row["phase"]))
    return marks


def mark_phases(ax, marks, label=True):
    """Draw phase boundaries (:func:`phase_marks`) on ``ax``: dotted lines and, if ``label``, the names."""
    for k, (epoch, name) in enumerate(marks):
        if k:
            ax.axvline(epoch, color="black", lw=0.8, ls=":")
        if label:
            ax.text(epoch, 0.97, f" {name}", transform=ax.get_xaxis_transform(), fontsize=7, va="top",
                    ha="left", rotation=90, color="dimgrey")


def plot_training(rows, out):
    """Write ``accuracy.png`` and ``alignment.png`` into ``out`` from metric rows (atomically).

    Parameters
    ----------
    rows : list of dict
        Rows of ``metrics.csv`` (values may be strings, as read back by csv).
    out : path
        Folder to write into.

    Returns
    -------
    list of Path
        The files written.
    """
    from ..io import atomic_write_bytes

    paths = []
    for name, png in training_figures(rows).items():
        paths.append(Path(out) / name)
        atomic_write_bytes(paths[-1], png)
    return paths


def png_bytes(fig, dpi=110, **savefig_kw):
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, **savefig_kw)
    plt.close(fig)
    return buf.getvalue()


def save_png(fig, path, dpi=110, **savefig_kw):
    """Write the figure as PNG atomically (the one way every plot of the project is saved); returns the path."""
    from ..io import atomic_write_bytes

    atomic_write_bytes(path, png_bytes(fig, dpi, **savefig_kw))
    return Path(path)


def training_figures(rows):
    """``{"accuracy.png": bytes, "alignment.png": bytes}`` from metric rows.

    Rendering takes most of a second; a sweep has its workers do it, and its
    client only writes the bytes (:func:`selfassembly.sweep.execute.run_sweep`).
    """
    figures = {}
    marks = phase_marks(rows)
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    colors = {p: f"C{k}" for k, p in enumerate(presets)}

    error = any("test_error" in r for r in rows)  # the reconstruction task: lower is better
    fig, ax = plt.subplots(figsize=(6, 4))
    for p in presets:
        ax.plot(*_series(rows, p, "test_error" if error else "test_acc"), color=colors[p], marker="o", ms=3, label=p)
    ax.set_xlabel("epoch")
    if error:
        floor = next(float(r["mean_predictor_error"]) for r in rows if "mean_predictor_error" in r)
        ax.axhline(floor, color="grey", lw=0.8, ls="--", label="predicting the mean")
        ax.set_ylabel("test squared error per sample")
        ax.set_ylim(bottom=0)
        ax.set_title("Learning: reconstruction error over training")
    else:
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1)
        ax.set_title("Learning: test accuracy over training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    mark_phases(ax, marks)
    fig.tight_layout()
    figures["accuracy.png"] = png_bytes(fig, dpi=120)

    angle_keys = sorted({k for r in rows for k in r if k.startswith("ff_angle_")})
    orth_keys = sorted({k for r in rows for k in r if k.startswith("u_orth_")})
    scale_keys = sorted({k for r in rows for k in r if k.startswith("fb_scale_")})
    fig, (ax, ax_u, ax_s) = plt.subplots(1, 3, figsize=(16, 4))
    for p in presets:
        for k, key in enumerate(angle_keys):
            layer = key.split("_")[-1]
            ax.plot(*_series(rows, p, key), color=colors[p], ls=_LINESTYLES[k % 4],
                    label=f"{p}, W{layer}" if len(angle_keys) > 1 else p)
        for k, key in enumerate(orth_keys):
            ax_u.plot(*_series(rows, p, key), color=colors[p], ls=_LINESTYLES[k % 4],
                      label=f"{p}, U{key.split('_')[-1]}")
        for k, key in enumerate(scale_keys):
            ax_s.plot(*_series(rows, p, key), color=colors[p], ls=_LINESTYLES[k % 4],
                      label=f"{p}, M{key.split('_')[-1]}")
    ax.axhline(90, color="grey", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("angle between W^T and V B U (degrees)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Self-assembly: forward-feedback alignment")
    ax_u.set_xlabel("epoch")
    ax_u.set_ylabel("||U^T U / mean diag - I||_F / sqrt(n)")
    ax_u.set_ylim(bottom=0)
    ax_u.grid(alpha=0.3)
    ax_u.legend(fontsize=6, ncol=2)
    ax_u.set_title("Orthogonality of U (0 = orthogonal)")
    ax_s.axhline(1, color="grey", lw=0.8)
    ax_s.set_xlabel("epoch")
    ax_s.set_ylabel("||V B U|| / ||W^T||")
    if scale_keys:
        ax_s.set_yscale("log")
    ax_s.grid(alpha=0.3)
    ax_s.legend(fontsize=6, ncol=2)
    ax_s.set_title("Scale of the feedback (1 = backprop's)")
    for a in (ax, ax_u, ax_s):
        mark_phases(a, marks)
    fig.tight_layout()
    figures["alignment.png"] = png_bytes(fig, dpi=120)
    return figures
