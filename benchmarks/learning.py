"""Learning benchmark: every preset tuned by validation, digits and MNIST, 1-3 hidden layers, 5 seeds.

The protocol (docs/benchmarks.md, section 1, says why each choice was made):

1. **Split.** A fixed 20% of the training set (:data:`VAL_FRACTION`, permutation seed
   :data:`VAL_SEED`) is the validation set; the test set is not looked at until step 4.
   digits: scikit-learn's 1797 8x8 digits, a fixed 20% test split (seed 0): 1438 training
   (1150 + 288 validation), 359 test. MNIST: the IDX files of ``--mnist DIR`` as given
   (MNIST-8k: 8000 training (6400 + 1600 validation), 2000 test).
2. **Stage 1: eta x lam.** Every preset is trained on the 80% with every (eta, lam) of
   :data:`GRID` (:data:`DATASET_GRID` where a data set has its own; seed 0, the cross-stream
   parameters at their defaults) and scored by its mean validation accuracy over the last
   :data:`SCORE_EPOCHS` epochs (one single-sample snapshot is noisy); the best score wins
   (ties: the smallest eta, then lam), a diverged run scores nothing.
3. **Stage 2: the cross-stream rates.** At its chosen (eta, lam), four_synapse tries every
   (eta_c, eta_u) of :data:`CROSS_GRID` and four_synapse_fixed_u every eta_c; scored the same way.
4. **Test, once.** Each preset's chosen setting is trained on the whole training set (train +
   validation) with seeds 0..4 and its test accuracy recorded after every epoch; the last one
   is the result. The same is done with every preset at **backprop's** chosen setting (the
   cross-stream rates at their defaults; :data:`SHARED_SEEDS`), to show whether a preset
   needs its own tuning.

Epochs (:data:`EPOCHS`) are fixed per data set from a pilot of backprop's validation
accuracy; summary.md ends with the validation curve of backprop's chosen run as the check. Where a data set's
architectures are not all tuned (:data:`TUNE_ARCHS`: MNIST is tuned at 784-256-256-10 only,
to fit the compute), the others take the setting chosen at the tuned one.

Every run is a task on dask.distributed (a LocalCluster with ``--workers`` processes, or
``--scheduler ADDRESS``, as ``selfassembly sweep``). It trains with the sample-clocked
equations of MODEL.md in :class:`numpy_loop.SampleLoop`, which the tests hold equal to
:mod:`selfassembly.circuits.reference` and to the Brian2 circuit step by step, at 2-5x the
speed of Brian2's fastest target at these sizes (docs/benchmarks.md, section 2); the
workers load the data themselves from ``--mnist DIR`` (the same path on every machine).

Outputs under OUT (default ``benchmarks/results/learning``), rewritten after each stage:

``runs/<stage>/<dataset>_<arch>/<preset>/<setting>_seed<k>.json``
    one finished run: its settings, status, wall time and per-epoch curve. A rerun skips
    every run whose file is there and matches its settings; an interrupted run loses only
    the runs in flight.
``tuning.csv``, ``chosen.csv``
    every stage-1 and stage-2 run with its validation score; the setting chosen per preset.
``seeds.csv``, ``curves.csv``
    the test runs: one row per seed, and one row per seed and epoch.
``summary.csv``, ``summary.md``
    per data set, architecture, preset and setting (tuned or shared): mean and sd of the
    final test accuracy over seeds, the paired difference to backprop (same seed) with its
    95% t-interval, the chosen eta and lam, epochs and wall time.
``<dataset>_curves.png``, ``<dataset>_diff.png``, ``<dataset>_tuning.png``, ``<dataset>_tradeoff.png``
    test accuracy and forward-feedback angle over training (mean and sd band over seeds);
    the paired differences to backprop with their intervals; stage 1's validation scores;
    validation score and forward-feedback angle against lam at eta = 0.02.

Run::

    .venv/bin/python benchmarks/learning.py                                  # digits only
    .venv/bin/python benchmarks/learning.py --mnist ../shared/data/mnist-8k  # digits and MNIST-8k
    .venv/bin/python benchmarks/learning.py --report-only [--mnist DIR]      # tables and figures from runs/
"""
from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the workers import this file as a module, and numpy_loop beside it
    sys.path.insert(0, str(HERE))

