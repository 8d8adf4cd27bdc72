"""Plasticity rules of the four-synapse circuit as small declarative objects.

A rule says *what* changes and by how much per presentation, as a Brian2
expression in the synapse's own variables; the circuit builder
(:mod:`selfassembly.circuits.network`) decides *how* it is integrated: added
once per presentation in the sample-clocked mode, or integrated continuously
with time constant ``tau_w = T_present / eta`` in the dynamic mode.

All rules are local: a presynaptic signal times a postsynaptic one, plus decay.
Variable names in the expressions are those of the Brian2 groups:

* ascending cell A_l: ``r`` (rate), ``err`` (local error e_l; ``e`` is a Brian2 constant), ``spont`` (spontaneous activity xi_l; ``xi`` is reserved by Brian2)
* descending cell D_l: ``d`` (rate, = q), ``q_r`` (U_l r_l, the rate copy carried by U),
  ``q_spont`` (U_l xi_l, the spontaneous copy carried by U)
* synaptic weights: ``w`` (W), ``b`` (B), ``u`` (U), ``v`` (V)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ForwardRule", "FeedbackRule", "CrossStreamRule", "check_number"]


def check_number(name, value, *, positive=False, nonnegative=False):
    """Return ``float(value)`` or raise a ValueError naming the parameter and the fix."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


@dataclass(frozen=True)
class ForwardRule:
    """Heterosynaptic rule of the ascending weights W_l.

    .. math:: \\Delta W_l = -\\eta\\, e_l r_{l-1}^T - \\eta\\lambda W_l

    The modifying signal e_l arrives at the apical dendrite of A_l through V_l.
    """

    eta: float
    lam: float

    def __post_init__(self):
        object.__setattr__(self, "eta", check_number("eta", self.eta, nonnegative=True))
        object.__setattr__(self, "lam", check_number("lam", self.lam, nonnegative=True))

    #: Brian2 expression of the change per presentation of one W synapse
    change = "-eta * (err_post * r_pre + lam * w)"

    def parameters(self):
        return {"eta": self.eta, "lam": self.lam}


FEEDBACK_KINDS = ("plastic", "fixed", "transpose", "sign")


@dataclass(frozen=True)
class FeedbackRule:
    """Rule of the descending weights B_{l+1} (D_{l+1} -> D_l).

    kind
        ``"plastic"``: heterosynaptic, the modifying signal arrives through U_l,

        .. math:: \\Delta B_{l+1} = -\\eta\\,(U_l r_l)\\, d_{l+1}^T - \\eta\\lambda B_{l+1}

        ``"fixed"``: no change (feedback alignment).

        ``"transpose"`` / ``"sign"``: weight transport, B_{l+1} = W_{l+1}^T or
        sign(W_{l+1}^T) at every step. Implemented as a transported copy: the
        synapse stores ``b`` = W_{l+1}^T, initialised to it and changed by the
        very update W_{l+1} receives (the update above, which with U = V = I is
        exactly dW^T), and transmits ``b`` or ``sign(b)``. This works in every
        code-generation target, cpp_standalone included, and holds only when
        U and V are the identity, which the builder checks.
    """

    kind: str
    eta: float
    lam: float

    def __post_init__(self):
        if self.kind not in FEEDBACK_KINDS:
            raise ValueError(f"unknown feedback rule {self.kind!r}; valid names: {list(FEEDBACK_KINDS)}")
        ForwardRule.__post_init__(self)

    @property
    def plastic(self):
        return self.kind != "fixed"

    @property
    def tied(self):
        return self.kind in ("transpose", "sign")

    #: Brian2 expression of the change per presentation of one B synapse
    change = "-eta * (q_r_post * d_pre + lam * b)"

    @property
    def transmitted(self):
        """Brian2 expression of the weight the B synapse transmits."""
        return "sign(b)" if self.kind == "sign" else "b"

    def effective(self, b):
        """The transmitted weight for stored weights ``b`` (numpy)."""
        return np.sign(b) if self.kind == "sign" else b

    def parameters(self):
        return {"eta": self.eta, "lam": self.lam}


CROSS_KINDS = ("fixed", "mirror", "hebbian")


@dataclass(frozen=True)
class CrossStreamRule:
    """Rule of the cross-stream pair V_l (D_l -> A_l) and U_l (A_l -> D_l).

    kind
        ``"fixed"``: no change (ablation).

        ``"mirror"``: during spontaneous activity, noise xi_l ~ N(0, sigma_xi^2)
        in A_l reaches D_l as U_l xi_l, and V_l grows Hebbian,

        .. math:: \\Delta V_l = \\eta_c\\,(\\xi_l (U_l \\xi_l)^T - \\lambda_c V_l)

        so that V_l -> (sigma_xi^2 / lambda_c) U_l^T. U_l does not change.

        ``"hebbian"``: mirrored Hebbian updates on the reciprocal pair,

        .. math:: \\Delta U_l = \\eta_c (d_l r_l^T - \\lambda_c U_l),\\quad
                  \\Delta V_l = \\eta_c (r_l d_l^T - \\lambda_c V_l)
    """

    kind: str
    eta_c: float
    lam_c: float
    sigma_xi: float

    def __post_init__(self):
        if self.kind not in CROSS_KINDS:
            raise ValueError(f"unknown cross-stream rule {self.kind!r}; valid names: {list(CROSS_KINDS)}")
        object.__setattr__(self, "eta_c", check_number("eta_c", self.eta_c, nonnegative=True))
        object.__setattr__(self, "lam_c", check_number("lam_c", self.lam_c, nonnegative=True))
        object.__setattr__(self, "sigma_xi", check_number("sigma_xi", self.sigma_xi, nonnegative=True))

    @property
    def changes(self):
        """Brian2 expressions of the change per presentation, by population ("U", "V")."""
        if self.kind == "mirror":
            return {"V": "eta_c * (spont_post * q_spont_pre - lam_c * v)"}
        if self.kind == "hebbian":
            return {
                "U": "eta_c * (d_post * r_pre - lam_c * u)",
                "V": "eta_c * (r_post * d_pre - lam_c * v)",
            }
        return {}

    @property
    def needs_noise(self):
        return self.kind == "mirror"

    def parameters(self):
        return {"eta_c": self.eta_c, "lam_c": self.lam_c}
