"""
Lesions and phases: silencing spontaneous activity, freezing a synapse
======================================================================

A run can be a schedule of phases, each with its own settings (``[[phases]]`` in the TOML
configuration; docs/lesions.md). This script runs the three lesion experiments shipped as
configuration files in ``examples/``, the developmental phase, and the intact circuit beside
them, all four_synapse from the same seed and initial weights:

- ``intact``: the circuit as ``selfassembly run`` trains it (10 epochs);
- ``lesion_no_spontaneous.toml``: no spontaneous activity from the start (sigma_xi = 0);
- ``lesion_silenced_after_assembly.toml``: 5 epochs intact, then sigma_xi = 0 for 5;
- ``lesion_frozen_v_after_assembly.toml``: 5 epochs intact, then V frozen for 5 (and, beside it,
  ``lesion_frozen_u_after_assembly.toml``: U frozen instead);
- ``development_phase.toml``: 2 epochs of spontaneous activity alone (no stimulus), then 10 of learning.

It prints, at the end of each phase, the test accuracy, the forward-feedback angles (W_l^T
against M_l = V_{l-1} B_l U_l), the cross-stream angles (V_l against U_l^T) and the strength
of the loop ||M_l||_F, and, for the silenced loop, how fast that strength decayed against what
the rules predict. The figure shows the time courses with the phase boundaries.

The gallery shows the quick version (64-24-24-10, 240 samples, each phase one or two epochs:
too short to assemble, so read the layout, not the numbers);
``python examples/lesions.py --out docs/lesions`` makes the full version of docs/lesions.md
(about a minute on the numpy engine).
"""

# %%
import argparse
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from selfassembly.analysis.plots import mark_phases, phase_marks
from selfassembly.config import ExperimentConfig, load_config
from selfassembly.circuits.network import DivergenceError
from selfassembly.experiment import read_metrics, run_experiment
from selfassembly.io import load_snapshots, write_csv, atomic_write_text
from selfassembly.manifest import write_manifest

parser = argparse.ArgumentParser(description="Lesions and phases")
parser.add_argument("--quick", action="store_true", help="a short version (seconds) instead of the full one")
parser.add_argument("--out", default=".", help="folder for the run folders, figure and tables (default: here)")
args = parser.parse_args()
started = time.time()

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs the script without __file__, from its own folder
    HERE = Path.cwd()
EXPERIMENTS = {
    "intact": None,
    "no spontaneous": "lesion_no_spontaneous.toml",
    "silenced after assembly": "lesion_silenced_after_assembly.toml",
    "V frozen after assembly": "lesion_frozen_v_after_assembly.toml",
    "U frozen after assembly": "lesion_frozen_u_after_assembly.toml",
    "development": "development_phase.toml",
}
# the default run's settings; each lesion file adds its phases (and, for one, its B rule)
base = ExperimentConfig(presets=["four_synapse"], engine="numpy")
if args.quick:
    base = base.replace(sizes=[64, 24, 24, 10], max_train=240, records_per_epoch=4)
out = Path(args.out) / ("lesions_quick" if args.quick else "lesions")


def configuration(toml):
    """The experiment's configuration; the quick version has every phase 1-2 epochs long."""
    if toml is None:
        return base.replace(phases=[], epochs=2 if args.quick else 10)
    config = load_config(HERE / toml)
    phases = config.phases
    if args.quick:
        phases = [{**p, "epochs": min(p["epochs"], 1 if len(phases) > 1 else 2)} for p in phases]
    return base.replace(phases=phases, b_rule=config.b_rule)  # the silenced lesion's B: the loop mirror alone


def loop_strength(run):
    """||M_l||_F = ||V_{l-1} B_l U_l||_F at every snapshot of four_synapse, per layer l >= 2."""
    snaps = load_snapshots(run / "snapshots" / "four_synapse.npz")
    L = len(snaps.sizes) - 1
    out = {}
    for l in range(2, L + 1):
        V, B, U = (snaps.weights[f"{k}"] for k in (f"V{l - 1}", f"B{l}", f"U{l}"))
        out[l] = np.array([np.linalg.norm(V[k] @ B[k] @ U[k]) for k in range(len(snaps.steps))])
    return snaps.steps, out


results = {}
for label, toml in EXPERIMENTS.items():
    config = configuration(toml)
    run = out / "runs" / label.replace(" ", "_")
    try:
        run_experiment(config, run, progress=None)
    except DivergenceError as exc:  # recorded with its snapshots up to the divergence; reported below
        print(f"{label}: {str(exc).split(' Every preset')[0]}")
    rows = [{k: (v if k in ("preset", "phase") else float(v)) for k, v in r.items()} for r in read_metrics(run)]
    steps, strength = loop_strength(run)
    for r, k in zip(rows, range(len(steps))):
        r.update({f"loop_norm_{l}": float(s[k]) for l, s in strength.items()})
    status = json.loads((run / "summary.json").read_text())["presets"]["four_synapse"]["status"]
    results[label] = (config, rows, status)

# %%
# The numbers at the end of each phase
# ------------------------------------
# A row per experiment and phase: where the circuit stood when the phase ended.
layers = sorted(int(k.split("_")[-1]) for k in results["intact"][1][0] if k.startswith("ff_angle_"))
cross_layers = sorted(int(k.split("_")[-1]) for k in results["intact"][1][0] if k.startswith("cross_angle_"))
table = []
for label, (config, rows, status) in results.items():
    for k, row in enumerate(rows):
        last_of_phase = k == len(rows) - 1 or rows[k + 1].get("phase", "") != row.get("phase", "")
        if last_of_phase:
            table.append({"experiment": label, "phase": row.get("phase", "train"), "epoch": row["epoch"],
                          "test_acc": round(row["test_acc"], 4),
                          **{f"ff_angle_{l}": round(row[f"ff_angle_{l}"], 1) for l in layers},
                          **{f"cross_angle_{l}": round(row[f"cross_angle_{l}"], 1) for l in cross_layers},
                          **{f"loop_norm_{l}": float(f"{row[f'loop_norm_{l}']:.3g}") for l in layers},
                          "status": status if k == len(rows) - 1 else ""})
