"""Physiology data: the shipped published figures, users' own CSV files, and the statistic registry.

Shipped data
------------
``selfassembly/analysis/data/*.csv`` hold the published figures as printed
(counts, fitted parameters, SLN pairs, qualitative findings), each row with
its source citation. :func:`shipped_data` turns them into
:class:`DataPoint` s, deriving each statistic and its 95% interval in code,
so that the derivation is visible and tested:

* Song et al. 2005 pairs: reciprocity ratio = (two-way / pairs) / p^2 with
  p = connections found / tested; interval: exact binomial (Clopper-Pearson)
  on the two-way count, the density taken as given (as in their null).
* Song et al. 2005 triads: ratio = observed / expected under the pair-state
  null; interval: exact binomial on the class count among the 2446 triplets.
* Song et al. 2005 lognormal fit: sigma, with the chi-square interval for
  n = 931 (an assumption, flagged in the file), and the fit's mean/median
  ratio exp(sigma^2 / 2) with the interval mapped from sigma's.
* Markov et al. 2014 SLN: mean over the 8 area pairs of SLN(feedforward),
  SLN(feedback) and their sum, with Student-t 95% intervals over pairs.
* Qualitative findings (Siu et al. 2021, Young et al. 2021, Royer & Pare
  2003): one-sided intervals, e.g. loop index > 1.

User data
---------
A user's CSV file has a header row and one measurement per row::

    statistic,value,ci_low,ci_high,se,n,source
    reciprocity_ratio,3.2,2.5,4.1,,120,"My lab (2024), L2/3 pairs"
    lognormal_sigma,1.05,,,0.04,300,"My lab (2024)"
    loop_index_V,1.6,1,inf,,,"direction only: looped cells get more feedback"

``statistic`` (a name of :data:`STATISTICS`), ``value`` and ``source`` are
required in every row; each row also needs a 95% interval, as ``ci_low`` and
``ci_high`` or as a standard error ``se`` (interval value +- 1.96 se; where
both are given the interval is used). An infinite bound (``inf``, ``-inf``)
makes a one-sided, direction-only finding. ``n`` and ``note`` are optional.
Any other column, an unknown statistic name or a malformed row raises
:class:`PhysiologyDataError` naming the file and line; no row is skipped.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import stats

from ..errors import InputError
from .physiology import TRIAD_CLASSES, binomial_interval, triad_class_probabilities
from .statistics import standard_error, t_interval

__all__ = [
    "PhysiologyDataError",
    "Statistic",
    "STATISTICS",
    "DataPoint",
    "shipped_files",
    "shipped_data",
    "load_user_data",
    "read_table",
    "USER_COLUMNS",
    "check_duplicates",
]

Z95 = float(stats.norm.ppf(0.975))


class PhysiologyDataError(InputError):
    """A physiology data file is missing, malformed or names an unknown statistic."""


@dataclass(frozen=True)
class Statistic:
    """A statistic the comparison knows: how the model computes it and what it is compared with.

    Attributes
    ----------
    name : str
    title : str
    model : str
        Which model populations it is computed on, or ``"structural"`` where
        the model's value is fixed by its architecture.
    counterpart : str
        The experimental measurement it corresponds to.
    log_scale : bool
        Plot on a log axis.
    domain : (float, float)
        The values the statistic can take; a data value outside is refused.
    """

    name: str
    title: str
    model: str
    counterpart: str
    log_scale: bool = False
    domain: tuple = (0.0, math.inf)


def _registry():
    stats_ = [
        Statistic("reciprocity_ratio", "Reciprocity ratio", "cross-stream pairs U_l/V_l (A_l <-> D_l), l = 1..L-1",
                  "two-way connected pairs over independent expectation (Song et al. 2005)", True),
        Statistic("lognormal_sigma", "Lognormal sigma of positive weights", "every population",
                  "ln-space sigma of EPSP amplitudes (Song et al. 2005)"),
        Statistic("lognormal_mean_median_ratio", "Mean/median of positive weights", "every population",
                  "mean/median of the EPSP amplitude distribution (Song et al. 2005)"),
        Statistic("loop_index_V", "Loop index of V (vs U)", "V_l against U_l, l = 1..L-1",
                  "feedback onto cells projecting back to its source (Siu et al. 2021; Young et al. 2021)", True),
        Statistic("loop_index_B", "Loop index of feedback (V B U vs W)", "V_l B_{l+1} U_{l+1} against W_{l+1}",
                  "feedback onto cells projecting back to its source (Siu et al. 2021; Young et al. 2021)", True),
        Statistic("heterosynaptic_conservation", "Heterosynaptic conservation index",
                  "every population, first to last snapshot",
                  "conservation of a cell's total synaptic weight (Royer & Pare 2003)", True),
        Statistic("sln_feedforward", "SLN of feedforward projections", "structural",
                  "fraction of feedforward-projecting neurons in supragranular layers (Markov et al. 2014)",
                  domain=(0.0, 1.0)),
        Statistic("sln_feedback", "SLN of feedback projections", "structural",
                  "fraction of feedback-projecting neurons in supragranular layers (Markov et al. 2014)",
                  domain=(0.0, 1.0)),
        Statistic("sln_sum", "SLN(FF) + SLN(FB) of a reciprocal pair", "structural",
                  "SLN(A->B) + SLN(B->A) of reciprocally connected areas (Markov et al. 2014)", domain=(0.0, 2.0)),
    ]
    stats_ += [Statistic(f"triad_ratio_{c}", f"Triad {c} ratio", "cross-stream graph of A_l and D_l (U_l, V_l)",
                         f"triad class {c} count over the pair-state null (Song et al. 2005, Fig. 4)", True)
               for c in TRIAD_CLASSES]
    return {s.name: s for s in stats_}


#: every statistic name a data file may use
STATISTICS = _registry()


@dataclass
class DataPoint:
    """One measured value of a statistic with its 95% interval.

    Attributes
    ----------
    statistic : str
    value : float or None
        None for a direction-only finding.
    ci_low, ci_high : float
        95% interval; an infinite bound makes a one-sided finding.
    source : str
        Citation.
    file : str
        Data file the point came from.
    line : int or None
        Line of that file (None where derived from several lines).
    n : int or None
    se : float or None
    derivation : str
        How value and interval were obtained.
    finding : str
        The published finding in words (qualitative points).
    shipped : bool
    """

    statistic: str
    value: float | None
    ci_low: float
    ci_high: float
    source: str
    file: str
    line: int | None = None
    n: int | None = None
    se: float | None = None
    derivation: str = ""
    finding: str = ""
    shipped: bool = False

    @property
    def one_sided(self):
        """True for a direction-only finding (an infinite bound)."""
        return math.isinf(self.ci_low) or math.isinf(self.ci_high)

    def as_dict(self):
        d = dict(self.__dict__)  # (asdict deep-copies every field: slow for 10^5 user data points)
        d["one_sided"] = self.one_sided
        return d


# --------------------------------------------------------------------------- reading tables
def read_table(path, required, optional=(), label=None):
    """Read a CSV file strictly: header check, every row complete, line numbers kept.

    Parameters
    ----------
    path : path-like
    required : sequence of str
        Columns that must be present (and non-empty in every row).
    optional : sequence of str
        Columns that may be present (cells may be empty).
    label : str, optional
        Name of the file in messages (default: the path).

    Returns
    -------
    list of (int, dict)
        Line number and row (column -> stripped text) of each data row.

    Raises
    ------
    PhysiologyDataError
        Missing file, missing or unknown columns, a row with too many or too
        few cells, an empty required cell, or no data rows.
    """
    label = label or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PhysiologyDataError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise PhysiologyDataError(f"{label} is a folder, not a CSV file; give the data file itself (--data FILE.csv)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PhysiologyDataError(f"{label}: cannot read as UTF-8 text ({exc})") from None
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise PhysiologyDataError(f"{label}, line 1: the file is empty; expected a header row with the columns "
                                  f"{', '.join(required)}") from None
    except csv.Error as exc:
        raise PhysiologyDataError(_open_quote(label, 1, reader.line_num) if "unexpected end of data" in str(exc)
                                  else f"{label}, line 1: malformed quoting ({exc})") from None
    if reader.line_num > 1:
        raise PhysiologyDataError(_open_quote(label, 1, reader.line_num))
    _check_header(header, required, optional, label)
    rows = []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise PhysiologyDataError(_open_quote(label, start, reader.line_num)) from None
            raise PhysiologyDataError(f"{label}, line {reader.line_num}: malformed quoting ({exc}); a quoted cell "
                                      'must be quoted whole, e.g. "Song, 2005", with "" for a quote inside it') from None
        line = reader.line_num
        if line > start:  # a quoted cell ran over line ends: an unclosed quote would swallow the rows below
            raise PhysiologyDataError(_open_quote(label, start, line))
        if not cells or all(not c.strip() for c in cells):
            continue  # a blank line holds no data
        if len(cells) != len(header):
            raise PhysiologyDataError(f"{label}, line {line}: {len(cells)} cells but the header has {len(header)} "
                                      f"columns ({', '.join(header)}); quote cells that contain commas")
        row = {h: c.strip() for h, c in zip(header, cells)}
        empty = [c for c in required if not row[c]]
        if empty:
            raise PhysiologyDataError(f"{label}, line {line}: empty {', '.join(empty)}; every row needs a value there")
        rows.append((line, row))
    if not rows:
        raise PhysiologyDataError(f"{label}: no data rows after the header")
    return rows


def _open_quote(label, start, end):
    return (f"{label}, line {start}: a quote opened on this line is not closed on it, so lines {start} to {end} would "
            "be read as one cell and their rows lost; close the quote on the same line (a cell may not span lines), "
            'or remove it (write a quote inside a quoted cell as "")')


def _check_header(header, required, optional, label):
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required and c not in optional]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or dupes:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        if dupes:
            problems.append(f"repeated column(s) {', '.join(dupes)}")
        allowed = ", ".join(list(required) + [f"{c} (optional)" for c in optional])
        raise PhysiologyDataError(f"{label}, line 1: {'; '.join(problems)}; the columns are: {allowed}")


def _number(text, column, label, line, allow_inf=False):
    try:
        x = float(text)
    except ValueError:
        raise PhysiologyDataError(f"{label}, line {line}: {column} {text!r} is not a number") from None
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise PhysiologyDataError(f"{label}, line {line}: {column} must be a finite number, got {text!r}")
    return x


def _count(text, column, label, line):
    try:
        n = int(text)
    except ValueError:
        raise PhysiologyDataError(f"{label}, line {line}: {column} {text!r} is not a whole number") from None
    if n < 0:
        raise PhysiologyDataError(f"{label}, line {line}: {column} must be >= 0, got {n}")
    return n


def _statistic_name(text, label, line):
    if text not in STATISTICS:
        raise PhysiologyDataError(f"{label}, line {line}: unknown statistic {text!r}; known names: "
                                  + ", ".join(STATISTICS))
    return text


# --------------------------------------------------------------------------- user files
#: columns of a user data file: required, then optional
USER_COLUMNS = (("statistic", "value", "source"), ("ci_low", "ci_high", "se", "n", "note"))


def load_user_data(path):
    """Read a user's data file (format in the module docstring) into :class:`DataPoint` s.

    Raises
    ------
    PhysiologyDataError
        With the file name and line number of the first problem.
    """
    label = str(path)
    rows = read_table(path, *USER_COLUMNS, label=label)
    points = [_user_point(row, label, line) for line, row in rows]
    check_duplicates(points)
    return points


def _where(point):
    return f"{point.file}, line {point.line}" if point.line else point.file


def check_duplicates(points):
    """Refuse a data point given twice (same statistic, value, interval and source), which would count twice.

    Raises
    ------
    PhysiologyDataError
        Naming the file and line of both copies.
    """
    seen = {}
    for p in points:
        key = (p.statistic, None if p.value is None else round(p.value, 12), round(p.ci_low, 12), round(p.ci_high, 12),
               p.source.strip().lower())
        if key in seen:
            first = seen[key]
            raise PhysiologyDataError(f"{_where(p)}: repeats the data point of {_where(first)} ({p.statistic}, "
                                      f"interval [{p.ci_low:g}, {p.ci_high:g}], source {p.source!r}); a measurement may be given once, "
                                      "or it would count twice: remove one")
        seen[key] = p


def _user_point(row, label, line):
    name = _statistic_name(row["statistic"], label, line)
    value = _number(row["value"], "value", label, line)
    lo_t, hi_t, se_t = row.get("ci_low", ""), row.get("ci_high", ""), row.get("se", "")
    se = _number(se_t, "se", label, line) if se_t else None
    if se is not None and se <= 0:
        raise PhysiologyDataError(f"{label}, line {line}: se must be positive, got {se_t!r}")
    if bool(lo_t) != bool(hi_t):
        raise PhysiologyDataError(f"{label}, line {line}: give both ci_low and ci_high (use inf or -inf for a "
                                  "one-sided finding), or neither and se")
    if lo_t:
        lo = _number(lo_t, "ci_low", label, line, allow_inf=True)
        hi = _number(hi_t, "ci_high", label, line, allow_inf=True)
        derivation = "95% interval as given"
    elif se is not None:
        lo, hi = value - Z95 * se, value + Z95 * se
        derivation = "95% interval = value +- 1.96 se"
    else:
        raise PhysiologyDataError(f"{label}, line {line}: no interval; give ci_low and ci_high (95%) or se, "
                                  "so that the comparison can judge agreement")
    lo_d, hi_d = STATISTICS[name].domain
    if not lo_d <= value <= hi_d:
        raise PhysiologyDataError(f"{label}, line {line}: {name} cannot be {value:g}; its values lie in "
                                  f"[{lo_d:g}, {hi_d:g}]")
    if math.isinf(lo) and math.isinf(hi):
        raise PhysiologyDataError(f"{label}, line {line}: ci_low and ci_high are both infinite, an interval that "
                                  "excludes nothing; give a finite bound (one infinite bound makes a direction-only "
                                  "finding)")
    if not lo <= value <= hi or lo == hi:
        raise PhysiologyDataError(f"{label}, line {line}: need ci_low <= value <= ci_high and ci_low < ci_high, "
                                  f"got {lo} <= {value} <= {hi}")
    n = _count(row["n"], "n", label, line) if row.get("n") else None
    one_sided = math.isinf(lo) or math.isinf(hi)
    return DataPoint(name, None if one_sided else value, lo, hi, row["source"], label, line, n, se, derivation,
                     finding=row.get("note", "") or (f"value {value}, direction only" if one_sided else ""))


# --------------------------------------------------------------------------- shipped files
_SHIPPED = {
    "song2005_pairs.csv": (("quantity", "count", "source"), ()),
    "song2005_triads.csv": (("triad", "observed", "source"), ()),
    "song2005_lognormal.csv": (("parameter", "value", "unit", "source"), ("note",)),
    "markov2014_sln.csv": (("area_lower", "area_higher", "sln_feedforward", "sln_feedback", "source"), ()),
    "looped_targets.csv": (("statistic", "relation", "reference", "finding", "source"), ("model_reading",)),
    "royer_pare2003_conservation.csv": (("statistic", "relation", "reference", "finding", "source"), ("model_reading",)),
}


def shipped_files():
    """Paths of the shipped data files, by file name (from the installed package)."""
    root = resources.files("selfassembly.analysis") / "data"
    out = {}
    for name in _SHIPPED:
        path = root / name
        if not path.is_file():
            raise PhysiologyDataError(f"shipped data file {name} is missing from the installed package "
                                      "(selfassembly/analysis/data); reinstall selfassembly")
        out[name] = Path(str(path))
    return out


def _table(name, files):
    return read_table(files[name], *_SHIPPED[name], label=f"data/{name}")


def _keyed(rows, key, name):
    out = {}
    for line, row in rows:
        if row[key] in out:
            raise PhysiologyDataError(f"data/{name}, line {line}: {key} {row[key]!r} appears twice")
        out[row[key]] = (line, row)
    return out


def shipped_data():
    """Every shipped data point, derived from the published figures.

    Returns
    -------
    list of DataPoint
    """
    files = shipped_files()
    return (_song_pairs(files) + _song_triads(files) + _song_lognormal(files) + _markov_sln(files)
            + _qualitative(files, "looped_targets.csv") + _qualitative(files, "royer_pare2003_conservation.csv"))


def song_pair_counts(files=None):
    """Song et al. 2005 pair counts as ``{quantity: (count, source, line)}``, checked for consistency."""
    name = "song2005_pairs.csv"
    keyed = _keyed(_table(name, files or shipped_files()), "quantity", name)
    need = ["connections_tested", "connections_found", "pairs_tested", "pairs_unconnected", "pairs_one_way",
            "pairs_two_way"]
    missing = [q for q in need if q not in keyed]
    if missing:
        raise PhysiologyDataError(f"data/{name}: missing quantities {missing}")
    c = {q: (_count(keyed[q][1]["count"], "count", f"data/{name}", keyed[q][0]), keyed[q][1]["source"], keyed[q][0])
         for q in keyed}
    n = {q: v[0] for q, v in c.items()}
    if (n["pairs_unconnected"] + n["pairs_one_way"] + n["pairs_two_way"] != n["pairs_tested"]
            or n["pairs_one_way"] + 2 * n["pairs_two_way"] != n["connections_found"]
            or 2 * n["pairs_tested"] != n["connections_tested"]):
        raise PhysiologyDataError(f"data/{name}: counts are inconsistent (pair states must add up to the pairs, "
                                  "one-way + 2 two-way to the connections found, 2 pairs to the connections tested)")
    return c


def _song_pairs(files):
    c = song_pair_counts(files)
    n = {q: v[0] for q, v in c.items()}
    p = n["connections_found"] / n["connections_tested"]
    k, pairs = n["pairs_two_way"], n["pairs_tested"]
    lo, hi = binomial_interval(k, pairs)
    return [DataPoint("reciprocity_ratio", (k / pairs) / p**2, lo / p**2, hi / p**2, c["pairs_two_way"][1],
                      "data/song2005_pairs.csv", c["pairs_two_way"][2], pairs,
                      derivation=(f"({k}/{pairs}) / p^2 with p = {n['connections_found']}/{n['connections_tested']}; "
                                  "interval: exact binomial on the two-way count, p taken as given"), shipped=True)]


def song_pair_state_probabilities(files=None):
    """Song et al.'s pair-state frequencies (unconnected, one-way each direction, two-way)."""
    n = {q: v[0] for q, v in song_pair_counts(files).items()}
    pairs = n["pairs_tested"]
    return np.array([n["pairs_unconnected"], n["pairs_one_way"] / 2, n["pairs_one_way"] / 2, n["pairs_two_way"]]) / pairs


