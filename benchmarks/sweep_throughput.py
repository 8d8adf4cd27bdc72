"""Sweep throughput: points per minute with 1 and 2 Dask workers, and cpp_standalone's compiled reuse.

    python benchmarks/sweep_throughput.py [--quick] [--out benchmarks/results/sweep]

Part 1 runs the same sweep (one preset, ``--points`` values of eta, each its
own simulation) with ``selfassembly.sweep.run_sweep`` on a LocalCluster of 1
and then 2 worker processes, and reports points per minute end to end (cluster
start included) and after the cluster started, and the ratio 2 workers / 1.

Part 2 runs ``--cpp-points`` cpp_standalone points that differ only in eta_c,
in this process, once compiling each point (``run_preset`` as ``selfassembly
run`` does) and once with :class:`selfassembly.binaries.StandaloneBinaries`
(one compilation, then ``run_args``), both with ``make -j<cores>``, and
reports the time per point of each.

The load average before and after each part is recorded, and a control in
the same run: the work 2 CPU-bound Python processes do at once against 1
alone. Other processes on the machine lower both; the sweep's ratio cannot
exceed the control's.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "sweep"


def _load():
    return [round(x, 2) for x in os.getloadavg()]


_SPIN = ("import time\nt = time.perf_counter(); n = 0\nwhile time.perf_counter() - t < {s}:\n"
         "    for _ in range(10000): n += 1\nprint(n)")


def machine_ratio(seconds=8.0):
    """The control: work done by 2 CPU-bound processes at once against 1 alone, in plain Python.

    On an idle 2-core machine this is about 2; other load on the machine lowers it, and the
    sweep's 2-worker ratio cannot exceed it.
    """
    import subprocess

    def spin(n):
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN.format(s=seconds)], stdout=subprocess.PIPE, text=True)
                 for _ in range(n)]
        return sum(int(p.communicate()[0]) for p in procs)

    one = spin(1)
    two = spin(2)
    return round(two / one, 2)


def throughput(workers, args, work):
    """One sweep on a fresh LocalCluster of ``workers`` processes; its timing."""
    from selfassembly.sweep import parse_sweep, run_sweep

    etas = [round(0.005 * (k + 1), 4) for k in range(args.points)]
    sweep = parse_sweep({
        "circuit": {"sizes": args.sizes}, "training": {"presets": ["kolen_pollack"], "epochs": args.epochs},
        "data": {"max_train": args.max_train}, "sweep": {"plasticity.eta": etas, "seeds": [0]}})
    out = work / f"workers{workers}"
    shutil.rmtree(out, ignore_errors=True)
    load0 = _load()
    t0 = time.perf_counter()
    summary = run_sweep(sweep, out, workers=workers, progress=None)
    wall = time.perf_counter() - t0
    assert summary["done"] == args.points, summary
    compute = wall - summary["cluster_start_s"]
    return {"workers": workers, "points": args.points, "wall_s": round(wall, 2),
            "cluster_start_s": summary["cluster_start_s"],
            "points_per_min": round(args.points / wall * 60, 2),
            "points_per_min_after_start": round(args.points / compute * 60, 2),
            "load_before": load0, "load_after": _load()}


def cpp_reuse(args, work):
    """cpp_standalone points differing only in eta_c: compile each vs one binary reused."""
    import brian2 as b2

    from selfassembly.binaries import StandaloneBinaries
    from selfassembly.config import ExperimentConfig
    from selfassembly.datasets import load_dataset
    from selfassembly.experiment import run_preset

    jobs = len(os.sched_getaffinity(0))
    base = ExperimentConfig(sizes=args.cpp_sizes, presets=["four_synapse"], epochs=1, max_train=args.max_train,
                            target="cpp_standalone")
    data = load_dataset(base.dataset, base.test_fraction, base.seed, None)
    if base.max_train:
        data.X_train, data.Y_train = data.X_train[: base.max_train], data.Y_train[: base.max_train]
    values = [0.001 * 2 ** k for k in range(args.cpp_points)]
    load0 = _load()
    each = []
    for k, v in enumerate(values):
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{jobs}"]
        t = time.perf_counter()
        run_preset(base.replace(eta_c=v), "four_synapse", data, progress=None, standalone_dir=str(work / f"cpp{k}"))
        each.append(time.perf_counter() - t)
    binaries = StandaloneBinaries(make_jobs=jobs, root=work / "reuse")
    reused = []
    for v in values:
        t = time.perf_counter()
        run_preset(base.replace(eta_c=v), "four_synapse", data, progress=None, binaries=binaries)
        reused.append(time.perf_counter() - t)
    return {"points": len(values), "sizes": args.cpp_sizes, "presentations": len(data.X_train), "make_jobs": jobs,
            "compile_each_s": [round(x, 2) for x in each], "reuse_s": [round(x, 2) for x in reused],
            "compile_each_per_point_s": round(sum(each) / len(each), 2),
            "reuse_per_point_s": round(sum(reused) / len(reused), 2),
            "reuse_after_first_s": round(sum(reused[1:]) / max(1, len(reused) - 1), 3),
            "binaries": binaries.stats(), "load_before": load0, "load_after": _load()}


def markdown(report):
    t = {r["workers"]: r for r in report["throughput"]}
    lines = ["# Sweep throughput", "", f"{report['machine']}; {report['date']}.", "",
             "| workers | points | wall (s) | cluster start (s) | points/min | points/min after start | load avg before -> after |",
             "|---|---|---|---|---|---|---|"]
    for w, r in sorted(t.items()):
        lines.append(f"| {w} | {r['points']} | {r['wall_s']:.1f} | {r['cluster_start_s']:.1f} | {r['points_per_min']:.2f} | "
                     f"{r['points_per_min_after_start']:.2f} | {r['load_before'][0]} -> {r['load_after'][0]} |")
    if 1 in t and 2 in t:
        lines += ["", f"Ratio 2 workers / 1: {report['ratio']:.2f} end to end, {report['ratio_after_start']:.2f} "
                      "after the cluster started (target >= 1.7). Control, 2 busy Python processes against 1 "
                      f"(2.0 on an idle 2-core machine): {report['machine_ratio_before']:.2f} before, "
                      f"{report['machine_ratio_after']:.2f} after."]
    c = report.get("cpp")
    if c:
        lines += ["", f"cpp_standalone, {c['points']} points of four_synapse {c['sizes']} ({c['presentations']} "
                      f"presentations) differing only in eta_c, make -j{c['make_jobs']}:", "",
                  f"- compiling each point: {c['compile_each_per_point_s']:.1f} s per point ({c['compile_each_s']})",
                  f"- one binary reused through run_args: {c['reuse_per_point_s']:.1f} s per point ({c['reuse_s']}; "
                  f"{c['reuse_after_first_s']:.2f} s per point after the first), {c['binaries']}",
                  f"- load average {c['load_before'][0]} -> {c['load_after'][0]}"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=8, help="sweep points (one simulation each)")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[64, 128, 128, 10])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-train", dest="max_train", type=int, default=0, help="training samples (0: all)")
    ap.add_argument("--cpp-points", dest="cpp_points", type=int, default=3, help="cpp_standalone points (0: skip)")
    ap.add_argument("--cpp-sizes", dest="cpp_sizes", type=lambda s: [int(x) for x in s.split(",")],
                    default=[64, 32, 32, 10])
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--quick", action="store_true", help="tiny sizes, no cpp_standalone (a smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.points, args.sizes, args.epochs, args.max_train, args.cpp_points = 4, [64, 16, 10], 1, 120, 0
        if Path(args.out) == DEFAULT_OUT:
            args.out = str(DEFAULT_OUT.parent / "sweep_quick")
    started = time.time()
    out = Path(args.out)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    import platform

    report = {"machine": f"{platform.node()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}",
              "date": time.strftime("%Y-%m-%d %H:%M"), "throughput": []}
    report["machine_ratio_before"] = machine_ratio()
    print(f"control: 2 busy processes do {report['machine_ratio_before']:.2f} x the work of 1 (2.0 on an idle "
          f"2-core machine)", flush=True)
    for workers in (1, 2):
        r = throughput(workers, args, work)
        report["throughput"].append(r)
        print(f"{workers} worker(s): {r['points']} points in {r['wall_s']:.1f} s (cluster start {r['cluster_start_s']:.1f} s): "
              f"{r['points_per_min']:.2f} points/min, {r['points_per_min_after_start']:.2f} after start; "
              f"load {r['load_before']} -> {r['load_after']}", flush=True)
    one, two = report["throughput"]
    report["ratio"] = round(two["points_per_min"] / one["points_per_min"], 2)
    report["ratio_after_start"] = round(two["points_per_min_after_start"] / one["points_per_min_after_start"], 2)
    report["machine_ratio_after"] = machine_ratio()
    print(f"ratio 2 workers / 1: {report['ratio']:.2f} end to end, {report['ratio_after_start']:.2f} after start "
          f"(target >= 1.7); control after: {report['machine_ratio_after']:.2f}", flush=True)
    if args.cpp_points:
        report["cpp"] = c = cpp_reuse(args, work)
        print(f"cpp_standalone: {c['compile_each_per_point_s']:.1f} s per point compiling each, "
              f"{c['reuse_per_point_s']:.1f} s per point reusing one binary ({c['reuse_after_first_s']:.2f} s after "
              f"the first); {c['binaries']}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    from selfassembly.io import atomic_write_text, write_json
    from selfassembly.manifest import write_manifest

    write_json(out / "sweep_throughput.json", report)
    atomic_write_text(out / "sweep_throughput.md", markdown(report))
    write_manifest(out, __file__, argv, vars(args), started,
                   reproduce={"timing": True, "why": "points per minute depend on the machine and its load: "
                                                     "rerun the command on a quiet machine to compare"})
    print(f"written: {out / 'sweep_throughput.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
