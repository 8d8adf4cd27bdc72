"""The two time modes of MODEL.md.

Sample-clocked
    One Brian2 time step is one stimulus presentation. Rates are
    instantaneous subexpressions and the summed-variable updaters are
    scheduled in sweep order (forward, then descending), so the whole sweep
    and the plasticity happen inside one step.

Dynamic
    Rates relax, ``tau_r dr/dt = -r + f(h)`` (and ``tau_r dd/dt = -d + q`` in the
    descending stream); each stimulus is held for ``T_present``; weights are
    integrated continuously, ``dw/dt = change / T_present``, i.e. with time
    constant ``tau_w = T_present / eta``. For ``tau_r << T_present << tau_w``
    this agrees with the sample-clocked mode.
"""
from __future__ import annotations

from dataclasses import dataclass

import brian2 as b2
import numpy as np

from ..plasticity.rules import check_number

__all__ = ["SampleClocked", "Dynamic", "make_mode", "MODE_NAMES"]


@dataclass(frozen=True)
class SampleClocked:
    """One time step = one presentation (nominal step ``dt_ms`` milliseconds)."""

    name = "sample"
    dt_ms: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "dt_ms", check_number("dt_ms", self.dt_ms, positive=True))

    @property
    def dt(self):
        return self.dt_ms * b2.ms

    @property
    def T_present(self):
        return self.dt

    @property
    def steps_per_presentation(self):
        return 1

    @property
    def noise_decay(self):
        """Spontaneous activity is drawn anew at every presentation (no memory)."""
        return 0.0

    def as_dict(self):
        return {"mode": self.name, "dt_ms": self.dt_ms}


@dataclass(frozen=True)
class Dynamic:
    """Rates relax with ``tau_r``; each stimulus is held ``T_present``.

    Parameters
    ----------
    tau_r_ms : float
        Rate time constant (ms).
    T_present_ms : float
        How long each stimulus is held (ms); several tau_r so rates settle.
    dt_ms : float
        Integration step (ms); well below tau_r.
    tau_xi_ms : float, optional
        Correlation time of the spontaneous activity xi, an Ornstein-Uhlenbeck
        process (ms). None or 0 (the configuration's "unset") mean
        T_present_ms: the cross-stream weights then fluctuate as much as in
        the sample-clocked mode. Why: a product xi_i(t) s_j(t) of two such
        processes has integrated autocorrelation tau_xi, so a weight that
        integrates it over many presentations (tau_w = T_present / eta_c >>
        T_present) collects noise of the variance of T_present / tau_xi
        independent draws per presentation; the sample-clocked mode has one.
        White noise redrawn every dt (tau_xi -> 0) would make what the pair
        learns depend on dt.
    """

    name = "dynamic"
    tau_r_ms: float = 1.0
    T_present_ms: float = 20.0
    dt_ms: float = 0.1
    tau_xi_ms: float = None

    def __post_init__(self):
        if self.tau_xi_ms is None or self.tau_xi_ms == 0:
            object.__setattr__(self, "tau_xi_ms", self.T_present_ms)
        for field in ("tau_r_ms", "T_present_ms", "dt_ms", "tau_xi_ms"):
            object.__setattr__(self, field, check_number(field, getattr(self, field), positive=True))
        if self.dt_ms > self.tau_r_ms / 2:
            raise ValueError(f"dt_ms ({self.dt_ms}) must be at most tau_r_ms / 2 ({self.tau_r_ms / 2}) for stable integration")
        ratio = self.T_present_ms / self.dt_ms
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(f"T_present_ms ({self.T_present_ms}) must be a whole number of dt_ms ({self.dt_ms})")

    @property
    def dt(self):
        return self.dt_ms * b2.ms

    @property
    def T_present(self):
        return self.T_present_ms * b2.ms

    @property
    def tau_r(self):
        return self.tau_r_ms * b2.ms

    @property
    def steps_per_presentation(self):
        return int(round(self.T_present_ms / self.dt_ms))

    @property
    def noise_decay(self):
        """exp(-dt / tau_xi): the exact one-step decay of the Ornstein-Uhlenbeck spontaneous activity."""
        return float(np.exp(-self.dt_ms / self.tau_xi_ms))

    def as_dict(self):
        return {"mode": self.name, "tau_r_ms": self.tau_r_ms, "T_present_ms": self.T_present_ms, "dt_ms": self.dt_ms,
                "tau_xi_ms": self.tau_xi_ms}


MODE_NAMES = ("sample", "dynamic")


def make_mode(name="sample", **params):
    """Build a time mode by name; unknown names raise listing the valid ones."""
    if name == "sample":
        return SampleClocked(**{k: v for k, v in params.items() if k == "dt_ms"})
    if name == "dynamic":
        return Dynamic(**params)
    raise ValueError(f"unknown mode {name!r}; valid names: {list(MODE_NAMES)}")