def _song_triads(files):
    name = "song2005_triads.csv"
    keyed = _keyed(_table(name, files), "triad", name)
    unknown = [t for t in keyed if t not in TRIAD_CLASSES]
    if unknown:
        line = keyed[unknown[0]][0]
        raise PhysiologyDataError(f"data/{name}, line {line}: unknown triad class {unknown[0]!r}; "
                                  f"classes: {', '.join(TRIAD_CLASSES)}")
    missing = [t for t in TRIAD_CLASSES if t not in keyed]
    if missing:
        raise PhysiologyDataError(f"data/{name}: missing triad classes {missing}")
    observed = {t: _count(keyed[t][1]["observed"], "observed", f"data/{name}", keyed[t][0]) for t in TRIAD_CLASSES}
    total = sum(observed.values())
    null = triad_class_probabilities(song_pair_state_probabilities(files))
    out = []
    for t in TRIAD_CLASSES:
        lo, hi = binomial_interval(observed[t], total)
        share = null[t]
        out.append(DataPoint(f"triad_ratio_{t}", observed[t] / (total * share), lo / share, hi / share,
                             keyed[t][1]["source"], f"data/{name}", keyed[t][0], total,
                             derivation=(f"{observed[t]} observed / {total * share:.2f} expected under the pair-state "
                                         f"null (pair frequencies of song2005_pairs.csv); interval: exact binomial "
                                         f"on {observed[t]}/{total}"), shipped=True))
    return out