head = (f"{'experiment':<25}{'phase':<25}{'epoch':>6}{'acc':>7}" + "".join(f"{'ff W' + str(l):>8}" for l in layers)
        + "".join(f"{'V' + str(l) + ',U' + str(l):>8}" for l in cross_layers)
        + "".join(f"{'|M' + str(l) + '|':>10}" for l in layers) + "  status")
lines = [head, "-" * len(head)]
for t in table:
    lines.append(f"{t['experiment']:<25}{t['phase']:<25}{t['epoch']:>6.1f}{t['test_acc']:>7.3f}"
                 + "".join(f"{t[f'ff_angle_{l}']:>8.1f}" for l in layers)
                 + "".join(f"{t[f'cross_angle_{l}']:>8.1f}" for l in cross_layers)
                 + "".join(f"{t[f'loop_norm_{l}']:>10.3g}" for l in layers) + f"  {t['status']}")
print("\n".join(lines))

# %%
# How fast the silenced loop decays
# ---------------------------------
# With sigma_xi = 0, U is constant and V and B only decay, so ||M_l|| should fall by the factor
# (1 - eta_c lam_c)(1 - eta_b lam_b) per presentation: a half-life of
# ln 2 / -ln((1 - eta_c lam_c)(1 - eta_b lam_b)) presentations. The measured rate is the slope of
# ln ||M_l|| between the last snapshot of the assembly phase and the first one after it.
config, rows, _ = results["silenced after assembly"]
factor = (1 - config.eta_c * config.lam_c) * (1 - config.eta_b * config.lam_b)
n_train = round(rows[1]["step"] / rows[1]["epoch"])
boundary = next(k for k, r in enumerate(rows) if r["phase"] == "silenced") - 1
decay = []
for l in layers:
    a, b = rows[boundary], rows[boundary + 1]
    rate = (np.log(b[f"loop_norm_{l}"]) - np.log(a[f"loop_norm_{l}"])) / (b["step"] - a["step"])
    decay.append({"layer": l, "measured_rate_per_presentation": float(f"{-rate:.6g}"),
                  "predicted_rate_per_presentation": float(f"{-np.log(factor):.6g}"),
                  "half_life_presentations": round(np.log(2) / -rate, 1),
                  "half_life_epochs": round(np.log(2) / -rate / n_train, 4)})
    print(f"silenced loop, M{l}: ||M|| decays at {-rate:.6f} per presentation (rules: {-np.log(factor):.6f}); "
          f"half-life {np.log(2) / -rate:.0f} presentations = {np.log(2) / -rate / n_train:.3f} epochs")

# %%
# Time courses
# ------------
# One row per experiment: forward-feedback angles, cross-stream angles, the strength of the loop
# ||M_l|| (log scale) and test accuracy; dotted lines mark where a phase starts.
fig, axes = plt.subplots(len(results), 4, figsize=(17, 2.7 * len(results)), sharex=True, squeeze=False)
for row_axes, (label, (config, rows, status)) in zip(axes, results.items()):
    epoch = [r["epoch"] for r in rows]
    ax_ff, ax_cross, ax_norm, ax_acc = row_axes
    for k, l in enumerate(layers):
        ax_ff.plot(epoch, [r[f"ff_angle_{l}"] for r in rows], color=f"C{k}", label=f"W{l}")
        ax_norm.plot(epoch, [r[f"loop_norm_{l}"] for r in rows], color=f"C{k}", label=f"M{l}")
    for k, l in enumerate(cross_layers):
        ax_cross.plot(epoch, [r[f"cross_angle_{l}"] for r in rows], color=f"C{k}", label=f"V{l}, U{l}^T")
    ax_acc.plot(epoch, [r["test_acc"] for r in rows], color="black")
    ax_ff.set_ylabel(label + ("" if status == "done" else f"\n({status})"), fontsize=9)
    for ax in (ax_ff, ax_cross):
        ax.set_ylim(0, 100)
        ax.axhline(90, color="grey", lw=0.6)
    ax_norm.set_yscale("log")
    ax_acc.set_ylim(0, 1)
    marks = phase_marks(rows)
    for ax in row_axes:
        ax.grid(alpha=0.3)
        mark_phases(ax, marks)
    for ax in (ax_ff, ax_cross, ax_norm):
        ax.legend(fontsize=7, loc="lower right")
for ax, title in zip(axes[0], ("forward-feedback angle W^T vs V B U (deg)", "cross-stream angle V vs U^T (deg)",
                               "loop strength ||V B U||_F", "test accuracy")):
    ax.set_title(title, fontsize=10)
for ax in axes[-1]:
    ax.set_xlabel("epoch")
fig.tight_layout()

if not args.quick or args.out != ".":
    fig.savefig(out / "lesions.png", dpi=100)
    write_csv(out / "lesions.csv", table)
    write_csv(out / "silenced_decay.csv", decay)
    atomic_write_text(out / "lesions.md", "```\n" + "\n".join(lines) + "\n```\n")
    write_manifest(out, HERE / "lesions.py", None,
                   {"quick": args.quick, "experiments": EXPERIMENTS, "base": base.to_dict()}, started)
