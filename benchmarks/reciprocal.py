"""Benchmark: does self-assembly need reciprocal ("looped") A-D pairs? Independent against reciprocal masks.

Runs (or resumes) the sweep ``examples/sweep_reciprocal.toml`` on dask.distributed (four_synapse and
its matched ablations on digits, 64-128-128-10, 5 epochs; U and V sparse at p = 0.1, 0.2, 0.5, V's
mask drawn independently of U's or as U's transposed; seeds 0-2), and
``examples/sweep_reciprocal_model_check.toml`` (MODEL.md's numpy check at the settings it was made
with: lam = 0.02, B's task rule only, 10 epochs, seed 0, p = 0.2), then summarises them:

``table.csv``, ``table.md``, ``model_check.csv``
    per p, wiring and preset: runs done and diverged, the cross-stream angle (V_l vs U_l^T) at the
    end per layer (for a diverged run: at its last finite snapshot) and its minimum over training,
    the forward-feedback angles, U's distance from orthogonal, test accuracy (means over seeds with
    95 % t-intervals), and the divergence message of the runs that diverged. Beside them the
    independent-mask bound ``arccos(sqrt(p))``: with V's mask independent of U's, V_l can at best
    mirror U_l^T on the pairs both masks hold (a fraction p of U's synapses), so the angle between
    V_l and U_l^T cannot fall below arccos(sqrt(p)) (63.4 deg at p = 0.2).
``phase.png``
    the phase diagram: wiring x p, four_synapse's cross-stream and forward-feedback angles and
    accuracy (cells with diverged runs marked), and the angles against p with the bound.
``sweep.csv``, ``sweep.md``, ``phase_<preset>.png``
    the sweep's own table (copied) and figures (drawn again from its folder, as ``selfassembly sweep``
    draws them).
``manifest.json``
    how to make it again.

Run: ``python benchmarks/reciprocal.py`` (about 12 minutes on one core; the sweep folders, default
``results/reciprocal`` and ``results/reciprocal_model_check``, hold every run and are resumed;
``--summarise-only`` reads finished ones).
"""
from __future__ import annotations

import argparse
import csv
import math
import shutil
import time
from pathlib import Path

import numpy as np

from selfassembly.analysis.statistics import t_interval
from selfassembly.io import atomic_write_text, write_csv
from selfassembly.manifest import write_manifest
from selfassembly.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEP_FILE = ROOT / "examples" / "sweep_reciprocal.toml"
#: MODEL.md's check at the settings it was made with (lam = 0.02, B's task rule only, 10 epochs, seed 0)
CHECK_FILE = ROOT / "examples" / "sweep_reciprocal_model_check.toml"
OUT = ROOT / "benchmarks" / "results" / "reciprocal"
WIRING = {"": "independent", "U": "reciprocal"}
#: presets whose U = V = I whatever [connectivity.U/V] say
IDENTITY_PRESETS = ("feedback_alignment", "kolen_pollack", "backprop", "sign_symmetry", "weight_mirror")
#: MODEL.md's numpy check ("Known limits", digits 64-128-128-10, 10 epochs, seed 0, p = 0.2)
MODEL_CHECK = {"independent": {"cross": 64.0, "note": "U's rule diverged"},
               "reciprocal": {"cross": 7.0, "hidden_ff": 18.0, "top_cross": (38.0, 43.0)}}


def independent_bound(p):
    """The smallest angle (deg) between V and U^T when V's mask is independent of U's: arccos(sqrt(p)).

    V can equal U^T only on the pairs both masks hold, a fraction p of U's synapses, so at best
    cos = ||U^T restricted to them|| / ||U^T|| = sqrt(p) (weights of equal spread).

    >>> round(independent_bound(0.2), 1), round(independent_bound(1.0), 1)
    (63.4, 0.0)
    """
    return math.degrees(math.acos(math.sqrt(p)))


