"""Learning benchmark: every preset tuned by validation, digits and MNIST, classification and reconstruction, 5 seeds.

The protocol (docs/benchmarks.md, section 1, says why each choice was made):

1. **Split.** A fixed 20% of the training set (:data:`VAL_FRACTION`, permutation seed
   :data:`VAL_SEED`) is the validation set; the test set is not looked at until step 6.
   digits: scikit-learn's 1797 8x8 digits, a fixed 20% test split (seed 0): 1438 training
   (1150 + 288 validation), 359 test. MNIST: the IDX files of ``--mnist DIR`` as given
   (MNIST-8k: 8000 training (6400 + 1600 validation), 2000 test). ``--dataset PATH``: a user's
   .npz or .csv file (:func:`selfassembly.datasets.load_data_file`), with ``--archs``.
   **Tasks** (:data:`TASKS`): classification (softmax output, score = validation accuracy) and
   reconstruction (target = input, linear output, score = validation squared error per sample,
   lower is better; architectures :data:`RECON_ARCHS`, epochs :data:`RECON_EPOCHS`).
2. **Stage 1: eta x lam.** Every preset is trained on the 80% with every (eta, lam) of
   :data:`GRID` (:data:`DATASET_GRID` where a data set has its own; seed 0, every other
   parameter at its default) and scored by its mean validation accuracy (or error) over the last
   :data:`SCORE_EPOCHS` epochs (one single-sample snapshot is noisy); the best score wins
   (ties: the smallest eta, then lam), a diverged run scores nothing.
3. **Stage 2: the cross-stream rates.** At its chosen (eta, lam), four_synapse tries every
   (eta_c, eta_u) of :data:`CROSS_GRID` and four_synapse_fixed_u every eta_c; scored the same way.
4. **Stage 3: B's rule.** At its chosen (eta, lam, eta_c, eta_u), four_synapse tries every
   (b_rule, eta_b) of :data:`B_GRID` (task rule + loop mirror, or loop mirror alone).
   **Matched ablations** (:data:`B_MATCHED`: four_synapse_fixed_u, four_synapse_fixed_cross)
   then take four_synapse's chosen (b_rule, eta_b) at their own chosen rates, so that they differ
   from it only in U and V.
5. **Test, once.** Each preset's chosen setting is trained on the whole training set (train +
   validation) with seeds 0..4 and its test accuracy (or error) recorded after every epoch; the
   last one is the result. The same is done with every preset at **backprop's** chosen eta and
   lam (every other parameter at its default; :data:`SHARED_SEEDS`), to show whether a preset
   needs its own tuning.
6. **The verdict from the same runs.** The test runs save their final weights; per (data set,
   task, architecture, setting) the across-seed verdict of ``selfassembly inspect``
   (:func:`selfassembly.analysis.verdict.seed_verdicts`: the random null and the ablations
   four_synapse_fixed_cross and feedback_alignment of the same table) is computed from them, so
   each summary row carries its performance, its forward-feedback angle and its verdict.

Epochs (:data:`EPOCHS`) are fixed per data set from a pilot of backprop's validation
accuracy; summary.md ends with the validation curve of backprop's chosen run as the check. Where a data set's
architectures are not all tuned (:data:`TUNE_ARCHS`: MNIST classification is tuned at 784-256-256-10 only,
to fit the compute), the others take the setting chosen at the tuned one.

Every run is a task on dask.distributed (a LocalCluster with ``--workers`` processes, or
``--scheduler ADDRESS``, as ``selfassembly sweep``): the package's
:func:`selfassembly.sweep.learning_run.train_run`, so a worker needs only the package installed.
It trains with the sample-clocked equations of MODEL.md in
:class:`selfassembly.circuits.numpy_engine.SampleLoop` (the numpy engine, which the tests hold
equal to :mod:`selfassembly.circuits.reference` and to the Brian2 circuit step by step); the
workers load the data themselves from ``--mnist DIR`` or the data file (the same path on every
machine).

Outputs under OUT (default ``benchmarks/results/learning``), rewritten after each stage:

``runs/<stage>/<dataset>[_<task>]_<arch>/<preset>/<setting>_seed<k>.json``
    one finished run: its settings (eta, lam, eta_c, eta_u, b_rule, eta_b; a data file's
    content hash), status, wall time and per-epoch curve; test runs also ``.npz`` (final
    weights, read with allow_pickle=False). A rerun skips every run whose files are there and
    match its settings; an interrupted run loses only the runs in flight.
``tuning.csv``, ``chosen.csv``
    every tuning run with its validation score; the setting chosen per preset.
``seeds.csv``, ``curves.csv``
    the test runs: one row per seed, and one row per seed and epoch.
``summary.csv``, ``summary.md``
    per data set, task, architecture, preset and setting (tuned or shared): mean and sd of the
    final test accuracy (classification) or ``test_error_mean`` (reconstruction, beside the mean
    predictor's error and the share of feedback alignment's gap to backprop closed) over seeds,
    the paired difference to backprop (same seed) with its 95% t-interval, the ``verdict``, the
    chosen setting, epochs and wall time.
``manifest.json``
    the command, code version, every setting (the grids and the model's default parameters
    included), this call's wall time and runs, the machine, and the slice ``make reproduce``
    reruns (:func:`write_learning_manifest`).
``<dataset>_curves.png``, ``<dataset>_diff.png``, ``<dataset>_tuning.png``, ``<dataset>_tradeoff.png``
    classification: test accuracy and forward-feedback angle over training (mean and sd band over
    seeds); the paired differences to backprop with their intervals; stage 1's validation
    scores; validation score and forward-feedback angle against lam at eta = 0.02.

Run::

    .venv/bin/python benchmarks/learning.py                                  # digits classification
    .venv/bin/python benchmarks/learning.py --tasks classification,reconstruction
    .venv/bin/python benchmarks/learning.py --mnist ../shared/data/mnist-8k  # digits and MNIST-8k
    .venv/bin/python benchmarks/learning.py --dataset my.npz --archs 20-32-3  # a user's data file
    .venv/bin/python benchmarks/learning.py --report-only [--mnist DIR]      # tables and figures from runs/
"""
from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from selfassembly.analysis.alignment import cross_stream_angles, forward_feedback_angles
from selfassembly.analysis.statistics import t_interval
from selfassembly.analysis.verdict import N_DRAWS, random_null, seed_verdicts
from selfassembly.datasets import file_sha256, is_data_file
from selfassembly.io import atomic_savez, atomic_write_text, write_csv, write_json
from selfassembly.manifest import MANIFEST, earlier_calls, write_manifest
from selfassembly.plasticity.presets import DEFAULT_PARAMS, PRESET_NAMES, PRESETS
from selfassembly.sweep import start_client
# what a run computes, on a worker: the package's, so that the workers need only the package
from selfassembly.sweep.learning_run import (TARGET, VAL_FRACTION, VAL_SEED, parse_arch, split,  # noqa: F401
                                             train_run)
