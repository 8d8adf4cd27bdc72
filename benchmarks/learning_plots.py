"""Figures of the learning benchmark (benchmarks/learning.py): PNG, Agg backend, written atomically.

``<dataset>_curves.png``
    one row per architecture: test accuracy and forward-feedback angle (mean over layers)
    against epochs, each preset at its tuned setting, mean over seeds with a band of one sd.
``<dataset>_diff.png``
    per architecture, each preset's paired difference to backprop (points) with its 95%
    t-interval, tuned and shared settings side by side.
``<dataset>_tuning.png``
    stage 1: the validation score of every (eta, lam) per preset at each tuned architecture.
``<dataset>_tradeoff.png``
    stage 1 at eta = 0.02: validation score and forward-feedback angle against lam.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from selfassembly.analysis.plots import save_png  # noqa: E402
from selfassembly.plasticity.presets import PRESET_NAMES  # noqa: E402

__all__ = ["plot_all"]

COLORS = dict(zip(PRESET_NAMES, [*plt.get_cmap("tab10").colors, "black", "grey"]))


def _save(fig, path):
    return save_png(fig, path, dpi=100)


def _archs(rows):
    return sorted({r["arch"] for r in rows}, key=lambda a: (a.count("-"), a))


def plot_curves(path, tests, tuned_keys, title, params=("eta", "lam", "eta_c", "eta_u")):
    """Test accuracy and ff angle over epochs for the tuned runs (``tuned_keys``: (arch, preset, settings
    of ``params``))."""
    archs = _archs(tests)
    fig, axes = plt.subplots(len(archs), 2, figsize=(10, 3.2 * len(archs)), squeeze=False)
    for row, arch in zip(axes, archs):
        for preset in PRESET_NAMES:
            runs = [r for r in tests if r["arch"] == arch and r["preset"] == preset and r["status"] == "done"
                    and (arch, preset, tuple(r[k] for k in params)) in tuned_keys]
            if not runs:
                continue
            n = min(len(r["curve"]) for r in runs)
            epochs = [c["epoch"] for c in runs[0]["curve"][:n]]
            for ax, key in zip(row, ("acc", "ff_angle")):
                y = np.array([[c[key] for c in r["curve"][:n]] for r in runs])
                m, s = y.mean(0), y.std(0, ddof=1) if len(runs) > 1 else np.zeros(n)
                ax.plot(epochs, m, color=COLORS[preset], label=f"{preset} ({len(runs)})")
                ax.fill_between(epochs, m - s, m + s, color=COLORS[preset], alpha=0.2)
        row[0].set_ylabel(f"{arch}\ntest accuracy")
        row[0].set_ylim(0.5, 1.0)
        row[1].set_ylabel("forward-feedback angle (deg)")
        row[1].set_ylim(0, 95)
        for ax in row:
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{title}: each preset at its tuned setting, mean ± sd over seeds")
    fig.tight_layout()
    _save(fig, path)


def plot_diffs(path, summary, title):
    """Paired difference to backprop with 95% t-intervals, per architecture, tuned and shared."""
    archs = _archs(summary)
    fig, axes = plt.subplots(1, len(archs), figsize=(4.2 * len(archs), 3.8), squeeze=False, sharey=True)
    for ax, arch in zip(axes[0], archs):
        presets = [p for p in PRESET_NAMES if p != "backprop"]
        for k, (setting, marker) in enumerate((("tuned", "o"), ("shared", "s"))):
            labelled = False
            for i, preset in enumerate(presets):
                r = next((r for r in summary if r["arch"] == arch and r["preset"] == preset
                          and r["setting"] == setting), None)
                if r is None:
                    continue
                y = i + (0.15 if k else -0.15)
                m = r["diff_to_backprop_mean"]
                if r["diff_ci_low"] != "":
                    ax.plot([r["diff_ci_low"], r["diff_ci_high"]], [y, y], color=COLORS[preset], lw=2)
                ax.plot(m, y, marker, color=COLORS[preset], mfc="white" if setting == "shared" else COLORS[preset],
                        label=None if labelled else setting)
                labelled = True
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(presets)))
        ax.set_yticklabels(presets, fontsize=8)
        ax.set_xlabel("test accuracy − backprop (points)")
        ax.set_title(arch, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{title}: paired difference to backprop, mean and 95% t-interval over seeds "
                 "(filled: own tuned setting; open: backprop's setting)", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def plot_tuning(path, tuning, grid, title):
    """Stage 1's validation scores: one heatmap of eta x lam per preset and tuned architecture."""
    stage1 = [r for r in tuning if r.get("stage1", True)]
    archs = _archs(stage1)
    presets = [p for p in PRESET_NAMES if any(r["preset"] == p for r in stage1)]
    if not archs or not presets:
        return
    fig, axes = plt.subplots(len(archs), len(presets), figsize=(2.3 * len(presets), 2.4 * len(archs)),
                             squeeze=False)
    for row, arch in zip(axes, archs):
        for ax, preset in zip(row, presets):
            z = np.full((len(grid["lam"]), len(grid["eta"])), np.nan)
            diverged = np.zeros(z.shape, dtype=bool)
            for r in stage1:
                if r["arch"] == arch and r["preset"] == preset and r["lam"] in grid["lam"]:
                    i, j = grid["lam"].index(r["lam"]), grid["eta"].index(r["eta"])
                    if r["val_score"] == "":
                        diverged[i, j] = True
                    else:
                        z[i, j] = r["val_score"]
            ax.imshow(z, origin="lower", vmin=np.nanmax(z) - 0.1 if np.isfinite(z).any() else 0, vmax=1.0,
                      cmap="viridis", aspect="auto")
            for (i, j), v in np.ndenumerate(z):
                text = "div" if diverged[i, j] else ("" if np.isnan(v) else f"{v:.3f}")
                ax.text(j, i, text, ha="center", va="center", fontsize=6, color="w")
            ax.set_xticks(range(len(grid["eta"])))
            ax.set_xticklabels([f"{e:g}" for e in grid["eta"]], fontsize=6)
            ax.set_yticks(range(len(grid["lam"])))
            ax.set_yticklabels([f"{x:g}" for x in grid["lam"]], fontsize=6)
            ax.set_title(f"{preset}\n{arch}", fontsize=7)
            ax.set_xlabel("eta", fontsize=7)
            ax.set_ylabel("lam", fontsize=7)
    fig.suptitle(f"{title}: validation score per (eta, lam), stage 1 ('div': diverged)", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def plot_tradeoff(path, tuning, title, eta=0.02):
    """Stage 1 at one eta: validation score and final forward-feedback angle against lam, per preset.

    The weight decay lam is what pulls B towards W^T in Kolen-Pollack and in the four-synapse
    circuit; this shows what it costs in accuracy (backprop has no angle to gain)."""
    stage1 = [r for r in tuning if r.get("stage1", True) and r["eta"] == eta and r["val_score"] != ""]
    archs = _archs(stage1)
    if not archs:
        return
    fig, axes = plt.subplots(len(archs), 2, figsize=(9, 3.0 * len(archs)), squeeze=False)
    for row, arch in zip(axes, archs):
        for preset in PRESET_NAMES:
            rs = sorted((r for r in stage1 if r["arch"] == arch and r["preset"] == preset), key=lambda r: r["lam"])
            if not rs:
                continue
            lam = [r["lam"] for r in rs]
            row[0].plot(lam, [r["val_score"] for r in rs], "o-", color=COLORS[preset], label=preset)
            row[1].plot(lam, [r["ff_angle"] for r in rs], "o-", color=COLORS[preset], label=preset)
        for ax in row:
            ax.set_xscale("log")
            ax.set_xlabel("lam (weight decay of W and B)")
            ax.grid(alpha=0.3)
        row[0].set_ylabel(f"{arch}\nvalidation score")
        row[1].set_ylabel("forward-feedback angle (deg)")
        row[1].set_ylim(0, 95)
    axes[0, 1].legend(fontsize=7)
    fig.suptitle(f"{title}: the decay that aligns B with W costs accuracy (stage 1, eta = {eta:g}, seed 0)",
                 fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def plot_all(out, tests, tuning, summary, chosen, labels, params, grids, slugs=None):
    """Every figure of every data set present in the results.

    ``params`` names the tuned parameters of a setting (learning.PARAMS) and ``grids`` maps each
    data set to its tuning grid: passed in, so that this module does not import learning.py back.
    ``slugs`` names each data set's files (default: its key). Classification runs only.
    """
    for dataset, label in labels.items():
        name = (slugs or {}).get(dataset, dataset)
        t = [r for r in tests if r["dataset"] == dataset]
        s = [r for r in summary if r["dataset"] == label]
        keys = {(r["arch"], r["preset"], tuple(r[k] for k in params)) for r in s if r["setting"] == "tuned"}
        if t and s:
            plot_curves(out / f"{name}_curves.png", t, keys, label, params)
            plot_diffs(out / f"{name}_diff.png", s, label)
        tu = [r for r in tuning if r["dataset"] == label]
        if tu:
            plot_tuning(out / f"{name}_tuning.png", tu, grids[dataset], label)
            plot_tradeoff(out / f"{name}_tradeoff.png", tu, label)
