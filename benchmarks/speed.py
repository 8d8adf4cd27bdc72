"""Speed benchmark: the two engines, and every Brian2 target, on the same circuits.

Everything is measured in one run, each implementation in its own worker
process (so that each has its own peak memory), one after the other, and
reported side by side as ratios to the numpy engine (float64):

sample-clocked training (MODEL.md "Signals" and "Plasticity", one presentation per step)
    presentations per second of the four_synapse circuit at 64-128-128-10 (the
    default run's circuit) and 784-256-256-10: the numpy engine
    (:class:`selfassembly.circuits.numpy_engine.SampleLoop`) in float64 and in
    float32, and the brian2 engine on its numpy, cython and cpp_standalone targets.
    Targets: the numpy engine at least 10 times Brian2's numpy target at
    64-128-128-10, and at least 40% of the memory roofline at 784-256-256-10.
dynamic mode (rates relax with tau_r, weights integrate continuously)
    synapse updates per second (synapses x time steps / run time; every step
    each synapse transmits and, if plastic, integrates its weight) against
    the numpy engine's :class:`~selfassembly.circuits.numpy_engine.DynamicLoop`.
    Target: cpp_standalone at least 2 times.
hardware limit (the memory roofline)
    this machine's measured read and read-modify-write bandwidth (numpy, on
    arrays the size of the circuit's weights) and dgemm FLOP/s, against the
    arithmetic and the bytes a presentation needs at the least (each weight
    read once for transmission, each plastic weight read and written once for
    its update), in float64 and, for the float32 engine, in float32 (half the
    bytes); the fraction of that limit each implementation reaches, and
    the bytes Brian2's own data layout moves (index arrays included).
build and rebuild
    cpp_standalone: code generation and compilation timed apart from the run;
    then the same binary rerun with new eta and lam through ``run_args`` (no
    compilation). cython: first build (compilation, or the cache), then a
    second worker with new parameters whose build loads every module from the
    cache (the count of newly compiled modules is reported).
peak memory
    peak resident set size of each worker process, of the cpp_standalone
    binary, and of the compilers.

Run::

    .venv/bin/python benchmarks/speed.py            # about 15 minutes on 2 cores, most of it compiling
    .venv/bin/python benchmarks/speed.py --quick    # seconds: small circuit, numpy targets only

Writes ``speed.json`` (every measurement), ``speed.csv``, ``speed.md`` and ``manifest.json``
(the command, code version, options and wall time: :func:`write_speed_manifest`) to
``--out`` (default ``benchmarks/results/speed``); build folders and caches go to
``--work`` (default ``benchmarks/results/speed/work``, not committed).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "speed"
#: the numpy engine in float64 and float32, then Brian2's targets (the brian2 engine)
NUMPY_ENGINE = {"numpy_engine": "float64", "numpy_engine_float32": "float32"}
SAMPLE_TARGETS = (*NUMPY_ENGINE, "numpy", "cython", "cpp_standalone")
#: how the tables name each implementation
LABELS = {"numpy_engine": "numpy engine", "numpy_engine_float32": "numpy engine, float32", "numpy": "brian2 numpy",
          "cython": "brian2 cython", "cpp_standalone": "brian2 cpp_standalone"}
#: timing rounds: after the first (building) run, every implementation is timed again this many times,
#: interleaved (A B C, A B C, ...), and its fastest run counts: the machine is shared and noisy, and
#: interleaving spreads a burst of someone else's work over all implementations
ROUNDS = 3
#: the numpy engine's worker trains this many times afresh in its process (the fastest counts), in
#: each round: it takes seconds, and on a shared machine more tries find a quiet moment
NUMPY_REPEATS = 3
#: dynamic mode time constants (ms): tau_r << T_present, dt well below tau_r; the spontaneous
#: activity's correlation time tau_xi = T_present (the default of selfassembly.circuits.modes.Dynamic)
DYN = {"tau_r_ms": 1.0, "T_present_ms": 10.0, "dt_ms": 0.1, "tau_xi_ms": 10.0}


def _status_mib(field, pid="self"):
    """A memory field of /proc/PID/status in MiB (VmRSS: now, VmHWM: peak of this program image).

    ru_maxrss is not used for peaks: Linux carries it over from the parent at fork and exec,
    so a worker started by a big parent would report the parent's size.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _rss_now_mib():
    return _status_mib("VmRSS")


def _peak_mib():
    return _status_mib("VmHWM")


# ---------------------------------------------------------------------------
# the problem: data, order, initial weights (written once, read by every worker)
# ---------------------------------------------------------------------------

