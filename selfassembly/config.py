"""Experiment configuration: defaults, validation, TOML in and out.

A configuration file has these sections (every key optional)::

    [circuit]       sizes, activation, output
    [data]          dataset, task, mnist_dir, label_column, test_fraction, max_train
    [training]      presets, epochs, seed, records_per_epoch
    [plasticity]    eta, lam, eta_c, lam_c, sigma_xi, eta_u, eta_b, lam_b, cross_v, cross_u, b_rule, rate_scaling
    [time]          mode, dt_ms, tau_r_ms, T_present_ms, tau_xi_ms
    [simulator]     engine, target, cache_dir
    [connectivity.W] kind, scale, p     (likewise .B, .U, .V; V and U also reciprocal_to)
    [[phases]]      name, epochs, sigma_xi, stimulus, freeze   (a schedule; one table per phase)

``[connectivity.V] reciprocal_to = "U"`` draws V_l's mask as U_l's mask transposed
(reciprocal, "looped" A-D pairs; :mod:`selfassembly.circuits.connectivity`); V's ``p`` is
then U's (leave it out, or give the same value), and V's weights still follow V's own
``kind`` and ``scale``. ``reciprocal_to = "V"`` on U is the same wiring with V's mask drawn.

``selfassembly run`` writes the fully resolved configuration as
``config.toml`` next to its results, so a run can be repeated exactly with
``selfassembly run --config results/.../config.toml``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomli_w

from .circuits.connectivity import RECIPROCAL_PARTNERS, Connectivity, check_sizes
from .circuits.engines import DTYPES, ENGINES, check_engine
from .circuits.modes import MODE_NAMES, make_mode
from .circuits.network import TARGETS
from .circuits.reference import ACTIVATIONS, OUTPUTS
from .datasets import DATASET_NAMES, file_sha256, is_data_file
from .errors import InputError
from .io import population_names, population_shape
from .plasticity.phases import Phase, PhaseError, check_phases
from .plasticity.presets import DEFAULT_PARAMS, PRESET_NAMES, make_preset
from .plasticity.rules import B_RULES, RATE_SCALINGS, REFERENCE_SIZE, U_RULES, V_RULES, check_number, size_factor

__all__ = ["ExperimentConfig", "ConfigError", "differences", "load_config", "read_toml_file", "parse_toml", "quick_config",
           "DEFAULT_PRESETS", "SEED_LIMIT"]

#: the story of the default run: the circuit, its two matched ablations (the assembly verdict tests
#: against both), and the two references
DEFAULT_PRESETS = ["four_synapse", "four_synapse_fixed_cross", "feedback_alignment", "kolen_pollack", "backprop"]

#: what the circuit learns: labels (one-hot teacher, softmax) or its own input (linear output,
#: squared error, through a bottleneck)
TASKS = ("classification", "reconstruction")

#: seeds must be below this (Brian2 seeds numpy's legacy generator, which takes 32-bit seeds)
#: the most hidden layers a run may have (see ExperimentConfig.validate for the cost it names)
MAX_HIDDEN_LAYERS = 32
#: Brian2 objects one layer adds (2 groups, 4 synapse populations, their updaters and monitors; counted at 2,
#: 10 and 30 layers), and the seconds one layer took to build (numpy: 0.54 s at 2 layers, 4.2 s at 30, on the
#: 2-core development machine under load) and to compile the first time (cython, the same machine: about 2 min)
OBJECTS_PER_LAYER = 30
BUILD_S_PER_LAYER = 0.15
CYTHON_S_PER_LAYER = 120
SEED_LIMIT = 2**32

#: item kind of each list field; every other field's kind is its annotation (str, int or float)
_LIST_ITEMS = {"sizes": int, "presets": str}

#: fields that cannot change a run's results, left out of :meth:`ExperimentConfig.config_hash`
_NOT_HASHED = {"simulator": ("cache_dir",)}


class ConfigError(InputError):
    """A configuration value or file is invalid."""


def _default_connectivity():
    return {k: {"kind": "gaussian", "scale": 1.0, "p": 1.0} for k in "WBUV"}


@dataclass
class ExperimentConfig:
    """Everything that defines a run of ``selfassembly run``.

    The defaults are the self-assembly experiment on the bundled 8x8 digits:
    64-128-128-10, tanh hidden units, softmax output, 10 epochs of
    single-sample presentations, eta = 0.02, lambda = 1e-4, B's loop mirror
    at eta_b = 0.002 (see :data:`~selfassembly.plasticity.presets.DEFAULT_PARAMS`).
    """

    # [circuit]
    sizes: list = field(default_factory=lambda: [64, 128, 128, 10])
    activation: str = "tanh"
    output: str = "softmax"
    # [data]
    dataset: str = "digits"
    task: str = "classification"
    mnist_dir: str = ""
    label_column: str = ""
    test_fraction: float = 0.2
    max_train: int = 0
    # [training]
    presets: list = field(default_factory=lambda: list(DEFAULT_PRESETS))
    epochs: int = 10
    seed: int = 0
    records_per_epoch: int = 2
    # [plasticity]
    eta: float = DEFAULT_PARAMS["eta"]
    lam: float = DEFAULT_PARAMS["lam"]
    eta_c: float = DEFAULT_PARAMS["eta_c"]
    lam_c: float = DEFAULT_PARAMS["lam_c"]
    sigma_xi: float = DEFAULT_PARAMS["sigma_xi"]
    eta_u: float = DEFAULT_PARAMS["eta_u"]
    eta_b: float = DEFAULT_PARAMS["eta_b"]
    lam_b: float = DEFAULT_PARAMS["lam_b"]
    cross_v: str = ""
    cross_u: str = ""
    b_rule: str = ""
    rate_scaling: str = "none"
    # [time]
    mode: str = "sample"
    dt_ms: float = 0.0
    tau_r_ms: float = 1.0
    T_present_ms: float = 20.0
    tau_xi_ms: float = 0.0
    # [simulator]
    engine: str = "brian2"
    dtype: str = "float64"
    target: str = "numpy"
    cache_dir: str = ""
    # [connectivity.X]
    connectivity: dict = field(default_factory=_default_connectivity)
    # [[phases]]: the schedule (empty: one phase of training.epochs epochs); see schedule()
    phases: list = field(default_factory=list)

    SECTIONS = {
        "circuit": ("sizes", "activation", "output"),
        "data": ("dataset", "task", "mnist_dir", "label_column", "test_fraction", "max_train"),
        "training": ("presets", "epochs", "seed", "records_per_epoch"),
        "plasticity": ("eta", "lam", "eta_c", "lam_c", "sigma_xi", "eta_u", "eta_b", "lam_b", "cross_v", "cross_u",
                       "b_rule", "rate_scaling"),
        "time": ("mode", "dt_ms", "tau_r_ms", "T_present_ms", "tau_xi_ms"),
        "simulator": ("engine", "dtype", "target", "cache_dir"),
    }

    def __post_init__(self):
        self.validate()

    # ---- validation -----------------------------------------------------------
    def validate(self):
        """Check every field; raise :class:`ConfigError` naming the field and the fix.

        Types are strict (a bool is not a number, a float is not an integer,
        text is not a number), lists may not hold empty items, and every
        range is checked. What needs the data or the machine (sizes against
        the data, memory) is checked by :func:`selfassembly.experiment.check_run`.
        """
        self._check_types()
        try:
            self.sizes = check_sizes(self.sizes)
        except ValueError as exc:
            raise ConfigError(f"circuit.sizes: {exc}") from None
        if len(self.sizes) - 2 > MAX_HIDDEN_LAYERS:
            raise ConfigError(
                f"circuit.sizes has {len(self.sizes) - 2} hidden layers; at most {MAX_HIDDEN_LAYERS} are allowed: each "
                f"layer adds four synapse populations, {OBJECTS_PER_LAYER} Brian2 objects that every presentation "
                f"runs in turn (measured: building takes about {BUILD_S_PER_LAYER:g} s per layer on the numpy target, "
                f"and the cython target compiles each layer's code once, about {CYTHON_S_PER_LAYER // 60:g} minutes "
                f"per layer), so {len(self.sizes) - 2} layers would take about "
                f"{BUILD_S_PER_LAYER * (len(self.sizes) - 1) / 60:.0f} minutes to build with numpy and hours with "
                "cython before training; use fewer layers")
        _choice("circuit.activation", self.activation, ACTIVATIONS)
        _choice("circuit.output", self.output, OUTPUTS)
        self._check_dataset()
        _choice("time.mode", self.mode, MODE_NAMES)
        _choice("simulator.target", self.target, TARGETS)
        _choice("simulator.engine", self.engine, ENGINES)
        _choice("simulator.dtype", self.dtype, DTYPES)
        if self.dtype != "float64" and self.engine != "numpy":
            raise ConfigError(f"simulator.dtype is {self.dtype!r} but the {self.engine} engine runs in float64 only; "
                              "set simulator.engine = 'numpy' (--engine numpy) or leave dtype at 'float64'")
        _choice("data.task", self.task, TASKS)
        if self.task == "reconstruction" and self.output != "linear":
            raise ConfigError("data.task is 'reconstruction' (target = input, squared error) but circuit.output is "
                              f"{self.output!r}; set circuit.output = 'linear' (--output linear)")
        if self.cross_v:
            _choice("plasticity.cross_v", self.cross_v, V_RULES)
        if self.cross_u:
            _choice("plasticity.cross_u", self.cross_u, U_RULES)
        if self.b_rule:
            _choice("plasticity.b_rule", self.b_rule, B_RULES)
        _choice("plasticity.rate_scaling", self.rate_scaling, RATE_SCALINGS)
        if isinstance(self.presets, str):
            self.presets = [p.strip() for p in self.presets.split(",") if p.strip()]
        if not self.presets:
            raise ConfigError("training.presets is empty; name at least one of: " + ", ".join(PRESET_NAMES))
        for p in self.presets:
            _choice("training.presets", p, PRESET_NAMES)
        if len(set(self.presets)) != len(self.presets):
            raise ConfigError(f"training.presets lists a preset twice: {self.presets}")
        for name in ("epochs", "records_per_epoch"):
            setattr(self, name, _integer(f"training.{name}", getattr(self, name), minimum=1))
        self.seed = _integer("training.seed", self.seed, minimum=0)
        if self.seed >= SEED_LIMIT:
            raise ConfigError(f"training.seed must be below 2**32 = {SEED_LIMIT} (Brian2 takes 32-bit seeds), "
                              f"got {self.seed}")
        self.max_train = _integer("data.max_train", self.max_train, minimum=0)
        try:
            self.test_fraction = check_number("data.test_fraction", self.test_fraction, positive=True)
            if self.test_fraction >= 1:
                raise ValueError(f"data.test_fraction must be below 1, got {self.test_fraction}")
            for name in ("eta", "lam", "eta_c", "lam_c", "sigma_xi", "eta_u", "eta_b", "lam_b"):
                setattr(self, name, check_number(f"plasticity.{name}", getattr(self, name), nonnegative=True))
            for name in ("dt_ms", "tau_r_ms", "T_present_ms", "tau_xi_ms"):
                setattr(self, name, check_number(f"time.{name}", getattr(self, name), nonnegative=True))
            check_engine(self.engine, self.time_mode())
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self._check_scaled_decays()
        for p in self.presets:  # rule overrides a preset cannot take (weight transport needs U = V = I, fixed)
            try:
                self.rules(p)
            except ValueError as exc:
                raise ConfigError(f"plasticity.cross_v/cross_u/b_rule: {exc}; leave {p} out of training.presets, "
                                  "or drop the override") from None
        self.connectivity = _check_connectivity(self.connectivity)
        self._check_phases()
        for pop in population_names(len(self.sizes) - 1):  # p against the populations' sizes
            c = Connectivity(**self.connectivity[pop[0]])
            try:
                c.check_fits(*population_shape(pop, self.sizes), what=f"population {pop}")
            except ValueError as exc:
                raise ConfigError(f"connectivity.{pop[0]}.p: {exc}") from None
        if self.mnist_dir:  # absolute, so that config.toml means the same folder from anywhere
            self.mnist_dir = os.path.abspath(os.path.expanduser(self.mnist_dir))
        if self.dataset == "mnist" and not self.mnist_dir:
            raise ConfigError("data.dataset is 'mnist' but data.mnist_dir is empty; give the folder of the four IDX files (--mnist DIR)")
        return self

    def _check_phases(self):
        """[[phases]]: each checked (:func:`~selfassembly.plasticity.phases.check_phases`); training.epochs
        becomes their total."""
        if self.phases is None:
            self.phases = []
        try:
            phases = check_phases(self.phases)
        except PhaseError as exc:
            raise ConfigError(f"[[phases]]: {exc}") from None
        self.phases = [p.as_dict() for p in phases]
        if phases:
            self.epochs = sum(p.epochs for p in phases)

    def schedule(self):
        """The run's phases, as :class:`~selfassembly.plasticity.phases.Phase` objects.

        Without ``[[phases]]`` this is one phase of ``training.epochs`` epochs that overrides nothing.
        """
        if not self.phases:
            return (Phase(epochs=self.epochs, name="train"),)
        return check_phases(self.phases)

    def _check_scaled_decays(self):
        """Under rate_scaling = "size", the smallest layer's decays per presentation must stay below 1.

        Layer l's V decays by eta_c lam_c n_ref / n_l and B_{l+1}'s loop mirror by eta_b lam_b n_ref / n_l
        per presentation; at 1 or more the decay overshoots zero at every step."""
        if self.rate_scaling == "none":
            return
        n = min(self.sizes[1:])
        k = size_factor(self.rate_scaling, n)
        for rate, decay in (("eta_c", "lam_c"), ("eta_b", "lam_b")):
            value = getattr(self, rate) * getattr(self, decay) * k
            if value >= 1 and k > 1:
                raise ConfigError(
                    f"plasticity.rate_scaling = {self.rate_scaling!r} gives the layer of {n} units {rate} = {getattr(self, rate):g} * "
                    f"{REFERENCE_SIZE} / {n} = {getattr(self, rate) * k:g}, so its decay per presentation {rate} * {decay} "
                    f"= {value:g} is 1 or more and overshoots zero at every step; lower plasticity.{rate} or "
                    f"plasticity.{decay}, widen that layer, or set plasticity.rate_scaling = 'capped' or 'none'")

    def _check_dataset(self):
        """data.dataset: a bundled name or a data file's path (made absolute); data.label_column goes with a CSV."""
        if is_data_file(self.dataset):
            # absolute, so that config.toml means the same file from anywhere
            self.dataset = os.path.abspath(os.path.expanduser(self.dataset))
        elif self.dataset not in DATASET_NAMES:
            raise ConfigError(f"data.dataset: unknown value {self.dataset!r}; valid values: "
                              f"{', '.join(DATASET_NAMES)}, or the path of an .npz or .csv data file")
        if self.label_column and not self.dataset.lower().endswith(".csv"):
            raise ConfigError(f"data.label_column = {self.label_column!r} is only for a .csv data file, but "
                              f"data.dataset is {self.dataset!r}; drop it (--label-column)")
        if self.dataset.lower().endswith(".csv") and not self.label_column:
            raise ConfigError(f"data.dataset is the CSV file {self.dataset}: name its label column with "
                              "--label-column NAME (data.label_column)")

    def _check_types(self):
        """Strict types from each field's annotation (and :data:`_LIST_ITEMS` for lists)."""
        names = {key: f"{sec}.{key}" for sec, keys in self.SECTIONS.items() for key in keys}
        for f in fields(self):
            if f.name not in names:
                continue
            name, value = names[f.name], getattr(self, f.name)
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            if kind == "list":
                value = _strict_list(name, value, _LIST_ITEMS[f.name])
            else:
                value = {"float": _strict_float, "int": _strict_int, "str": _strict_str}[kind](name, value)
            setattr(self, f.name, value)

    def config_hash(self):
        """sha256 (hex) of the canonical JSON of everything that can change a run's results.

        Stored with each preset's results (``summary.json``, the snapshot file),
        so that a run folder can tell results of this configuration from
        those of another. ``simulator.cache_dir`` is left out. A data file's
        content enters by its sha256 (:func:`~selfassembly.datasets.file_sha256`),
        so that results made from an edited file are not taken as done.
        """
        data = self.to_dict()
        for section, keys in _NOT_HASHED.items():
            for key in keys:
                data.get(section, {}).pop(key, None)
        if is_data_file(self.dataset):
            data["data"]["dataset_sha256"] = file_sha256(self.dataset)
        if not self.label_column:  # absent before data files existed: the hashes of earlier runs stay valid
            data["data"].pop("label_column")
        if self.dtype == "float64":  # absent before float32 existed: the hashes of earlier runs stay valid
            data["simulator"].pop("dtype")
        if self.rate_scaling == "none":  # absent before rate scaling existed: the hashes of earlier runs stay valid
            data["plasticity"].pop("rate_scaling")
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()

    # ---- resolved objects -----------------------------------------------------
    def time_mode(self):
        """The :mod:`~selfassembly.circuits.modes` object of this configuration."""
        if self.mode == "sample":
            return make_mode("sample", dt_ms=self.dt_ms or 1.0)
        return make_mode("dynamic", tau_r_ms=self.tau_r_ms, T_present_ms=self.T_present_ms, dt_ms=self.dt_ms or 0.1,
                         tau_xi_ms=self.tau_xi_ms or None)

    def rules(self, preset):
        """The :class:`~selfassembly.plasticity.presets.RuleSet` of one preset with this configuration's numbers."""
        return make_preset(preset, self.eta, self.lam, self.eta_c, self.lam_c, self.sigma_xi, self.eta_u,
                           cross_v=self.cross_v or None, cross_u=self.cross_u or None, eta_b=self.eta_b,
                           lam_b=self.lam_b, b_rule=self.b_rule or None, rate_scaling=self.rate_scaling)

    def connectivity_objects(self):
        return {k: Connectivity(**v) for k, v in self.connectivity.items()}

    # ---- TOML -----------------------------------------------------------------
    def to_dict(self):
        out = {sec: {k: getattr(self, k) for k in keys} for sec, keys in self.SECTIONS.items()}
        # a reciprocal population's p is its partner's: left out, so that a file that changes the partner's p
        # (a sweep of connectivity.U.p) changes both
        out["connectivity"] = {k: {key: x for key, x in v.items() if not (key == "p" and v.get("reciprocal_to"))}
                               for k, v in self.connectivity.items()}
        if self.phases:  # absent without a schedule: the hashes of earlier runs stay valid
            out["phases"] = [dict(p) for p in self.phases]
        return out

    def to_toml(self):
        data = self.to_dict()
        phases = data.pop("phases", [])
        text = tomli_w.dumps(data)
        for phase in phases:  # [[phases]] tables at the end, one per phase, in order
            text += "\n[[phases]]\n" + tomli_w.dumps(phase)
        return text

    @classmethod
    def from_dict(cls, data, source="configuration", base=None):
        """Build from a nested dict (as read from TOML) on top of ``base`` (default: the defaults)."""
        values = dataclasses.asdict(base) if base is not None else {}
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a table of sections")
        for section, table in data.items():
            if section == "connectivity":
                values["connectivity"] = _merge_connectivity(values.get("connectivity"), table, source)
                continue
            if section == "phases":  # a schedule replaces the base's as a whole
                if not isinstance(table, list):
                    raise ConfigError(f"{source}: phases must be a list of [[phases]] tables (with two brackets), "
                                      "each with epochs = N")
                values["phases"] = table
                continue
            if section == "sweep":
                raise ConfigError(f"{source} is a sweep file (it has a [sweep] table), not a run configuration; run "
                                  f"it with `selfassembly sweep {source}`, or remove [sweep] to run one configuration")
            if section not in cls.SECTIONS:
                raise ConfigError(f"{source}: unknown section [{section}]; valid sections: "
                                  + ", ".join(list(cls.SECTIONS) + ["connectivity"]))
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: [{section}] must be a table of key = value lines")
            for key, value in table.items():
                if key not in cls.SECTIONS[section]:
                    raise ConfigError(f"{source}: unknown key {section}.{key}; valid keys in [{section}]: "
                                      + ", ".join(cls.SECTIONS[section]))
                values[key] = value
        epochs = data.get("training", {}).get("epochs") if isinstance(data.get("training"), dict) else None
        if "phases" in data and isinstance(data["phases"], list) and epochs is not None:
            total = sum(p.get("epochs", 0) for p in data["phases"] if isinstance(p, dict)
                        and isinstance(p.get("epochs"), int))
            if epochs != total:
                raise ConfigError(f"{source}: training.epochs = {epochs!r} but the [[phases]] add up to {total} "
                                  "epochs; with a schedule the phases set the length: drop training.epochs")
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def replace(self, **changes):
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)


