"""The plasticity rules of MODEL.md as a readable transcription, for the tests only."""
import numpy as np

__all__ = ["plasticity_step"]


def plasticity_step(weights, signals, rules, xi=None):
    """One presentation's weight change, as MODEL.md writes it.

    A readable transcription, one equation a line, kept apart from both
    engines (the Brian2 circuit and :mod:`selfassembly.circuits.numpy_engine`)
    so that the tests can hold each of them against something written
    independently of it: a wrong sign or transpose in one engine cannot hide
    behind the same mistake in the other.

    .. math::

        \\Delta W_l &= -\\eta\\, e_l r_{l-1}^T - \\eta\\lambda W_l \\\\
        \\Delta B_{l+1} &= -\\eta\\, (U_l r_l)\\, d_{l+1}^T - \\eta\\lambda B_{l+1}
            \\quad\\text{(task; tied: } B_{l+1} = W_{l+1}^T \\text{ or sign)} \\\\
        \\Delta B_{l+1} &= \\eta_b (s_l u_{l+1}^T - \\lambda_b B_{l+1}),\\quad
            u_{l+1} = U_{l+1} W_{l+1} \\xi_l \\quad\\text{(loop mirror)} \\\\
        \\Delta V_l &= \\eta_c (\\xi_l s_l^T - \\lambda_c V_l) \\quad\\text{(mirror)},\\qquad
        \\Delta U_l = \\eta_u\\, s_l (\\xi_l - a_l)^T \\quad\\text{(reconstruct)}

    with s_l = U_l xi_l and a_l = V_l s_l; every change reads the weights
    before the step.

    Parameters
    ----------
    weights : dict
        Current weights (not modified).
    signals : dict
        Output of :func:`sweep` for this presentation.
    rules : selfassembly.plasticity.RuleSet
        Which populations learn and how, with eta, lambda, eta_c, lambda_c, eta_u.
    xi : dict of int -> ndarray, optional
        Spontaneous activity xi_l in A_l, l = 1..L, for the ``mirror`` and
        ``reconstruct`` rules.

    Returns
    -------
    dict
        New weights. Absent synapses (``masks``) are not handled here: the
        caller multiplies by the mask if the circuit is sparse.
    """
    r, e, d = signals["r"], signals["e"], signals["d"]
    L = len(r) - 1
    eta, lam = rules.forward.eta, rules.forward.lam
    new = dict(weights)
    for l in range(1, L + 1):
        W = weights[f"W{l}"]
        new[f"W{l}"] = W - eta * np.outer(e[l], r[l - 1]) - eta * lam * W
    for l in range(1, L):
        kind = rules.feedback.kind
        if kind == "fixed":
            continue
        if kind in ("transpose", "sign"):
            Wt = new[f"W{l + 1}"].T
            new[f"B{l + 1}"] = Wt if kind == "transpose" else np.sign(Wt)
            continue
        B = weights[f"B{l + 1}"]
        change = np.zeros_like(B)
        if rules.feedback.task:
            ur = weights[f"U{l}"] @ r[l]
            change += -eta * np.outer(ur, d[l + 1]) - eta * lam * B
        if rules.feedback.mirror:
            s = weights[f"U{l}"] @ xi[l]  # xi_l as it reaches D_l
            u = weights[f"U{l + 1}"] @ (weights[f"W{l + 1}"] @ xi[l])  # ... and after one trip up W and across U
            change += rules.feedback.eta_b * (np.outer(s, u) - rules.feedback.lam_b * B)
        new[f"B{l + 1}"] = B + change
    cross = rules.cross
    eta_c, lam_c = cross.eta_c, cross.lam_c
    for l in range(1, L + 1):
        U, V = weights[f"U{l}"], weights[f"V{l}"]
        if cross.needs_noise:
            s = U @ xi[l]  # spontaneous activity of A_l as it reaches D_l
        if cross.v == "mirror":
            new[f"V{l}"] = V + eta_c * (np.outer(xi[l], s) - lam_c * V)
        elif cross.v == "hebbian":
            new[f"V{l}"] = V + eta_c * (np.outer(r[l], d[l]) - lam_c * V)
        if cross.u == "reconstruct":
            a = V @ s  # and as it comes back to A_l's apical dendrite
            new[f"U{l}"] = U + cross.eta_u * np.outer(s, xi[l] - a)
        elif cross.u == "hebbian":
            new[f"U{l}"] = U + eta_c * (np.outer(d[l], r[l]) - lam_c * U)
    return new
