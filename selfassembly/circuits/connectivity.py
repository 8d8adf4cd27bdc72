"""Initial connectivity of the four synapse populations.

Each population gets a :class:`Connectivity`: a weight distribution and a
connection probability. All randomness is drawn here with numpy, from a
generator seeded by ``(seed, population name)``, so that

* every preset of one experiment starts from the same W (and B, U, V where
  the preset's structure allows), and
* the circuit is the same whatever Brian2 code-generation target runs it.
"""
from __future__ import annotations

import numbers
import zlib
from dataclasses import dataclass

import numpy as np

from ..io import check_seed, population_names, population_shape
from ..plasticity.presets import RuleSet
from ..plasticity.rules import check_number

__all__ = ["Connectivity", "DEFAULT_CONNECTIVITY", "initial_weights", "check_sizes"]

KINDS = ("gaussian", "uniform", "identity")


@dataclass(frozen=True)
class Connectivity:
    """How one population's synapses are drawn.

    Parameters
    ----------
    kind : {"gaussian", "uniform", "identity"}
        ``gaussian``: N(0, s^2) with s = scale / sqrt(p * n_pre);
        ``uniform``: U(-a, a) with the same variance (a = sqrt(3) s);
        ``identity``: weight ``scale`` on the diagonal, nothing elsewhere
        (square populations U and V only).
    scale : float
        Multiplies the weights (see ``kind``).
    p : float in (0, 1]
        Probability that each synapse exists (sparse connectivity).

    Examples
    --------
    >>> w, mask = Connectivity("identity").sample(3, 3, np.random.default_rng(0))
    >>> w
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """

    kind: str = "gaussian"
    scale: float = 1.0
    p: float = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown connectivity kind {self.kind!r}; valid names: {list(KINDS)}")
        object.__setattr__(self, "scale", check_number("scale", self.scale))
        p = check_number("p (connection probability)", self.p)
        if not 0 < p <= 1:
            raise ValueError(f"connection probability p must be in (0, 1], got {p}")
        object.__setattr__(self, "p", p)

    def check_fits(self, n_post, n_pre, what="population"):
        """Refuse a connection probability that leaves a population of n_post x n_pre cells no synapse
        to expect (an empty population has no weights to learn or measure)."""
        possible = int(n_post) * int(n_pre)
        if self.kind != "identity" and self.p * possible < 1:
            raise ValueError(f"connection probability p = {self.p:g} leaves the {what} ({n_post} x {n_pre} = "
                             f"{possible} possible synapses) {self.p * possible:.2g} synapses to expect; use p >= "
                             f"1/{possible} = {1 / possible:.3g}")

    def sample(self, n_post, n_pre, rng):
        """Draw ``(weights, mask)``, both of shape (n_post, n_pre); absent synapses weigh 0."""
        self.check_fits(n_post, n_pre)
        mask = rng.random((n_post, n_pre)) < self.p if self.p < 1 else np.ones((n_post, n_pre), bool)
        if self.kind == "identity":
            if n_post != n_pre:
                raise ValueError(f"identity connectivity needs a square population, got {n_post} x {n_pre}")
            mask &= np.eye(n_post, dtype=bool)
            w = self.scale * np.eye(n_post)
        else:
            std = self.scale / np.sqrt(self.p * n_pre)
            if self.kind == "gaussian":
                w = rng.normal(0.0, std, size=(n_post, n_pre))
            else:
                a = np.sqrt(3.0) * std
                w = rng.uniform(-a, a, size=(n_post, n_pre))
        return np.where(mask, w, 0.0), mask


#: connectivity of each population family when none is given: dense Gaussian, scale 1
DEFAULT_CONNECTIVITY = {
    "W": Connectivity("gaussian"),
    "B": Connectivity("gaussian"),
    "U": Connectivity("gaussian"),
    "V": Connectivity("gaussian"),
}


def check_sizes(sizes):
    """Return sizes as a list of ints, or raise naming the problem."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"sizes must be a list of positive integers, got {sizes!r}")
    sizes = list(sizes)
    if any(isinstance(n, bool) or not isinstance(n, (numbers.Integral, np.integer)) for n in sizes):
        raise ValueError(f"sizes must be a list of positive integers (whole numbers, not 64.0), got {sizes!r}")
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes needs an input and at least one more layer (e.g. [64, 128, 10]), got {sizes}")
    if min(sizes) < 1:
        raise ValueError(f"every layer size must be positive, got {sizes}")
    return sizes


def initial_weights(sizes, rules, connectivity=None, seed=0):
    """Initial weights and masks of every population.

    Parameters
    ----------
    sizes : list of int
        n_0 .. n_L.
    rules : RuleSet
        Decides whether U and V start as the identity or random, and whether
        B is a transported copy of W^T (tied presets).
    connectivity : dict, optional
        ``{"W": Connectivity, "B": ..., "U": ..., "V": ...}``; entries left
        out take :data:`DEFAULT_CONNECTIVITY`. U and V use theirs only when
        the preset starts them random.
    seed : int

    Returns
    -------
    weights, masks : dict of str -> ndarray
    """
    sizes = check_sizes(sizes)
    seed = check_seed(seed)
    if not isinstance(rules, RuleSet):
        raise TypeError(f"rules must be a RuleSet (see selfassembly.plasticity.make_preset), got {type(rules).__name__}")
    if connectivity is not None and not isinstance(connectivity, dict):
        raise TypeError(f"connectivity must be a dict like {{'W': Connectivity(...)}}, got {type(connectivity).__name__}")
    conn = dict(DEFAULT_CONNECTIVITY)
    for key, value in (connectivity or {}).items():
        if key not in conn:
            raise ValueError(f"unknown population family {key!r} in connectivity; valid names: {list(conn)}")
        if not isinstance(value, Connectivity):
            raise TypeError(f"connectivity[{key!r}] must be a Connectivity, got {type(value).__name__}")
        conn[key] = value
    if rules.cross_init == "identity":
        conn["U"] = conn["V"] = Connectivity("identity")
    weights, masks = {}, {}
    for name in population_names(len(sizes) - 1):
        if name[0] == "B" and rules.feedback.tied:
            continue  # W^T or sign(W^T), set below
        rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
        weights[name], masks[name] = conn[name[0]].sample(*population_shape(name, sizes), rng)
    if rules.feedback.tied:
        for l in range(2, len(sizes)):
            weights[f"B{l}"] = rules.feedback.effective(weights[f"W{l}"].T.copy())
            masks[f"B{l}"] = masks[f"W{l}"].T.copy()
    return weights, masks