from selfassembly.circuits.numpy_engine import SampleLoop  # noqa: E402

from selfassembly.analysis.alignment import cross_stream_angles, forward_feedback_angles  # noqa: E402
from selfassembly.circuits import reference as ref  # noqa: E402
from selfassembly.circuits.connectivity import initial_weights  # noqa: E402
from selfassembly.datasets import load_dataset  # noqa: E402
from selfassembly.io import atomic_write_text, write_csv, write_json  # noqa: E402
from selfassembly.plasticity.presets import DEFAULT_PARAMS, PRESET_NAMES, make_preset  # noqa: E402
from selfassembly.analysis.statistics import t_interval  # noqa: E402
from selfassembly.sweep import start_client  # noqa: E402

__all__ = ["parse_arch", "arch_name", "dataset_label", "split", "train_run", "choose", "stage_jobs", "summarize",
           "run_benchmark", "ARCHS", "GRID", "CROSS_GRID", "EPOCHS"]

DEFAULT_OUT = HERE / "results" / "learning"
REFERENCE = "backprop"
FOCUS = "four_synapse"
ARCHS = {"digits": ["64-128-10", "64-128-128-10", "64-128-128-128-10"],
         "mnist": ["784-256-10", "784-256-256-10", "784-256-256-256-10"]}
#: architectures tuned per data set (None: all); the others take the setting chosen at the first tuned one
TUNE_ARCHS = {"digits": None, "mnist": ["784-256-256-10"]}
EPOCHS = {"digits": 20, "mnist": 10}
GRID = {"eta": (0.005, 0.01, 0.02, 0.04), "lam": (1e-4, 1e-3, 1e-2)}
#: per data set, where it differs from GRID: MNIST leaves out lam = 0.01 to fit the compute (docs/benchmarks.md)
DATASET_GRID = {"mnist": {"eta": GRID["eta"], "lam": (1e-4, 1e-3)}}
#: stage 2: (eta_c, eta_u) per preset; eta_u / eta_c stays at or below STABLE_U_RATIO (MODEL.md)
CROSS_GRID = {"four_synapse": [(c, c * r) for c in (0.001, 0.002, 0.004) for r in (0.125, 0.25)],
              "four_synapse_fixed_u": [(c, DEFAULT_PARAMS["eta_u"]) for c in (0.001, 0.002, 0.004)]}
VAL_FRACTION = 0.2
VAL_SEED = 12345
TUNE_SEED = 0
SEEDS = (0, 1, 2, 3, 4)
#: seeds of the shared-setting stage (MNIST: none, to fit the compute of one session on 2 cores)
SHARED_SEEDS = {"digits": SEEDS, "mnist": ()}
SCORE_EPOCHS = 3
TARGET = "numpy loop (benchmarks/numpy_loop.py, sample-clocked), float64, 1 thread"
PARAMS = ("eta", "lam", "eta_c", "eta_u")
STAGES = ("tune", "tune_cross", "test", "shared")


def parse_arch(text):
    """``"64-128-10"`` -> ``[64, 128, 10]``.

    >>> parse_arch("784-256-256-10")
    [784, 256, 256, 10]
    """
    try:
        sizes = [int(x) for x in str(text).replace(",", "-").split("-") if x.strip()]
    except ValueError:
        raise ValueError(f"an architecture is layer sizes joined by '-', like 64-128-10; got {text!r}") from None
    if len(sizes) < 3 or min(sizes) < 1:
        raise ValueError(f"an architecture needs an input, at least one hidden and an output layer of positive "
                         f"size; got {text!r}")
    return sizes


def arch_name(sizes):
    return "-".join(str(n) for n in sizes)


def dataset_label(dataset, n_train):
    """The name tables use: ``digits``, or ``MNIST-<n>k`` by the training set's size.

    >>> dataset_label("mnist", 8000), dataset_label("mnist", 60000), dataset_label("mnist", 30)
    ('MNIST-8k', 'MNIST-60k', 'MNIST-0.03k')
    """
    return f"MNIST-{n_train / 1000:g}k" if dataset == "mnist" else dataset


