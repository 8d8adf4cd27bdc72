"""Turning weights into connections: thresholds by value or by density.

Anatomy counts a connection as present or absent; the model has graded
weights. Every statistic that counts connections (motifs, reciprocity,
triads) first keeps the strongest synapses with one of these functions.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["strong_synapses", "density_threshold"]


def density_threshold(weights, density, mask=None):
    """The ``|weight|`` above which (about) a fraction ``density`` of the possible synapses lie.

    Synapses tied with the weakest one kept are all kept, so the density kept can
    exceed ``density`` when weights repeat; zero weights are never kept.

    Parameters
    ----------
    weights : ndarray
    density : float in (0, 1]
        Fraction of possible synapses (entries of ``weights``, or of ``mask``
        where given) to keep.
    mask : ndarray of bool, optional
        Synapses that exist; absent ones never count as connections.

    Examples
    --------
    >>> w = np.array([[0.1, -0.5], [0.3, 0.0]])
    >>> strong_synapses(w, threshold=density_threshold(w, 0.5))
    array([[False,  True],
           [ True, False]])
    >>> int(strong_synapses(np.eye(4), density=0.1).sum())  # ties kept
    4
    """
    density = float(density)
    if not 0 < density <= 1:
        raise InputError(f"density must be in (0, 1], got {density}; it is the fraction of possible synapses kept")
    mags = np.abs(np.asarray(weights, dtype=float))
    if mask is not None:
        mags = mags[np.asarray(mask, dtype=bool)]
    mags = np.sort(mags.ravel())[::-1]
    if mags.size == 0:
        raise ValueError("no synapses to threshold")
    k = max(1, int(round(density * mags.size)))
    # just below the k-th largest |weight|: synapses tied with it are all kept (an identity
    # matrix at any density keeps its whole diagonal); zero weights never count
    return max(float(np.nextafter(mags[k - 1], -np.inf)), 0.0)


def strong_synapses(weights, threshold=None, density=None, mask=None):
    """Boolean adjacency of synapses with ``|weight|`` strictly above a threshold.

    Give exactly one of ``threshold`` (a value) or ``density`` (fraction of
    possible synapses to keep, see :func:`density_threshold`).

    >>> strong_synapses(np.array([[0.1, -0.5], [0.3, 0.0]]), threshold=0.2)
    array([[False,  True],
           [ True, False]])
    """
    if (threshold is None) == (density is None):
        raise ValueError("give exactly one of threshold (a weight value) or density (a fraction in (0, 1])")
    weights = np.asarray(weights, dtype=float)
    if density is not None:
        threshold = density_threshold(weights, density, mask)
    threshold = float(threshold)
    if threshold < 0:
        raise InputError(f"threshold must be >= 0 (it applies to |weight|), got {threshold}")
    strong = np.abs(weights) > threshold
    if mask is not None:
        strong &= np.asarray(mask, dtype=bool)
    return strong