def _choice(name, value, valid):
    if value not in valid:
        raise ConfigError(f"{name}: unknown value {value!r}; valid values: {', '.join(valid)}")


def _describe(value):
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"{value!r} (text)"
    return f"{value!r} ({type(value).__name__})"


def _strict_float(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = "; write the number without quotes" if isinstance(value, str) else ""
        raise ConfigError(f"{name} must be a number, got {_describe(value)}{hint}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value}")
    return value


def _strict_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            raise ConfigError(f"{name} must be a whole number, got {value!r}; write it without a decimal point")
        raise ConfigError(f"{name} must be a whole number, got {_describe(value)}")
    return int(value)


def _strict_str(name, value):
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be text (in quotes in TOML), got {_describe(value)}")
    return value


def _strict_list(name, value, item_kind):
    if isinstance(value, str) and item_kind is str:
        value = [v.strip() for v in value.split(",")]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name} must be a list, e.g. [a, b], got {_describe(value)}")
    out = []
    for k, item in enumerate(value):
        if item_kind is str:
            item = _strict_str(f"{name}[{k}]", item).strip()
            if not item:
                raise ConfigError(f"{name}: item {k + 1} is empty; list names separated by single commas")
        else:
            item = _strict_int(f"{name}[{k}]", item)
        out.append(item)
    return out


