"""``selfassembly compare``: hold a run's circuit against the physiology data.

``compare_results(RESULTS_DIR)`` reads the weight snapshots of every preset
in a folder written by ``selfassembly run``, computes each statistic of
:mod:`selfassembly.analysis.physiology` at the first and last snapshot,
compares the last with every data point (the shipped published figures and
any user files, see :mod:`selfassembly.analysis.physiology_data`) and writes

``physiology.json``
    Per statistic: the data points (value, 95% interval, source, how it was
    derived), the model values per preset and population (trained value,
    its 95% interval where one exists, initial value), and one comparison
    per (data point, preset, population) with its verdict and the reason.
    Indented, except with more than :data:`INDENTED_POINTS` data points.
``physiology.md``
    The report: the verdict rule, a summary table, where the model agrees
    and where not, per-statistic tables, and what has no model counterpart.
``physiology_statistics.png``, ``physiology_triads.png``
    Model against data with error bars; triad ratios side by side.

Verdict rule (:func:`judge`)
----------------------------
* the data give a value and a two-sided 95% interval: **agree** if the
  model's value lies inside the interval, else **disagree**;
* the data give a direction only (a one-sided interval, e.g. loop index
  > 1): **agree** if the model's own 95% interval lies entirely on that side
  (the model shows the effect at the data's level of evidence), else
  **disagree**; without a model interval, **not comparable**;
* the model has no value (no counterpart, an undefined ratio, a population
  that did not change): **not comparable**, with the reason.

Non-finite numbers are written to JSON as ``null`` (NaN) or the strings
``"inf"`` / ``"-inf"``.
"""
from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..errors import InputError  # noqa: E402
from ..folders import claim_outputs, folder_kind  # noqa: E402
from ..io import SnapshotError, atomic_write_text, load_snapshots, write_json  # noqa: E402
from .plots import save_png  # noqa: E402
from .physiology import SONG_DENSITY, TRIAD_CLASSES, model_statistics  # noqa: E402
from .physiology_data import STATISTICS, check_duplicates, load_user_data, shipped_data  # noqa: E402

__all__ = ["compare_results", "judge", "register", "main", "STRUCTURAL", "VERDICT_RULE"]

AGREE, DISAGREE, NA = "agree", "disagree", "not comparable"

VERDICT_RULE = (
    "Where the data give a value with a two-sided 95% interval, the model agrees if its value lies inside that "
    "interval. Where the data give only a direction (a one-sided interval such as loop index > 1), the model "
    "agrees if its own 95% interval lies entirely on that side. A model value that is undefined, or a statistic "
    "without a model counterpart, is 'not comparable'. The model value is the last snapshot's; the first "
    "snapshot's is shown for contrast."
)

#: model values fixed by the architecture (no weights involved), with the reading that gives them
STRUCTURAL = {
    "sln_feedforward": 1.0,
    "sln_feedback": 0.0,
    "sln_sum": 1.0,
}
STRUCTURAL_NOTE = (
    "The model has no cortical layers. Reading the ascending cells A as the supragranular (feedforward-projecting) "
    "and the descending cells D as the infragranular (feedback-projecting) population, every forward projection "
    "(W) starts in A and every feedback projection (B) in D, so SLN is 1 for feedforward, 0 for feedback and the "
    "sum exactly 1, in every preset and at every step. This compares the architecture, not anything learned."
)
#: physiology.json is indented up to this many data points, and on one line above (10x faster to write)
INDENTED_POINTS = 1000
#: data points drawn as a band each in a panel of the statistics plot; more user points become one series
MAX_BANDS = 8
#: triad classes that need all three pairs of a triple connected
THREE_PAIR_TRIADS = ("030T", "030C", "120D", "120U", "120C", "210", "300")
BIPARTITE_NOTE = (
    "structurally impossible: the circuit's graph is bipartite (A_l and D_l connect only to each other within a "
    "layer), so no three cells are all pairwise connected"
)