def _song_lognormal(files):
    name = "song2005_lognormal.csv"
    label = f"data/{name}"
    keyed = _keyed(_table(name, files), "parameter", name)
    need = ["ln_variance", "ln_sigma", "mean", "median", "n_connections"]
    missing = [q for q in need if q not in keyed]
    if missing:
        raise PhysiologyDataError(f"{label}: missing parameters {missing}")
    val = {q: _number(keyed[q][1]["value"], "value", label, keyed[q][0]) for q in keyed}
    line_s = keyed["ln_sigma"][0]
    if abs(math.sqrt(val["ln_variance"]) - val["ln_sigma"]) > 1e-3:
        raise PhysiologyDataError(f"{label}, line {line_s}: ln_sigma {val['ln_sigma']} is not the square root of "
                                  f"ln_variance {val['ln_variance']}")
    n = int(val["n_connections"])
    sigma = val["ln_sigma"]
    dof = n - 1
    lo = sigma * math.sqrt(dof / stats.chi2.ppf(0.975, dof))
    hi = sigma * math.sqrt(dof / stats.chi2.ppf(0.025, dof))
    src = keyed["ln_sigma"][1]["source"]
    assumed = f"n = {n} assumed (data/{name}, line {keyed['n_connections'][0]})"
    ratio = val["mean"] / val["median"]
    fit_ratio = math.exp(sigma**2 / 2)
    if abs(ratio - fit_ratio) > 0.02 * fit_ratio:
        raise PhysiologyDataError(f"{label}: mean/median {ratio:.3f} disagrees with exp(sigma^2/2) {fit_ratio:.3f}")
    return [
        DataPoint("lognormal_sigma", sigma, lo, hi, src, label, line_s, n,
                  derivation=f"fitted ln-space sigma; interval: chi-square for a normal ln w, {assumed}", shipped=True),
        DataPoint("lognormal_mean_median_ratio", fit_ratio, math.exp(lo**2 / 2), math.exp(hi**2 / 2),
                  keyed["mean"][1]["source"], label, keyed["mean"][0], n,
                  derivation=(f"exp(sigma^2/2) of the fit = {val['mean']}/{val['median']} mV to rounding; interval "
                              f"mapped from sigma's, {assumed}"), shipped=True),
    ]


