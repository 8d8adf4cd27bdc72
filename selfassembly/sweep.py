"""``selfassembly sweep SWEEP.toml``: parameter sweeps and phase diagrams on dask.distributed.

A sweep file is a run configuration (every section of ``selfassembly run``'s
TOML) plus a ``[sweep]`` table::

    [training]
    presets = ["four_synapse", "four_synapse_fixed_cross", "kolen_pollack"]
    [sweep]
    "plasticity.eta_c" = [0.001, 0.004]
    "plasticity.sigma_xi" = [0.5, 1.0]
    seeds = [0, 1]
    zip = []                     # keys that vary together instead of as a grid
    reference = "kolen_pollack"  # accuracy differences are taken to this preset

The points are the grid over the swept keys (a ``zip`` group counts as one
axis) and the seeds. Every preset of the configuration runs at every point;
one Dask task is one (point, preset).

Output folder
-------------
``points/<id>/``
    A normal run folder per point (config.toml, metrics.csv, summary.json,
    snapshots/, plots), written by the client as results arrive; ``selfassembly
    inspect`` and ``compare`` accept it. ``<id>`` is readable and stable, e.g.
    ``eta_c=0.001__sigma_xi=0.5__seed=0``.
``points.csv``
    Point id, seed and swept values.
``sweep.csv``
    One row per point and preset: swept values, seed, status, final test
    accuracy, its difference to the reference preset of the same point,
    angles per layer, U orthogonality per layer (where the summary has it),
    verdict, wall time, message.
``phase_<preset>.png`` / ``curves_<preset>.png``
    For two swept axes, heatmaps of the forward-feedback angle (worst layer,
    mean over seeds) and of the accuracy difference to the reference; for one
    axis, the same as curves with 95 % t-intervals over seeds.
``sweep.md``, ``sweep.json``
    Table of means and intervals; counts, compile statistics, throughput.

A rerun into the same folder skips every (point, preset) whose run folder
holds it finished (done, diverged or unstable; verified by
:func:`selfassembly.experiment.preset_done`, which loads the snapshots),
and runs the rest.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import logging
import math
import os
import re
import signal
import sys
import time
import tomllib
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import tomli_w

from .config import ConfigError, ExperimentConfig, load_config, quick_config
from .io import atomic_write_text, write_csv, write_json

__all__ = ["SweepError", "Sweep", "Point", "load_sweep", "parse_sweep", "valid_keys", "run_sweep", "sweep_rows",
           "point_verdicts", "verdict_positive", "inspect_sweep", "sweep_groups", "register", "KILL_ONCE_ENV", "pending",
           "effective_key", "start_client", "t_interval"]

#: sweep.csv is rewritten at most this often while runs come in (and always at the end)
CSV_EVERY_S = 10.0

#: keys of [sweep] that are not configuration keys
_RESERVED = ("seeds", "zip", "reference")
#: configuration keys a sweep may not vary (presets run at every point; seeds has its own list)
_NOT_SWEPT = ("training.presets", "training.seed")

#: Testing hook: when this variable names a file path that does not exist yet, the first task to
#: see it creates the file and kills its own worker process (tests/test_sweep.py checks that the
#: point is rerun elsewhere and nothing is lost). Needs a filesystem shared by the workers.
KILL_ONCE_ENV = "SELFASSEMBLY_SWEEP_KILL_ONCE"


class SweepError(ConfigError):
    """A sweep file or sweep folder is invalid."""


# ---- the sweep file ---------------------------------------------------------------------------
def valid_keys():
    """Dotted configuration keys a ``[sweep]`` table may vary.

    Derived from :attr:`~selfassembly.config.ExperimentConfig.SECTIONS` and the connectivity tables,
    so new configuration fields can be swept without changes here.

    >>> "plasticity.eta_c" in valid_keys(), "connectivity.V.p" in valid_keys()
    (True, True)
    """
    keys = [f"{sec}.{k}" for sec, names in ExperimentConfig.SECTIONS.items() for k in names]
    keys += [f"connectivity.{pop}.{k}" for pop, spec in ExperimentConfig().connectivity.items() for k in spec]
    return [k for k in keys if k not in _NOT_SWEPT]


@dataclass
class Point:
    """One point of a sweep: its id, seed, swept values and resolved configuration."""

    id: str
    seed: int
    values: dict
    config: ExperimentConfig

    @property
    def group(self):
        """The point's configuration without its seed, as a readable key (seeds of one group share it)."""
        return _group_key(self.values)


