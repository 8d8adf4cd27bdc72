"""Does the complete circuit assemble, and does it learn like backprop? The 5-seed table.

Eight presets (four_synapse; its ablations four_synapse_no_loop_mirror, four_synapse_fixed_u and
four_synapse_fixed_cross; the references feedback_alignment, kolen_pollack, weight_mirror and
backprop) on digits, 5 seeds, at the default settings (``--lam`` changes the weight decay). Each
seed is one ``selfassembly run`` folder (``RUNS/<task>/<arch>/seed<k>``, resumable), so the
across-seed verdict is ``selfassembly inspect RUNS/<task>/<arch>/seed*``. The runs go through the
numpy engine by default (``--engine brian2`` gives the same numbers to 1e-9, 10-40 times slower).

``--task reconstruction`` trains the same presets to reproduce their input through a bottleneck
(linear output, squared error; ``--eta`` sets the rate of W). The table then reports the test
error per image beside the mean predictor's, and how much of feedback alignment's gap to
backprop each preset closes, paired by seed: (FA - preset) / (FA - backprop).

Outputs (``--out``, by default ``benchmarks/results/self_assembly/<task>``, rewritten at the end):

``final.csv``
    one row per architecture, seed and preset: final test accuracy (or error), angles, U's orthogonality.
``table.md``
    mean and sd over seeds per architecture and preset; paired differences of four_synapse to the
    references and ablations (95% t-intervals); and the across-seed verdict lines.
``verdicts_<arch>.json``
    the across-seed verdict (:func:`selfassembly.analysis.inspect.seed_run_verdicts`).
``manifest.json``
    this invocation's command, settings, code version, wall time and machine, and each
    architecture's run settings as its seed-0 run folder recorded them (:mod:`selfassembly.manifest`).

Run (digits, numpy engine: about 2 min of one core per architecture and seed)::

    .venv/bin/python benchmarks/self_assembly.py --runs results/self_assembly
    .venv/bin/python benchmarks/self_assembly.py --task reconstruction --archs 64-48-12-48-64 --eta 0.01 \\
        --runs results/self_assembly
"""
from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

import numpy as np

from selfassembly.analysis.inspect import _CRITERION, seed_run_verdicts
from selfassembly.analysis.statistics import paired_difference, t_interval
from selfassembly.analysis.verdict import format_seed_verdict
from selfassembly.config import ExperimentConfig
from selfassembly.experiment import run_experiment
from selfassembly.io import atomic_write_text, write_csv, write_json
from selfassembly.manifest import write_manifest
from selfassembly.plasticity import DEFAULT_PARAMS

PRESETS = ["four_synapse", "four_synapse_no_loop_mirror", "four_synapse_fixed_u", "four_synapse_fixed_cross",
           "feedback_alignment", "kolen_pollack", "weight_mirror", "backprop"]
ARCHS = {"classification": ("64-128-128-10", "64-64-64-64-10"), "reconstruction": ("64-48-12-48-64",)}
#: (a, b): the paired differences a - b the table reports
PAIRS = (("feedback_alignment", "backprop"), ("four_synapse", "backprop"), ("four_synapse", "kolen_pollack"), ("four_synapse", "four_synapse_no_loop_mirror"),
         ("four_synapse", "feedback_alignment"), ("four_synapse_fixed_u", "four_synapse"),
         ("four_synapse_fixed_cross", "four_synapse"))
SEEDS = range(5)
RESULTS = Path(__file__).resolve().parent / "results" / "self_assembly"