def _integer(name, value, minimum):
    value = _strict_int(name, value)
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_connectivity(conn):
    if not isinstance(conn, dict):
        raise ConfigError("connectivity must be a table with sections W, B, U, V")
    out = _default_connectivity()
    for pop, spec in conn.items():
        if pop not in out:
            raise ConfigError(f"unknown population [connectivity.{pop}]; valid: W, B, U, V")
        if not isinstance(spec, dict):
            raise ConfigError(f"[connectivity.{pop}] must be a table with kind, scale, p")
        unknown = set(spec) - {"kind", "scale", "p", "reciprocal_to"}
        if unknown:
            raise ConfigError(f"unknown key(s) {sorted(unknown)} in [connectivity.{pop}]; valid keys: kind, scale, p, "
                              "reciprocal_to")
        merged = {**out[pop], **spec}
        merged["kind"] = _strict_str(f"connectivity.{pop}.kind", merged["kind"])
        merged["reciprocal_to"] = _strict_str(f"connectivity.{pop}.reciprocal_to", merged.get("reciprocal_to", ""))
        for key in ("scale", "p"):
            merged[key] = _strict_float(f"connectivity.{pop}.{key}", merged[key])
        try:
            c = Connectivity(**merged)
        except ValueError as exc:
            raise ConfigError(f"connectivity.{pop}: {exc}") from None
        if c.kind == "identity" and pop in "WB":
            raise ConfigError(f"connectivity.{pop}: identity connectivity is only for the square populations U and V")
        out[pop] = {"kind": c.kind, "scale": c.scale, "p": c.p}
        if c.reciprocal_to:  # absent when independent: the hashes of earlier runs stay valid
            out[pop]["reciprocal_to"] = c.reciprocal_to
    for pop, spec in conn.items():  # a reciprocal population's p is its partner's, unless given (then it must match)
        partner = out[pop].get("reciprocal_to")
        if not partner:
            continue
        if partner not in RECIPROCAL_PARTNERS or RECIPROCAL_PARTNERS.get(pop) != partner:
            raise ConfigError(f"connectivity.{pop}.reciprocal_to = {partner!r}: only V can be reciprocal to 'U' (V's mask "
                              "is U's transposed), or U to 'V'; leave reciprocal_to out of the other sections")
        if out[partner].get("reciprocal_to"):
            raise ConfigError(f"connectivity.{pop}.reciprocal_to = {partner!r} and connectivity.{partner}.reciprocal_to = "
                              f"{pop!r}: one of the pair must draw its mask; set reciprocal_to on {pop} only")
        if "p" in spec and out[pop]["p"] != out[partner]["p"]:
            raise ConfigError(f"connectivity.{pop}.p = {out[pop]['p']:g}, but {pop} is reciprocal_to {partner!r}, whose "
                              f"mask (drawn with connectivity.{partner}.p = {out[partner]['p']:g}) it takes transposed; "
                              f"leave connectivity.{pop}.p out (it is then {partner}'s) or make it "
                              f"{out[partner]['p']:g}")
        out[pop]["p"] = out[partner]["p"]
    return out


