"""Where is U's reconstruction rule stable? A scan of eta_c x (eta_u / eta_c) on digits.

U's rule, dU_l = eta_u s_l (xi_l - a_l)^T with a_l = V_l s_l, is Oja's subspace
rule only while V mirrors U (V_l = U_l^T); if U moves faster than V can follow,
the loop V U amplifies instead of normalising and the weights run away. This
scan trains four_synapse with MODEL.md's equations on the numpy engine
(:mod:`selfassembly.circuits.numpy_engine`, held equal to the Brian2 circuit and
to :mod:`selfassembly.circuits.reference` by the tests), B on its task rule only
(the scan predates the loop mirror), at weight decay ``--lam`` (default: the
package default), over a grid of eta_c and the ratio eta_u / eta_c,
for tanh and relu and two architectures, and records per run: whether it
diverged (non-finite or |w| > 1e6), final test accuracy, the forward-feedback
angle (worst layer), the cross-stream angle (worst layer) and U's
orthogonality (worst layer). four_synapse_fixed_u (eta_u = 0) at the same
eta_c is the reference row of each block.

The numpy engine is used, not the Brian2 circuit, because it is about 10x
faster for these sizes and computes the same numbers; ``selfassembly sweep``
runs such grids on the simulator itself (docs/sweeps.md).

Output (rewritten atomically after every run; a rerun skips the rows already in it whose key
-- arch, f, eta_c, ratio, seed, lam, epochs -- matches, see :func:`row_key`; ``scan.md`` shows
the rows of this run's lam and epochs only)::

    benchmarks/results/cross_stability/scan.csv
    benchmarks/results/cross_stability/scan.md     (stable-region table)
    benchmarks/results/cross_stability/manifest.json (command, settings, code version, machine)

Run::

    .venv/bin/python benchmarks/cross_stability.py            # full grid (about 20 min on one core)
    .venv/bin/python benchmarks/cross_stability.py --quick    # a 2-run smoke test
"""
from __future__ import annotations

import argparse
import csv
import itertools
import time
from pathlib import Path

import numpy as np

from selfassembly.analysis.alignment import cross_stream_angles, forward_feedback_angles, u_orthogonality
from selfassembly.circuits import reference as ref
from selfassembly.circuits.connectivity import initial_weights
from selfassembly.circuits.numpy_engine import SampleLoop
from selfassembly.datasets import load_dataset
from selfassembly.experiment import presentation_order
from selfassembly.io import atomic_write_text, write_csv
from selfassembly.manifest import earlier_calls, write_manifest
from selfassembly.plasticity import DEFAULT_PARAMS
from selfassembly.plasticity.presets import make_preset

RESULTS = Path(__file__).resolve().parent / "results" / "cross_stability"
COLUMNS = ["arch", "f", "eta_c", "ratio", "eta_u", "seed", "lam", "epochs", "status", "test_acc", "ff_angle_max", "cross_angle_max",
           "u_orth_max", "at_presentation"]
#: weights above this are counted as diverged (the loop amplifies; NaN follows within steps)
BLOW_UP = 1e6


def row_key(row):
    """What identifies a run of the scan: every setting that changes its result.

    A row written before lam and epochs were recorded has them as "" (unknown), so it matches no
    new run and is redone rather than silently kept.

    >>> row_key({"arch": "64-16-10", "f": "tanh", "eta_c": "0.002", "ratio": "0.25", "seed": "0",
    ...          "lam": "0.0001", "epochs": "10"})
    ('64-16-10', 'tanh', 0.002, 0.25, 0, 0.0001, 10)
    >>> row_key({"arch": "64-16-10", "f": "tanh", "eta_c": "0.002", "ratio": "0.25", "seed": "0"})[-2:]
    (None, None)
    """
    lam, epochs = row.get("lam", ""), row.get("epochs", "")
    return (row["arch"], row["f"], float(row["eta_c"]), float(row["ratio"]), int(row["seed"]),
            float(lam) if lam not in ("", None) else None, int(epochs) if epochs not in ("", None) else None)