def stimuli(n_in, n_out, n_samples=1000, seed=0):
    """Inputs and one-hot teachers: scikit-learn's digits (upsampled to 28x28 for 784 inputs), else random."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if n_in in (64, 784) and n_out == 10:
        from sklearn.datasets import load_digits

        d = load_digits()
        X = d.data / 16.0
        if n_in == 784:
            from scipy.ndimage import zoom

            X = np.clip(np.stack([zoom(img.reshape(8, 8), 3.5, order=1).ravel() for img in X]), 0, 1)
        labels = d.target
        keep = rng.permutation(len(X))[:n_samples]
        return X[keep], np.eye(10)[labels[keep]]
    return rng.random((n_samples, n_in)), np.eye(n_out)[rng.integers(0, n_out, n_samples)]


def write_problem(path, sizes, preset, n_presentations, seed=0, params=None):
    import numpy as np

    from selfassembly.circuits.connectivity import initial_weights
    from selfassembly.plasticity import make_preset

    params = params or {}
    rules = make_preset(preset, **params)
    w, masks = initial_weights(sizes, rules, seed=seed)
    X, Y = stimuli(sizes[0], sizes[-1], seed=seed)
    order = np.random.default_rng([seed, 7]).integers(0, len(X), n_presentations)
    arrays = {"sizes": np.asarray(sizes), "X": X, "Y": Y, "order": order}
    arrays.update({f"w_{k}": v for k, v in w.items()})
    arrays.update({f"m_{k}": v for k, v in masks.items()})
    np.savez(path, **arrays)
    meta = {"preset": preset, "params": params, "seed": seed}
    Path(str(path) + ".json").write_text(json.dumps(meta))
    return path


def read_problem(path):
    import numpy as np

    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    meta = json.loads(Path(str(path) + ".json").read_text())
    weights = {k[2:]: v for k, v in data.items() if k.startswith("w_")}
    masks = {k[2:]: v for k, v in data.items() if k.startswith("m_")}
    return [int(n) for n in data["sizes"]], data["X"], data["Y"], data["order"], weights, masks, meta


# ---------------------------------------------------------------------------
# workers (each runs in its own process)
# ---------------------------------------------------------------------------

def worker_numpy_engine(problem, mode, result, repeats=1, dtype="float64"):
    import numpy as np
    from threadpoolctl import threadpool_limits

    from selfassembly.circuits.numpy_engine import DynamicLoop, SampleLoop

    from selfassembly.plasticity import make_preset

    rss0 = _rss_now_mib()
    sizes, X, Y, order, w, masks, meta = read_problem(problem)
    rules = make_preset(meta["preset"], **meta["params"])
    times = []
    for _ in range(repeats):  # each repeat trains afresh from the same initial weights
        t0 = time.perf_counter()
        if mode == "sample":
            loop = SampleLoop(sizes, rules, w, dtype=dtype)
            steps = len(order)
        else:
            loop = DynamicLoop(sizes, rules, w, DYN["tau_r_ms"], DYN["T_present_ms"], DYN["dt_ms"],
                               tau_xi_ms=DYN["tau_xi_ms"])
            steps = len(order) * loop.steps_per_presentation
        t1 = time.perf_counter()
        with threadpool_limits(limits=1, user_api="blas"):  # as NumpyCircuit runs it
            loop.train(X, Y, order, np.random.default_rng(meta["seed"]))
        times.append(time.perf_counter() - t1)
    np.savez(result + ".weights.npz", **loop.weights())
    return {"setup_s": t1 - t0, "build_s": 0.0, "run_s": min(times), "run_s_all": times, "steps": steps,
            "rss_after_imports_mib": rss0, "maxrss_mib": _peak_mib()}


def _brian_circuit(problem, mode, params_override=None):
    import brian2 as b2

    from selfassembly.circuits import Dynamic, Stimulus, build_circuit
    from selfassembly.plasticity import make_preset

    sizes, X, Y, order, w, masks, meta = read_problem(problem)
    params = dict(meta["params"], **(params_override or {}))
    rules = make_preset(meta["preset"], **params)
    m = Dynamic(**DYN) if mode == "dynamic" else None
    b2.seed(meta["seed"])
    c = build_circuit(sizes, rules, w, masks, Stimulus(X, Y, order), mode=m, name="bench")
    return c, len(order)


def worker_runtime(problem, mode, result, target, cache_dir=None, params_override=None, repeats=1):
    """Brian2 numpy or cython: the first one-presentation run generates and compiles (or loads) the code."""
    import numpy as np

    from selfassembly.circuits import configure_target

    rss0 = _rss_now_mib()
    configure_target(target, cache_dir=cache_dir)
    cache = Path(cache_dir) if cache_dir else None
    before = set(cache.rglob("*.so")) if cache and cache.exists() else set()
    t0 = time.perf_counter()
    c, n = _brian_circuit(problem, mode, params_override)
    t1 = time.perf_counter()
    c.run(1)  # code generation + compilation or cache look-up, and one presentation
    t2 = time.perf_counter()
    c.run(n - 1)
    times = [time.perf_counter() - t2]
    after = set(cache.rglob("*.so")) if cache and cache.exists() else set()
    np.savez(result + ".weights.npz", **c.weights())
    for _ in range(repeats - 1):  # the same number of presentations again, continuing (same work per step)
        t = time.perf_counter()
        c.run(n - 1)
        times.append(time.perf_counter() - t)
    per_step = c.mode.steps_per_presentation
    return {"setup_s": t1 - t0, "build_s": t2 - t1, "run_s": min(times), "run_s_all": times, "steps": (n - 1) * per_step,
            "presentations_timed": n - 1, "modules_compiled": len(after - before),
            "code_objects": len([o for o in c.network.sorted_objects]),
            "rss_after_imports_mib": rss0, "maxrss_mib": _peak_mib()}


def worker_cpp(problem, mode, result, build_dir, threads=1, rerun_params=None, keep_build=False):
    """cpp_standalone: build (codegen + compile) timed apart from the binary's run; then a rerun with new parameters."""
    import brian2 as b2
    import numpy as np

    from selfassembly.circuits import configure_target

    rss0 = _rss_now_mib()
    build_dir = str(Path(build_dir).resolve())
    if not keep_build and Path(build_dir).exists():
        shutil.rmtree(build_dir)
    configure_target("cpp_standalone", standalone_dir=build_dir)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    t0 = time.perf_counter()
    c, n = _brian_circuit(problem, mode)
    c.network.run(n * c.mode.T_present, namespace={})
    t1 = time.perf_counter()
    b2.device.build(directory=build_dir, compile=True, run=False, with_output=False)
    t2 = time.perf_counter()
    measure = str(Path(result).resolve()) + ".binary.json"  # the binary runs in build_dir
    b2.prefs.devices.cpp_standalone.run_cmd_unix = [sys.executable, str(Path(__file__).resolve()), "--measure", measure, "./main"]
    b2.device.run(build_dir, with_output=False)
    t3 = time.perf_counter()
    binary = json.loads(Path(measure).read_text())
    np.savez(result + ".weights.npz", **c.weights())
    out = {"setup_s": t1 - t0, "build_s": t2 - t1, "binary_wall_s": t3 - t2, "binary_process_s": binary["wall_s"],
           "run_s": float(b2.device._last_run_time), "run_s_all": [float(b2.device._last_run_time)],
           "steps": n * c.mode.steps_per_presentation,
           "presentations_timed": n, "binary_maxrss_mib": binary["maxrss_mib"],
           "rss_after_imports_mib": rss0, "maxrss_mib": _peak_mib(), "threads": threads}
    if rerun_params:
        # the same compiled binary with new parameters: run_args, no code generation, no compilation
        mtime = (Path(build_dir) / "main").stat().st_mtime
        first = c.weights()
        args = {}
        for name, syn in c.synapses.items():
            for par, value in rerun_params.items():
                if par in syn.variables:
                    args[getattr(syn, par)] = value
        t4 = time.perf_counter()
        b2.device.run(build_dir, with_output=False, run_args=args)
        t5 = time.perf_counter()
        second = c.weights()
        out.update({"rerun_wall_s": t5 - t4, "rerun_run_s": float(b2.device._last_run_time),
                    "rerun_params": rerun_params, "rerun_recompiled": (Path(build_dir) / "main").stat().st_mtime != mtime,
                    "rerun_weights_changed": bool(max(np.abs(second[k] - first[k]).max() for k in first) > 0)})
    return out