def _merge_connectivity(current, table, source):
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [connectivity] must hold tables [connectivity.W] etc.")
    merged = {k: dict(v) for k, v in (current or _default_connectivity()).items()}
    for pop, spec in table.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{source}: [connectivity.{pop}] must be a table with kind, scale, p")
        merged.setdefault(pop, {}).update(spec)
    for pop, spec in merged.items():  # a reciprocal population's p follows its partner's, unless this table gives it
        if isinstance(spec, dict) and spec.get("reciprocal_to") and "p" not in (table.get(pop) or {}):
            spec.pop("p", None)
    return merged


def differences(a, b):
    """Where two configurations differ: ``[(dotted key, value in a, value in b), ...]``.

    >>> differences(ExperimentConfig(), ExperimentConfig(eta=0.5, seed=3))
    [('training.seed', 0, 3), ('plasticity.eta', 0.02, 0.5)]
    """
    def walk(x, y, prefix):
        for key in list(dict.fromkeys([*x, *y])):
            vx, vy = x.get(key), y.get(key)
            if isinstance(vx, dict) and isinstance(vy, dict):
                yield from walk(vx, vy, f"{prefix}{key}.")
            elif vx != vy:
                yield f"{prefix}{key}", vx, vy

    return list(walk(a.to_dict(), b.to_dict(), ""))


