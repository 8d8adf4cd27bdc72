"""
Reconstruction through a bottleneck: where aligned feedback matters
===================================================================

On digits classification random feedback (feedback alignment) learns about as
well as backprop, so accuracy there cannot show what an assembled feedback
pathway buys. Reconstruction can: the circuit reproduces its input through a
narrow hidden layer (``--task reconstruction``: target = input, linear output,
squared error), and the error must travel back through several layers.

This script trains backprop, feedback alignment, four_synapse and
four_synapse_no_loop_mirror (the circuit before B's loop mirror) from the same
seed, reports each one's test error per image beside the mean predictor's, and
shows a few reconstructions.

The gallery shows the quick version (64-48-12-48-64, three epochs);
``python examples/reconstruction.py`` runs ten epochs (about a minute on the
numpy engine). The 5-seed table is ``benchmarks/results/self_assembly/reconstruction``.
"""

# %%
import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from selfassembly.circuits import reference as ref
from selfassembly.config import ExperimentConfig
from selfassembly.experiment import format_summary, load_run_data, run_experiment
from selfassembly.io import load_snapshots

parser = argparse.ArgumentParser(description="Reconstruction through a bottleneck")
parser.add_argument("--quick", action="store_true", help="a short version (seconds) instead of the full one")
parser.add_argument("--out", default=".", help="folder for the run folder (default: here)")
args = parser.parse_args()

presets = ["backprop", "feedback_alignment", "four_synapse", "four_synapse_no_loop_mirror"]
# eta 0.01: backprop's choice by validation at this architecture (benchmarks/loop_mirror_tuning.py)
config = ExperimentConfig(sizes=[64, 48, 12, 48, 64], task="reconstruction", output="linear", eta=0.01,
                          engine="numpy", presets=presets, epochs=3 if args.quick else 10)
out = Path(args.out) / ("reconstruction_quick" if args.quick else "reconstruction")
summary = run_experiment(config, out, progress=None)
print(format_summary(summary, config))
for preset, s in summary["presets"].items():
    print(f"{preset}: test error {s['final_test_error']:.3f} (mean predictor {s['mean_predictor_error']:.3f})")

# %%
# What the reconstructions look like
# ----------------------------------
# Five test digits (top row) and each preset's reconstruction of them after
# training: with random feedback the bottleneck's layers learn less of the
# digits' structure.
data = load_run_data(config)
fig, axes = plt.subplots(len(presets) + 1, 5, figsize=(6, 1.3 * (len(presets) + 1)))
for k in range(5):
    axes[0, k].imshow(data.X_test[k].reshape(8, 8), cmap="gray_r")
for row, preset in enumerate(presets, start=1):
    snaps = load_snapshots(out / "snapshots" / f"{preset}.npz")
    _, r = ref.forward(snaps.at(len(snaps.steps) - 1), data.X_test[:5], config.activation, config.output)
    for k in range(5):
        axes[row, k].imshow(np.clip(r[-1][k], 0, 1).reshape(8, 8), cmap="gray_r")
    axes[row, 0].set_ylabel(preset.replace("four_synapse_", "fs_"), fontsize=7, rotation=0, ha="right")
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("input", fontsize=7, rotation=0, ha="right")
fig.suptitle("test digits and their reconstructions")
fig.tight_layout()