# --------------------------------------------------------------------------- verdicts
def _finite(x):
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def judge(value, ci_low, ci_high, point):
    """Verdict of one model value against one data point (rule in the module docstring).

    Parameters
    ----------
    value : float or None
        Model value (NaN or None: undefined).
    ci_low, ci_high : float or None
        The model's own 95% interval, where it has one.
    point : DataPoint

    Returns
    -------
    (verdict, reason) : tuple of str
    """
    if not _finite(value):
        return NA, "the model value is undefined"
    if point.one_sided:
        side = f"> {point.ci_low:g}" if math.isinf(point.ci_high) else f"< {point.ci_high:g}"
        if not (_finite(ci_low) and _finite(ci_high)):
            return NA, f"the data give a direction only ({side}) and the model value has no interval"
        inside = ci_low > point.ci_low if math.isinf(point.ci_high) else ci_high < point.ci_high
        interval = f"[{_fmt(ci_low)}, {_fmt(ci_high)}]"
        if inside:
            return AGREE, f"model 95% interval {interval} lies entirely {side}"
        return DISAGREE, f"model 95% interval {interval} does not lie entirely {side}"
    if point.ci_low <= value <= point.ci_high:
        return AGREE, f"model {_fmt(value)} inside data interval [{_fmt(point.ci_low)}, {_fmt(point.ci_high)}]"
    where = "above" if value > point.ci_high else "below"
    return DISAGREE, f"model {_fmt(value)} {where} data interval [{_fmt(point.ci_low)}, {_fmt(point.ci_high)}]"


def _fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


# --------------------------------------------------------------------------- reading a run
def _configured_presets(results_dir):
    path = results_dir / "config.toml"
    if not path.is_file():
        return []
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid TOML ({exc})") from None
    presets = config.get("training", {}).get("presets", [])
    return [presets] if isinstance(presets, str) else list(presets)


def _statuses(results_dir):
    path = results_dir / "summary.json"
    if not path.is_file():
        return {}
    try:
        presets = json.loads(path.read_text()).get("presets", {})
    except (json.JSONDecodeError, AttributeError):
        return {}
    return {name: s.get("status", "") for name, s in presets.items() if isinstance(s, dict)}


def discover_presets(results_dir):
    """Presets of a results folder: those in config.toml, then any other snapshot file.

    Returns
    -------
    found : dict of str -> Path
        Snapshot file of each preset that has one, in config order.
    missing : list of str
        Presets that config.toml lists but that have no snapshot file.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        what = "is a file, not a folder" if results_dir.exists() else "does not exist"
        raise InputError(f"no results folder at {results_dir} (it {what}); give the folder written by "
                         "`selfassembly run`")
    if folder_kind(results_dir) == "sweep":
        raise InputError(f"{results_dir} is a sweep folder of `selfassembly sweep`, not a run folder; compare one "
                         f"point's run folder: selfassembly compare {results_dir / 'points'}/<point> (the points "
                         "are listed in points.csv)")
    snap_dir = results_dir / "snapshots"
    files = {p.stem: p for p in sorted(snap_dir.glob("*.npz"))} if snap_dir.is_dir() else {}
    configured = _configured_presets(results_dir)
    order = configured + [p for p in files if p not in configured]
    found = {p: files[p] for p in order if p in files}
    missing = [p for p in configured if p not in files]
    if not found:
        raise SnapshotError(f"no snapshot files in {snap_dir}; run `selfassembly run --out {results_dir}` first")
    return found, missing


# --------------------------------------------------------------------------- comparison
def _load_checked(found, results_dir):
    """Load every snapshot file, refusing those that do not belong to the run's config.toml (as inspect does)."""
    from .inspect import read_run_config

    config = read_run_config(results_dir)
    loaded = {}
    for preset, path in found.items():
        snaps = load_snapshots(path)
        if len(snaps.steps) == 0:
            raise SnapshotError(f"{path} holds no snapshot (steps is empty); the run recorded nothing for {preset}")
        if config is not None and config.get("sizes") is not None and list(snaps.sizes) != list(config["sizes"]):
            raise SnapshotError(
                f"{path} has layer sizes {list(snaps.sizes)} but {Path(results_dir) / 'config.toml'} says "
                f"{list(config['sizes'])}; the snapshots do not belong to this run (rerun it, or remove the stale file)")
        if config is not None and snaps.config_hash and config.get("config_hash") not in (None, snaps.config_hash):
            raise SnapshotError(
                f"{path} was made by another configuration than {Path(results_dir) / 'config.toml'} (their hashes "
                "differ); the snapshots do not belong to this run (rerun it, or remove the stale file)")
        loaded[preset] = snaps
    return loaded


