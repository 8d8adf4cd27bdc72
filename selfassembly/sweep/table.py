"""A sweep's results: the rows of ``sweep.csv``, the verdict of each point, and ``sweep.md``.

Everything here reads the sweep folder (``points.csv`` and the point run folders), so it
works on a finished sweep as well as during one; :func:`inspect_sweep` is
``selfassembly inspect SWEEP_DIR``.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from ..analysis.statistics import t_interval
from ..io import write_json
from .spec import SweepError, group_key

__all__ = ["sweep_rows", "sweep_groups", "point_verdicts", "verdict_positive", "inspect_sweep", "group_stats",
           "sweep_markdown", "is_sweep_folder"]

_LAYERED = ("ff_angle", "cross_angle", "u_orthogonality", "u_condition")


def _worst(values):
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return max(vals) if vals else None


def sweep_rows(sweep, out, failures=None, verdicts=True, summaries=None):
    """One row per point and preset, read back from the point folders.

    Parameters
    ----------
    sweep : Sweep
    out : path
        The sweep folder.
    failures : dict, optional
        ``(point id, preset) -> message`` of tasks that failed in this run.
    verdicts : bool
        Compute the across-seed verdict column (needs every seed).
    summaries : dict, optional
        ``point id -> summary.json contents`` already in memory (read from
        the folder, and stored here, where missing).

    Returns
    -------
    list of dict
    """
    out = Path(out)
    failures = failures or {}
    rows = []
    summaries = {} if summaries is None else summaries
    for p in sweep.points:
        if p.id not in summaries:
            path = out / "points" / p.id / "summary.json"
            summaries[p.id] = json.loads(path.read_text()) if path.is_file() else {}
        presets = summaries[p.id].get("presets", {})
        for preset in sweep.presets:
            row = {"point": p.id, "group": p.group, "seed": p.seed, "preset": preset}
            row.update({k: json.dumps(v) if isinstance(v, list) else v for k, v in p.values.items()})
            s = presets.get(preset)
            if s is None:
                row.update(status="failed" if (p.id, preset) in failures else "missing",
                           message=failures.get((p.id, preset), "not run yet"))
            else:
                row.update(status=s.get("status"), final_test_acc=s.get("final_test_acc"))
                for name in _LAYERED:
                    for layer, v in sorted((s.get(name) or {}).items(), key=lambda kv: int(kv[0])):
                        row[f"{name}_{layer}"] = v
                row["ff_angle_worst"] = _worst((s.get("ff_angle") or {}).values())
                row.update(wall_time_s=s.get("wall_time_s"), message=s.get("message", ""))
            rows.append(row)
    ref = sweep.reference
    by_point = {(r["point"], r["preset"]): r for r in rows}
    for r in rows:
        other = by_point.get((r["point"], ref)) if ref else None
        if other and r.get("final_test_acc") is not None and other.get("final_test_acc") is not None:
            r["acc_minus_reference"] = r["final_test_acc"] - other["final_test_acc"]
        r["verdict"] = ""
    if verdicts:
        for group, dirs in sweep_groups(out, sweep).items():
            v = point_verdicts(dirs)
            for r in rows:
                if r["group"] == group:
                    r["verdict"] = v.get(r["preset"], "")
    head = ["point", "group", "seed", *sweep.keys, "preset", "status", "final_test_acc", "acc_minus_reference"]
    cols = head + sorted({k for r in rows for k in r if k not in head + ["verdict", "wall_time_s", "message"]},
                         key=_column_order) + ["verdict", "wall_time_s", "message"]
    return [{c: r.get(c, "") for c in cols} for r in rows]


def _column_order(col):
    for k, name in enumerate(_LAYERED):
        if col.startswith(name + "_"):
            return (k, col)
    return (len(_LAYERED), col)


def is_sweep_folder(path):
    """Whether ``path`` is a folder written by ``selfassembly sweep`` (it has ``points.csv``)."""
    return (Path(path) / "points.csv").is_file()


def sweep_groups(out, sweep=None):
    """The run folders of a sweep folder, grouped by configuration (the seeds of one point together).

    Parameters
    ----------
    out : path
        A folder written by ``selfassembly sweep``.
    sweep : Sweep, optional
        Default: read from ``out/points.csv``.

    Returns
    -------
    dict
        Group key (swept values without the seed, e.g. ``eta_c=0.001__sigma_xi=0.5``)
        -> list of run folders (``out/points/<id>``), in seed order; only
        folders that exist.
    """
    out = Path(out)
    if sweep is not None:
        items = [(p.group, p.seed, p.id) for p in sweep.points]
    else:
        path = out / "points.csv"
        if not path.is_file():
            raise SweepError(f"{out} is not a sweep folder (no points.csv)")
        items = []
        for r in _read_points(path):
            values = {k: v for k, v in r.items() if k not in ("point", "seed")}
            items.append((group_key(values), int(r["seed"]), r["point"]))
    groups = {}
    for group, seed, pid in sorted(items, key=lambda t: t[1]):
        d = out / "points" / pid
        if d.is_dir():
            groups.setdefault(group, []).append(d)
    order = list(dict.fromkeys(g for g, _, _ in items))
    return {g: groups[g] for g in order if g in groups}


def _read_points(path):
    """The rows of a sweep folder's points.csv; SweepError if it is not one that ``selfassembly sweep`` wrote."""
    bad = (f"{path} is not a points table written by `selfassembly sweep` (%s); give a sweep folder, or move that "
           "file away")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            head = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SweepError(bad % exc) from None
    if head[:2] != ["point", "seed"]:
        raise SweepError(bad % f"its columns start with {head[:2]}, expected ['point', 'seed']")
    for k, r in enumerate(rows, start=2):
        if None in r or not r["point"] or not str(r["seed"]).isdigit():
            raise SweepError(bad % f"line {k} is not a point id and a whole-number seed")
    return rows


