"""Choose four_synapse's B rule and the loop mirror's eta_b by validation (issue 16).

The learning benchmark's protocol (docs/benchmarks.md, section 1), applied to the new rule at the
default run's setting (digits 64-128-128-10, tanh / softmax, 10 epochs, eta = 0.02, lambda = 1e-4,
eta_c = 0.002, eta_u = 0.0005, lambda_b = 1):

1. **Split.** The training set's fixed 20% validation split (:func:`learning.split`); the test set
   is not looked at.
2. **Grid.** B's rule ``both`` (task rule + loop mirror) or ``loop_mirror`` (mirror only), times
   eta_b in :data:`ETA_B`; seed 0, trained on the other 80% on the numpy engine.
3. **Score.** Mean validation accuracy over the last 3 records (one per epoch); the best wins,
   ties to the smaller eta_b, then ``both``. The forward-feedback angle of each run is reported
   beside its score (the evidence for the trade-off), but does not enter the choice.

Outputs (``--out``, default ``benchmarks/results/loop_mirror_tuning``): ``tuning.csv`` (one row per
run), ``tuning.md`` (the grid as a table and the choice), ``tuning.png`` (score and angle against
eta_b). A rerun skips the runs whose rows are there.

``--task reconstruction`` applies the same split and score (the validation error, lower is
better) to backprop's eta on each reconstruction architecture of :data:`RECON_ARCHS` (lambda 1e-4,
10 epochs): the baseline every preset is compared with there (``reconstruction.csv``,
``reconstruction.md``).

Run (about 3 min on one core; reconstruction about 2 min)::

    .venv/bin/python benchmarks/loop_mirror_tuning.py
    .venv/bin/python benchmarks/loop_mirror_tuning.py --task reconstruction
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from selfassembly.analysis.plots import save_png
from selfassembly.config import ExperimentConfig
from selfassembly.datasets import Dataset, load_dataset
from selfassembly.experiment import for_task, run_preset
from selfassembly.io import atomic_write_text, write_csv
from selfassembly.manifest import write_manifest

RESULTS = Path(__file__).resolve().parent / "results" / "loop_mirror_tuning"
ETA_B = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005)
RULES = ("both", "loop_mirror")
VAL_FRACTION, VAL_SEED, SCORE_RECORDS = 0.2, 12345, 3
#: reconstruction through a bottleneck with 1, 2 and 3 hidden layers, and backprop's eta grid there
RECON_ARCHS = ("64-12-64", "64-32-12-64", "64-48-12-48-64")
RECON_ETA = (0.005, 0.01, 0.02, 0.04)
COLUMNS = ["b_rule", "eta_b", "score", "final_val_acc", "ff_angle_2", "ff_angle_3", "status", "wall_s"]


def validation_split(data):
    """The learning benchmark's split of the training set: (fit, validation) as a Dataset."""
    perm = np.random.default_rng(VAL_SEED).permutation(len(data.X_train))
    n_val = int(round(VAL_FRACTION * len(perm)))
    fit, val = np.sort(perm[n_val:]), np.sort(perm[:n_val])
    return Dataset(data.name, data.X_train[fit], data.Y_train[fit], data.X_train[val], data.Y_train[val])


def score(rows):
    """Mean validation accuracy over the last SCORE_RECORDS records.

    >>> score([{"test_acc": a} for a in (0.1, 0.5, 0.7, 0.9)])
    0.7
    """
    return round(float(np.mean([float(r["test_acc"]) for r in rows[-SCORE_RECORDS:]])), 6)


def choose(rows):
    """The best score; ties to the smaller eta_b, then 'both' (the order of RULES).

    >>> choose([{"b_rule": "loop_mirror", "eta_b": 1e-4, "score": 0.9, "status": "done"},
    ...         {"b_rule": "both", "eta_b": 5e-4, "score": 0.9, "status": "done"}])["b_rule"]
    'loop_mirror'
    """
    done = [r for r in rows if r["status"] == "done"]
    return max(sorted(done, key=lambda r: (float(r["eta_b"]), RULES.index(r["b_rule"]))),
               key=lambda r: float(r["score"]), default=None)