@dataclass
class Sweep:
    """A parsed sweep file: base configuration, swept values, seeds and the grid of points."""

    base: ExperimentConfig
    values: dict
    seeds: list
    zip: list
    reference: str | None
    points: list = field(default_factory=list)

    @property
    def keys(self):
        return list(self.values)

    @property
    def axes(self):
        """Swept axes in file order: a list of key lists (a zip group is one axis)."""
        axes, seen = [], set()
        for key in self.values:
            if key in seen:
                continue
            group = list(self.zip) if key in self.zip else [key]
            seen.update(group)
            axes.append(group)
        return axes

    @property
    def presets(self):
        return list(self.base.presets)

    def to_toml(self):
        """The resolved sweep (base configuration and [sweep] table) as TOML."""
        d = self.base.to_dict()
        d["sweep"] = dict(self.values, seeds=list(self.seeds), zip=list(self.zip))
        if self.reference:
            d["sweep"]["reference"] = self.reference
        return tomli_w.dumps(d)


def _quick(config):
    """``config`` with ``selfassembly run --quick``'s settings (those where quick_config differs from the defaults)."""
    q, d = quick_config(), ExperimentConfig()
    changes = {f.name: getattr(q, f.name) for f in fields(ExperimentConfig) if getattr(q, f.name) != getattr(d, f.name)}
    return config.replace(**changes)


def _field_value(config, key):
    parts = key.split(".")
    if parts[0] == "connectivity":
        return config.connectivity[parts[1]][parts[2]]
    return getattr(config, parts[1])


def _check_type(key, value, base_value):
    """Clear error for a value whose type cannot be the field's (validation checks the rest)."""
    def kind(v):
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, (int, float)):
            return "number"
        if isinstance(v, str):
            return "string"
        if isinstance(v, list):
            return "list"
        return type(v).__name__

    if kind(value) != kind(base_value):
        raise SweepError(f"[sweep] {key}: value {value!r} is a {kind(value)}, but {key} takes a {kind(base_value)} "
                         f"(like {base_value!r})")


def _fmt(value):
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "-".join(_fmt(v) for v in value)
    return str(value)


