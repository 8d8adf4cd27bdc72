"""
A phase diagram from a small sweep
==================================

Where in parameter space does the circuit assemble? ``selfassembly sweep
FILE.toml`` runs a grid of configurations (a run configuration plus a
``[sweep]`` table of dotted keys with lists of values, and seeds) on
dask.distributed, one run folder per point, and draws a phase diagram per
preset over the two swept axes: the worst layer's forward-feedback angle, and
the accuracy difference to a reference preset (docs/sweeps.md).

This script builds a tiny sweep in Python and runs it in this process's own
local Dask cluster, over the learning rates of the two assembling synapses:
eta_c (V mirrors U) and eta_u (U orthogonalises by reconstruction).

The gallery shows the quick version (2 x 2 points, one seed, 64-16-16-10, 120
samples, one epoch: too short to assemble, so read the layout, not the
colours); ``python examples/phase_diagram.py`` runs the sweep file
``examples/sweep_phase_diagram.toml`` (4 x 4 points, 3 seeds, 5 presets; 17
minutes with --workers 2 on 2 cores shared with other work, docs/sweeps.md).
"""

# %%
# Dask starts its worker processes by importing this script again ("spawn"), so
# everything that runs sits under ``if __name__ == "__main__":``, as in any
# script that starts a local cluster.
import argparse
from pathlib import Path

import matplotlib.pyplot as plt

from selfassembly.sweep import load_sweep, parse_sweep, run_sweep

#: the quick sweep: the same sections as a sweep file (a run configuration, then [sweep])
QUICK = {
    "circuit": {"sizes": [64, 16, 16, 10]},
    "data": {"max_train": 120},
    "training": {"presets": ["four_synapse", "kolen_pollack"], "epochs": 1},
    "plasticity": {"lam": 0.02},
    "sweep": {"plasticity.eta_c": [0.002, 0.004], "plasticity.eta_u": [0.0005, 0.001], "seeds": [0],
              "reference": "kolen_pollack"},
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A phase diagram from a small sweep")
    parser.add_argument("--quick", action="store_true", help="a tiny version (seconds) instead of the full one")
    parser.add_argument("--out", default=".", help="folder for the sweep folder (default: here)")
    parser.add_argument("--workers", type=int, default=2, help="local Dask worker processes (default 2)")
    args = parser.parse_args()
    if args.quick:
        sweep = parse_sweep(QUICK, source="phase_diagram.py")
    else:
        sweep = load_sweep(Path(__file__).resolve().parent / "sweep_phase_diagram.toml")
    out = Path(args.out) / ("sweep_quick" if args.quick else "sweep")
    summary = run_sweep(sweep, out, workers=args.workers, progress=None)
    print(f"{summary['runs']} runs ({summary['skipped']} already done), {summary['simulations']} simulated: "
          f"{summary['done']} done, {summary['failed']} failed, in {summary['wall_time_s']:.0f} s")

# %%
# What it wrote
# -------------
# ``sweep.csv`` has one row per point and preset (swept values, seed, status,
# final accuracy, angles, the difference to the reference); ``sweep.md``
# summarises each group of seeds; ``points/<id>/`` are ordinary run folders
# (``selfassembly inspect`` and ``compare`` read them).
if __name__ == "__main__":
    print((out / "sweep.md").read_text()[:1500])

# %%
# The phase diagram of four_synapse
# ---------------------------------
# Rows and columns are the two swept keys; each cell is the mean over seeds.
# A black frame marks a cell where the assembly verdict is positive.
if __name__ == "__main__":
    img = plt.imread(out / "phase_four_synapse.png")
    fig, ax = plt.subplots(figsize=(9, 9 * img.shape[0] / img.shape[1]))
    ax.imshow(img)
    ax.axis("off")
    fig.tight_layout()
    plt.show()