def _model_records(loaded, density, seed):
    """Model values of every preset: {preset: (records, steps)}."""
    out = {}
    for preset, snaps in loaded.items():
        first, last = snaps.at(0), snaps.at(len(snaps.steps) - 1)
        records = model_statistics(first, last, snaps.masks, density=density, seed=seed)
        for r in records:
            r["preset"] = preset
            r["reason"] = _undefined_reason(r) if not _finite(r["value"]) else ""
        out[preset] = (records, [int(snaps.steps[0]), int(snaps.steps[-1])])
    return out


def _undefined_reason(record):
    stat, details = record["statistic"], record["details"]
    if stat.startswith("triad_ratio_") and stat[len("triad_ratio_"):] in THREE_PAIR_TRIADS:
        return BIPARTITE_NOTE
    if stat.startswith("triad_ratio_"):
        return "the null expects no such triad: the pair states it needs do not occur in this graph"
    if stat == "heterosynaptic_conservation" and details.get("n_changed", 1) == 0:
        return "the population did not change between the first and last snapshot (fixed, or a single snapshot)"
    if stat.startswith("lognormal_") and details.get("constant"):
        return "all positive weights are equal (U = V = I, or B = sign(W^T), by construction): no distribution to fit"
    if stat.startswith("lognormal_"):
        return f"fewer than 3 positive weights ({details.get('n', 0)})"
    return "undefined (a group to average over is empty, or no connection survived the threshold)"


def _construction_note(record):
    if record["details"].get("diagonal_U_V"):
        return " (U = V = I in this preset: the value is fixed by construction, not assembled)"
    return ""


def _structural_records():
    return [{"statistic": s, "population": "A: feedforward, D: feedback", "preset": "(architecture)", "value": v,
             "ci_low": None, "ci_high": None, "initial": v, "details": {}, "reason": STRUCTURAL_NOTE}
            for s, v in STRUCTURAL.items()]


def _comparisons(points, records):
    out = []
    for point in points:
        for r in records:
            if r["statistic"] != point.statistic:
                continue
            verdict, reason = judge(r["value"], r["ci_low"], r["ci_high"], point)
            if verdict == NA and r.get("reason"):
                reason = r["reason"]
            out.append({"preset": r["preset"], "population": r["population"], "model_value": r["value"],
                        "model_ci": [r["ci_low"], r["ci_high"]], "model_initial": r["initial"],
                        "data_value": point.value, "data_interval": [point.ci_low, point.ci_high],
                        "data_one_sided": point.one_sided, "source": point.source,
                        "data_file": point.file, "data_line": point.line,
                        "structural": r["preset"] == "(architecture)",
                        "by_construction": bool(r["details"].get("diagonal_U_V", False)),
                        "verdict": verdict, "reason": reason + _construction_note(r)})
    return out


def _by_statistic(points, records):
    result = {}
    for name, info in STATISTICS.items():
        pts = [p for p in points if p.statistic == name]
        recs = [r for r in records if r["statistic"] == name]
        if not pts and not recs:
            continue
        result[name] = {"title": info.title, "model_populations": info.model, "counterpart": info.counterpart,
                        "data": [p.as_dict() for p in pts], "model": recs, "comparisons": _comparisons(pts, recs)}
    return result


def _summary(statistics, presets):
    out = {p: {AGREE: 0, DISAGREE: 0, NA: 0} for p in list(presets) + ["(architecture)"]}
    for block in statistics.values():
        for c in block["comparisons"]:
            out[c["preset"]][c["verdict"]] += 1
    return out