from selfassembly.sweep.learning_run import load_data as _data

HERE = Path(__file__).resolve().parent

__all__ = ["parse_arch", "arch_name", "dataset_label", "split", "train_run", "choose", "stage_jobs", "summarize",
           "run_benchmark", "ARCHS", "RECON_ARCHS", "GRID", "CROSS_GRID", "B_GRID", "EPOCHS", "TASKS"]

DEFAULT_OUT = HERE / "results" / "learning"
REFERENCE = "backprop"
FOCUS = "four_synapse"
#: classification: the labels; reconstruction: the input itself through a bottleneck (linear output);
#: regression: a data file's float targets (linear output). The last two are scored by squared error.
TASKS = ("classification", "reconstruction", "regression")
ERROR_TASKS = ("reconstruction", "regression")
ARCHS = {"digits": ["64-128-10", "64-128-128-10", "64-128-128-128-10"],
         "mnist": ["784-256-10", "784-256-256-10", "784-256-256-256-10"]}
#: reconstruction through a bottleneck of 12 (digits) or 32 (MNIST) units, 1-3 hidden layers around it
RECON_ARCHS = {"digits": ["64-12-64", "64-32-12-64", "64-48-12-48-64"], "mnist": ["784-128-32-128-784"]}
#: architectures tuned per data set (None: all); the others take the setting chosen at the first tuned one
#: (classification only: every reconstruction architecture is tuned)
TUNE_ARCHS = {"digits": None, "mnist": ["784-256-256-10"]}
EPOCHS = {"digits": 20, "mnist": 10}
#: reconstruction epochs: digits as in MODEL.md's checks and benchmarks/loop_mirror_tuning.py, whose
#: validation error of backprop had flattened by epoch 10; MNIST as MODEL.md's check (not piloted)
RECON_EPOCHS = {"digits": 10, "mnist": 3}
GRID = {"eta": (0.005, 0.01, 0.02, 0.04), "lam": (1e-4, 1e-3, 1e-2)}
#: per data set, where it differs from GRID: MNIST leaves out lam = 0.01 to fit the compute (docs/benchmarks.md)
DATASET_GRID = {"mnist": {"eta": GRID["eta"], "lam": (1e-4, 1e-3)}}
#: stage 2: (eta_c, eta_u) per preset; eta_u / eta_c stays at or below STABLE_U_RATIO (MODEL.md)
CROSS_GRID = {"four_synapse": [(c, c * r) for c in (0.001, 0.002, 0.004) for r in (0.125, 0.25)],
              "four_synapse_fixed_u": [(c, DEFAULT_PARAMS["eta_u"]) for c in (0.001, 0.002, 0.004)]}
#: stage 3: four_synapse's B rule and loop-mirror rate (b_rule, eta_b), around the default that
#: benchmarks/loop_mirror_tuning.py chose at the default architecture
B_GRID = {"four_synapse": [(rule, eta_b) for rule in ("both", "loop_mirror")
                          for eta_b in (0.0002, 0.0005, 0.002, 0.005)]}
#: ablations that must carry four_synapse's B setting, so that they differ from it only in U and V
B_MATCHED = ("four_synapse_fixed_u", "four_synapse_fixed_cross")
TUNE_SEED = 0
SEEDS = (0, 1, 2, 3, 4)
#: seeds of the shared-setting stage (MNIST: none, to fit the compute of one session on 2 cores)
SHARED_SEEDS = {"digits": SEEDS, "mnist": ()}
SCORE_EPOCHS = 3
#: what a job's setting is: the rates of W (and B's task rule), of U and V, and B's rule with its rate
PARAMS = ("eta", "lam", "eta_c", "eta_u", "b_rule", "eta_b")
STAGES = ("tune", "tune_cross", "tune_b", "tune_match", "test", "shared")


def arch_name(sizes):
    return "-".join(str(n) for n in sizes)


def dataset_label(dataset, n_train):
    """The name tables use: ``digits``, ``MNIST-<n>k`` by the training set's size, or a data file's name.

    >>> dataset_label("mnist", 8000), dataset_label("mnist", 60000), dataset_label("mnist", 30)
    ('MNIST-8k', 'MNIST-60k', 'MNIST-0.03k')
    >>> dataset_label("/lab/stimuli.npz", 500)
    'stimuli.npz'
    """
    if is_data_file(dataset):
        return Path(dataset).name
    return f"MNIST-{n_train / 1000:g}k" if dataset == "mnist" else dataset


def dataset_slug(dataset):
    """The data set's part of file and folder names (a data file's stem, never a path).

    >>> dataset_slug("digits"), dataset_slug("/lab/my stimuli.csv")
    ('digits', 'file-my_stimuli')
    """
    if is_data_file(dataset):
        return "file-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(dataset).stem)
    return dataset


def is_error_task(task):
    return task in ERROR_TASKS


def score(result):
    """Validation score: the mean accuracy (classification) or squared error (reconstruction,
    regression) over the last SCORE_EPOCHS epochs; a diverged run scores the worst possible.

    >>> score({"status": "done", "curve": [{"acc": a} for a in (0.1, 0.5, 0.7, 0.9)]})
    0.7
    >>> score({"status": "diverged", "curve": []})
    -inf
    >>> score({"status": "diverged", "curve": [], "task": "reconstruction"})
    inf
    """
    error = is_error_task(result.get("task", "classification"))
    if result["status"] != "done":
        return math.inf if error else -math.inf
    key = "error" if error else "acc"
    return round(float(np.mean([c[key] for c in result["curve"][-SCORE_EPOCHS:]])), 6)


def merit(result):
    """The score with higher = better: accuracy, or minus the error."""
    s = score(result)
    return -s if is_error_task(result.get("task", "classification")) else s


def _setting_key(r):
    return tuple(r.get(k, "") for k in PARAMS)


def choose(results):
    """The best-scoring result; None if every run diverged. Ties (validation accuracy comes in steps
    of 1/288 on digits) go to the smallest eta, then lam, eta_c, eta_u, b_rule (alphabetical),
    eta_b, whatever order the runs finished in."""
    best = max(sorted(results, key=_setting_key), key=merit, default=None)
    return best if best is not None and merit(best) > -math.inf else None