def _short_names(keys):
    """Last component of each dotted key, or the whole key where two would clash."""
    last = [k.split(".")[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def _group_key(values):
    names = _short_names(list(values))
    return "__".join(f"{names[k]}={_fmt(v)}" for k, v in values.items()) or "base"


def _point_id(values, seed):
    text = (_group_key(values) + "__" if values else "") + f"seed={seed}"
    return re.sub(r"[^A-Za-z0-9._=+-]", "_", text)


def parse_sweep(data, source="sweep file", quick=False):
    """Build a :class:`Sweep` from a parsed sweep file.

    Parameters
    ----------
    data : dict
        The TOML as a dict: configuration sections plus ``[sweep]``.
    source : str
        Name used in error messages.
    quick : bool
        Apply ``selfassembly run --quick``'s settings on top of the file's
        (swept keys still win).

    Raises
    ------
    SweepError
        An unknown key, an empty list, a value of the wrong type, bad ``zip``
        or ``reference``, or two points with the same configuration.
    """
    if not isinstance(data, dict) or not isinstance(data.get("sweep"), dict):
        raise SweepError(f"{source}: no [sweep] table; add one with dotted keys and lists of values, "
                         f'e.g. "plasticity.eta_c" = [0.001, 0.004] and seeds = [0, 1]')
    data = copy.deepcopy(data)
    table = data.pop("sweep")
    base = ExperimentConfig.from_dict(data, source=source)
    if quick:
        base = _quick(base)
    valid = valid_keys()
    seeds = table.get("seeds", [base.seed])
    if not isinstance(seeds, list) or not seeds:
        raise SweepError(f"{source}: [sweep] seeds must be a non-empty list of whole numbers, got {seeds!r}")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise SweepError(f"{source}: [sweep] seeds must be distinct whole numbers >= 0, got {seeds!r}")
    values = {}
    for key, vals in table.items():
        if key in _RESERVED:
            continue
        if key not in valid:
            hint = (" (seeds have their own list: seeds = [...])" if key == "training.seed" else
                    " (every preset runs at every point)" if key == "training.presets" else "")
            raise SweepError(f"{source}: [sweep] unknown key {key!r}{hint}; valid keys: " + ", ".join(valid)
                             + ", and seeds, zip, reference")
        if not isinstance(vals, list) or not vals:
            raise SweepError(f"{source}: [sweep] {key} must be a non-empty list of values, got {vals!r}")
        base_value = _field_value(base, key)
        for v in vals:
            _check_type(key, v, base_value)
        values[key] = vals
    zipped = table.get("zip", [])
    if not isinstance(zipped, list) or any(k not in values for k in zipped):
        raise SweepError(f"{source}: [sweep] zip must list swept keys (of: {', '.join(values) or 'none'}), got {zipped!r}")
    if zipped and len({len(values[k]) for k in zipped}) != 1:
        raise SweepError(f"{source}: [sweep] the keys in zip vary together and need lists of one length; got "
                         + ", ".join(f"{k}: {len(values[k])}" for k in zipped))
    presets = list(base.presets)
    reference = table.get("reference")
    if reference is None:
        reference = next((p for p in ("kolen_pollack", "backprop") if p in presets), None)
    elif reference not in presets:
        raise SweepError(f"{source}: [sweep] reference {reference!r} is not among training.presets: {', '.join(presets)}")
    sweep = Sweep(base=base, values=values, seeds=list(seeds), zip=list(zipped), reference=reference)
    # the grid: one axis per key, one per zip group
    axes = sweep.axes
    combos = itertools.product(*[list(zip(*[values[k] for k in axis])) for axis in axes])
    seen = {}
    for combo in combos:
        point_values = {}
        for axis, vals in zip(axes, combo):
            point_values.update(dict(zip(axis, vals)))
        point_values = {k: point_values[k] for k in values}  # file order
        for seed in seeds:
            d = base.to_dict()
            d["training"]["seed"] = seed
            for key, v in point_values.items():
                parts = key.split(".")
                if parts[0] == "connectivity":
                    d["connectivity"][parts[1]][parts[2]] = v
                else:
                    d[parts[0]][parts[1]] = v
            where = ", ".join(f"{k} = {v!r}" for k, v in point_values.items()) or "the base configuration"
            try:
                config = ExperimentConfig.from_dict(d, source=f"{source}: [sweep] point {where}")
            except ConfigError as exc:
                raise SweepError(str(exc)) from None
            text = config.to_toml()
            if text in seen:
                raise SweepError(f"{source}: [sweep] duplicate point: {where}, seed {seed} gives the same configuration "
                                 f"as {seen[text]}; remove the repeated value")
            seen[text] = f"{where}, seed {seed}"
            sweep.points.append(Point(_point_id(point_values, seed), seed, point_values, config))
    ids = [p.id for p in sweep.points]
    for p in sweep.points:
        if ids.count(p.id) > 1:  # different values that read the same once made file-name safe
            p.id += "-" + hashlib.sha1(json.dumps([p.values, p.seed]).encode()).hexdigest()[:6]
    return sweep


def load_sweep(path, quick=False):
    """Read and check a sweep file (see :func:`parse_sweep`)."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{path} is not valid TOML: {exc}") from None
    return parse_sweep(data, source=str(path), quick=quick)


# ---- on the workers ---------------------------------------------------------------------------
_WORKER_STATE = {}


def _worker_data(config):
    """The data set of ``config``, loaded once per worker process and configuration of the data."""
    from .datasets import load_dataset

    key = (config.dataset, config.label_column, config.test_fraction, config.seed, config.mnist_dir, config.max_train)
    cache = _WORKER_STATE.setdefault("data", {})
    if key not in cache:
        data = load_dataset(config.dataset, config.test_fraction, config.seed, config.mnist_dir or None,
                            config.label_column)
        if config.max_train:
            data.X_train, data.Y_train = data.X_train[: config.max_train], data.Y_train[: config.max_train]
        cache.clear()  # one data set at a time: sweeps rarely vary the data
        cache[key] = data
    return cache[key]


def _check_data_files(sweep):
    """Check users' data files, and every point's layer sizes against them, before anything runs.

    (The bundled data sets are loaded on the workers; a point that cannot load them fails alone.)
    """
    from .datasets import is_data_file
    from .experiment import check_run, load_run_data

    loaded = {}
    for p in sweep.points:
        c = p.config
        if is_data_file(c.dataset):
            key = (c.dataset, c.label_column, c.test_fraction, c.seed, c.max_train)
            if key not in loaded:
                loaded[key] = load_run_data(c)
            check_run(c, loaded[key])


def _maybe_kill_self():
    marker = os.environ.get(KILL_ONCE_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def run_task(config_dict, preset, make_jobs=1):
    """One (point, preset) on a worker: train and return the results to the client.

    Parameters
    ----------
    config_dict : dict
        The point's configuration (:meth:`~selfassembly.config.ExperimentConfig.to_dict`).
    preset : str
    make_jobs : int
        Parallel compile jobs for cpp_standalone.

    Returns
    -------
    dict
        ``result`` (a :class:`~selfassembly.experiment.PresetResult`),
        ``host``, ``pid``, and ``compiles``/``compile_s``/``reused`` of this
        task (cpp_standalone).
    """
    from .binaries import StandaloneBinaries
    from .experiment import run_preset

    _maybe_kill_self()
    config = ExperimentConfig.from_dict(config_dict)
    binaries = None
    if config.target == "cpp_standalone":
        binaries = _WORKER_STATE.get("binaries")
        if binaries is None or binaries.make_jobs != make_jobs:
            binaries = _WORKER_STATE["binaries"] = StandaloneBinaries(make_jobs=make_jobs)
    before = binaries.stats() if binaries else None
    result = run_preset(config, preset, _worker_data(config), progress=None, binaries=binaries)
    out = {"result": result, "host": os.uname().nodename, "pid": os.getpid(), "compiles": 0, "compile_s": 0.0,
           "reused": False}
    if binaries:
        after = binaries.stats()
        out.update(compiles=after["compiles"] - before["compiles"], compile_s=after["compile_s"] - before["compile_s"],
                   reused=after["reuses"] > before["reuses"])
    return out


def render_plots(rows):
    """A point's training plots (``{file name: PNG bytes}``) from its metric rows, on a worker:
    rendering takes most of a second, which the client, sharing the cores, would take from the runs."""
    from .analysis.plots import training_figures

    return training_figures(rows)


# ---- on the client ----------------------------------------------------------------------------
def _progress(msg, stream):
    if stream is not None:
        print(msg, file=sys.stdout if stream is True else stream, flush=True)


def _default_out():
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out, k = Path("results") / f"sweep-{stamp}", 1
    while out.exists():
        out, k = Path("results") / f"sweep-{stamp}-{k}", k + 1
    return out


def _verified_done(point_dir, config, preset):
    """Finished and verified by :func:`selfassembly.experiment.preset_done` (which loads the snapshots)."""
    from .experiment import preset_done

    return (point_dir / "config.toml").is_file() and preset_done(point_dir, config, preset)


def _check_folder(sweep, out):
    """Refuse a folder that holds points of a different configuration under the same ids."""
    for p in sweep.points:
        path = out / "points" / p.id / "config.toml"
        if path.is_file() and load_config(path).to_dict() != p.config.to_dict():
            raise SweepError(f"{out} holds a sweep of a different configuration (point {p.id} differs); "
                             "choose a new --out folder, or rerun with the sweep file that wrote it")


def effective_key(config, preset):
    """What the run of ``preset`` under ``config`` depends on: the configuration without the other presets and
    without the runtime parameters (:data:`~selfassembly.binaries.RUNTIME_PARAMETERS`) that the preset's rules
    do not use (e.g. sigma_xi for a preset without the mirror rule). Equal keys give identical runs.

    >>> from selfassembly.config import ExperimentConfig
    >>> a, b = ExperimentConfig(sigma_xi=0.5), ExperimentConfig(sigma_xi=2.0)
    >>> effective_key(a, "kolen_pollack") == effective_key(b, "kolen_pollack")
    True
    >>> effective_key(a, "four_synapse") == effective_key(b, "four_synapse")
    False
    """
    from .binaries import RUNTIME_PARAMETERS, used_parameters

    used = used_parameters(config.rules(preset))
    d = config.to_dict()
    d["training"].pop("presets")
    for section in d.values():
        for name in set(RUNTIME_PARAMETERS) - used:
            section.pop(name, None)
    return repr((preset, sorted((k, sorted(v.items())) for k, v in d.items())))


def pending(sweep, out):
    """What a run of ``sweep`` into ``out`` still has to do.

    Returns
    -------
    todo : list of list of (Point, str)
        One entry per simulation: the (point, preset) runs it stands for (runs
        with equal :func:`effective_key` are simulated once).
    skipped : int
        Runs already done (verified by loading their snapshots).
    """
    groups, skipped = {}, 0
    for p in sweep.points:
        for preset in sweep.presets:
            if _verified_done(Path(out) / "points" / p.id, p.config, preset):
                skipped += 1
            else:
                groups.setdefault(effective_key(p.config, preset), []).append((p, preset))
    return list(groups.values()), skipped


def _structure_order(point, preset):
    from .binaries import structure_key

    return structure_key(point.config, preset)


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def start_client(workers, scheduler):
    """A dask.distributed Client: on the given scheduler, or on a new LocalCluster."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        n = len(client.scheduler_info().get("workers", {}))
        return client, None, max(n, 1), 1
    n = workers or _cores()
    # one process per worker, one thread each: Brian2 keeps global state (device, preferences)
    # and is not thread-safe
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster, n, max(1, _cores() // n)


def _dashboard(client):
    try:
        if "dashboard" in client.scheduler_info().get("services", {}):
            return client.dashboard_link
    except Exception:  # pragma: no cover - a scheduler without the services entry
        pass
    return None


def run_sweep(sweep, out=None, workers=None, scheduler=None, retries=0, progress=True):
    """Run every (point, preset) of ``sweep`` not already done, on dask.distributed, and write the results.

    Parameters
    ----------
    sweep : Sweep
    out : path, optional
        Sweep folder (default: a new ``results/sweep-<time>``). A rerun into it
        runs only what is not finished.
    workers : int, optional
        Worker processes of the local cluster (default: one per core).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) instead of
        a local cluster.
    retries : int
        Times a task that raised is retried (on any worker) before it counts
        as failed. A worker killed mid-task has its task rerun elsewhere in
        any case (Dask's ``distributed.scheduler.allowed-failures``).
    progress : True, file or None
        Where progress lines go.

    Returns
    -------
    dict
        As written to ``sweep.json``.
    """
    from dask.distributed import as_completed

    from .experiment import prepare_run_folder, read_metrics, record_preset
    from .io import atomic_write_bytes

    out = Path(out) if out else _default_out()
    _check_folder(sweep, out)
    _check_data_files(sweep)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "sweep.toml", sweep.to_toml())
    write_csv(out / "points.csv", [{"point": p.id, "seed": p.seed, **{k: json.dumps(v) if isinstance(v, list) else v
                                                                    for k, v in p.values.items()}}
                                   for p in sweep.points])
    todo, skipped = pending(sweep, out)
    n_tasks = len(sweep.points) * len(sweep.presets)
    n_todo = sum(len(members) for members in todo)
    _progress(f"selfassembly sweep: {len(sweep.points)} points x {len(sweep.presets)} presets = {n_tasks} runs; "
              f"{skipped} already done, {n_todo} to do in {len(todo)} simulations "
              f"(runs that differ only in parameters their preset does not use are simulated once) -> {out}", progress)
    failures, summaries, stats = {}, {}, {"compiles": 0, "compile_s": 0.0, "reused": 0}
    plot_futures = {}
    t0 = time.perf_counter()
    n_workers, make_jobs, dashboard, start_s = 0, 1, None, 0.0
    if todo:
        client, cluster, n_workers, make_jobs = start_client(workers, scheduler)
        start_s = time.perf_counter() - t0
        try:
            dashboard = _dashboard(client)
            _progress(f"dask: {n_workers} workers ({'scheduler ' + scheduler if scheduler else 'local cluster'})"
                      + (f", dashboard {dashboard}" if dashboard else ", no dashboard (install bokeh for one)"), progress)
            # same compiled structure one after another, so that workers reuse their binaries
            todo.sort(key=lambda m: (_structure_order(*m[0]), m[0][0].id))
            token = uuid.uuid4().hex[:8]
            futures, waiting = {}, {}  # waiting: runs of each point not in yet (its plots wait for them)
            for members in todo:
                p, preset = members[0]
                # keys of one task group ("selfassembly_run-..."), so that the scheduler queues the runs and
                # hands the next one to whichever worker is free (runs in groups of their own were placed
                # up front, and a worker could wait seconds for work stealing to rebalance)
                fut = client.submit(run_task, p.config.to_dict(), preset, make_jobs,
                                    key=f"selfassembly_run-{token}-{len(futures):06d}", retries=retries, pure=False)
                futures[fut] = members
                for q, _ in members:
                    waiting[q.id] = waiting.get(q.id, 0) + 1
            queue = as_completed(list(futures))
            done = failed = 0
            recorded, csv_written = set(), time.perf_counter()
            for fut in queue:
                if fut in plot_futures:  # a point's training plots, rendered on a worker: only written here
                    point_dir = plot_futures.pop(fut)
                    try:
                        for name, png in fut.result().items():
                            atomic_write_bytes(point_dir / name, png)
                    except Exception as exc:  # a plot must not fail the sweep; the numbers are written
                        _progress(f"plots of {point_dir.name} not written: {type(exc).__name__}: {exc}", progress)
                    fut.release()
                    continue
                members = futures.pop(fut)
                p, preset = members[0]
                label = f"{p.id} {preset}" + (f" (and {len(members) - 1} more points)" if len(members) > 1 else "")
                try:
                    res = fut.result()
                except Exception as exc:  # the task raised (after its retries) or kept killing workers
                    failed += 1
                    for q, _ in members:
                        failures[(q.id, preset)] = f"{type(exc).__name__}: {exc}"
                    status = f"FAILED: {type(exc).__name__}: {exc}"
                else:
                    result = res["result"]
                    for q, _ in members:  # written as it arrives: the point folders of every run it stands for
                        point_dir = prepare_run_folder(out / "points" / q.id, q.config)
                        record_preset(point_dir, q.config, result, plots=False)
                        recorded.add(q.id)
                        summaries.pop(q.id, None)  # reread once from its folder
                    stats["compiles"] += res["compiles"]
                    stats["compile_s"] += res["compile_s"]
                    stats["reused"] += int(res["reused"])
                    done += 1
                    acc = result.rows[-1]["test_acc"]
                    status = f"{result.status}, acc {acc:.3f}, {result.wall_time:.1f} s"
                    if result.status != "done":
                        status += f": {result.message}"
                for q, _ in members:
                    waiting[q.id] -= 1
                    if waiting[q.id] == 0 and q.id in recorded:
                        point_dir = out / "points" / q.id
                        plot = client.submit(render_plots, read_metrics(point_dir), key=f"selfassembly_plots-{token}-{q.id}",
                                             pure=False, priority=10)
                        plot_futures[plot] = point_dir
                        queue.add(plot)
                fut.release()
                finished = done + failed
                elapsed = time.perf_counter() - t0
                left = elapsed / finished * (len(todo) - finished)
                _progress(f"[{finished}/{len(todo)}] {label}: {status} | {failed} failed | "
                          f"{elapsed:.0f} s, about {left:.0f} s left", progress)
                if time.perf_counter() - csv_written > CSV_EVERY_S:  # the whole table: not after every run
                    write_csv(out / "sweep.csv", sweep_rows(sweep, out, failures, verdicts=False, summaries=summaries))
                    csv_written = time.perf_counter()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    wall = time.perf_counter() - t0
    rows = sweep_rows(sweep, out, failures)
    write_csv(out / "sweep.csv", rows)
    statuses = [r["status"] for r in rows]
    summary = {
        "points": len(sweep.points), "presets": sweep.presets, "runs": n_tasks, "skipped": skipped, "ran": n_todo,
        "simulations": len(todo),
        "done": statuses.count("done"), "diverged": statuses.count("diverged"),
        "unstable": statuses.count("unstable"), "failed": statuses.count("failed"),
        "missing": statuses.count("missing"),
        "workers": n_workers, "scheduler": scheduler or "local", "dashboard": dashboard,
        "wall_time_s": round(wall, 2), "cluster_start_s": round(start_s, 2),
        "simulations_per_minute": round(len(todo) / wall * 60, 2) if todo and wall > 0 else None,
        "compiled_binaries": stats["compiles"], "compile_time_s": round(stats["compile_s"], 2),
        "binary_reuses": stats["reused"], "make_jobs": make_jobs,
        "failures": {f"{k[0]}/{k[1]}": v for k, v in failures.items()},
    }
    write_json(out / "sweep.json", summary)
    from .analysis.sweep_plots import write_sweep_figures

    figures = write_sweep_figures(sweep, rows, out)
    atomic_write_text(out / "sweep.md", sweep_markdown(sweep, rows, summary, figures))
    _progress(f"sweep: {summary['done']} done, {summary['diverged']} diverged, {summary['unstable']} unstable, "
              f"{summary['failed']} failed "
              f"({skipped} skipped as done) in {wall:.0f} s; "
              f"cpp_standalone: {stats['compiles']} compiled, {stats['reused']} reused; results in {out}", progress)
    return summary


# ---- results ----------------------------------------------------------------------------------
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
        import csv

        path = out / "points.csv"
        if not path.is_file():
            raise SweepError(f"{out} is not a sweep folder (no points.csv)")
        with open(path, newline="") as fh:
            table = list(csv.DictReader(fh))
        items = []
        for r in table:
            values = {k: v for k, v in r.items() if k not in ("point", "seed")}
            items.append((_group_key(values), int(r["seed"]), r["point"]))
    groups = {}
    for group, seed, pid in sorted(items, key=lambda t: t[1]):
        d = out / "points" / pid
        if d.is_dir():
            groups.setdefault(group, []).append(d)
    order = list(dict.fromkeys(g for g, _, _ in items))
    return {g: groups[g] for g in order if g in groups}


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
    from .analysis.inspect import seed_run_verdicts
    from .analysis.verdict import ALPHA, N_DRAWS
    from .io import SnapshotError

    try:
        verdicts, _ = seed_run_verdicts(point_dirs, n_samples=0, alpha=alpha or ALPHA, n_draws=n_draws or N_DRAWS,
                                        echo=lambda line: None)
    except SnapshotError:
        return {}
    return {preset: v["verdict"] for preset, v in verdicts.items()}


def verdict_positive(verdict):
    """Whether a verdict counts as positive (framed in the phase diagrams)."""
    return verdict == "ASSEMBLED"


def inspect_sweep(out, alpha=None, n_draws=None, n_samples=0, echo=print):
    """``selfassembly inspect DIR`` on a sweep folder: the across-seed verdict of every point.

    Prints, per point, one verdict line per preset (the test that decided it
    and the angles), and writes ``DIR/inspect/verdicts.json`` (point group ->
    preset -> verdict).

    Returns
    -------
    dict
        point group -> ``{preset: verdict}`` (full verdict dicts).
    """
    from .analysis.inspect import seed_run_verdicts
    from .analysis.verdict import ALPHA, N_DRAWS, format_seed_verdict
    from .io import SnapshotError

    out = Path(out)
    alpha, n_draws = alpha or ALPHA, n_draws or N_DRAWS
    result = {}
    for group, dirs in sweep_groups(out).items():
        try:
            verdicts, seeds = seed_run_verdicts(dirs, n_samples=n_samples, alpha=alpha, n_draws=n_draws, echo=echo)
        except SnapshotError as exc:
            echo(f"point {group}: no verdict ({exc})")
            continue
        echo(f"point {group} (seeds {seeds}):")
        for v in verdicts.values():
            echo("  " + format_seed_verdict(v))
        result[group] = verdicts
    write_json(out / "inspect" / "verdicts.json", {"alpha": alpha, "n_draws": n_draws, "points": result})
    echo(f"wrote {out / 'inspect' / 'verdicts.json'}")
    return result


def t_interval(values, confidence=0.95):
    """Mean and half-width of the two-sided t-interval of ``values`` (half-width NaN for fewer than 2).

    >>> m, h = t_interval([1.0, 2.0, 3.0])
    >>> round(m, 3), round(h, 3)
    (2.0, 2.484)
    """
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and v != ""], dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size < 2:
        return float(x.mean()), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(half)


def group_stats(sweep, rows):
    """Per (group, preset): seeds, and mean and t-interval of accuracy, accuracy difference and worst ff angle."""
    out = {}
    for r in rows:
        out.setdefault((r["group"], r["preset"]), []).append(r)
    stats = {}
    for key, rs in out.items():
        ok = [r for r in rs if r["status"] == "done"]
        stats[key] = {
            "values": {k: rs[0][k] for k in sweep.keys}, "n": len(ok), "of": len(rs),
            "acc": t_interval([r["final_test_acc"] for r in ok]),
            "dacc": t_interval([r["acc_minus_reference"] for r in ok]),
            "angle": t_interval([r["ff_angle_worst"] for r in ok]),
            "verdict": rs[0].get("verdict", ""),
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


# ---- command line -----------------------------------------------------------------------------
def _positive_int(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        import argparse

        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def register(subparsers):
    """Add the ``sweep`` command to an :mod:`argparse` subparsers object."""
    p = subparsers.add_parser(
        "sweep", help="run a parameter sweep on dask.distributed (phase diagrams, seeds)",
        description=("Run every point of SWEEP.toml (a run configuration plus a [sweep] table of dotted keys with "
                     "lists of values and seeds = [...]) on a local Dask cluster or an existing one. Each point "
                     "writes a run folder under OUT/points/; sweep.csv, phase diagrams and sweep.md summarise them. "
                     "A rerun into the same folder runs only what is not done. See docs/sweeps.md."))
    p.add_argument("sweep_file", help="TOML file: configuration sections plus [sweep]")
    p.add_argument("--out", help="sweep folder (default: a new results/sweep-<time>)")
    p.add_argument("--workers", type=_positive_int, help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--quick", action="store_true", help="apply `run --quick`'s settings to every point")
    p.add_argument("--retries", type=int, default=0, help="retries of a point that fails (default 0)")
    p.set_defaults(func=_main)


def _main(args):
    from .errors import EXIT_OK, EXIT_UNSTABLE

    args.resume_hint = "Rerun the same command to resume: finished runs are skipped."
    if args.retries < 0:
        raise SweepError(f"--retries must be >= 0, got {args.retries}")
    if args.scheduler and args.workers:
        raise SweepError("--workers sets the size of the local cluster; with --scheduler the cluster's own workers run")
    sweep = load_sweep(args.sweep_file, quick=args.quick)
    summary = run_sweep(sweep, args.out, workers=args.workers, scheduler=args.scheduler, retries=args.retries)
    if summary["failed"]:
        print(f"selfassembly sweep: {summary['failed']} runs failed (see sweep.csv); rerun to retry them",
              file=sys.stderr)
    if summary["diverged"] or summary["unstable"]:
        print(f"selfassembly sweep: {summary['diverged']} runs diverged and {summary['unstable']} became unstable "
              "(see sweep.csv)", file=sys.stderr)
    if summary["failed"] or summary["diverged"] or summary["unstable"]:
        return EXIT_UNSTABLE  # the others still ran
    return EXIT_OK