def _count_points(out):
    return len(_read_points(Path(out) / "points.csv"))


def point_verdicts(point_dirs, alpha=None, n_draws=None):
    """The across-seed verdict of each preset at one sweep point (its seeds' run folders).

    The verdict of :mod:`selfassembly.analysis.verdict` (random null, matched
    ablations paired over the seeds), as computed by
    :func:`selfassembly.analysis.inspect.seed_run_verdicts`, without gradient
    angles. A point whose folders cannot be compared (no snapshots yet) gets no
    verdicts.

    Parameters
    ----------
    point_dirs : list of path
        Run folders of one configuration, one per seed.
    alpha, n_draws : optional
        The verdict's significance level and null draws (default: its own).

    Returns
    -------
    dict
        preset -> ``ASSEMBLED``, ``NOT ASSEMBLED``, ``UNDECIDED``, ``STRUCTURED``, ``DIVERGED`` ...
    """
    from ..analysis.inspect import seed_run_verdicts
    from ..analysis.verdict import ALPHA, N_DRAWS
    from ..io import SnapshotError

    try:
        verdicts, _ = seed_run_verdicts(point_dirs, n_samples=0, alpha=alpha or ALPHA, n_draws=n_draws or N_DRAWS,
                                        echo=lambda line: None)
    except SnapshotError:
        return {}
    return {preset: v["verdict"] for preset, v in verdicts.items()}


def verdict_positive(verdict):
    """Whether a verdict counts as positive (framed in the phase diagrams)."""
    return verdict == "ASSEMBLED"


def inspect_sweep(out, out_dir=None, presets=None, alpha=None, n_draws=None, n_samples=0, echo=print):
    """``selfassembly inspect DIR`` on a sweep folder: the across-seed verdict of every point.

    Prints, per point, one verdict line per preset (the test that decided it
    and the angles), and writes ``verdicts.json`` (point group -> preset ->
    verdict) into ``out_dir``.

    Parameters
    ----------
    out : path
        The sweep folder.
    out_dir : path, optional
        Where ``verdicts.json`` goes (default ``DIR/inspect``). Inside the sweep
        folder, the sweep folder itself is held (so that inspect never writes
        while the sweep does); elsewhere, ``out_dir`` is taken as an output
        folder of ``inspect`` (:func:`selfassembly.folders.claim_outputs`).
    presets : list of str, optional
        Only these presets (default: every preset of the sweep).
    alpha, n_draws, n_samples
        As in :func:`selfassembly.analysis.inspect.seed_run_verdicts`.

    Returns
    -------
    dict
        point group -> ``{preset: verdict}`` (full verdict dicts).

    Raises
    ------
    SweepError
        A preset that is not the sweep's, or no point with results yet (nothing is written then).
    """
    from ..analysis.inspect import seed_run_verdicts
    from ..analysis.verdict import ALPHA, N_DRAWS, format_seed_verdict
    from ..folders import claim_outputs
    from ..io import SnapshotError

    out = Path(out)
    out_dir = Path(out_dir) if out_dir is not None else out / "inspect"
    alpha, n_draws = alpha or ALPHA, n_draws or N_DRAWS
    groups = sweep_groups(out)
    known = _sweep_presets(out)
    if presets:
        unknown = [p for p in presets if known is not None and p not in known]
        if unknown:
            raise SweepError(f"--presets: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not run by the "
                             f"sweep in {out}; its presets: {', '.join(known)}")
    names = [f"{p}.npz" for p in presets] if presets else None
    if not any(_has_results(d, names) for dirs in groups.values() for d in dirs):
        raise SweepError(f"{out} is a sweep folder with no finished point yet (none of its {_count_points(out)} "
                         f"points has results{' of ' + ', '.join(presets) if presets else ''}), so there is nothing to "
                         f"inspect; run or resume the sweep first: selfassembly sweep {out / 'sweep.toml'} --out {out}")
    # held while reading, too: a sweep writing the folder meanwhile is refused (and this refused while it runs)
    with claim_outputs(out, out_dir, "inspect", "selfassembly inspect", results_kind="sweep"):
        result = {}
        for group, dirs in groups.items():
            try:
                verdicts, seeds = seed_run_verdicts(dirs, presets=presets, n_samples=n_samples, alpha=alpha,
                                                    n_draws=n_draws, echo=echo)
            except SnapshotError as exc:
                echo(f"point {group}: no verdict ({exc})")
                continue
            echo(f"point {group} (seeds {seeds}):")
            for v in verdicts.values():
                echo("  " + format_seed_verdict(v))
            result[group] = verdicts
        if not result:
            raise SweepError(f"no point of the sweep in {out} gives a verdict (see the lines above); nothing written")
        write_json(out_dir / "verdicts.json", {"alpha": alpha, "n_draws": n_draws, "points": result})
    echo(f"wrote {out_dir / 'verdicts.json'}")
    return result


