"""Running a sweep on dask.distributed: what is left to do, the cluster, and the client's loop.

One Dask task is one simulation: a (point, preset) run, or several runs that differ only in
parameters their preset does not use (:func:`effective_key`), simulated once and written into
each of their point folders. The client writes every result as it arrives (so an interrupted
sweep keeps what finished), has a worker render each point's plots once all its runs are in,
and writes ``sweep.csv``, ``sweep.json``, the figures and ``sweep.md`` at the end.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path

from ..config import load_config
from ..io import atomic_write_text, write_csv, write_json
from .spec import SweepError
from .table import sweep_markdown, sweep_rows
from .tasks import render_plots, run_task

__all__ = ["run_sweep", "pending", "effective_key", "start_client", "CSV_EVERY_S"]

#: sweep.csv is rewritten at most this often while runs come in (and always at the end)
CSV_EVERY_S = 10.0


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
    from ..experiment import preset_done

    return (point_dir / "config.toml").is_file() and preset_done(point_dir, config, preset)


def _check_data_files(sweep):
    """Check users' data files, and every point's layer sizes against them, before anything runs.

    (The bundled data sets are loaded on the workers; a point that cannot load them fails alone.)
    """
    from ..datasets import is_data_file
    from ..experiment import check_run, load_run_data

    loaded = {}
    for p in sweep.points:
        c = p.config
        if is_data_file(c.dataset):
            key = (c.dataset, c.label_column, c.task, c.test_fraction, c.seed, c.max_train)
            if key not in loaded:
                loaded[key] = load_run_data(c)
            check_run(c, loaded[key])


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
    from ..binaries import RUNTIME_PARAMETERS, used_parameters

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
    from ..binaries import structure_key

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


def _prepare_folder(sweep, out):
    """Check ``out`` against the sweep and write its ``sweep.toml`` and ``points.csv``."""
    _check_folder(sweep, out)
    _check_data_files(sweep)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "sweep.toml", sweep.to_toml())
    write_csv(out / "points.csv", [{"point": p.id, "seed": p.seed, **{k: json.dumps(v) if isinstance(v, list) else v
                                                                    for k, v in p.values.items()}}
                                   for p in sweep.points])


class _Recorder:
    """The client's side of a running sweep: writes each result into the folders of the runs it stands
    for as it arrives, counts, reports progress and rewrites ``sweep.csv`` now and then."""

    def __init__(self, sweep, out, n_simulations, progress):
        self.sweep, self.out, self.n, self.progress = sweep, out, n_simulations, progress
        self.failures = {}  # (point id, preset) -> message
        self.summaries = {}  # point id -> summary.json, for sweep.csv (dropped when the point changes)
        self.recorded = set()  # points with at least one run written
        self.compiles = {"compiles": 0, "compile_s": 0.0, "reused": 0}
        self.done = self.failed = 0
        self.t0 = self.csv_written = time.perf_counter()

    def record(self, fut, members):
        """Write the result of one simulation (``members``: the (point, preset) runs it stands for)."""
        from ..experiment import prepare_run_folder, record_preset

        p, preset = members[0]
        try:
            res = fut.result()
        except Exception as exc:  # the task raised (after its retries) or kept killing workers
            self.failed += 1
            for q, _ in members:
                self.failures[(q.id, preset)] = f"{type(exc).__name__}: {exc}"
            status = f"FAILED: {type(exc).__name__}: {exc}"
        else:
            result = res["result"]
            for q, _ in members:
                record_preset(prepare_run_folder(self.out / "points" / q.id, q.config), q.config, result, plots=False)
                self.recorded.add(q.id)
                self.summaries.pop(q.id, None)  # reread once from its folder
            for k in ("compiles", "compile_s"):
                self.compiles[k] += res[k]
            self.compiles["reused"] += int(res["reused"])
            self.done += 1
            status = f"{result.status}, acc {result.rows[-1]['test_acc']:.3f}, {result.wall_time:.1f} s"
            if result.status != "done":
                status += f": {result.message}"
        self._report(f"{p.id} {preset}" + (f" (and {len(members) - 1} more points)" if len(members) > 1 else ""),
                     status)

    def _report(self, label, status):
        finished = self.done + self.failed
        elapsed = time.perf_counter() - self.t0
        left = elapsed / finished * (self.n - finished)
        _progress(f"[{finished}/{self.n}] {label}: {status} | {self.failed} failed | "
                  f"{elapsed:.0f} s, about {left:.0f} s left", self.progress)
        if time.perf_counter() - self.csv_written > CSV_EVERY_S:  # the whole table: not after every run
            write_csv(self.out / "sweep.csv", sweep_rows(self.sweep, self.out, self.failures, verdicts=False,
                                                         summaries=self.summaries))
            self.csv_written = time.perf_counter()

    def write_plots(self, fut, point_dir):
        """Write a point's training plots, rendered on a worker."""
        from ..io import atomic_write_bytes

        try:
            for name, png in fut.result().items():
                atomic_write_bytes(point_dir / name, png)
        except Exception as exc:  # a plot must not fail the sweep; the numbers are written
            _progress(f"plots of {point_dir.name} not written: {type(exc).__name__}: {exc}", self.progress)