def compare_results(results_dir, data_files=(), out_dir=None, density=SONG_DENSITY, seed=0, plots=True):
    """Compare a run's circuit with the shipped and given physiology data, and write the report.

    Parameters
    ----------
    results_dir : path-like
        Folder written by ``selfassembly run`` (``snapshots/<preset>.npz``,
        optionally ``config.toml`` and ``summary.json``).
    data_files : sequence of path-like
        Users' data files (format: :mod:`selfassembly.analysis.physiology_data`).
    out_dir : path-like, optional
        Where to write the outputs (default: ``results_dir``).
    density : float
        Connection density at which weights are thresholded (default:
        Song et al.'s p = 931/8050).
    seed : int
        Seed of the bootstrap and sign resampling.
    plots : bool
        Also write the two PNG plots (default True).

    Returns
    -------
    dict
        What was written to ``physiology.json``.

    Raises
    ------
    PhysiologyDataError
        A data file is malformed (file and line in the message).
    SnapshotError, FileNotFoundError
        The results folder or its snapshots are missing or unreadable.
    """
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir
    if not results_dir.is_dir():
        what = "is a file, not a folder" if results_dir.exists() else "does not exist"
        raise FileNotFoundError(f"no results folder at {results_dir} (it {what}); give the folder written by "
                                "`selfassembly run`")
    if not (isinstance(density, (int, float)) and 0 < density <= 1):
        raise InputError(f"--density must be in (0, 1] (a fraction of synapses kept), got {density}")
    points = shipped_data()
    for path in data_files:
        points += load_user_data(path)
    check_duplicates(points)
    found, missing = discover_presets(results_dir)
    loaded = _load_checked(found, results_dir)
    # the folder is checked and taken before the long computation, not after it
    with claim_outputs(results_dir, out_dir, "compare", "selfassembly compare"):
        statuses = _statuses(results_dir)
        per_preset = _model_records(loaded, density, seed)
        records = [r for recs, _ in per_preset.values() for r in recs] + _structural_records()
        statistics = _by_statistic(points, records)
        result = {
            "results_dir": str(results_dir),
            "density": density,
            "verdict_rule": VERDICT_RULE,
            "presets": {p: {"steps": steps, "status": statuses.get(p, "")} for p, (_, steps) in per_preset.items()},
            "missing_presets": missing,
            "data_files": [str(p) for p in data_files],
            "summary": _summary(statistics, per_preset),
            "statistics": statistics,
        }
        write_json(out_dir / "physiology.json", result, indent=2 if len(points) <= INDENTED_POINTS else None)
        if plots:
            plot_statistics(result, out_dir / "physiology_statistics.png")
            plot_triads(result, out_dir / "physiology_triads.png")
        atomic_write_text(out_dir / "physiology.md", report_markdown(result))
        return result


# --------------------------------------------------------------------------- report
_MARK = {AGREE: "agrees", DISAGREE: "disagrees", NA: "n/a"}
_SCALAR = ["reciprocity_ratio", "lognormal_sigma", "lognormal_mean_median_ratio", "loop_index_V", "loop_index_B",
           "heterosynaptic_conservation", "sln_feedforward", "sln_feedback", "sln_sum"]


def _data_text(point):
    if point["one_sided"]:
        side = f"> {_fmt(point['ci_low'])}" if point["ci_high"] == math.inf else f"< {_fmt(point['ci_high'])}"
        return f"direction only: {side}"
    return f"{_fmt(point['value'])} [{_fmt(point['ci_low'])}, {_fmt(point['ci_high'])}]"


def _short_source(source):
    head = source.split("(")[0].strip().rstrip(",")
    year = source.split("(")[1].split(")")[0] if "(" in source else ""
    first = head.split(",")[0].split(" ")[0]
    return f"{first} {year}".strip() if year.isdigit() else head[:40]


def _cell(comparisons):
    if not comparisons:
        return "-"
    agree = sum(c["verdict"] == AGREE for c in comparisons)
    judged = sum(c["verdict"] != NA for c in comparisons)
    values = [c["model_value"] for c in comparisons if _finite(c["model_value"])]
    if not judged:
        return "n/a"
    span = ""
    if values:
        lo, hi = min(values), max(values)
        span = f" ({_fmt(lo)})" if lo == hi else f" ({_fmt(lo)} to {_fmt(hi)})"
    fixed = " (U = V = I)" if all(c.get("by_construction") for c in comparisons) else ""
    return f"{agree}/{judged} agree{span}{fixed}"


def _by_point(block):
    """A statistic's comparisons grouped by data point (file, line): one pass, not one per point."""
    out = {}
    for c in block["comparisons"]:
        out.setdefault((c["data_file"], c["data_line"]), []).append(c)
    return out


