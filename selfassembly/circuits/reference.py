"""Read-out of MODEL.md's sample-clocked signals in plain numpy.

The forward pass, the descending sweep of one presentation, losses, accuracy
and true backprop gradients, written directly from MODEL.md with none of the
Brian2 code: the tests hold the Brian2 circuit's signals against :func:`sweep`,
and every weight snapshot is evaluated here (test accuracy, loss, gradient
alignment). Training runs on an engine (:mod:`selfassembly.circuits.engines`);
the plasticity rules' readable transcription lives with the tests
(``tests/model_reference.py``).

Signals of one presentation (MODEL.md, "Signals")::

    h_l = W_l r_{l-1},  r_l = f(h_l)          (output: identity or softmax)
    e_L = r_L - y
    d_L = U_L e_L
    p_l = B_{l+1} d_{l+1},  m_l = V_l p_l,  e_l = f'(h_l) * m_l,  d_l = U_l e_l

Weights are dicts keyed by population name (``"W1"``, ``"B2"``, ``"U1"``,
``"V1"``, ...; see :func:`selfassembly.io.population_names`). V_L, the top
layer's apical synapse, carries no error (e_L comes from the teacher) but
assembles with U_L like every other pair.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "OUTPUTS",
    "activation",
    "forward",
    "sweep",
    "loss",
    "evaluate",
    "backprop_gradients",
]


def _relu_prime(h):
    return (h > 0).astype(float)


#: name -> (f, f')
ACTIVATIONS = {
    "tanh": (np.tanh, lambda h: 1.0 - np.tanh(h) ** 2),
    "relu": (lambda h: np.maximum(h, 0.0), _relu_prime),
}

OUTPUTS = ("softmax", "linear")


def activation(name):
    """Return ``(f, f')`` for an activation name, or raise naming the valid ones."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; valid names: {sorted(ACTIVATIONS)}") from None


def _softmax(h):
    z = np.exp(h - np.max(h, axis=-1, keepdims=True))
    return z / np.sum(z, axis=-1, keepdims=True)


def forward(weights, x, f="tanh", output="softmax"):
    """Forward sweep ``h_l = W_l r_{l-1}``, ``r_l = f(h_l)``.

    Parameters
    ----------
    weights : dict
        Must hold ``W1 .. WL``.
    x : ndarray, shape (n_0,) or (N, n_0)
        Stimulus (one or a batch).
    f : str
        Hidden activation, ``"tanh"`` or ``"relu"``.
    output : str
        ``"softmax"`` or ``"linear"``.

    Returns
    -------
    h, r : list of ndarray
        ``h[l]`` and ``r[l]`` for l = 0..L (``h[0]`` is None, ``r[0] = x``).
    """
    fn, _ = activation(f)
    L = sum(1 for k in weights if k.startswith("W"))
    r = [np.asarray(x, dtype=float)]
    h = [None]
    for l in range(1, L + 1):
        hl = r[-1] @ weights[f"W{l}"].T
        h.append(hl)
        if l < L:
            r.append(fn(hl))
        else:
            r.append(_softmax(hl) if output == "softmax" else hl)
    return h, r


def sweep(weights, x, y, f="tanh", output="softmax"):
    """All signals of one presentation (forward and descending).

    Returns
    -------
    dict of lists indexed by layer l (entries not defined by MODEL.md are None):
    ``h, r, e, m, p, d``. ``d[l] = U_l e_l`` is D_l's rate (``q_l`` in MODEL.md).
    """
    _, fprime = activation(f)
    h, r = forward(weights, x, f, output)
    L = len(h) - 1
    e = [None] * (L + 1)
    m = [None] * (L + 1)
    p = [None] * (L + 1)
    d = [None] * (L + 1)
    e[L] = r[L] - y
    d[L] = weights[f"U{L}"] @ e[L]
    for l in range(L - 1, 0, -1):
        p[l] = weights[f"B{l + 1}"] @ d[l + 1]
        m[l] = weights[f"V{l}"] @ p[l]
        e[l] = fprime(h[l]) * m[l]
        d[l] = weights[f"U{l}"] @ e[l]
    return {"h": h, "r": r, "e": e, "m": m, "p": p, "d": d}


def loss(r_out, y, output="softmax"):
    """Mean loss over a batch: cross-entropy for softmax, 0.5*||r - y||^2 for linear."""
    r_out = np.atleast_2d(r_out)
    y = np.atleast_2d(y)
    if output == "softmax":
        return float(-np.mean(np.sum(y * np.log(np.clip(r_out, 1e-300, None)), axis=1)))
    return float(0.5 * np.mean(np.sum((r_out - y) ** 2, axis=1)))


def evaluate(weights, X, Y, f="tanh", output="softmax"):
    """Loss and accuracy of the forward pathway on a labelled set (one-hot ``Y``)."""
    from ..io import check_samples, check_weights

    weights, sizes = check_weights(weights)
    X, Y = check_samples(X, Y, sizes[0], sizes[-1])
    _, r = forward(weights, X, f, output)
    acc = float(np.mean(np.argmax(r[-1], axis=1) == np.argmax(Y, axis=1)))
    return loss(r[-1], Y, output), acc


def backprop_gradients(weights, x, y, f="tanh", output="softmax"):
    """True gradients dLoss/dW_l of one sample, by backpropagation.

    For softmax with cross-entropy and for linear with squared error the output
    error is ``r_L - y``; hidden errors are ``f'(h_l) * W_{l+1}^T e_{l+1}``.
    """
    _, fprime = activation(f)
    h, r = forward(weights, x, f, output)
    L = len(h) - 1
    e = r[L] - y
    grads = {}
    for l in range(L, 0, -1):
        grads[f"W{l}"] = np.outer(e, r[l - 1])
        if l > 1:
            e = fprime(h[l - 1]) * (weights[f"W{l}"].T @ e)
    return grads
