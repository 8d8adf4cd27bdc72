"""Phase diagrams of a sweep (PNG): heatmaps for two swept axes, curves with intervals for one."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..analysis.plots import save_png  # noqa: E402
from .table import group_stats, verdict_positive  # noqa: E402

__all__ = ["write_sweep_figures", "plot_phase_diagram", "plot_curves", "cell_note"]


def _save(fig, path):
    return save_png(fig, path, dpi=110)


def _label(axis):
    return " = ".join(k.split(".")[-1] for k in axis) if len(axis) > 1 else axis[0]


def _axis_values(sweep, axis):
    return list(zip(*[sweep.values[k] for k in axis])) if len(axis) > 1 else [(v,) for v in sweep.values[axis[0]]]


def _tick(values):
    return "/".join('""' if v == "" else str(v) for v in values)


def cell_note(stats):
    """What a phase-diagram cell says about its runs that are not done (they have no mean), e.g.
    ``"diverged 3/3"``; empty when every run is done.

    >>> cell_note({"of": 3, "statuses": {"diverged": 2, "done": 1}})
    'diverged 2/3'
    """
    return ", ".join(f"{status} {k}/{stats['of']}" for status, k in (stats.get("statuses") or {}).items()
                     if status != "done" and k)


def _cell_key(sweep, axis, values):
    """Value tuple of ``axis`` from a group's swept values (as stored in rows: JSON for lists)."""
    import json

    return tuple(json.loads(values[k]) if isinstance(values[k], str) and values[k][:1] == "[" else values[k]
                 for k in axis)


def plot_phase_diagram(sweep, stats, preset, path):
    """Two heatmaps over the two swept axes: worst-layer ff angle and accuracy difference to the reference.

    Cells show the mean over seeds of the runs that are done, and how many runs diverged, became
    unstable or failed (:func:`cell_note`); a black frame marks a positive verdict
    (:func:`selfassembly.sweep.table.verdict_positive`).
    """
    ax_y, ax_x = sweep.axes  # rows: first axis, columns: second
    ys, xs = _axis_values(sweep, ax_y), _axis_values(sweep, ax_x)
    panels = [("angle", "ff angle, worst layer (deg)", "viridis_r", (0, 90))]
    if sweep.reference and preset != sweep.reference:
        panels.append(("dacc", f"test acc - {sweep.reference}", "RdBu", None))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.9), squeeze=False)
    for ax, (name, title, cmap, lim) in zip(axes[0], panels):
        grid = np.full((len(ys), len(xs)), np.nan)
        marked = np.zeros_like(grid, dtype=bool)
        notes = {}
        for (group, p), s in stats.items():
            if p != preset:
                continue
            i = ys.index(_cell_key(sweep, ax_y, s["values"]))
            j = xs.index(_cell_key(sweep, ax_x, s["values"]))
            grid[i, j] = s[name][0]
            marked[i, j] = verdict_positive(s["verdict"])
            notes[i, j] = cell_note(s)
        if lim is None:
            m = np.nanmax(np.abs(grid)) if np.isfinite(grid).any() else 1.0
            lim = (-max(m, 1e-3), max(m, 1e-3))
        im = ax.imshow(grid, cmap=cmap, vmin=lim[0], vmax=lim[1], origin="lower", aspect="auto")
        fig.colorbar(im, ax=ax, shrink=0.85)
        for i in range(len(ys)):
            for j in range(len(xs)):
                text = f"{grid[i, j]:.{1 if name == 'angle' else 2}f}" if np.isfinite(grid[i, j]) else ""
                if notes.get((i, j)):  # runs that diverged, became unstable or failed: said, not left blank
                    text = (text + "\n" if text else "") + notes[i, j]
                if text:
                    ax.text(j, i, text, ha="center", va="center", fontsize=8,
                            color="white" if name == "angle" and grid[i, j] > 45 else "black")
                if marked[i, j]:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2.5, color="black"))
        ax.set_xticks(range(len(xs)), [_tick(x) for x in xs], fontsize=8)
        ax.set_yticks(range(len(ys)), [_tick(y) for y in ys], fontsize=8)
        ax.set_xlabel(_label(ax_x))
        ax.set_ylabel(_label(ax_y))
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"{preset}: mean over seeds {sweep.seeds} (framed: positive verdict)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_curves(sweep, stats, preset, path):
    """Worst-layer ff angle and accuracy difference against the one swept axis, mean and 95 % t-interval."""
    (axis,) = sweep.axes
    xs = _axis_values(sweep, axis)
    numeric = all(isinstance(x[0], (int, float)) and not isinstance(x[0], bool) for x in xs)
    panels = [("angle", "ff angle, worst layer (deg)")]
    panels.append(("dacc", f"test acc - {sweep.reference}") if sweep.reference and preset != sweep.reference
                  else ("acc", "test accuracy"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, (name, title) in zip(axes[0], panels):
        pos, mean, half, marks = [], [], [], []
        for (group, p), s in stats.items():
            if p != preset:
                continue
            x = _cell_key(sweep, axis, s["values"])
            pos.append(x[0] if numeric else xs.index(x))
            mean.append(s[name][0])
            half.append(0.0 if math.isnan(s[name][1]) else s[name][1])
            marks.append(verdict_positive(s["verdict"]))
        order = np.argsort(pos)
        pos, mean, half = (np.asarray(a, dtype=float)[order] for a in (pos, mean, half))
        marks = np.asarray(marks)[order]
        ax.errorbar(pos, mean, yerr=half, marker="o", ms=4, capsize=3)
        if marks.any():
            ax.plot(pos[marks], mean[marks], "k*", ms=11, label="positive verdict")
            ax.legend(fontsize=8)
        if not numeric:
            ax.set_xticks(range(len(xs)), [_tick(x) for x in xs], fontsize=8)
        elif min(pos) > 0 and max(pos) / min(pos) > 20:
            ax.set_xscale("log")
        ax.set_xlabel(_label(axis))
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{preset}: mean and 95 % t-interval over seeds {sweep.seeds}", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def write_sweep_figures(sweep, rows, out):
    """``phase_<preset>.png`` (two swept axes) or ``curves_<preset>.png`` (one) per preset; none otherwise.

    Returns
    -------
    list of Path
    """
    n_axes = len(sweep.axes)
    if n_axes not in (1, 2):
        return []
    stats = group_stats(sweep, rows)
    paths = []
    for preset in sweep.presets:
        if not any(s["n"] for (g, p), s in stats.items() if p == preset):
            continue
        if n_axes == 2:
            paths.append(plot_phase_diagram(sweep, stats, preset, Path(out) / f"phase_{preset}.png"))
        else:
            paths.append(plot_curves(sweep, stats, preset, Path(out) / f"curves_{preset}.png"))
    return paths
