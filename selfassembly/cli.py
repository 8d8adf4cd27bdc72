"""Command-line entry point: ``selfassembly run | inspect | compare | sweep | presets``.

``selfassembly run`` runs the self-assembly experiment (defaults: four_synapse,
kolen_pollack, feedback_alignment and backprop on the bundled 8x8 digits).
Settings come from the defaults, then ``--quick``, then ``--config FILE.toml``,
then the flags given.
"""
from __future__ import annotations

import argparse
import sys

from .config import ConfigError, ExperimentConfig, load_config, quick_config
from .plasticity.presets import PRESETS

__all__ = ["main", "build_parser"]


def _int_list(text):
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 64,128,10, got {text!r}") from None


#: flag -> config field, for the flags that map one to one
_OVERRIDES = {
    "sizes": "sizes", "presets": "presets", "epochs": "epochs", "seed": "seed", "mode": "mode",
    "target": "target", "eta": "eta", "lam": "lam", "eta_c": "eta_c", "lam_c": "lam_c",
    "sigma_xi": "sigma_xi", "cross": "cross", "activation": "activation", "output": "output",
    "dataset": "dataset", "mnist": "mnist_dir", "max_train": "max_train",
    "records_per_epoch": "records_per_epoch", "tau_r_ms": "tau_r_ms", "T_present_ms": "T_present_ms",
    "dt_ms": "dt_ms", "cache_dir": "cache_dir",
}


def _add_run(sub):
    p = sub.add_parser("run", help="run the self-assembly experiment", description=(
        "Train each preset from the same seed and initial W, and write config.toml, metrics.csv, "
        "summary.json, snapshots/*.npz and PNG plots to the output folder."))
    p.add_argument("--out", help="output folder (default: a new folder under ./results); "
                                 "rerunning into a folder with the same configuration resumes it")
    p.add_argument("--config", help="TOML configuration file (see docs/guide.md)")
    p.add_argument("--quick", action="store_true", help="a tiny version (seconds), for tests and a first look")
    p.add_argument("--presets", type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
                   help="comma-separated presets, e.g. four_synapse,backprop (see `selfassembly presets`)")
    p.add_argument("--sizes", type=_int_list, help="layer sizes n_0,...,n_L, e.g. 64,128,128,10")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--mode", help="sample (one step per presentation) or dynamic (rates relax with tau_r)")
    p.add_argument("--target", help="Brian2 code generation: numpy, cython or cpp_standalone")
    p.add_argument("--eta", type=float, help="learning rate of W and B")
    p.add_argument("--lam", type=float, help="weight decay lambda of W and B")
    p.add_argument("--eta-c", dest="eta_c", type=float, help="learning rate of the cross-stream pair U, V")
    p.add_argument("--lam-c", dest="lam_c", type=float, help="decay of the cross-stream pair")
    p.add_argument("--sigma-xi", dest="sigma_xi", type=float, help="amplitude of spontaneous activity (mirror rule)")
    p.add_argument("--cross", help="override the cross-stream rule: fixed, mirror or hebbian")
    p.add_argument("--activation", help="hidden activation: tanh or relu")
    p.add_argument("--output", help="output layer: softmax or linear")
    p.add_argument("--dataset", help="digits (bundled) or mnist (needs --mnist DIR)")
    p.add_argument("--mnist", help="folder with the four MNIST IDX files (gzip or plain)")
    p.add_argument("--max-train", dest="max_train", type=int, help="use at most this many training samples (0: all)")
    p.add_argument("--records-per-epoch", dest="records_per_epoch", type=int, help="weight snapshots per epoch")
    p.add_argument("--tau-r-ms", dest="tau_r_ms", type=float, help="rate time constant (dynamic mode)")
    p.add_argument("--T-present-ms", dest="T_present_ms", type=float, help="presentation time (dynamic mode)")
    p.add_argument("--dt-ms", dest="dt_ms", type=float, help="time step (0: the mode's default)")
    p.add_argument("--cache-dir", dest="cache_dir", help="Cython cache folder (cython target)")
    p.set_defaults(func=_run)


def resolve_config(args):
    """Defaults, then --quick, then --config, then flags."""
    config = quick_config() if args.quick else ExperimentConfig()
    if args.config:
        config = load_config(args.config, base=config)
    changes = {field: getattr(args, flag) for flag, field in _OVERRIDES.items() if getattr(args, flag) is not None}
    if args.mnist and args.dataset is None:
        changes["dataset"] = "mnist"
    if changes:
        try:
            config = config.replace(**changes)
        except ConfigError as exc:
            raise ConfigError(f"command-line flags: {exc}") from None
    return config


def _run(args):
    from .experiment import run_experiment

    run_experiment(resolve_config(args), args.out)
    return 0


def _presets(args):
    for name, (_, _, _, description) in PRESETS.items():
        print(f"{name:<26} {description}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="selfassembly", description=(
        "Brian2 simulator of the self-assembling four-synapse learning circuit (Liao et al., arXiv:2412.20018)."))
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    p = sub.add_parser("presets", help="list the plasticity presets")
    p.set_defaults(func=_presets)
    from .analysis.compare import register as register_compare
    from .analysis.inspect import register as register_inspect
    from .sweep import register as register_sweep

    register_inspect(sub)
    register_compare(sub)
    register_sweep(sub)
    return parser


def main(argv=None):
    """Entry point of the ``selfassembly`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"selfassembly {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # DivergenceError and simulator failures: outputs so far are kept
        print(f"selfassembly {args.command}: stopped: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
