"""One run of the learning benchmark (``benchmarks/learning.py``) on a Dask worker.

The benchmark's client walks its protocol and submits :func:`train_run` once per job; Dask
sends the workers a reference to this function, so a worker needs only the package installed
(no path to ``benchmarks/``). Everything a run computes lives here: the tuning split
(:func:`split`), the data set (loaded once per worker process, :func:`load_data`), the preset's
rule set (:func:`job_rules`), the per-epoch record (:func:`epoch_record`) and the training loop
itself on the numpy engine (:class:`~selfassembly.circuits.numpy_engine.SampleLoop`, the
sample-clocked equations of MODEL.md).

A job is a dict: ``stage`` (tune | test), ``dataset`` (digits, mnist or a data file's path),
``task`` (classification | reconstruction | regression), ``arch`` (``"64-128-10"``),
``preset``, the setting ``eta, lam, eta_c, eta_u, b_rule, eta_b``, ``seed`` and ``epochs``
(and, for a data file, ``data_hash`` and ``label_column``). The protocol, the choices and the
report stay in the script.
"""
from __future__ import annotations

import functools
import math
import time

import numpy as np

from ..analysis.alignment import cross_stream_angles, forward_feedback_angles
from ..circuits import reference as ref
from ..circuits.connectivity import initial_weights
from ..circuits.numpy_engine import SampleLoop
from ..datasets import load_dataset
from ..plasticity.presets import PRESETS, make_preset
from ..plasticity.rules import B_RULES

__all__ = ["train_run", "parse_arch", "split", "load_data", "job_rules", "epoch_record", "VAL_FRACTION", "VAL_SEED",
           "TARGET"]

#: the share of the training set held out for validation in the tuning stages, and its permutation's seed
VAL_FRACTION = 0.2
VAL_SEED = 12345
#: what trains a run (recorded in every result)
TARGET = "numpy engine (selfassembly.circuits.numpy_engine.SampleLoop, sample-clocked), float64, 1 thread"


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


@functools.lru_cache(maxsize=2)
def load_data(dataset, mnist_dir, label_column=""):
    """The data set (test fraction 0.2, split seed 0), cached per process: a worker loads it once."""
    return load_dataset(dataset, 0.2, 0, mnist_dir=mnist_dir, label_column=label_column)


def split(n_train):
    """Indices (fit, validation) of the tuning split: a fixed permutation, the last 20% held out.

    >>> fit, val = split(10)
    >>> len(fit), len(val), sorted(set(fit) | set(val)) == list(range(10))
    (8, 2, True)
    """
    perm = np.random.default_rng(VAL_SEED).permutation(n_train)
    n_val = int(round(VAL_FRACTION * n_train))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def epoch_record(weights, X, Y, epoch, seconds, output="softmax"):
    """One point of a run's curve: loss, accuracy (softmax) or squared error per sample (linear
    output: ``2 x`` the loss ``0.5 ||r - y||^2``), the forward-feedback angles (mean and worst over
    layers) and the cross-stream angle; None when the weights or the error are not finite."""
    finite = all(np.all(np.isfinite(w)) for w in weights.values())
    if not finite:
        return None
    loss, acc = ref.evaluate(weights, X, Y, "tanh", output)
    ff = forward_feedback_angles(weights)
    cross = cross_stream_angles(weights)
    rec = {"epoch": epoch, "loss": round(float(loss), 5)}
    if output == "softmax":
        rec["acc"] = round(acc, 5)
    else:  # squared error per sample, summed over the outputs: 2 x the loss 0.5 ||r - y||^2
        if not math.isfinite(loss):
            return None
        rec["error"] = round(2 * float(loss), 5)
    return dict(rec, ff_angle=round(float(np.mean(list(ff.values()))), 3) if ff else 0.0,
                ff_angle_worst=round(float(max(ff.values())), 3) if ff else 0.0,
                cross_angle=round(float(np.mean(list(cross.values()))), 3), seconds=round(seconds, 2))


