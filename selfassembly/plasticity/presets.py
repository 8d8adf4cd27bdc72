"""The named rule sets of MODEL.md.

A preset is a configuration of the same rules (forward W, feedback B, and one
rule each for the cross-stream V and U) plus the initial connectivity of U and
V; none has a code path of its own.

===========================  =========================  ==========================================  ===================================
preset                       B                          U, V                                        meaning
===========================  =========================  ==========================================  ===================================
backprop                     tied to W^T                identity, fixed                             reference (weight transport)
feedback_alignment           random, fixed              identity, fixed                             Lillicrap et al. 2016
sign_symmetry                sign(W^T), tied            identity, fixed                             Liao, Leibo, Poggio 2016
kolen_pollack                random; task rule          identity, fixed                             Kolen-Pollack / Akrout 2019
weight_mirror                random; loop mirror only   identity, fixed                             Akrout 2019's weight mirror
four_synapse                 random; loop mirror        random; V mirror, U reconstruction          the self-assembling circuit
four_synapse_no_loop_mirror  random; task rule only     random; V mirror, U reconstruction          ablation: the circuit before the loop mirror
four_synapse_fixed_u         as four_synapse            random; V mirror, U fixed                   ablation: V assembles, U stays random
four_synapse_fixed_cross     as four_synapse            random, fixed                               ablation: no cross-stream assembly
===========================  =========================  ==========================================  ===================================
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .rules import B_RULES, RATE_SCALINGS, REFERENCE_SIZE, CrossStreamRule, FeedbackRule, ForwardRule, size_factor

__all__ = ["RuleSet", "PRESETS", "PRESET_NAMES", "RANDOM_START", "DEFAULT_PARAMS", "STABLE_U_RATIO",
           "FOUR_SYNAPSE_B", "make_preset"]


@dataclass(frozen=True)
class RuleSet:
    """A named combination of rules: what a preset resolves to.

    Attributes
    ----------
    name : str
    forward : ForwardRule
        Rule of W.
    feedback : FeedbackRule
        Rule of B.
    cross : CrossStreamRule
        Rules of V and U.
    cross_init : {"identity", "random"}
        Initial connectivity of U and V (structured or random).
    description : str
    rate_scaling : {"none", "size", "capped"}
        How the rates of the rules that learn from spontaneous activity depend on the layer size
        (:func:`~selfassembly.plasticity.rules.size_factor`). ``"none"``: every layer uses eta_c,
        eta_u and eta_b as given. ``"size"``: the given numbers are the rates of a layer of
        n_ref = :data:`~selfassembly.plasticity.rules.REFERENCE_SIZE` units, and layer l uses

        .. math:: \\eta_{c,l} = \\hat\\eta_c / n_l,\\quad \\eta_{u,l} = \\hat\\eta_u / n_l,\\quad
                  \\eta_{b,l+1} = \\hat\\eta_b / n_l,\\qquad \\hat\\eta = \\eta\\, n_{ref}

        (U_l and V_l sit in layer l; B_{l+1} ends on D_l, whose n_l sets its noise floor). W's eta
        and lam, and B's task rule, are not scaled. ``"capped"``: the factor n_ref / n_l only where it is
        below 1 (layers wider than n_ref). See :meth:`cross_at`, :meth:`feedback_at`.
    """

    name: str
    forward: ForwardRule
    feedback: FeedbackRule
    cross: CrossStreamRule
    cross_init: str
    description: str = ""
    rate_scaling: str = "none"

    def __post_init__(self):
        if self.cross_init not in ("identity", "random"):
            raise ValueError(f"cross_init must be 'identity' or 'random', got {self.cross_init!r}")
        if self.rate_scaling not in RATE_SCALINGS:
            raise ValueError(f"unknown rate scaling {self.rate_scaling!r}; valid names: {', '.join(RATE_SCALINGS)}")
        if self.feedback.tied and (self.cross_init != "identity" or not self.cross.fixed):
            raise ValueError(
                f"rule set {self.name!r}: weight transport (feedback {self.feedback.kind!r}) needs U = V = I, "
                "fixed; use cross_init='identity' and the rule 'fixed' for both U and V"
            )
        if self.feedback.tied and (self.feedback.eta, self.feedback.lam) != (self.forward.eta, self.forward.lam):
            raise ValueError(f"rule set {self.name!r}: a tied B must use the eta and lam of W")

    @property
    def needs_noise(self):
        """Spontaneous activity is needed: by the cross-stream rules or by B's loop mirror."""
        return self.cross.needs_noise or self.feedback.mirror

    def cross_at(self, n):
        """The cross-stream rule of a layer of ``n`` units (U_l, V_l with n = n_l): eta_c and eta_u
        times :func:`~selfassembly.plasticity.rules.size_factor` (1 without rate scaling).

        >>> rs = make_preset("four_synapse", eta_c=0.002, eta_u=0.0005, rate_scaling="size")
        >>> rs.cross_at(128).eta_c, rs.cross_at(256).eta_u, rs.cross_at(32).eta_c
        (0.002, 0.00025, 0.008)
        """
        k = size_factor(self.rate_scaling, n)
        if k == 1.0:
            return self.cross
        return dataclasses.replace(self.cross, eta_c=self.cross.eta_c * k, eta_u=self.cross.eta_u * k)

    def feedback_at(self, n):
        """The rule of B_{l+1}, which ends on D_l of ``n`` = n_l units: the loop mirror's eta_b times
        :func:`~selfassembly.plasticity.rules.size_factor` (the task rule's eta and lam stay W's).

        >>> make_preset("four_synapse", eta_b=0.002, rate_scaling="size").feedback_at(64).eta_b
        0.004
        """
        k = size_factor(self.rate_scaling, n)
        if k == 1.0:
            return self.feedback
        return dataclasses.replace(self.feedback, eta_b=self.feedback.eta_b * k)

    def parameters_of(self, pop, sizes):
        """The shared constants that synapse population ``pop`` ("W2", "B3", "U1", "V4", ...) of a
        circuit of ``sizes`` reads, with its layer's rates (:meth:`cross_at`, :meth:`feedback_at`):
        what the Brian2 builder sets on each Synapses group, and what anything that resets them
        later (a new phase, a reused standalone build) must set again.

        >>> rs = make_preset("four_synapse", eta_c=0.002, eta_u=0.0005, eta_b=0.002, rate_scaling="size",
        ...                  b_rule="loop_mirror")
        >>> rs.parameters_of("U2", [64, 32, 256, 10]), rs.parameters_of("B2", [64, 32, 256, 10])
        ({'eta_u': 0.00025}, {'eta_b': 0.008, 'lam_b': 1.0})
        """
        family, l = pop[0], int(pop[1:])
        if family == "W":
            return self.forward.parameters()
        if family == "B":  # B_l ends on D_{l-1}
            return self.feedback_at(sizes[l - 1]).parameters()
        return self.cross_at(sizes[l]).parameters(family)

    def as_dict(self):
        """Flat, TOML-friendly description of the rule set."""
        return {
            "name": self.name,
            "feedback": self.feedback.kind,
            "cross_v": self.cross.v,
            "cross_u": self.cross.u,
            "cross_init": self.cross_init,
            "eta": self.forward.eta,
            "lam": self.forward.lam,
            "eta_c": self.cross.eta_c,
            "lam_c": self.cross.lam_c,
            "sigma_xi": self.cross.sigma_xi,
            "eta_u": self.cross.eta_u,
            "eta_b": self.feedback.eta_b,
            "lam_b": self.feedback.lam_b,
            **({"rate_scaling": self.rate_scaling} if self.rate_scaling != "none" else {}),
        }


