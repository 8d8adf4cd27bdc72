"""``selfassembly inspect RESULTS_DIR``: has the four-synapse motif self-assembled?

For each preset's snapshots (``RESULTS_DIR/snapshots/<preset>.npz``) this
writes, under ``OUT/<preset>/`` (default ``OUT = RESULTS_DIR/inspect``):

* ``alignment.csv``: forward-feedback, cross-stream and gradient alignment
  angles at every snapshot;
* ``motifs.json``: the loop census, its degree-preserving null statistics,
  reciprocity at every snapshot, the triad census at the first and last
  snapshot, and the verdict;
* ``graph.graphml``: the circuit at the last snapshot (strong synapses, or
  all with ``graph="all"``), for Gephi or Cytoscape;
* ``circuit.png``, ``feedback_heatmaps.png``, ``timecourse.png``;

plus ``OUT/verdicts.json`` and ``OUT/overview.png``, and prints one verdict
line per preset.

Verdict criterion
-----------------
A preset's circuit is *assembled* when, at its last snapshot, in every layer:

1. the forward-feedback angle between W_l^T and M_l = V_{l-1} B_l U_l is
   below ``max_angle`` (default 60 deg, i.e. cosine above 1/2: the feedback
   carries at least half of W^T's direction; 90 deg is chance);
2. the cross-stream angle between V_l and U_l^T is below ``max_angle``
   (the reciprocal pair has formed);
3. the weighted four-synapse census (sum over loops of strong synapses of
   the product of their weights) lies more than ``min_z`` (default 3)
   standard deviations above its degree-preserving shuffled null: strong
   loops close with a consistent sign far more than chance wiring allows.

The unweighted loop count ratio is reported beside it but is not part of the
criterion: with dense random U and V every cell pair is joined by many
loops, so the count stays at chance even when the weights are aligned.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import Snapshots, SnapshotError, load_snapshots, write_csv, write_json
from .graph import circuit_graph, reciprocity, triad_census, write_graphml
from .timecourse import alignment_timecourse, motif_timecourse

__all__ = ["inspect_results", "assembly_verdict", "format_verdict", "read_run_config", "find_snapshots", "register"]


def read_run_config(results_dir):
    """The settings of a run that the analysis needs, from ``RESULTS_DIR/config.toml``.

    Uses :func:`selfassembly.config.load_config` (which validates the file)
    where it exists, plain :mod:`tomllib` otherwise.

    Returns
    -------
    dict or None
        ``sizes``, ``activation``, ``output``, ``dataset``, ``test_fraction``,
        ``mnist_dir``, ``seed``; None if there is no ``config.toml``.
    """
    path = Path(results_dir) / "config.toml"
    if not path.is_file():
        return None
    try:
        from ..config import load_config
    except ImportError:
        load_config = None
    if load_config is not None:
        c = load_config(path)
        return {
            "sizes": list(c.sizes), "activation": c.activation, "output": c.output, "dataset": c.dataset,
            "test_fraction": c.test_fraction, "mnist_dir": c.mnist_dir or None, "seed": c.seed,
            "config_hash": c.config_hash(),
        }
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    circuit, dat, training = data.get("circuit", {}), data.get("data", {}), data.get("training", {})
    return {
        "sizes": circuit.get("sizes"), "activation": circuit.get("activation", "tanh"),
        "output": circuit.get("output", "softmax"), "dataset": dat.get("dataset", "digits"),
        "test_fraction": dat.get("test_fraction", 0.2), "mnist_dir": dat.get("mnist_dir") or None,
        "seed": training.get("seed", 0),
    }


def find_snapshots(results_dir, presets=None):
    """``{preset: path}`` of the snapshot files of a results folder.

    Raises
    ------
    SnapshotError
        If the folder does not exist, holds no snapshot, or lacks a preset asked for.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise SnapshotError(f"results folder {results_dir} does not exist; give the --out folder of `selfassembly run`")
    found = {p.stem: p for p in sorted((results_dir / "snapshots").glob("*.npz"))}
    if not found:
        raise SnapshotError(
            f"no weight snapshots in {results_dir / 'snapshots'} (expected <preset>.npz files); "
            f"run `selfassembly run --out {results_dir}` first, or point at a finished run's folder"
        )
    if presets:
        missing = [p for p in presets if p not in found]
        if missing:
            raise SnapshotError(f"no snapshots for preset(s) {missing} in {results_dir / 'snapshots'}; found: {list(found)}")
        found = {p: found[p] for p in presets}
    return found


