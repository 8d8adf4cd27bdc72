"""One setting of the cross-stream rates for every layer size? (issue 16, item 5)

The rates of the rules that learn from spontaneous activity (eta_c of V's mirror, eta_u of U's
reconstruction, eta_b of B's loop mirror) were tuned at layers of 64-128 units. Their change per
presentation grows with the layer: with xi_l ~ N(0, sigma_xi^2 I) and U_l near orthogonal,
||s_l||^2 = ||U_l xi_l||^2 ~ n_l sigma_xi^2, so U's rule dU = eta_u s (xi - V s)^T has the gain
eta_u n_l sigma_xi^2 along s (0.064 at n = 128, 0.39 at n = 784), and the mirrors' relative noise
floors grow as eta n_l (selfassembly.plasticity.rules.size_factor). This script measures, on the
same splits and seeds:

``absolute``
    today's rates in every layer (eta_c = 0.002, eta_u = 0.0005, eta_b = 0.002);
``size``
    the same numbers as the rates of a 128-unit layer, layer l using them times 128 / n_l
    (``plasticity.rate_scaling = "size"``: eta_x,l = eta_hat_x / n_l, eta_hat_x = 128 eta_x; for B_{l+1}
    n_l is D_l's size, the rows of B_{l+1});
``capped``
    as ``size``, but a layer's rates are only lowered, never raised: times min(1, 128 / n_l)
    (``plasticity.rate_scaling = "capped"``; at 64-128-128-10 this is ``absolute`` exactly);
``small``
    MODEL.md's stable absolute rates eta_c = 0.0005, eta_u = eta_b = 0.0001 in every layer;
``size_low_b``
    ``size`` with eta_b = 0.0002 at n_ref (added after ``size`` learned nothing on MNIST-8k, to
    tell B's loop mirror's rate from the cross-stream pair's);
``small_dev``
    ``small`` after the developmental phase;
``capped_low_b``
    ``capped`` with eta_b = 0.0002 (the value the lead was retuning eta_b to);
``size_dev``
    ``size`` after a developmental phase: :data:`DEV_EPOCHS` epochs' worth of presentations of
    spontaneous activity alone (stimulus and teacher off, W frozen: only U, V and B's loop mirror
    learn) before the first stimulus. A script-level prototype (:func:`develop`): the phase
    schedules of the ``phases`` branch were not available when this ran.

and backprop and feedback_alignment for reference, on

* MNIST-8k reconstruction 784-128-32-128-784 (eta = 0.005, lambda = 1e-4, 3 epochs, linear output;
  test squared error per image, the mean predictor's beside it), seeds :data:`SEEDS` ``["mnist"]``;
* digits classification 64-128-128-10 (the default run: eta = 0.02, lambda = 1e-4, 10 epochs;
  test accuracy), seeds :data:`SEEDS` ``["digits"]``.

Each data set is split once (seed 0); the seed sets the initial weights, the presentation order and
the spontaneous activity. four_synapse is the preset (B's loop mirror only, V mirror, U
reconstruction); the numpy engine in float64.

Outputs (``--out``, default ``benchmarks/results/size_scaling``): ``runs.csv`` (one row per run:
status, test error or accuracy, forward-feedback and cross-stream angles per layer, the effective
rates per layer), ``summary.md`` (mean and sd over seeds per setting), ``size_scaling.png``, and
``manifest.json``. Runs are tasks on dask.distributed (``--workers``); each finished run is written
at once, and a rerun skips the runs already in runs.csv.

Run (about 40 min on 2 busy cores)::

    nice -n 10 .venv/bin/python benchmarks/size_scaling.py --mnist ../shared/data/mnist-8k
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path

import numpy as np

from selfassembly.analysis.plots import save_png
from selfassembly.config import ExperimentConfig
from selfassembly.datasets import load_dataset
from selfassembly.experiment import for_task, mean_predictor_error, run_preset
from selfassembly.io import atomic_write_text, write_csv
from selfassembly.manifest import write_manifest

RESULTS = Path(__file__).resolve().parent / "results" / "size_scaling"

#: (dataset, task, sizes, eta, epochs)
PROBLEMS = {
    "mnist": ("mnist", "reconstruction", [784, 128, 32, 128, 784], 0.005, 3),
    "digits": ("digits", "classification", [64, 128, 128, 10], 0.02, 10),
}
SEEDS = {"mnist": (0, 1), "digits": (0, 1, 2)}
#: today's committed defaults (pinned here: the defaults may be retuned after this measurement)
TODAY = {"eta_c": 0.002, "eta_u": 0.0005, "eta_b": 0.002}
#: setting -> (preset, config overrides, developmental epochs)
SETTINGS = {
    "backprop": ("backprop", {}, 0),
    "feedback_alignment": ("feedback_alignment", {}, 0),
    "absolute": ("four_synapse", dict(TODAY), 0),
    "size": ("four_synapse", dict(TODAY, rate_scaling="size"), 0),
    "capped": ("four_synapse", dict(TODAY, rate_scaling="capped"), 0),
    "small": ("four_synapse", {"eta_c": 0.0005, "eta_u": 0.0001, "eta_b": 0.0001}, 0),
    "size_dev": ("four_synapse", dict(TODAY, rate_scaling="size"), 1),
    "size_low_b": ("four_synapse", dict(TODAY, eta_b=0.0002, rate_scaling="size"), 0),
    "small_dev": ("four_synapse", {"eta_c": 0.0005, "eta_u": 0.0001, "eta_b": 0.0001}, 1),
    "capped_low_b": ("four_synapse", dict(TODAY, eta_b=0.0002, rate_scaling="capped"), 0),
}
#: four_synapse's B rule when this ran (pinned: the preset has since moved to task rule + loop mirror)
B_RULE = "loop_mirror"
#: the developmental phase of ``size_dev``, in epochs' worth of presentations
DEV_EPOCHS = 1
LAM = 1e-4
COLUMNS = ["problem", "setting", "preset", "seed", "status", "test_acc", "test_error", "mean_predictor_error",
           "ff_angle_mean", "ff_angle_max", "cross_angle_mean", "cross_angle_max", "u_orth_mean", "ff_angle_start", "cross_angle_start", "ff_angles",
           "cross_angles", "rates", "diverged_at", "dev_presentations", "wall_s"]


def config_of(problem, setting, seed, mnist_dir=""):
    dataset, task, sizes, eta, epochs = PROBLEMS[problem]
    preset, over, _ = SETTINGS[setting]
    return ExperimentConfig(engine="numpy", dataset=dataset, mnist_dir=mnist_dir, task=task,
                            output="linear" if task == "reconstruction" else "softmax", sizes=list(sizes), eta=eta,
                            lam=LAM, epochs=epochs, seed=seed, records_per_epoch=1, presets=[preset],
                            b_rule=B_RULE if preset == "four_synapse" else "", **over)


def load_data(problem, mnist_dir):
    """The problem's data, split once (seed 0) whatever the run's seed."""
    dataset, task = PROBLEMS[problem][:2]
    return for_task(load_dataset(dataset, 0.2, 0, mnist_dir=mnist_dir or None), task)


def effective_rates(config, preset):
    """eta_c, eta_u per layer (U_l, V_l) and eta_b per B_{l+1}, as the circuit uses them."""
    rules, n = config.rules(preset), config.sizes
    out = {}
    for l in range(1, len(n)):
        c = rules.cross_at(n[l])
        out[f"c{l}"], out[f"u{l}"] = c.eta_c, c.eta_u
        if l < len(n) - 1:
            out[f"b{l + 1}"] = rules.feedback_at(n[l]).eta_b
    return out


def develop(weights, masks, config, preset, n_presentations, seed):
    """The developmental phase: ``n_presentations`` steps of spontaneous activity alone.

    Stimulus and teacher are off (x = 0, y = 0) and W's rate is 0, so only U, V (their mirror and
    reconstruction rules) and B's loop mirror learn, from xi_l ~ N(0, sigma_xi^2) drawn anew per
    presentation (a separate stream, seed + 10**6). Returns the developed weights."""
    from selfassembly.circuits.numpy_engine import SampleLoop
    from selfassembly.plasticity.presets import make_preset

    dev = config.replace(eta=0.0)
    rules = make_preset(preset, dev.eta, dev.lam, dev.eta_c, dev.lam_c, dev.sigma_xi, dev.eta_u, eta_b=dev.eta_b,
                        lam_b=dev.lam_b, b_rule=dev.b_rule or None, rate_scaling=dev.rate_scaling)
    loop = SampleLoop(config.sizes, rules, weights, config.activation, config.output, masks)
    xi, draw = loop._spontaneous(np.random.RandomState(seed + 10**6))
    x, y = np.zeros(config.sizes[0]), np.zeros(config.sizes[-1])
    for _ in range(n_presentations):
        draw()
        loop.present(x, y, xi)
    out = loop.weights()
    assert all(np.array_equal(out[k], weights[k]) for k in weights if k.startswith("W")), "W moved"
    return out


def _diverged_at(result):
    """The presentation at which a diverged run's output became NaN/Inf (from its message), or ''.

    >>> class R: status, message = "diverged", "... became NaN/Inf at presentation 700; snapshots ..."
    >>> _diverged_at(R())
    700
    """
    if result.status != "diverged":
        return ""
    found = re.search(r"NaN/Inf at presentation (\d+)", result.message)
    return int(found.group(1)) if found else ""


def train_run(problem, setting, seed, mnist_dir=""):
    """One run; its row of runs.csv."""
    from selfassembly import experiment

    config = config_of(problem, setting, seed, mnist_dir)
    preset, _, dev_epochs = SETTINGS[setting]
    data = load_data(problem, mnist_dir)
    n_dev = dev_epochs * len(data.X_train)
    t0 = time.perf_counter()
    original = experiment.initial_weights
    if n_dev:  # the prototype: the circuit starts from the developed weights
        def developed(sizes, rules, conn, s):
            w, m = original(sizes, rules, conn, s)
            return develop(w, m, config, preset, n_dev, seed), m
        experiment.initial_weights = developed
    try:
        result = run_preset(config, preset, data, progress=None)
    finally:
        experiment.initial_weights = original
    last = result.rows[-1]
    L = len(config.sizes) - 1
    ff = [float(last[f"ff_angle_{l}"]) for l in range(2, L + 1)]
    cross = [float(last[f"cross_angle_{l}"]) for l in range(1, L + 1) if f"cross_angle_{l}" in last]
    orth = [float(last[f"u_orth_{l}"]) for l in range(1, L + 1) if f"u_orth_{l}" in last]
    first = result.rows[0]  # the start of training (after the developmental phase, where there is one)
    ff0 = [float(first[f"ff_angle_{l}"]) for l in range(2, L + 1)]
    cross0 = [float(first[f"cross_angle_{l}"]) for l in range(1, L + 1) if f"cross_angle_{l}" in first]
    recon = config.task == "reconstruction"
    return {"problem": problem, "setting": setting, "preset": preset, "seed": seed, "status": result.status,
            "test_acc": "" if recon else round(float(last["test_acc"]), 4),
            "test_error": round(float(last["test_error"]), 3) if recon else "",
            "mean_predictor_error": round(mean_predictor_error(data), 3) if recon else "",
            "ff_angle_mean": round(float(np.mean(ff)), 1), "ff_angle_max": round(float(np.max(ff)), 1),
            "cross_angle_mean": round(float(np.mean(cross)), 1) if cross else "",
            "cross_angle_max": round(float(np.max(cross)), 1) if cross else "",
            "u_orth_mean": round(float(np.mean(orth)), 3) if orth else "",
            "ff_angle_start": round(float(np.mean(ff0)), 1),
            "cross_angle_start": round(float(np.mean(cross0)), 1) if cross0 else "",
            "ff_angles": " ".join(f"{a:.0f}" for a in ff), "cross_angles": " ".join(f"{a:.0f}" for a in cross),
            "rates": json.dumps({k: float(f"{v:.4g}") for k, v in effective_rates(config, preset).items()})
            if preset == "four_synapse" else "",
            "diverged_at": _diverged_at(result),
            "dev_presentations": n_dev, "wall_s": round(time.perf_counter() - t0, 1)}


def _mean_sd(values):
    v = [float(x) for x in values if x not in ("", None)]
    if not v:
        return "-"
    return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}"


def summarize(rows, out):
    """summary.md: per problem and setting, the mean and sd over seeds; and the figure."""
    lines = ["# One setting of the cross-stream rates for every layer size (issue 16, item 5)", "",
             "four_synapse (B's loop mirror, V mirror, U reconstruction), numpy engine, float64. `absolute`: eta_c = "
             f"{TODAY['eta_c']:g}, eta_u = {TODAY['eta_u']:g}, eta_b = {TODAY['eta_b']:g} in every layer; `size`: the "
             "same numbers at n_ref = 128, layer l using them times 128 / n_l; `small`: eta_c = 0.0005, eta_u = eta_b "
             f"= 0.0001; `size_dev`: `size` after {DEV_EPOCHS} epoch's worth of spontaneous activity alone. "
             "Mean ± sd over seeds; angles in degrees at the end of training (ff: W_l^T against V_{l-1} B_l U_l, "
             "l = 2..L; cross: V_l against U_l^T).", ""]
    for problem, (dataset, task, sizes, eta, epochs) in PROBLEMS.items():
        rs = [r for r in rows if r["problem"] == problem]
        if not rs:
            continue
        recon = task == "reconstruction"
        metric = "test error per image (lower is better)" if recon else "test accuracy"
        label = "MNIST-8k" if dataset == "mnist" else dataset
        lines += [f"## {label} {task}, {'-'.join(map(str, sizes))}, eta = {eta:g}, {epochs} epochs", ""]
        if recon:
            mp = next((r["mean_predictor_error"] for r in rs if r["mean_predictor_error"] not in ("", None)), "")
            lines += [f"The mean predictor's test error: {mp}.", ""]
        lines += [f"| setting | seeds | status | {metric} | ff angle mean (max) | cross angle mean (max) | "
                  "U orth. | per seed |", "|---|---|---|---|---|---|---|---|"]
        for setting in SETTINGS:
            ss = sorted((r for r in rs if r["setting"] == setting), key=lambda r: int(r["seed"]))
            if not ss:
                continue
            key = "test_error" if recon else "test_acc"
            done = [r for r in ss if r["status"] == "done"]
            statuses = ", ".join(sorted({r["status"] for r in ss}))
            per_seed = "; ".join(f"{r['seed']}: {r[key] if r['status'] == 'done' else r['status']} "
                                 f"({r['ff_angles']})" for r in ss)
            lines.append(f"| {setting} | {len(ss)} | {statuses} | {_mean_sd(r[key] for r in done)} | "
                         f"{_mean_sd(r['ff_angle_mean'] for r in done)} ({_mean_sd(r['ff_angle_max'] for r in done)}) | "
                         f"{_mean_sd(r['cross_angle_mean'] for r in done)} "
                         f"({_mean_sd(r['cross_angle_max'] for r in done)}) | "
                         f"{_mean_sd(r['u_orth_mean'] for r in done)} | {per_seed} |")
        rates = next((r["rates"] for r in rs if r["setting"] == "size" and r["rates"]), "")
        if rates:
            lines += ["", f"Effective rates of `size` per layer (c: eta_c, u: eta_u of U_l, V_l; b: eta_b of B_l): "
                          f"`{rates}`."]
        lines.append("")
    atomic_write_text(out / "summary.md", "\n".join(lines))
    plot(rows, out)


def plot(rows, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for ax, problem in zip(axes, PROBLEMS):
        recon = PROBLEMS[problem][1] == "reconstruction"
        key = "test_error" if recon else "test_acc"
        for i, setting in enumerate(SETTINGS):
            ss = [r for r in rows if r["problem"] == problem and r["setting"] == setting]
            for r in ss:
                if r["status"] != "done":
                    ax.scatter(95, i, marker="x", color="red")
                    continue
                ax.scatter(float(r["ff_angle_mean"]), i, color="C0", s=14)
            done = [float(r[key]) for r in ss if r["status"] == "done"]
            if done:  # the mean over seeds, once per setting
                ax.annotate(f"{np.mean(done):.3g} (n={len(done)})", (101, i), fontsize=7, va="center",
                            annotation_clip=False)
        ax.set_yticks(range(len(SETTINGS)), list(SETTINGS))
        ax.set_xlim(-5, 100)
        ax.set_xlabel("forward-feedback angle, mean over layers (deg); x: diverged")
        ax.text(101, len(SETTINGS) - 0.3, "test error" if recon else "test acc", fontsize=7)
        ax.set_title(f"{PROBLEMS[problem][0]} {PROBLEMS[problem][1]} " + "-".join(map(str, PROBLEMS[problem][2])))
    fig.tight_layout()
    save_png(fig, out / "size_scaling.png")
    plt.close(fig)


def main(argv=None):
    from selfassembly.sweep.execute import start_client
    from dask.distributed import as_completed

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--mnist", default="", help="folder of the MNIST-8k IDX files (without it: digits only)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--problems", default="mnist,digits")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--seeds", default="", help="comma-separated seeds (default: SEEDS of each problem)")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args(argv)
    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "runs.csv"
    rows = list(csv.DictReader(open(path))) if path.exists() else []
    done = {(r["problem"], r["setting"], int(r["seed"])) for r in rows}
    problems = [p for p in args.problems.split(",") if p != "mnist" or args.mnist]
    seeds = {p: [int(k) for k in args.seeds.split(",")] if args.seeds else SEEDS[p] for p in problems}
    jobs = [(p, s, k) for p in problems for k in seeds[p] for s in args.settings.split(",")
            if (p, s, k) not in done]
    if jobs and not args.report_only:
        client, cluster, _, _ = start_client(args.workers, None)
        try:
            futures = [client.submit(train_run, p, s, k, args.mnist, pure=False) for p, s, k in jobs]
            for fut in as_completed(futures):
                row = fut.result()
                rows.append(row)
                write_csv(path, rows, COLUMNS)
                print(f"{row['problem']} {row['setting']} seed {row['seed']}: {row['status']} "
                      f"acc {row['test_acc']} err {row['test_error']} ff {row['ff_angles']} "
                      f"cross {row['cross_angles']} ({row['wall_s']} s)", flush=True)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    summarize(rows, out)
    settings = {**vars(args), "problems": PROBLEMS, "seeds": SEEDS, "settings_grid": SETTINGS, "lam": LAM,
                "dev_epochs": DEV_EPOCHS, "b_rule": B_RULE, "engine": "numpy", "dtype": "float64", "data_split_seed": 0}
    # what a report-only call cannot know (how the runs were made) is carried over from the manifest before
    old = out / "manifest.json"
    carried = {k: v for k, v in (json.loads(old.read_text()) if old.exists() else {}).items()
               if k in ("runs_made_by", "note")}
    write_manifest(out, __file__, argv, settings, started, **carried)


if __name__ == "__main__":
    main()