@functools.lru_cache(maxsize=2)
def _data(dataset, mnist_dir):
    return load_dataset(dataset, 0.2, 0, mnist_dir=mnist_dir)


def split(n_train):
    """Indices (fit, validation) of the tuning split: a fixed permutation, the last 20% held out.

    >>> fit, val = split(10)
    >>> len(fit), len(val), sorted(set(fit) | set(val)) == list(range(10))
    (8, 2, True)
    """
    perm = np.random.default_rng(VAL_SEED).permutation(n_train)
    n_val = int(round(VAL_FRACTION * n_train))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _record(weights, X, Y, epoch, seconds):
    finite = all(np.all(np.isfinite(w)) for w in weights.values())
    if not finite:
        return None
    loss, acc = ref.evaluate(weights, X, Y, "tanh", "softmax")
    ff = forward_feedback_angles(weights)
    cross = cross_stream_angles(weights)
    return {"epoch": epoch, "acc": round(acc, 5), "loss": round(float(loss), 5),
            "ff_angle": round(float(np.mean(list(ff.values()))), 3) if ff else 0.0,
            "ff_angle_worst": round(float(max(ff.values())), 3) if ff else 0.0,
            "cross_angle": round(float(np.mean(list(cross.values()))), 3), "seconds": round(seconds, 2)}


def train_run(job, mnist_dir=None):
    """Train one run of ``job`` (a dict: stage, dataset, arch, preset, eta, lam, eta_c, eta_u, seed, epochs).

    Stages ``tune`` fit on the 80% and evaluate on the validation 20%; ``test`` and ``shared``
    fit on the whole training set and evaluate on the test set. Seed k fixes the initial
    weights, the presentation order (a fresh permutation per epoch) and the spontaneous
    activity, the same for every preset. Returns the job with ``status`` (done | diverged),
    ``curve`` (one record per epoch, epoch 0 before training), ``final_acc`` and ``wall_s``.
    """
    try:  # one thread per run: the runs are the parallelism
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass
    t0 = time.perf_counter()
    data = _data(job["dataset"], mnist_dir)
    if job["stage"] == "tune":
        fit, val = split(len(data.X_train))
        Xf, Yf, Xe, Ye = data.X_train[fit], data.Y_train[fit], data.X_train[val], data.Y_train[val]
    else:
        Xf, Yf, Xe, Ye = data.X_train, data.Y_train, data.X_test, data.Y_test
    sizes = parse_arch(job["arch"])
    if sizes[0] != Xf.shape[1] or sizes[-1] != Yf.shape[1]:
        raise ValueError(f"architecture {job['arch']} does not fit {job['dataset']}: it has {Xf.shape[1]} inputs "
                         f"and {Yf.shape[1]} classes")
    rules = make_preset(job["preset"], eta=job["eta"], lam=job["lam"], eta_c=job["eta_c"], eta_u=job["eta_u"])
    weights, _ = initial_weights(sizes, rules, seed=job["seed"])
    loop = SampleLoop(sizes, rules, weights, "tanh", "softmax")
    order_rng, noise_rng = np.random.default_rng([job["seed"], 1]), np.random.default_rng([job["seed"], 2])
    curve, status = [_record(loop.weights(), Xe, Ye, 0, 0.0)], "done"
    with np.errstate(all="ignore"):  # divergence is detected below, not warned about
        for epoch in range(1, job["epochs"] + 1):
            loop.train(Xf, Yf, order_rng.permutation(len(Xf)), noise_rng)
            rec = _record(loop.weights(), Xe, Ye, epoch, time.perf_counter() - t0)
            if rec is None:
                status = "diverged"
                break
            curve.append(rec)
    return dict(job, status=status, curve=curve, final_acc=curve[-1]["acc"] if status == "done" else None,
                wall_s=round(time.perf_counter() - t0, 2), n_fit=len(Xf), n_eval=len(Xe), target=TARGET)


