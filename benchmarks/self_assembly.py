"""Issue 8's table: does the complete circuit assemble, and does it learn like Kolen-Pollack?

Six presets (four_synapse, its ablations four_synapse_fixed_u and four_synapse_fixed_cross,
feedback_alignment, kolen_pollack, backprop) on digits, 5 seeds, at 64-64-64-64-10 and
64-128-128-10, at the default settings except the weight decay ``--lam``: by default the assembly
regime's :data:`~selfassembly.plasticity.ASSEMBLY_LAM` (0.02), at which the plastic feedback aligns
with W^T; ``--lam 1e-4`` is the project's default (tuned for accuracy). Each seed is one
``selfassembly run`` folder (``RUNS/<arch>/seed<k>``, resumable), so the across-seed verdict is
``selfassembly inspect RUNS/<arch>/seed*``.

Outputs (``--out``, by default ``benchmarks/results/self_assembly/``, rewritten at the end):

``final.csv``
    one row per architecture, seed and preset: final test accuracy, angles, U's orthogonality.
``table.md``
    mean and sd over seeds per architecture and preset; paired differences of four_synapse to
    kolen_pollack and backprop, and of four_synapse_fixed_u to four_synapse (95% t-intervals);
    and the across-seed verdict lines.
``verdicts_<arch>.json``
    the across-seed verdict (:func:`selfassembly.analysis.inspect.seed_run_verdicts`).

Run (about 40 min of one core per architecture on digits; ``--seeds`` splits the runs across
processes, then ``--report-only`` makes the table)::

    .venv/bin/python benchmarks/self_assembly.py --runs results/self_assembly
    .venv/bin/python benchmarks/self_assembly.py --runs results/self_assembly --report-only
    .venv/bin/python benchmarks/self_assembly.py --lam 1e-4 --archs 64-128-128-10 \
        --runs results/self_assembly_lam1e-4 --out benchmarks/results/self_assembly/lam1e-4
"""
from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

import numpy as np

from selfassembly.analysis.inspect import _CRITERION, seed_run_verdicts
from selfassembly.analysis.statistics import paired_difference
from selfassembly.analysis.verdict import format_seed_verdict
from selfassembly.config import ExperimentConfig
from selfassembly.experiment import run_experiment
from selfassembly.io import atomic_write_text, write_csv, write_json
from selfassembly.plasticity import ASSEMBLY_LAM

PRESETS = ["four_synapse", "four_synapse_fixed_u", "four_synapse_fixed_cross", "feedback_alignment",
           "kolen_pollack", "backprop"]
ARCHS = ("64-64-64-64-10", "64-128-128-10")
SEEDS = range(5)
RESULTS = Path(__file__).resolve().parent / "results" / "self_assembly"


def report(runs, out, lam=ASSEMBLY_LAM, archs=ARCHS):
    rows, lines = [], [f"# Self-assembly at lam = {lam:g}: 5 seeds, digits", "",
                       f"Final snapshot of each run (10 epochs; the defaults but lam = {lam:g}). "
                       "Mean ± sd over seeds; angles per layer in degrees "
                       "(forward-feedback l = 2..L, cross-stream l = 1..L); U orth: ||U^T U / mean diag - I|| / sqrt(n) "
                       "(0 = orthogonal, about 1 for a random U). Differences in points of test accuracy, paired by "
                       "seed, with 95% t-intervals.", ""]
    for arch in archs:
        dirs = [runs / arch / f"seed{k}" for k in SEEDS]
        summaries = [json.loads((d / "summary.json").read_text())["presets"] for d in dirs]
        for d in dirs:  # a table must not mix regimes
            lam_run = tomllib.loads((d / "config.toml").read_text())["plasticity"]["lam"]
            if lam_run != lam:
                raise SystemExit(f"{d} was run at lam = {lam_run}, not {lam}: pass --lam {lam_run} or another --runs")
        for k, s in zip(SEEDS, summaries):
            for preset, v in s.items():
                row = {"arch": arch, "seed": k, "preset": preset, "status": v["status"], "test_acc": v["final_test_acc"]}
                for key, name in (("ff_angle", "ff"), ("cross_angle", "cross"), ("u_orthogonality", "u_orth")):
                    row.update({f"{name}_{l}": x for l, x in v[key].items()})
                rows.append(row)
        lines += [f"## {arch}", "", "| preset | test acc | ff angle | cross-stream angle | U orth |", "|---|---|---|---|---|"]
        acc = {p: [s[p]["final_test_acc"] for s in summaries] for p in PRESETS}
        for p in PRESETS:
            def ms(key):
                a = np.array([[x for _, x in sorted(s[p][key].items())] for s in summaries], dtype=float)
                return ", ".join(f"{m:.1f} ± {d:.1f}" for m, d in zip(a.mean(0), a.std(0, ddof=1)))
            orth = np.array([[x for _, x in sorted(s[p]["u_orthogonality"].items())] for s in summaries]).mean(0)
            lines.append(f"| {p} | {np.mean(acc[p]):.3f} ± {np.std(acc[p], ddof=1):.3f} | {ms('ff_angle')} | "
                         f"{ms('cross_angle')} | {', '.join(f'{x:.2f}' for x in orth)} |")
        lines.append("")
        for a, b in (("four_synapse", "kolen_pollack"), ("four_synapse", "backprop"), ("four_synapse_fixed_u", "four_synapse")):
            m, lo, hi = paired_difference(100 * np.asarray(acc[a]), 100 * np.asarray(acc[b]))  # points
            lines.append(f"- {a} - {b}: {m:+.1f} points [{lo:+.1f}, {hi:+.1f}]")
        verdicts, seeds = seed_run_verdicts(dirs, n_samples=200, echo=lambda line: None)
        write_json(out / f"verdicts_{arch}.json", {"criterion": _CRITERION, "seeds": seeds, "presets": verdicts})
        lines += ["", "Across-seed verdict (`selfassembly inspect RUNS/" + arch + "/seed*`):", "", "```"]
        lines += [format_seed_verdict(v) for v in verdicts.values()] + ["```", ""]
    write_csv(out / "final.csv", rows)
    atomic_write_text(out / "table.md", "\n".join(lines))
    print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="results/self_assembly", help="folder of the run folders")
    parser.add_argument("--out", default=str(RESULTS), help="where the table goes")
    parser.add_argument("--lam", type=float, default=ASSEMBLY_LAM,
                        help=f"weight decay of W and B (default {ASSEMBLY_LAM:g}, the assembly regime)")
    parser.add_argument("--archs", default=",".join(ARCHS), help="comma-separated architectures, e.g. 64-128-128-10")
    parser.add_argument("--seeds", default=None,
                        help="comma-separated seeds to run now (default all 5); the table needs all 5")
    parser.add_argument("--report-only", action="store_true", help="only summarise finished runs")
    args = parser.parse_args(argv)
    runs, archs = Path(args.runs), args.archs.split(",")
    seeds = SEEDS if args.seeds is None else [int(k) for k in args.seeds.split(",")]
    if not args.report_only:
        for arch in archs:
            for seed in seeds:
                config = ExperimentConfig(sizes=[int(n) for n in arch.split("-")], seed=seed, presets=PRESETS,
                                          lam=args.lam)
                run_experiment(config, runs / arch / f"seed{seed}")
        if args.seeds is not None:
            return
    report(runs, Path(args.out), args.lam, archs)


if __name__ == "__main__":
    main()