def _summary_table(result):
    presets = list(result["presets"])
    stats_ = result["statistics"]
    lines = ["| statistic | data (95% interval) | " + " | ".join(presets) + " |",
             "|---|---|" + "---|" * len(presets)]
    for name in _SCALAR:
        if name not in stats_:
            continue
        block = stats_[name]
        by_point = _by_point(block)
        for k, point in enumerate(block["data"]):
            comps = by_point.get((point["file"], point["line"]), [])
            data = f"{_data_text(point)}, {_short_source(point['source'])}"
            if any(c["structural"] for c in comps):
                cells = [_cell(comps) + " (architecture)"] * len(presets)
            else:
                cells = [_cell([c for c in comps if c["preset"] == p]) for p in presets]
            lines.append(f"| {block['title'] if k == 0 else ''} | {data} | " + " | ".join(cells) + " |")
    triad = [c for n, b in stats_.items() if n.startswith("triad_ratio_") for c in b["comparisons"]
             if b["data"] and b["data"][0]["shipped"]]
    cells = [_cell([c for c in triad if c["preset"] == p]) for p in presets]
    lines.append("| Triad ratios (16 classes x layers) | Song 2005 Fig. 4 | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _agreement_lines(result):
    """Plain sentences: per statistic, which presets agree with which data."""
    lines = []
    for name, block in result["statistics"].items():
        by_point = _by_point(block)
        for point in block["data"]:
            comps = by_point.get((point["file"], point["line"]), [])
            if not comps or any(c["structural"] for c in comps):
                continue
            agree = sorted({c["preset"] for c in comps if c["verdict"] == AGREE})
            judged = sorted({c["preset"] for c in comps if c["verdict"] != NA})
            if not judged:
                continue
            label = f"{block['title']} vs {_short_source(point['source'])} ({_data_text(point)})"
            if name.startswith("triad_ratio_"):
                continue
            if set(agree) == set(judged):
                lines.append(f"- **agrees** for every preset: {label}")
            elif agree:
                partly = [p for p in judged if p in agree]
                lines.append(f"- **partly**: {label}: agrees (some populations at least) for {', '.join(partly)}; "
                             f"disagrees for {', '.join(p for p in judged if p not in agree) or 'none'} "
                             f"(see the table below for which populations)")
            else:
                lines.append(f"- **disagrees** for every preset: {label}")
    return lines


def _triad_lines(result):
    lines = []
    stats_ = result["statistics"]
    for preset in result["presets"]:
        agree, disagree, na = [], [], []
        for cls in TRIAD_CLASSES:
            block = stats_.get(f"triad_ratio_{cls}")
            if not block:
                continue
            comps = [c for c in block["comparisons"] if c["preset"] == preset and c["data_file"].startswith("data/")]
            v = {c["verdict"] for c in comps}
            (agree if v == {AGREE} else na if v == {NA} else disagree).append(cls)
        lines.append(f"- {preset}: agree in every layer for {', '.join(agree) or 'no class'}; "
                     f"disagree (in some layer) for {', '.join(disagree) or 'no class'}; "
                     f"undefined (impossible, or the null expects none) for {', '.join(na) or 'no class'}")
    return lines


def _structural_text(result):
    parts = []
    for name in STRUCTURAL:
        block = result["statistics"].get(name)
        for c in (block or {}).get("comparisons", []):
            point = {"value": c["data_value"], "ci_low": c["data_interval"][0], "ci_high": c["data_interval"][1],
                     "one_sided": c["data_one_sided"]}
            parts.append(f"{block['title']}: model {_fmt(c['model_value'])}, data {_data_text(point)} "
                         f"({_MARK[c['verdict']]})")
    return ("Against the data: " + "; ".join(parts) + ".") if parts else ""


def _detail_table(block):
    lines = ["| preset | population | model (last) [95%] | model (first; -: an interval statistic) | data | verdict |",
             "|---|---|---|---|---|---|"]
    for c in block["comparisons"]:
        ci = c["model_ci"]
        ci_text = f" [{_fmt(ci[0])}, {_fmt(ci[1])}]" if _finite(ci[0]) and _finite(ci[1]) else ""
        point = {"value": c["data_value"], "ci_low": c["data_interval"][0], "ci_high": c["data_interval"][1],
                 "one_sided": c["data_one_sided"]}
        verdict = _MARK[c["verdict"]] + (f": {c['reason']}" if c["verdict"] == NA else "")
        lines.append(f"| {c['preset']} | {c['population']} | {_fmt(c['model_value'])}{ci_text} | "
                     f"{'-' if c['model_initial'] is None else _fmt(c['model_initial'])} | {_data_text(point)}, {_short_source(c['source'])} | {verdict} |")
    return "\n".join(lines)


def _triad_table(result):
    stats_ = result["statistics"]
    cols = []
    for preset in result["presets"]:
        pops = sorted({r["population"] for r in stats_.get("triad_ratio_003", {}).get("model", [])
                       if r["preset"] == preset})
        cols += [(preset, pop) for pop in pops]
    lines = ["| class | data ratio [95%] | " + " | ".join(f"{p} {q}" for p, q in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for cls in TRIAD_CLASSES:
        block = stats_[f"triad_ratio_{cls}"]
        shipped = [d for d in block["data"] if d["shipped"]]
        data = _data_text(shipped[0]) if shipped else "-"
        cells = []
        for preset, pop in cols:
            comp = [c for c in block["comparisons"] if c["preset"] == preset and c["population"] == pop
                    and c["data_file"].startswith("data/")]
            if not comp:
                cells.append("-")
                continue
            c = comp[0]
            mark = {AGREE: " (agrees)", DISAGREE: " (disagrees)", NA: ""}[c["verdict"]]
            cells.append(("impossible" if c["verdict"] == NA else _fmt(c["model_value"])) + mark)
        lines.append(f"| {cls} | {data} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_markdown(result):
    """The Markdown report of a comparison (the content of ``physiology.md``)."""
    presets = result["presets"]
    out = ["# The model against physiology", "",
           f"Results folder: `{result['results_dir']}`. Presets and the snapshot steps compared (first, last):", ""]
    for p, info in presets.items():
        status = f", status {info['status']}" if info["status"] else ""
        out.append(f"- {p}: steps {info['steps'][0]} to {info['steps'][1]}{status}")
    for p in result["missing_presets"]:
        out.append(f"- {p}: listed in config.toml but has no snapshot file; not compared")
    if result["data_files"]:
        out += ["", "User data files: " + ", ".join(f"`{f}`" for f in result["data_files"])]
    out += ["", f"Connections are counted after keeping the strongest synapses at Song et al.'s connection density "
                f"p = {result['density']:.4f}.", "", "## Verdict rule", "", VERDICT_RULE, "",
            "## Summary", "", "Per preset: how many (population, data point) comparisons agree, of those that could "
            "be judged, and the range of the model's values.", "", _summary_table(result), "",
            "## Where the model agrees and where it does not", ""]
    out += _agreement_lines(result)
    out += ["", "Triad classes (Song et al. 2005, Fig. 4; model: the cross-stream graph of each layer):", ""]
    out += _triad_lines(result)
    out += ["", "## What has no model counterpart", "",
            f"- **SLN (Markov et al. 2014)**: {STRUCTURAL_NOTE} {_structural_text(result)}",
            f"- **Triads with three connected pairs** (030T, 030C, 120D, 120U, 120C, 210, 300): {BIPARTITE_NOTE}; "
            "Song et al.'s strongest over-representations (300, 120D, 030T) therefore cannot be reproduced by any "
            "preset.",
            "- **Within-area recurrence**: Song et al. recorded recurrently connected cells of one layer; the model's "
            "only reciprocal cell pairs are the cross-stream pairs (A_l, D_l) through U_l and V_l, which is what "
            "the reciprocity and triad statistics use.", ""]
    out += ["## Details", ""]
    for name, block in result["statistics"].items():
        if name.startswith("triad_ratio_"):
            continue
        out += [f"### {block['title']} (`{name}`)", "", f"Model: {block['model_populations']}. "
                f"Counterpart: {block['counterpart']}.", ""]
        for d in block["data"]:
            where = f"{d['file']}" + (f", line {d['line']}" if d["line"] else "")
            out.append(f"- data: {_data_text(d)} ({where}); {d['derivation']}. Source: {d['source']}")
        out += ["", _detail_table(block), ""]
    out += ["### Triad census ratios (`triad_ratio_<class>`)", "",
            "Observed count over the count expected if each pair independently took the observed pair-state "
            "frequencies (per type pair A-D; A-A and D-D pairs are never connected). 'impossible': the class "
            "needs three connected pairs.", "", _triad_table(result), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- plots
def _marker_cycle():
    return ["o", "s", "^", "v", "D", "P", "X", "*", "<", ">"]


def plot_statistics(result, path):
    """Model against data with error bars, one panel per scalar statistic."""
    stats_ = result["statistics"]
    names = [n for n in _SCALAR if n in stats_]
    presets = list(result["presets"])
    ncol = 3
    nrow = max(1, math.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.6 * nrow), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        _plot_panel(ax, stats_[name], presets, STATISTICS[name].log_scale)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    fig.suptitle("Model (points: last snapshot, 95% interval where defined) against data (bands: 95% interval)")
    fig.tight_layout()
    _save(fig, path)


def _plot_panel(ax, block, presets, log):
    structural = any(r["preset"] == "(architecture)" for r in block["model"])
    xs = ["(architecture)"] if structural else presets
    drawn = [d for d in block["data"] if d["shipped"]]
    users = [d for d in block["data"] if not d["shipped"]]
    if len(users) <= MAX_BANDS - len(drawn):
        drawn, users = drawn + users, []
    for k, d in enumerate(drawn):
        _band(ax, d, f"C{k + 6}", f"data: {_short_source(d['source'])}")
    if users:  # many user points: one series of their values, not a band (and a legend entry) each
        values = [d["ci_low"] if math.isinf(d["ci_high"]) else d["ci_high"] if math.isinf(d["ci_low"]) else d["value"]
                  for d in users]
        values = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
        ax.plot([-0.5] * len(values), values, linestyle="", marker="_", markersize=8, color="gray", alpha=0.4,
                label=f"your data: {len(users)} points (values or bounds; see physiology.md)")
    pops = sorted({r["population"] for r in block["model"]})
    width = 0.7 / max(len(pops), 1)
    for j, pop in enumerate(pops):
        recs = [(i, r) for i, p in enumerate(xs) for r in block["model"] if r["preset"] == p and r["population"] == pop]
        _population_points(ax, [(i + (j - (len(pops) - 1) / 2) * width, r) for i, r in recs],
                           _marker_cycle()[j % 10], f"C{j % 6}", pop, log)
    ax.set_xlim(-0.6, len(xs) - 0.4)
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels(xs, rotation=15, fontsize=7, ha="right")
    if log:
        ax.set_yscale("log")
    ax.set_title(block["title"], fontsize=9)
    ax.legend(fontsize=6, loc="best", ncol=2)


def _band(ax, d, color, label):
    lo, hi = d["ci_low"], d["ci_high"]
    if d["one_sided"]:
        ref = lo if math.isinf(hi) else hi
        ax.axhline(ref, color=color, linestyle="--", linewidth=1, label=f"{label} ({'>' if math.isinf(hi) else '<'} {ref:g})")
        return
    ax.axhspan(lo, hi, color=color, alpha=0.2, label=label)
    ax.axhline(d["value"], color=color, linewidth=1)


def _population_points(ax, items, marker, color, label, log):
    """One population's model values across presets, with 95% intervals where defined."""
    xs, ys, lo_err, hi_err = [], [], [], []
    for x, r in items:
        v = r["value"]
        if not _finite(v):
            continue
        if math.isinf(v) or (log and v <= 0):
            ax.annotate("inf" if math.isinf(v) else "<=0", (x, 0.93 if math.isinf(v) else 0.03),
                        xycoords=("data", "axes fraction"), ha="center", fontsize=6, color=color)
            continue
        lo, hi = r["ci_low"], r["ci_high"]
        ok = _finite(lo) and _finite(hi) and math.isfinite(lo) and math.isfinite(hi)
        xs.append(x)
        ys.append(v)
        lo_err.append(max(v - lo, 0) if ok else 0)
        hi_err.append(max(hi - v, 0) if ok else 0)
    if xs:
        ax.errorbar(xs, ys, yerr=[lo_err, hi_err], marker=marker, color=color, markersize=4, linestyle="",
                    capsize=2, elinewidth=0.8, label=label)


def plot_triads(result, path):
    """Triad ratios of the data and of each preset's cross-stream graphs, side by side."""
    stats_ = result["statistics"]
    presets = list(result["presets"])
    fig, axes = plt.subplots(len(presets), 1, figsize=(12, 2.8 * len(presets)), squeeze=False)
    x = np.arange(len(TRIAD_CLASSES))
    for ax, preset in zip(axes[:, 0], presets):
        series = [("data (Song 2005)", [_shipped(stats_[f"triad_ratio_{c}"]) for c in TRIAD_CLASSES])]
        pops = sorted({r["population"] for r in stats_["triad_ratio_003"]["model"] if r["preset"] == preset})
        for pop in pops:
            series.append((f"{preset} {pop}", [next(r for r in stats_[f"triad_ratio_{c}"]["model"]
                                                    if r["preset"] == preset and r["population"] == pop)
                                               for c in TRIAD_CLASSES]))
        width = 0.8 / len(series)
        for k, (label, items) in enumerate(series):
            _triad_bars(ax, x + (k - (len(series) - 1) / 2) * width, items, width, f"C{k}", label)
        ax.axhline(1.0, color="gray", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels(TRIAD_CLASSES, fontsize=8)
        ax.set_ylabel("observed / null")
        ax.set_title(f"{preset}: triad census over the pair-state null (x: undefined, the null expects none; v at the axis: none observed)",
                     fontsize=9)
        ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    _save(fig, path)


def _shipped(block):
    d = next((d for d in block["data"] if d["shipped"]), None)
    return None if d is None else {"value": d["value"], "ci_low": d["ci_low"], "ci_high": d["ci_high"]}


def _triad_bars(ax, xs, items, width, color, label):
    """One series of triad ratios: bars with 95% intervals; x: undefined; v at the axis: none observed."""
    bars, undefined, zero = [], [], []
    for x, it in zip(xs, items):
        v = None if it is None else it["value"]
        if not _finite(v) or math.isinf(v):
            undefined.append(x)
        elif v <= 0:
            zero.append(x)
        else:
            lo, hi = it["ci_low"], it["ci_high"]
            ok = _finite(lo) and _finite(hi) and lo > 0
            bars.append((x, v, v - lo if ok else 0, hi - v if ok else 0))
    if bars:
        bx, bv, blo, bhi = zip(*bars)
        ax.bar(bx, bv, width=width, color=color, label=label, yerr=[blo, bhi], capsize=1.5,
               error_kw={"linewidth": 0.6})
    if undefined:
        ax.plot(undefined, [1.0] * len(undefined), marker="x", color=color, markersize=4, linestyle="")
    if zero:
        ax.plot(zero, [0.0] * len(zero), marker="v", color=color, markersize=5, linestyle="", clip_on=False,
                transform=ax.get_xaxis_transform())


def _save(fig, path):
    return save_png(fig, path, dpi=100)


# --------------------------------------------------------------------------- command line
def register(subparsers):
    """Add the ``compare`` subcommand to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "compare", help="compare a run's circuit with physiology data",
        description=("Compute reciprocity, triad census, lognormal weights, loop index and heterosynaptic "
                     "conservation on a run's weight snapshots, compare them with the shipped physiology data "
                     "(Song et al. 2005, Markov et al. 2014, Siu et al. 2021, Young et al. 2021, Royer & Pare 2003) "
                     "and any --data files, and write physiology.json, physiology.md and PNG plots."))
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="folder written by `selfassembly run`")
    p.add_argument("--data", action="extend", nargs="+", default=[], metavar="FILE.csv",
                   help="your own measurements (columns statistic,value,ci_low,ci_high,se,n,source; "
                        "see docs/physiology.md)")
    p.add_argument("--out", default=None, help="where to write the outputs (default: RESULTS_DIR)")
    p.add_argument("--density", type=float, default=SONG_DENSITY,
                   help=f"connection density for thresholding weights (default: Song et al.'s {SONG_DENSITY:.4f})")
    p.set_defaults(func=_run)
    return p


def _run(args):
    result = compare_results(args.results_dir, args.data, args.out, density=args.density)
    out = Path(args.out) if args.out else Path(args.results_dir)
    counts = {k: sum(s[k] for s in result["summary"].values()) for k in (AGREE, DISAGREE, NA)}
    print(f"compared {', '.join(result['presets'])}: {counts[AGREE]} agree, {counts[DISAGREE]} disagree, "
          f"{counts[NA]} not comparable")
    print(f"wrote {out / 'physiology.md'}, {out / 'physiology.json'}, {out / 'physiology_statistics.png'}, "
          f"{out / 'physiology_triads.png'}")
    return 0


def main(argv=None):
    """Run ``compare`` on its own (``python -m selfassembly.analysis.compare RESULTS_DIR``)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="selfassembly")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["compare"] + list(sys.argv[1:] if argv is None else argv))
    try:
        return args.func(args)
    except (InputError, OSError) as exc:
        print(f"selfassembly compare: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