def recon_row(arch, eta, epochs, data):
    """Train backprop on the reconstruction task at ``eta``; its row of reconstruction.csv."""
    config = ExperimentConfig(engine="numpy", epochs=epochs, records_per_epoch=1, eta=eta, task="reconstruction",
                              output="linear", sizes=[int(n) for n in arch.split("-")], presets=["backprop"])
    result = run_preset(config, "backprop", data, progress=None)
    errors = [2 * float(r["test_loss"]) for r in result.rows]  # test_error of the validation set
    ok = result.status == "done"
    return {"arch": arch, "eta": eta, "score": round(float(np.mean(errors[-SCORE_RECORDS:])), 5) if ok else "",
            "final_val_error": round(errors[-1], 5), "status": result.status}


def tuning_row(rule, eta_b, epochs, data):
    """Train four_synapse with B's ``rule`` at ``eta_b`` on the fit split; its row of tuning.csv."""
    config = ExperimentConfig(engine="numpy", epochs=epochs, records_per_epoch=1, b_rule=rule, eta_b=eta_b,
                              presets=["four_synapse"])
    t0 = time.perf_counter()
    result = run_preset(config, "four_synapse", data, progress=None)
    last = result.rows[-1]
    return {"b_rule": rule, "eta_b": eta_b, "score": score(result.rows) if result.status == "done" else "",
            "final_val_acc": round(last["test_acc"], 4), "ff_angle_2": round(last["ff_angle_2"], 1),
            "ff_angle_3": round(last["ff_angle_3"], 1), "status": result.status,
            "wall_s": round(time.perf_counter() - t0, 1)}


