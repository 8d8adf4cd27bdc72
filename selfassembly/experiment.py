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
    gradient on held-out samples).
``summary.json``
    Per preset: final test accuracy, final angles, wall time, status.
``snapshots/<preset>.npz``
    Weight snapshots (:mod:`selfassembly.io`).
``accuracy.png``, ``alignment.png``
    Test accuracy and forward-feedback angle over training.

Every file is written atomically as soon as its preset finishes; a rerun into
the same folder with the same configuration skips the presets already done.
"""
from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import brian2 as b2
import numpy as np

from .analysis.alignment import cross_stream_angles, forward_feedback_angles, gradient_alignment
from .circuits import reference as ref
from .circuits.connectivity import initial_weights
from .circuits.network import DivergenceError, Stimulus, build_circuit, configure_target
from .config import ConfigError, ExperimentConfig, load_config
from .datasets import load_dataset
from .io import Snapshots, atomic_write_text, save_snapshots, write_csv, write_json

__all__ = ["run_experiment", "run_preset", "PresetResult", "presentation_order", "metrics_rows",
           "prepare_run_folder", "preset_done", "record_preset"]

#: held-out samples used for the gradient-alignment angle at each snapshot
N_GRADIENT_SAMPLES = 100


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
            "final_train_acc": last["train_acc"],
            "final_test_loss": last["test_loss"],
            "ff_angle": {k.split("_")[-1]: v for k, v in last.items() if k.startswith("ff_angle_")},
            "cross_angle": {k.split("_")[-1]: v for k, v in last.items() if k.startswith("cross_angle_")},
            "grad_angle": {k.split("_")[-1]: v for k, v in last.items() if k.startswith("grad_angle_")},
            "wall_time_s": round(self.wall_time, 2),
        }


def presentation_order(n_train, epochs, seed):
    """Sample indices shown at each presentation: a fresh permutation per epoch (same for every preset)."""
    rng = np.random.default_rng([int(seed), 1])
    return np.concatenate([rng.permutation(n_train) for _ in range(epochs)])


def metrics_rows(preset, snapshots, data, config, n_train):
    """Evaluate every snapshot: losses, accuracies and alignment angles."""
    rows = []
    Xg, Yg = data.X_test[:N_GRADIENT_SAMPLES], data.Y_test[:N_GRADIENT_SAMPLES]
    for k, step in enumerate(snapshots.steps):
        w = snapshots.at(k)
        train_loss, train_acc = ref.evaluate(w, data.X_train, data.Y_train, config.activation, config.output)
        test_loss, test_acc = ref.evaluate(w, data.X_test, data.Y_test, config.activation, config.output)
        row = {"preset": preset, "step": int(step), "epoch": round(int(step) / n_train, 4),
               "train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc}
        row.update({f"ff_angle_{l}": a for l, a in forward_feedback_angles(w).items()})
        row.update({f"cross_angle_{l}": a for l, a in cross_stream_angles(w).items()})
        row.update({f"grad_angle_{l}": a for l, a in gradient_alignment(w, Xg, Yg, config.activation, config.output).items()})
        rows.append(row)
    return rows


def _all_finite(weights):
    return all(np.all(np.isfinite(w)) for w in weights.values())


def _progress(msg, stream):
    """Print a progress line to ``stream``: True means the current sys.stdout, None silences."""
    if stream is not None:
        print(msg, file=sys.stdout if stream is True else stream, flush=True)


def run_preset(config, preset, data, progress=True, standalone_dir=None, binaries=None):
    """Train one preset and return a :class:`PresetResult`.

    Runtime targets stop at the first recording step after output rates or
    weights became NaN/Inf (cpp_standalone runs to the end and is checked
    after); the result then has status ``"diverged"`` and holds the snapshots
    taken before the output rates first became non-finite.

    Parameters
    ----------
    config : ExperimentConfig
    preset : str
    data : Dataset
    progress : True, file or None
        Where progress lines go (True: standard output; None: silent).
    standalone_dir : str, optional
        Where cpp_standalone writes and compiles its project.
    binaries : selfassembly.binaries.StandaloneBinaries, optional
        cpp_standalone only: reuse a compiled binary of the same structure
        with new parameters through ``run_args`` (used by the sweep).
    """
    rules = config.rules(preset)
    mode = config.time_mode()
    n_train = len(data.X_train)
    order = presentation_order(n_train, config.epochs, config.seed)
    n_total = len(order)
    record_every = max(1, n_train // config.records_per_epoch)

    def make_circuit():
        weights, masks = initial_weights(config.sizes, rules, config.connectivity_objects(), config.seed)
        stimulus = Stimulus(data.X_train, data.Y_train, order)
        return build_circuit(config.sizes, rules, weights, masks, stimulus, mode, config.activation, config.output,
                             record_every=record_every, name=preset)

    t0 = time.perf_counter()
    diverged_at = None
    if binaries is not None and config.target == "cpp_standalone":
        _progress(f"{preset}: running {n_total} presentations (cpp_standalone, compiled once per structure)", progress)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            circuit = binaries.run(config, preset, n_total, make_circuit, standalone_dir)
            steps, recorded = circuit.recorded_weights()
            final = circuit.weights()
        return _preset_result(config, preset, data, circuit, steps, recorded, final, diverged_at, n_total, t0)
    configure_target(config.target, cache_dir=config.cache_dir or None, standalone_dir=standalone_dir)
    b2.seed(config.seed)
    np.random.seed(config.seed)
    t0 = time.perf_counter()
    circuit = make_circuit()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if circuit.is_standalone:
            _progress(f"{preset}: compiling and running {n_total} presentations (cpp_standalone)", progress)
            circuit.run(n_total)
        else:
            done = 0
            while done < n_total:
                chunk = min(record_every, n_total - done)
                circuit.run(chunk)
                done += chunk
                current = circuit.weights()
                if circuit.first_bad_presentation() or not _all_finite(current):
                    diverged_at = done
                    break
                elapsed = time.perf_counter() - t0
                _, acc = ref.evaluate(current, data.X_test, data.Y_test, config.activation, config.output)
                _progress(f"{preset}: {done}/{n_total} presentations (epoch {done / n_train:.1f}/{config.epochs})"
                          f"  test acc {acc:.3f}  {elapsed:.0f} s, about {elapsed / done * (n_total - done):.0f} s left",
                          progress)
        steps, recorded = circuit.recorded_weights()
        final = circuit.weights()
    return _preset_result(config, preset, data, circuit, steps, recorded, final, diverged_at, n_total, t0)


def _preset_result(config, preset, data, circuit, steps, recorded, final, diverged_at, n_total, t0):
    """Snapshots (cut at a divergence), metric rows and status of a finished simulation."""
    n_train = len(data.X_train)
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
                   f"Lower eta (now {config.eta}), or check the data scale.")
    wall = time.perf_counter() - t0
    snapshots = Snapshots(sizes=config.sizes, steps=steps, weights=recorded, masks=masks)
    rows = metrics_rows(preset, snapshots, data, config, n_train)
    return PresetResult(preset, snapshots, rows, wall, status, message)


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


def run_experiment(config, out=None, progress=True):
    """Run every preset of ``config`` and write the output folder.

    Parameters
    ----------
    config : ExperimentConfig
    out : path, optional
        Output folder (default: a new folder under ``./results``). If it
        already holds results of the same configuration, finished presets are
        skipped; if it holds a different configuration, a ConfigError says so.
    progress : True, file or None
        Where progress lines go (True: standard output; None: silent).

    Returns
    -------
    summary : dict
        As written to ``summary.json``.

    Raises
    ------
    DivergenceError
        If a preset's weights become NaN/Inf; the outputs written so far
        (including that preset's snapshots up to the divergence) are kept.
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError("config must be an ExperimentConfig (see selfassembly.config)")
    out = prepare_run_folder(Path(out) if out else _default_out(), config)
    data = load_dataset(config.dataset, config.test_fraction, config.seed, config.mnist_dir or None)
    if config.max_train:
        data.X_train, data.Y_train = data.X_train[: config.max_train], data.Y_train[: config.max_train]
    _progress(f"selfassembly run: {', '.join(config.presets)} on {config.dataset} {config.sizes}, "
              f"{config.epochs} epochs of {len(data.X_train)} samples, {config.mode} mode, {config.target} target -> {out}",
              progress)
    t0 = time.perf_counter()
    for preset in config.presets:
        if preset_done(out, config, preset):
            _progress(f"{preset}: already done in {out}, skipped", progress)
            continue
        result = run_preset(config, preset, data, progress, standalone_dir=str(out / "build" / preset))
        record_preset(out, config, result)
        if result.status == "diverged":
            raise DivergenceError(result.message + f" Results so far are in {out}.")
    summary = _read_summary(out)
    _progress(format_summary(summary, config), progress)
    _progress(f"total {time.perf_counter() - t0:.0f} s; results in {out}", progress)
    return summary


def prepare_run_folder(out, config):
    """Create the run folder ``out`` and write (or check) its ``config.toml``.

    Parameters
    ----------
    out : path
    config : ExperimentConfig

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    ConfigError
        If ``out`` already holds results of a different configuration.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "config.toml"
    if config_path.exists():
        previous = load_config(config_path)
        if previous.to_dict() != config.to_dict():
            raise ConfigError(f"{out} holds results of a different configuration; choose a new --out folder "
                              f"(or rerun with --config {config_path} to resume that run)")
    else:
        atomic_write_text(config_path, config.to_toml())
    return out


def _read_summary(out):
    summary_path = Path(out) / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary.setdefault("presets", {})
    return summary


def preset_done(out, config, preset):
    """Whether the run folder ``out`` already holds a finished ``preset`` (summary status and snapshots)."""
    out = Path(out)
    done = _read_summary(out)["presets"].get(preset, {}).get("status") == "done"
    return done and (out / "snapshots" / f"{preset}.npz").exists()


def record_preset(out, config, result):
    """Write one :class:`PresetResult` into the run folder ``out``.

    Its snapshots, its rows of ``metrics.csv`` (replacing any earlier ones of
    the preset), its entry of ``summary.json`` and the training plots, each
    file atomically. The folder must have been made by :func:`prepare_run_folder`.
    """
    out = Path(out)
    summary_path, metrics_path = out / "summary.json", out / "metrics.csv"
    summary = _read_summary(out)
    rows = _read_csv(metrics_path) if metrics_path.exists() else []
    save_snapshots(out / "snapshots" / f"{result.preset}.npz", result.snapshots)
    rows = [r for r in rows if r["preset"] != result.preset] + result.rows
    write_csv(metrics_path, rows)
    summary["presets"][result.preset] = result.summary()
    summary["total_wall_time_s"] = round(summary.get("total_wall_time_s", 0) + result.wall_time, 2)
    write_json(summary_path, summary)
    write_training_plots(out, rows)
    return summary


def write_training_plots(out, rows):
    """accuracy.png and alignment.png from metric rows (strings or numbers)."""
    from .analysis.plots import plot_training

    plot_training(rows, Path(out))


def format_summary(summary, config=None):
    """The short table printed at the end of a run."""
    presets = summary["presets"]
    layers = sorted({l for s in presets.values() for l in s["ff_angle"]}, key=int)
    head = f"{'preset':<26}{'test acc':>9}" + "".join(f"{'angle W' + l:>10}" for l in layers) + f"{'time (s)':>10}  status"
    lines = [head, "-" * len(head)]
    for name, s in presets.items():
        angles = "".join(f"{s['ff_angle'][l]:>10.1f}" for l in layers)
        lines.append(f"{name:<26}{s['final_test_acc']:>9.3f}{angles}{s['wall_time_s']:>10.1f}  {s['status']}")
    lines.append("angle Wl: forward-feedback angle (degrees) between W_l^T and V_{l-1} B_l U_l; 90 = random, 0 = aligned")
    return "\n".join(lines)
