"""Learning benchmark: every preset of MODEL.md, same seeds and initial W, several architectures.

For each architecture and seed, every preset is trained with
:func:`selfassembly.experiment.run_experiment` into its own folder
(``OUT/runs/<dataset>_<arch>/seed<k>/<preset>/``), so a rerun skips what is
done and an interrupted run resumes. Within one seed all presets share the
train/test split, the presentation order and the initial W (the seed also
picks the split, so the spread over seeds includes the split).

Outputs, rewritten as runs finish (at most once a minute, and at the end; atomically):

``OUT/<dataset>_curves.csv``
    every snapshot of every run: test/train accuracy and loss, angles per layer.
``OUT/<dataset>_final.csv``
    the last snapshot of every run (one row per architecture, seed and preset).
``OUT/<dataset>_table.csv`` and ``OUT/<dataset>.md``
    mean and standard deviation over seeds per architecture and preset: final
    test accuracy, its paired difference to backprop, forward-feedback,
    cross-stream and gradient angles (each the mean over layers); the Markdown
    says where four_synapse is behind backprop and by how much.
``OUT/<dataset>.png``
    one row per architecture: test accuracy, forward-feedback angle and
    cross-stream angle against training epochs, mean over seeds with a band of
    one standard deviation.

Run (digits, the full benchmark: every preset (7) x 3 seeds x 2 architectures)::

    .venv/bin/python benchmarks/learning.py
    .venv/bin/python benchmarks/learning.py --mnist ~/data/mnist --target cpp_standalone

MNIST is read from the four standard IDX files in the named folder (see
:mod:`selfassembly.idx`); nothing is downloaded.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from selfassembly.config import ExperimentConfig
from selfassembly.circuits.network import DivergenceError
from selfassembly.experiment import run_experiment
from selfassembly.io import atomic_write_text, write_csv
from selfassembly.plasticity.presets import PRESET_NAMES

__all__ = ["parse_arch", "arch_name", "run_benchmark", "collect", "summarize", "markdown", "plot", "DEFAULT_ARCHS"]

DEFAULT_ARCHS = {"digits": ["64-128-10", "64-128-128-10"], "mnist": ["784-256-10", "784-256-256-10"]}
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "learning"
REFERENCE = "backprop"
FOCUS = "four_synapse"
#: snapshots averaged for the "late" accuracy (the last 5 epochs at one snapshot per epoch)
LATE = 5


def parse_arch(text):
    """``"64-128-10"`` -> ``[64, 128, 10]`` (also accepts commas)."""
    try:
        sizes = [int(x) for x in str(text).replace(",", "-").split("-") if x.strip()]
    except ValueError:
        raise ValueError(f"an architecture is layer sizes joined by '-', like 64-128-10; got {text!r}") from None
    if len(sizes) < 3 or min(sizes) < 1:
        raise ValueError(f"an architecture needs an input, at least one hidden and an output layer of positive size; got {text!r}")
    return sizes


def arch_name(sizes):
    return "-".join(str(n) for n in sizes)


def run_dir(out, dataset, sizes, seed, preset):
    return Path(out) / "runs" / f"{dataset}_{arch_name(sizes)}" / f"seed{seed}" / preset


def _status(folder, preset):
    path = Path(folder) / "summary.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("presets", {}).get(preset, {}).get("status")


def run_benchmark(dataset="digits", archs=None, seeds=(0, 1, 2), presets=PRESET_NAMES, epochs=20, out=DEFAULT_OUT,
                  mnist_dir="", max_train=0, records_per_epoch=1, target="numpy", progress=sys.stdout,
                  write_every_s=60.0, **overrides):
    """Train every (architecture, seed, preset), skipping finished runs; write the outputs as runs finish.

    The tables and the figure are rewritten after a finished run when ``write_every_s``
    seconds have passed since the last writing, and at the end. ``overrides`` are further :class:`~selfassembly.config.ExperimentConfig` fields (e.g. ``eta``).
    Returns the aggregated table rows (:func:`summarize`).
    """
    out = Path(out)
    archs = [parse_arch(a) if isinstance(a, str) else list(a) for a in (archs or DEFAULT_ARCHS[dataset])]
    jobs = [(sizes, seed, preset) for sizes in archs for seed in seeds for preset in presets]
    t0 = last_write = time.perf_counter()
    for k, (sizes, seed, preset) in enumerate(jobs, 1):
        folder = run_dir(out, dataset, sizes, seed, preset)
        status = _status(folder, preset)
        label = f"[{k}/{len(jobs)}] {dataset} {arch_name(sizes)} seed {seed} {preset}"
        if status in ("done", "diverged"):
            _say(progress, f"{label}: {status} earlier, skipped")
            continue
        config = ExperimentConfig(sizes=sizes, dataset=dataset, mnist_dir=str(mnist_dir or ""), presets=[preset],
                                  epochs=epochs, seed=seed, max_train=max_train, records_per_epoch=records_per_epoch,
                                  target=target, **overrides)
        _say(progress, f"{label}: training ({time.perf_counter() - t0:.0f} s into this session)")
        try:
            run_experiment(config, folder, progress=progress)
        except DivergenceError as exc:
            _say(progress, f"{label}: DIVERGED: {exc}")
        if time.perf_counter() - last_write > write_every_s:
            write_outputs(out, dataset, archs, seeds, presets)
            last_write = time.perf_counter()
    rows = write_outputs(out, dataset, archs, seeds, presets)
    _say(progress, f"learning benchmark finished in {time.perf_counter() - t0:.0f} s; results in {out}")
    return rows


def _say(stream, msg):
    if stream is not None:
        print(msg, file=stream, flush=True)


def _float(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def collect(out, dataset, archs, seeds, presets):
    """Curve rows and final rows of the runs found under ``out`` (finished or diverged)."""
    curves, finals = [], []
    for sizes in archs:
        for seed in seeds:
            for preset in presets:
                folder = run_dir(out, dataset, sizes, seed, preset)
                status = _status(folder, preset)
                if status not in ("done", "diverged") or not (folder / "metrics.csv").exists():
                    continue
                with open(folder / "metrics.csv", newline="") as fh:
                    rows = [r for r in csv.DictReader(fh) if r["preset"] == preset]
                summary = json.loads((folder / "summary.json").read_text())["presets"][preset]
                run_rows = []
                for r in rows:
                    row = {"dataset": dataset, "arch": arch_name(sizes), "seed": seed, "preset": preset}
                    row.update({k: (v if k == "preset" else _float(v)) for k, v in r.items() if k != "preset"})
                    for kind in ("ff_angle", "cross_angle", "grad_angle"):
                        vals = [row[k] for k in row if k.startswith(kind + "_")]
                        row[f"{kind}_mean"] = float(np.mean(vals)) if vals else float("nan")
                    run_rows.append(row)
                curves += run_rows
                final = dict(run_rows[-1])
                # the last snapshot of single-sample training is noisy: also the mean of the last LATE
                final["test_acc_late"] = float(np.mean([r["test_acc"] for r in run_rows[-LATE:]]))
                final["status"] = status
                final["wall_time_s"] = summary.get("wall_time_s", float("nan"))
                finals.append(final)
    return curves, finals


def _mean_sd(values):
    values = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else float("nan")


def summarize(finals):
    """Per architecture and preset: mean and sd over seeds, and the paired gap to backprop."""
    table = []
    archs = list(dict.fromkeys(f["arch"] for f in finals))
    for arch in archs:
        rows = [f for f in finals if f["arch"] == arch]
        ref = {f["seed"]: f["test_acc"] for f in rows if f["preset"] == REFERENCE and f["status"] == "done"}
        for preset in dict.fromkeys(f["preset"] for f in rows):
            runs = [f for f in rows if f["preset"] == preset]
            done = [f for f in runs if f["status"] == "done"]
            acc = [f["test_acc"] for f in done]
            gaps = [f["test_acc"] - ref[f["seed"]] for f in done if f["seed"] in ref]
            entry = {"dataset": runs[0]["dataset"], "arch": arch, "preset": preset, "seeds": len(done),
                     "diverged": len(runs) - len(done)}
            entry["test_acc_mean"], entry["test_acc_sd"] = _mean_sd(acc)
            entry["gap_to_backprop_mean"], entry["gap_to_backprop_sd"] = _mean_sd(gaps)
            entry["seeds_behind_backprop"] = sum(g < 0 for g in gaps)
            ref_late = {f["seed"]: f["test_acc_late"] for f in rows if f["preset"] == REFERENCE and f["status"] == "done"}
            entry["test_acc_late_mean"], entry["test_acc_late_sd"] = _mean_sd([f["test_acc_late"] for f in done])
            entry["gap_late_mean"], entry["gap_late_sd"] = _mean_sd(
                [f["test_acc_late"] - ref_late[f["seed"]] for f in done if f["seed"] in ref_late])
            entry["train_acc_mean"], entry["train_acc_sd"] = _mean_sd([f["train_acc"] for f in done])
            for kind in ("ff_angle", "cross_angle", "grad_angle"):
                entry[f"{kind}_mean"], entry[f"{kind}_sd"] = _mean_sd([f[f"{kind}_mean"] for f in done])
            entry["epochs"] = max(f["epoch"] for f in runs)
            entry["wall_time_s_mean"] = _mean_sd([_float(f["wall_time_s"]) for f in runs])[0]
            table.append(entry)
    return table


def _pm(m, s, scale=1.0, digits=3):
    if not np.isfinite(m):
        return "n/a"
    if not np.isfinite(s):  # a single seed: no spread
        return f"{m * scale:.{digits}f}"
    return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}"


def verdict(table, arch):
    """One plain sentence: where four_synapse stands against backprop on one architecture."""
    rows = {r["preset"]: r for r in table if r["arch"] == arch}
    if FOCUS not in rows or REFERENCE not in rows or not np.isfinite(rows[FOCUS]["gap_to_backprop_mean"]):
        return f"{arch}: no paired four_synapse and backprop runs yet."
    f, b = rows[FOCUS], rows[REFERENCE]
    gap = f["gap_to_backprop_mean"] * 100
    n, behind = f["seeds"], f["seeds_behind_backprop"]
    where = "behind" if gap < 0 else "ahead of"
    pm = lambda m, s: _pm(abs(m), s, 100, 1)  # noqa: E731
    late = f["gap_late_mean"] * 100
    return (f"{arch}: four_synapse reaches {_pm(f['test_acc_mean'], f['test_acc_sd'])} test accuracy against "
            f"backprop's {_pm(b['test_acc_mean'], b['test_acc_sd'])}: it is **{where} backprop by "
            f"{pm(f['gap_to_backprop_mean'], f['gap_to_backprop_sd'])} percentage points** (paired difference over "
            f"{n} seed{'s' if n != 1 else ''}; behind in {behind} of {n}; averaged over the last {LATE} snapshots of "
            f"each run: {'behind' if late < 0 else 'ahead'} by {pm(f['gap_late_mean'], f['gap_late_sd'])}).")


def markdown(table, dataset, epochs, seeds, command=""):
    """The Markdown page of the table (one section per architecture)."""
    lines = [f"# Learning benchmark: {dataset}", ""]
    lines.append(f"Final test accuracy after {epochs:g} epochs, mean ± sd over seeds {', '.join(map(str, seeds))} "
                 "(each seed: its own train/test split, presentation order and initial W, shared by all presets). "
                 "Δ backprop: paired difference to backprop of the same seed, in percentage points. "
                 f"Last {LATE} snapshots: each run's test accuracy averaged over its last {LATE} snapshots (single-sample "
                 "training makes the last snapshot noisy). Angles in "
                 "degrees at the end of training, mean over layers: forward-feedback (W_l^T against "
                 "V_{l-1} B_l U_l; 0 = aligned, 90 = random), cross-stream (V_l against U_l^T), gradient "
                 "(the circuit's dW_l against the backprop gradient on 100 test samples).")
    if command:
        lines += ["", f"Command: `{command}`"]
    for arch in dict.fromkeys(r["arch"] for r in table):
        lines += ["", f"## {arch}", "", "**" + verdict(table, arch).split(":", 1)[0] + ":**" + verdict(table, arch).split(":", 1)[1], ""]
        lines.append(f"| preset | seeds | test accuracy | Δ backprop (pp) | last {LATE} snapshots | Δ backprop, last {LATE} (pp) "
                     "| ff angle | cross angle | gradient angle | wall time per run (s) |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in (r for r in table if r["arch"] == arch):
            div = f" ({r['diverged']} diverged)" if r["diverged"] else ""
            gap = "—" if r["preset"] == REFERENCE else _pm(r["gap_to_backprop_mean"], r["gap_to_backprop_sd"], 100, 1)
            late = "—" if r["preset"] == REFERENCE else _pm(r["gap_late_mean"], r["gap_late_sd"], 100, 1)
            lines.append(f"| {r['preset']} | {r['seeds']}{div} | {_pm(r['test_acc_mean'], r['test_acc_sd'])} | {gap} | "
                         f"{_pm(r['test_acc_late_mean'], r['test_acc_late_sd'])} | {late} | "
                         f"{_pm(r['ff_angle_mean'], r['ff_angle_sd'], digits=1)} | "
                         f"{_pm(r['cross_angle_mean'], r['cross_angle_sd'], digits=1)} | "
                         f"{_pm(r['grad_angle_mean'], r['grad_angle_sd'], digits=1)} | {r['wall_time_s_mean']:.0f} |")
    lines += ["", f"![accuracy and alignment over training]({dataset}.png)", ""]
    return "\n".join(lines)


def _band(curves, arch, preset, key):
    """Epochs and mean, sd over seeds of ``key`` (only epochs every seed reached)."""
    by_seed = {}
    for r in curves:
        if r["arch"] == arch and r["preset"] == preset:
            by_seed.setdefault(r["seed"], {})[r["epoch"]] = r[key]
    if not by_seed:
        return None
    epochs = sorted(set.intersection(*(set(s) for s in by_seed.values())))
    vals = np.array([[s[e] for e in epochs] for s in by_seed.values()], dtype=float)
    if not np.isfinite(vals).any():
        return None
    return np.array(epochs), np.nanmean(vals, axis=0), np.nanstd(vals, axis=0)


def plot(curves, path, dataset):
    """One figure: a row per architecture; test accuracy, forward-feedback and cross-stream angle over training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    archs = list(dict.fromkeys(r["arch"] for r in curves))
    presets = [p for p in PRESET_NAMES if any(r["preset"] == p for r in curves)]
    colors = {p: f"C{k}" for k, p in enumerate(PRESET_NAMES)}
    cols = [("test_acc", "test accuracy"), ("ff_angle_mean", "forward-feedback angle (deg)\nW^T vs V B U"),
            ("cross_angle_mean", "cross-stream angle (deg)\nV vs U^T")]
    fig, axes = plt.subplots(len(archs), 3, figsize=(13, 3.4 * len(archs)), squeeze=False)
    for i, arch in enumerate(archs):
        for j, (key, label) in enumerate(cols):
            ax = axes[i, j]
            for p in presets:
                band = _band(curves, arch, p, key)
                if band is None:
                    continue
                x, m, s = band
                ax.plot(x, m, color=colors[p], label=p, lw=2 if p in (FOCUS, REFERENCE) else 1.2)
                ax.fill_between(x, m - s, m + s, color=colors[p], alpha=0.2, lw=0)
            ax.set_ylabel(label)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            if key == "test_acc":
                ax.set_title(f"{dataset} {arch}: test accuracy", fontsize=10)
            else:
                ax.set_ylim(-3, 100)
                ax.axhline(90, color="grey", lw=0.8, ls=":")
                ax.set_title(f"{arch}: {label.splitlines()[0]}", fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.06 / len(archs) + 0.02, 1, 1))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def write_outputs(out, dataset, archs, seeds, presets, command=None):
    """Collect every finished run under ``out`` and (re)write the CSV, Markdown and PNG files."""
    out = Path(out)
    curves, finals = collect(out, dataset, archs, seeds, presets)
    if not finals:
        return []
    table = summarize(finals)
    write_csv(out / f"{dataset}_curves.csv", curves)
    write_csv(out / f"{dataset}_final.csv", finals)
    write_csv(out / f"{dataset}_table.csv", table)
    epochs = max(f["epoch"] for f in finals)
    if command is None:
        argv = [a for a in sys.argv[1:] if a != "--report-only"]
        command = " ".join(["python benchmarks/learning.py", *argv]) if sys.argv and "learning" in sys.argv[0] else ""
    atomic_write_text(out / f"{dataset}.md", markdown(table, dataset, epochs, list(seeds), command))
    plot(curves, out / f"{dataset}.png", dataset)
    return table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", metavar="DIR", help="run on MNIST, read from the four IDX files in DIR (plain or .gz)")
    ap.add_argument("--archs", nargs="+", help="architectures, e.g. 64-128-10 64-128-128-10 "
                    "(default: digits 64-128-10 64-128-128-10; mnist 784-256-10 784-256-256-10)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--presets", nargs="+", default=list(PRESET_NAMES), choices=PRESET_NAMES)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--records-per-epoch", type=int, default=1, help="snapshots (curve points) per epoch")
    ap.add_argument("--max-train", type=int, default=0, help="use only the first N training samples (0: all)")
    ap.add_argument("--target", default="numpy", help="Brian2 code generation: numpy, cython or cpp_standalone")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (rerunning into it resumes)")
    ap.add_argument("--report-only", action="store_true", help="only rewrite the tables and figure from the runs found")
    args = ap.parse_args(argv)
    dataset = "mnist" if args.mnist else "digits"
    archs = [parse_arch(a) for a in (args.archs or DEFAULT_ARCHS[dataset])]
    if dataset == "mnist":
        from selfassembly.idx import load_mnist

        load_mnist(args.mnist)  # fail now, with the loader's message, not after the first architecture
    if args.report_only:
        table = write_outputs(args.out, dataset, archs, args.seeds, args.presets)
    else:
        table = run_benchmark(dataset, archs, args.seeds, args.presets, args.epochs, args.out, args.mnist or "",
                              args.max_train, args.records_per_epoch, args.target)
    for arch in dict.fromkeys(r["arch"] for r in table):
        print(verdict(table, arch).replace("**", ""))
    print(f"tables and figure: {Path(args.out) / dataset}.md, .csv, .png")


if __name__ == "__main__":
    main()
