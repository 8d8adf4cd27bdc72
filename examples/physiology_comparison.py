"""
A physiology comparison with your own data
==========================================

``selfassembly compare RUN --data mine.csv`` holds the simulated circuit
against published connectivity and plasticity statistics (shipped with the
package) and against your own measurements, one CSV row per measurement with
its 95% interval (docs/physiology.md, "Your own data"). A statistic of the
model *agrees* when its bootstrap interval overlaps the data's.

This script trains a small run, writes a lab's CSV, and compares.

The gallery shows the quick version (one preset, 64-24-24-10, 240 samples,
one epoch); ``python examples/physiology_comparison.py`` runs the
four_synapse preset at the default size for 10 epochs (about 1 minute).
"""

# %%
import argparse
from pathlib import Path

import matplotlib.pyplot as plt

from selfassembly.analysis.compare import compare_results
from selfassembly.config import ExperimentConfig, quick_config
from selfassembly.experiment import run_experiment

parser = argparse.ArgumentParser(description="A physiology comparison with your own data")
parser.add_argument("--quick", action="store_true", help="a tiny version (seconds) instead of the full one")
parser.add_argument("--out", default=".", help="folder for the run and the report (default: here)")
args = parser.parse_args()

config = (quick_config() if args.quick else ExperimentConfig()).replace(presets=["four_synapse"])
run = Path(args.out) / ("physiology_quick" if args.quick else "physiology")
run_experiment(config, run, progress=None)

# %%
# Your measurements
# -----------------
# One row per measurement: the statistic, its value, a 95% interval (or a
# standard error ``se``), and where it comes from. An infinite bound makes a
# direction-only finding. These numbers are made up for the example.
mine = Path(args.out) / "my_lab.csv"
mine.write_text(
    "statistic,value,ci_low,ci_high,se,n,source\n"
    'reciprocity_ratio,3.2,2.5,4.1,,120,"My lab (2026), L2/3 pairs"\n'
    'lognormal_sigma,1.05,,,0.04,300,"My lab (2026)"\n'
    'loop_index_V,1.6,1,inf,,,"My lab (2026): looped cells get more feedback"\n'
)

result = compare_results(run, data_files=[mine], out_dir=run / "compare")
print(result["summary"])

# %%
# Each of your rows against the model
# -----------------------------------
# Every comparison names the model population, both values and intervals, and
# the verdict with its reason; the full report is ``physiology.md``.
def fmt(x):
    return "n/a" if x is None else f"{x:.3g}"


for name, block in result["statistics"].items():
    for c in block["comparisons"]:
        if c["data_file"] and Path(c["data_file"]).name == mine.name:
            print(f"{name} [{c['population']}]: model {fmt(c['model_value'])} "
                  f"({fmt(c['model_ci'][0])} .. {fmt(c['model_ci'][1])}) vs data {fmt(c['data_value'])} "
                  f"({fmt(c['data_interval'][0])} .. {fmt(c['data_interval'][1])}): {c['verdict']} ({c['reason']})")

# %%
# The report's figure
# -------------------
# ``compare`` draws every statistic's data interval and model value into
# ``physiology_statistics.png``; here it is.
img = plt.imread(run / "compare" / "physiology_statistics.png")
fig, ax = plt.subplots(figsize=(10, 10 * img.shape[0] / img.shape[1]))
ax.imshow(img)
ax.axis("off")
fig.tight_layout()
plt.show()
