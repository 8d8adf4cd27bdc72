"""Phases of a run: a schedule of epochs, each with its own settings, as a lab would run a lesion.

A run is a sequence of :class:`Phase` objects. Each says how many epochs it lasts and what
differs in it from the configuration; anything it does not name is the configuration's:

``sigma_xi``
    Amplitude of the spontaneous activity xi_l in this phase. ``0`` silences it: then
    s_l = U_l xi_l = 0 and u_{l+1} = 0, so, as the rules say (MODEL.md, Plasticity),

    .. math:: \\Delta U_l = \\eta_u s_l (\\xi_l - a_l)^T = 0,\\quad
              \\Delta V_l = -\\eta_c \\lambda_c V_l,\\quad
              \\Delta B_{l+1}^{mirror} = -\\eta_b \\lambda_b B_{l+1}

    U stops learning, and V and B's loop mirror only decay, as (1 - eta_c lambda_c)^t and
    (1 - eta_b lambda_b)^t: the loop that spontaneous activity assembled decays.
    In the dynamic mode xi is an Ornstein-Uhlenbeck process: silenced, it decays with its
    correlation time tau_xi rather than vanishing at once.
``stimulus``
    ``false``: no stimulus and no teacher (spontaneous activity alone, as retinal waves precede
    vision). The input rates are r_0 = 0 and the top layer's error is e_L = 0, so every task
    signal vanishes (r_l = f(0) = 0 for tanh and relu, d_l = 0, e_l = 0) and, by the rules,

    .. math:: \\Delta W_l = -\\eta\\lambda W_l,\\quad \\Delta B_{l+1}^{task} = -\\eta\\lambda B_{l+1}

    (W and B's task rule only decay) while U, V and B's loop mirror learn from xi as usual.
``freeze``
    Populations (``"W"``, ``"B"``, ``"U"``, ``"V"``) whose weights do not change at all in this
    phase: their learning rates (eta, eta_b, eta_c, eta_u) are 0 for the phase, decay included.
    A tied B (backprop, sign_symmetry) is a transported copy of W^T: it is frozen with W as well
    (it follows W), and freezing B alone stops the transport.

A run without phases is one phase of ``training.epochs`` epochs with no overrides.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = ["Phase", "PHASE_KEYS", "FREEZABLE", "RATE_PARAMETERS", "check_phases", "phase_parameters",
           "phase_boundaries", "phase_at"]

#: the keys a phase may have (a TOML [[phases]] table)
PHASE_KEYS = ("name", "epochs", "sigma_xi", "stimulus", "freeze")
#: the populations a phase may freeze
FREEZABLE = ("W", "B", "U", "V")
#: the learning rates that a frozen population's synapses get 0 for (each multiplies its decay too)
RATE_PARAMETERS = ("eta", "eta_b", "eta_c", "eta_u")


class PhaseError(ValueError):
    """A phase is invalid (the message names the phase, the key and the fix)."""


@dataclass(frozen=True)
class Phase:
    """One phase of a run's schedule.

    Parameters
    ----------
    epochs : int
        Passes over the training set in this phase (>= 1). With ``stimulus=False`` an epoch
        is as many presentations of spontaneous activity alone.
    name : str
        A label for tables and plots (default ``phase<k>``, k counted from 1).
    sigma_xi : float or None
        Amplitude of the spontaneous activity in this phase (>= 0); None: the configuration's.
    stimulus : bool
        False: no stimulus and no teacher (r_0 = 0, e_L = 0); see the module docstring.
    freeze : tuple of str
        Populations among W, B, U, V whose weights stay exactly as they are in this phase.

    Examples
    --------
    >>> Phase(epochs=5, name="silenced", sigma_xi=0.0).overrides()
    {'sigma_xi': 0.0}
    >>> Phase(epochs=2, freeze=("V", "U", "V"))
    Traceback (most recent call last):
    ...
    selfassembly.plasticity.phases.PhaseError: phase 'phase1': freeze lists 'V' twice; name each population once
    """

    epochs: int
    name: str = ""
    sigma_xi: float | None = None
    stimulus: bool = True
    freeze: tuple = ()

    def __post_init__(self):
        name = self.name
        if not isinstance(name, str):
            raise PhaseError(f"phase name must be text, got {name!r}")
        label = name or "phase1"
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, numbers.Integral) or self.epochs < 1:
            raise PhaseError(f"phase {label!r}: epochs must be a whole number >= 1, got {self.epochs!r}")
        object.__setattr__(self, "epochs", int(self.epochs))
        if self.sigma_xi is not None:
            if isinstance(self.sigma_xi, bool) or not isinstance(self.sigma_xi, numbers.Real) \
                    or not math.isfinite(self.sigma_xi) or self.sigma_xi < 0:
                raise PhaseError(f"phase {label!r}: sigma_xi must be a finite number >= 0 (0 silences the "
                                 f"spontaneous activity), got {self.sigma_xi!r}")
            object.__setattr__(self, "sigma_xi", float(self.sigma_xi))
        if not isinstance(self.stimulus, bool):
            raise PhaseError(f"phase {label!r}: stimulus must be true or false, got {self.stimulus!r}")
        freeze = self.freeze
        if isinstance(freeze, str):
            freeze = [freeze]
        if not isinstance(freeze, (list, tuple)):
            raise PhaseError(f"phase {label!r}: freeze must be a list of populations, e.g. [\"U\", \"V\"], got "
                             f"{freeze!r}")
        for pop in freeze:
            if pop not in FREEZABLE:
                raise PhaseError(f"phase {label!r}: freeze names {pop!r}, which is not a population; valid: "
                                 + ", ".join(FREEZABLE))
            if list(freeze).count(pop) > 1:
                raise PhaseError(f"phase {label!r}: freeze lists {pop!r} twice; name each population once")
        object.__setattr__(self, "freeze", tuple(p for p in FREEZABLE if p in freeze))

    def overrides(self):
        """What this phase changes from the configuration (empty for a plain learning phase)."""
        out = {}
        if self.sigma_xi is not None:
            out["sigma_xi"] = self.sigma_xi
        if not self.stimulus:
            out["stimulus"] = False
        if self.freeze:
            out["freeze"] = list(self.freeze)
        return out

    def as_dict(self):
        """The TOML table of this phase (keys it does not override left out)."""
        return {"name": self.name, "epochs": self.epochs, **self.overrides()}

    def describe(self):
        """One line for progress output: ``silenced (5 epochs; sigma_xi = 0)``."""
        parts = []
        if self.sigma_xi is not None:
            parts.append(f"sigma_xi = {self.sigma_xi:g}")
        if not self.stimulus:
            parts.append("stimulus off")
        if self.freeze:
            parts.append("frozen " + ", ".join(self.freeze))
        return f"{self.name} ({self.epochs} epoch{'s' if self.epochs != 1 else ''}" + \
            ("; " + ", ".join(parts) if parts else "") + ")"


def check_phases(tables):
    """Phase objects from a list of tables (as read from TOML ``[[phases]]``), named and checked.

    Raises
    ------
    PhaseError
        A table that is not one, an unknown key, a bad value, or a name used twice; the
        message names the phase (counted from 1) and the fix.
    """
    if isinstance(tables, dict) or not isinstance(tables, (list, tuple)):
        raise PhaseError("phases must be a list of tables: write each as a [[phases]] table with epochs = N")
    out = []
    for k, table in enumerate(tables, start=1):
        if isinstance(table, Phase):
            table = table.as_dict()
        if not isinstance(table, dict):
            raise PhaseError(f"phase {k} must be a table ([[phases]] with epochs = N ...), got {table!r}")
        unknown = [key for key in table if key not in PHASE_KEYS]
        if unknown:
            raise PhaseError(f"phase {k}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: "
                             + ", ".join(PHASE_KEYS))
        if "epochs" not in table:
            raise PhaseError(f"phase {k}: give its length, epochs = N")
        name = table.get("name", "") or f"phase{k}"
        if not isinstance(name, str) or not name.strip() or name != name.strip() or "," in name:
            raise PhaseError(f"phase {k}: name must be non-empty text without commas or surrounding spaces, "
                             f"got {name!r}")
        try:
            phase = Phase(**{**table, "name": name})
        except TypeError as exc:  # pragma: no cover - keys are checked above
            raise PhaseError(f"phase {k}: {exc}") from None
        if any(p.name == name for p in out):
            raise PhaseError(f"phase {k}: the name {name!r} is used twice; give each phase its own name")
        out.append(phase)
    return tuple(out)


def phase_parameters(rules, phase=None):
    """Shared constants of each population's synapses, and the spontaneous activity, in ``phase``.

    Returns
    -------
    dict
        ``{"W": {...}, "B": {...}, "U": {...}, "V": {...}, "sigma_xi": float, "stimulus": bool}``:
        per population the parameters its change reads (empty where it has no change), with the
        learning rates of :data:`RATE_PARAMETERS` set to 0 where the phase freezes it.

    Examples
    --------
    >>> from selfassembly.plasticity import make_preset
    >>> p = phase_parameters(make_preset("four_synapse"), Phase(epochs=1, freeze=("U",), sigma_xi=0.5))
    >>> p["U"], p["V"], p["sigma_xi"]
    ({'eta_u': 0.0}, {'eta_c': 0.002, 'lam_c': 1.0}, 0.5)
    """
    phase = phase or Phase(epochs=1)
    fb, cross = rules.feedback, rules.cross
    out = {
        "W": dict(rules.forward.parameters()),
        "B": dict(fb.parameters()) if fb.change else {},
        "U": dict(cross.parameters("U")) if "U" in cross.changes else {},
        "V": dict(cross.parameters("V")) if "V" in cross.changes else {},
    }
    frozen = set(phase.freeze)
    if fb.tied and "W" in frozen:  # the transported copy follows W
        frozen.add("B")
    for pop in frozen:
        out[pop] = {k: (0.0 if k in RATE_PARAMETERS else v) for k, v in out[pop].items()}
    out["sigma_xi"] = cross.sigma_xi if phase.sigma_xi is None else phase.sigma_xi
    out["stimulus"] = phase.stimulus
    out["frozen"] = frozenset(frozen)
    return out


def phase_boundaries(phases, n_train):
    """Presentations done at the end of each phase: ``[e_1 n, (e_1 + e_2) n, ...]``.

    >>> phase_boundaries([Phase(epochs=2), Phase(epochs=3, name="b")], 10)
    [20, 50]
    """
    ends, total = [], 0
    for p in phases:
        total += p.epochs * int(n_train)
        ends.append(total)
    return ends


def phase_at(step, phases, n_train):
    """The name of the phase a weight snapshot taken after ``step`` presentations belongs to.

    Step 0 belongs to the first phase; a step at a boundary to the phase that ended there.

    >>> ph = [Phase(epochs=1, name="a"), Phase(epochs=1, name="b")]
    >>> [phase_at(s, ph, 10) for s in (0, 5, 10, 11, 20)]
    ['a', 'a', 'a', 'b', 'b']
    """
    for p, end in zip(phases, phase_boundaries(phases, n_train)):
        if step <= end:
            return p.name
    return phases[-1].name
