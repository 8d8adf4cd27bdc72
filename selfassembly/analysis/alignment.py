"""Alignment measures of MODEL.md ("What self-assembled means, measured").

* forward-feedback alignment: the angle between W_{l+1}^T and the effective
  feedback M_{l+1} = V_l B_{l+1} U_{l+1} (0 deg assembled, 90 deg random);
* cross-stream reciprocity: the angle between V_l and U_l^T;
* gradient alignment: the angle between the circuit's dW_l and the true
  backprop gradient on the same samples;
* orthogonality of U: ``||U_l^T U_l / mean(diag) - I||_F / sqrt(n_l)`` (0 for
  an orthogonal U up to scale) and U_l's condition number.

Angles between matrices use the Frobenius inner product,
``angle(A, B) = arccos(<A, B>_F / (|A|_F |B|_F))`` in degrees.
"""
from __future__ import annotations

import numpy as np

from ..circuits import reference as ref
from ..io import check_samples, check_weights

__all__ = [
    "angle",
    "effective_feedback",
    "forward_feedback_angles",
    "cross_stream_angles",
    "feedback_scale",
    "gradient_alignment",
    "u_orthogonality",
    "u_condition",
]


def angle(a, b):
    """Angle in degrees between two arrays of the same shape (Frobenius inner product).

    Returns NaN if either array is all zeros.

    >>> angle(np.eye(2), np.eye(2))
    0.0
    >>> round(angle(np.array([1.0, 0.0]), np.array([0.0, 3.0])), 6)
    90.0
    """
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of different shapes {a.shape} and {b.shape}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    a, b = a / na, b / nb
    # 2 atan2(|a - b|, |a + b|) is accurate near 0 and 180 degrees, unlike arccos
    return float(np.degrees(2 * np.arctan2(np.linalg.norm(a - b), np.linalg.norm(a + b))))


def _layers(weights):
    return sum(1 for k in weights if k.startswith("W"))


def _checked(weights, need):
    """``weights`` as float arrays whose shapes fit together, and L (or an error naming the population)."""
    weights, sizes = check_weights(weights, need=need)
    return weights, len(sizes) - 1


def effective_feedback(weights, l):
    """M_{l+1} = V_l B_{l+1} U_{l+1}: what D carries from e_{l+1} to A_l's apical input.

    ``l`` is the lower layer (1 .. L-1); the result has the shape of W_{l+1}^T.
    """
    return weights[f"V{l}"] @ weights[f"B{l + 1}"] @ weights[f"U{l + 1}"]


def forward_feedback_angles(weights):
    """Angle between W_{l+1}^T and M_{l+1} for l = 1 .. L-1, as ``{l + 1: degrees}``."""
    weights, L = _checked(weights, "WBUV")
    return {l + 1: angle(weights[f"W{l + 1}"].T, effective_feedback(weights, l)) for l in range(1, L)}


def feedback_scale(weights):
    """||M_{l+1}||_F / ||W_{l+1}^T||_F for l = 1 .. L-1, as ``{l + 1: ratio}``: how much the effective
    feedback M = V_l B_{l+1} U_{l+1} amplifies the error it carries down, relative to backprop's W^T
    (1 for backprop). Over several layers the ratios multiply.

    >>> w = {"W1": np.eye(2), "W2": np.eye(2), "B2": 3 * np.eye(2), "U1": np.eye(2), "U2": np.eye(2),
    ...      "V1": 0.5 * np.eye(2), "V2": np.eye(2)}
    >>> feedback_scale(w)
    {2: 1.5}
    """
    L = _layers(weights)
    return {l + 1: round(float(np.linalg.norm(effective_feedback(weights, l)) / np.linalg.norm(weights[f"W{l + 1}"])), 6)
            for l in range(1, L)}


def cross_stream_angles(weights):
    """Angle between V_l and U_l^T for l = 1 .. L, as ``{l: degrees}``."""
    weights, L = _checked(weights, "WUV")
    return {l: angle(weights[f"V{l}"], weights[f"U{l}"].T) for l in range(1, L + 1)}


def u_orthogonality(weights):
    """How far each U_l is from orthogonal (up to scale), as ``{l: value}``.

    .. math:: \\frac{\\| U_l^T U_l / \\overline{\\mathrm{diag}}(U_l^T U_l) - I \\|_F}{\\sqrt{n_l}}

    0 for an orthogonal matrix times any scale; about 1 for a square Gaussian
    matrix (its Gram matrix has off-diagonal entries of size 1/sqrt(n)); NaN
    for U = 0.

    >>> u_orthogonality({"W1": np.eye(2), "U1": 3 * np.eye(2)})
    {1: 0.0}
    """
    out = {}
    weights, L = _checked(weights, "WU")
    for l in range(1, L + 1):
        U = weights[f"U{l}"]
        G = U.T @ U
        scale = np.mean(np.diag(G))
        out[l] = float(np.linalg.norm(G / scale - np.eye(len(G))) / np.sqrt(len(G))) if scale > 0 else float("nan")
    return out


def u_condition(weights):
    """Condition number (largest / smallest singular value) of each U_l, as ``{l: value}``.

    1 for an orthogonal U; inf for a singular one.

    >>> u_condition({"W1": np.eye(2), "U1": np.diag([1.0, 0.5])})
    {1: 2.0}
    """
    weights, L = _checked(weights, "WU")
    return {l: float(np.linalg.cond(weights[f"U{l}"])) for l in range(1, L + 1)}


def gradient_alignment(weights, X, Y, f="tanh", output="softmax"):
    """Angle between the circuit's weight change and the backprop gradient, per layer.

    The circuit's change is the (negated, decay-free) W part of MODEL.md's rule,
    ``-e_l r_{l-1}^T``, summed over the samples; the gradient is
    :func:`~selfassembly.circuits.reference.backprop_gradients` summed over the
    same samples. Returns ``{l: degrees}``; 0 for backprop itself.
    """
    weights, sizes = check_weights(weights)
    L = len(sizes) - 1
    X, Y = check_samples(X, Y, sizes[0], sizes[-1])
    circuit = {l: 0.0 for l in range(1, L + 1)}
    true = {l: 0.0 for l in range(1, L + 1)}
    for x, y in zip(np.atleast_2d(X), np.atleast_2d(Y)):
        sig = ref.sweep(weights, x, y, f, output)
        grads = ref.backprop_gradients(weights, x, y, f, output)
        for l in range(1, L + 1):
            circuit[l] = circuit[l] + np.outer(sig["e"][l], sig["r"][l - 1])
            true[l] = true[l] + grads[f"W{l}"]
    return {l: angle(circuit[l], true[l]) for l in range(1, L + 1)}