def _float(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


def _metrics_min(point_dir, preset, column):
    """The smallest value of ``column`` over a preset's recorded steps (metrics.csv), NaN if absent."""
    path = point_dir / "metrics.csv"
    if not path.is_file():
        return float("nan")
    with path.open() as fh:
        vals = [_float(r.get(column)) for r in csv.DictReader(fh) if r["preset"] == preset]
    vals = [v for v in vals if math.isfinite(v)]
    return min(vals) if vals else float("nan")


def _ci(values, digits=1):
    m, h = t_interval([v for v in values if math.isfinite(v)]) if any(math.isfinite(v) for v in values) else (
        float("nan"), float("nan"))
    return m, h


def summarise(sweep_dir):
    """Rows of table.csv from a finished sweep folder's sweep.csv and point folders."""
    sweep_dir = Path(sweep_dir)
    with (sweep_dir / "sweep.csv").open() as fh:
        runs = list(csv.DictReader(fh))
    if not runs:
        raise SystemExit(f"{sweep_dir / 'sweep.csv'} holds no runs; run the sweep first")
    layers = sorted({int(k.split("_")[-1]) for k in runs[0] if k.startswith("cross_angle_")})
    ff_layers = sorted({int(k.split("_")[-1]) for k in runs[0] if k.startswith("ff_angle_") and k[-1].isdigit()})
    groups = {}
    for r in runs:
        if r["preset"] in IDENTITY_PRESETS:  # U = V = I whatever the wiring: one row (simulated once per seed)
            if (r["connectivity.U.p"], r["connectivity.V.reciprocal_to"]) != (runs[0]["connectivity.U.p"],
                                                                             runs[0]["connectivity.V.reciprocal_to"]):
                continue
            key = (math.inf, "U = V = I", r["preset"])  # p: any
        else:
            key = (float(r["connectivity.U.p"]), WIRING[r["connectivity.V.reciprocal_to"]], r["preset"])
        groups.setdefault(key, []).append(r)
    order = {name: k for k, name in enumerate(["four_synapse", "four_synapse_fixed_u", "four_synapse_fixed_cross"])}
    rows = []
    for (p, wiring, preset), rs in sorted(groups.items(), key=lambda kv: (order.get(kv[0][2], 9), kv[0][2], kv[0][1],
                                                                           kv[0][0])):
        finished = [r for r in rs if r["status"] in ("done", "diverged", "unstable")]
        row = {"p": p, "wiring": wiring, "preset": preset, "seeds": len(rs),
               "done": sum(r["status"] == "done" for r in rs), "diverged": sum(r["status"] == "diverged" for r in rs),
               "unstable": sum(r["status"] == "unstable" for r in rs),
               "independent_bound_deg": round(independent_bound(p), 2) if math.isfinite(p) else float("nan")}
        for l in layers:  # at the end (a diverged run: its last finite snapshot), and the best over training
            m, h = _ci([_float(r[f"cross_angle_{l}"]) for r in finished])
            row[f"cross_angle_{l}"], row[f"cross_angle_{l}_ci"] = m, h
            row[f"cross_angle_{l}_min"] = float(np.mean([_metrics_min(sweep_dir / "points" / r["point"], preset,
                                                                       f"cross_angle_{l}") for r in finished]))
        for l in ff_layers:
            m, h = _ci([_float(r[f"ff_angle_{l}"]) for r in finished])
            row[f"ff_angle_{l}"], row[f"ff_angle_{l}_ci"] = m, h
        for l in layers:
            row[f"u_orthogonality_{l}"] = float(np.nanmean([_float(r.get(f"u_orthogonality_{l}")) for r in finished]))
        m, h = _ci([_float(r["final_test_acc"]) for r in rs if r["status"] == "done"])
        row["test_acc_done"], row["test_acc_done_ci"] = m, h
        row["verdict"] = rs[0].get("verdict", "")
        messages = sorted({r["message"] for r in rs if r["status"] != "done" and r["message"]})
        row["message"] = messages[0] if messages else ""
        rows.append(row)
    return rows, layers, ff_layers


def _fmt(m, h=float("nan"), digits=1):
    if not math.isfinite(m):
        return "-"
    return f"{m:.{digits}f}" + (f" ± {h:.{digits}f}" if math.isfinite(h) else "")


def markdown(rows, layers, ff_layers, manifest_note, check_rows=()):
    top = layers[-1]
    lines = ["# Reciprocal against independent sparse cross-stream wiring", "",
             "four_synapse and its matched ablations on digits (64-128-128-10, tanh/softmax, the default run's rates "
             "with B's loop mirror at eta_b = 0.002, 5 epochs, numpy engine), U and V sparse at p; V's mask independent of U's, or U's transposed "
             "(`[connectivity.V] reciprocal_to = \"U\"`). Means over seeds 0-2 with 95 % t-intervals. Angles in "
             "degrees; a diverged run's angles are those of its last finite snapshot. `bound`: arccos(sqrt(p)), the "
             "smallest cross-stream angle independent masks allow. `min` is the smallest over training.", "",
             f"Made by {manifest_note}.", ""]
    head = (["p", "wiring", "preset", "done/diverged", "bound"]
            + [f"cross {l}" for l in layers] + [f"cross {l} min" for l in layers[:1]]
            + [f"ff {l}" for l in ff_layers] + [f"U orth {l}" for l in layers[:1]] + ["test acc (done)", "verdict"])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"{r['p']:g}" if math.isfinite(r["p"]) else "any", r["wiring"], r["preset"], f"{r['done']}/{r['diverged']}",
                 _fmt(r["independent_bound_deg"])]
        cells += [_fmt(r[f"cross_angle_{l}"], r[f"cross_angle_{l}_ci"]) for l in layers]
        cells += [_fmt(r[f"cross_angle_{l}_min"]) for l in layers[:1]]
        cells += [_fmt(r[f"ff_angle_{l}"], r[f"ff_angle_{l}_ci"]) for l in ff_layers]
        cells += [_fmt(r[f"u_orthogonality_{l}"], digits=2) for l in layers[:1]]
        cells += [_fmt(r["test_acc_done"], r["test_acc_done_ci"], digits=3), r["verdict"] or "-"]
        lines.append("| " + " | ".join(cells) + " |")
    diverged = [r for r in rows if r["message"]]
    if diverged:
        lines += ["", "## Divergence messages (one per row with diverged or unstable runs)", ""]
        for r in diverged:
            lines.append(f"- p = {r['p']:g}, {r['wiring']}, {r['preset']} ({r['diverged']} of {r['seeds']} diverged): "
                         f"{r['message']}")
    lines += ["", f"Layer {top} is the top pair, 10 x 10 (at p = 0.1-0.5 it holds 10-50 synapses).", ""]
    if check_rows:
        lines += ["## MODEL.md's numpy check at its own settings", "",
                  "`examples/sweep_reciprocal_model_check.toml`: lam = 0.02 and B on its task rule only (the defaults "
                  "when MODEL.md's check was made), 10 epochs, seed 0, p = 0.2. MODEL.md: independent masks, cross-stream "
                  "angle 64 deg and U's rule diverged; reciprocal masks, cross-stream angle 7 deg and the hidden layer's "
                  "feedback 18 deg, the top pair 38-43 deg.", "",
                  "| wiring | preset | status | cross " + " | cross ".join(str(l) for l in layers) + " | cross 1 min | ff "
                  + " | ff ".join(str(l) for l in ff_layers) + " | test acc |",
                  "|" + "---|" * (5 + len(layers) + len(ff_layers))]
        for r in check_rows:
            lines.append(f"| {r['wiring']} | {r['preset']} | {'diverged' if r['diverged'] else 'done'} | "
                         + " | ".join(_fmt(r[f"cross_angle_{l}"]) for l in layers) + f" | {_fmt(r['cross_angle_1_min'])} | "
                         + " | ".join(_fmt(r[f"ff_angle_{l}"]) for l in ff_layers)
                         + f" | {_fmt(r['test_acc_done'], digits=3)} |")
        msgs = [r["message"] for r in check_rows if r["message"]]
        if msgs:
            lines += ["", "Divergence message: " + msgs[0]]
        lines.append("")
    return "\n".join(lines)