def score(result):
    """Validation score: mean accuracy over the last SCORE_EPOCHS epochs (-inf if diverged).

    >>> score({"status": "done", "curve": [{"acc": a} for a in (0.1, 0.5, 0.7, 0.9)]})
    0.7
    >>> score({"status": "diverged", "curve": []})
    -inf
    """
    if result["status"] != "done":
        return -math.inf
    return round(float(np.mean([c["acc"] for c in result["curve"][-SCORE_EPOCHS:]])), 6)


def choose(results):
    """The best-scoring result; None if every run diverged. Ties (validation accuracy comes in steps
    of 1/288 on digits) go to the smallest eta, then lam, eta_c, eta_u, whatever order the runs finished in."""
    best = max(sorted(results, key=lambda r: tuple(r[k] for k in PARAMS)), key=score, default=None)
    return best if best is not None and score(best) > -math.inf else None


def _job(stage, dataset, arch, preset, seed, epochs, eta, lam, eta_c=None, eta_u=None):
    return {"stage": stage, "dataset": dataset, "arch": arch, "preset": preset, "seed": int(seed),
            "epochs": int(epochs), "eta": float(eta), "lam": float(lam),
            "eta_c": float(DEFAULT_PARAMS["eta_c"] if eta_c is None else eta_c),
            "eta_u": float(DEFAULT_PARAMS["eta_u"] if eta_u is None else eta_u)}


def setting_name(job):
    return "_".join(f"{k}{job[k]:g}" for k in PARAMS)


def job_path(out, job):
    return (Path(out) / "runs" / job["stage"] / f"{job['dataset']}_{job['arch']}" / job["preset"]
            / f"{setting_name(job)}_seed{job['seed']}.json")


def _load_done(out, job):
    """A finished run's result, if its file is there and was made for exactly this job."""
    path = job_path(out, job)
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if all(result.get(k) == v for k, v in job.items()) else None


def run_jobs(jobs, out, client, mnist_dir=None, echo=print):
    """Run every job not done yet on ``client`` (longest first); write each result as it comes."""
    results, todo = {}, []
    for job in jobs:
        done = _load_done(out, job)
        if done is not None:
            results[job_path(out, job)] = done
        else:
            todo.append(job)
    if not todo:
        return list(results.values())
    from dask.distributed import as_completed

    cost = lambda j: j["epochs"] * np.prod(parse_arch(j["arch"])[:2]) * (2 if "four" in j["preset"] else 1)  # noqa: E731
    todo.sort(key=cost, reverse=True)
    echo(f"{len(todo)} runs to do ({len(jobs) - len(todo)} already done)")
    # one task group, so that the scheduler queues the runs and gives the next to whichever worker is free
    token = uuid.uuid4().hex[:8]
    futures = [client.submit(train_run, job, mnist_dir, pure=False, key=f"learning_run-{token}-{i:06d}")
               for i, job in enumerate(todo)]
    t0, n = time.perf_counter(), 0
    for future in as_completed(futures):
        result = future.result()
        path = job_path(out, result)
        write_json(path, result)
        results[path] = result
        n += 1
        left = (time.perf_counter() - t0) / n * (len(todo) - n)
        echo(f"[{n}/{len(todo)}] {result['stage']} {result['dataset']} {result['arch']} {result['preset']} "
             f"{setting_name(result)} seed {result['seed']}: {result['status']} acc={result['final_acc']} "
             f"({result['wall_s']:.0f} s; about {left / 60:.0f} min left)")
    return list(results.values())


# ---- the protocol's stages ----------------------------------------------------------------

def tuned_archs(dataset, archs):
    wanted = TUNE_ARCHS.get(dataset)
    tuned = [a for a in archs if wanted is None or a in wanted]
    return tuned or archs[:1]


