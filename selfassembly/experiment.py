"""The self-assembly experiment: train each preset from the same start, record, write.

Output folder
-------------
``config.toml``
    The resolved configuration (rerun it with ``--config``).
``metrics.csv``
    One row per preset and recording step: loss and accuracy on the training
    and test sets, and the alignment angles of MODEL.md per layer
    (``ff_angle_l``: W_l^T against V_{l-1} B_l U_l; ``cross_angle_l``: V_l
    against U_l^T; ``grad_angle_l``: the circuit's dW_l against the backprop
    gradient on held-out samples), and U's orthogonality (``u_orth_l``:
    ||U_l^T U_l / mean(diag) - I||_F / sqrt(n_l)) and condition number (``u_cond_l``).
``summary.json``
    Per preset: final test accuracy, final angles, wall time, status.
``snapshots/<preset>.npz``
    Weight snapshots (:mod:`selfassembly.io`).
``accuracy.png``, ``alignment.png``
    Test accuracy and forward-feedback angle over training.

Every file is written atomically as soon as its preset finishes, and each
preset's results carry the hash of the configuration that made them
(:meth:`~selfassembly.config.ExperimentConfig.config_hash`). A rerun into
the same folder with the same configuration skips the presets whose results
are verified (:func:`preset_done`); a folder holding files this project did
not write, or results of another configuration, is refused
(:func:`prepare_run_folder`). A preset that diverges or becomes unstable is
recorded with that status and the run goes on to the others.
"""
from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from pathlib import Path

import brian2 as b2
import numpy as np

from .analysis.timecourse import alignment_timecourse
from .circuits import reference as ref
from .circuits import engines
from .circuits.connectivity import initial_weights
from .circuits.network import DivergenceError, Stimulus, configure_target
from . import __version__
from .config import ConfigError, ExperimentConfig, differences, load_config
from .datasets import is_data_file, load_dataset
from .plasticity.phases import phase_at, phase_boundaries, phase_parameters
from .plasticity.presets import STABLE_U_RATIO
from .plasticity.rules import REFERENCE_SIZE
from .errors import RunFolderError
from .folders import LOCK_NAME, RUN_NAMES, claim_folder
from .io import (Snapshots, SnapshotError, atomic_write_text, ensure_writable_folder, load_snapshots,
                 population_names, remove_temporary_files, save_snapshots, write_csv, write_json)

__all__ = ["run_experiment", "run_preset", "PresetResult", "presentation_order", "metrics_rows",
           "prepare_run_folder", "preset_done", "record_preset", "read_metrics", "check_run", "estimate_memory",
           "load_run_data", "for_task", "instability", "UNSTABLE_FACTOR", "BLOWUP_FACTOR"]

#: held-out samples used for the gradient-alignment angle at each snapshot
N_GRADIENT_SAMPLES = 100

#: a run whose final test loss exceeds this multiple of its initial test loss is "unstable"
UNSTABLE_FACTOR = 1.5
#: ... as is one whose test loss rises above this multiple of the lowest test loss recorded before
BLOWUP_FACTOR = 10.0

#: statuses of a preset whose run is over (it is not rerun)
FINISHED = ("done", "diverged", "unstable")

#: everything ``selfassembly run`` (and ``inspect`` / ``compare`` by default) writes in a run folder
RUN_FOLDER_NAMES = RUN_NAMES
#: the first columns of metrics.csv
METRICS_HEAD = ["preset", "step", "epoch"]

#: memory one synapse takes in the running circuit (Brian2's arrays, indices, masks, dense copies)
BYTES_PER_SYNAPSE = 96
#: share of the available memory a run may plan to use (see :func:`memory_limit`)
MEMORY_FRACTION = 0.8


class PresetResult:
    """What one preset's run produced: snapshots, metric rows, wall time, status."""

    def __init__(self, preset, snapshots, rows, wall_time, status="done", message=""):
        self.preset = preset
        self.snapshots = snapshots
        self.rows = rows
        self.wall_time = wall_time
        self.status = status
        self.message = message

    def summary(self):
        last = self.rows[-1]
        return {
            "status": self.status,
            "message": self.message,
            "steps": int(last["step"]),
            "final_test_acc": last["test_acc"],
            **({"final_test_error": last["test_error"], "mean_predictor_error": last["mean_predictor_error"]}
               if "test_error" in last else {}),
            "final_train_acc": last["train_acc"],
            "final_test_loss": last["test_loss"],
            "ff_angle": {k.split("_")[-1]: v for k, v in last.items() if k.startswith("ff_angle_")},
            "cross_angle": {k.split("_")[-1]: v for k, v in last.items() if k.startswith("cross_angle_")},
            "grad_angle": {k.split("_")[-1]: v for k, v in last.items() if k.startswith("grad_angle_")},
            "u_orthogonality": {k.split("_")[-1]: v for k, v in last.items() if k.startswith("u_orth_")},
            "u_condition": {k.split("_")[-1]: v for k, v in last.items() if k.startswith("u_cond_")},
            "wall_time_s": round(self.wall_time, 2),
        }


