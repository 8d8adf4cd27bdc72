"""Has the circuit self-assembled? The verdict of MODEL.md, earned against a null.

"Assembled" is a claim about a circuit that starts from random cross-stream
wiring, so it is tested against what random wiring alone gives, never against
a fixed angle:

1. **Random null.** The angles of independent random matrices of the circuit's
   own shapes and masks (:func:`random_null`): the forward-feedback angle
   between W_{l+1}^T and V_l B_{l+1} U_{l+1}, and the cross-stream angle between
   V_l and U_l^T, each drawn ``n_draws`` times. An observed angle is *outside
   the null* when its one-sided empirical p-value,
   ``(1 + #{null <= observed}) / (1 + n_draws)``, is below ``alpha``.
2. **Matched ablations.** The same seed, data and initial W trained with
   ``four_synapse_fixed_cross`` (no cross-stream plasticity) and
   ``feedback_alignment`` (fixed random B, U = V = I). A preset's forward-feedback
   angle must be *clearly below* each ablation's, in every layer: over seeds,
   the 95% t-interval of the paired difference (preset minus ablation, same
   seed) lies below 0. With one seed there is no interval: the difference must
   be negative, and the verdict says it rests on one seed.

A random-start preset (U and V random at the start) is ASSEMBLED when, in every
layer and every seed, its cross-stream and forward-feedback angles are outside
the null, and its forward-feedback angle is clearly below every matched
ablation present (at least one must be present; the verdict names the missing
ones). Otherwise it is NOT ASSEMBLED, with the test that decided it. Presets
with U = V = I are *structured by construction*: their alignment is reported,
with no self-assembly claim. A preset whose run diverged or became unstable
is DIVERGED or UNSTABLE: no verdict on its last weights.

Gradient angles (the circuit's dW against the backprop gradient) are reported
beside the forward-feedback angles, paired the same way, but do not decide.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> null = random_null([8, 6, 6, 4], n_draws=99, seed=0)
>>> sorted(null["ff"]), sorted(null["cross"])
([2, 3], [1, 2, 3])
>>> 70 < float(np.median(null["ff"][2])) < 110
True
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

from ..io import population_names, population_shape
from ..plasticity.presets import RANDOM_START
from .alignment import angle, effective_feedback
from .statistics import paired_difference

__all__ = [
    "MATCHED_ABLATIONS",
    "ALPHA",
    "N_DRAWS",
    "random_null",
    "null_p_value",
    "seed_verdicts",
    "format_seed_verdict",
]

#: the ablations a random-start preset is compared with (MODEL.md)
MATCHED_ABLATIONS = ("four_synapse_fixed_cross", "feedback_alignment")
#: significance level of every test of the verdict
ALPHA = 0.01
#: draws of the random null per layer (the smallest p-value is 1 / (N_DRAWS + 1))
N_DRAWS = 199


#: nulls already drawn, by everything they depend on: a sweep asks for the same one at every point
_NULLS = {}


def _null_key(sizes, masks, n_draws, seed):
    digest = hashlib.sha1()
    for name in sorted(masks):
        m = np.asarray(masks[name], dtype=bool)
        digest.update(name.encode() + str(m.shape).encode() + np.packbits(m).tobytes())
    return tuple(sizes), digest.hexdigest(), int(n_draws), int(seed)


def random_null(sizes, masks=None, n_draws=N_DRAWS, seed=0):
    """Angles of independent random Gaussian matrices of the circuit's shapes.

    The draws depend only on the arguments, so each distinct null is drawn once per
    process and then reused (its arrays are read-only).

    Parameters
    ----------
    sizes : list of int
        Layer sizes n_0 .. n_L.
    masks : dict of str -> ndarray of bool, optional
        Which synapses exist (as in a snapshot file); the random matrices are
        zero where the circuit has no synapse. Default: every synapse exists.
    n_draws : int
        Random circuits per layer.
    seed : int

    Returns
    -------
    dict
        ``{"ff": {l: ndarray}, "cross": {l: ndarray}}``: forward-feedback angles
        for l = 2..L and cross-stream angles for l = 1..L, ``n_draws`` each.
    """
    sizes = [int(n) for n in sizes]
    masks = masks or {}
    key = _null_key(sizes, masks, n_draws, seed)
    if key in _NULLS:
        return _NULLS[key]
    rng = np.random.default_rng([int(seed), 7])
    L = len(sizes) - 1
    ff = {l: np.empty(n_draws) for l in range(2, L + 1)}
    cross = {l: np.empty(n_draws) for l in range(1, L + 1)}
    for k in range(n_draws):
        w = {}
        for name in population_names(L):
            m = rng.standard_normal(population_shape(name, sizes))
            w[name] = np.where(masks[name], m, 0.0) if name in masks else m
        for l in ff:
            ff[l][k] = angle(w[f"W{l}"].T, effective_feedback(w, l - 1))
        for l in cross:
            cross[l][k] = angle(w[f"V{l}"], w[f"U{l}"].T)
    for a in (*ff.values(), *cross.values()):
        a.flags.writeable = False
    if len(_NULLS) >= 16:
        _NULLS.clear()
    _NULLS[key] = {"ff": ff, "cross": cross}
    return _NULLS[key]


def null_p_value(observed, null):
    """One-sided empirical p-value of an angle this small under the null.

    >>> null_p_value(10.0, np.array([80.0, 85.0, 90.0]))
    0.25
    >>> null_p_value(float("nan"), np.array([80.0]))
    1.0
    """
    if observed is None or not math.isfinite(observed):
        return 1.0
    null = np.asarray(null, dtype=float)
    return float((1 + np.sum(null <= observed)) / (1 + null.size))


def _layers_of(runs, key):
    return sorted({int(l) for run in runs for l in run[key]})


def seed_verdicts(runs, null, alpha=ALPHA):
    """The verdict of every preset, over one or more seeds.

    Parameters
    ----------
    runs : dict of str -> list of dict
        ``{preset: [one entry per seed, in the same seed order for every preset]}``.
        Each entry holds the last snapshot's ``ff`` (``{l: deg}``, l = 2..L),
        ``cross`` (``{l: deg}``, l = 1..L), optionally ``grad`` (``{l: deg}``),
        ``status`` ("done" or the reason it stopped) and ``seed``.
    null : dict
        :func:`random_null` at the circuit's shapes and masks.
    alpha : float
        Significance level of the null tests.

    Returns
    -------
    dict of str -> dict
        Per preset: ``verdict`` (``ASSEMBLED``, ``NOT ASSEMBLED``, ``UNDECIDED``,
        ``STRUCTURED``, or the run's status in capitals when it did not end
        "done": ``DIVERGED``, ``UNSTABLE``), ``decided_by`` (the test that decided,
        in words), ``seeds``, the angles (mean over seeds), ``null`` (per layer
        and measure: the largest p-value over seeds and the null's median),
        ``ablations`` (per ablation and layer: paired difference and interval),
        ``missing_ablations`` and ``notes``.
    """
    out = {}
    seeds = {len(v) for v in runs.values()}
    if len(seeds) != 1:
        raise ValueError(f"every preset needs the same seeds; got {({p: len(v) for p, v in runs.items()})} runs")
    n_seeds = seeds.pop()
    for preset, entries in runs.items():
        res = {"preset": preset, "seeds": [e.get("seed") for e in entries], "notes": []}
        bad = [e for e in entries if e.get("status", "done") != "done"]
        if bad:
            res.update(verdict=str(bad[0]["status"]).upper(),
                       decided_by=f"the run was {bad[0]['status']} in seed {bad[0].get('seed')}: "
                                  "no verdict on its last weights")
            out[preset] = res
            continue
        res["ff_angle"] = {l: float(np.mean([e["ff"][l] for e in entries])) for l in _layers_of(entries, "ff")}
        res["cross_angle"] = {l: float(np.mean([e["cross"][l] for e in entries])) for l in _layers_of(entries, "cross")}
        if all(e.get("grad") for e in entries):
            res["grad_angle"] = {l: float(np.mean([e["grad"][l] for e in entries])) for l in _layers_of(entries, "grad")}
        if preset not in RANDOM_START:
            res.update(verdict="STRUCTURED",
                       decided_by="U = V = I by construction: alignment reported, no self-assembly claim")
            out[preset] = res
            continue
        res["null"] = {
            measure: {l: {"p_max": max(null_p_value(e[key][l], null[measure][l]) for e in entries),
                          "null_median": float(np.median(null[measure][l]))}
                      for l in _layers_of(entries, key)}
            for measure, key in (("cross", "cross"), ("ff", "ff"))
        }
        ablations = [a for a in MATCHED_ABLATIONS if a != preset]
        present = [a for a in ablations if a in runs and runs[a] and all(e.get("status", "done") == "done" for e in runs[a])]
        res["missing_ablations"] = [a for a in ablations if a not in present]
        res["ablations"] = {}
        for a in present:
            res["ablations"][a] = {}
            for measure, key in (("ff", "ff"), ("grad", "grad")):
                if not all(e.get(key) for e in entries + runs[a]):
                    continue
                res["ablations"][a][measure] = {
                    l: dict(zip(("mean", "low", "high"), paired_difference(
                        [e[key][l] for e in entries], [e[key][l] for e in runs[a]])))
                    for l in _layers_of(entries, key)}
        res["verdict"], res["decided_by"] = _decide(res, alpha, n_seeds)
        if n_seeds == 1:
            res["notes"].append("one seed: no interval for the ablation test; run more seeds and inspect them together")
        if res["missing_ablations"]:
            res["notes"].append("add " + " and ".join(res["missing_ablations"])
                                + " (same seed) to test against " + ("it" if len(res["missing_ablations"]) == 1 else "them"))
        out[preset] = res
    return out


def _decide(res, alpha, n_seeds):
    """The first failed test, in the order: cross-stream null, forward-feedback null, ablations."""
    where = " in every seed" if n_seeds > 1 else ""
    for measure, words in (("cross", "cross-stream angle"), ("ff", "forward-feedback angle")):
        for l, t in res["null"][measure].items():
            if not t["p_max"] < alpha:
                return "NOT ASSEMBLED", (f"{words} of layer {l} is inside the random null "
                                         f"(p = {t['p_max']:.3g} >= {alpha:g}; null median {t['null_median']:.1f} deg)")
    if not res["ablations"]:
        return "UNDECIDED", ("angles are outside the random null, but no matched ablation is in the run: add "
                             + " or ".join(res["missing_ablations"]))
    for a, tests in res["ablations"].items():
        for l, d in tests["ff"].items():
            if n_seeds > 1 and not d["high"] < 0:
                return "NOT ASSEMBLED", (f"forward-feedback angle of layer {l} is not clearly below {a}'s "
                                         f"(paired difference {d['mean']:+.1f} deg, 95% CI [{d['low']:+.1f}, {d['high']:+.1f}])")
            if n_seeds == 1 and not d["mean"] < 0:
                return "NOT ASSEMBLED", (f"forward-feedback angle of layer {l} is not below {a}'s "
                                         f"(difference {d['mean']:+.1f} deg, one seed)")
    tested = " and ".join(res["ablations"])
    how = (f"paired over {n_seeds} seeds, 95% CI below 0" if n_seeds > 1 else "one seed")
    return "ASSEMBLED", (f"cross-stream and forward-feedback angles outside the random null in every layer{where} "
                         f"(p < {alpha:g}), and forward-feedback angles below {tested}'s in every layer ({how})")


def _fmt(values, spec=".1f"):
    return ", ".join(f"{v:{spec}}" for _, v in sorted(values.items())) or "-"


def format_seed_verdict(res):
    """One line: the preset, its verdict, the test that decided it, and the angles behind it.

    >>> format_seed_verdict({"preset": "backprop", "verdict": "STRUCTURED", "decided_by": "U = V = I",
    ...                      "ff_angle": {2: 0.0}, "cross_angle": {1: 0.0, 2: 0.0}, "seeds": [0], "notes": []})
    'backprop: STRUCTURED (U = V = I); forward-feedback angle 0.0 deg, cross-stream angle 0.0, 0.0 deg [1 seed]'
    """
    n = len(res["seeds"])
    line = f"{res['preset']}: {res['verdict']} ({res['decided_by']})"
    if "ff_angle" in res:
        line += f"; forward-feedback angle {_fmt(res['ff_angle'])} deg, cross-stream angle {_fmt(res['cross_angle'])} deg"
    if "grad_angle" in res:
        line += f", gradient angle {_fmt(res['grad_angle'])} deg"
    line += f" [{n} seed{'s' if n != 1 else ''}{', mean' if n > 1 else ''}]"
    if res["notes"]:
        line += "; note: " + "; ".join(res["notes"])
    return line