def job_rules(job):
    """The job's rule set; B's rule is set only where the preset's B is plastic."""
    plastic = PRESETS[job["preset"]][0] in B_RULES
    return make_preset(job["preset"], eta=job["eta"], lam=job["lam"], eta_c=job["eta_c"], eta_u=job["eta_u"],
                       eta_b=job["eta_b"], b_rule=job["b_rule"] if plastic else None)


def train_run(job, mnist_dir=None):
    """Train one run of ``job`` (a dict: stage, dataset, task, arch, preset, the setting eta, lam,
    eta_c, eta_u, b_rule, eta_b, seed, epochs).

    Stages ``tune`` fit on the 80% and evaluate on the validation 20%; ``test`` and ``shared``
    fit on the whole training set and evaluate on the test set. Seed k fixes the initial
    weights, the presentation order (a fresh permutation per epoch) and the spontaneous
    activity, the same for every preset. Returns the job with ``status`` (done | diverged),
    ``curve`` (one record per epoch, epoch 0 before training), ``final_acc`` (classification) or
    ``final_error`` and ``mean_predictor_error`` (the squared-error tasks), ``wall_s``, and for
    test runs that finished, ``final_weights`` (arrays; the benchmark's client saves them as .npz).
    """
    try:  # one thread per run: the runs are the parallelism
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass
    t0 = time.perf_counter()
    task = job.get("task", "classification")
    data = load_data(job["dataset"], mnist_dir, job.get("label_column", ""))
    if (task == "classification") != (data.task == "classification") and task != "reconstruction":
        raise ValueError(f"{job['dataset']} holds {data.task} targets, not {task} ones; use the task "
                         f"{data.task!r} (or 'reconstruction')")
    if job["stage"] == "tune":
        fit, val = split(len(data.X_train))
        Xf, Yf, Xe, Ye = data.X_train[fit], data.Y_train[fit], data.X_train[val], data.Y_train[val]
    else:
        Xf, Yf, Xe, Ye = data.X_train, data.Y_train, data.X_test, data.Y_test
    if task == "reconstruction":  # target = input
        Yf, Ye = Xf, Xe
    sizes = parse_arch(job["arch"])
    if sizes[0] != Xf.shape[1] or sizes[-1] != Yf.shape[1]:
        raise ValueError(f"architecture {job['arch']} does not fit {job['dataset']} ({task}): it needs "
                         f"{Xf.shape[1]} inputs and {Yf.shape[1]} outputs")
    output = "softmax" if task == "classification" else "linear"
    rules = job_rules(job)
    weights, _ = initial_weights(sizes, rules, seed=job["seed"])
    loop = SampleLoop(sizes, rules, weights, "tanh", output)
    order_rng, noise_rng = np.random.default_rng([job["seed"], 1]), np.random.default_rng([job["seed"], 2])
    curve, status = [epoch_record(loop.weights(), Xe, Ye, 0, 0.0, output)], "done"
    with np.errstate(all="ignore"):  # divergence is detected below, not warned about
        for epoch in range(1, job["epochs"] + 1):
            loop.train(Xf, Yf, order_rng.permutation(len(Xf)), noise_rng)
            rec = epoch_record(loop.weights(), Xe, Ye, epoch, time.perf_counter() - t0, output)
            if rec is None:
                status = "diverged"
                break
            curve.append(rec)
    done = status == "done"
    result = dict(job, status=status, curve=curve, wall_s=round(time.perf_counter() - t0, 2), n_fit=len(Xf),
                  n_eval=len(Xe), target=TARGET)
    if task == "classification":
        result["final_acc"] = curve[-1]["acc"] if done else None
    else:
        result["final_error"] = curve[-1]["error"] if done else None
        result["final_acc"] = None
        result["mean_predictor_error"] = round(float(np.mean(np.sum((Ye - Yf.mean(axis=0)) ** 2, axis=1))), 5)
    if done and job["stage"] == "test":
        result["final_weights"] = loop.weights()
    return result
