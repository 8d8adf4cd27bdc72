"""Rerun a cheap slice of every committed result from its manifest and compare (``make reproduce``).

For each result folder (:data:`FOLDERS`) this reads ``manifest.json`` (:mod:`selfassembly.manifest`),
reruns the slice its ``reproduce`` entry names (one cell or preset, one seed, the epochs the result
was made with) with the settings the manifest records, and compares the numbers with the committed
files within the manifest's tolerance. Each folder ends as one of:

REPRODUCED
    every compared number within tolerance;
DRIFTED
    at least one number outside it (each is printed: committed, now, difference, tolerance);
STALE
    the manifest itself says the result predates the current code (it is labelled so in the docs);
TIMING
    a timing result: its numbers depend on the machine and its load, so nothing is compared;
NO MANIFEST
    the folder has none yet (the script writes one on its next run).

The tolerances: the numpy engine is deterministic on one machine, so a slice reproduces the
committed number exactly unless the code (or the BLAS summation order) changed; the tolerance is
half the last printed digit, or half of one test image for an accuracy stored in full.

Run: ``make reproduce`` (about 5-10 min on one core; slow, so not part of ``make test``), or
``python tools/reproduce.py [FOLDER ...]``. Exit status 1 if anything drifted.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ["benchmarks/results/cross_stability", "benchmarks/results/cross_stability_lam1e-4",
           "benchmarks/results/self_assembly/classification",
           "benchmarks/results/self_assembly/reconstruction", "benchmarks/results/loop_mirror_tuning",
           "benchmarks/results/depth_puzzle", "benchmarks/results/learning",
           "benchmarks/results/learning/digits_reconstruction", "benchmarks/results/speed",
           "benchmarks/results/speed_2threads", "benchmarks/results/sweep", "benchmarks/results/sweep/idle",
           "docs/phase_diagram"]


def load_benchmark(name):
    """Import ``benchmarks/<name>.py`` as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compare(label, committed, now, tolerance):
    """One comparison: ``(label, committed, now, tolerance, ok)``.

    >>> compare("acc", 0.9693, 0.96931, 1e-4)[-1]
    True
    >>> compare("acc", 0.9693, 0.9703, 1e-4)[-1]
    False
    """
    committed, now = float(committed), float(now)
    return label, committed, now, tolerance, abs(now - committed) <= tolerance


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def cross_stability(folder, m):
    cs = load_benchmark("cross_stability")
    from selfassembly.datasets import load_dataset

    cell, tol, lam = m["reproduce"]["cell"], m["reproduce"]["tolerance"], float(m["settings"]["lam"])
    epochs = int(m["settings"]["epochs"])
    sizes = [int(n) for n in cell["arch"].split("-")]
    got = cs.train(sizes, cell["f"], cell["eta_c"], cell["ratio"] * cell["eta_c"], cell["seed"], epochs,
                   load_dataset("digits", 0.2, 0), lam=lam)
    want = (cell["arch"], cell["f"], float(cell["eta_c"]), float(cell["ratio"]), int(cell["seed"]))
    row = next(r for r in _rows(folder / "scan.csv") if cs.row_key(r)[:5] == want
               and cs.row_key(r)[5] in (lam, None))
    where = f"{cell['arch']} {cell['f']} eta_c={cell['eta_c']} ratio={cell['ratio']} lam={lam:g}"
    return [compare(f"{where} {k}", row[k], got[k], tol[k]) for k in m["reproduce"]["compare"]]


def self_assembly(folder, m):
    from selfassembly.config import ExperimentConfig
    from selfassembly.experiment import run_experiment
    import json

    rep, s = m["reproduce"], m["settings"]
    run = s["run_settings"][rep["arch"]]
    if isinstance(run.get("circuit"), dict):  # a config.toml as the run folder recorded it
        config = ExperimentConfig.from_dict(run).replace(seed=rep["seed"], presets=rep["presets"])
    else:  # an after-the-fact manifest: the settings docs/benchmarks.md names
        task = {"task": "reconstruction", "output": "linear"} if run["task"] == "reconstruction" else {}
        config = ExperimentConfig(sizes=[int(n) for n in rep["arch"].split("-")], seed=rep["seed"],
                                  presets=rep["presets"], lam=run["lam"], eta=run["eta"], engine=run["engine"], **task)
    with tempfile.TemporaryDirectory() as tmp:
        run_experiment(config, Path(tmp) / "run", progress=None)
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())["presets"]
    rows = [r for r in _rows(folder / "final.csv") if r["arch"] == rep["arch"] and int(r["seed"]) == rep["seed"]]
    out = []
    for preset in rep["presets"]:
        row, v = next(r for r in rows if r["preset"] == preset), summary[preset]
        now = {"test_acc": v["final_test_acc"], "test_error": v.get("final_test_error"),
               **{f"ff_{l}": x for l, x in v["ff_angle"].items()}, **{f"cross_{l}": x for l, x in v["cross_angle"].items()}}
        for k in rep["compare"]:
            out.append(compare(f"{rep['arch']} seed {rep['seed']} {preset} {k}", row[k], now[k], rep["tolerance"][k]))
    return out