def report(runs, out, lam=DEFAULT_PARAMS["lam"], archs=ARCHS["classification"], task="classification",
           started=None, argv=None, settings=None):
    """Write final.csv, table.md, verdicts_<arch>.json and manifest.json of the runs under ``runs``.

    ``started`` (``time.time()`` of the invocation), ``argv`` and ``settings`` go into the manifest.
    """
    started = time.time() if started is None else started
    run_settings = {}
    error = task == "reconstruction"
    key = "final_test_error" if error else "final_test_acc"
    rows, lines = [], [f"# {'Reconstruction' if error else 'Self-assembly'} at lam = {lam:g}: 5 seeds, digits", "",
                       f"Final snapshot of each run (10 epochs; the defaults but lam = {lam:g}). "
                       "Mean ± sd over seeds; angles per layer in degrees "
                       "(forward-feedback l = 2..L, cross-stream l = 1..L); U orth: ||U^T U / mean diag - I|| / sqrt(n) "
                       "(0 = orthogonal, about 1 for a random U). "
                       + ("Test error: squared error per test image, summed over the 64 pixels (lower is better). "
                          "Differences in error, paired by seed, with 95% t-intervals." if error else
                          "Differences in points of test accuracy, paired by seed, with 95% t-intervals."), ""]
    for arch in archs:
        dirs = [runs / arch / f"seed{k}" for k in SEEDS]
        summaries = [json.loads((d / "summary.json").read_text())["presets"] for d in dirs]
        for d in dirs:  # a table must not mix regimes
            lam_run = tomllib.loads((d / "config.toml").read_text())["plasticity"]["lam"]
            if lam_run != lam:
                raise SystemExit(f"{d} was run at lam = {lam_run}, not {lam}: pass --lam {lam_run} or another --runs")
        run_settings[arch] = tomllib.loads((dirs[0] / "config.toml").read_text())
        for k, s in zip(SEEDS, summaries):
            for preset, v in s.items():
                row = {"arch": arch, "seed": k, "preset": preset, "status": v["status"], "test_acc": v["final_test_acc"]}
                if error:
                    row.update(test_error=v["final_test_error"], mean_predictor_error=v["mean_predictor_error"])
                for name_key, name in (("ff_angle", "ff"), ("cross_angle", "cross"), ("u_orthogonality", "u_orth")):
                    row.update({f"{name}_{l}": x for l, x in v[name_key].items()})
                rows.append(row)
        presets = [p for p in PRESETS if all(p in s for s in summaries)]
        lines += [f"## {arch}", "", f"| preset | test {'error' if error else 'acc'} | ff angle | cross-stream angle | "
                  "U orth |", "|---|---|---|---|---|"]
        score = {p: np.array([s[p][key] for s in summaries], dtype=float) for p in presets}
        for p in presets:
            def ms(k):
                a = np.array([[x for _, x in sorted(s[p][k].items())] for s in summaries], dtype=float)
                return ", ".join(f"{m:.1f} ± {d:.1f}" for m, d in zip(a.mean(0), a.std(0, ddof=1)))
            orth = np.array([[x for _, x in sorted(s[p]["u_orthogonality"].items())] for s in summaries]).mean(0)
            lines.append(f"| {p} | {score[p].mean():.3f} ± {score[p].std(ddof=1):.3f} | {ms('ff_angle')} | "
                         f"{ms('cross_angle')} | {', '.join(f'{x:.2f}' for x in orth)} |")
        lines.append("")
        if error:
            floor = np.mean([s[presets[0]]["mean_predictor_error"] for s in summaries])
            lines.append(f"Predicting the mean: test error {floor:.3f}.")
            lines.append("")
        unit = "" if error else " points"
        scale = 1.0 if error else 100.0
        for a, b in PAIRS:
            if a in score and b in score:
                m, lo, hi = paired_difference(scale * score[a], scale * score[b])
                lines.append(f"- {a} - {b}: {m:+.{3 if error else 1}f}{unit} [{lo:+.{3 if error else 1}f}, "
                             f"{hi:+.{3 if error else 1}f}]")
        if error and {"feedback_alignment", "backprop"} <= set(score):
            gap = score["feedback_alignment"] - score["backprop"]
            lines.append("")
            lines.append("Share of feedback alignment's gap to backprop closed, (FA - preset) / (FA - backprop), per seed:")
            for p in presets:
                if p not in ("feedback_alignment", "backprop"):
                    closed = (score["feedback_alignment"] - score[p]) / gap
                    m, lo, hi = t_interval_of(closed)
                    lines.append(f"- {p}: {m:.2f} [{lo:.2f}, {hi:.2f}]")
        verdicts, seeds = seed_run_verdicts(dirs, n_samples=200, echo=lambda line: None)
        write_json(out / f"verdicts_{arch}.json", {"criterion": _CRITERION, "seeds": seeds, "presets": verdicts})
        lines += ["", "Across-seed verdict (`selfassembly inspect RUNS/" + arch + "/seed*`):", "", "```"]
        lines += [format_seed_verdict(v) for v in verdicts.values()] + ["```", ""]
    write_csv(out / "final.csv", rows)
    atomic_write_text(out / "table.md", "\n".join(lines))
    write_manifest(out, __file__, argv, {**(settings or {}), "task": task, "lam": lam, "archs": list(archs),
                                         "seeds": list(SEEDS), "presets": PRESETS, "runs": str(runs),
                                         "run_settings": run_settings}, started,
                   reproduce={"arch": archs[0], "seed": 0, "presets": ["four_synapse", "backprop"],
                              "compare": ["test_error" if error else "test_acc", "ff_2", "cross_1"],
                              "tolerance": {"test_acc": 0.5 / 360, "test_error": 1e-4, "ff_2": 0.05, "cross_1": 0.05}})
    print("\n".join(lines))


def t_interval_of(x):
    """Mean and 95% t-interval of per-seed values: ``(mean, low, high)``."""
    m, h = t_interval(np.asarray(x, dtype=float))
    return m, m - h, m + h


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="results/self_assembly", help="folder of the run folders")
    parser.add_argument("--out", default=None, help="where the table goes (default benchmarks/results/self_assembly/<task>)")
    parser.add_argument("--task", default="classification", choices=sorted(ARCHS))
    parser.add_argument("--lam", type=float, default=DEFAULT_PARAMS["lam"], help="weight decay of W and B's task rule")
    parser.add_argument("--eta", type=float, default=DEFAULT_PARAMS["eta"], help="learning rate of W and B's task rule")
    parser.add_argument("--engine", default="numpy", choices=("numpy", "brian2"))
    parser.add_argument("--archs", default=None, help="comma-separated architectures, e.g. 64-128-128-10")
    parser.add_argument("--seeds", default=None,
                        help="comma-separated seeds to run now (default all 5); the table needs all 5")
    parser.add_argument("--report-only", action="store_true", help="only summarise finished runs")
    args = parser.parse_args(argv)
    started = time.time()
    archs = args.archs.split(",") if args.archs else list(ARCHS[args.task])
    runs = Path(args.runs) / args.task
    out = Path(args.out) if args.out else RESULTS / args.task
    seeds = SEEDS if args.seeds is None else [int(k) for k in args.seeds.split(",")]
    task = {"task": "reconstruction", "output": "linear"} if args.task == "reconstruction" else {}
    if not args.report_only:
        for arch in archs:
            for seed in seeds:
                config = ExperimentConfig(sizes=[int(n) for n in arch.split("-")], seed=seed, presets=PRESETS,
                                          lam=args.lam, eta=args.eta, engine=args.engine, **task)
                run_experiment(config, runs / arch / f"seed{seed}")
        if args.seeds is not None:
            return
    report(runs, out, args.lam, archs, args.task, started, argv, vars(args))


if __name__ == "__main__":
    main()