def _job(stage, dataset, arch, preset, seed, epochs, eta, lam, eta_c=None, eta_u=None, b_rule=None, eta_b=None,
         task="classification", data=None):
    """One run's description. ``b_rule`` defaults to the preset's own B; ``data`` holds what
    names a data file's content (its hash and label column), so that an edited file is rerun."""
    return {"stage": stage, "dataset": dataset, "task": task, "arch": arch, "preset": preset, "seed": int(seed),
            "epochs": int(epochs), "eta": float(eta), "lam": float(lam),
            "eta_c": float(DEFAULT_PARAMS["eta_c"] if eta_c is None else eta_c),
            "eta_u": float(DEFAULT_PARAMS["eta_u"] if eta_u is None else eta_u),
            "b_rule": str(PRESETS[preset][0] if b_rule is None else b_rule),
            "eta_b": float(DEFAULT_PARAMS["eta_b"] if eta_b is None else eta_b), **(data or {})}


def setting_name(job):
    return "_".join(f"{k}{job[k]:g}" if isinstance(job[k], float) else f"{k}-{job[k]}" for k in PARAMS)


def job_path(out, job):
    task = job.get("task", "classification")
    problem = dataset_slug(job["dataset"]) + ("" if task == "classification" else f"_{task}")
    return (Path(out) / "runs" / job["stage"] / f"{problem}_{job['arch']}" / job["preset"]
            / f"{setting_name(job)}_seed{job['seed']}.json")


def weights_path(out, job):
    """The final weights of a test run, beside its result (.npz, read with allow_pickle=False)."""
    return job_path(out, job).with_suffix(".npz")


def load_final_weights(out, job):
    """A test run's final weights, or None if they were not saved."""
    try:
        with np.load(weights_path(out, job), allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError):
        return None


def _load_done(out, job):
    """A finished run's result, if its file is there and was made for exactly this job."""
    path = job_path(out, job)
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not all(result.get(k) == v for k, v in job.items()):
        return None
    if job["stage"] == "test" and result.get("status") == "done" and not weights_path(out, job).is_file():
        return None  # its final weights (for the verdict) are missing: run it again
    return result


def run_jobs(jobs, out, client, mnist_dir=None, echo=print, tally=None):
    """Run every job not done yet on ``client`` (longest first); write each result as it comes.
    ``tally["trained"]`` (where given) counts the jobs run."""
    results, todo = {}, []
    for job in jobs:
        done = _load_done(out, job)
        if done is not None:
            results[job_path(out, job)] = done
        else:
            todo.append(job)
    if tally is not None:
        tally["trained"] = tally.get("trained", 0) + len(todo)
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
        weights = result.pop("final_weights", None)
        if weights is not None:  # first the weights, then the result that marks the run done
            atomic_savez(weights_path(out, result), **weights)
        path = job_path(out, result)
        write_json(path, result)
        results[path] = result
        n += 1
        left = (time.perf_counter() - t0) / n * (len(todo) - n)
        value = f"error={result['final_error']}" if "final_error" in result else f"acc={result['final_acc']}"
        echo(f"[{n}/{len(todo)}] {result['stage']} {result['dataset']} {result['task']} {result['arch']} "
             f"{result['preset']} {setting_name(result)} seed {result['seed']}: {result['status']} {value} "
             f"({result['wall_s']:.0f} s; about {left / 60:.0f} min left)")
    return list(results.values())


# ---- the protocol's stages ----------------------------------------------------------------

def tuned_archs(dataset, archs, task="classification"):
    wanted = TUNE_ARCHS.get(dataset) if task == "classification" else None
    tuned = [a for a in archs if wanted is None or a in wanted]
    return tuned or archs[:1]


def stage_jobs(stage, dataset, archs, presets, epochs, chosen=None, seeds=SEEDS, task="classification", data=None):
    """The jobs of one stage. ``chosen[(dataset, task, arch, preset)]`` holds the settings of earlier stages."""
    jobs = []
    job = functools.partial(_job, task=task, data=data)
    tuned = tuned_archs(dataset, archs, task)
    own = lambda arch, preset: chosen.get((dataset, task, arch, preset))  # noqa: E731
    if stage == "tune":
        for arch, preset in itertools.product(tuned, presets):
            grid = DATASET_GRID.get(dataset, GRID)
            jobs += [job("tune", dataset, arch, preset, TUNE_SEED, epochs, eta, lam)
                     for eta, lam in itertools.product(grid["eta"], grid["lam"])]
    elif stage == "tune_cross":
        for arch, preset in itertools.product(tuned, presets):
            base = own(arch, preset)
            if preset in CROSS_GRID and base is not None:
                jobs += [job("tune", dataset, arch, preset, TUNE_SEED, epochs, base["eta"], base["lam"], c, u,
                             base["b_rule"], base["eta_b"]) for c, u in CROSS_GRID[preset]]
    elif stage == "tune_b":
        for arch, preset in itertools.product(tuned, presets):
            base = own(arch, preset)
            if preset in B_GRID and base is not None:
                jobs += [job("tune", dataset, arch, preset, TUNE_SEED, epochs, base["eta"], base["lam"],
                             base["eta_c"], base["eta_u"], rule, eta_b) for rule, eta_b in B_GRID[preset]]
    elif stage == "tune_match":  # the ablations at their own rates, with four_synapse's B setting
        for arch, preset in itertools.product(tuned, presets):
            base, focus = own(arch, preset), own(arch, FOCUS)
            if preset in B_MATCHED and base is not None and focus is not None:
                jobs.append(job("tune", dataset, arch, preset, TUNE_SEED, epochs, *(base[k] for k in PARAMS[:4]),
                                focus["b_rule"], focus["eta_b"]))
    elif stage in ("test", "shared"):
        for arch, preset in itertools.product(archs, presets):
            source = arch if arch in tuned else tuned[0]
            if stage == "shared":  # backprop's eta and lam; every other parameter at its default
                setting = own(source, REFERENCE)
                if setting is not None:
                    jobs += [job("test", dataset, arch, preset, s, epochs, setting["eta"], setting["lam"])
                             for s in seeds]
            elif (setting := own(source, preset)) is not None:
                jobs += [job("test", dataset, arch, preset, s, epochs, *(setting[k] for k in PARAMS)) for s in seeds]
    else:
        raise ValueError(f"unknown stage {stage!r}")
    return jobs


