"""
Your own data set from the command line
=======================================

``selfassembly run --dataset PATH`` trains on a data file of yours instead of
the bundled digits: an ``.npz`` with arrays ``X`` (samples x features) and
``y`` (or ``X_train``, ``y_train``, ``X_test``, ``y_test``), or a ``.csv``
with a header line, whose label column you name with ``--label-column``.
Whole-number labels (or class names in a CSV) mean classification; a float
``y`` matrix means regression (then ``--output linear``). Features are
divided by the largest absolute training value; the file is checked before
anything runs, and its sha256 is part of the run's configuration hash, so an
edited file is never resumed as done (docs/guide.md, "Your own data").

Here: scikit-learn's bundled iris flowers (150 samples, 4 features, 3
classes), written once as an .npz and once as a CSV with class names.

The gallery shows the quick version (3 epochs); ``python
examples/own_dataset.py`` trains for 50.
"""

# %%
import argparse
import csv
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris

from selfassembly.cli import main as selfassembly
from selfassembly.experiment import read_metrics

parser = argparse.ArgumentParser(description="Your own data set from the command line")
parser.add_argument("--quick", action="store_true", help="a short version (seconds) instead of the full one")
parser.add_argument("--out", default=".", help="folder for the data files and runs (default: here)")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

iris = load_iris()
np.savez(out / "iris.npz", X=iris.data, y=iris.target)
with open(out / "iris.csv", "w", newline="") as fh:
    writer = csv.writer(fh)
    writer.writerow([*iris.feature_names, "species"])
    writer.writerows([*row, iris.target_names[t]] for row, t in zip(iris.data, iris.target))

# %%
# Run it as you would in a shell
# ------------------------------
# ``n_0`` must be the number of features (4) and ``n_L`` the number of
# classes (3); a wrong size is refused with the right numbers named. (The
# command line's own function is called here, with the same arguments.)
common = ["--sizes", "4,16,3", "--epochs", "3" if args.quick else "50", "--eta", "0.1"]
code = selfassembly(["run", "--dataset", str(out / "iris.npz"), "--presets", "four_synapse,backprop", *common,
                     "--out", str(out / "iris_npz")])
print("exit status", code)
code = selfassembly(["run", "--dataset", str(out / "iris.csv"), "--label-column", "species", "--presets", "backprop",
                     *common, "--out", str(out / "iris_csv")])
print("exit status", code)

# %%
# A wrong layer size
# ------------------
# The check runs before anything is written, and names both ends.
print("exit status", selfassembly(["run", "--dataset", str(out / "iris.npz"), "--sizes", "64,16,10",
                                   "--out", str(out / "never_written")]))

# %%
# Learning curves
# ---------------
rows = read_metrics(out / "iris_npz")
fig, ax = plt.subplots(figsize=(6, 3.8))
for k, preset in enumerate(["four_synapse", "backprop"]):
    mine = [r for r in rows if r["preset"] == preset]
    ax.plot([float(r["epoch"]) for r in mine], [float(r["test_acc"]) for r in mine], marker="o", ms=3,
            color=f"C{k}", label=preset)
ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1), title="iris from iris.npz (chance 1/3)")
ax.legend()
fig.tight_layout()
plt.show()