def _finite(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def assembly_verdict(align_row, motif_row, max_angle=60.0, min_z=3.0):
    """Apply the criterion of this module to the last snapshot's measures.

    Parameters
    ----------
    align_row : dict
        A row of :func:`~selfassembly.analysis.timecourse.alignment_timecourse`.
    motif_row : dict
        An entry of :func:`~selfassembly.analysis.timecourse.motif_timecourse`
        (None for a one-layer circuit).
    max_angle, min_z : float

    Returns
    -------
    dict
        ``assembled`` (True, False, or None when the circuit has no loop),
        ``step``, ``ff_angle``, ``cross_angle``, ``weighted_z``,
        ``count_ratio``, ``count_z`` (each ``{layer: value}``), ``failed``
        (the reasons, empty if assembled) and ``criterion`` (in words).

    Examples
    --------
    >>> v = assembly_verdict({"step": 9, "ff_angle_2": 20.0, "cross_angle_1": 0.0},
    ...                      {"layers": {2: {"weighted_z": 12.0, "ratio": 9.0, "z": 40.0}}})
    >>> v["assembled"], v["failed"]
    (True, [])
    """
    criterion = (f"every layer at the last snapshot: forward-feedback angle < {max_angle:g} deg, "
                 f"cross-stream angle < {max_angle:g} deg, weighted motif z > {min_z:g}")
    ff = {int(k[9:]): v for k, v in align_row.items() if k.startswith("ff_angle_")}
    cross = {int(k[12:]): v for k, v in align_row.items() if k.startswith("cross_angle_")}
    out = {"step": int(align_row["step"]), "ff_angle": ff, "cross_angle": cross, "criterion": criterion}
    if not ff or motif_row is None:
        out.update(assembled=None, failed=["one-layer circuit: no feedback pathway and no four-synapse loop"],
                   weighted_z={}, count_ratio={}, count_z={})
        return out
    layers = {int(l): s for l, s in motif_row["layers"].items()}
    out["weighted_z"] = {l: s["weighted_z"] for l, s in layers.items()}
    out["count_ratio"] = {l: s["ratio"] for l, s in layers.items()}
    out["count_z"] = {l: s["z"] for l, s in layers.items()}
    failed = []
    failed += [f"forward-feedback angle of layer {l} is {a:.1f} deg (>= {max_angle:g})" for l, a in ff.items()
               if not (_finite(a) and a < max_angle)]
    failed += [f"cross-stream angle of layer {l} is {a:.1f} deg (>= {max_angle:g})" for l, a in cross.items()
               if not (_finite(a) and a < max_angle)]
    # z = +inf (a null without spread, observed above it) passes; NaN never does
    failed += [f"weighted motif z of layers {l - 1}-{l} is {z:.2f} (<= {min_z:g})" for l, z in out["weighted_z"].items()
               if not (isinstance(z, (int, float)) and not math.isnan(z) and z > min_z)]
    out["assembled"] = not failed
    out["failed"] = failed
    return out


def _fmt(values, spec=".1f"):
    return ", ".join(f"{v:{spec}}" if _finite(v) else str(v) for _, v in sorted(values.items())) or "-"


def format_verdict(preset, verdict, null_note=""):
    """One line: the preset, ASSEMBLED / NOT ASSEMBLED, and the numbers behind it.

    >>> v = {"assembled": True, "step": 9, "ff_angle": {2: 20.0}, "cross_angle": {1: 0.0},
    ...      "weighted_z": {2: 12.0}, "count_ratio": {2: 9.0}, "failed": []}
    >>> format_verdict("kolen_pollack", v)
    'kolen_pollack: ASSEMBLED at step 9: forward-feedback angle 20.0 deg, cross-stream angle 0.0 deg, weighted motif z 12.0 (loop count ratio 9.00)'
    """
    state = {True: "ASSEMBLED", False: "NOT ASSEMBLED", None: "NOT APPLICABLE"}[verdict["assembled"]]
    run_status = verdict.get("run_status")
    if run_status:  # the run failed: say so first; the numbers are those of its last finite snapshot
        state = (f"{run_status.upper()} (the run {run_status == 'diverged' and 'diverged' or 'became unstable'}; "
                 f"its last kept snapshot is {state})")
    line = (f"{preset}: {state} at step {verdict['step']}: forward-feedback angle {_fmt(verdict['ff_angle'])} deg, "
            f"cross-stream angle {_fmt(verdict['cross_angle'])} deg, weighted motif z {_fmt(verdict['weighted_z'])} "
            f"(loop count ratio {_fmt(verdict['count_ratio'], '.2f')}{null_note})")
    if verdict["failed"]:
        line += "; fails: " + "; ".join(verdict["failed"])
    return line


def _held_out(config, sizes, n_samples, echo):
    """First ``n_samples`` test samples of the run's data split, or None (with a note)."""
    if config is None:
        echo("note: no config.toml in the results folder; gradient alignment is skipped")
        return None, None
    if n_samples <= 0:
        return None, None
    from ..datasets import load_dataset

    try:
        data = load_dataset(config["dataset"], config["test_fraction"], config["seed"], config["mnist_dir"])
    except (ValueError, OSError) as exc:
        echo(f"note: cannot load the data set for gradient alignment ({exc}); skipped")
        return None, None
    if data.n_features != sizes[0] or data.n_classes != sizes[-1]:
        echo(f"note: data set {config['dataset']} has {data.n_features} inputs and {data.n_classes} classes, the "
             f"circuit {sizes[0]} and {sizes[-1]}; gradient alignment is skipped")
        return None, None
    return data.X_test[:n_samples], data.Y_test[:n_samples]


def _run_statuses(results_dir):
    """{preset: status} from summary.json ({} if it is absent or unreadable: the verdicts do not need it)."""
    import json

    try:
        presets = json.loads((Path(results_dir) / "summary.json").read_text(encoding="utf-8")).get("presets", {})
        return {p: s.get("status", "") for p, s in presets.items() if isinstance(s, dict)}
    except (OSError, ValueError, AttributeError):
        return {}


def _worst(values, fn):
    vals = [v for v in values if _finite(v)]
    return fn(vals) if vals else float("nan")


def inspect_results(results_dir, out_dir=None, presets=None, threshold=None, density=0.1, n_null=20, seed=0,
                    n_rounds=10, n_samples=200, triads="W", graph="strong", max_angle=60.0, min_z=3.0,
                    plots=True, echo=print):
    """Analyse a run's snapshots and write the files listed in the module docstring.

    Parameters
    ----------
    results_dir : str or Path
        Folder written by ``selfassembly run`` (needs ``snapshots/*.npz``;
        ``config.toml`` is used for the held-out data and checked against
        the snapshots' layer sizes).
    out_dir : str or Path, optional
        Where to write; default ``results_dir/inspect``.
    presets : list of str, optional
        Restrict to these presets; default every snapshot file.
    threshold, density : float
        Strong synapses for every connection-counting measure (census,
        reciprocity, triads, graph): ``|w| > threshold``, or the strongest
        fraction ``density`` of each population. A threshold overrides the
        density (default density 0.1).
    n_null, seed, n_rounds : int
        Null circuits per snapshot, their seed, swap rounds per rewiring.
    n_samples : int
        Held-out samples for the gradient alignment (0 skips it).
    triads : str or list of str or None
        Populations of the triad census ("W", "U,V", "W2", ...; "all" for
        the whole circuit; None or "" skips it).
    graph : {"strong", "all"}
        Synapses written to ``graph.graphml`` and drawn in ``circuit.png``.
    max_angle, min_z : float
        Thresholds of the verdict criterion.
    plots : bool
        Write the PNG figures.
    echo : callable
        Receives the printed lines (verdicts, notes).

    Returns
    -------
    dict of str -> dict
        ``{preset: verdict}`` (see :func:`assembly_verdict`).

    Raises
    ------
    SnapshotError
        No snapshots, unreadable or inconsistent snapshot files, or snapshot
        sizes that disagree with ``config.toml``.
    ValueError
        An impossible threshold or density (it would leave a population
        without synapses), or another invalid argument.
    """
    if graph not in ("strong", "all"):
        raise InputError(f"graph must be 'strong' or 'all', got {graph!r}")
    if threshold is not None:
        density = None
    if threshold is None and density is None:
        raise InputError("give a threshold (|weight| value) or a density (fraction of synapses kept) for strong synapses")
    if isinstance(triads, str):
        triads = None if triads.strip() in ("", "none") else triads.strip()
    triad_pops = None if triads in (None, "all") else [p.strip() for p in (triads.split(",") if isinstance(triads, str) else triads)]
    results_dir = Path(results_dir)
    files = find_snapshots(results_dir, presets)
    config = read_run_config(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir / "inspect"
    loaded = {}
    for preset, path in files.items():
        snaps = load_snapshots(path)
        if len(snaps.steps) == 0:
            raise SnapshotError(f"{path} holds no snapshot (steps is empty); the run recorded nothing for {preset}")
        finite = np.array([all(np.isfinite(w[k]).all() for w in snaps.weights.values()) for k in range(len(snaps.steps))])
        if not finite.all():
            if not finite.any():
                raise SnapshotError(f"{path}: every snapshot holds non-finite weights (the run diverged); "
                                    "leave this preset out with --presets")
            echo(f"note: {preset}: snapshots at steps {snaps.steps[~finite].tolist()} hold non-finite weights "
                 "(the run diverged) and are left out")
            snaps = Snapshots(snaps.sizes, snaps.steps[finite], {k: v[finite] for k, v in snaps.weights.items()},
                              snaps.masks)
        if config is not None and config["sizes"] is not None and list(snaps.sizes) != list(config["sizes"]):
            raise SnapshotError(
                f"{path} has layer sizes {list(snaps.sizes)} but {results_dir / 'config.toml'} says {list(config['sizes'])}; "
                "the snapshots do not belong to this run (rerun it, or remove the stale file)"
            )
        if config is not None and snaps.config_hash and config.get("config_hash") not in (None, snaps.config_hash):
            raise SnapshotError(
                f"{path} was made by another configuration than {results_dir / 'config.toml'} (their hashes differ); "
                "the snapshots do not belong to this run (rerun it, or remove the stale file)"
            )
        loaded[preset] = snaps
    all_sizes = {preset: list(snaps.sizes) for preset, snaps in loaded.items()}
    if len({tuple(v) for v in all_sizes.values()}) > 1:
        raise SnapshotError(
            f"the snapshot files in {results_dir / 'snapshots'} have different layer sizes {all_sizes}; "
            "one run's presets share one circuit: remove the stale files or inspect them with --presets"
        )
    sizes = next(iter(loaded.values())).sizes
    statuses = _run_statuses(results_dir)
    X, Y = _held_out(config, list(sizes), n_samples, echo)
    f = config["activation"] if config else "tanh"
    output = config["output"] if config else "softmax"
    how = {"threshold": threshold} if threshold is not None else {"density": density}
    null_note = (f" vs {n_null} degree-preserving shuffles, "
                 + (f"|w| > {threshold:g}" if threshold is not None else f"density {density:g}"))
    verdicts, overview = {}, {}
    for preset, snaps in loaded.items():
        dest = out_dir / preset
        align = alignment_timecourse(snaps, X, Y, f, output)
        write_csv(dest / "alignment.csv", align)
        has_loops = snaps.n_layers >= 2
        motif = motif_timecourse(snaps, threshold, density, n_null, seed, n_rounds) if has_loops else []
        last = len(snaps.steps) - 1
        entries = []
        for k in range(len(snaps.steps)):
            w = snaps.at(k)
            G = circuit_graph(w, threshold=threshold, density=density, masks=snaps.masks)
            entry = {"step": int(snaps.steps[k])}
            if has_loops:
                entry.update(layers=motif[k]["layers"], total=motif[k]["total"])
            entry["reciprocity"] = reciprocity(G)
            if triads is not None and k in (0, last):
                entry["triads"] = {"populations": triads if triad_pops is None else triad_pops,
                                   "census": triad_census(G, triad_pops)}
            entries.append(entry)
            if k == last:
                final_graph = G if graph == "strong" else circuit_graph(w, masks=snaps.masks)
        verdict = assembly_verdict(align[-1], motif[-1] if has_loops else None, max_angle, min_z)
        if statuses.get(preset) in ("diverged", "unstable"):
            verdict["run_status"] = statuses[preset]
        verdicts[preset] = verdict
        write_json(dest / "motifs.json", {
            "preset": preset, "sizes": list(snaps.sizes), "strong_synapses": how, "n_null": n_null, "seed": seed,
            "n_rounds": n_rounds, "null_model": "degree-preserving double edge swaps per population, weights shuffled over edges",
            "verdict": verdict, "snapshots": entries,
        })
        write_graphml(final_graph, dest / "graph.graphml")
        if plots:
            from . import connectivity_plots as cp

            cp.plot_circuit(final_graph, dest / "circuit.png", title=f"{preset}, step {int(snaps.steps[-1])}")
            if has_loops:
                cp.plot_feedback_heatmaps(snaps, dest / "feedback_heatmaps.png", title=preset)
                cp.plot_timecourse(align, motif, dest / "timecourse.png", title=preset, max_angle=max_angle, min_z=min_z)
        if has_loops:
            overview[preset] = {
                "steps": [r["step"] for r in align],
                "ff_angle": [_worst([v for k, v in r.items() if k.startswith("ff_angle_")], max) for r in align],
                "cross_angle": [_worst([v for k, v in r.items() if k.startswith("cross_angle_")], max) for r in align],
                "weighted_z": [_worst([s["weighted_z"] for s in m["layers"].values()], min) for m in motif],
            }
        echo(format_verdict(preset, verdict, null_note))
    write_json(out_dir / "verdicts.json", {"criterion": next(iter(verdicts.values()))["criterion"],
                                            "strong_synapses": how, "n_null": n_null, "presets": verdicts})
    if plots and overview:
        from .connectivity_plots import plot_overview

        plot_overview(overview, out_dir / "overview.png", max_angle=max_angle, min_z=min_z)
    echo(f"wrote {out_dir}")
    return verdicts


def _positive_fraction(text):
    value = float(text)
    if not 0 < value <= 1:
        import argparse

        raise argparse.ArgumentTypeError(f"density must be in (0, 1] (a fraction of synapses kept), got {text}")
    return value


def register(subparsers):
    """Add the ``inspect`` command to an :mod:`argparse` subparsers object.

    Usage in the CLI::

        sub = parser.add_subparsers(dest="command")
        register(sub)            # then args.func(args) runs it, returning 0
    """
    p = subparsers.add_parser(
        "inspect", help="has the four-synapse motif self-assembled? (alignment, motif census, graph, plots)",
        description=("Analyse the weight snapshots of a `selfassembly run` folder: alignment angles, four-synapse "
                     "motif census against a degree-preserving null, reciprocity, triads, GraphML and PNG plots; "
                     "print a verdict per preset."),
    )
    p.add_argument("results_dir", help="folder written by `selfassembly run`")
    p.add_argument("--out", help="output folder (default RESULTS_DIR/inspect)")
    p.add_argument("--presets", type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
                   help="comma-separated presets (default: every snapshot file)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--density", type=_positive_fraction, default=0.1,
                   help="keep this fraction of each population's synapses, the strongest (default 0.1)")
    g.add_argument("--threshold", type=float, help="keep synapses with |w| above this value instead")
    p.add_argument("--null", dest="n_null", type=int, default=20, help="null circuits per snapshot (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the null circuits (default 0)")
    p.add_argument("--samples", dest="n_samples", type=int, default=200,
                   help="held-out samples for the gradient alignment (default 200; 0 skips)")
    p.add_argument("--triads", default="W", help="populations for the triad census, e.g. W or U,V or all (default W)")
    p.add_argument("--graph", choices=("strong", "all"), default="strong",
                   help="synapses in graph.graphml and circuit.png (default: the strong ones)")
    p.add_argument("--max-angle", dest="max_angle", type=float, default=60.0, help="verdict: largest angle (deg)")
    p.add_argument("--min-z", dest="min_z", type=float, default=3.0, help="verdict: smallest weighted motif z")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the PNG figures")
    p.set_defaults(func=_command)
    return p


def _command(args):
    if args.n_null < 2:
        raise InputError(f"--null must be at least 2 (a z-score needs a spread), got {args.n_null}")
    inspect_results(
        args.results_dir, out_dir=args.out, presets=args.presets, threshold=args.threshold,
        density=None if args.threshold is not None else args.density, n_null=args.n_null, seed=args.seed,
        n_samples=args.n_samples, triads=args.triads, graph=args.graph, max_angle=args.max_angle,
        min_z=args.min_z, plots=args.plots, echo=lambda line: print(line, file=sys.stdout),
    )
    return 0