def presentation_order(n_train, epochs, seed):
    """Sample indices shown at each presentation: a fresh permutation per epoch (same for every preset)."""
    rng = np.random.default_rng([int(seed), 1])
    return np.concatenate([rng.permutation(n_train) for _ in range(epochs)])


def metrics_rows(preset, snapshots, data, config, n_train):
    """Evaluate every snapshot: losses, accuracies and the measures of
    :func:`~selfassembly.analysis.timecourse.alignment_timecourse` (angles, U's orthogonality).
    A run with a schedule (``[[phases]]``) also has a ``phase`` column: the phase that made each
    snapshot (:func:`~selfassembly.plasticity.phases.phase_at`).
    """
    Xg, Yg = data.X_test[:N_GRADIENT_SAMPLES], data.Y_test[:N_GRADIENT_SAMPLES]
    mean_error = mean_predictor_error(data)
    measures = alignment_timecourse(snapshots, Xg, Yg, config.activation, config.output)
    schedule = config.schedule() if config.phases else None
    rows = []
    for k, step in enumerate(snapshots.steps):
        w = snapshots.at(k)
        train_loss, train_acc = ref.evaluate(w, data.X_train, data.Y_train, config.activation, config.output)
        test_loss, test_acc = ref.evaluate(w, data.X_test, data.Y_test, config.activation, config.output)
        if data.task == "regression":  # accuracy is not defined for real-valued targets: read the loss
            train_acc = test_acc = float("nan")
        row = {"preset": preset, "step": int(step), "epoch": round(int(step) / n_train, 4)}
        if schedule:  # the phase that made this snapshot
            row["phase"] = phase_at(int(step), schedule, n_train)
        row.update(train_loss=train_loss, train_acc=train_acc, test_loss=test_loss, test_acc=test_acc)
        if config.task == "reconstruction":  # accuracy means nothing; the error per sample does
            row.update(train_acc=math.nan, test_acc=math.nan, train_error=2 * train_loss, test_error=2 * test_loss,
                       mean_predictor_error=mean_error)
        row.update({name: value for name, value in measures[k].items() if name != "step"})
        rows.append(row)
    return rows


def _all_finite(weights):
    return all(np.all(np.isfinite(w)) for w in weights.values())


def _progress(msg, stream):
    """Print a progress line to ``stream``: True means the current sys.stdout, None silences."""
    if stream is not None:
        print(msg, file=sys.stdout if stream is True else stream, flush=True)