def _submit(client, todo, make_jobs, retries, token):
    """Submit one task per simulation; returns ``{future: members}`` and the runs each point waits for."""
    futures, waiting = {}, {}
    # same compiled structure one after another, so that workers reuse their binaries
    for members in sorted(todo, key=lambda m: (_structure_order(*m[0]), m[0][0].id)):
        p, preset = members[0]
        # keys of one task group ("selfassembly_run-..."), so that the scheduler queues the runs and
        # hands the next one to whichever worker is free (runs in groups of their own were placed
        # up front, and a worker could wait seconds for work stealing to rebalance)
        fut = client.submit(run_task, p.config.to_dict(), preset, make_jobs,
                            key=f"selfassembly_run-{token}-{len(futures):06d}", retries=retries, pure=False)
        futures[fut] = members
        for q, _ in members:
            waiting[q.id] = waiting.get(q.id, 0) + 1
    return futures, waiting


def _execute(client, todo, make_jobs, retries, recorder):
    """Run ``todo`` on ``client`` and record the results as they come; a point's plots once all its runs are in."""
    from dask.distributed import as_completed

    from ..experiment import read_metrics

    token = uuid.uuid4().hex[:8]
    futures, waiting = _submit(client, todo, make_jobs, retries, token)
    plots = {}  # future of a point's plots -> its folder
    queue = as_completed(list(futures))
    for fut in queue:
        if fut in plots:
            recorder.write_plots(fut, plots.pop(fut))
        else:
            members = futures.pop(fut)
            recorder.record(fut, members)
            for q, _ in members:
                waiting[q.id] -= 1
                if waiting[q.id] == 0 and q.id in recorder.recorded:
                    point_dir = recorder.out / "points" / q.id
                    plot = client.submit(render_plots, read_metrics(point_dir), key=f"selfassembly_plots-{token}-{q.id}",
                                         pure=False, priority=10)
                    plots[plot] = point_dir
                    queue.add(plot)
        fut.release()


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
    out = Path(out) if out else _default_out()
    _prepare_folder(sweep, out)
    todo, skipped = pending(sweep, out)
    n_todo = sum(len(members) for members in todo)
    _progress(f"selfassembly sweep: {len(sweep.points)} points x {len(sweep.presets)} presets = "
              f"{len(sweep.points) * len(sweep.presets)} runs; {skipped} already done, {n_todo} to do in "
              f"{len(todo)} simulations (runs that differ only in parameters their preset does not use are "
              f"simulated once) -> {out}", progress)
    recorder = _Recorder(sweep, out, len(todo), progress)
    info = {"skipped": skipped, "ran": n_todo, "simulations": len(todo), "workers": 0, "scheduler": scheduler,
            "dashboard": None, "start_s": 0.0, "make_jobs": 1}
    if todo:
        client, cluster, n_workers, make_jobs = start_client(workers, scheduler)
        info.update(workers=n_workers, make_jobs=make_jobs, start_s=time.perf_counter() - recorder.t0)
        try:
            dashboard = info["dashboard"] = _dashboard(client)
            _progress(f"dask: {n_workers} workers ({'scheduler ' + scheduler if scheduler else 'local cluster'})"
                      + (f", dashboard {dashboard}" if dashboard else ", no dashboard (install bokeh for one)"), progress)
            _execute(client, todo, make_jobs, retries, recorder)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    summary = _write_results(sweep, out, recorder, info)
    _progress(f"sweep: {summary['done']} done, {summary['diverged']} diverged, {summary['unstable']} unstable, "
              f"{summary['failed']} failed ({skipped} skipped as done) in {summary['wall_time_s']:.0f} s; "
              f"cpp_standalone: {summary['compiled_binaries']} compiled, {summary['binary_reuses']} reused; "
              f"results in {out}", progress)
    return summary


def _write_results(sweep, out, recorder, info):
    """``sweep.csv`` (with the verdicts), ``sweep.json``, the figures and ``sweep.md``; returns the summary."""
    from .plots import write_sweep_figures

    wall = time.perf_counter() - recorder.t0
    rows = sweep_rows(sweep, out, recorder.failures)
    write_csv(out / "sweep.csv", rows)
    statuses = [r["status"] for r in rows]
    n_sims = info["simulations"]
    summary = {
        "points": len(sweep.points), "presets": sweep.presets, "runs": len(sweep.points) * len(sweep.presets),
        "skipped": info["skipped"], "ran": info["ran"], "simulations": n_sims,
        **{status: statuses.count(status) for status in ("done", "diverged", "unstable", "failed", "missing")},
        "workers": info["workers"], "scheduler": info["scheduler"] or "local", "dashboard": info["dashboard"],
        "wall_time_s": round(wall, 2), "cluster_start_s": round(info["start_s"], 2),
        "simulations_per_minute": round(n_sims / wall * 60, 2) if n_sims and wall > 0 else None,
        "compiled_binaries": recorder.compiles["compiles"], "compile_time_s": round(recorder.compiles["compile_s"], 2),
        "binary_reuses": recorder.compiles["reused"], "make_jobs": info["make_jobs"],
        "failures": {f"{k[0]}/{k[1]}": v for k, v in recorder.failures.items()},
    }
    write_json(out / "sweep.json", summary)
    figures = write_sweep_figures(sweep, rows, out)
    atomic_write_text(out / "sweep.md", sweep_markdown(sweep, rows, summary, figures))
    return summary