def plot(rows, layers, ff_layers, path, check_rows=()):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fs = [r for r in rows if r["preset"] == "four_synapse"]
    ps = sorted({r["p"] for r in fs})
    wirings = ["independent", "reciprocal"]
    at = {(r["wiring"], r["p"]): r for r in fs}
    hidden = layers[:-1] or layers
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.4), gridspec_kw={"width_ratios": [1, 1, 1, 1.3]})
    panels = [("cross-stream angle, hidden layers (deg)",
               lambda r: float(np.mean([r[f"cross_angle_{l}"] for l in hidden])), "viridis", (0, 90)),
              ("forward-feedback angle, worst layer (deg)",
               lambda r: max(r[f"ff_angle_{l}"] for l in ff_layers), "viridis", (0, 90)),
              ("test accuracy (runs that finished)", lambda r: r["test_acc_done"], "magma", (0, 1))]
    for ax, (title, value, cmap, lim) in zip(axes[:3], panels):
        grid = np.array([[value(at[(w, p)]) if (w, p) in at else np.nan for p in ps] for w in wirings])
        im = ax.imshow(grid, cmap=cmap, vmin=lim[0], vmax=lim[1], aspect="auto")
        for i, w in enumerate(wirings):
            for j, p in enumerate(ps):
                r = at.get((w, p))
                if r is None:
                    continue
                v = grid[i, j]
                text = "-" if not math.isfinite(v) else (f"{v:.2f}" if lim[1] == 1 else f"{v:.0f}")
                if r["diverged"]:
                    text += f"\ndiverged {r['diverged']}/{r['seeds']}"
                ax.text(j, i, text, ha="center", va="center", color="w" if math.isfinite(v) and v < 0.6 * lim[1]
                        else "k", fontsize=8)
        ax.set_xticks(range(len(ps)), [f"p = {p:g}" for p in ps])
        ax.set_yticks(range(len(wirings)), wirings)
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046)
    ax = axes[3]
    pp = np.linspace(min(ps), 1.0, 50)
    ax.plot(pp, [independent_bound(p) for p in pp], "k--", lw=1, label="independent bound arccos(sqrt p)")
    for w, color in (("independent", "C3"), ("reciprocal", "C0")):
        rs = [at[(w, p)] for p in ps if (w, p) in at]
        x = [r["p"] for r in rs]
        y = [float(np.mean([r[f"cross_angle_{l}"] for l in hidden])) for r in rs]
        ymin = [float(np.mean([r[f"cross_angle_{l}_min"] for l in hidden])) for r in rs]
        ax.plot(x, y, "o-", color=color, label=f"{w}: cross angle at the end")
        ax.plot(x, ymin, "v:", color=color, label=f"{w}: smallest over training")
        for r, yy in zip(rs, y):
            if r["diverged"]:
                ax.annotate("diverged", (r["p"], yy), textcoords="offset points", xytext=(4, 4), fontsize=8, color=color)
    ax.plot([0.2], [MODEL_CHECK["independent"]["cross"]], "*", ms=12, color="C3", mec="k",
            label="MODEL.md numpy check, independent")
    ax.plot([0.2], [MODEL_CHECK["reciprocal"]["cross"]], "*", ms=12, color="C0", mec="k",
            label="MODEL.md numpy check, reciprocal")
    for r in check_rows:  # this simulator at MODEL.md's settings
        color = "C3" if r["wiring"] == "independent" else "C0"
        y = float(np.mean([r[f"cross_angle_{l}_min" if r["diverged"] else f"cross_angle_{l}"] for l in hidden]))
        ax.plot([r["p"]], [y], "s", ms=8, mfc="none", mec=color, mew=2,
                label=f"here at MODEL.md's settings, {r['wiring']}" + (" (smallest; diverged)" if r["diverged"] else ""))
    ax.set_xlabel("connection probability p of U and V")
    ax.set_ylabel("cross-stream angle V vs U^T, hidden layers (deg)")
    ax.set_ylim(0, 95)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("four_synapse on digits with sparse cross-stream wiring: independent vs reciprocal masks "
                 "(means over 3 seeds)", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_figures(sweep, sweep_dir, out):
    """The sweep's own phase diagrams (``phase_<preset>.png``, as ``selfassembly sweep`` draws them: cells that
    diverged say so), from its point folders and the verdicts in its sweep.csv (not computed again)."""
    from selfassembly.sweep import sweep_rows
    from selfassembly.sweep.plots import write_sweep_figures

    with (Path(sweep_dir) / "sweep.csv").open() as fh:
        verdicts = {(r["point"], r["preset"]): r["verdict"] for r in csv.DictReader(fh)}
    rows = sweep_rows(sweep, sweep_dir, verdicts=False)
    for r in rows:
        r["verdict"] = verdicts.get((r["point"], r["preset"]), "")
    return write_sweep_figures(sweep, rows, out)


def _sweep_record(sweep_file, sweep_dir, workers):
    """What a sweep folder's sweep.json says about its last run, and the command that (re)makes it."""
    import json

    info = {"command": f"selfassembly sweep {sweep_file} --out {sweep_dir} --workers {workers}"}
    path = Path(sweep_dir) / "sweep.json"
    if path.is_file():
        d = json.loads(path.read_text())
        info.update({k: d.get(k) for k in ("points", "runs", "simulations", "done", "diverged", "unstable", "failed",
                                           "workers", "wall_time_s")})
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep-file", default=str(SWEEP_FILE.relative_to(ROOT)), help="the sweep (default: %(default)s)")
    ap.add_argument("--sweep-dir", default="results/reciprocal", help="sweep folder, resumed (default: %(default)s)")
    ap.add_argument("--check-file", default=str(CHECK_FILE.relative_to(ROOT)),
                    help="MODEL.md's check at its own settings (default: %(default)s; '' skips it)")
    ap.add_argument("--check-dir", default="results/reciprocal_model_check", help="its sweep folder (default: %(default)s)")
    ap.add_argument("--workers", type=int, default=1, help="local Dask workers (default: %(default)s)")
    ap.add_argument("--out", default=str(OUT.relative_to(ROOT)), help="result folder (default: %(default)s)")
    ap.add_argument("--summarise-only", action="store_true", help="read a finished sweep folder, run nothing")
    args = ap.parse_args(argv)
    started = time.time()
    sweep_dir, out = Path(args.sweep_dir), Path(args.out)
    sweep = load_sweep(args.sweep_file)
    check = load_sweep(args.check_file) if args.check_file else None
    if not args.summarise_only:
        run_sweep(sweep, sweep_dir, workers=args.workers)
        if check is not None:
            run_sweep(check, Path(args.check_dir), workers=args.workers)
    rows, layers, ff_layers = summarise(sweep_dir)
    check_rows = summarise(args.check_dir)[0] if check is not None else []
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "table.csv", rows)
    if check_rows:
        write_csv(out / "model_check.csv", check_rows)
    note = f"`python benchmarks/reciprocal.py` (sweep `{args.sweep_file}`; manifest.json)"
    atomic_write_text(out / "table.md", markdown(rows, layers, ff_layers, note, check_rows))
    plot(rows, layers, ff_layers, out / "phase.png", check_rows)
    for name in ["sweep.csv", "sweep.md"]:
        if (sweep_dir / name).is_file():
            shutil.copyfile(sweep_dir / name, out / name)
    sweep_figures(sweep, sweep_dir, out)
    write_manifest(out, __file__, argv, {**vars(args), "presets": sweep.presets, "epochs": sweep.base.epochs,
                                         "sizes": sweep.base.sizes, "seeds": sweep.seeds,
                                         "swept": sweep.values, "engine": sweep.base.engine,
                                         "model_check": None if check is None else {
                                             "swept": check.values, "epochs": check.base.epochs, "lam": check.base.lam,
                                             "b_rule": check.base.b_rule, "seeds": check.seeds}}, started,
                   sweeps={str(d): _sweep_record(f, d, args.workers) for f, d in
                           [(args.sweep_file, sweep_dir)] + ([(args.check_file, Path(args.check_dir))] if check else [])},
                   sweep_wall_note="wall_s includes the sweeps unless --summarise-only; each sweep's own wall time "
                                   "(simulations and verdicts) is under sweeps")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
