"""Alignment and motif measures as time courses over a run's weight snapshots.

Each function maps the single-snapshot measures of
:mod:`~selfassembly.analysis.alignment` and :mod:`~selfassembly.analysis.motifs`
over the snapshots of one preset (:class:`~selfassembly.io.Snapshots`) and
returns one row per snapshot, ready for :func:`selfassembly.io.write_csv` or
JSON.
"""
from __future__ import annotations

import numpy as np

from .alignment import (cross_stream_angles, feedback_scale, forward_feedback_angles, gradient_alignment, u_condition,
                        u_orthogonality)
from .motifs import motif_statistics

__all__ = ["alignment_timecourse", "motif_timecourse", "series"]


def alignment_timecourse(snapshots, X=None, Y=None, f="tanh", output="softmax"):
    """Alignment angles (degrees) at every snapshot.

    Parameters
    ----------
    snapshots : selfassembly.io.Snapshots
    X, Y : ndarray, optional
        Held-out stimuli (N, n_0) and one-hot targets (N, n_L) for the
        gradient alignment; without them that column is left out.
    f, output : str
        Hidden activation and output of the circuit (as in the run's config).

    Returns
    -------
    list of dict
        One row per snapshot with ``step`` and, per layer,
        ``ff_angle_{l}`` = angle(W_l^T, M_l), M_l = V_{l-1} B_l U_l (l = 2..L);
        ``cross_angle_{l}`` = angle(V_l, U_l^T) (l = 1..L);
        ``fb_scale_{l}`` = ||M_l|| / ||W_l^T|| (l = 2..L; :func:`~selfassembly.analysis.alignment.feedback_scale`);
        ``u_orth_{l}`` and ``u_cond_{l}``: U_l's distance from orthogonal and
        its condition number (:func:`~selfassembly.analysis.alignment.u_orthogonality`);
        ``grad_angle_{l}`` = angle between the circuit's -e_l r_{l-1}^T and
        the backprop gradient, summed over the samples (l = 1..L).

    Examples
    --------
    >>> from selfassembly.io import Snapshots
    >>> rng = np.random.default_rng(0)
    >>> W2 = rng.normal(size=(3, 4))
    >>> w = {"W1": rng.normal(size=(4, 2)), "W2": W2, "B2": W2.T, "U1": np.eye(4), "U2": np.eye(3),
    ...      "V1": np.eye(4), "V2": np.eye(3)}
    >>> s = Snapshots([2, 4, 3], np.array([0]), {k: v[None] for k, v in w.items()})
    >>> alignment_timecourse(s)
    [{'step': 0, 'ff_angle_2': 0.0, 'cross_angle_1': 0.0, 'cross_angle_2': 0.0, 'fb_scale_2': 1.0, 'u_orth_1': 0.0, 'u_orth_2': 0.0, 'u_cond_1': 1.0, 'u_cond_2': 1.0}]
    """
    from ..io import Snapshots

    if not isinstance(snapshots, Snapshots):
        raise TypeError(f"snapshots must be a selfassembly.io.Snapshots (e.g. from load_snapshots), got "
                        f"{type(snapshots).__name__}")
    if (X is None) != (Y is None):
        raise ValueError("give both X and Y (held-out stimuli and targets) for the gradient alignment, or neither")
    rows = []
    for k, step in enumerate(snapshots.steps):
        w = snapshots.at(k)
        row = {"step": int(step)}
        row.update({f"ff_angle_{l}": a for l, a in forward_feedback_angles(w).items()})
        row.update({f"cross_angle_{l}": a for l, a in cross_stream_angles(w).items()})
        row.update({f"fb_scale_{l}": a for l, a in feedback_scale(w).items()})
        row.update({f"u_orth_{l}": v for l, v in u_orthogonality(w).items()})
        row.update({f"u_cond_{l}": v for l, v in u_condition(w).items()})
        if X is not None:
            row.update({f"grad_angle_{l}": a for l, a in gradient_alignment(w, X, Y, f, output).items()})
        rows.append(row)
    return rows


def motif_timecourse(snapshots, threshold=None, density=None, n_null=20, seed=0, n_rounds=10):
    """:func:`~selfassembly.analysis.motifs.motif_statistics` at every snapshot.

    The same ``seed`` is used at every snapshot, so that differences between
    snapshots come from the weights, not from the null circuits drawn.

    Returns
    -------
    list of dict
        ``{"step": int, "layers": {l: stats}, "total": stats}`` per snapshot.
    """
    out = []
    for k, step in enumerate(snapshots.steps):
        st = motif_statistics(
            snapshots.at(k), threshold=threshold, density=density, masks=snapshots.masks,
            n_null=n_null, seed=seed, n_rounds=n_rounds,
        )
        out.append({"step": int(step), **st})
    return out


def series(rows, prefix):
    """Pull per-layer columns ``{prefix}{l}`` out of rows as ``{l: ndarray}``.

    >>> series([{"step": 0, "ff_angle_2": 90.0}, {"step": 5, "ff_angle_2": 30.0}], "ff_angle_")
    {2: array([90., 30.])}
    """
    layers = sorted({int(k[len(prefix):]) for r in rows for k in r if k.startswith(prefix) and k[len(prefix):].isdigit()})
    return {l: np.array([r.get(f"{prefix}{l}", np.nan) for r in rows], dtype=float) for l in layers}