#: B's rule in four_synapse and in its two matched ablations (which must carry the same B rule, so
#: that they differ from it only in U and V): the task rule and the loop mirror together, chosen with
#: eta_b by validation (benchmarks/results/loop_mirror_tuning)
FOUR_SYNAPSE_B = "both"

#: preset name -> (feedback kind, V rule, U rule, cross_init, description)
PRESETS = {
    "backprop": ("transpose", "fixed", "fixed", "identity", "B tied to W^T every step, U = V = I: backpropagation (needs weight transport)"),
    "feedback_alignment": ("fixed", "fixed", "fixed", "identity", "B random and fixed, U = V = I (Lillicrap et al. 2016)"),
    "sign_symmetry": ("sign", "fixed", "fixed", "identity", "B = sign(W^T) every step, U = V = I (Liao, Leibo, Poggio 2016)"),
    "kolen_pollack": ("task", "fixed", "fixed", "identity", "B random, plastic with the mirrored task rule, U = V = I (Kolen & Pollack 1994; Akrout et al. 2019)"),
    "weight_mirror": ("loop_mirror", "fixed", "fixed", "identity", "B random, learns W^T from spontaneous activity alone (the loop mirror with U = V = I), U = V = I: Akrout et al. 2019's weight mirror"),
    "four_synapse": (FOUR_SYNAPSE_B, "mirror", "reconstruct", "random", "B plastic (task rule + loop mirror), U and V random at the start; from spontaneous activity V mirrors U, U learns to be orthogonal by reconstruction, and B mirrors the loop: the self-assembling circuit"),
    "four_synapse_no_loop_mirror": ("task", "mirror", "reconstruct", "random", "as four_synapse, but B follows the task rule instead of the loop mirror: ablation, the circuit before the loop mirror"),
    "four_synapse_fixed_u": (FOUR_SYNAPSE_B, "mirror", "fixed", "random", "as four_synapse, but U stays random (V still mirrors U): ablation without U's orthogonalisation"),
    "four_synapse_fixed_cross": (FOUR_SYNAPSE_B, "fixed", "fixed", "random", "as four_synapse, but U and V random and fixed: ablation without cross-stream assembly"),
}