def choices(results, presets):
    """``{(dataset, task, arch, preset): best tuning result}`` over all tuning results given.

    The ablations of :data:`B_MATCHED` choose among their runs at four_synapse's chosen B setting
    (b_rule, eta_b) where they have any (stage tune_match), so that they stay matched to it."""
    groups = {}
    for r in results:
        if r["stage"] == "tune":
            groups.setdefault((r["dataset"], r.get("task", "classification"), r["arch"], r["preset"]), []).append(r)
    chosen = {key: best for key, rs in groups.items() if key[3] in presets and key[3] not in B_MATCHED
              and (best := choose(rs)) is not None}
    for key, rs in groups.items():
        if key[3] in presets and key[3] in B_MATCHED:
            focus = chosen.get((*key[:3], FOCUS))
            matched = [r for r in rs if focus is not None and (r["b_rule"], r["eta_b"]) == (focus["b_rule"], focus["eta_b"])]
            if (best := choose(matched or rs)) is not None:
                chosen[key] = best
    return chosen


# ---- the report --------------------------------------------------------------------------

def _paired(a, b, scale=100):
    """Paired difference a - b (times ``scale``: points for accuracies): mean and 95% t-interval over
    the seeds both have."""
    common = sorted(set(a) & set(b))
    d = [scale * (a[s] - b[s]) for s in common]
    m, h = t_interval(d)
    return m, m - h, m + h, len(common)


def _is_shared(r, ref_setting):
    """A run at backprop's chosen eta and lam with every other parameter at the preset's default."""
    return (ref_setting is not None and r["eta"] == ref_setting["eta"] and r["lam"] == ref_setting["lam"]
            and r["eta_c"] == DEFAULT_PARAMS["eta_c"] and r["eta_u"] == DEFAULT_PARAMS["eta_u"]
            and r["eta_b"] == DEFAULT_PARAMS["eta_b"] and r["b_rule"] == PRESETS[r["preset"]][0])


def group_verdicts(out, runs):
    """The across-seed verdict of every preset of one (data set, task, architecture, setting).

    ``runs`` maps preset -> its test runs. The seeds that every preset has are used; the angles
    come from each run's saved final weights (:func:`load_final_weights`), the null is
    :func:`~selfassembly.analysis.verdict.random_null` at the architecture's shapes, and the test
    is :func:`~selfassembly.analysis.verdict.seed_verdicts` (the ablations four_synapse_fixed_cross
    and feedback_alignment must be among the presets for an ASSEMBLED). Returns ``{}`` when a
    finished run's weights are missing.
    """
    seeds = sorted(set.intersection(*({r["seed"] for r in rs} for rs in runs.values()))) if runs else []
    entries, sizes = {}, None
    for preset, rs in runs.items():
        by_seed = {r["seed"]: r for r in rs}
        entries[preset] = []
        for seed in seeds:
            r = by_seed[seed]
            if r["status"] != "done":
                entries[preset].append({"seed": seed, "status": r["status"]})
                continue
            w = load_final_weights(out, r)
            if w is None:
                return {}
            entries[preset].append({"seed": seed, "status": "done", "ff": forward_feedback_angles(w),
                                    "cross": cross_stream_angles(w)})
            sizes = parse_arch(r["arch"])
    if sizes is None:
        return {}
    return seed_verdicts(entries, random_null(sizes, None, N_DRAWS, 0))


def summarize(test_results, chosen, labels, out=None):
    """Rows of summary.csv: per data set, task, architecture, preset and setting (tuned | shared).

    Classification rows report the test accuracy and the paired difference to backprop in points;
    reconstruction and regression rows the test error (squared error per sample, lower is better),
    the difference in error units (positive: worse than backprop), the mean predictor's error and
    the share of feedback_alignment's gap to backprop that the preset closes. With ``out`` (where
    the runs' final weights are), every row also carries the across-seed ``verdict`` of its group
    (:func:`group_verdicts`)."""
    rows = []
    by_key = {}
    for r in test_results:
        task = r.get("task", "classification")
        source = _tuned_source(chosen, r)
        own = chosen.get((r["dataset"], task, source, r["preset"]))
        settings = ["tuned"] if own is not None and all(r[k] == own[k] for k in PARAMS) else []
        if _is_shared(r, chosen.get((r["dataset"], task, source, REFERENCE))):
            settings.append("shared")
        for setting in settings:
            by_key.setdefault((r["dataset"], task, r["arch"], setting, r["preset"]), []).append(r)
    for key in [k for k in by_key if k[3] == "shared"]:  # a shared stage that was not run: backprop's own runs only
        if not any(k[:4] == key[:4] and k[4] != REFERENCE for k in by_key):
            del by_key[key]
    groups = {}
    for key, rs in by_key.items():
        groups.setdefault(key[:4], {})[key[4]] = rs
    verdicts = {g: group_verdicts(out, runs) for g, runs in groups.items()} if out is not None else {}
    done = lambda key: {r["seed"]: r for r in by_key.get(key, []) if r["status"] == "done"}  # noqa: E731
    for (dataset, task, arch, setting, preset), all_rs in sorted(by_key.items(), key=lambda kv: _order(kv[0])):
        rs = list(done((dataset, task, arch, setting, preset)).values())
        if not rs:
            continue
        error = is_error_task(task)
        value = "final_error" if error else "final_acc"
        scale = 1 if error else 100
        own = {r["seed"]: r[value] for r in rs}
        reference = {s: r[value] for s, r in done((dataset, task, arch, setting, REFERENCE)).items()}
        m, lo, hi, n = _paired(own, reference, scale) if preset != REFERENCE else (0.0, 0.0, 0.0, len(own))
        x = np.array(list(own.values()))
        mean, sd = round(float(x.mean()), 4), round(float(x.std(ddof=1)), 4) if x.size > 1 else ""
        v = verdicts.get((dataset, task, arch, setting), {}).get(preset)
        row = {"dataset": labels.get(dataset, dataset), "task": task, "arch": arch, "preset": preset,
               "setting": setting, "seeds": len(rs),
               "test_acc_mean": "" if error else mean, "test_acc_sd": "" if error else sd,
               "test_error_mean": mean if error else "", "test_error_sd": sd if error else "",
               "mean_predictor_error": round(float(np.mean([r["mean_predictor_error"] for r in rs])), 4) if error else "",
               "diff_to_backprop_mean": round(m, 2 if not error else 4), "diff_ci_low": _r(lo, error),
               "diff_ci_high": _r(hi, error), "paired_seeds": n,
               "fa_gap_closed": _gap_closed(own, reference, {s: r[value] for s, r in done(
                   (dataset, task, arch, setting, "feedback_alignment")).items()}) if error else "",
               "verdict": v["verdict"] if v else "",
               **{k: rs[0][k] for k in PARAMS}, "epochs": rs[0]["epochs"],
               "ff_angle_mean": round(float(np.mean([r["curve"][-1]["ff_angle"] for r in rs])), 2),
               "wall_s_mean": round(float(np.mean([r["wall_s"] for r in rs])), 1), "target": TARGET}
        rows.append(row)
    return rows