def worker_peak(result, working_set_bytes):
    """This machine's single-process peaks, measured with numpy: bandwidth on a working set, and dgemm."""
    import numpy as np

    def best(fn, repeats):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    out = {}
    for label, nbytes in (("ws", working_set_bytes), ("dram", 512 * 2**20)):
        a = np.random.default_rng(0).random(max(1, int(nbytes) // 8))
        reps = 30 if label == "ws" else 5
        t_read = best(lambda: a.dot(a), reps)  # BLAS ddot: reads each element once
        t_rmw = best(lambda: np.multiply(a, 1.0, out=a), reps)
        out[f"{label}_bytes"] = a.nbytes
        out[f"{label}_read_GBps"] = a.nbytes / t_read / 1e9
        out[f"{label}_rmw_GBps"] = 2 * a.nbytes / t_rmw / 1e9  # read + write
        del a
    n = 1024
    A, B = np.random.default_rng(1).random((2, n, n))
    t = best(lambda: A @ B, 5)
    out["dgemm_GFLOPs"] = 2 * n**3 / t / 1e9
    return out


def measure_command(out_json, cmd):
    """Run ``cmd``, write its wall time and peak RSS to ``out_json``, return its exit code.

    The peak is the program's VmHWM, read every 2 ms while it runs (VmHWM only grows).
    """
    t = time.perf_counter()
    proc = subprocess.Popen(cmd)
    peak = 0.0
    while proc.poll() is None:
        hwm = _status_mib("VmHWM", proc.pid)
        if hwm == hwm:  # not NaN
            peak = max(peak, hwm)
        time.sleep(0.002)
    Path(out_json).write_text(json.dumps({"wall_s": time.perf_counter() - t, "maxrss_mib": peak,
                                          "returncode": proc.returncode}))
    return proc.returncode


def worker_main(args):
    kind, mode = args.worker, args.mode
    params = json.loads(args.params) if args.params else None
    if kind in NUMPY_ENGINE:
        res = worker_numpy_engine(args.problem, mode, args.result, args.repeats, NUMPY_ENGINE[kind])
    elif kind in ("numpy", "cython"):
        res = worker_runtime(args.problem, mode, args.result, kind, args.cache_dir, params, args.repeats)
    elif kind == "cpp_standalone":
        res = worker_cpp(args.problem, mode, args.result, args.build_dir, args.threads, params, args.keep_build)
    elif kind == "peak":
        res = worker_peak(args.result, args.working_set)
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    res.update({"kind": kind, "mode": mode})
    Path(args.result).write_text(json.dumps(res, indent=1))


# ---------------------------------------------------------------------------
# counting the work of one presentation
# ---------------------------------------------------------------------------

def work_per_step(sizes, preset, **params):
    """Synapses, arithmetic and bytes of one step (one presentation in the sample-clocked mode).

    ``params`` go to :func:`~selfassembly.plasticity.make_preset` (e.g. ``cross_v``,
    ``cross_u``). Counted as the Brian2 circuit computes (``selfassembly.circuits.network``):

    * W_l: one signal (h), plastic;
    * U_l: e (q); r (q_r) below the top when B changes (plastic or tied); xi (q_spont,
      s = U xi) at every layer when the V rule is ``mirror`` or the U rule ``reconstruct``;
      plastic unless U's rule is ``fixed``;
    * B_{l+1}: one signal (p), plastic unless ``fixed``;
    * V_l (l = 1..L, V_L too): p (m) below the top; s back (a_spont, a = V s) at every layer
      when U's rule is ``reconstruct``; plastic unless V's rule is ``fixed``.

    Returns a dict: ``synapses`` (all populations), ``plastic`` (synapses whose
    weight changes), ``signals`` (synapse-signal products), ``flops`` (2 per
    product, 3 per plastic update), ``bytes_read_min`` (8 per synapse that
    transmits a signal, read once), ``bytes_rmw_min`` (16 per plastic synapse
    read and written once; float64) and ``bytes_brian2`` (Brian2's layout: a
    summed-variable pass reads w and two int32 indices, 16 bytes; an update
    pass reads them and writes w, 24 bytes).
    """
    from selfassembly.plasticity import make_preset

    rules = make_preset(preset, **params)
    cross = rules.cross
    L = len(sizes) - 1
    n = sizes
    pops = {}  # population -> (synapses, signals it carries, plastic)
    for l in range(1, L + 1):
        pops[f"W{l}"] = (n[l] * n[l - 1], 1, True)
        u_signals = 1 + int(l < L and rules.feedback.plastic) + int(cross.needs_noise)
        pops[f"U{l}"] = (n[l] * n[l], u_signals, cross.u != "fixed")
        v_signals = int(l < L) + int(cross.needs_return)
        pops[f"V{l}"] = (n[l] * n[l], v_signals, cross.v != "fixed")
    for l in range(1, L):
        pops[f"B{l + 1}"] = (n[l] * n[l + 1], 1, rules.feedback.plastic)
    syn = sum(s for s, _, _ in pops.values())
    read = sum(s for s, k, _ in pops.values() if k)
    plastic = sum(s for s, _, p in pops.values() if p)
    signals = sum(s * k for s, k, _ in pops.values())
    return {"synapses": syn, "plastic": plastic, "signals": signals, "flops": 2 * signals + 3 * plastic,
            "bytes_read_min": 8 * read, "bytes_rmw_min": 16 * plastic,
            "bytes_brian2": 16 * signals + 24 * plastic, "weight_bytes": 8 * syn}


def hardware_bound_s(work, peak, itemsize=8):
    """Seconds per step at this machine's measured peaks (working-set bandwidth, dgemm FLOP/s).

    ``itemsize`` 4 is the float32 roofline: half the bytes of ``work`` (counted for float64), at
    the same measured bandwidth, and the same arithmetic at the float64 dgemm rate (the float32
    limit is memory either way)."""
    scale = itemsize / 8
    t_mem = scale * (work["bytes_read_min"] / (peak["ws_read_GBps"] * 1e9)
                     + work["bytes_rmw_min"] / (peak["ws_rmw_GBps"] * 1e9))
    t_flop = work["flops"] / (peak["dgemm_GFLOPs"] * 1e9)
    return max(t_mem, t_flop), t_mem, t_flop


# ---------------------------------------------------------------------------
# orchestration
# ---------------------------------------------------------------------------

def _spawn(kind, mode, problem, result, args, extra=()):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--mode", mode, "--problem", str(problem),
           "--result", str(result), "--threads", str(args.threads), *extra]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise RuntimeError(f"worker {kind} ({mode}) failed with exit code {proc.returncode}; its output is above")
    res = json.loads(Path(result).read_text())
    res["worker_wall_s"] = time.perf_counter() - t
    return res


def _time_binary(build_dir, label):
    """Run a built cpp_standalone binary again (as Brian2's device.run does); its simulation time and process."""
    build_dir = Path(build_dir)
    results = build_dir / f"results_{label}"
    results.mkdir(exist_ok=True)
    measure = build_dir / f"measure_{label}.json"
    env = dict(os.environ, LD_BIND_NOW="1")
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", str(measure), "./main",
                    "--results_dir", str(results) + os.sep], cwd=build_dir, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    run_time = float((results / "last_run_info.txt").read_text().split()[0])
    return run_time, json.loads(measure.read_text())


