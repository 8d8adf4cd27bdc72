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
``manifest.json``
    The command, code version, settings (the base configuration with its defaults resolved),
    wall time and machine of the call that ran (:func:`~selfassembly.sweep.command.write_sweep_manifest`),
    and the one run ``make reproduce`` reruns.

A rerun into the same folder skips every (point, preset) whose run folder
holds it finished (done, diverged or unstable; verified by
:func:`selfassembly.experiment.preset_done`, which loads the snapshots),
and runs the rest. The folder is held by one sweep at a time, and only a sweep folder of this same
sweep is written into (:func:`~selfassembly.sweep.execute.check_sweep_folder`, through
:func:`selfassembly.folders.claim_folder`, the check every writer goes through); every point gets
``selfassembly run``'s own checks before anything runs (:func:`~selfassembly.sweep.execute.check_points`).

Modules
-------
:mod:`~selfassembly.sweep.spec`
    The sweep file and its grid of points (:func:`~selfassembly.sweep.spec.load_sweep`, :func:`~selfassembly.sweep.spec.parse_sweep`).
:mod:`~selfassembly.sweep.execute`
    What is left to do, the Dask cluster and the client's loop (:func:`~selfassembly.sweep.execute.run_sweep`).
:mod:`~selfassembly.sweep.tasks`
    What runs on a worker.
:mod:`~selfassembly.sweep.learning_run`
    What runs on a worker for ``benchmarks/learning.py``: one training run of its protocol.
:mod:`~selfassembly.sweep.table`
    ``sweep.csv``, the verdict of each point, ``sweep.md``, ``selfassembly inspect SWEEP_DIR``.
:mod:`~selfassembly.sweep.plots`
    The phase diagrams (imported only when drawn: it selects matplotlib's backend).
:mod:`~selfassembly.sweep.command`
    The ``sweep`` and ``inspect`` commands.

The sweep sits above :mod:`selfassembly.experiment` and :mod:`selfassembly.analysis`;
neither imports it.
"""
from .command import inspect_command, register, register_inspect
from .execute import (check_points, check_scheduler, check_sweep_folder, effective_key, pending, run_sweep, start_client,
                      worker_count)
from .spec import Point, Sweep, SweepError, load_sweep, parse_sweep, valid_keys
from .table import (group_stats, inspect_sweep, is_sweep_folder, point_verdicts, sweep_groups, sweep_markdown,
                    sweep_rows, verdict_positive)

__all__ = ["SweepError", "Sweep", "Point", "load_sweep", "parse_sweep", "valid_keys", "run_sweep", "pending",
           "effective_key", "start_client", "check_points", "check_scheduler", "check_sweep_folder", "worker_count", "sweep_rows", "sweep_groups", "point_verdicts", "verdict_positive",
           "inspect_sweep", "is_sweep_folder", "group_stats", "sweep_markdown", "register", "register_inspect",
           "inspect_command"]