def _gap_closed(own, reference, fa):
    """Share of feedback_alignment's error gap to backprop that a preset closes, over the seeds all
    three have: 1 - mean(own - backprop) / mean(fa - backprop); "" without a clear gap.

    >>> _gap_closed({0: 1.2, 1: 1.3}, {0: 1.0, 1: 1.1}, {0: 2.0, 1: 2.1})
    0.8
    """
    common = sorted(set(own) & set(reference) & set(fa))
    gap = float(np.mean([fa[s] - reference[s] for s in common])) if common else 0.0
    if gap <= 0:
        return ""
    return round(1 - float(np.mean([own[s] - reference[s] for s in common])) / gap, 3)


def _r(x, error=False):
    return "" if x is None or math.isnan(x) else round(x, 4 if error else 2)


def _tuned_source(chosen, r):
    task = r.get("task", "classification")
    tuned = sorted({a for (d, t, a, _) in chosen if d == r["dataset"] and t == task})
    return r["arch"] if r["arch"] in tuned else (tuned[0] if tuned else r["arch"])


def _order(key):
    dataset, task, arch, setting, preset = key
    rank = PRESET_NAMES.index(preset) if preset in PRESET_NAMES else 99
    return (dataset, TASKS.index(task) if task in TASKS else 9, len(parse_arch(arch)), arch, setting != "tuned", rank)


def _value_cell(r):
    """``mean ± sd (n=k)`` of the row's accuracy or error."""
    error = r["task"] in ERROR_TASKS
    mean, sd = (r["test_error_mean"], r["test_error_sd"]) if error else (r["test_acc_mean"], r["test_acc_sd"])
    return f"{mean:.3f}" + (f" ± {sd:.3f}" if sd != "" else "") + f" (n={r['seeds']})"


def _diff_cell(r, digits=2):
    if r["preset"] == REFERENCE:
        return "—"
    ci = f" [{r['diff_ci_low']:+.{digits}f}, {r['diff_ci_high']:+.{digits}f}]" if r["diff_ci_low"] != "" else ""
    return f"{r['diff_to_backprop_mean']:+.{digits}f}{ci}"


def markdown(summary, chosen_rows, epochs, wall):
    lines = ["# Learning benchmark: tuned presets, 5 seeds", "",
             "Classification: final test accuracy (mean ± sd over seeds) after the epochs given; Δ: paired difference "
             "to backprop of the same seed, in points. Reconstruction (target = input, linear output): test "
             "squared error per sample (lower is better), Δ in error units (positive: worse than backprop), the "
             "mean predictor's error, and the share of feedback_alignment's gap to backprop that the preset "
             "closes. Intervals: 95% t-interval (t distribution, n - 1 degrees of freedom). "
             "*tuned*: each preset at its own setting chosen by validation; *shared*: every preset at backprop's "
             "chosen eta and lam (every other parameter at its default). Angles: forward-feedback, mean over "
             "layers, degrees. Verdict: the across-seed verdict of `selfassembly inspect` from the same runs' final "
             "weights (random null and the ablations four_synapse_fixed_cross and feedback_alignment of the same "
             "table). Protocol: docs/benchmarks.md; command and wall time at the end.", ""]
    lines += glance(summary)
    key = lambda r: (r["dataset"], r["task"], r["arch"], r["setting"])  # noqa: E731
    for (dataset, task, arch, setting), group in itertools.groupby(summary, key=key):
        group = list(group)
        error = task in ERROR_TASKS
        what = "test error" if error else "test acc"
        extra = " mean predictor | FA gap closed |" if error else ""
        lines += [f"## {dataset}, {task}, {arch}, {setting}", "",
                  f"| preset | {what} | Δ backprop [95% CI] |{extra} verdict | eta | lam | eta_c | eta_u | B rule | "
                  "eta_b | ff angle | s/run |",
                  "|---" * (12 + (2 if error else 0)) + "|"]
        for r in group:
            cells = [r["preset"], _value_cell(r), _diff_cell(r, 3 if error else 2)]
            if error:
                cells += [f"{r['mean_predictor_error']:.3f}",
                          "" if r["fa_gap_closed"] == "" or r["preset"] == REFERENCE else f"{r['fa_gap_closed']:.2f}"]
            cells += [r["verdict"], f"{r['eta']:g}", f"{r['lam']:g}", f"{r['eta_c']:g}", f"{r['eta_u']:g}", r["b_rule"],
                      f"{r['eta_b']:g}", f"{r['ff_angle_mean']:.1f}", f"{r['wall_s_mean']:.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Chosen settings (validation score: mean validation accuracy, or error, over the last "
              f"{SCORE_EPOCHS} epochs, seed {TUNE_SEED})", "",
              "| data set | task | tuned at | preset | eta | lam | eta_c | eta_u | B rule | eta_b | validation score |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {c['dataset']} | {c['task']} | {c['arch']} | {c['preset']} | {c['eta']:g} | {c['lam']:g} | "
              f"{c['eta_c']:g} | {c['eta_u']:g} | {c['b_rule']} | {c['eta_b']:g} | {c['val_score']:.4f} |"
              for c in chosen_rows]
    lines += ["", f"Epochs: {epochs}. Implementation: {TARGET}. Wall time of the whole benchmark: {wall}.", ""]
    lines += plateau_lines(chosen_rows)
    return "\n".join(lines)


