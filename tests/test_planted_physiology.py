"""Physiology intervals against scipy, through the values compare reports (issue 21).

Planted bugs these catch (tools/mutate.py): a two-sided quantile made one-sided, and n instead
of n - 1 degrees of freedom, in the data's intervals (shipped SLN and lognormal sigma) and in
the model's (lognormal sigma of a population, bootstrap percentile intervals).
"""
import csv

import numpy as np
import pytest
from scipy import stats

from selfassembly.analysis import physiology_data as pdata
from selfassembly.analysis.physiology import loop_index, model_statistics


def _points(name):
    return [p for p in pdata.shipped_data() if p.statistic == name]


def test_shipped_sln_intervals_are_student_t_over_the_area_pairs():
    with open(pdata.shipped_files()["markov2014_sln.csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    ff = np.array([float(r["sln_feedforward"]) for r in rows])
    fb = np.array([float(r["sln_feedback"]) for r in rows])
    assert len(ff) == 8  # few pairs: n vs n - 1 degrees of freedom moves the bound by about 3%
    for name, x in (("sln_feedforward", ff), ("sln_feedback", fb), ("sln_sum", ff + fb)):
        (p,) = _points(name)
        lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert (p.ci_low, p.ci_high) == pytest.approx((lo, hi), rel=1e-12), name
        assert p.n == len(x)


def test_shipped_lognormal_sigma_interval_is_chi_square_with_n_minus_1_dof():
    (sigma,) = _points("lognormal_sigma")
    (ratio,) = _points("lognormal_mean_median_ratio")
    n = sigma.n
    q_lo, q_hi = stats.chi2.interval(0.95, n - 1)
    lo, hi = sigma.value * np.sqrt((n - 1) / q_hi), sigma.value * np.sqrt((n - 1) / q_lo)
    assert (sigma.ci_low, sigma.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    assert (ratio.ci_low, ratio.ci_high) == pytest.approx((np.exp(lo**2 / 2), np.exp(hi**2 / 2)), rel=1e-12)


def test_model_sigma_interval_is_chi_square_with_n_minus_1_dof():
    """A population with 6 positive weights: sigma's interval as model_statistics reports it."""
    rng = np.random.default_rng(4)
    w = {"W1": rng.normal(size=(4, 3)), "W2": rng.normal(size=(3, 4)), "B2": rng.normal(size=(4, 3)),
         "U1": np.eye(4), "U2": np.eye(3), "V1": np.eye(4), "V2": np.eye(3)}
    w["W1"] = np.abs(w["W1"]) * np.where(np.arange(12).reshape(4, 3) < 6, 1, -1)  # 6 positive weights
    records = model_statistics(w, w)
    (rec,) = [r for r in records if r["statistic"] == "lognormal_sigma" and r["population"] == "W1"]
    ln = np.log(w["W1"][w["W1"] > 0])
    assert ln.size == 6
    s = np.std(ln, ddof=1)
    q_lo, q_hi = stats.chi2.interval(0.95, 5)
    assert rec["value"] == pytest.approx(s, rel=1e-12)
    assert (rec["ci_low"], rec["ci_high"]) == pytest.approx((s * np.sqrt(5 / q_hi), s * np.sqrt(5 / q_lo)), rel=1e-12)


def test_bootstrap_interval_is_two_sided_95_percent():
    """Three source cells, each with one looped target (weight 2, 3 or 4) and two others (weight 1):
    a bootstrap resample's index is the mean looped weight of the three cells it draws. Drawing one
    cell three times has probability 1/27 = 3.7%, between 2.5% and 5%, so the two-sided 95%
    interval is [2, 4] exactly and a one-sided 95% (or two-sided 90%) one would be [7/3, 11/3]."""
    F = np.ones((3, 3))
    F[np.diag_indices(3)] = [2.0, 3.0, 4.0]
    r = loop_index(F, np.eye(3), density=1 / 3, n_boot=20000, seed=0)
    assert r["index"] == pytest.approx(3.0) and r["n_looped"] == 3
    assert (r["ci_low"], r["ci_high"]) == (pytest.approx(2.0), pytest.approx(4.0))