def loop_mirror_tuning(folder, m):
    lm = load_benchmark("loop_mirror_tuning")
    from selfassembly.datasets import load_dataset
    from selfassembly.experiment import for_task

    out = []
    data = lm.validation_split(load_dataset("digits", 0.2, 0))
    for task, part in m["parts"].items():
        rep, epochs = part["reproduce"], int(part["settings"]["epochs"])
        if task == "classification":
            seed = int(rep.get("seed", 0))
            got = lm.tuning_row(rep["b_rule"], rep["eta_b"], epochs, data, seed)
            row = next(r for r in _rows(folder / "tuning.csv") if r["b_rule"] == rep["b_rule"]
                       and float(r["eta_b"]) == rep["eta_b"] and int(r.get("seed") or 0) == seed)
            where = f"tuning {rep['b_rule']} eta_b={rep['eta_b']} seed {seed}"
        else:
            got = lm.recon_row(rep["arch"], rep["eta"], epochs, for_task(data, "reconstruction"))
            row = next(r for r in _rows(folder / "reconstruction.csv")
                       if r["arch"] == rep["arch"] and float(r["eta"]) == rep["eta"])
            where = f"reconstruction {rep['arch']} eta={rep['eta']}"
        out += [compare(f"{where} {k}", row[k], got[k], rep["tolerance"][k]) for k in rep["compare"]]
    return out


def depth_puzzle(folder, m):
    dp = load_benchmark("depth_puzzle")
    from selfassembly.config import ExperimentConfig
    from selfassembly.experiment import run_experiment

    rep, s = m["reproduce"], m["settings"]
    preset, b_rule = s["variants"][rep["variant"]]
    seeds = [int(k) for k in str(s["seeds"]).split(",")]
    config = ExperimentConfig(sizes=s["sizes"], engine="numpy", seed=rep["seed"], presets=[preset], b_rule=b_rule)
    with tempfile.TemporaryDirectory() as tmp:
        run_experiment(config, Path(tmp) / "run", progress=None)
        acc = float(_rows(Path(tmp) / "run" / "metrics.csv")[-1]["test_acc"])
    line = next(x for x in (folder / "table.md").read_text().splitlines() if x.startswith(f"| {rep['variant']} |"))
    committed = float(line.split("|")[2].split(",")[seeds.index(rep["seed"])])
    assert dp.VARIANTS[rep["variant"]] == (preset, b_rule), "the manifest's variant is not the script's"
    return [compare(f"{rep['variant']} seed {rep['seed']} test_acc", committed, acc, rep["tolerance"]["test_acc"])]


def learning(folder, m):
    lb = load_benchmark("learning")

    rep, out = m["reproduce"], []
    if "runs" in rep:  # written by learning.py itself: each run's full setting, task and data set
        key = rep["compare"][0]
        for run in rep["runs"]:
            job = lb._job(rep["stage"], rep["dataset"], rep["arch"], run["preset"], run["seed"], run["epochs"],
                          *(run[k] for k in lb.PARAMS), task=rep["task"], data=rep.get("data"))
            got = lb.train_run(job, rep.get("mnist_dir"))
            row = next(r for r in _rows(folder / "seeds.csv") if r["dataset"] == rep["label"] and r["task"] == rep["task"]
                       and r["arch"] == rep["arch"] and r["preset"] == run["preset"] and int(r["seed"]) == run["seed"]
                       and all((r[k] if k == "b_rule" else float(r[k])) == run[k] for k in lb.PARAMS))
            now = got["final_error"] if key == "test_error" else got["final_acc"]
            out.append(compare(f"{rep['label']} {rep['task']} {rep['arch']} {run['preset']} seed {run['seed']} {key}",
                               row[key], now, rep["tolerance"][key]))
        return out
    for preset in rep["presets"]:  # an after-the-fact manifest: the settings of the row (no task, B's default)
        row = next(r for r in _rows(folder / "seeds.csv") if r["dataset"] == rep["dataset"] and r["arch"] == rep["arch"]
                   and r["preset"] == preset and int(r["seed"]) == rep["seed"])
        job = lb._job(rep["stage"], rep["dataset"], rep["arch"], preset, rep["seed"], int(row["epochs"]),
                      float(row["eta"]), float(row["lam"]), float(row["eta_c"]), float(row["eta_u"]))
        got = lb.train_run(job)
        out.append(compare(f"{rep['dataset']} {rep['arch']} {preset} seed {rep['seed']} test_acc", row["test_acc"],
                           got["final_acc"], rep["tolerance"]["test_acc"]))
    return out