def train(sizes, f, eta_c, eta_u, seed, epochs, data, lam=DEFAULT_PARAMS["lam"]):
    """Train four_synapse (or four_synapse_fixed_u when eta_u = 0) with the numpy engine (B: task rule only)."""
    preset = "four_synapse" if eta_u > 0 else "four_synapse_fixed_u"
    # B's task rule only: the scan is about the cross-stream pair's stability, as committed
    rules = make_preset(preset, eta_c=eta_c, eta_u=eta_u, lam=lam, b_rule="task")
    w, _ = initial_weights(sizes, rules, seed=seed)
    loop = SampleLoop(sizes, rules, w, f, "softmax")
    order = presentation_order(len(data.X_train), epochs, seed)
    rng = np.random.default_rng([seed, 2])
    L = len(sizes) - 1
    for k, i in enumerate(order):
        xi = {l: rules.cross.sigma_xi * rng.standard_normal(sizes[l]) for l in range(1, L + 1)}
        loop.present(data.X_train[i], data.Y_train[i], xi)
        if k % 100 == 0 and not all(np.all(np.abs(v) < BLOW_UP) for v in loop.weights().values()):
            return {"status": "diverged", "at_presentation": k + 1}
    w = loop.weights()
    if not all(np.all(np.isfinite(v)) for v in w.values()):
        return {"status": "diverged", "at_presentation": len(order)}
    _, acc = ref.evaluate(w, data.X_test, data.Y_test, f, "softmax")
    return {"status": "done", "test_acc": round(acc, 4),
            "ff_angle_max": round(max(forward_feedback_angles(w).values()), 2),
            "cross_angle_max": round(max(cross_stream_angles(w).values()), 2),
            "u_orth_max": round(max(u_orthogonality(w).values()), 4), "at_presentation": ""}


def grid(quick):
    if quick:
        return [([64, 16, 16, 10], "tanh", 0.002, r, 0) for r in (0.0, 0.25)]
    archs = ([64, 128, 128, 10], [64, 64, 64, 64, 10])
    return [(a, f, c, r, s) for a, f, c, r, s in itertools.product(
        archs, ("tanh", "relu"), (0.001, 0.002, 0.004), (0.0, 0.125, 0.25, 0.5, 1.0), (0,))]