def tune_reconstruction(out, epochs):
    """Backprop's eta per reconstruction architecture, by validation error (ties to the smaller eta)."""
    path = out / "reconstruction.csv"
    rows = list(csv.DictReader(open(path))) if path.exists() else []
    done = {(r["arch"], float(r["eta"])) for r in rows}
    data = for_task(validation_split(load_dataset("digits", 0.2, 0)), "reconstruction")
    for arch in RECON_ARCHS:
        for eta in RECON_ETA:
            if (arch, eta) in done:
                continue
            rows.append(recon_row(arch, eta, epochs, data))
            write_csv(path, rows)
            print(f"reconstruction {arch} eta={eta:g}: {rows[-1]}", flush=True)
    lines = ["# backprop's eta on the reconstruction task, chosen by validation", "",
             f"digits, {epochs} epochs, lam 1e-4, seed 0, trained on 80% of the training set; score: mean validation "
             f"error per image over the last {SCORE_RECORDS} epochs (lower is better; ties to the smaller eta).", "",
             "| arch | eta | score | final val error |", "|---|---|---|---|"]
    chosen = {}
    for arch in RECON_ARCHS:
        rs = sorted((r for r in rows if r["arch"] == arch and r["status"] == "done"), key=lambda r: float(r["eta"]))
        best = min(rs, key=lambda r: float(r["score"]), default=None)
        chosen[arch] = float(best["eta"]) if best else None
        for r in rs:
            lines.append(f"| {arch} | {float(r['eta']):g} | {r['score']}{' **chosen**' if r is best else ''} | "
                         f"{r['final_val_error']} |")
    atomic_write_text(out / "reconstruction.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return chosen


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--task", default="classification", choices=("classification", "reconstruction"))
    args = ap.parse_args(argv)
    started = time.time()
    out = Path(args.out)
    settings = {**vars(args), "dataset": "digits", "engine": "numpy", "seed": 0, "val_fraction": VAL_FRACTION,
                "val_seed": VAL_SEED, "score_records": SCORE_RECORDS}
    if args.task == "reconstruction":
        chosen = tune_reconstruction(out, args.epochs)
        # one manifest per folder: the reconstruction tuning's under its own key
        _manifest(out, argv, {**settings, "archs": RECON_ARCHS, "eta": RECON_ETA}, started, "reconstruction",
                  {"arch": RECON_ARCHS[0], "eta": 0.02, "compare": ["score", "final_val_error"],
                   "tolerance": {"score": 1e-4, "final_val_error": 1e-4}})
        return chosen
    path = out / "tuning.csv"
    rows = list(csv.DictReader(open(path))) if path.exists() else []
    done = {(r["b_rule"], float(r["eta_b"])) for r in rows}
    data = validation_split(load_dataset("digits", 0.2, 0))
    for rule in RULES:
        for eta_b in ETA_B:
            if (rule, eta_b) in done:
                continue
            rows.append(tuning_row(rule, eta_b, args.epochs, data))
            write_csv(path, rows, COLUMNS)
            print(f"{rule} eta_b={eta_b:g}: score {rows[-1]['score']}, angles {rows[-1]['ff_angle_2']}, "
                  f"{rows[-1]['ff_angle_3']} ({rows[-1]['wall_s']} s)", flush=True)
    best = choose(rows)
    lines = ["# four_synapse's B rule and eta_b, chosen by validation", "",
             f"digits 64-128-128-10, {args.epochs} epochs, the default settings (eta 0.02, lam 1e-4, eta_c 0.002, "
             "eta_u 0.0005, lam_b 1), seed 0, trained on 80% of the training set; score: mean validation accuracy "
             f"over the last {SCORE_RECORDS} epochs. The angle does not enter the choice.", "",
             "| B rule | eta_b | score | final val acc | ff angle W2, W3 (deg) |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (RULES.index(r["b_rule"]), float(r["eta_b"]))):
        mark = " **chosen**" if r is best else ""
        lines.append(f"| {r['b_rule']} | {float(r['eta_b']):g} | {r['score']}{mark} | {r['final_val_acc']} | "
                     f"{r['ff_angle_2']}, {r['ff_angle_3']} |")
    if best is not None:
        lines += ["", f"Chosen: B rule `{best['b_rule']}`, eta_b = {float(best['eta_b']):g}."]
    atomic_write_text(out / "tuning.md", "\n".join(lines) + "\n")
    _plot(rows, out)
    _manifest(out, argv, {**settings, "rules": RULES, "eta_b": ETA_B}, started, "classification",
              {"b_rule": "loop_mirror", "eta_b": 0.002, "compare": ["score", "final_val_acc", "ff_angle_2"],
               "tolerance": {"score": 1e-5, "final_val_acc": 0.5 / 288, "ff_angle_2": 0.05}})
    print("\n".join(lines))
    return best


def _manifest(out, argv, settings, started, task, reproduce):
    """manifest.json of the folder: ``{"parts": {task: manifest}}``, one part per task run into it."""
    import json

    path = out / "manifest.json"
    parts = json.loads(path.read_text()).get("parts", {}) if path.exists() else {}
    parts[task] = write_manifest(out, __file__, argv, settings, started, reproduce=reproduce)
    atomic_write_text(path, json.dumps({"parts": parts}, indent=2) + "\n")


def _plot(rows, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for rule in RULES:
        rs = sorted((r for r in rows if r["b_rule"] == rule and r["status"] == "done"), key=lambda r: float(r["eta_b"]))
        x = [float(r["eta_b"]) for r in rs]
        a.plot(x, [float(r["score"]) for r in rs], marker="o", label=rule)
        b.plot(x, [(float(r["ff_angle_2"]) + float(r["ff_angle_3"])) / 2 for r in rs], marker="o", label=rule)
    for ax, label in ((a, "validation score"), (b, "forward-feedback angle, mean of W2, W3 (deg)")):
        ax.set_xscale("log")
        ax.set_xlabel("eta_b")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("four_synapse's loop mirror: validation score and alignment against eta_b")
    fig.tight_layout()
    save_png(fig, out / "tuning.png")
    plt.close(fig)


if __name__ == "__main__":
    main()