#: the preset names, in the order of :data:`PRESETS`
PRESET_NAMES = tuple(PRESETS)

#: presets whose U and V start random: the ones a self-assembly claim is about
RANDOM_START = tuple(name for name, spec in PRESETS.items() if spec[3] == "random")

#: Default numbers. eta and lam are what the learning benchmark's protocol chose for backprop, by
#: validation accuracy, at the default architecture (digits 64-128-128-10; docs/benchmarks.md,
#: section 1): a fair baseline. The earlier lam = 0.02 cost backprop 4 points of validation accuracy
#: there and the other presets 3-9; B's loop mirror (eta_b, lam_b) now aligns the feedback at this
#: decay, which the task rule alone could not.
#: eta_u = eta_c / 4: U's rule is stable only while V mirrors U faster than U moves
#: (docs/model.md, "Stability of the cross-stream rules", for the measured region).
#: eta_b and lam_b are B's loop mirror's: B -> (sigma_xi^2 / lam_b) U W^T U^T at rate eta_b * lam_b;
#: eta_b = 0.0002 was chosen with four_synapse's B rule (task rule + loop mirror) at the default
#: architecture by benchmarks/loop_mirror_tuning.py: 3 seeds; among the settings within one standard
#: error of the best validation score, the one with the smallest forward-feedback angle.
DEFAULT_PARAMS = {"eta": 0.02, "lam": 0.0001, "eta_c": 0.002, "lam_c": 1.0, "sigma_xi": 1.0, "eta_u": 0.0005,
                  "eta_b": 0.0002, "lam_b": 1.0}

#: the largest eta_u / eta_c at which U's reconstruction rule was stable in every case of the
#: stability scan (benchmarks/results/cross_stability: tanh and relu, 64-128-128-10 and
#: 64-64-64-64-10, eta_c 0.001-0.004); at 1/2 it diverged at eta_c >= 0.002 with 128 units
STABLE_U_RATIO = 0.25


