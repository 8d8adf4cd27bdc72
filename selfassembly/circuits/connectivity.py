"""Initial connectivity of the four synapse populations.

Each population gets a :class:`Connectivity`: a weight distribution and a
connection probability. All randomness is drawn here with numpy, from a
generator seeded by ``(seed, population name)``, so that

* every preset of one experiment starts from the same W (and B, U, V where
  the preset's structure allows), and
* the circuit is the same whatever Brian2 code-generation target runs it.

Reciprocal ("looped") cross-stream wiring: ``Connectivity(p=0.2, reciprocal_to="U")``
for V draws V_l's mask as U_l's mask transposed, so that cell a_j projects to d_k
(``U_l[k, j]``) exactly where d_k projects back to a_j (``V_l[j, k]``). V's weights are
drawn from V's own ``kind`` and ``scale`` with the same random stream as an
independent V (only the mask differs). MODEL.md, "Known limits": under sparse
wiring V can mirror U only where U's reciprocal synapse exists.
"""
from __future__ import annotations

import numbers
import zlib
from dataclasses import dataclass

import numpy as np

from ..io import check_seed, population_names, population_shape
from ..plasticity.presets import RuleSet
from ..plasticity.rules import check_number

__all__ = ["Connectivity", "DEFAULT_CONNECTIVITY", "RECIPROCAL_PARTNERS", "initial_weights", "check_reciprocal",
           "check_sizes"]

KINDS = ("gaussian", "uniform", "identity")

#: population family -> the family whose mask it may take transposed (``reciprocal_to``): the
#: cross-stream pair A_l -> D_l (U_l, n_l x n_l) and D_l -> A_l (V_l), either way round
RECIPROCAL_PARTNERS = {"V": "U", "U": "V"}


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
    reciprocal_to : {"", "U", "V"}
        ``""`` (default): the mask is drawn independently. ``"U"`` (for V) or
        ``"V"`` (for U): the mask is the partner's mask transposed, V_l's
        synapse D_l:k -> A_l:j exists exactly where U_l's A_l:j -> D_l:k does
        (reciprocal, "looped" A-D pairs). ``p`` must then equal the partner's
        (:func:`initial_weights` checks); the weights still follow this
        population's ``kind`` and ``scale``.

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
    reciprocal_to: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown connectivity kind {self.kind!r}; valid names: {list(KINDS)}")
        if not isinstance(self.reciprocal_to, str) or self.reciprocal_to not in ("", *RECIPROCAL_PARTNERS):
            raise ValueError(f"reciprocal_to must be '' (an independent mask) or the name of the cross-stream "
                             f"partner ('U' for V, 'V' for U), got {self.reciprocal_to!r}")
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

    def sample(self, n_post, n_pre, rng, mask=None):
        """Draw ``(weights, mask)``, both of shape (n_post, n_pre); absent synapses weigh 0.

        ``mask`` (bool, n_post x n_pre), if given, replaces the drawn mask (a reciprocal
        population's: its partner's transposed); the random stream is consumed as without it,
        so the weights are those an independent draw would have.
        """
        self.check_fits(n_post, n_pre)
        drawn = rng.random((n_post, n_pre)) < self.p if self.p < 1 else np.ones((n_post, n_pre), bool)
        if mask is None:
            mask = drawn
        else:
            mask = np.array(mask, dtype=bool)
            if mask.shape != (n_post, n_pre):
                raise ValueError(f"a given mask must have shape {(n_post, n_pre)}, got {mask.shape}")
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


def check_reciprocal(conn):
    """Refuse reciprocal wiring that cannot be drawn: both partners reciprocal to each other, or a
    connection probability that differs from the partner's (a transposed mask has the partner's p).

    Parameters
    ----------
    conn : dict of str -> Connectivity
    """
    for family, c in conn.items():
        if not c.reciprocal_to:
            continue
        partner = c.reciprocal_to
        if RECIPROCAL_PARTNERS.get(family) != partner:
            raise ValueError(f"connectivity {family}: reciprocal_to = {partner!r}, but only V (to 'U') or U (to 'V') "
                             "can take its partner's mask transposed")
        if conn[partner].reciprocal_to:
            raise ValueError(f"connectivity {family} and {partner} are both reciprocal_to the other; one population "
                             f"must draw its mask: set reciprocal_to on {family} only")
        if conn[partner].p != c.p:
            raise ValueError(f"connectivity {family}: p = {c.p:g} but its mask is {partner}'s transposed, drawn with "
                             f"p = {conn[partner].p:g}; give {family} the same p (or leave it out in a configuration "
                             "file, where it is taken from its partner)")


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
        the preset starts them random. A population with ``reciprocal_to``
        takes its partner's mask transposed, layer by layer (V_l's mask is
        U_l's mask transposed for ``V: Connectivity(p=..., reciprocal_to="U")``).
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
    check_reciprocal(conn)
    if rules.cross_init == "identity":
        conn["U"] = conn["V"] = Connectivity("identity")
    weights, masks = {}, {}
    names = population_names(len(sizes) - 1)
    # a reciprocal population is drawn after its partner, whose mask it takes transposed
    names = [n for n in names if not conn[n[0]].reciprocal_to] + [n for n in names if conn[n[0]].reciprocal_to]
    for name in names:
        if name[0] == "B" and rules.feedback.tied:
            continue  # W^T or sign(W^T), set below
        rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
        partner = conn[name[0]].reciprocal_to
        given = masks[partner + name[1:]].T if partner else None
        weights[name], masks[name] = conn[name[0]].sample(*population_shape(name, sizes), rng, mask=given)
    if rules.feedback.tied:
        for l in range(2, len(sizes)):
            weights[f"B{l}"] = rules.feedback.effective(weights[f"W{l}"].T.copy())
            masks[f"B{l}"] = masks[f"W{l}"].T.copy()
    return weights, masks