def _rounds(entry, targets, mode, problem, prefix, work, args, extras):
    """Time every implementation ``args.rounds`` more times, interleaved; keep the fastest run of each."""
    for k in range(args.rounds):
        for target in targets:
            res = entry[target]
            if target == "cpp_standalone":
                run_s, proc = _time_binary(extras[target][1], f"round{k}")
                res["binary_process_s"] = min(res["binary_process_s"], proc["wall_s"])
            else:
                again = _spawn(target, mode, problem, work / f"{prefix}_{target}_round{k}.json", args, extras[target])
                run_s = again["run_s"]
            res["run_s_all"] = res.get("run_s_all", [res["run_s"]]) + [run_s]
            res["run_s"] = min(res["run_s_all"])


def _accuracy(weights_file, X, Y):
    import numpy as np

    from selfassembly.circuits.reference import evaluate

    with np.load(weights_file) as z:
        w = {k: z[k] for k in z.files}
    return evaluate(w, X, Y)[1]


#: options of the command line that only the worker processes use (not recorded as settings)
WORKER_OPTIONS = ("worker", "mode", "problem", "result", "cache_dir", "build_dir", "params", "keep_build", "repeats",
                  "working_set")


def run(args):
    import numpy as np

    started = time.time()
    out, work = Path(args.out).resolve(), Path(args.work).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    report = {"machine": _machine(), "threads": args.threads, "preset": args.preset, "rounds": args.rounds,
              "sample": {}, "dynamic": {},
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    say = lambda msg: print(msg, flush=True)  # noqa: E731
    params = {"eta": 0.02, "lam": 0.02}
    rerun = {"eta": 0.01, "lam": 0.05}
    cython_cache = Path(args.cython_cache).resolve() if args.cython_cache else work / "cython_cache"
    if args.fresh_cache and cython_cache.exists():
        shutil.rmtree(cython_cache)
    report["cython_cache"] = str(cython_cache)

    # ---- sample-clocked ----------------------------------------------------------
    for sizes in args.sizes:
        key = "-".join(map(str, sizes))
        problem = write_problem(work / f"sample_problem_{key}.npz", sizes, args.preset, args.presentations, params=params)
        _, X, Y, *_ = read_problem(problem)
        say(f"sample-clocked, {args.preset} {key}, {args.presentations} presentations, {args.threads} thread(s)")
        entry = {"sizes": sizes, "work": work_per_step(sizes, args.preset), "load_average": [os.getloadavg()]}
        extras = {}
        for target in args.targets:
            res_path = work / f"sample_{key}_{target}.json"
            extra = []
            if target in NUMPY_ENGINE:
                extra = ["--repeats", str(NUMPY_REPEATS)]
            if target == "cython":
                extra = ["--cache-dir", str(cython_cache)]
            if target == "cpp_standalone":
                extra = ["--build-dir", str(work / f"cpp_sample_{key}"), "--params", json.dumps(rerun)]
            extras[target] = extra
            say(f"  {target}: running ...")
            res = _spawn(target, "sample", problem, res_path, args, extra)
            res["train_acc"] = _accuracy(str(res_path) + ".weights.npz", X, Y)
            if target == "cython":
                say(f"  cython: rebuilding with new parameters {rerun} in a new process ...")
                res2 = _spawn("cython", "sample", problem, work / f"sample_{key}_cython_rebuild.json", args,
                              extra + ["--params", json.dumps(rerun)])
                res["rebuild_build_s"] = res2["build_s"]
                res["rebuild_modules_compiled"] = res2["modules_compiled"]
                res["rebuild_params"] = rerun
            entry[target] = res
            say("  " + _line(target, res, "presentations"))
        if args.rounds:
            say(f"  {args.rounds} more timing rounds, interleaved ...")
            extras["cpp_standalone"] = [None, work / f"cpp_sample_{key}"]
            _rounds(entry, args.targets, "sample", problem, f"sample_{key}", work, args, extras)
            for target in args.targets:
                say("  " + _line(target, entry[target], "presentations"))
        entry["load_average"].append(os.getloadavg())
        say(f"  peak bandwidth and FLOP/s of this machine on {key}'s weights ({args.threads} thread(s)) ...")
        entry["peak"] = _spawn("peak", "sample", problem, work / f"peak_{key}.json", args,
                               ["--working-set", str(entry["work"]["weight_bytes"])])
        report["sample"][key] = entry

    # ---- dynamic -------------------------------------------------------------------
    for dsizes in args.dyn_sizes:
        key = "-".join(map(str, dsizes))
        problem = write_problem(work / f"dyn_problem_{key}.npz", dsizes, args.preset, args.dyn_presentations, params=params)
        steps = args.dyn_presentations * round(DYN["T_present_ms"] / DYN["dt_ms"])
        say(f"dynamic mode, {args.preset} {key}, {args.dyn_presentations} presentations of "
            f"{DYN['T_present_ms']} ms at dt = {DYN['dt_ms']} ms ({steps} steps)")
        entry = {"sizes": dsizes, "work": work_per_step(dsizes, args.preset)}
        extras = {}
        for target in args.dyn_targets:
            extra = []
            if target == "cython":
                extra = ["--cache-dir", str(cython_cache)]
            if target == "cpp_standalone":
                extra = ["--build-dir", str(work / f"cpp_dyn_{key}")]
            extras[target] = extra
            say(f"  {target}: running ...")
            res = _spawn(target, "dynamic", problem, work / f"dyn_{key}_{target}.json", args, extra)
            entry[target] = res
            say("  " + _line(target, res, "steps", entry["work"]["synapses"]))
        if args.rounds:
            say(f"  {args.rounds} more timing rounds, interleaved ...")
            extras["cpp_standalone"] = [None, work / f"cpp_dyn_{key}"]
            _rounds(entry, args.dyn_targets, "dynamic", problem, f"dyn_{key}", work, args, extras)
            for target in args.dyn_targets:
                say("  " + _line(target, entry[target], "steps", entry["work"]["synapses"]))
        report["dynamic"][key] = entry

    # ---- hardware limit of the dynamic circuits: the peaks measured on the largest sample circuit's weights
    report["peak"] = max((e["peak"] for e in report["sample"].values()), key=lambda p: p["ws_bytes"])
    report["machine"]["load_average_at_end"] = os.getloadavg()
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    from selfassembly.io import write_json

    write_json(out / "speed.json", report)
    rows = write_report(report, out)
    write_speed_manifest(out, args, started, params, rerun)
    return rows


def write_speed_manifest(out, args, started, params, rerun):
    """OUT/manifest.json (:func:`selfassembly.manifest.write_manifest`): the command, code version,
    every option (defaults resolved, ``--quick`` applied), the fixed settings (the rates of the
    timed runs, cpp_standalone's rerun parameters, the dynamic mode's time constants, the numpy
    engine's repeats), the wall time and the machine. A timing result: ``make reproduce`` reports
    it as TIMING and compares nothing (its numbers depend on the machine and its load, which
    speed.json records)."""
    from selfassembly.manifest import write_manifest

    options = {k: v for k, v in vars(args).items() if k not in WORKER_OPTIONS and k != "argv"}
    settings = {**options, "timed_run_params": params, "cpp_rerun_params": rerun, "dynamic": DYN,
                "numpy_engine_repeats": NUMPY_REPEATS, "numpy_engine_dtypes": NUMPY_ENGINE}
    return write_manifest(out, __file__, getattr(args, "argv", None), settings, started,
                          reproduce={"timing": True, "why": "times per presentation depend on the machine and its "
                                     "load (speed.json records the load averages): rerun the command on a quiet "
                                     "machine to compare"})


def write_report(report, out):
    """speed.csv and speed.md from the measurements (speed.json); prints the Markdown."""
    from selfassembly.io import atomic_write_text, write_csv

    rows = summarize(report)
    write_csv(out / "speed.csv", rows)
    md = markdown(report, rows)
    atomic_write_text(out / "speed.md", md)
    print()
    print(md)
    return report, rows


def _line(target, res, unit, synapses=None):
    n = res["steps"]
    rate = n / res["run_s"]
    extra = f", {rate * synapses / 1e6:.1f} M synapse updates/s" if synapses else ""
    build = f"build {res['build_s']:.1f} s, " if res.get("build_s") else ""
    return (f"{target}: {build}run {res['run_s']:.2f} s for {n} {unit}: {rate:,.0f} {unit}/s{extra}, "
            f"peak RSS {res.get('binary_maxrss_mib', res['maxrss_mib']):.0f} MiB")


def _machine():
    info = {"cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        info["load_average_at_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def summarize(report):
    """One row per (mode, sizes, implementation): rates, ratios to the numpy engine, roofline fraction, memory."""
    rows = []
    sections = [("sample", k, v, v["peak"]) for k, v in report["sample"].items()]
    sections += [("dynamic", k, v, report["peak"]) for k, v in report["dynamic"].items()]
    for mode, key, sec, peak in sections:
        work = sec["work"]
        base = sec.get("numpy_engine")
        base_rate = base["steps"] / base["run_s"] if base else float("nan")
        for impl in SAMPLE_TARGETS:
            res = sec.get(impl)
            if not res:
                continue
            itemsize = 4 if NUMPY_ENGINE.get(impl) == "float32" else 8
            # the memory roofline: the bytes a presentation must move over the measured bandwidth (the
            # arithmetic, at a dgemm rate that other processes' load pulls down too, is reported apart)
            _, bound, t_flop = hardware_bound_s(work, peak, itemsize)
            per_step = res["run_s"] / res["steps"]
            rate = 1.0 / per_step
            row = {"mode": mode, "sizes": key, "implementation": impl, "engine": "numpy" if impl in NUMPY_ENGINE else "brian2",
                   "dtype": NUMPY_ENGINE.get(impl, "float64"),
                   "unit": "presentations/s" if mode == "sample" else "steps/s",
                   "rate": rate, "synapse_updates_per_s": rate * work["synapses"],
                   "ratio_to_numpy_engine": rate / base_rate, "ms_per_step": per_step * 1e3,
                   "roofline_ms": bound * 1e3, "fraction_of_roofline": bound / per_step,
                   "arithmetic_ms": t_flop * 1e3,
                   "build_s": res.get("build_s", 0.0), "setup_s": res.get("setup_s", 0.0),
                   "peak_rss_mib": res.get("binary_maxrss_mib", res["maxrss_mib"]),
                   "train_acc": res.get("train_acc", float("nan"))}
            if impl == "cpp_standalone":
                row["end_to_end_rate"] = res["presentations_timed"] * (res["steps"] // res["presentations_timed"]) / res["binary_process_s"]
                row["brian2_GBps"] = work["bytes_brian2"] / per_step / 1e9
            rows.append(row)
    return rows


def _fmt(x, d=2):
    return f"{x:,.{d}f}"


def _loads(values):
    return ", ".join(f"{x:.1f}" for x in values)


def markdown(report, rows):
    s = report["sample"]
    m = report["machine"]
    lines = ["# Speed benchmark", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} cores, **shared with other work**: load average "
             f"(1, 5, 15 min) {_loads(m.get('load_average_at_start', []))} at the start and "
             f"{_loads(m.get('load_average_at_end', []))} at the end. {report['threads']} thread(s) "
             f"per implementation (numpy's BLAS and Brian2's OpenMP alike). Started {report['started']}, finished "
             f"{report['finished']}. Preset {report['preset']}. Each implementation ran in its own process, one after "
             f"the other, in this one run; after the first run each was timed {report['rounds']} more times, interleaved "
             f"with the others (the numpy engine {NUMPY_REPEATS} times in each of its processes), and its fastest run "
             "counts (every time is in speed.json); rates exclude building and setting up (reported separately).", ""]
    for mode, title, unit in (("sample", "Sample-clocked training", "presentations/s"), ("dynamic", "Dynamic mode", "steps/s")):
        mrows = [r for r in rows if r["mode"] == mode]
        if not mrows:
            continue
        lines += [f"## {title}", ""]
        if mode == "sample":
            n = next(iter(s.values()))["numpy_engine"]["steps"] if s and "numpy_engine" in next(iter(s.values())) else ""
            lines.append(f"{n} presentations, no weight recording. Ratio: rate over the numpy engine's (float64). "
                         "Roofline: the memory-bound limit below (float32: its own, half the bytes). Load average "
                         "(1 min) before and after each circuit's measurements: "
                         + "; ".join(f"{k}: {e['load_average'][0][0]:.1f}, {e['load_average'][-1][0]:.1f}"
                                     for k, e in s.items()) + ".")
        else:
            lines.append(f"tau_r = {DYN['tau_r_ms']} ms, T_present = {DYN['T_present_ms']} ms, dt = {DYN['dt_ms']} ms, "
                         f"tau_xi = {DYN['tau_xi_ms']} ms. "
                         "Synapse updates: synapses x steps per second (every step each synapse transmits and, "
                         "if plastic, integrates its weight). Roofline from the peaks measured on the largest "
                         "sample-clocked circuit's weights.")
        lines += ["", f"| circuit | implementation | {unit} | M synapse updates/s | ratio to numpy engine | ms per step | "
                  "roofline (ms) | fraction of roofline | build (s) | peak RSS (MiB) |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in mrows:
            lines.append(f"| {r['sizes']} | {LABELS[r['implementation']]} | {_fmt(r['rate'], 0)} | "
                         f"{_fmt(r['synapse_updates_per_s'] / 1e6, 0)} | **{r['ratio_to_numpy_engine']:.2f}** | "
                         f"{r['ms_per_step']:.3f} | {r['roofline_ms']:.3f} | {100 * r['fraction_of_roofline']:.0f}% | "
                         f"{r['build_s']:.1f} | {r['peak_rss_mib']:.0f} |")
        lines.append("")
    # targets
    lines += ["## Targets", ""]
    sample = {(r["sizes"], r["implementation"]): r for r in rows if r["mode"] == "sample"}
    for (key, impl), r in sample.items():
        brian_numpy = sample.get((key, "numpy"))
        if impl == "numpy_engine" and key == "64-128-128-10" and brian_numpy:
            x = r["rate"] / brian_numpy["rate"]
            lines.append(f"- {key} (the default run's circuit): numpy engine / brian2 numpy = **{x:.1f}** "
                         f"(target 10: {'met' if x >= 10 else 'MISSED'}).")
        if impl in NUMPY_ENGINE and key == "784-256-256-10":
            f = r["fraction_of_roofline"]
            lines.append(f"- {key}: {LABELS[impl]} at **{100 * f:.0f}%** of its memory roofline "
                         f"({r['roofline_ms']:.3f} ms) (target 40%: {'met' if f >= 0.4 else 'MISSED'}).")
        if impl == "cpp_standalone":
            lines.append(f"- {key}: cpp_standalone / numpy engine = **{r['ratio_to_numpy_engine']:.2f}**; end to end "
                         f"(binary process including loading arrays, creating synapses and writing results): "
                         f"{r['end_to_end_rate']:,.0f} presentations/s.")
    for r in rows:
        if r["mode"] == "dynamic" and r["implementation"] == "cpp_standalone":
            ok = "met" if r["ratio_to_numpy_engine"] >= 2 else "MISSED"
            lines.append(f"- dynamic {r['sizes']}, cpp_standalone / numpy engine = **{r['ratio_to_numpy_engine']:.2f}** (target 2: {ok}).")
    lines.append("")
    # build and rebuild
    lines += ["## Build and rebuild", ""]
    for key, e in s.items():
        c = e.get("cpp_standalone")
        if c:
            lines.append(f"- {key}, cpp_standalone: code generation and setting up {c['setup_s']:.1f} s; compilation "
                         f"{c['build_s']:.1f} s; the binary's process {c['binary_process_s']:.2f} s, "
                         f"of which the simulation {c['run_s']:.2f} s.")
            if "rerun_wall_s" in c:
                lines.append(f"- {key}, cpp_standalone rerun with new parameters {c['rerun_params']} through `run_args`: "
                             f"{c['rerun_wall_s']:.2f} s, binary recompiled: {'yes' if c['rerun_recompiled'] else 'no'}, "
                             f"weights differ from the first run: {'yes' if c['rerun_weights_changed'] else 'no'}.")
        cy = e.get("cython")
        if cy:
            lines.append(f"- {key}, cython: first build {cy['build_s']:.1f} s ({cy['modules_compiled']} modules compiled, "
                         f"the rest from the cache); a new process with new parameters {cy.get('rebuild_params')}: build "
                         f"{cy.get('rebuild_build_s', float('nan')):.1f} s, {cy.get('rebuild_modules_compiled', '?')} modules compiled.")
    lines.append("")
    # hardware
    lines += ["## Hardware limit (the memory roofline)", ""]
    for key, e in s.items():
        peak, w = e["peak"], e["work"]
        _, t_mem, t_flop = hardware_bound_s(w, peak)
        _, t_mem32, _ = hardware_bound_s(w, peak, 4)
        lines += [f"{key}: measured with numpy, {report['threads']} thread(s): read bandwidth "
                  f"{peak['ws_read_GBps']:.1f} GB/s and read-modify-write {peak['ws_rmw_GBps']:.1f} GB/s on "
                  f"{peak['ws_bytes'] / 2**20:.1f} MiB (the size of the circuit's float64 weights; "
                  f"{peak['dram_read_GBps']:.1f} and {peak['dram_rmw_GBps']:.1f} GB/s on {peak['dram_bytes'] / 2**20:.0f} MiB), "
                  f"dgemm {peak['dgemm_GFLOPs']:.1f} GFLOP/s. One presentation: {w['synapses']:,} synapses "
                  f"({w['plastic']:,} plastic), {w['signals']:,} synapse-signal products, {w['flops'] / 1e6:.2f} MFLOP, "
                  f"at least {(w['bytes_read_min'] + w['bytes_rmw_min']) / 2**20:.2f} MiB moved in float64 (each weight "
                  f"read once, each plastic weight read and written once). Memory roofline: {t_mem * 1e3:.3f} ms per "
                  f"presentation in float64, {t_mem32 * 1e3:.3f} ms in float32 (half the bytes at the same "
                  f"bandwidth); the arithmetic at the measured dgemm rate: {t_flop * 1e3:.3f} ms.", ""]
        cpp = sample.get((key, "cpp_standalone"))
        if cpp:
            lines += [f"Brian2's layout moves more: every synapse-signal pass reads the weight and two int32 indices "
                      f"(16 bytes), every update pass 24 bytes, and U_l is read once per signal it carries: "
                      f"{w['bytes_brian2'] / 2**20:.1f} MiB per presentation, i.e. cpp_standalone streams "
                      f"{cpp['brian2_GBps']:.1f} GB/s.", ""]
    return "\n".join(lines)


def _sizes(text):
    return [int(x) for x in text.replace(",", "-").split("-")]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--measure"]:
        raise SystemExit(measure_command(argv[1], argv[2:]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=_sizes, default=[[64, 128, 128, 10], [784, 256, 256, 10]],
                    help="sample-clocked circuits")
    ap.add_argument("--preset", default="four_synapse")
    ap.add_argument("--presentations", type=int, default=2000, help="sample-clocked presentations per implementation")
    ap.add_argument("--targets", nargs="+", default=list(SAMPLE_TARGETS), choices=SAMPLE_TARGETS)
    ap.add_argument("--dyn-sizes", nargs="*", type=_sizes, default=[[64, 32, 32, 10], [64, 128, 128, 10], [784, 256, 256, 10]])
    ap.add_argument("--dyn-presentations", type=int, default=20, help="dynamic-mode presentations (100 steps each)")
    ap.add_argument("--dyn-targets", nargs="+", default=["numpy_engine", "cpp_standalone"],
                    choices=[t for t in SAMPLE_TARGETS if t != "numpy_engine_float32"])
    ap.add_argument("--threads", type=int, default=1, help="threads of numpy's BLAS and of cpp_standalone (OpenMP)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--work", default=None, help="build folders and caches (default: OUT/work)")
    ap.add_argument("--fresh-cache", action="store_true", help="empty the Cython cache first (measures a full compilation)")
    ap.add_argument("--cython-cache", default=None, help="Brian2's Cython cache folder (default: WORK/cython_cache)")
    ap.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved timing rounds after the first run")
    ap.add_argument("--report-only", action="store_true", help="rewrite speed.md and speed.csv from OUT/speed.json")
    ap.add_argument("--quick", action="store_true", help="small circuit, numpy targets only (seconds)")
    # worker mode (internal)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="sample", help=argparse.SUPPRESS)
    ap.add_argument("--problem", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", help=argparse.SUPPRESS)
    ap.add_argument("--build-dir", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--keep-build", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--working-set", type=int, default=8 * 2**20, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.argv = list(argv)
    if args.worker:
        return worker_main(args)
    if args.quick:
        args.sizes, args.presentations = [[64, 32, 32, 10]], 200
        args.targets, args.dyn_targets = ["numpy_engine", "numpy_engine_float32", "numpy"], ["numpy_engine", "numpy"]
        args.rounds = min(args.rounds, 1)
        args.dyn_sizes, args.dyn_presentations = [[64, 32, 32, 10]], 2
        if Path(args.out) == DEFAULT_OUT:
            args.out = str(DEFAULT_OUT.parent / "speed_quick")
    args.work = args.work or str(Path(args.out) / "work")
    if args.report_only:
        return write_report(json.loads((Path(args.out) / "speed.json").read_text()), Path(args.out))
    return run(args)


if __name__ == "__main__":
    main()