def glance(summary):
    """One table per data set, task and setting: presets down, architectures across; the value,
    Δ [CI], the forward-feedback angle and the verdict."""
    lines = []
    for dataset, task, setting in dict.fromkeys((r["dataset"], r["task"], r["setting"]) for r in summary):
        rows = [r for r in summary if (r["dataset"], r["task"], r["setting"]) == (dataset, task, setting)]
        error = task in ERROR_TASKS
        archs = sorted({r["arch"] for r in rows}, key=lambda a: (a.count("-"), a))
        what = ("test error (mean ± sd, n seeds; lower is better), Δ backprop [95% CI]" if error else
                "test accuracy (mean ± sd, n seeds), Δ backprop in points [95% CI]")
        lines += [f"### {dataset}, {task}, {setting} setting: {what}, forward-feedback angle (mean over layers), verdict",
                  "", "| preset | " + " | ".join(archs) + " |", "|---" * (len(archs) + 1) + "|"]
        if error:
            floor = {a: next(r["mean_predictor_error"] for r in rows if r["arch"] == a) for a in archs}
            lines.append("| mean predictor | " + " | ".join(f"{floor[a]:.3f}" for a in archs) + " |")
        for preset in dict.fromkeys(r["preset"] for r in rows):
            cells = []
            for arch in archs:
                r = next((r for r in rows if r["arch"] == arch and r["preset"] == preset), None)
                if r is None:
                    cells.append("")
                    continue
                cell = _value_cell(r)
                if preset != REFERENCE:
                    cell += "<br>" + _diff_cell(r, 2 if error else 1)
                    if error and r["fa_gap_closed"] != "":
                        cell += f", FA gap closed {r['fa_gap_closed']:.2f}"
                    cell += f"<br>ff {r['ff_angle_mean']:.0f} deg"
                if r["verdict"]:
                    cell += f"<br>{r['verdict']}"
                cells.append(cell)
            lines.append(f"| {preset} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def plateau_lines(chosen_rows):
    """Has backprop's validation score stopped improving? Its chosen run's curve, per tuned architecture."""
    lines = ["## Backprop's validation score per epoch (its chosen setting, seed 0)", ""]
    for c in chosen_rows:
        if c["preset"] != REFERENCE:
            continue
        error = c["task"] in ERROR_TASKS
        v = [e["error" if error else "acc"] for e in c["curve"]]
        half = len(v) // 2
        if error:
            change = f"best of the second half minus best of the first: {min(v[half:]) - min(v[:half]):+.3f} (error)"
        else:
            change = f"best of the second half minus best of the first: {100 * (max(v[half:]) - max(v[:half])):+.1f} points"
        lines.append(f"- {c['dataset']} {c['task']} {c['arch']}: " + " ".join(f"{a:.3f}" for a in v[1:]) + f"; {change}")
    return lines + [""]


def _rows_setting(r):
    return {k: r[k] for k in PARAMS}


def write_report(out, results, presets, labels, wall="see docs/benchmarks.md"):
    """Every CSV, the Markdown summary and the figures from the results so far."""
    out = Path(out)
    chosen = choices(results, presets)
    lab = lambda r: labels.get(r["dataset"], r["dataset"])  # noqa: E731
    task_of = lambda r: r.get("task", "classification")  # noqa: E731
    stage1 = lambda r: (r["eta_c"], r["eta_u"], r["b_rule"], r["eta_b"]) == (  # noqa: E731
        DEFAULT_PARAMS["eta_c"], DEFAULT_PARAMS["eta_u"], PRESETS[r["preset"]][0], DEFAULT_PARAMS["eta_b"])
    tuning = [{"dataset": lab(r), "task": task_of(r), "arch": r["arch"], "preset": r["preset"], **_rows_setting(r),
               "seed": r["seed"], "epochs": r["epochs"], "status": r["status"], "stage1": stage1(r),
               "val_score": score(r) if r["status"] == "done" else "",
               "final_val": (r.get("final_error") if is_error_task(task_of(r)) else r["final_acc"]),
               "ff_angle": r["curve"][-1]["ff_angle"] if r["status"] == "done" else "",
               "wall_s": r["wall_s"]} for r in results if r["stage"] == "tune"]
    chosen_rows = [{"dataset": labels.get(d, d), "task": t, "arch": a, "preset": p, **_rows_setting(c),
                    "val_score": score(c), "curve": c["curve"]}
                   for (d, t, a, p), c in sorted(chosen.items(), key=lambda kv: _order((*kv[0][:3], "", kv[0][3])))]
    tests = [r for r in results if r["stage"] == "test"]
    seeds = [{"dataset": lab(r), "task": task_of(r), "arch": r["arch"], "preset": r["preset"], **_rows_setting(r),
              "seed": r["seed"], "epochs": r["epochs"], "status": r["status"], "test_acc": r["final_acc"],
              "test_error": r.get("final_error", ""), "mean_predictor_error": r.get("mean_predictor_error", ""),
              "ff_angle": r["curve"][-1]["ff_angle"] if r["status"] == "done" else "",
              "cross_angle": r["curve"][-1]["cross_angle"] if r["status"] == "done" else "",
              "wall_s": r["wall_s"]} for r in tests]
    curves = [{"dataset": lab(r), "task": task_of(r), "arch": r["arch"], "preset": r["preset"], **_rows_setting(r),
               "seed": r["seed"], **c} for r in tests for c in r["curve"]]
    summary = summarize(tests, chosen, labels, out)
    chosen_csv = [{k: v for k, v in c.items() if k != "curve"} for c in chosen_rows]
    for name, rows in (("tuning", tuning), ("chosen", chosen_csv), ("seeds", seeds), ("curves", curves),
                       ("summary", summary)):
        if rows:
            write_csv(out / f"{name}.csv", rows)
    epochs = "; ".join(
        f"{labels.get(d, d)} {t} {'/'.join(str(e) for e in sorted({r['epochs'] for r in results if (r['dataset'], task_of(r)) == (d, t)}))}"
        for d in labels for t in TASKS if any((r["dataset"], task_of(r)) == (d, t) for r in results))
    atomic_write_text(out / "summary.md", markdown(summary, chosen_rows, epochs, wall))
    from learning_plots import plot_all

    classify = lambda rows: [r for r in rows if r.get("task", "classification") == "classification"]  # noqa: E731
    plot_all(out, classify(tests), classify(tuning), classify(summary),
             {k: v for k, v in chosen.items() if k[1] == "classification"}, labels, PARAMS,
             {d: DATASET_GRID.get(d, GRID) for d in labels}, {d: dataset_slug(d) for d in labels})
    return summary


def protocol(problems, out, presets, seeds, archs, epochs, shared_seeds, run=None, echo=print, report=None, data=None):
    """Walk the stages in order; each stage's jobs follow from the choices of the ones before.

    ``problems`` is a list of (dataset, task); ``archs`` and ``epochs`` are keyed by them, and
    ``data`` maps a data set to what names its file's content (see :func:`_job`).
    ``run(jobs)`` runs the jobs not done and returns every job's result; without it only the
    runs already in OUT/runs that belong to the protocol are loaded (``--report-only``: a run
    of another grid lying in the folder is not counted). ``report(results)`` after each stage.
    """
    results = []
    for stage in STAGES:
        chosen = choices(results, presets)
        jobs = [j for d, t in problems for j in stage_jobs(
            stage, d, archs[d, t], presets, epochs[d, t], chosen,
            seeds if stage != "shared" else [s for s in seeds if s in shared_seeds.get(d, seeds)], task=t,
            data=(data or {}).get(d))]
        echo(f"stage {stage}: {len(jobs)} runs")
        new = run(jobs) if run else [r for j in jobs if (r := _load_done(out, j)) is not None]
        results = _merge(results, new)
        if report:
            report(results)
    return results


def _per_problem(value, dataset, task, default):
    """``value[(dataset, task)]``, or ``value[dataset]`` for classification, or ``default``."""
    if value and (dataset, task) in value:
        return value[dataset, task]
    if value and task == "classification" and dataset in value:
        return value[dataset]
    return default


def check_archs(dataset, task, archs, data):
    """Every architecture must fit the data: n_0 = the features, n_L = the classes, targets or
    features (reconstruction). Raises ValueError naming the right sizes."""
    n_in = data.X_train.shape[1]
    n_out = n_in if task == "reconstruction" else data.Y_train.shape[1]
    for arch in archs:
        sizes = parse_arch(arch)
        if sizes[0] != n_in or sizes[-1] != n_out:
            raise ValueError(f"architecture {arch} does not fit {dataset} ({task}): its first layer must have "
                             f"n_0 = {n_in} units and its last n_L = {n_out}; e.g. {n_in}-32-{n_out}")


def run_benchmark(datasets=("digits",), out=DEFAULT_OUT, mnist_dir=None, presets=PRESET_NAMES, seeds=SEEDS,
                  archs=None, epochs=None, workers=None, scheduler=None, shared_seeds=SHARED_SEEDS, echo=print,
                  report_only=False, tasks=("classification",), label_column="", argv=None):
    """Run the whole protocol (every stage, every data set and task) and write the report; resumes from OUT/runs.

    ``datasets`` are names (digits, mnist) or data files' paths (.npz, .csv; a CSV's labels are in
    ``label_column``), whose architectures must be given in ``archs``. ``archs`` and ``epochs``
    are keyed by (dataset, task), or by dataset for classification. With ``report_only``
    nothing is trained: the report is written from the runs found. With ``argv`` (the command
    line's arguments; :func:`main` gives them) OUT/manifest.json is written too
    (:func:`write_learning_manifest`)."""
    started = time.time()
    if REFERENCE not in presets:
        raise ValueError(f"the benchmark compares with {REFERENCE}: keep it among the presets")
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"unknown task {t!r}; valid tasks: {', '.join(TASKS)}")
    problems, arch_of, epochs_of, data = [], {}, {}, {}
    for d in datasets:
        loaded = _data(d, mnist_dir, label_column if is_data_file(d) else "")
        if is_data_file(d):
            data[d] = {"data_hash": file_sha256(d)[:16], "label_column": label_column}
        for t in tasks:
            defaults = (RECON_ARCHS if t == "reconstruction" else ARCHS if t == "classification" else {}).get(d)
            a = _per_problem(archs, d, t, defaults)
            if not a:
                raise ValueError(f"no architectures for {d} ({t}): give them (--archs 64-32-10,...)")
            check_archs(d, t, a, loaded)
            if t != "reconstruction" and (t == "classification") != (loaded.task == "classification"):
                raise ValueError(f"{d} holds {loaded.task} targets: use --tasks {loaded.task} (or reconstruction)")
            problems.append((d, t))
            arch_of[d, t] = list(a)
            epochs_of[d, t] = _per_problem(epochs, d, t, (RECON_EPOCHS if t in ERROR_TASKS else EPOCHS).get(d, 10))
    labels = {d: dataset_label(d, len(_data(d, mnist_dir, data.get(d, {}).get("label_column", "")).X_train))
              for d in datasets}
    walk = functools.partial(protocol, problems, out, presets, seeds, arch_of, epochs_of, shared_seeds, echo=echo,
                             data=data)
    settings = {"datasets": list(datasets), "labels": labels, "mnist_dir": mnist_dir, "label_column": label_column,
                "tasks": list(tasks), "presets": list(presets), "seeds": list(seeds),
                "shared_seeds": {d: list(shared_seeds.get(d, seeds)) for d in datasets},
                "archs": {f"{d} {t}": a for (d, t), a in arch_of.items()},
                "epochs": {f"{d} {t}": e for (d, t), e in epochs_of.items()},
                "grid": {d: DATASET_GRID.get(d, GRID) for d in datasets}, "cross_grid": CROSS_GRID, "b_grid": B_GRID,
                "b_matched": B_MATCHED, "tune_archs": {d: TUNE_ARCHS.get(d) for d in datasets},
                "val_fraction": VAL_FRACTION, "val_seed": VAL_SEED, "tune_seed": TUNE_SEED,
                "score_epochs": SCORE_EPOCHS, "target": TARGET, "default_params": DEFAULT_PARAMS,
                "data_files": data, "workers": workers, "scheduler": scheduler, "report_only": report_only}
    manifest = functools.partial(write_learning_manifest, out, argv, settings, started, problems, presets, labels)
    if report_only:
        results = walk()
        summary = write_report(out, results, presets, labels)
        if argv is not None:
            manifest(results, summary, trained=0, workers_used=0)
        return summary
    t0 = time.perf_counter()
    client, cluster, n, _ = start_client(workers, scheduler)
    echo(f"dask: {n} workers" + (f", dashboard {client.dashboard_link}" if cluster is not None else ""))
    tally = {"trained": 0}
    try:
        results = walk(run=lambda jobs: run_jobs(jobs, out, client, mnist_dir, echo, tally),
                       report=lambda results: write_report(out, results, presets, labels))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    wall = f"{(time.perf_counter() - t0) / 60:.1f} min on {n} workers (this call)"
    echo(f"done: {wall}")
    summary = write_report(out, results, presets, labels, wall)
    if argv is not None:
        manifest(results, summary, trained=tally["trained"], workers_used=n)
    return summary