def _markov_sln(files):
    name = "markov2014_sln.csv"
    label = f"data/{name}"
    rows = _table(name, files)
    ff, fb = [], []
    for line, row in rows:
        f = _number(row["sln_feedforward"], "sln_feedforward", label, line)
        b = _number(row["sln_feedback"], "sln_feedback", label, line)
        for x, col in ((f, "sln_feedforward"), (b, "sln_feedback")):
            if not 0 <= x <= 1:
                raise PhysiologyDataError(f"{label}, line {line}: {col} must be a fraction in [0, 1], got {x}")
        ff.append(f)
        fb.append(b)
    ff, fb = np.array(ff), np.array(fb)
    src = rows[0][1]["source"]
    out = []
    for stat, x in (("sln_feedforward", ff), ("sln_feedback", fb), ("sln_sum", ff + fb)):
        m, half = t_interval(x, 0.95)
        out.append(DataPoint(stat, m, m - half, m + half, src, label, None, len(x), standard_error(x),
                             derivation=f"mean over {len(x)} reciprocal area pairs; Student-t 95% interval over pairs",
                             shipped=True))
    return out


def _qualitative(files, name):
    label = f"data/{name}"
    out = []
    for line, row in _table(name, files):
        stat = _statistic_name(row["statistic"], label, line)
        ref = _number(row["reference"], "reference", label, line)
        if row["relation"] == ">":
            lo, hi = ref, math.inf
        elif row["relation"] == "<":
            lo, hi = -math.inf, ref
        else:
            raise PhysiologyDataError(f"{label}, line {line}: relation must be '>' or '<', got {row['relation']!r}")
        reading = row.get("model_reading", "")
        out.append(DataPoint(stat, None, lo, hi, row["source"], label, line,
                             derivation=f"direction only: {stat} {row['relation']} {ref:g}"
                                        + (f" ({reading})" if reading else ""),
                             finding=row["finding"], shipped=True))
    return out
