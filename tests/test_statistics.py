"""The one statistics module: Student-t intervals of a mean and of a paired difference, against scipy and
by hand, and its callers (the verdict, the sweep's table, the physiology data) giving the same numbers."""
import math

import numpy as np
import pytest
from scipy import stats

from selfassembly.analysis.statistics import paired_difference, standard_error, t_interval


@pytest.mark.parametrize("n", [2, 3, 5, 17])
@pytest.mark.parametrize("confidence", [0.95, 0.9, 0.99])
def test_t_interval_is_scipys(rng, n, confidence):
    """n = 17 separates n from n - 1 degrees of freedom (0.5 % at 95 %); n >= 2 separates /n from /sqrt(n),
    ddof 0 from 1 and the normal quantile from Student's."""
    x = rng.normal(3.0, 2.0, size=n)
    low, high = stats.t.interval(confidence, df=n - 1, loc=x.mean(), scale=stats.sem(x))
    m, h = t_interval(x, confidence)
    assert m == pytest.approx(x.mean(), rel=1e-12)
    assert (m - h, m + h) == (pytest.approx(low, rel=1e-12), pytest.approx(high, rel=1e-12))
    assert standard_error(x) == pytest.approx(stats.sem(x), rel=1e-12)


def test_t_interval_by_hand():
    """x = 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations 32, sd = sqrt(32 / 7), se = sd / sqrt(8);
    t_{0.975, 7} = 2.3646 from a printed table: half-width 1.7875. And 1, 2, 3: sd 1, t_{0.975, 2} = 4.3027."""
    m, h = t_interval([2, 4, 4, 4, 5, 5, 7, 9])
    assert m == 5.0
    assert standard_error([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(math.sqrt(32 / 7) / math.sqrt(8), rel=1e-12)
    assert h == pytest.approx(2.3646 * math.sqrt(32 / 7) / math.sqrt(8), abs=1e-4)
    m, h = t_interval([1.0, 2.0, 3.0])
    assert (m, h) == (2.0, pytest.approx(4.3027 / math.sqrt(3), abs=1e-4))
    m, h = t_interval([1.0, 2.0, 3.0], confidence=0.9)  # t_{0.95, 2} = 2.9200
    assert h == pytest.approx(2.9200 / math.sqrt(3), abs=1e-4)


@pytest.mark.parametrize("n", [3, 12])
def test_paired_difference_is_scipys_paired_t_test(rng, n):
    a = rng.normal(40.0, 5.0, size=n)
    b = a + rng.normal(2.0, 3.0, size=n)  # paired: b follows a, seed by seed
    res = stats.ttest_rel(a, b)
    ci = res.confidence_interval(0.95)
    m, lo, hi = paired_difference(a, b)
    assert m == pytest.approx(np.mean(a - b), rel=1e-12)
    assert (lo, hi) == (pytest.approx(ci.low, rel=1e-12), pytest.approx(ci.high, rel=1e-12))
    assert (hi < 0 or lo > 0) == (res.pvalue < 0.05)  # the interval excludes 0 exactly when the test rejects
    ci90 = res.confidence_interval(0.9)
    assert paired_difference(a, b, confidence=0.9)[1:] == (pytest.approx(ci90.low, rel=1e-12),
                                                           pytest.approx(ci90.high, rel=1e-12))


def test_too_few_values_and_bad_input():
    assert t_interval([4.0])[0] == 4.0 and math.isnan(t_interval([4.0])[1])
    assert all(math.isnan(v) for v in t_interval([]))
    m, lo, hi = paired_difference([3.0], [1.0])
    assert m == 2.0 and math.isnan(lo) and math.isnan(hi)
    assert math.isnan(standard_error([1.0]))
    assert all(math.isnan(v) for v in t_interval([1.0, float("nan"), 2.0]))  # NaN is not dropped silently
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="confidence"):
        t_interval([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="flat sequence"):
        t_interval([[1.0, 2.0], [3.0, 4.0]])


# ---- the callers give the module's numbers ------------------------------------------------------
def test_the_verdicts_ablation_interval_is_the_paired_t_interval():
    """seed_verdicts' paired difference to each ablation, on constructed angles of 4 seeds."""
    from selfassembly.analysis.verdict import seed_verdicts

    ff = {"four_synapse": [20.0, 31.0, 24.5, 27.0], "four_synapse_fixed_cross": [60.0, 58.0, 71.0, 64.0],
          "feedback_alignment": [40.0, 52.0, 38.0, 47.5]}
    runs = {p: [{"ff": {2: x}, "cross": {1: 10.0, 2: 10.0}, "status": "done", "seed": k} for k, x in enumerate(xs)]
            for p, xs in ff.items()}
    null = {"ff": {2: np.full(99, 90.0)}, "cross": {1: np.full(99, 90.0), 2: np.full(99, 90.0)}}
    res = seed_verdicts(runs, null)["four_synapse"]
    for ablation in ("four_synapse_fixed_cross", "feedback_alignment"):
        ci = stats.ttest_rel(ff["four_synapse"], ff[ablation]).confidence_interval(0.95)
        got = res["ablations"][ablation]["ff"][2]
        assert got["mean"] == pytest.approx(np.mean(np.subtract(ff["four_synapse"], ff[ablation])), rel=1e-12)
        assert (got["low"], got["high"]) == (pytest.approx(ci.low, rel=1e-12), pytest.approx(ci.high, rel=1e-12))


def test_the_sweep_tables_interval_is_the_t_interval():
    """group_stats over the seeds of a point: failed runs and empty cells left out, the rest as scipy's interval."""
    from selfassembly.sweep import group_stats, parse_sweep

    sweep = parse_sweep({"training": {"presets": ["four_synapse", "kolen_pollack"]},
                         "sweep": {"plasticity.eta_c": [0.001], "seeds": [0, 1, 2, 3, 4]}})
    acc = [0.81, 0.86, 0.79, 0.9, 0.5]
    dacc = [-0.02, 0.01, -0.05, 0.03, ""]
    angle = [30.0, 41.0, 35.5, None, 12.0]
    rows = [{"group": "g", "preset": "four_synapse", "plasticity.eta_c": 0.001, "status": "done" if k < 4 else "failed",
             "final_test_acc": acc[k], "acc_minus_reference": dacc[k], "ff_angle_worst": angle[k], "verdict": ""}
            for k in range(5)]
    s = group_stats(sweep, rows)[("g", "four_synapse")]
    assert (s["n"], s["of"]) == (4, 5)
    for key, values in (("acc", acc[:4]), ("dacc", dacc[:4]), ("angle", angle[:3])):
        x = np.asarray(values, dtype=float)
        low, high = stats.t.interval(0.95, df=x.size - 1, loc=x.mean(), scale=stats.sem(x))
        m, h = s[key]
        assert (m - h, m + h) == (pytest.approx(low, rel=1e-12), pytest.approx(high, rel=1e-12)), key


def test_the_physiology_datas_interval_is_the_t_interval(tmp_path):
    """The SLN means over area pairs (data/markov2014_sln.csv's format, 5 constructed pairs)."""
    from selfassembly.analysis.physiology_data import _markov_sln

    ff, fb = [0.73, 0.98, 0.89, 0.93, 0.81], [0.44, 0.35, 0.2, 0.27, 0.31]
    path = tmp_path / "markov2014_sln.csv"
    path.write_text("area_lower,area_higher,sln_feedforward,sln_feedback,source\n"
                    + "".join(f"A{k},B{k},{f},{b},test\n" for k, (f, b) in enumerate(zip(ff, fb))))
    points = {p.statistic: p for p in _markov_sln({"markov2014_sln.csv": path})}
    for name, x in (("sln_feedforward", ff), ("sln_feedback", fb), ("sln_sum", np.add(ff, fb))):
        x = np.asarray(x)
        low, high = stats.t.interval(0.95, df=x.size - 1, loc=x.mean(), scale=stats.sem(x))
        p = points[name]
        assert p.value == pytest.approx(x.mean(), rel=1e-12) and p.n == 5
        assert (p.ci_low, p.ci_high) == (pytest.approx(low, rel=1e-12), pytest.approx(high, rel=1e-12))
        assert p.se == pytest.approx(stats.sem(x), rel=1e-12)
