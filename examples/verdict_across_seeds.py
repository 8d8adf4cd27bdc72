"""
The verdict across seeds
========================

"Self-assembled" is a claim tested against a null, not read off an angle
(docs/analysis.md): a random-start preset is ASSEMBLED when, in every layer and
every seed, its cross-stream and forward-feedback angles lie outside what
random matrices of the same shapes give, and its forward-feedback angle is
clearly below that of both matched ablations (the 95% interval of the paired
difference over seeds lies below 0).

This script runs the same configuration with several seeds, then asks for the
verdict across them, as ``selfassembly inspect RUN_SEED0 RUN_SEED1 ...`` does.
It runs on the numpy engine (the Brian2 engine's numbers, faster) at the
default settings.

The gallery shows the quick version (64-32-32-10, three epochs, 3 seeds);
``python examples/verdict_across_seeds.py`` runs 64-128-128-10 for 10 epochs
with 5 seeds (about 3 minutes on 2 cores).
"""

# %%
import argparse
from pathlib import Path

import matplotlib.pyplot as plt

from selfassembly.analysis.inspect import seed_run_verdicts
from selfassembly.analysis.verdict import format_seed_verdict
from selfassembly.config import ExperimentConfig
from selfassembly.experiment import run_experiment

parser = argparse.ArgumentParser(description="The verdict across seeds")
parser.add_argument("--quick", action="store_true", help="a tiny version (seconds) instead of the full one")
parser.add_argument("--out", default=".", help="folder for the run folders (default: here)")
args = parser.parse_args()

presets = ["four_synapse", "four_synapse_fixed_cross", "feedback_alignment"]
base = ExperimentConfig(sizes=[64, 32, 32, 10], epochs=3) if args.quick else ExperimentConfig()
config = base.replace(presets=presets, engine="numpy")
seeds = [0, 1, 2] if args.quick else [0, 1, 2, 3, 4]
root = Path(args.out) / ("verdict_quick" if args.quick else "verdict")
run_dirs = []
for seed in seeds:
    run_dirs.append(root / f"seed{seed}")
    run_experiment(config.replace(seed=seed), run_dirs[-1], progress=None)

# %%
# The verdict
# -----------
# One line per preset: the verdict, the test that decided it, and the angles
# (mean over seeds) behind it. A preset whose U = V = I by construction
# (feedback_alignment) is STRUCTURED: its alignment is reported, with no
# self-assembly claim.
verdicts, seeds = seed_run_verdicts(run_dirs, n_samples=100, echo=print)
for v in verdicts.values():
    print(format_seed_verdict(v))

# %%
# Where the decision comes from
# -----------------------------
# The forward-feedback angle of four_synapse in each seed against each
# ablation's in the same seed (the paired difference is what the interval is
# about), and the random null's median.
fs = verdicts["four_synapse"]
fig, ax = plt.subplots(figsize=(6, 3.8))
for k, preset in enumerate(presets):
    v = verdicts[preset]
    if "ff_angle" not in v:
        continue
    layers = sorted(v["ff_angle"])
    ax.plot(layers, [v["ff_angle"][l] for l in layers], marker="o", color=f"C{k}", label=f"{preset}: {v['verdict']}")
if "null" in fs:
    ff_null = fs["null"]["ff"]
    ax.plot(sorted(ff_null), [ff_null[l]["null_median"] for l in sorted(ff_null)], ls="--", color="grey",
            label="random null (median)")
ax.set(xlabel="layer l", ylabel="forward-feedback angle (deg, mean over seeds)", ylim=(0, 100),
       title=f"{len(seeds)} seeds, lambda = {config.lam:g}")
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()
