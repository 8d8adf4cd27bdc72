"""The depth puzzle (issue 16, MODEL.md "Depth"): why does the task rule on B hurt at five narrow layers?

MODEL.md's numpy check at 64-24-24-24-24-24-10 (digits, classification) found four_synapse with
B's task rule + loop mirror at 0.875 / 0.906 test accuracy and the loop mirror alone at 0.950, at
the same forward-feedback angles (11-13 deg). An angle says nothing about scale, so this script
records the scale of the effective feedback, ||M_l|| / ||W_l^T|| with M_l = V_{l-1} B_l U_l
(``fb_scale_l`` in metrics.csv), per layer over training, for

* four_synapse with B's rule ``loop_mirror`` (the default), ``both`` and ``task``
  (= four_synapse_no_loop_mirror), and
* backprop and weight_mirror as references (U = V = I),

on the numpy engine, at the default settings, over ``--seeds``. Over L - 1 layers the error reaching
layer 1 is scaled by the product of the layers' ratios (times the f' factors backprop has too).

Outputs (``--out``, default ``benchmarks/results/depth_puzzle``): ``table.md`` (final accuracy,
angles and scales, mean over seeds), ``fb_scale.png`` (the scale per layer over training), and the
run folders under ``--runs``.

Run (about 5 min on one core)::

    .venv/bin/python benchmarks/depth_puzzle.py
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from selfassembly.analysis.plots import save_png
from selfassembly.config import ExperimentConfig
from selfassembly.experiment import run_experiment
from selfassembly.io import atomic_write_text
from selfassembly.manifest import write_manifest

RESULTS = Path(__file__).resolve().parent / "results" / "depth_puzzle"
SIZES = [64, 24, 24, 24, 24, 24, 10]
#: label -> (preset, B rule override or "")
VARIANTS = {"four_synapse (loop mirror)": ("four_synapse", ""), "four_synapse (task + loop mirror)": ("four_synapse", "both"),
            "four_synapse (task rule only)": ("four_synapse_no_loop_mirror", ""),
            "weight_mirror": ("weight_mirror", ""), "backprop": ("backprop", "")}


def _folder(runs, label, seed):
    return Path(runs) / label.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "and") / f"seed{seed}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="results/depth_puzzle")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args(argv)
    started = time.time()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {}
    for label, (preset, b_rule) in VARIANTS.items():
        for seed in seeds:
            config = ExperimentConfig(sizes=SIZES, engine="numpy", seed=seed, presets=[preset], b_rule=b_rule)
            folder = _folder(args.runs, label, seed)
            run_experiment(config, folder, progress=None)
            with open(folder / "metrics.csv", newline="") as fh:
                rows[label, seed] = [r for r in csv.DictReader(fh)]
            print(f"{label} seed {seed}: acc {float(rows[label, seed][-1]['test_acc']):.3f}", flush=True)
    layers = sorted({int(k.split("_")[-1]) for r in rows[next(iter(rows))] for k in r if k.startswith("fb_scale_")})
    lines = ["# The depth puzzle: the scale of the feedback at 64-24-24-24-24-24-10", "",
             f"digits, 10 epochs, defaults (eta 0.02, lam 1e-4), numpy engine, seeds {args.seeds}; mean over seeds. "
             "ff: forward-feedback angle (deg); scale: ||V B U|| / ||W^T|| (backprop: 1); product: the product of the "
             "scales over the layers, what the error reaching layer 1 is multiplied by beyond backprop's.", "",
             "| variant | test acc (per seed) | ff angle, mean over layers | scale per layer l = " +
             ", ".join(map(str, layers)) + " | product |", "|---|---|---|---|---|"]
    for label in VARIANTS:
        finals = [rows[label, s][-1] for s in seeds]
        acc = ", ".join(f"{float(f['test_acc']):.3f}" for f in finals)
        ff = np.mean([[float(f[f"ff_angle_{l}"]) for l in layers] for f in finals])
        scales = np.mean([[float(f[f"fb_scale_{l}"]) for l in layers] for f in finals], axis=0)
        prod = np.mean([np.prod([float(f[f"fb_scale_{l}"]) for l in layers]) for f in finals])
        lines.append(f"| {label} | {acc} | {ff:.1f} | {', '.join(f'{x:.2f}' for x in scales)} | {prod:.3g} |")
    atomic_write_text(Path(args.out) / "table.md", "\n".join(lines) + "\n")
    _plot(rows, layers, seeds, Path(args.out))
    write_manifest(args.out, __file__, argv, {**vars(args), "sizes": SIZES, "variants": VARIANTS, "engine": "numpy",
                                              "dataset": "digits", "epochs": 10}, started,
                   reproduce={"variant": "four_synapse (loop mirror)", "seed": seeds[0], "compare": ["test_acc"],
                              "tolerance": {"test_acc": 0.0005}})
    print("\n".join(lines))


def _plot(rows, layers, seeds, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(VARIANTS) - 1, figsize=(4 * (len(VARIANTS) - 1), 3.6), sharey=True)
    for ax, label in zip(axes, [v for v in VARIANTS if v != "backprop"]):
        for k, l in enumerate(layers):
            for s in seeds:
                rs = rows[label, s]
                ax.plot([float(r["epoch"]) for r in rs], [float(r[f"fb_scale_{l}"]) for r in rs], color=f"C{k}",
                        alpha=0.7, label=f"layer {l}" if s == seeds[0] else None)
        ax.axhline(1, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("||V B U|| / ||W^T||")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, out / "fb_scale.png")
    plt.close(fig)


if __name__ == "__main__":
    main()
