"""``selfassembly inspect RESULTS_DIR``: has the four-synapse motif self-assembled?

For each preset's snapshots (``RESULTS_DIR/snapshots/<preset>.npz``) this
writes, under ``OUT/<preset>/`` (default ``OUT = RESULTS_DIR/inspect``):

* ``alignment.csv``: forward-feedback, cross-stream and gradient alignment
  angles at every snapshot;
* ``motifs.json``: the loop census, its degree-preserving null statistics,
  reciprocity at every snapshot, the triad census at the first and last
  snapshot, the cross-stream wiring of the masks (``cross_wiring``: are A-D
  pairs looped, reciprocal or independent; :func:`~selfassembly.analysis.graph.cross_wiring`),
  and the verdict;
* ``graph.graphml``: the circuit at the last snapshot (strong synapses, or
  all with ``graph="all"``), for Gephi or Cytoscape;
* ``circuit.png``, ``feedback_heatmaps.png``, ``timecourse.png``;

plus ``OUT/verdicts.json`` and ``OUT/overview.png``, and prints one verdict
line per preset.

Verdict
-------
MODEL.md's, earned against a null (:mod:`selfassembly.analysis.verdict`): a
preset that starts from random U and V is ASSEMBLED when its cross-stream and
forward-feedback angles lie outside the random-matrix null at the circuit's
own shapes and masks, and its forward-feedback angles are below those of the
matched ablations (four_synapse_fixed_cross, feedback_alignment) trained from
the same seed. Presets with U = V = I are STRUCTURED by construction. Each
verdict line names the test that decided it.

Several run folders of one configuration with different seeds
(``selfassembly inspect RUN_SEED0 RUN_SEED1 ...``) give the across-seed
verdict: the ablation test is then paired over seeds, with a 95% t-interval.
In that mode only the verdict is computed (``OUT/verdicts.json``, default
``<their parent>/inspect_seeds``); inspect each folder alone for its census,
graph and plots.

The four-synapse census (weighted and unweighted, against a degree-preserving
null) is reported beside the verdict but does not decide it: with dense random
U and V every cell pair is joined by many loops, so counts stay near chance
even when the weights are aligned.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..folders import claim_folder, claim_outputs
from ..io import Snapshots, SnapshotError, load_snapshots, write_csv, write_json
from .graph import circuit_graph, cross_wiring, reciprocity, triad_census, write_graphml
from .timecourse import alignment_timecourse, motif_timecourse
from .verdict import ALPHA, N_DRAWS, format_seed_verdict, random_null, seed_verdicts

__all__ = ["inspect_results", "inspect_seeds", "seed_run_verdicts", "verdict_entry", "read_run_config", "find_snapshots", "register",
           "check_args", "command"]


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
            "label_column": c.label_column,
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
        what = "is a file, not a folder" if results_dir.exists() else "does not exist"
        raise SnapshotError(f"results folder {results_dir} {what}; give the --out folder of `selfassembly run`")
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


def _layer_values(row, prefix):
    return {int(k[len(prefix):]): v for k, v in row.items() if k.startswith(prefix)}


def verdict_entry(align_row, seed, status="done"):
    """The last snapshot's angles in the form :func:`~selfassembly.analysis.verdict.seed_verdicts` reads.

    >>> e = verdict_entry({"step": 9, "ff_angle_2": 20.0, "cross_angle_1": 5.0, "cross_angle_2": 4.0}, seed=3)
    >>> e["ff"], e["cross"], e["seed"], e["status"]
    ({2: 20.0}, {1: 5.0, 2: 4.0}, 3, 'done')
    """
    return {"seed": seed, "status": status, "step": int(align_row["step"]),
            "ff": _layer_values(align_row, "ff_angle_"), "cross": _layer_values(align_row, "cross_angle_"),
            "grad": _layer_values(align_row, "grad_angle_")}


def _null_for(snapshots, n_draws, seed):
    """The random null at the shapes and masks of the random-start presets (any preset's otherwise)."""
    from ..plasticity.presets import RANDOM_START

    ref = next((s for p, s in snapshots.items() if p in RANDOM_START), next(iter(snapshots.values())))
    masks = ref.masks if any(p in RANDOM_START for p in snapshots) else {}
    return random_null(list(ref.sizes), masks, n_draws, seed)


def _held_out(config, sizes, n_samples, echo):
    """First ``n_samples`` test samples of the run's data split, or None (with a note)."""
    if config is None:
        echo("note: no config.toml in the results folder; gradient alignment is skipped")
        return None, None
    if n_samples <= 0:
        return None, None
    from ..datasets import load_dataset

    try:
        data = load_dataset(config["dataset"], config["test_fraction"], config["seed"], config["mnist_dir"],
                            config.get("label_column", ""))
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
    try:
        presets = json.loads((Path(results_dir) / "summary.json").read_text(encoding="utf-8")).get("presets", {})
        return {p: s.get("status", "") for p, s in presets.items() if isinstance(s, dict)}
    except (OSError, ValueError, AttributeError):
        return {}


def _worst(values, fn):
    vals = [v for v in values if _finite(v)]
    return fn(vals) if vals else float("nan")


def inspect_results(results_dir, out_dir=None, presets=None, threshold=None, density=0.1, n_null=20, seed=0,
                    n_rounds=10, n_samples=200, triads="W", graph="strong", alpha=ALPHA, n_draws=N_DRAWS,
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
    alpha, n_draws : float, int
        Significance level of the verdict's null tests and draws of the
        random null (:mod:`selfassembly.analysis.verdict`).
    plots : bool
        Write the PNG figures.
    echo : callable
        Receives the printed lines (verdicts, notes).

    Returns
    -------
    dict of str -> dict
        ``{preset: verdict}`` (see :func:`~selfassembly.analysis.verdict.seed_verdicts`);
        each verdict also holds the motif census of the last snapshot (``motifs``).

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
    with claim_outputs(results_dir, out_dir, "inspect", "selfassembly inspect"):
        statuses = _run_statuses(results_dir)
        X, Y = _held_out(config, list(sizes), n_samples, echo)
        f = config["activation"] if config else "tanh"
        output = config["output"] if config else "softmax"
        how = {"threshold": threshold} if threshold is not None else {"density": density}
        null_note = (f" vs {n_null} degree-preserving shuffles, "
                     + (f"|w| > {threshold:g}" if threshold is not None else f"density {density:g}"))
        entries_by_preset, census, overview = {}, {}, {}
        run_seed = config["seed"] if config else None
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
            entries_by_preset[preset] = [verdict_entry(align[-1], run_seed, statuses.get(preset) or "done")]
            census[preset] = motif[-1]["layers"] if has_loops else {}
            wiring = cross_wiring(snaps.masks) if snaps.masks else {}
            write_json(dest / "motifs.json", {
                "preset": preset, "sizes": list(snaps.sizes), "strong_synapses": how, "n_null": n_null, "seed": seed,
                "n_rounds": n_rounds, "null_model": "degree-preserving double edge swaps per population, weights shuffled over edges",
                "cross_wiring": wiring,
                "snapshots": entries,
            })
            sparse = {l: w for l, w in wiring.items() if w["wiring"] != "dense"}
            if sparse:  # the A-D pairs' wiring (masks), which dense circuits do not need a line for
                echo(f"  {preset} cross-stream wiring (masks): " + "; ".join(
                    f"U{l}/V{l} {w['wiring']} ({w['fraction_u']:.2f} of U's synapses looped, "
                    f"{w['expected']:.2f} for independent masks)" for l, w in sorted(sparse.items())))
            write_graphml(final_graph, dest / "graph.graphml")
            if plots:
                from . import connectivity_plots as cp

                cp.plot_circuit(final_graph, dest / "circuit.png", title=f"{preset}, step {int(snaps.steps[-1])}")
                if has_loops:
                    cp.plot_feedback_heatmaps(snaps, dest / "feedback_heatmaps.png", title=preset)
                    cp.plot_timecourse(align, motif, dest / "timecourse.png", title=preset)
            if has_loops:
                overview[preset] = {
                    "steps": [r["step"] for r in align],
                    "ff_angle": [_worst([v for k, v in r.items() if k.startswith("ff_angle_")], max) for r in align],
                    "cross_angle": [_worst([v for k, v in r.items() if k.startswith("cross_angle_")], max) for r in align],
                    "weighted_z": [_worst([s["weighted_z"] for s in m["layers"].values()], min) for m in motif],
                }
        if len(sizes) > 2:
            verdicts = seed_verdicts(entries_by_preset, _null_for(loaded, n_draws, seed), alpha)
        else:
            verdicts = {p: {"preset": p, "verdict": "NOT APPLICABLE", "seeds": [run_seed], "notes": [],
                            "decided_by": "one-layer circuit: no feedback pathway and no four-synapse loop"}
                        for p in entries_by_preset}
        for preset, v in verdicts.items():
            v["motifs"] = census[preset]
            echo(format_seed_verdict(v))
            if census[preset]:
                echo(f"  {preset} census (not part of the verdict; {null_note.strip()}): weighted motif z "
                     + ", ".join(f"{s['weighted_z']:.1f}" for _, s in sorted(census[preset].items()))
                     + "; loop count ratio " + ", ".join(f"{s['ratio']:.2f}" for _, s in sorted(census[preset].items())))
        write_json(out_dir / "verdicts.json", {"criterion": _CRITERION, "alpha": alpha, "n_draws": n_draws,
                                                "strong_synapses": how, "n_null": n_null, "presets": verdicts})
        if plots and overview:
            from .connectivity_plots import plot_overview

            plot_overview(overview, out_dir / "overview.png")
        echo(f"wrote {out_dir}")
        return verdicts


_CRITERION = ("random-start presets: cross-stream and forward-feedback angles outside the random-matrix null "
              "(one-sided p < alpha in every layer and seed) and forward-feedback angles below the matched "
              "ablations' (four_synapse_fixed_cross, feedback_alignment; paired over seeds, 95% t-interval "
              "below 0); U = V = I presets: structured by construction")


def _run_config(run_dir):
    from ..config import load_config

    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        raise SnapshotError(f"{run_dir} has no config.toml; across-seed inspection needs run folders of `selfassembly run`")
    return load_config(path)


def seed_run_verdicts(run_dirs, presets=None, n_samples=200, alpha=ALPHA, n_draws=N_DRAWS, seed=0, echo=print):
    """The across-seed verdicts of several run folders of one configuration (nothing is written).

    Parameters
    ----------
    run_dirs : list of str or Path
        Folders written by ``selfassembly run`` whose configurations differ only
        in ``training.seed`` (one folder is allowed: a one-seed verdict).
    presets : list of str, optional
        Restrict to these presets (default: those present in every folder).
    n_samples : int
        Held-out samples for the gradient angles (0 skips them).
    alpha, n_draws, seed
        As in :func:`inspect_results`.
    echo : callable
        Receives notes (e.g. a data set that cannot be loaded).

    Returns
    -------
    verdicts : dict of str -> dict
        ``{preset: verdict}`` (:func:`~selfassembly.analysis.verdict.seed_verdicts`).
    seeds : list of int

    Raises
    ------
    SnapshotError
        A folder without config.toml or snapshots, configurations that differ
        in more than the seed, or a seed given twice.
    """
    run_dirs = [Path(d) for d in run_dirs]
    from ..config import differences

    configs = [_run_config(d) for d in run_dirs]
    for d, other in zip(run_dirs[1:], configs[1:]):
        diff = [key for key, _, _ in differences(configs[0], other) if key != "training.seed"]
        if diff:
            raise SnapshotError(f"{d} differs from {run_dirs[0]} in {', '.join(diff)}; an across-seed verdict needs "
                                "folders of one configuration that differ only in training.seed")
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise SnapshotError(f"the folders repeat a seed ({seeds}); give each seed's folder once")
    found = [find_snapshots(d) for d in run_dirs]
    common = [p for p in found[0] if all(p in f for f in found)]
    if presets:
        missing = [p for p in presets if p not in common]
        if missing:
            raise SnapshotError(f"preset(s) {missing} are not in every folder; present in all: {common}")
        common = list(presets)
    runs = {p: [] for p in common}
    loaded = {}
    for d, files, run_seed in zip(run_dirs, found, seeds):
        cfg, statuses = read_run_config(d), _run_statuses(d)
        X, Y = _held_out(cfg, list(cfg["sizes"]), n_samples, echo)  # the seed picks the split: once per folder
        for p in common:
            snaps = load_snapshots(files[p])
            last = Snapshots(snaps.sizes, snaps.steps[-1:], {k: v[-1:] for k, v in snaps.weights.items()}, snaps.masks)
            row = alignment_timecourse(last, X, Y, cfg["activation"], cfg["output"])[0]
            runs[p].append(verdict_entry(row, run_seed, statuses.get(p) or "done"))
            loaded.setdefault(p, snaps)
    return seed_verdicts(runs, _null_for(loaded, n_draws, seed), alpha), seeds


def inspect_seeds(run_dirs, out_dir=None, presets=None, n_samples=200, alpha=ALPHA, n_draws=N_DRAWS, seed=0,
                  echo=print):
    """The across-seed verdict of several run folders of one configuration, printed and written.

    Parameters and errors as :func:`seed_run_verdicts`; ``out_dir`` is where
    ``verdicts.json`` goes (default ``<parent of the first>/inspect_seeds``).

    Returns
    -------
    dict of str -> dict
        ``{preset: verdict}``.
    """
    verdicts, seeds = seed_run_verdicts(run_dirs, presets, n_samples, alpha, n_draws, seed, echo)
    for v in verdicts.values():
        echo(format_seed_verdict(v))
    out_dir = Path(out_dir) if out_dir is not None else Path(run_dirs[0]).parent / "inspect_seeds"
    with claim_folder(out_dir, "inspect", command="selfassembly inspect"):
        write_json(out_dir / "verdicts.json", {"criterion": _CRITERION, "alpha": alpha, "n_draws": n_draws,
                                                "runs": [str(d) for d in run_dirs], "seeds": seeds,
                                                "presets": verdicts})
    echo(f"wrote {out_dir / 'verdicts.json'}")
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
    p.add_argument("results_dir", nargs="+", help="folder written by `selfassembly run`; several folders of one "
                                                  "configuration with different seeds give the across-seed verdict; "
                                                  "a `selfassembly sweep` folder gives it for every point")
    p.add_argument("--out", help="output folder (default RESULTS_DIR/inspect, or <parent>/inspect_seeds for several)")
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
    p.add_argument("--alpha", type=float, default=ALPHA,
                   help="verdict: significance level of the random-null tests (default %(default)s)")
    p.add_argument("--null-draws", dest="n_draws", type=int, default=N_DRAWS,
                   help="verdict: random circuits drawn for the angle null (default %(default)s)")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the PNG figures")
    p.set_defaults(func=command)
    return p


def check_args(args):
    """Refuse ``inspect`` arguments that cannot give a verdict, with the fix (raises InputError)."""
    if args.n_null < 2:
        raise InputError(f"--null must be at least 2 (a z-score needs a spread), got {args.n_null}")
    if not 0 < args.alpha < 1:
        raise InputError(f"--alpha must be in (0, 1), got {args.alpha}")
    if args.n_draws < 1 or (1 / (args.n_draws + 1)) >= args.alpha:
        raise InputError(f"--null-draws {args.n_draws} cannot reach p < {args.alpha:g}; "
                         f"use at least {int(np.ceil(1 / args.alpha))} draws")


def _echo(line):
    print(line, file=sys.stdout)


def command(args):
    """``selfassembly inspect`` on run folders: one folder, or the seeds of one configuration.

    A sweep folder is inspected by :func:`selfassembly.sweep.command.inspect_command`, which
    the command line runs instead of this (the sweep engine sits above the analysis).
    """
    check_args(args)
    if len(args.results_dir) > 1:
        inspect_seeds(args.results_dir, out_dir=args.out, presets=args.presets, n_samples=args.n_samples,
                      alpha=args.alpha, n_draws=args.n_draws, seed=args.seed, echo=_echo)
        return 0
    inspect_results(
        args.results_dir[0], out_dir=args.out, presets=args.presets, threshold=args.threshold,
        density=None if args.threshold is not None else args.density, n_null=args.n_null, seed=args.seed,
        n_samples=args.n_samples, triads=args.triads, graph=args.graph, alpha=args.alpha, n_draws=args.n_draws,
        plots=args.plots, echo=_echo,
    )
    return 0
