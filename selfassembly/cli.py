"""Command-line entry point: ``selfassembly run | inspect | compare | sweep | presets``.

``selfassembly run`` runs the self-assembly experiment (defaults: four_synapse, its
ablations four_synapse_fixed_cross and feedback_alignment, kolen_pollack and backprop
on the bundled 8x8 digits).
Settings come from the defaults, then ``--quick``, then ``--config FILE.toml``,
then the flags given.

Every command ends with one of the exit statuses of :mod:`selfassembly.errors`:
0 success, 1 internal error (traceback), 2 a problem with the input (one line
naming the file, field or path and the fix), 3 a preset diverged or became
unstable, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
import traceback

from . import __version__
from .config import ConfigError, ExperimentConfig, load_config, quick_config
from .errors import (EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_UNSTABLE, InputError,
                     Terminated)
from .plasticity.presets import PRESETS

__all__ = ["main", "build_parser", "resolve_config"]


def _items(text, flag):
    items = [x.strip() for x in text.split(",")]
    if not text.strip() or any(not x for x in items):
        raise argparse.ArgumentTypeError(f"{flag} {text!r} has an empty item; separate the items by single commas")
    return items


def _int_list(text):
    items = _items(text, "--sizes")
    try:
        return [int(x) for x in items]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers like 64,128,10, got {text!r}") from None


def _name_list(text):
    return _items(text, "--presets")


#: flag -> config field, for the flags that map one to one
_OVERRIDES = {
    "sizes": "sizes", "presets": "presets", "epochs": "epochs", "seed": "seed", "mode": "mode",
    "target": "target", "eta": "eta", "lam": "lam", "eta_c": "eta_c", "lam_c": "lam_c",
    "sigma_xi": "sigma_xi", "eta_u": "eta_u", "cross_v": "cross_v", "cross_u": "cross_u",
    "eta_b": "eta_b", "lam_b": "lam_b", "b_rule": "b_rule", "rate_scaling": "rate_scaling", "task": "task", "engine": "engine", "dtype": "dtype",
    "activation": "activation", "output": "output",
    "dataset": "dataset", "mnist": "mnist_dir", "label_column": "label_column", "max_train": "max_train",
    "records_per_epoch": "records_per_epoch", "tau_r_ms": "tau_r_ms", "T_present_ms": "T_present_ms",
    "tau_xi_ms": "tau_xi_ms",
    "dt_ms": "dt_ms", "cache_dir": "cache_dir",
}


def _defaults_note(field, default, quick):
    """' (default: X; --quick: Y)' for a config field."""
    def show(v):
        if isinstance(v, list):
            return ",".join(str(x) for x in v)
        return str(v) if v != "" else "none"

    d, q = getattr(default, field), getattr(quick, field)
    return f" (default: {show(d)}" + (f"; --quick: {show(q)}" if q != d else "") + ")"


def _add_run(sub):
    p = sub.add_parser("run", help="run the self-assembly experiment", description=(
        "Train each preset from the same seed and initial W, and write config.toml, metrics.csv, "
        "summary.json, snapshots/*.npz and PNG plots to the output folder. Exit status: 0 done, 1 internal "
        "error, 2 bad input (the message names it), 3 a preset diverged or became unstable, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."))
    d, q = ExperimentConfig(), quick_config()

    def add(flag, field, help, **kw):
        p.add_argument(flag, help=help + _defaults_note(field, d, q).replace("%", "%%"), **kw)

    p.add_argument("--out", help="output folder (default: a new folder under ./results); it must be new, empty or "
                                 "a run folder of the same configuration, which is then resumed")
    p.add_argument("--config", help="TOML configuration file (see docs/guide.md); flags override it")
    p.add_argument("--quick", action="store_true", help="a tiny version (seconds), for tests and a first look")
    add("--presets", "presets", "comma-separated presets (see `selfassembly presets`)", type=_name_list)
    add("--sizes", "sizes", "layer sizes n_0,...,n_L; n_0 and n_L must match the data", type=_int_list)
    add("--epochs", "epochs", "passes over the training set", type=int)
    add("--seed", "seed", "seed of the data split, initial weights, presentation order and Brian2 (0 .. 2**32-1)",
        type=int)
    add("--mode", "mode", "sample (one step per presentation) or dynamic (rates relax with tau_r)")
    add("--engine", "engine", "brian2 (rate groups and Synapses; every mode and target) or numpy (the same "
        "sample-clocked equations as numpy loops, about 25x faster; docs/guide.md)")
    add("--dtype", "dtype", "floating-point type of the numpy engine: float64 (default; agrees with brian2 to "
        "1e-9) or float32 (faster, half the memory traffic; docs/guide.md section 6)")
    add("--target", "target", "Brian2 code generation: numpy, cython or cpp_standalone")
    add("--eta", "eta", "learning rate of W and B", type=float)
    add("--lam", "lam", "weight decay lambda of W and of B's task rule", type=float)
    add("--eta-c", "eta_c", "learning rate of the cross-stream pair U, V", dest="eta_c", type=float)
    add("--lam-c", "lam_c", "decay of the cross-stream pair", dest="lam_c", type=float)
    add("--sigma-xi", "sigma_xi", "amplitude of spontaneous activity (mirror and reconstruct rules)",
        dest="sigma_xi", type=float)
    add("--eta-u", "eta_u", "learning rate of U's reconstruction rule (stable while at most eta_c / 4; docs/model.md)",
        dest="eta_u", type=float)
    add("--cross-v", "cross_v", "override every preset's rule of V: fixed, mirror or hebbian (none: the preset's)",
        dest="cross_v")
    add("--cross-u", "cross_u", "override every preset's rule of U: fixed, reconstruct or hebbian (none: the preset's)",
        dest="cross_u")
    add("--eta-b", "eta_b", "learning rate of B's loop mirror (B learns U W^T U^T from spontaneous activity)",
        dest="eta_b", type=float)
    add("--lam-b", "lam_b", "decay of B's loop mirror", dest="lam_b", type=float)
    add("--b-rule", "b_rule", "override the rule of every plastic B: task, loop_mirror or both (none: the preset's)",
        dest="b_rule")
    add("--rate-scaling", "rate_scaling", "none (eta_c, eta_u, eta_b as given in every layer) or size (they are the "
        "rates of a 128-unit layer; layer l uses them times 128 / n_l, so that one setting serves every width) or "
        "capped (times min(1, 128 / n_l): only layers wider than 128 are slowed); docs/model.md", dest="rate_scaling")
    add("--task", "task", "classification (labels, softmax) or reconstruction (target = input; needs --output "
        "linear and n_L = n_0)")
    add("--activation", "activation", "hidden activation: tanh or relu")
    add("--output", "output", "output layer: softmax or linear")
    add("--dataset", "dataset", "digits (bundled), mnist (needs --mnist DIR), or the path of your own .npz (X, y) or "
        ".csv data file (docs/guide.md, 'Your own data')")
    add("--label-column", "label_column", "the column of a .csv data file that holds the labels or targets",
        dest="label_column")
    add("--mnist", "mnist_dir", "folder with the four MNIST IDX files (gzip or plain)")
    add("--max-train", "max_train", "use at most this many training samples (0: all)", dest="max_train", type=int)
    add("--records-per-epoch", "records_per_epoch", "weight snapshots per epoch (at most the training samples)",
        dest="records_per_epoch", type=int)
    add("--tau-r-ms", "tau_r_ms", "rate time constant (dynamic mode)", dest="tau_r_ms", type=float)
    add("--T-present-ms", "T_present_ms", "presentation time (dynamic mode)", dest="T_present_ms", type=float)
    add("--tau-xi-ms", "tau_xi_ms", "correlation time of the spontaneous activity (dynamic mode; 0: T_present)",
        dest="tau_xi_ms", type=float)
    add("--dt-ms", "dt_ms", "time step (0: 1 ms in sample mode, 0.1 ms in dynamic mode)", dest="dt_ms", type=float)
    add("--cache-dir", "cache_dir", "Cython cache folder (cython target; none: Brian2's)", dest="cache_dir")
    p.set_defaults(func=_run)


def resolve_config(args):
    """Defaults, then --quick, then --config, then flags."""
    config = quick_config() if args.quick else ExperimentConfig()
    if args.config:
        config = load_config(args.config, base=config)
    changes = {field: getattr(args, flag) for flag, field in _OVERRIDES.items() if getattr(args, flag) is not None}
    if args.mnist and args.dataset is None:
        changes["dataset"] = "mnist"
    if "epochs" in changes and config.phases:
        raise ConfigError(f"--epochs {changes['epochs']} conflicts with the [[phases]] schedule of {args.config}, whose "
                          f"phases add up to {config.epochs} epochs; drop --epochs, or change the phases' epochs")
    if changes:
        try:
            config = config.replace(**changes)
        except ConfigError as exc:
            raise ConfigError(f"command-line flags: {exc}") from None
    return config


def _run(args):
    from .experiment import _default_out, run_experiment

    config = resolve_config(args)
    out = args.out or str(_default_out())
    argv = list(args.argv)
    if not args.out:
        argv += ["--out", out]
    args.resume_hint = (f"Finished presets are kept in {out}; to resume, run the same command with the same --out: "
                        f"selfassembly {shlex.join(argv)}")
    run_experiment(config, out)
    return 0


def _presets(args):
    for name, (*_, description) in PRESETS.items():
        print(f"{name:<26} {description}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="selfassembly", description=(
        "Brian2 simulator of the self-assembling four-synapse learning circuit (Liao et al., arXiv:2412.20018). "
        "Exit status: 0 success, 1 internal error, 2 bad input, 3 diverged or unstable, 130 interrupted, 143 terminated."))
    parser.add_argument("--version", action="version", version=f"selfassembly {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    p = sub.add_parser("presets", help="list the plasticity presets")
    p.set_defaults(func=_presets)
    from .analysis.compare import register as register_compare
    from .sweep import register as register_sweep
    from .sweep import register_inspect  # inspect reads run folders (analysis) and sweep folders (sweep)

    register_inspect(sub)
    register_compare(sub)
    register_sweep(sub)
    return parser


def _internal_error(command, exc):
    """Print the traceback of a bug, saying whose code raised it."""
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    frames = traceback.extract_tb(exc.__traceback__)
    where = frames[-1].filename if frames else ""
    if "/brian2/" in where.replace("\\", "/"):
        import brian2

        origin = (f"the error was raised inside Brian2 {brian2.__version__} ({where}); if the traceback shows "
                  "selfassembly calling it correctly, it may be a Brian2 problem")
    else:
        origin = "this is a bug in selfassembly"
    print(f"{command}: internal error: {type(exc).__name__}: {exc}\n{origin}; please report it with the traceback "
          "above and the command you ran.", file=sys.stderr)


def _terminate(signum, frame):
    raise Terminated("SIGTERM")


def _catch_sigterm():
    """Turn SIGTERM into :class:`~selfassembly.errors.Terminated` (only the main thread can); return the old handler."""
    try:
        return signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread
        return None


def _ignore_signals():
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except ValueError:  # not the main thread
        return False
    return True


def main(argv=None):
    """Entry point of the ``selfassembly`` command; returns the exit status (see the module docstring)."""
    # Brian2 installs its own sys.excepthook, which reports any uncaught error as a Brian2 bug and then
    # keeps its debug log and a copy of the script in the temp folder; every error is handled here instead.
    sys.excepthook = sys.__excepthook__
    argv_given = argv is not None
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    command = f"selfassembly {args.command}"
    from .circuits.network import DivergenceError

    previous = _catch_sigterm()
    previous_int = signal.getsignal(signal.SIGINT)
    interrupted = False
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:  # Ctrl-C (once: Brian2's stop request, see SimulationStopped; twice), SIGTERM
        interrupted = _ignore_signals()  # a second Ctrl-C while this one is handled must not end in a traceback
        hint = getattr(args, "resume_hint", "")
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"\n{command}: {what}; the run in progress was not recorded." + (f" {hint}" if hint else ""),
              file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except InputError as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except DivergenceError as exc:
        print(f"{command}: stopped: {exc}", file=sys.stderr)
        return EXIT_UNSTABLE
    except MemoryError:
        print(f"{command}: error: out of memory; use smaller circuit.sizes, fewer records per epoch or fewer "
              "epochs, or lower $SELFASSEMBLY_MEMORY_LIMIT_GB so that the check before the run refuses it",
              file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # the file system: a path that is missing, a folder, unreadable, a full disk
        what = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
        print(f"{command}: error: {what}; check that path (that it exists, is of the right kind, and that you may "
              "read or write it) and rerun", file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001 - a bug: say so, with the traceback
        _internal_error(command, exc)
        return EXIT_INTERNAL
    finally:
        # a command-line call (argv None) exits next, still ignoring further signals; an in-process caller goes on
        if previous is not None and (argv_given or not interrupted):
            signal.signal(signal.SIGTERM, previous)
        if interrupted and argv_given and previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)


if __name__ == "__main__":
    sys.exit(main())