def summarise(rows, lam=DEFAULT_PARAMS["lam"], epochs=10):
    """Markdown: per architecture and activation, the runs by eta_c (rows) and eta_u / eta_c (columns).

    Only the rows made at ``lam`` and ``epochs`` enter the table.
    """
    rows = [r for r in rows if row_key(r)[-2:] == (lam, epochs)]
    lines = ["# U reconstruction: stability scan (digits, four_synapse, numpy engine, B on its task rule)", "",
             f"lam = {lam:g}, {epochs} epochs, seed 0. "
             "Each cell: test accuracy / worst forward-feedback angle (deg), or DIVERGED at presentation k. "
             "Ratio 0 is four_synapse_fixed_u (U fixed).", ""]
    key = lambda r: (r["arch"], r["f"])  # noqa: E731
    for (arch, f), group in itertools.groupby(sorted(rows, key=key), key=key):
        group = list(group)
        ratios = sorted({float(r["ratio"]) for r in group})
        lines += [f"## {arch}, {f}", "", "| eta_c | " + " | ".join(f"eta_u/eta_c = {r:g}" for r in ratios) + " |",
                  "|---" * (len(ratios) + 1) + "|"]
        for eta_c in sorted({float(r["eta_c"]) for r in group}):
            cells = []
            for ratio in ratios:
                found = [r for r in group if float(r["eta_c"]) == eta_c and float(r["ratio"]) == ratio]
                if not found:
                    cells.append("")
                elif found[0]["status"] != "done":
                    cells.append(f"DIVERGED at {found[0]['at_presentation']}")
                else:
                    cells.append(f"{float(found[0]['test_acc']):.3f} / {float(found[0]['ff_angle_max']):.0f}")
            lines.append(f"| {eta_c:g} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def reproduce_cell(rows, lam, epochs, quick=False):
    """The cell ``make reproduce`` reruns: tanh, eta_c = 0.002, eta_u / eta_c = 1/4, seed 0, at the
    first architecture of the grid that the scan holds at this lam and epochs (a scan run with
    ``--archs`` may hold only some).

    >>> row = {"arch": "64-64-64-64-10", "f": "tanh", "eta_c": "0.001", "ratio": "0", "seed": "0", "lam": "0.0001",
    ...        "epochs": "10"}
    >>> reproduce_cell([row], 1e-4, 10)["arch"], reproduce_cell([row], 0.02, 10)["arch"]
    ('64-64-64-64-10', '64-128-128-10')
    """
    held = {r["arch"] for r in rows if row_key(r)[5:] in ((lam, epochs), (None, None))}
    archs = [a for a in dict.fromkeys("-".join(map(str, g[0])) for g in grid(quick)) if a in held]
    return {"arch": (archs or ["64-128-128-10"])[0], "f": "tanh", "eta_c": 0.002, "ratio": 0.25, "seed": 0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two tiny runs (smoke test)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lam", type=float, default=DEFAULT_PARAMS["lam"], help="weight decay of W and B's task rule")
    parser.add_argument("--archs", default=None,
                        help="comma-separated architectures of the grid to run now (default: all), e.g. 64-128-128-10")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    started = time.time()
    out = Path(args.out)
    epochs = 1 if args.quick else args.epochs
    path = out / "scan.csv"
    rows = list(csv.DictReader(open(path))) if path.exists() else []
    done = {row_key(r) for r in rows}
    earlier = earlier_calls(out) if rows else []  # a resumed scan: the calls that made the rows already there
    data = load_dataset("digits", 0.2, 0)
    if args.quick:
        data.X_train, data.Y_train = data.X_train[:200], data.Y_train[:200]
    todo = [g for g in grid(args.quick) if args.archs is None or "-".join(map(str, g[0])) in args.archs.split(",")]
    t0 = time.perf_counter()
    for n, (sizes, f, eta_c, ratio, seed) in enumerate(todo, 1):
        arch = "-".join(map(str, sizes))
        if (arch, f, eta_c, ratio, seed, args.lam, epochs) in done:
            continue
        result = train(sizes, f, eta_c, ratio * eta_c, seed, epochs, data, lam=args.lam)
        rows.append({"arch": arch, "f": f, "eta_c": eta_c, "ratio": ratio, "eta_u": ratio * eta_c, "seed": seed,
                     "lam": args.lam, "epochs": epochs, **result})
        write_csv(path, rows, COLUMNS)
        atomic_write_text(out / "scan.md", summarise(rows, args.lam, epochs))
        print(f"[{n}/{len(todo)}] {arch} {f} eta_c={eta_c:g} eta_u/eta_c={ratio:g}: {result['status']} "
              f"acc={result.get('test_acc', '-')} ff={result.get('ff_angle_max', '-')} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    atomic_write_text(out / "scan.md", summarise(rows, args.lam, epochs))
    write_manifest(out, __file__, argv, {**vars(args), "epochs": epochs, "engine": "numpy", "b_rule": "task",
                                         "dataset": "digits", "grid": grid(args.quick)}, started,
                   reproduce={"cell": reproduce_cell(rows, args.lam, epochs, args.quick),
                              "compare": ["test_acc", "ff_angle_max"], "tolerance": {"test_acc": 0.0005,
                                                                                   "ff_angle_max": 0.05}},
                   **({"earlier_calls": earlier} if earlier else {}))
    print(f"wrote {path} and {out / 'scan.md'}")


if __name__ == "__main__":
    main()