#: what ``make reproduce`` compares of the slice: seeds.csv holds the value rounded to 5 decimals,
#: and the numpy engine is deterministic on one machine, so half the last printed digit
SLICE_TOLERANCE = {"test_acc": 5e-6, "test_error": 5e-6}


def reproduce_slice(results, summary, problems, presets, labels, mnist_dir=None, data=None):
    """The slice ``make reproduce`` reruns: on the first problem (digits first) and its first
    architecture, the first seed's test runs of backprop and four_synapse (where run) at their tuned settings.

    Returns None when there is no such test run (nothing was trained to the end)."""
    problems = sorted(problems, key=lambda p: (p[0] != "digits", TASKS.index(p[1])))
    by_label = {labels.get(d, d): d for d, _ in problems}
    for dataset, task in problems:
        rows = [r for r in summary if r["setting"] == "tuned" and by_label.get(r["dataset"]) == dataset
                and r["task"] == task and r["preset"] in (REFERENCE, FOCUS)]
        for arch in dict.fromkeys(r["arch"] for r in rows):
            runs = []
            for r in (r for r in rows if r["arch"] == arch):
                test = sorted((x for x in results if x["stage"] == "test" and x["dataset"] == dataset
                               and x.get("task", "classification") == task and x["arch"] == arch
                               and x["preset"] == r["preset"] and x["status"] == "done"
                               and all(x[k] == r[k] for k in PARAMS)), key=lambda x: x["seed"])
                if test:
                    runs.append({"preset": r["preset"], "seed": test[0]["seed"], "epochs": test[0]["epochs"],
                                 **{k: test[0][k] for k in PARAMS}})
            if runs:
                key = "test_error" if is_error_task(task) else "test_acc"
                return {"stage": "test", "dataset": dataset, "label": labels.get(dataset, dataset), "task": task,
                        "arch": arch, "mnist_dir": mnist_dir if dataset == "mnist" else None,
                        "data": (data or {}).get(dataset), "runs": runs, "compare": [key],
                        "tolerance": {key: SLICE_TOLERANCE[key]}}
    return None


