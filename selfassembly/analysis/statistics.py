"""Intervals over seeds: the Student-t interval of a mean and of a paired difference.

The one place these are computed (the verdict, the sweep's table, the physiology data and
the benchmarks all call it). For ``n`` values ``x`` the two-sided interval at confidence
``c`` is

    mean(x) ± t_{(1 + c) / 2, n - 1} · sd(x) / sqrt(n),      sd with n - 1 in the denominator,

the textbook interval for a mean of a few seeds whose spread is estimated from the same
seeds (Student's t, not the normal quantile: with 3-5 seeds the difference is a factor of
1.3-2.2). A paired difference ``a - b`` (two presets on the same seeds) is the interval of
the mean of the differences, as in a paired t-test.

Values are used as given: a NaN makes the result NaN. Fewer than two values have no spread,
and their half-width is NaN.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["standard_error", "t_interval", "paired_difference"]


def _values(values):
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"expected a flat sequence of numbers, got an array of shape {x.shape}")
    return x


def standard_error(values):
    """Standard error of the mean: ``sd(values, ddof=1) / sqrt(n)`` (NaN for fewer than 2 values).

    >>> standard_error([1.0, 2.0, 3.0, 4.0])  # sd = sqrt(5/3), / sqrt(4)
    0.6454972243679028
    """
    x = _values(values)
    if x.size < 2:
        return float("nan")
    return float(np.std(x, ddof=1) / math.sqrt(x.size))


def t_interval(values, confidence=0.95):
    """Mean of ``values`` and the half-width of its two-sided Student-t interval.

    Parameters
    ----------
    values : sequence of float
        One number per seed (or per independent sample).
    confidence : float
        In (0, 1); 0.95 gives the 95 % interval.

    Returns
    -------
    mean, half : float
        The interval is ``[mean - half, mean + half]``. No values: both NaN; one value:
        ``half`` NaN.

    >>> m, h = t_interval([1.0, 2.0, 3.0])  # sd 1, t_{0.975, 2} = 4.3027
    >>> round(m, 3), round(h, 3)
    (2.0, 2.484)
    """
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = _values(values)
    if x.size == 0:
        return float("nan"), float("nan")
    mean = float(np.mean(x))
    if x.size < 2:
        return mean, float("nan")
    return mean, float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * standard_error(x))


def paired_difference(a, b, confidence=0.95):
    """Mean of ``a - b`` over paired samples (the same seeds) and its Student-t interval.

    Parameters
    ----------
    a, b : sequence of float
        Equal lengths; ``a[k]`` and ``b[k]`` belong to the same seed.
    confidence : float

    Returns
    -------
    mean, low, high : float
        With one pair the interval is ``(nan, nan)``.

    >>> m, lo, hi = paired_difference([10.0, 12.0, 11.0], [20.0, 21.0, 23.0])
    >>> round(m, 3), hi < 0
    (-10.333, True)
    """
    a, b = _values(a), _values(b)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {a.size} and {b.size}")
    mean, half = t_interval(a - b, confidence)
    return mean, mean - half, mean + half