def make_preset(name, eta=DEFAULT_PARAMS["eta"], lam=DEFAULT_PARAMS["lam"], eta_c=DEFAULT_PARAMS["eta_c"],
                lam_c=DEFAULT_PARAMS["lam_c"], sigma_xi=DEFAULT_PARAMS["sigma_xi"], eta_u=DEFAULT_PARAMS["eta_u"],
                cross_v=None, cross_u=None, eta_b=DEFAULT_PARAMS["eta_b"], lam_b=DEFAULT_PARAMS["lam_b"],
                b_rule=None, rate_scaling="none"):
    """Resolve a preset name and parameters to a :class:`RuleSet`.

    Parameters
    ----------
    name : str
        One of :data:`PRESET_NAMES`.
    eta, lam : float
        Learning rate and weight decay of W, and of B's task rule.
    eta_c, lam_c, sigma_xi : float
        Learning rate and decay of the cross-stream pair, and the amplitude of
        the spontaneous activity that drives the ``mirror`` and ``reconstruct``
        rules and B's loop mirror.
    eta_u : float
        Learning rate of U's ``reconstruct`` rule.
    cross_v, cross_u : str, optional
        Override the preset's rule of V (``fixed``, ``mirror``, ``hebbian``) or
        of U (``fixed``, ``reconstruct``, ``hebbian``); they combine freely.
    eta_b, lam_b : float
        Learning rate and decay of B's loop mirror.
    b_rule : {"task", "loop_mirror", "both"}, optional
        Override the rule of a plastic B; refused for presets whose B is fixed
        or tied to W.
    rate_scaling : {"none", "size", "capped"}
        ``"size"``: eta_c, eta_u and eta_b are the rates of a layer of
        :data:`~selfassembly.plasticity.rules.REFERENCE_SIZE` units, scaled by n_ref / n_l in each
        layer; ``"capped"``: by min(1, n_ref / n_l) (see :class:`RuleSet`).

    Examples
    --------
    >>> rs = make_preset("kolen_pollack", eta=0.05)
    >>> rs.feedback.kind, rs.cross.v, rs.cross.u, rs.forward.eta
    ('task', 'fixed', 'fixed', 0.05)
    >>> rs = make_preset("four_synapse", cross_u="fixed", b_rule="loop_mirror")
    >>> rs.cross.v, rs.cross.u, rs.feedback.kind
    ('mirror', 'fixed', 'loop_mirror')
    >>> make_preset("backprob")
    Traceback (most recent call last):
    ...
    ValueError: unknown preset 'backprob'; valid names: backprop, feedback_alignment, sign_symmetry, kolen_pollack, weight_mirror, four_synapse, four_synapse_no_loop_mirror, four_synapse_fixed_u, four_synapse_fixed_cross
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid names: {', '.join(PRESET_NAMES)}")
    feedback, v_rule, u_rule, cross_init, description = PRESETS[name]
    if b_rule:
        if b_rule not in B_RULES:
            raise ValueError(f"unknown rule {b_rule!r} for B; valid names: {', '.join(B_RULES)}")
        if feedback not in B_RULES:
            raise ValueError(f"preset {name!r} has B {feedback}, which takes no B rule override")
        feedback = b_rule
    return RuleSet(
        name=name,
        forward=ForwardRule(eta=eta, lam=lam),
        feedback=FeedbackRule(kind=feedback, eta=eta, lam=lam, eta_b=eta_b, lam_b=lam_b),
        cross=CrossStreamRule(v=cross_v or v_rule, u=cross_u or u_rule, eta_c=eta_c, lam_c=lam_c,
                              sigma_xi=sigma_xi, eta_u=eta_u),
        cross_init=cross_init,
        description=description,
        rate_scaling=rate_scaling,
    )