def write_learning_manifest(out, argv, settings, started, problems, presets, labels, results, summary, trained,
                            workers_used):
    """OUT/manifest.json (:func:`selfassembly.manifest.write_manifest`): the command, the code version,
    every setting (the arguments resolved, the grids, the model's default parameters), the wall
    time of this call with the runs it trained and the runs the report holds, the machine, and
    :func:`reproduce_slice`.

    A call that resumed (some runs were already there) keeps the earlier calls' records in
    ``earlier_calls``. A call that trained nothing (``--report-only``, or a rerun with every run
    done) leaves an existing manifest as it is; where there is none it writes one and says so (the
    runs' own command is then the same one without ``--report-only``). Returns the manifest, or
    None when left as is."""
    out = Path(out)
    if not trained and (out / MANIFEST).is_file():
        return None
    resumed = len(results) > trained
    extra = {"runs": {"in_report": len(results), "trained_this_call": trained, "workers": workers_used}}
    if resumed and trained and (earlier := earlier_calls(out)):
        extra["earlier_calls"] = earlier
    if not trained:
        extra["notes"] = ["written by a call that trained nothing (--report-only, or every run already done): the "
                          "runs under runs/ were made by the same command without --report-only (this manifest's "
                          "settings) in calls not recorded here; their wall times are in seeds.csv and tuning.csv"]
    slice_ = reproduce_slice(results, summary, problems, presets, labels, settings["mnist_dir"],
                             settings["data_files"])
    return write_manifest(out, __file__, argv, settings, started, reproduce=slice_, **extra)


def _merge(old, new):
    """Results of both lists, one per run (its file path names it), the newer kept."""
    return list({job_path("", r): r for r in [*old, *new]}.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", metavar="DIR", help="folder with the four MNIST IDX files; adds the MNIST benchmark")
    parser.add_argument("--dataset", metavar="PATH", help="a data file (.npz with X and y, or .csv with --label-column) "
                        "instead of digits and MNIST; needs --archs")
    parser.add_argument("--label-column", default="", help="the CSV column that holds the labels (--dataset x.csv)")
    parser.add_argument("--archs", help="architectures, comma-separated (64-32-10,64-32-32-10); default: per data "
                                        "set and task (ARCHS, RECON_ARCHS)")
    parser.add_argument("--tasks", default="classification",
                        help=f"comma-separated, of {', '.join(TASKS)} (default classification)")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--workers", type=int, help="local Dask worker processes (default: one per core)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786)")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds of the test stage (default 5)")
    parser.add_argument("--shared-seeds", type=int, default=None,
                        help="seeds of the shared-setting stage (default: 5 on digits, none on MNIST; 0 skips it)")
    parser.add_argument("--presets", nargs="+", default=list(PRESET_NAMES), choices=PRESET_NAMES)
    parser.add_argument("--report-only", action="store_true", help="tables and figures from OUT/runs, no training")
    args = parser.parse_args(argv)
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        parser.error(f"--tasks {args.tasks}: valid tasks are {', '.join(TASKS)}")
    if args.dataset:
        if args.mnist:
            parser.error("give --dataset or --mnist, not both")
        if not is_data_file(args.dataset):
            parser.error(f"--dataset {args.dataset}: give an .npz or .csv file")
        if not args.archs:
            parser.error("--dataset needs --archs (layer sizes that fit the file: n_0 features, n_L classes)")
        datasets = (str(Path(args.dataset).resolve()),)
    else:
        datasets = ("digits", "mnist") if args.mnist else ("digits",)
    if args.mnist and not Path(args.mnist).is_dir():
        parser.error(f"--mnist {args.mnist}: no such folder; give the folder that holds the four MNIST IDX files")
    archs = None
    try:
        if args.archs:
            given = [arch_name(parse_arch(a)) for a in args.archs.split(",") if a.strip()]
            archs = {(d, t): given for d in datasets for t in tasks}
        mnist = str(Path(args.mnist).resolve()) if args.mnist else None  # the workers' working folder may differ
        run_benchmark(datasets, args.out, mnist, args.presets, tuple(range(args.seeds)), archs=archs,
                      workers=args.workers, scheduler=args.scheduler, report_only=args.report_only, tasks=tasks,
                      label_column=args.label_column, argv=list(sys.argv[1:] if argv is None else argv),
                      shared_seeds=SHARED_SEEDS if args.shared_seeds is None else
                      {d: tuple(range(args.shared_seeds)) for d in ("digits", "mnist", *datasets)})
    except ValueError as exc:  # DataError is one: a bad file or architecture, said in one line
        parser.exit(2, f"learning.py: error: {exc}\n")


if __name__ == "__main__":
    main()