def sweep(folder, m):
    """One (point, preset) of a ``selfassembly sweep`` folder, run as the sweep's worker runs it
    (:func:`selfassembly.sweep.tasks.run_task`), against sweep.csv. The point's configuration comes
    from the folder's sweep.toml (the resolved sweep file the sweep wrote; a committed copy such as
    docs/phase_diagram keeps it, not points/)."""
    from selfassembly.sweep import load_sweep
    from selfassembly.sweep.tasks import run_task

    rep = m["reproduce"]
    config = next(p.config for p in load_sweep(folder / "sweep.toml").points if p.id == rep["point"])
    s = run_task(config.to_dict(), rep["preset"])["result"].summary()
    now = {"final_test_acc": s["final_test_acc"], "ff_angle_worst": max((s.get("ff_angle") or {0: 0.0}).values())}
    row = next(r for r in _rows(folder / "sweep.csv") if r["point"] == rep["point"] and r["preset"] == rep["preset"])
    return [compare(f"{rep['point']} {rep['preset']} {k}", row[k], now[k], rep["tolerance"][k]) for k in rep["compare"]]


HANDLERS = {"cross_stability": cross_stability, "self_assembly": self_assembly,
            "loop_mirror_tuning": loop_mirror_tuning, "depth_puzzle": depth_puzzle, "learning": learning,
            "sweep": sweep}


def _script(m):
    """What a manifest's command runs: ``python benchmarks/<name>.py ...`` -> name; ``selfassembly sweep ...``
    -> ``sweep``.

    >>> _script({"command": "python benchmarks/learning.py --workers 2"}), _script({"command": "selfassembly sweep x.toml"})
    ('learning', 'sweep')
    """
    found = re.search(r"benchmarks/(\w+)\.py", m["command"])
    if found:
        return found.group(1)
    found = re.match(r"selfassembly (sweep)\b", m["command"])
    return found.group(1) if found else None


def check(folder):
    """``(status, comparisons, note)`` of one result folder."""
    from selfassembly.errors import InputError
    from selfassembly.manifest import read_manifest

    try:
        m = read_manifest(folder)
    except InputError as e:
        return "NO MANIFEST", [], str(e)
    first = next(iter(m["parts"].values())) if "parts" in m else m
    rep = first.get("reproduce", {})
    if rep.get("stale"):
        return "STALE", [], rep["why"]
    if rep.get("timing"):
        return "TIMING", [], rep["why"]
    comparisons = HANDLERS[_script(first)](folder, m)
    ok = all(c[-1] for c in comparisons)
    return ("REPRODUCED" if ok else "DRIFTED"), comparisons, "; ".join(m.get("notes", first.get("notes", [])))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", default=FOLDERS, help="result folders (default: every committed one)")
    args = ap.parse_args(argv)
    summary, drifted = [], False
    for name in args.folders:
        t0 = time.perf_counter()
        status, comparisons, note = check(ROOT / name)
        drifted |= status == "DRIFTED"
        print(f"\n{name}: {status} ({time.perf_counter() - t0:.0f} s)", flush=True)
        for label, committed, now, tol, ok in comparisons:
            print(f"  {'ok     ' if ok else 'DRIFTED'} {label}: committed {committed:.6g}, now {now:.6g}, "
                  f"difference {now - committed:+.3g}, tolerance {tol:.3g}", flush=True)
        if note:
            print(f"  note: {note}", flush=True)
        summary.append((name, status))
    print("\nSummary:")
    for name, status in summary:
        print(f"  {status:11s} {name}")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