def stage_jobs(stage, dataset, archs, presets, epochs, chosen=None, seeds=SEEDS):
    """The jobs of one stage. ``chosen[(dataset, arch, preset)]`` holds the settings of earlier stages."""
    jobs = []
    if stage == "tune":
        for arch, preset in itertools.product(tuned_archs(dataset, archs), presets):
            grid = DATASET_GRID.get(dataset, GRID)
            jobs += [_job("tune", dataset, arch, preset, TUNE_SEED, epochs, eta, lam)
                     for eta, lam in itertools.product(grid["eta"], grid["lam"])]
    elif stage == "tune_cross":
        for arch, preset in itertools.product(tuned_archs(dataset, archs), presets):
            base = chosen.get((dataset, arch, preset))
            if preset in CROSS_GRID and base is not None:
                jobs += [_job("tune", dataset, arch, preset, TUNE_SEED, epochs, base["eta"], base["lam"], c, u)
                         for c, u in CROSS_GRID[preset]]
    elif stage in ("test", "shared"):
        for arch, preset in itertools.product(archs, presets):
            source = arch if arch in tuned_archs(dataset, archs) else tuned_archs(dataset, archs)[0]
            setting = chosen.get((dataset, source, REFERENCE if stage == "shared" else preset))
            if setting is None:
                continue
            # shared: backprop's setting, whose cross-stream rates are the defaults (it has none to tune)
            jobs += [_job("test", dataset, arch, preset, s, epochs, *(setting[k] for k in PARAMS)) for s in seeds]
    else:
        raise ValueError(f"unknown stage {stage!r}")
    return jobs


def choices(results, presets):
    """``{(dataset, arch, preset): best tuning result}`` over all tuning results given."""
    groups = {}
    for r in results:
        if r["stage"] == "tune":
            groups.setdefault((r["dataset"], r["arch"], r["preset"]), []).append(r)
    return {key: best for key, rs in groups.items() if key[2] in presets and (best := choose(rs)) is not None}


# ---- the report --------------------------------------------------------------------------

def _paired(a, b):
    """Paired difference a - b in points: mean and 95% t-interval over the seeds both have."""
    common = sorted(set(a) & set(b))
    d = [100 * (a[s] - b[s]) for s in common]
    m, h = t_interval(d)
    return m, m - h, m + h, len(common)


def summarize(test_results, chosen, labels):
    """Rows of summary.csv: per data set, architecture, preset and setting (tuned | shared)."""
    rows = []
    by_key = {}
    for r in test_results:
        if r["status"] != "done":
            continue
        ref_setting = chosen.get((r["dataset"], _tuned_source(chosen, r), REFERENCE))
        settings = []
        own = chosen.get((r["dataset"], _tuned_source(chosen, r), r["preset"]))
        if own is not None and all(r[k] == own[k] for k in PARAMS):
            settings.append("tuned")
        if ref_setting is not None and all(r[k] == ref_setting[k] for k in ("eta", "lam")) and \
                r["eta_c"] == DEFAULT_PARAMS["eta_c"] and r["eta_u"] == DEFAULT_PARAMS["eta_u"]:
            settings.append("shared")
        for setting in settings:
            by_key.setdefault((r["dataset"], r["arch"], setting, r["preset"]), []).append(r)
    for key in [k for k in by_key if k[2] == "shared"]:  # a shared stage that was not run: backprop's own runs only
        if not any(k[:3] == key[:3] and k[3] != REFERENCE for k in by_key):
            del by_key[key]
    for (dataset, arch, setting, preset), rs in sorted(by_key.items(), key=lambda kv: _order(kv[0])):
        acc = {r["seed"]: r["final_acc"] for r in rs}
        reference = {r["seed"]: r["final_acc"] for r in by_key.get((dataset, arch, setting, REFERENCE), [])}
        m, lo, hi, n = _paired(acc, reference) if preset != REFERENCE else (0.0, 0.0, 0.0, len(acc))
        x = np.array(list(acc.values()))
        rows.append({"dataset": labels.get(dataset, dataset), "arch": arch, "preset": preset, "setting": setting,
                     "seeds": len(rs), "test_acc_mean": round(x.mean(), 4),
                     "test_acc_sd": round(x.std(ddof=1), 4) if x.size > 1 else "",
                     "diff_to_backprop_mean": round(m, 2), "diff_ci_low": _r(lo), "diff_ci_high": _r(hi),
                     "paired_seeds": n, "eta": rs[0]["eta"], "lam": rs[0]["lam"], "eta_c": rs[0]["eta_c"],
                     "eta_u": rs[0]["eta_u"], "epochs": rs[0]["epochs"],
                     "ff_angle_mean": round(float(np.mean([r["curve"][-1]["ff_angle"] for r in rs])), 2),
                     "wall_s_mean": round(float(np.mean([r["wall_s"] for r in rs])), 1), "target": TARGET})
    return rows