def run_preset(config, preset, data, progress=True, standalone_dir=None, binaries=None):
    """Train one preset and return a :class:`PresetResult` (nothing is written).

    Runtime targets stop at the first recording step after output rates or
    weights became NaN/Inf (cpp_standalone runs to the end and is checked
    after); the result then has status ``"diverged"`` and holds the snapshots
    taken before the output rates first became non-finite. A run that stays
    finite but ends worse than it started has status ``"unstable"`` (see
    :func:`instability`).

    ``binaries`` (a :class:`selfassembly.binaries.StandaloneBinaries`, used by
    the sweep) lets cpp_standalone reuse a compiled binary of the same
    structure with new parameters through ``run_args``.
    """
    rules = config.rules(preset)
    mode = config.time_mode()
    n_train = len(data.X_train)
    order = presentation_order(n_train, config.epochs, config.seed)
    n_total = len(order)
    record_every = max(1, n_train // config.records_per_epoch)

    def make_circuit(engine="brian2"):
        weights, masks = initial_weights(config.sizes, rules, config.connectivity_objects(), config.seed)
        stimulus = Stimulus(data.X_train, data.Y_train, order)
        return engines.build(engine, config.sizes, rules, weights, masks, stimulus, mode, config.activation,
                             config.output, record_every=record_every, name=preset, seed=config.seed,
                             dtype=config.dtype if engine == "numpy" else "float64")

    diverged_at = None
    # a schedule sets parameters between runs as literals of the program: a reused binary would keep the old ones
    if binaries is not None and config.engine == "brian2" and config.target == "cpp_standalone" and not config.phases:
        t0 = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            circuit = binaries.run(config, preset, n_total, make_circuit)
            steps, recorded = circuit.recorded_weights()
            final = circuit.weights()
    else:
        if config.engine == "brian2":
            configure_target(config.target, cache_dir=config.cache_dir or None, standalone_dir=standalone_dir)
            b2.seed(config.seed)
            np.random.seed(config.seed)
        t0 = time.perf_counter()
        circuit = make_circuit(config.engine)
        steps, recorded, final, diverged_at = _simulate(circuit, config, preset, data, n_total, record_every,
                                                        progress, t0)
    masks = circuit.masks
    steps = np.append(steps, diverged_at or n_total)
    recorded = {k: np.concatenate([v, final[k][None]]) for k, v in recorded.items()}
    bad_rates = circuit.first_bad_presentation()
    finite = np.array([_all_finite({k: v[i] for k, v in recorded.items()}) for i in range(len(steps))])
    if bad_rates is not None:
        finite &= steps < bad_rates
    status, message = "done", ""
    if not finite.all():
        bad = int(np.argmin(finite))  # >= 1: the initial weights are finite
        steps = steps[:bad]
        recorded = {k: v[:bad] for k, v in recorded.items()}
        status = "diverged"
        where = (f"the output rates became NaN/Inf at presentation {bad_rates}" if bad_rates is not None
                 else "the weights became NaN/Inf")
        message = (f"preset {preset!r} diverged: {where}; snapshots up to presentation {int(steps[-1])} are kept. "
                   f"{divergence_advice(config, rules)}")
    wall = time.perf_counter() - t0
    snapshots = Snapshots(sizes=config.sizes, steps=steps, weights=recorded, masks=masks)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        rows = metrics_rows(preset, snapshots, data, config, n_train)
    if status == "done":
        why = instability(rows)
        if why:
            status = "unstable"
            message = f"preset {preset!r} is unstable: {why}. {divergence_advice(config, rules)}"
    return PresetResult(preset, snapshots, rows, wall, status, message)


def schedule_segments(config, preset, n_train):
    """``[(presentations, phase parameters), ...]`` of a run with a schedule, in order (None without one)."""
    if not config.phases:
        return None
    rules = config.rules(preset)
    return [(p.epochs * n_train, phase_parameters(rules, p)) for p in config.schedule()]


def _simulate(circuit, config, preset, data, n_total, record_every, progress, t0):
    """Run a built circuit through all presentations (runtime targets: in chunks, stopping at a divergence).

    With a schedule (``[[phases]]``) each phase's settings are set before its first presentation,
    and no chunk crosses a phase boundary. Returns the recorded steps and weights, the final
    weights and the presentation after which a divergence was seen (None if none).
    """
    n_train = len(data.X_train)
    diverged_at = None
    segments = schedule_segments(config, preset, n_train)
    starts = {}  # presentation -> (phase, its parameters), for a schedule
    if segments:
        schedule = config.schedule()
        for phase, start, (_, params) in zip(schedule, [0] + phase_boundaries(schedule, n_train), segments):
            starts[start] = (phase, params)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if circuit.is_standalone:
            _progress(f"{preset}: compiling and running {n_total} presentations (cpp_standalone; the compiled "
                      "program reports its progress)", progress)
            report = "text" if progress is not None else None
            if segments:
                circuit.run_phases(segments, report=report)
            else:
                circuit.run(n_total, report=report)
        else:
            done = 0
            while done < n_total:
                chunk = min(record_every, n_total - done)
                if starts:
                    if done in starts:
                        phase, params = starts[done]
                        circuit.set_phase(params)
                        _progress(f"{preset}: phase {phase.describe()} from presentation {done}", progress)
                    chunk = min(chunk, min(s for s in [*starts, n_total] if s > done) - done)
                circuit.run(chunk)
                done += chunk
                current = circuit.weights()
                if circuit.first_bad_presentation() or not _all_finite(current):
                    diverged_at = done
                    break
                elapsed = time.perf_counter() - t0
                loss, acc = ref.evaluate(current, data.X_test, data.Y_test, config.activation, config.output)
                score = f"test error {2 * loss:.3f}" if config.task == "reconstruction" else f"test acc {acc:.3f}"
                _progress(f"{preset}: {done}/{n_total} presentations (epoch {done / n_train:.1f}/{config.epochs})"
                          f"  {score}  {elapsed:.0f} s, about {elapsed / done * (n_total - done):.0f} s left",
                          progress)
        steps, recorded = circuit.recorded_weights()
        final = circuit.weights()
    return steps, recorded, final, diverged_at


def instability(rows):
    """Why a finite run counts as unstable, or None.

    A run is unstable when its test loss ends above :data:`UNSTABLE_FACTOR`
    times its initial value (it ended worse than it started), when the final
    test loss is not finite, or when the test loss at some record exceeds
    :data:`BLOWUP_FACTOR` times the lowest test loss recorded before it.

    >>> instability([{"step": 0, "test_loss": 2.3}, {"step": 10, "test_loss": 0.4}]) is None
    True
    >>> instability([{"step": 0, "test_loss": 2.3}, {"step": 10, "test_loss": 57.5}])
    'the test loss rose from 2.3 at the start to 57.5 at presentation 10 (25-fold; more than 1.5-fold counts as unstable)'
    """
    losses = [float(r["test_loss"]) for r in rows]
    steps = [int(r["step"]) for r in rows]
    if not losses:
        return None
    first, last = losses[0], losses[-1]
    if not math.isfinite(last):
        return f"the final test loss is {last}"
    if last > UNSTABLE_FACTOR * first:
        return (f"the test loss rose from {first:.3g} at the start to {last:.3g} at presentation {steps[-1]} "
                f"({last / first:.0f}-fold; more than {UNSTABLE_FACTOR:g}-fold counts as unstable)")
    low = math.inf
    for step, loss in zip(steps, losses):
        if loss > BLOWUP_FACTOR * low:
            return (f"the test loss rose {loss / low:.0f}-fold, from {low:.3g} to {loss:.3g} at presentation {step} "
                    f"(more than {BLOWUP_FACTOR:g}-fold counts as unstable)")
        low = min(low, loss)
    return None


def divergence_advice(config, rules=None):
    """What to change after a divergence: the plasticity parameters that are far above their defaults.

    Names every float in [plasticity] but the decay lam that is more than 10
    times its default, eta * lam when it is 1 or more (the decay then
    overshoots zero every step), and,
    for a preset whose U reconstructs (``rules``), eta_u / eta_c above
    :data:`~selfassembly.plasticity.presets.STABLE_U_RATIO` (U's rule is stable
    only while V mirrors U faster than U moves) and, without rate scaling, a layer
    wider than :data:`~selfassembly.plasticity.rules.REFERENCE_SIZE` (U's gain
    eta_u n_l sigma_xi^2 grows with the layer: ``--rate-scaling capped``);
    otherwise suggests lowering eta.
    """
    defaults = ExperimentConfig()
    large = []
    for name in ExperimentConfig.SECTIONS["plasticity"]:
        if name == "lam":  # a decay damps; its one danger, eta * lam >= 1, has its own tip below
            continue
        value, default = getattr(config, name), getattr(defaults, name, None)
        if isinstance(value, float) and isinstance(default, float) and default > 0 and value > 10 * default:
            large.append(f"plasticity.{name} (now {value:g}, default {default:g})")
    tips = []
    if large:
        tips.append("Lower " + ", ".join(large) + ".")
    if rules is not None and rules.cross.u == "reconstruct" and config.eta_u > STABLE_U_RATIO * config.eta_c:
        tips.append(f"U's reconstruction rule is stable only while V mirrors U faster than U moves: eta_u / eta_c "
                    f"is {config.eta_u / config.eta_c:.3g}, above {STABLE_U_RATIO:g}, the largest ratio stable in "
                    "every measured case (docs/model.md); lower plasticity.eta_u or raise plasticity.eta_c.")
    widest = max(config.sizes[1:])
    if (rules is not None and rules.cross.u == "reconstruct" and config.rate_scaling == "none"
            and widest > REFERENCE_SIZE):
        gain = config.eta_u * widest * config.sigma_xi**2
        tips.append(f"U's reconstruction rule gains eta_u n_l sigma_xi^2 = {gain:.2g} per presentation in the "
                    f"{widest}-unit layer ({config.eta_u * REFERENCE_SIZE * config.sigma_xi**2:.2g} at "
                    f"{REFERENCE_SIZE} units): set plasticity.rate_scaling = 'capped' (--rate-scaling capped) to "
                    f"scale eta_c, eta_u and eta_b by {REFERENCE_SIZE} / n_l in layers wider than {REFERENCE_SIZE} "
                    "(docs/model.md, 'Rates and layer size').")
    if rules is not None and rules.cross_init == "random" and not rules.cross.fixed:
        u, v = config.connectivity["U"], config.connectivity["V"]
        if min(u["p"], v["p"]) < 1 and not (u.get("reciprocal_to") or v.get("reciprocal_to")):
            tips.append(f"U and V are sparse (p = {u['p']:g} and {v['p']:g}) with independently drawn masks: V can "
                        "mirror U only where U's reciprocal synapse exists, so V_l never approaches U_l^T and U's rule "
                        "runs without the return it needs (docs/model.md, 'Reciprocal sparse wiring'); draw V's mask "
                        "as U's transposed with [connectivity.V] reciprocal_to = \"U\".")
    frozen_v = [p.name for p in config.schedule() if "V" in p.freeze and "U" not in p.freeze]
    if rules is not None and rules.cross.u == "reconstruct" and rules.cross.v != "fixed" and frozen_v:
        tips.append(f"The phase(s) {', '.join(map(repr, frozen_v))} freeze V while U reconstructs: without V "
                    "following U, U's rule does not correct rotations of U, which grow at about eta_u per "
                    "presentation (docs/lesions.md); freeze U with V, or expect this lesion to diverge.")
    if config.eta * config.lam >= 1:
        tips.append(f"eta * lam = {config.eta * config.lam:g} >= 1 makes the weight decay overshoot zero at every "
                    "step; keep it well below 1.")
    if not tips:
        tips.append(f"Lower plasticity.eta (now {config.eta:g}), or check the data scale.")
    return " ".join(tips)


# --------------------------------------------------------------------------- checks before a run
def load_run_data(config):
    """The data set of ``config``, cut to ``max_train`` training samples."""
    data = load_dataset(config.dataset, config.test_fraction, config.seed, config.mnist_dir or None,
                        config.label_column)
    if config.max_train:
        data.X_train, data.Y_train = data.X_train[: config.max_train], data.Y_train[: config.max_train]
    return for_task(data, config.task)


def for_task(data, task):
    """``data`` with the teacher signals of ``task``: the labels (classification), or the input
    itself (reconstruction)."""
    if task == "reconstruction":
        data.Y_train, data.Y_test = data.X_train.copy(), data.X_test.copy()
    return data


def mean_predictor_error(data):
    """Test squared error per sample (summed over outputs) of predicting the training mean: the
    floor a reconstruction must beat."""
    return float(np.mean(np.sum((data.Y_test - data.Y_train.mean(axis=0)) ** 2, axis=1)))


def estimate_memory(config, n_train):
    """Rough peak memory (bytes) of one preset's run: synapses, weight snapshots and the presentation order.

    Returns
    -------
    dict
        ``synapses``, ``records`` (snapshots per preset), ``weights``,
        ``snapshots``, ``order`` and ``total`` (bytes).
    """
    sizes = config.sizes
    n_syn = 0
    for name in population_names(len(sizes) - 1):
        kind, l = name[0], int(name[1:])
        n_syn += sizes[l] * sizes[l - 1] if kind in "WB" else sizes[l] ** 2
    n_total = n_train * config.epochs
    record_every = max(1, n_train // config.records_per_epoch)
    n_records = n_total // record_every + 2
    out = {
        "synapses": n_syn,
        "records": n_records,
        "weights": n_syn * BYTES_PER_SYNAPSE,
        # Brian2's monitor, the dense stack of it and the copy with the final weights
        "snapshots": 3 * n_records * n_syn * 8,
        "order": 3 * n_total * 8,
    }
    out["total"] = out["weights"] + out["snapshots"] + out["order"]
    return out


def memory_limit():
    """The memory a run may plan to use (bytes), and where the number comes from.

    ``$SELFASSEMBLY_MEMORY_LIMIT_GB`` if set, else :data:`MEMORY_FRACTION` of
    the memory available now (``MemAvailable`` of /proc/meminfo).
    """
    env = os.environ.get("SELFASSEMBLY_MEMORY_LIMIT_GB", "").strip()
    if env:
        try:
            gb = float(env)
        except ValueError:
            gb = float("nan")
        if not (math.isfinite(gb) and gb > 0):
            raise ConfigError(f"$SELFASSEMBLY_MEMORY_LIMIT_GB must be a positive number of GiB, got {env!r}")
        return gb * 2**30, f"$SELFASSEMBLY_MEMORY_LIMIT_GB = {env}"
    available = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return math.inf, "unknown available memory"
    return MEMORY_FRACTION * available, f"{MEMORY_FRACTION:.0%} of the {available / 2**30:.1f} GiB available"


def _gib(n):
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


def check_run(config, data):
    """Check what needs the data and the machine, before anything is written or allocated.

    Raises
    ------
    ConfigError
        If the layer sizes do not fit the data, more records per epoch are
        asked for than there are training samples, or the run would need
        more memory than :func:`memory_limit` allows (the estimate is named).
    """
    n_train = len(data.X_train)
    sizes = config.sizes
    # both ends named, so that one fix fits: the data set fixes n_0 and n_L
    fit = (f" (the data set {data.name} needs n_0 = {data.n_features} and n_L = {data.n_classes}, "
           f"e.g. --sizes {','.join(str(n) for n in [data.n_features, *sizes[1:-1], data.n_classes])})")
    if data.n_features != sizes[0]:
        raise ConfigError(f"circuit.sizes: stimuli have {data.n_features} features but the input layer has "
                          f"n_0 = {sizes[0]}; make sizes[0] = {data.n_features}{fit}")
    if data.n_classes != sizes[-1]:
        raise ConfigError(f"circuit.sizes: teacher signals have {data.n_classes} entries but the output layer has "
                          f"n_L = {sizes[-1]}; make sizes[-1] = {data.n_classes}{fit}")
    if data.task == "regression" and config.output == "softmax":
        raise ConfigError(f"circuit.output is softmax, but the data set {data.name} has real-valued targets "
                          "(regression), which a softmax cannot produce; use --output linear (output = \"linear\" in "
                          "[circuit]), or save class labels as whole numbers for classification")
    if config.records_per_epoch > n_train:
        raise ConfigError(f"training.records_per_epoch = {config.records_per_epoch} is more than the {n_train} "
                          f"training samples of an epoch (at most one record per presentation); use at most {n_train}")
    need = estimate_memory(config, n_train)
    limit, source = memory_limit()
    if need["total"] > limit:
        raise ConfigError(
            f"this run would need about {_gib(need['total'])} of memory ({need['synapses']:,} synapses for sizes "
            f"{sizes}: {_gib(need['weights'])} for the circuit and {_gib(need['snapshots'])} for {need['records']} "
            f"weight snapshots), more than the limit of {_gib(limit)} ({source}); use smaller circuit.sizes or fewer "
            "training.records_per_epoch / epochs, or raise $SELFASSEMBLY_MEMORY_LIMIT_GB")
    return need


# --------------------------------------------------------------------------- the run folder
def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _default_out():
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path("results") / f"run-{stamp}"
    k = 1
    while out.exists():
        out = Path("results") / f"run-{stamp}-{k}"
        k += 1
    return out


def _read_summary(out):
    """summary.json of a run folder ({} if absent); RunFolderError if the file is not one this project wrote."""
    path = Path(out) / "summary.json"
    if not path.exists():
        return {}
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{path} is not a summary written by selfassembly ({exc}); move it away or choose "
                             "a new --out folder (it is never merged into or overwritten)") from None
    if not (isinstance(summary, dict) and isinstance(summary.get("presets"), dict)
            and all(isinstance(v, dict) for v in summary["presets"].values())):
        raise RunFolderError(f"{path} is not a summary written by selfassembly (it has no 'presets' table of "
                             "results); move it away or choose a new --out folder (it is never merged into)")
    return summary


def read_metrics(out):
    """Rows of metrics.csv ([] if absent); RunFolderError if the file is not one this project wrote."""
    path = Path(out) / "metrics.csv"
    if not path.exists():
        return []
    try:
        rows = _read_csv(path)
        with open(path, newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunFolderError(f"{path} is not a metrics table written by selfassembly ({exc}); move it away or "
                             "choose a new --out folder") from None
    if header[:3] != METRICS_HEAD or any(None in r or r["preset"] in ("", None) for r in rows):
        raise RunFolderError(f"{path} is not a metrics table written by selfassembly (its columns start with "
                             f"{header[:3]}, expected {METRICS_HEAD}); move it away or choose a new --out folder")
    return rows


def _snapshot_hash(path):
    """The config hash stored in a snapshot file ('' if none), or None if the file cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data["config_hash"]) if "config_hash" in data.files else ""
    except Exception:  # noqa: BLE001 - any damage means: not a verified result
        return None


def _recorded_hashes(out, summary):
    """Config hashes of the results a folder holds ('' for results without one)."""
    hashes = [entry.get("config_hash", "") for entry in summary.get("presets", {}).values()]
    snap_dir = Path(out) / "snapshots"
    if snap_dir.is_dir():
        hashes += [h for h in (_snapshot_hash(p) for p in sorted(snap_dir.glob("*.npz"))) if h is not None]
    return hashes


def prepare_run_folder(out, config):
    """Make ``out`` ready for the run of ``config``; return it as a Path.

    Creates the folder, checks it is writable, removes the hidden temporary
    files of a killed run, and writes ``config.toml``. The folder must be
    empty, new, or a run folder of this project whose results (if any) were
    made by this same configuration (compared by
    :meth:`~selfassembly.config.ExperimentConfig.config_hash`). While a run
    folder holds no result yet (e.g. a start that failed), its
    ``config.toml`` is simply replaced.

    Raises
    ------
    RunFolderError
        If ``out`` is a file or not writable, holds files this project did not
        write, or holds results of another configuration; nothing in it is
        changed then.
    """
    out = ensure_writable_folder(out, "--out")
    remove_temporary_files(out)
    for name in ("config.toml", "metrics.csv", "summary.json", "accuracy.png", "alignment.png", "snapshots"):
        path = out / name
        if path.exists() and path.is_dir() != (name == "snapshots"):  # found before training, not after it
            have, need = ("a folder", "file") if path.is_dir() else ("a file", "folder")
            raise RunFolderError(f"{path} is {have}, but a run writes a {need} of that name there; move it away or "
                                 "choose a new --out folder")
    config_path = out / "config.toml"
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir()
                     if not p.name.startswith(LOCK_NAME))
    if not entries:
        atomic_write_text(config_path, config.to_toml())
        return out
    if not config_path.is_file():
        shown = ", ".join(entries[:6]) + (", ..." if len(entries) > 6 else "")
        raise RunFolderError(f"{out} is not empty and has no config.toml, so it is not a selfassembly run folder (it "
                             f"holds {shown}); choose a new or empty --out folder, so that nothing in it is "
                             "overwritten (if it is a run folder whose config.toml was removed, restore that file)")
    try:
        previous = load_config(config_path)
    except ConfigError as exc:
        raise RunFolderError(f"{out} holds a config.toml that is not a valid selfassembly configuration ({exc}); "
                             "choose a new --out folder") from None
    summary = _read_summary(out)
    read_metrics(out)
    hashes = _recorded_hashes(out, summary)
    h = config.config_hash()
    if hashes and set(hashes) != {h}:
        if "" in hashes:
            why = ("its results carry no configuration hash (an older version of selfassembly wrote them), so they "
                   "cannot be checked against this configuration; choose a new --out folder")
        elif is_data_file(config.dataset) and not differences(previous, config):
            why = (f"the data file {config.dataset} changed since they were made (its sha256 is part of the "
                   "configuration's hash); run into a new --out folder, or restore the file to resume")
        elif previous.config_hash() in hashes:
            diff = [f"{key} ({old!r} there, {new!r} now)" for key, old, new in differences(previous, config)]
            why = ("this configuration differs in " + "; ".join(diff[:4]) + (" ..." if len(diff) > 4 else "")
                   + f"; choose a new --out folder, or resume that run with --config {config_path}")
        else:
            why = (f"{config_path} was changed after they were written, so it no longer describes them; restore "
                   "that file, or run the changed configuration into a new --out folder")
        raise RunFolderError(f"{out} holds results of a different configuration: {why}")
    if not config_path.exists() or config_path.read_text() != config.to_toml():
        atomic_write_text(config_path, config.to_toml())
    return out


def preset_done(out, config, preset):
    """Whether ``out`` holds a verified, finished result of ``preset`` under ``config``.

    Finished means recorded with a final status (done, diverged or unstable)
    by this same configuration: the summary entry and the snapshot file carry
    its hash, the snapshot file loads, and metrics.csv has a row for each snapshot.
    """
    h = config.config_hash()
    try:
        entry = _read_summary(out).get("presets", {}).get(preset)
        if not entry or entry.get("config_hash") != h or entry.get("status") not in FINISHED:
            return False
        snaps = load_snapshots(Path(out) / "snapshots" / f"{preset}.npz")
        if snaps.config_hash != h or list(snaps.sizes) != list(config.sizes):
            return False
        steps = [int(r["step"]) for r in read_metrics(out) if r["preset"] == preset]
    except (SnapshotError, RunFolderError, ValueError, KeyError):
        return False
    return steps == [int(s) for s in snaps.steps]


def record_preset(out, config, result, plots=True):
    """Write one preset's snapshot file, metric rows, summary entry and (unless ``plots`` is
    False) the training plots.

    Each file is written atomically; the summary entry, which
    :func:`preset_done` reads first, is written after the snapshot file and
    the metric rows, so a run killed in between leaves the preset not done.
    """
    out = Path(out)
    h = config.config_hash()
    result.snapshots.config_hash = h
    save_snapshots(out / "snapshots" / f"{result.preset}.npz", result.snapshots)
    rows = [r for r in read_metrics(out) if r["preset"] != result.preset] + result.rows
    write_csv(out / "metrics.csv", rows)
    summary = _read_summary(out) or {"presets": {}}
    summary["selfassembly_version"] = __version__
    summary["config_hash"] = h
    entry = result.summary()
    entry["config_hash"] = h
    summary["presets"][result.preset] = entry
    summary["total_wall_time_s"] = round(float(summary.get("total_wall_time_s", 0) or 0) + result.wall_time, 2)
    write_json(out / "summary.json", summary)
    if plots:
        write_training_plots(out, rows)
    return summary


def run_experiment(config, out=None, progress=True):
    """Run every preset of ``config`` and write the output folder.

    Parameters
    ----------
    config : ExperimentConfig
    out : path, optional
        Output folder (default: a new folder under ``./results``). If it
        already holds results of the same configuration, finished presets are
        skipped (:func:`preset_done`); see :func:`prepare_run_folder` for
        the folders that are refused.
    progress : True, file or None
        Where progress lines go (True: standard output; None: silent).

    Returns
    -------
    summary : dict
        As written to ``summary.json``.

    Raises
    ------
    ConfigError, DataError, RunFolderError
        Before anything is written (the folder stays reusable); also when another process is writing the
        folder (:class:`~selfassembly.folders.FolderBusyError`: one process owns a folder at a time, see
        :func:`selfassembly.folders.claim_folder`).
    KeyboardInterrupt
        Ctrl-C or SIGTERM (:class:`~selfassembly.errors.Terminated`): the preset in training is not recorded.
    DivergenceError
        After every preset has run and been recorded, if any diverged or was
        unstable; the message names them.
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError("config must be an ExperimentConfig (see selfassembly.config)")
    data = load_run_data(config)
    check_run(config, data)
    out = Path(out if out else _default_out())
    echo = lambda line: _progress(line, progress)  # noqa: E731
    with claim_folder(out, "run", command="selfassembly run", configuration=lambda p: prepare_run_folder(p, config),
                      echo=echo):
        return _run_presets(config, data, out, progress)


def _run_presets(config, data, out, progress):
    """The presets of :func:`run_experiment`, in a folder it holds."""
    _progress(f"selfassembly run: {', '.join(config.presets)} on {config.dataset} {config.sizes}, "
              f"{config.epochs} epochs of {len(data.X_train)} samples, {config.mode} mode, {config.target} target -> {out}",
              progress)
    t0 = time.perf_counter()
    failed = {}
    for preset in config.presets:
        if preset_done(out, config, preset):
            entry = _read_summary(out)["presets"][preset]
            _progress(f"{preset}: already {entry['status']} in {out}, skipped", progress)
            if entry["status"] != "done":
                failed[preset] = entry.get("message", "")
            continue
        result = run_preset(config, preset, data, progress, standalone_dir=str(out / "build" / preset))
        record_preset(out, config, result)
        if result.status != "done":
            _progress(f"{preset}: {result.status.upper()}: {result.message}", progress)
            failed[preset] = result.message
    summary = _read_summary(out)
    _progress(format_summary(summary, config), progress)
    _progress(f"total {time.perf_counter() - t0:.0f} s; results in {out}", progress)
    if failed:
        names = ", ".join(f"{p} ({summary['presets'][p]['status']})" for p in failed)
        raise DivergenceError(f"{len(failed)} of {len(config.presets)} presets did not train stably: {names}. "
                              + " ".join(failed.values()) + f" Every preset's results are in {out}.")
    return summary


def write_training_plots(out, rows):
    """accuracy.png and alignment.png from metric rows (strings or numbers)."""
    from .analysis.plots import plot_training

    plot_training(rows, Path(out))


def _num(x, spec):
    try:
        return format(float(x), spec)
    except (TypeError, ValueError):
        return format(str(x), ">" + spec.split(".")[0]) if spec[0].isdigit() else str(x)


def format_summary(summary, config=None):
    """The short table printed at the end of a run."""
    presets = summary["presets"]
    layers = sorted({l for s in presets.values() for l in s["ff_angle"]}, key=int)
    error = any("final_test_error" in s for s in presets.values())  # reconstruction: lower is better
    head = (f"{'preset':<29}{'test err' if error else 'test acc':>9}" + "".join(f"{'angle W' + l:>10}" for l in layers)
            + f"{'time (s)':>10}  status")
    lines = [head, "-" * len(head)]
    for name, s in presets.items():
        angles = "".join(_num(s["ff_angle"].get(l), "10.1f") for l in layers)
        score = s.get("final_test_error") if error else s["final_test_acc"]
        lines.append(f"{name:<29}{_num(score, '9.3f')}{angles}{_num(s['wall_time_s'], '10.1f')}  {s['status']}")
    if error:
        floor = next(s["mean_predictor_error"] for s in presets.values() if "mean_predictor_error" in s)
        lines.append(f"test err: squared error per test sample, summed over outputs (predicting the mean: {_num(floor, '.3f')})")
    lines.append("angle Wl: forward-feedback angle (degrees) between W_l^T and V_{l-1} B_l U_l; 90 = random, 0 = aligned")
    return "\n".join(lines)