def _has_results(point_dir, names=None):
    """Whether a point's run folder holds snapshot files (of ``names``, if given)."""
    files = {p.name for p in (Path(point_dir) / "snapshots").glob("*.npz")}
    return bool(files & set(names)) if names else bool(files)


def _sweep_presets(out):
    """The presets of the sweep in ``out`` (from its sweep.toml), or None if that cannot be read."""
    from ..config import read_toml_file
    from ..errors import InputError

    try:
        presets = read_toml_file(Path(out) / "sweep.toml", "sweep file").get("training", {}).get("presets")
    except InputError:
        return None
    if not presets:
        from ..config import ExperimentConfig

        return list(ExperimentConfig().presets)
    return list(presets) if isinstance(presets, list) else None



def _numbers(values):
    """The finite numbers among a column's cells (a run without the value has "" or None)."""
    return [float(v) for v in values if v is not None and v != "" and math.isfinite(float(v))]


def group_stats(sweep, rows):
    """Per (group, preset): seeds, and mean and t-interval of accuracy, accuracy difference and worst ff angle
    (over the runs that are done), and ``statuses``: how many runs ended with each status."""
    out = {}
    for r in rows:
        out.setdefault((r["group"], r["preset"]), []).append(r)
    stats = {}
    for key, rs in out.items():
        ok = [r for r in rs if r["status"] == "done"]
        stats[key] = {
            "values": {k: rs[0][k] for k in sweep.keys}, "n": len(ok), "of": len(rs),
            "acc": t_interval(_numbers(r["final_test_acc"] for r in ok)),
            "dacc": t_interval(_numbers(r["acc_minus_reference"] for r in ok)),
            "angle": t_interval(_numbers(r["ff_angle_worst"] for r in ok)),
            "verdict": rs[0].get("verdict", ""),
            "statuses": {st: sum(r["status"] == st for r in rs) for st in dict.fromkeys(r["status"] for r in rs)},
        }
    return stats


def _pm(m, h, digits=3):
    if m is None or math.isnan(m):
        return "-"
    return f"{m:.{digits}f}" + ("" if math.isnan(h) else f" ± {h:.{digits}f}")


def sweep_markdown(sweep, rows, summary, figures):
    """The text of ``sweep.md``: counts, compile statistics and the table of means with 95 % t-intervals."""
    lines = ["# Sweep", "",
             f"{summary['points']} points ({', '.join(sweep.keys) or 'no swept keys'}; seeds {sweep.seeds}) x "
             f"{len(sweep.presets)} presets: {summary['done']} done, {summary['diverged']} diverged, "
             f"{summary['unstable']} unstable, "
             f"{summary['failed']} failed, {summary['missing']} missing. "
             f"This run: {summary['ran']} runs in {summary['wall_time_s']:.0f} s on {summary['workers']} workers "
             f"({summary['skipped']} skipped as done).", ""]
    if sweep.base.target == "cpp_standalone":
        lines += [f"cpp_standalone: {summary['compiled_binaries']} binaries compiled in {summary['compile_time_s']:.0f} s, "
                  f"{summary['binary_reuses']} runs reused a binary (make -j{summary['make_jobs']}).", ""]
    ref = sweep.reference
    lines += [f"Means over seeds with 95 % t-intervals. Δ acc: test accuracy minus {ref or 'the reference'}'s at the "
              "same point and seed. Angle: forward-feedback angle of the worst layer (degrees, 90 = chance). "
              "Verdict: the point's across-seed verdict, as `selfassembly inspect` gives it (docs/analysis.md): "
              "random null and matched ablations paired over the seeds.", ""]
    head = [*[k.split(".")[-1] for k in sweep.keys], "preset", "seeds", "test acc", "Δ acc", "angle", "verdict"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (group, preset), s in group_stats(sweep, rows).items():
        cells = [str(s["values"][k]) for k in sweep.keys] + [
            preset, f"{s['n']}/{s['of']}", _pm(*s["acc"]), _pm(*s["dacc"]) if preset != ref else "",
            _pm(*s["angle"], digits=1), s["verdict"]]
        lines.append("| " + " | ".join(cells) + " |")
    if figures:
        lines += ["", *[f"![{Path(f).stem}]({Path(f).name})" for f in figures]]
    return "\n".join(lines) + "\n"
