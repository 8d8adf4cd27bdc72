"""The command line of the sweep engine: ``selfassembly sweep``, and ``selfassembly inspect`` on a sweep folder.

``inspect`` is defined by :mod:`selfassembly.analysis.inspect` for run folders; the sweep
engine, which sits above the analysis, registers it with :func:`inspect_command`, which
hands a sweep folder to :func:`~selfassembly.sweep.table.inspect_sweep` and anything else
to the analysis. The analysis never imports the sweep.
"""
from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from .execute import run_sweep
from .spec import SweepError, load_sweep
from .table import inspect_sweep, is_sweep_folder

__all__ = ["register", "register_inspect", "inspect_command", "write_sweep_manifest", "SLICE_TOLERANCE"]

#: what ``make reproduce`` compares of a sweep's slice, and how closely: the numpy engine (and Brian2's
#: runtime targets) are deterministic on one machine and sweep.csv holds the numbers in full, so the
#: accuracy must be equal (one test image is far above 1e-9) and the angles equal to 1e-6 degrees
#: (room for another BLAS summation order)
SLICE_TOLERANCE = {"final_test_acc": 1e-9, "ff_angle_worst": 1e-6}


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
    from ..errors import EXIT_OK, EXIT_UNSTABLE
    from .execute import _default_out

    if args.retries < 0:
        raise SweepError(f"--retries must be >= 0, got {args.retries}")
    if args.scheduler and args.workers:
        raise SweepError("--workers sets the size of the local cluster; with --scheduler the cluster's own workers run")
    sweep = load_sweep(args.sweep_file, quick=args.quick)
    out = args.out or str(_default_out())
    argv = list(getattr(args, "argv", None) or ["sweep", args.sweep_file])
    if not args.out:  # the rerun must name the folder this run created, or it would start a new one
        argv += ["--out", out]
    args.resume_hint = (f"Finished runs are kept in {out}; to resume, run the same command with the same --out: "
                        f"selfassembly {shlex.join(argv)}")
    started = time.time()
    summary = run_sweep(sweep, out, workers=args.workers, scheduler=args.scheduler, retries=args.retries)
    write_sweep_manifest(sweep, out, argv, vars(args), started, summary)
    if summary["failed"]:
        print(f"selfassembly sweep: {summary['failed']} runs failed (see sweep.csv); rerun to retry them",
              file=sys.stderr)
    if summary["diverged"] or summary["unstable"]:
        print(f"selfassembly sweep: {summary['diverged']} runs diverged and {summary['unstable']} became unstable "
              "(see sweep.csv)", file=sys.stderr)
    if summary["failed"] or summary["diverged"] or summary["unstable"]:
        return EXIT_UNSTABLE  # the others still ran
    return EXIT_OK


def write_sweep_manifest(sweep, out, argv, options, started, summary):
    """``OUT/manifest.json`` (:func:`selfassembly.manifest.write_manifest`) of a ``selfassembly sweep`` call.

    It records the command (``selfassembly`` and ``argv``), the code version, the settings (the
    command's options, the sweep's base configuration with every default resolved, its swept
    values, seeds, zip and reference), this call's wall time and counts, the machine, and the
    slice ``make reproduce`` reruns: the first point's first preset that finished (one run,
    compared with sweep.csv within :data:`SLICE_TOLERANCE`). A call that ran nothing (every run
    already done) leaves an existing manifest as it is; a call that resumed an interrupted sweep
    keeps the earlier calls in ``earlier_calls``. Returns the manifest, or None when left as is.
    """
    from ..manifest import MANIFEST, earlier_calls, write_manifest

    out = Path(out)
    if not summary["ran"] and (out / MANIFEST).is_file():
        return None
    settings = {**{k: options.get(k) for k in ("sweep_file", "quick", "workers", "scheduler", "retries")},
                "presets": list(sweep.presets), "values": sweep.values, "seeds": list(sweep.seeds),
                "zip": list(sweep.zip), "reference": sweep.reference, "points": len(sweep.points),
                "configuration": sweep.base.to_dict()}
    reproduce = None
    for p in sweep.points[:1]:
        try:
            done = json.loads((out / "points" / p.id / "summary.json").read_text()).get("presets", {})
        except (OSError, ValueError):
            done = {}
        preset = next((name for name in sweep.presets if (done.get(name) or {}).get("status") == "done"), None)
        if preset is not None:
            reproduce = {"point": p.id, "preset": preset, "compare": list(SLICE_TOLERANCE),
                         "tolerance": dict(SLICE_TOLERANCE)}
    counts = {k: summary[k] for k in ("runs", "skipped", "ran", "simulations", "done", "diverged", "unstable",
                                      "failed", "workers", "scheduler", "wall_time_s")}
    earlier = earlier_calls(out) if summary["skipped"] else []
    return write_manifest(out, __file__, argv, settings, started, reproduce=reproduce, program="selfassembly",
                          this_call=counts, **({"earlier_calls": earlier} if earlier else {}))


def register_inspect(subparsers):
    """Add the ``inspect`` command (:func:`selfassembly.analysis.inspect.register`), able to read sweep folders."""
    from ..analysis.inspect import register

    p = register(subparsers)
    p.set_defaults(func=inspect_command)
    return p


def inspect_command(args):
    """``selfassembly inspect``: a sweep folder gives the across-seed verdict of every point; run folders go to
    :func:`selfassembly.analysis.inspect.command`."""
    from ..analysis import inspect as run_inspect

    if len(args.results_dir) == 1 and is_sweep_folder(args.results_dir[0]):
        run_inspect.check_args(args)
        inspect_sweep(args.results_dir[0], out_dir=args.out, presets=args.presets, alpha=args.alpha,
                      n_draws=args.n_draws, n_samples=args.n_samples, echo=lambda line: print(line, file=sys.stdout))
        return 0
    return run_inspect.command(args)