def load_config(path, base=None):
    """Read a TOML configuration file on top of ``base`` (default: the defaults).

    Raises
    ------
    ConfigError
        If the file is missing, is not valid TOML, or holds an unknown or
        invalid value; the message names the field and the fix.
    """
    data = read_toml_file(path, "configuration file", f"give the TOML file (e.g. {Path(path) / 'config.toml'})",
                          "(a run folder's is RUN/config.toml)")
    return ExperimentConfig.from_dict(data, source=str(path), base=base)


def read_toml_file(path, what, folder_hint="give the TOML file", missing_hint=""):
    """Read the TOML file a user gave (a configuration or a sweep file) as a dict, refusing clearly what it is not.

    A UTF-8 byte-order mark (some Windows editors write one) is dropped; the text goes through
    :func:`parse_toml` (NUL bytes, nesting thousands deep).

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, for messages (``"configuration file"``, ``"sweep file"``).
    folder_hint, missing_hint : str
        The fix named when ``path`` is a folder, and a note when it does not exist.

    Raises
    ------
    ConfigError
        A folder, a missing or unreadable file, not UTF-8 text, or not valid TOML; naming ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; {folder_hint}")
    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist; check the path" + (f" {missing_hint}" if missing_hint else ""))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x}); "
                          "give a TOML text file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    return parse_toml(text, path)


#: deepest nesting of tables and arrays a configuration file may have (it uses 3: [connectivity.W] kind = ...)
MAX_TOML_DEPTH = 32


def parse_toml(text, path):
    """``tomllib.loads(text)``, refusing what tomllib cannot say clearly: NUL bytes, nesting thousands deep.

    Raises
    ------
    ConfigError
        Naming ``path``, the problem and (where tomllib gives it) the line.
    """
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ConfigError(f"{path}, line {line}: holds a NUL byte, so it is not a TOML text file; give the TOML "
                          "configuration file")
    depth = _bracket_depth(text)
    if depth > MAX_TOML_DEPTH:
        raise ConfigError(f"{path} nests arrays or inline tables {depth} levels deep; a configuration needs at most 3 "
                          f"(more than {MAX_TOML_DEPTH} is refused): is this the right file?")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to read; a configuration needs at most 3 levels") from None


def _bracket_depth(text):
    """Deepest nesting of [ and { outside strings and comments (a cheap over-estimate is fine: it only refuses)."""
    depth = deepest = 0
    quote = None
    comment = False
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote:
            if ch == quote or ch == "\n":
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def quick_config():
    """A tiny version of the default experiment (seconds), for tests and a first look."""
    return ExperimentConfig(sizes=[64, 24, 24, 10], epochs=1, max_train=240, records_per_epoch=2)
