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
from ..errors import InputError
from ..folders import SWEEP_MARKERS, claim_folder
from ..io import atomic_write_text, write_csv, write_json
from .spec import SweepError
from .table import sweep_markdown, sweep_rows
from .tasks import render_plots, run_task

__all__ = ["run_sweep", "pending", "effective_key", "start_client", "check_points", "check_scheduler",
           "check_sweep_folder", "worker_count", "CSV_EVERY_S", "SCHEDULER_TIMEOUT_S"]

#: sweep.csv is rewritten at most this often while runs come in (and always at the end)
CSV_EVERY_S = 10.0
#: seconds a --scheduler address has to answer as a Dask scheduler
SCHEDULER_TIMEOUT_S = 30.0


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


def check_points(sweep):
    """Check every point as ``selfassembly run`` checks its configuration, before anything runs or is written.

    Each point goes through :func:`selfassembly.experiment.check_run` (layer sizes against the data,
    records_per_epoch against the training samples, the memory limit), with its data loaded by
    :func:`~selfassembly.experiment.load_run_data` (which finds a missing MNIST folder or a bad data
    file); each distinct data configuration is loaded once. The seed is left out of that key: it only
    shuffles the split, and what check_run reads (the sizes of the data and of the split) does not
    depend on it.

    Raises
    ------
    SweepError
        Naming the point and the message of run's check (which names the key and the fix).
    """
    from ..experiment import check_run, load_run_data

    loaded = {}
    for p in sweep.points:
        c = p.config
        key = (c.dataset, c.label_column, c.task, c.test_fraction, c.mnist_dir, c.max_train)
        try:
            if key not in loaded:
                loaded[key] = load_run_data(c)
            check_run(c, loaded[key])
        except InputError as exc:
            raise SweepError(f"sweep point {p.id}: {exc} (every point is checked before any runs)") from None