def _r(x):
    return "" if x is None or math.isnan(x) else round(x, 2)


def _tuned_source(chosen, r):
    tuned = sorted({a for (d, a, _) in chosen if d == r["dataset"]})
    return r["arch"] if r["arch"] in tuned else (tuned[0] if tuned else r["arch"])


def _order(key):
    dataset, arch, setting, preset = key
    rank = PRESET_NAMES.index(preset) if preset in PRESET_NAMES else 99
    return (dataset, len(parse_arch(arch)), arch, setting != "tuned", rank)


def markdown(summary, chosen_rows, epochs, wall):
    lines = ["# Learning benchmark: tuned presets, 5 seeds", "",
             "Final test accuracy (mean ± sd over seeds) after the epochs given; Δ: paired difference to backprop "
             "of the same seed, in points, with its 95% t-interval (t distribution, n - 1 degrees of freedom). "
             "*tuned*: each preset at its own setting chosen by validation; *shared*: every preset at backprop's "
             "chosen eta and lam (cross-stream rates at their defaults). Angles: forward-feedback, mean over "
             "layers, degrees. Protocol: docs/benchmarks.md; command and wall time at the end.", ""]
    lines += glance(summary)
    key = lambda r: (r["dataset"], r["arch"], r["setting"])  # noqa: E731
    for (dataset, arch, setting), group in itertools.groupby(summary, key=key):
        lines += [f"## {dataset}, {arch}, {setting}", "",
                  "| preset | test acc | Δ backprop [95% CI] | eta | lam | eta_c | eta_u | ff angle | s/run |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in group:
            ci = "—" if r["preset"] == REFERENCE else \
                f"{r['diff_to_backprop_mean']:+.2f} [{r['diff_ci_low']:+.2f}, {r['diff_ci_high']:+.2f}]" \
                if r["diff_ci_low"] != "" else f"{r['diff_to_backprop_mean']:+.2f}"
            sd = f" ± {r['test_acc_sd']:.3f}" if r["test_acc_sd"] != "" else ""
            lines.append(f"| {r['preset']} | {r['test_acc_mean']:.3f}{sd} (n={r['seeds']}) | {ci} | {r['eta']:g} | "
                         f"{r['lam']:g} | {r['eta_c']:g} | {r['eta_u']:g} | {r['ff_angle_mean']:.1f} | "
                         f"{r['wall_s_mean']:.0f} |")
        lines.append("")
    lines += ["## Chosen settings (validation score: mean validation accuracy over the last "
              f"{SCORE_EPOCHS} epochs, seed {TUNE_SEED})", "",
              "| data set | tuned at | preset | eta | lam | eta_c | eta_u | validation score |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {c['dataset']} | {c['arch']} | {c['preset']} | {c['eta']:g} | {c['lam']:g} | {c['eta_c']:g} | "
              f"{c['eta_u']:g} | {c['val_score']:.4f} |" for c in chosen_rows]
    lines += ["", f"Epochs: {epochs}. Implementation: {TARGET}. Wall time of the whole benchmark: {wall}.", ""]
    lines += plateau_lines(chosen_rows)
    return "\n".join(lines)


def glance(summary):
    """One table per data set and setting: presets down, architectures across; accuracy and Δ [CI]."""
    lines = []
    for dataset, setting in dict.fromkeys((r["dataset"], r["setting"]) for r in summary):
        rows = [r for r in summary if r["dataset"] == dataset and r["setting"] == setting]
        archs = sorted({r["arch"] for r in rows}, key=lambda a: (a.count("-"), a))
        lines += [f"### {dataset}, {setting} setting: test accuracy (mean ± sd, n seeds), Δ backprop in points "
                  "[95% CI], forward-feedback angle (mean over layers)",
                  "", "| preset | " + " | ".join(archs) + " |", "|---" * (len(archs) + 1) + "|"]
        for preset in dict.fromkeys(r["preset"] for r in rows):
            cells = []
            for arch in archs:
                r = next((r for r in rows if r["arch"] == arch and r["preset"] == preset), None)
                if r is None:
                    cells.append("")
                    continue
                sd = f" ± {r['test_acc_sd']:.3f}" if r["test_acc_sd"] != "" else ""
                cell = f"{r['test_acc_mean']:.3f}{sd} (n={r['seeds']})"
                if preset != REFERENCE:
                    cell += f"<br>{r['diff_to_backprop_mean']:+.1f}" + (
                        f" [{r['diff_ci_low']:+.1f}, {r['diff_ci_high']:+.1f}]" if r["diff_ci_low"] != "" else "")
                    cell += f"<br>ff {r['ff_angle_mean']:.0f} deg"
                cells.append(cell)
            lines.append(f"| {preset} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def plateau_lines(chosen_rows):
    """Has backprop's validation accuracy stopped rising? Its chosen run's curve, per tuned architecture."""
    lines = ["## Backprop's validation accuracy per epoch (its chosen setting, seed 0)", ""]
    for c in chosen_rows:
        if c["preset"] != REFERENCE:
            continue
        acc = [e["acc"] for e in c["curve"]]
        half = len(acc) // 2
        lines.append(f"- {c['dataset']} {c['arch']}: " + " ".join(f"{a:.3f}" for a in acc[1:])
                     + f"; best of the second half minus best of the first: {100 * (max(acc[half:]) - max(acc[:half])):+.1f} "
                     f"points")
    return lines + [""]


def write_report(out, results, presets, labels, wall="see docs/benchmarks.md"):
    """Every CSV, the Markdown summary and the figures from the results so far."""
    out = Path(out)
    chosen = choices(results, presets)
    tuning = [{"dataset": labels.get(r["dataset"], r["dataset"]), "arch": r["arch"], "preset": r["preset"],
               **{k: r[k] for k in PARAMS}, "seed": r["seed"], "epochs": r["epochs"], "status": r["status"],
               "val_score": score(r) if r["status"] == "done" else "", "final_val_acc": r["final_acc"],
               "ff_angle": r["curve"][-1]["ff_angle"] if r["status"] == "done" else "",
               "wall_s": r["wall_s"]} for r in results if r["stage"] == "tune"]
    chosen_rows = [{"dataset": labels.get(d, d), "arch": a, "preset": p, **{k: c[k] for k in PARAMS},
                    "val_score": score(c), "curve": c["curve"]} for (d, a, p), c in sorted(chosen.items(), key=lambda kv: _order(
                        (kv[0][0], kv[0][1], "", kv[0][2])))]
    tests = [r for r in results if r["stage"] == "test"]
    seeds = [{"dataset": labels.get(r["dataset"], r["dataset"]), "arch": r["arch"], "preset": r["preset"],
              **{k: r[k] for k in PARAMS}, "seed": r["seed"], "epochs": r["epochs"], "status": r["status"],
              "test_acc": r["final_acc"], "ff_angle": r["curve"][-1]["ff_angle"] if r["status"] == "done" else "",
              "cross_angle": r["curve"][-1]["cross_angle"] if r["status"] == "done" else "",
              "wall_s": r["wall_s"]} for r in tests]
    curves = [{"dataset": labels.get(r["dataset"], r["dataset"]), "arch": r["arch"], "preset": r["preset"],
               **{k: r[k] for k in PARAMS}, "seed": r["seed"], **c} for r in tests for c in r["curve"]]
    summary = summarize(tests, chosen, labels)
    chosen_csv = [{k: v for k, v in c.items() if k != "curve"} for c in chosen_rows]
    for name, rows in (("tuning", tuning), ("chosen", chosen_csv), ("seeds", seeds), ("curves", curves),
                       ("summary", summary)):
        if rows:
            write_csv(out / f"{name}.csv", rows)
    epochs = ", ".join(f"{labels.get(d, d)} {'/'.join(str(e) for e in sorted({r['epochs'] for r in results if r['dataset'] == d}))}"
                       for d in labels if any(r["dataset"] == d for r in results))
    atomic_write_text(out / "summary.md", markdown(summary, chosen_rows, epochs, wall))
    from learning_plots import plot_all

    plot_all(out, tests, tuning, summary, chosen, labels, PARAMS, {d: DATASET_GRID.get(d, GRID) for d in labels})
    return summary


def protocol(datasets, out, presets, seeds, archs, epochs, shared_seeds, run=None, echo=print, report=None):
    """Walk the stages in order; each stage's jobs follow from the choices of the ones before.

    ``run(jobs)`` runs the jobs not done and returns every job's result; without it only the
    runs already in OUT/runs that belong to the protocol are loaded (``--report-only``: a run
    of another grid lying in the folder is not counted). ``report(results)`` after each stage.
    """
    results = []
    for stage in STAGES:
        chosen = choices(results, presets)
        jobs = [j for d in datasets for j in stage_jobs(
            stage, d, archs[d], presets, epochs[d], chosen,
            seeds if stage != "shared" else [s for s in seeds if s in shared_seeds.get(d, seeds)])]
        echo(f"stage {stage}: {len(jobs)} runs")
        new = run(jobs) if run else [r for j in jobs if (r := _load_done(out, j)) is not None]
        results = _merge(results, new)
        if report:
            report(results)
    return results


def run_benchmark(datasets=("digits",), out=DEFAULT_OUT, mnist_dir=None, presets=PRESET_NAMES, seeds=SEEDS,
                  archs=None, epochs=None, workers=None, scheduler=None, shared_seeds=SHARED_SEEDS, echo=print,
                  report_only=False):
    """Run the whole protocol (every stage, every data set) and write the report; resumes from OUT/runs.

    With ``report_only`` nothing is trained: the report is written from the runs found."""
    archs = archs or {d: ARCHS[d] for d in datasets}
    epochs = epochs or {d: EPOCHS[d] for d in datasets}
    if REFERENCE not in presets:
        raise ValueError(f"the benchmark compares with {REFERENCE}: keep it among the presets")
    labels = {d: dataset_label(d, len(_data(d, mnist_dir).X_train)) for d in datasets}
    walk = functools.partial(protocol, datasets, out, presets, seeds, archs, epochs, shared_seeds, echo=echo)
    if report_only:
        return write_report(out, walk(), presets, labels)
    t0 = time.perf_counter()
    # local workers import this module and numpy_loop from here (remote ones need them on their path)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    client, cluster, n, _ = start_client(workers, scheduler)
    echo(f"dask: {n} workers" + (f", dashboard {client.dashboard_link}" if cluster is not None else ""))
    try:
        results = walk(run=lambda jobs: run_jobs(jobs, out, client, mnist_dir, echo),
                       report=lambda results: write_report(out, results, presets, labels))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    wall = f"{(time.perf_counter() - t0) / 60:.1f} min on {n} workers (this call)"
    echo(f"done: {wall}")
    return write_report(out, results, presets, labels, wall)


def _merge(old, new):
    """Results of both lists, one per run (its file path names it), the newer kept."""
    return list({job_path("", r): r for r in [*old, *new]}.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", metavar="DIR", help="folder with the four MNIST IDX files; adds the MNIST benchmark")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--workers", type=int, help="local Dask worker processes (default: one per core)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786)")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds of the test stage (default 5)")
    parser.add_argument("--presets", nargs="+", default=list(PRESET_NAMES), choices=PRESET_NAMES)
    parser.add_argument("--report-only", action="store_true", help="tables and figures from OUT/runs, no training")
    args = parser.parse_args(argv)
    datasets = ("digits", "mnist") if args.mnist else ("digits",)
    if args.mnist and not Path(args.mnist).is_dir():
        parser.error(f"--mnist {args.mnist}: no such folder; give the folder that holds the four MNIST IDX files")
    mnist = str(Path(args.mnist).resolve()) if args.mnist else None  # the workers' working folder may differ
    run_benchmark(datasets, args.out, mnist, args.presets, tuple(range(args.seeds)), workers=args.workers,
                  scheduler=args.scheduler, report_only=args.report_only)


if __name__ == "__main__":
    import learning  # run as the module, so that Dask sends the workers references, not copies

    learning.main()
