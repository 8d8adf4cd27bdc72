"""Plasticity rules of the four-synapse circuit as small declarative objects.

A rule says *what* changes and by how much per presentation, as a Brian2
expression in the synapse's own variables; the circuit builder
(:mod:`selfassembly.circuits.network`) decides *how* it is integrated: added
once per presentation in the sample-clocked mode, or integrated continuously
with time constant ``tau_w = T_present / eta`` in the dynamic mode.

All rules are local: a presynaptic signal times a postsynaptic one, plus decay.
Variable names in the expressions are those of the Brian2 groups:

* ascending cell A_l: ``r`` (rate), ``err`` (local error e_l; ``e`` is a Brian2 constant), ``spont`` (spontaneous activity xi_l; ``xi`` is reserved by Brian2)
* ascending cell A_l also: ``a_spont`` (a_l = V_l s_l, the spontaneous activity returned by V)
* descending cell D_l: ``d`` (rate, = q), ``q_r`` (U_l r_l, the rate copy carried by U),
  ``q_spont`` (s_l = U_l xi_l, the spontaneous copy carried by U),
  ``u_loop`` (u_l = U_l z_l, the spontaneous activity of A_{l-1} after one trip up W_l and across U_l)
* ascending cell A_l, l >= 2, also: ``z_spont`` (z_l = W_l xi_{l-1}, the spontaneous part of A_l's drive)
* synaptic weights: ``w`` (W), ``b`` (B), ``u`` (U), ``v`` (V)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ForwardRule", "FeedbackRule", "CrossStreamRule", "check_number", "B_RULES", "V_RULES", "U_RULES",
           "RATE_SCALINGS", "REFERENCE_SIZE", "SCALED_PARAMETERS", "size_factor"]

#: how the rates of the rules driven by spontaneous activity (eta_c, eta_u, eta_b) depend on the layer size
RATE_SCALINGS = ("none", "size", "capped")
#: under ``rate_scaling = "size"``, the layer size whose rates are the configured ones (the default
#: architecture's hidden layers, 64-128-128-10), so that eta_x,l = eta_x * n_ref / n_l = eta_hat_x / n_l
REFERENCE_SIZE = 128
#: the rates that ``rate_scaling = "size"`` scales per layer
SCALED_PARAMETERS = ("eta_c", "eta_u", "eta_b")


def size_factor(scaling, n):
    """The factor on eta_c, eta_u and eta_b in a layer of ``n`` units: 1 under ``"none"``, n_ref / n
    under ``"size"``, and min(1, n_ref / n) under ``"capped"`` (layers wider than n_ref are slowed,
    narrower ones keep the given rates).

    Why 1/n: each rule's change per presentation grows with the layer. With xi ~ N(0, sigma_xi^2 I_n)
    and U near orthogonal, ||xi||^2 ~ ||s||^2 ~ n sigma_xi^2, so

    * U's reconstruction dU = eta_u s (xi - V s)^T is an LMS / Oja step whose gain along s is
      eta_u ||s||^2 ~ eta_u n sigma_xi^2: it overshoots (diverges) once that nears 1;
    * V's mirror dV = eta_c (xi s^T - lam_c V) and B's loop mirror dB_{l+1} = eta_b (s_l u_{l+1}^T -
      lam_b B_{l+1}) are linear and stable, but their relative noise floor
      ||noise||_F^2 / ||fixed point||_F^2 ~ eta lam n_l / 2 grows with n_l (the rows of V_l, of B_{l+1}).

    Dividing the rates by n_l holds all three per-presentation quantities at their value at n_ref.
    In narrower layers that raises the rates, and with them the mirrors' noise floor, to the one of
    n_ref (``"size"``); ``"capped"`` only lowers them where a layer is wider than n_ref.

    >>> size_factor("none", 784), size_factor("size", 128), size_factor("size", 32)
    (1.0, 1.0, 4.0)
    >>> size_factor("capped", 32), size_factor("capped", 512)
    (1.0, 0.25)
    """
    if scaling not in RATE_SCALINGS:
        raise ValueError(f"unknown rate scaling {scaling!r}; valid names: {', '.join(RATE_SCALINGS)}")
    if scaling == "none":
        return 1.0
    k = REFERENCE_SIZE / int(n)
    return min(1.0, k) if scaling == "capped" else k


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


#: rules B can follow: plastic (task, loop_mirror, both), fixed, or weight transport (transpose, sign)
FEEDBACK_KINDS = ("task", "loop_mirror", "both", "fixed", "transpose", "sign")
#: the plastic rules a configuration may choose for B (``plasticity.b_rule``)
B_RULES = ("task", "loop_mirror", "both")


@dataclass(frozen=True)
class FeedbackRule:
    """Rule of the descending weights B_{l+1} (D_{l+1} -> D_l).

    kind
        ``"task"``: heterosynaptic and task-driven, the modifying signal arrives
        through U_l,

        .. math:: \\Delta B_{l+1} = -\\eta\\,(U_l r_l)\\, d_{l+1}^T - \\eta\\lambda B_{l+1}

        ``"loop_mirror"``: B learns from the spontaneous activity xi_l of A_l
        as it travels the loop once, up through W_{l+1} and across through
        U_{l+1} (u_{l+1} = U_{l+1} W_{l+1} xi_l arrives at B's presynaptic cell
        D_{l+1}), while D_l receives s_l = U_l xi_l from its own A_l:

        .. math:: \\Delta B_{l+1} = \\eta_b\\,(s_l u_{l+1}^T - \\lambda_b B_{l+1})

        so that B_{l+1} -> (sigma_xi^2 / lambda_b) U_l W_{l+1}^T U_{l+1}^T,
        the fixed point of the task rule, at the rate eta_b * lambda_b
        whatever W's decay. With U = V = I this is Akrout et al. (2019)'s
        weight mirror.

        ``"both"``: the sum of the two changes (each reads the weights before
        the step).

        ``"fixed"``: no change (feedback alignment).

        ``"transpose"`` / ``"sign"``: weight transport, B_{l+1} = W_{l+1}^T or
        sign(W_{l+1}^T) at every step. Implemented as a transported copy: the
        synapse stores ``b`` = W_{l+1}^T, initialised to it and changed by the
        very update W_{l+1} receives (the task update above, which with U = V = I
        is exactly dW^T), and transmits ``b`` or ``sign(b)``. This works in every
        code-generation target, cpp_standalone included, and holds only when
        U and V are the identity, which the builder checks.
    eta, lam : float
        Rate and decay of the task rule (W's own).
    eta_b, lam_b : float
        Rate and decay of the loop mirror (B's own).

    Examples
    --------
    >>> FeedbackRule("both", eta=0.02, lam=1e-4, eta_b=0.0005, lam_b=1.0).change
    '-eta * (q_r_post * d_pre + lam * b) + eta_b * (q_spont_post * u_loop_pre - lam_b * b)'
    >>> FeedbackRule("mirror", eta=0.02, lam=1e-4)
    Traceback (most recent call last):
    ...
    ValueError: unknown feedback rule 'mirror'; valid names: task, loop_mirror, both, fixed, transpose, sign
    """

    kind: str
    eta: float
    lam: float
    eta_b: float = 0.0
    lam_b: float = 1.0

    def __post_init__(self):
        if self.kind not in FEEDBACK_KINDS:
            raise ValueError(f"unknown feedback rule {self.kind!r}; valid names: {', '.join(FEEDBACK_KINDS)}")
        for name in ("eta", "lam", "eta_b", "lam_b"):
            object.__setattr__(self, name, check_number(name, getattr(self, name), nonnegative=True))

    @property
    def plastic(self):
        return self.kind != "fixed"

    @property
    def tied(self):
        return self.kind in ("transpose", "sign")

    @property
    def task(self):
        """B follows the task-driven rule (alone or with the loop mirror)."""
        return self.kind in ("task", "both")

    @property
    def mirror(self):
        """B learns from the spontaneous activity travelling the loop (the loop mirror)."""
        return self.kind in ("loop_mirror", "both")

    @property
    def change(self):
        """Brian2 expression of the change per presentation of one B synapse (None if fixed).

        The task rule reads D_{l+1}'s rate ``d``. A transported copy reads ``q``,
        D_{l+1}'s instantaneous input (U e = e with U = I): in the dynamic mode
        the rate d lags q by tau_r, and only q gives W's own update, so that
        B = W^T holds exactly in both time modes. (In the sample-clocked mode
        d = q.) The loop mirror reads ``q_spont`` (s_l, at D_l) and ``u_loop``
        (u_{l+1} = U_{l+1} W_{l+1} xi_l, at D_{l+1}).
        """
        parts = []
        if self.tied:
            parts.append("-eta * (q_r_post * q_pre + lam * b)")
        if self.task:
            parts.append("-eta * (q_r_post * d_pre + lam * b)")
        if self.mirror:
            parts.append("eta_b * (q_spont_post * u_loop_pre - lam_b * b)")
        return " + ".join(parts) or None

    @property
    def transmitted(self):
        """Brian2 expression of the weight the B synapse transmits."""
        return "sign(b)" if self.kind == "sign" else "b"

    def effective(self, b):
        """The transmitted weight for stored weights ``b`` (numpy)."""
        return np.sign(b) if self.kind == "sign" else b

    def parameters(self):
        """Brian2 constants the change reads."""
        out = {}
        if self.tied or self.task:
            out.update(eta=self.eta, lam=self.lam)
        if self.mirror:
            out.update(eta_b=self.eta_b, lam_b=self.lam_b)
        return out


#: rules each cross-stream population can follow
V_RULES = ("fixed", "mirror", "hebbian")
U_RULES = ("fixed", "reconstruct", "hebbian")


@dataclass(frozen=True)
class CrossStreamRule:
    """Rules of the cross-stream pair V_l (D_l -> A_l) and U_l (A_l -> D_l), one per synapse.

    Both learn from spontaneous activity: noise xi_l in A_l (variance
    sigma_xi^2) reaches D_l as s_l = U_l xi_l and comes back to A_l's apical
    dendrite as a_l = V_l s_l.

    v : {"fixed", "mirror", "hebbian"}
        ``"mirror"``: V_l grows Hebbian on the spontaneous activity,

        .. math:: \\Delta V_l = \\eta_c\\,(\\xi_l s_l^T - \\lambda_c V_l)

        so that V_l -> (sigma_xi^2 / lambda_c) U_l^T.
    u : {"fixed", "reconstruct", "hebbian"}
        ``"reconstruct"``: the D cell's rate times the A cell's mismatch between
        its own activity and what comes back to its apical dendrite,

        .. math:: \\Delta U_l = \\eta_u\\, s_l (\\xi_l - a_l)^T

        With V_l = c U_l^T (c = sigma_xi^2 / lambda_c) this is Oja's subspace
        rule, whose stable fixed point is U_l^T U_l = I / c: U becomes
        orthogonal. It is stable only while V mirrors U faster than U moves
        (eta_u well below eta_c; see docs/model.md).

    ``"hebbian"`` (either synapse): mirrored Hebbian updates on the reciprocal
    pair, decaying with lambda_c,

    .. math:: \\Delta U_l = \\eta_c (d_l r_l^T - \\lambda_c U_l),\\quad
              \\Delta V_l = \\eta_c (r_l d_l^T - \\lambda_c V_l)

    ``"fixed"``: no change (ablation).

    Examples
    --------
    >>> CrossStreamRule(v="mirror", u="reconstruct", eta_c=0.002, lam_c=1.0, sigma_xi=1.0, eta_u=0.0005).needs_noise
    True
    >>> CrossStreamRule(v="mirror", u="oja", eta_c=0.002, lam_c=1.0, sigma_xi=1.0, eta_u=0.0005)
    Traceback (most recent call last):
    ...
    ValueError: unknown rule 'oja' for U; valid names: fixed, reconstruct, hebbian
    """

    v: str
    u: str
    eta_c: float
    lam_c: float
    sigma_xi: float
    eta_u: float = 0.0

    def __post_init__(self):
        for pop, kind, valid in (("V", self.v, V_RULES), ("U", self.u, U_RULES)):
            if kind not in valid:
                raise ValueError(f"unknown rule {kind!r} for {pop}; valid names: {', '.join(valid)}")
        for name in ("eta_c", "lam_c", "sigma_xi", "eta_u"):
            object.__setattr__(self, name, check_number(name, getattr(self, name), nonnegative=True))

    @property
    def fixed(self):
        """True when neither U nor V changes."""
        return self.v == "fixed" and self.u == "fixed"

    @property
    def changes(self):
        """Brian2 expressions of the change per presentation, by population ("U", "V").

        ``spont`` is xi_l (in A_l), ``q_spont`` is s_l = U_l xi_l (in D_l),
        ``a_spont`` is a_l = V_l s_l (in A_l).
        """
        out = {}
        if self.v == "mirror":
            out["V"] = "eta_c * (spont_post * q_spont_pre - lam_c * v)"
        elif self.v == "hebbian":
            out["V"] = "eta_c * (r_post * d_pre - lam_c * v)"
        if self.u == "reconstruct":
            out["U"] = "eta_u * q_spont_post * (spont_pre - a_spont_pre)"
        elif self.u == "hebbian":
            out["U"] = "eta_c * (d_post * r_pre - lam_c * u)"
        return out

    @property
    def needs_noise(self):
        """Spontaneous activity xi and its copy s = U xi are needed."""
        return self.v == "mirror" or self.u == "reconstruct"

    @property
    def needs_return(self):
        """The returned spontaneous activity a = V s is needed (U reconstruction)."""
        return self.u == "reconstruct"

    def parameters(self, pop):
        """Brian2 constants the change of population ``pop`` ("U" or "V") reads."""
        if pop == "U" and self.u == "reconstruct":
            return {"eta_u": self.eta_u}
        return {"eta_c": self.eta_c, "lam_c": self.lam_c}