def check_sweep_folder(sweep, out):
    """Refuse a sweep folder that another sweep wrote: its ``sweep.toml`` is not this sweep's (read only).

    A new or empty folder passes. A sweep folder must hold the ``sweep.toml`` of this same sweep
    (the resolved file, so ``--quick`` counts), and every point folder in it the configuration of
    its point.

    Raises
    ------
    SweepError
        Naming what differs and what to do.
    """
    from ..config import differences, parse_toml
    from .spec import parse_sweep

    out = Path(out)
    markers = [m for m in SWEEP_MARKERS if (out / m).exists()]
    if not markers:
        return
    path = out / "sweep.toml"
    if not path.is_file():
        raise SweepError(f"{out} holds {', '.join(markers)} but no sweep.toml, so which sweep wrote it cannot be "
                         "checked; choose a new --out folder (or restore its sweep.toml to resume that sweep)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"{path} is not a sweep file selfassembly wrote ({exc}); choose a new --out folder") from None
    fix = f"choose a new --out folder, or resume that sweep with: selfassembly sweep {path} --out {out}"
    if text != sweep.to_toml():
        try:
            old = parse_sweep(parse_toml(text, path), source=str(path))
        except InputError as exc:
            raise SweepError(f"{out} holds a sweep.toml that is not a sweep selfassembly can read ({exc}); choose a "
                             "new --out folder") from None
        diff = [f"{key} ({a!r} there, {b!r} now)" for key, a, b in differences(old.base, sweep.base)]
        for name, a, b in (("[sweep] values", old.values, sweep.values), ("[sweep] seeds", old.seeds, sweep.seeds),
                           ("[sweep] zip", old.zip, sweep.zip), ("[sweep] reference", old.reference, sweep.reference)):
            if a != b:
                diff.append(f"{name} ({a!r} there, {b!r} now)")
        shown = "; ".join(diff[:3]) + (" ..." if len(diff) > 3 else "") if diff else "its sweep.toml differs"
        raise SweepError(f"{out} holds a sweep of a different configuration ({shown}); {fix}")
    for p in sweep.points:  # the point folders of this sweep hold its points (not copied or edited ones)
        config_path = out / "points" / p.id / "config.toml"
        if config_path.is_file() and load_config(config_path).to_dict() != p.config.to_dict():
            raise SweepError(f"{out} holds a sweep of a different configuration (point {p.id} differs from its "
                             f"sweep.toml); {fix}")


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

    rules = config.rules(preset)
    used = used_parameters(rules)
    d = config.to_dict()
    d["training"].pop("presets")
    if rules.cross_init == "identity":  # U = V = I whatever [connectivity.U] and [connectivity.V] say
        for family in "UV":
            d["connectivity"].pop(family, None)
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


def worker_count(workers, n_simulations, cores=None):
    """Worker processes of the local cluster: ``--workers`` (default: the cores), capped at the simulations to
    do and at the cores; returns ``(n, note)``, the note ("" if none) saying why fewer than asked start.

    More processes than simulations would only wait, and more than cores would share them (each worker
    runs one simulation on one core); hundreds of them take minutes to start.

    >>> worker_count(999, 3, cores=8)[0], worker_count(None, 40, cores=8), worker_count(4, 40, cores=2)[0]
    (3, (8, ''), 2)
    """
    cores = cores or _cores()
    n = max(1, min(workers or cores, cores, n_simulations))
    note = ""
    if workers and n < workers:
        why = [f"{n_simulations} simulation{'s' * (n_simulations != 1)} to do"] if n_simulations < workers else []
        why += [f"{cores} cores"] if cores < workers else []
        why = " and ".join(why)
        note = (f"note: --workers {workers} capped at {n} (there are {why}; a worker runs one simulation at a time "
                "on one core)")
    return n, note


def check_scheduler(address, timeout=None):
    """Check that ``address`` answers as a Dask scheduler within ``timeout`` seconds (default
    :data:`SCHEDULER_TIMEOUT_S`).

    Dask's own connection waits without a limit for the reply to its handshake, so a server that
    accepts and then says nothing, or something that is not Dask, would hang the sweep; here the
    whole exchange (connect, handshake, the scheduler's ``identity``) has one deadline.

    Raises
    ------
    SweepError
        The address is malformed, refuses the connection, does not answer in time, or answers as
        something other than a Dask scheduler.
    """
    import asyncio

    from distributed.comm import connect, parse_address

    timeout = SCHEDULER_TIMEOUT_S if timeout is None else timeout
    what = f"--scheduler {address}"
    fix = "give the address a Dask scheduler prints at its start, e.g. tcp://HOST:8786, or leave --scheduler out"
    try:
        parse_address(address, strict=True)
    except (ValueError, TypeError) as exc:
        raise SweepError(f"{what} is not a Dask scheduler address ({exc}); {fix}") from None

    connected = []  # set once the connection is open: a failure after it is the other side's reply

    async def identity():
        comm = await connect(address, timeout=timeout)  # (including Dask's handshake)
        connected.append(True)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        reply = asyncio.run(asyncio.wait_for(identity(), timeout))
    except asyncio.TimeoutError:
        raise SweepError(f"{what} did not answer as a Dask scheduler within {timeout:g} s (no connection, or "
                         f"something there does not speak Dask's protocol, or is stuck); {fix}") from None
    except Exception as exc:  # noqa: BLE001 - refused, reset, or a reply that is not Dask's (any decoding error)
        why = (f"it accepted the connection, but its reply is not Dask's protocol ({type(exc).__name__})"
               if connected or not isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}")
        raise SweepError(f"{what} did not answer as a Dask scheduler: {why}; {fix}") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise SweepError(f"{what} answered, but not as a Dask scheduler (it says it is {kind!s}); {fix}")


def start_client(workers, scheduler):
    """A dask.distributed Client: on the given scheduler, or on a new LocalCluster of ``workers`` processes
    (default: one per core; :func:`run_sweep` caps it with :func:`worker_count`)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s")
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
    """Write the sweep's ``sweep.toml`` and ``points.csv`` into ``out`` (held and checked by :func:`run_sweep`)."""
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
        runs only what is not finished. It is held with
        :func:`selfassembly.folders.claim_folder` while the sweep runs: a second
        process is refused at once, and a folder of anything else (a run folder,
        a user's files, another sweep: :func:`check_sweep_folder`) is refused
        before anything is written.
    workers : int, optional
        Worker processes of the local cluster (default: one per core), capped
        by :func:`worker_count` at the simulations to do and the cores.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) instead of
        a local cluster; checked first by :func:`check_scheduler`.
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

    Raises
    ------
    SweepError, RunFolderError
        Before anything runs or is written: a point that ``selfassembly run``
        would refuse (:func:`check_points`), a scheduler that does not answer
        as Dask, a folder that is not this sweep's or is held by another process.
    """
    out = Path(out) if out else _default_out()
    check_points(sweep)  # before anything is written, as `selfassembly run` does
    if scheduler:
        check_scheduler(scheduler)
    echo = lambda line: _progress(line, progress)  # noqa: E731
    with claim_folder(out, "sweep", command="selfassembly sweep", configuration=lambda d: check_sweep_folder(sweep, d),
                      echo=echo):
        return _run_in(sweep, out, workers, scheduler, retries, progress)


def _run_in(sweep, out, workers, scheduler, retries, progress):
    """The body of :func:`run_sweep`, in a folder it holds."""
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
        if not scheduler:
            workers, note = worker_count(workers, len(todo))
            if note:
                _progress(note, progress)
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
