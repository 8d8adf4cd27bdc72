"""The sweep file: a run configuration plus a ``[sweep]`` table, parsed into a grid of points.

See :mod:`selfassembly.sweep` for the file's format. Everything here is checked before
anything runs: unknown keys, empty lists, values of the wrong type, ``zip`` and
``reference``, and points that would repeat a configuration.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomli_w

from ..circuits.connectivity import RECIPROCAL_PARTNERS
from ..config import ConfigError, ExperimentConfig, quick_config, read_toml_file

__all__ = ["SweepError", "Sweep", "Point", "load_sweep", "parse_sweep", "valid_keys", "group_key", "point_id"]

#: keys of [sweep] that are not configuration keys
_RESERVED = ("seeds", "zip", "reference")
#: configuration keys a sweep may not vary (presets run at every point; seeds has its own list)
_NOT_SWEPT = ("training.presets", "training.seed")


class SweepError(ConfigError):
    """A sweep file or sweep folder is invalid."""


def valid_keys():
    """Dotted configuration keys a ``[sweep]`` table may vary.

    Derived from :attr:`~selfassembly.config.ExperimentConfig.SECTIONS` and the connectivity tables,
    so new configuration fields can be swept without changes here.

    >>> "plasticity.eta_c" in valid_keys(), "connectivity.V.p" in valid_keys()
    (True, True)
    """
    keys = [f"{sec}.{k}" for sec, names in ExperimentConfig.SECTIONS.items() for k in names]
    keys += [f"connectivity.{pop}.{k}" for pop, spec in ExperimentConfig().connectivity.items() for k in spec]
    keys += [f"connectivity.{pop}.reciprocal_to" for pop in RECIPROCAL_PARTNERS]  # "" (independent) or the partner
    return [k for k in keys if k not in _NOT_SWEPT]


@dataclass
class Point:
    """One point of a sweep: its id, seed, swept values and resolved configuration."""

    id: str
    seed: int
    values: dict
    config: ExperimentConfig

    @property
    def group(self):
        """The point's configuration without its seed, as a readable key (seeds of one group share it)."""
        return group_key(self.values)


@dataclass
class Sweep:
    """A parsed sweep file: base configuration, swept values, seeds and the grid of points."""

    base: ExperimentConfig
    values: dict
    seeds: list
    zip: list
    reference: str | None
    points: list = field(default_factory=list)

    @property
    def keys(self):
        return list(self.values)

    @property
    def axes(self):
        """Swept axes in file order: a list of key lists (a zip group is one axis)."""
        axes, seen = [], set()
        for key in self.values:
            if key in seen:
                continue
            group = list(self.zip) if key in self.zip else [key]
            seen.update(group)
            axes.append(group)
        return axes

    @property
    def presets(self):
        return list(self.base.presets)

    def to_toml(self):
        """The resolved sweep (base configuration and [sweep] table) as TOML."""
        d = self.base.to_dict()
        d["sweep"] = dict(self.values, seeds=list(self.seeds), zip=list(self.zip))
        if self.reference:
            d["sweep"]["reference"] = self.reference
        return tomli_w.dumps(d)


def _quick(config):
    """``config`` with ``selfassembly run --quick``'s settings (those where quick_config differs from the defaults)."""
    q, d = quick_config(), ExperimentConfig()
    changes = {f.name: getattr(q, f.name) for f in fields(ExperimentConfig) if getattr(q, f.name) != getattr(d, f.name)}
    return config.replace(**changes)


def _field_value(config, key):
    parts = key.split(".")
    if parts[0] == "connectivity":
        return config.connectivity[parts[1]].get(parts[2], "")  # reciprocal_to is absent when independent
    return getattr(config, parts[1])


def _check_type(key, value, base_value):
    """Clear error for a value whose type cannot be the field's (validation checks the rest)."""
    def kind(v):
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, (int, float)):
            return "number"
        if isinstance(v, str):
            return "string"
        if isinstance(v, list):
            return "list"
        return type(v).__name__

    if kind(value) != kind(base_value):
        raise SweepError(f"[sweep] {key}: value {value!r} is a {kind(value)}, but {key} takes a {kind(base_value)} "
                         f"(like {base_value!r})")


def _fmt(value):
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "-".join(_fmt(v) for v in value)
    return str(value)


def _short_names(keys):
    """Last component of each dotted key, or the whole key where two would clash."""
    last = [k.split(".")[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def group_key(values):
    """A point's swept values as a readable key without the seed, e.g. ``eta_c=0.001__sigma_xi=0.5``."""
    names = _short_names(list(values))
    return "__".join(f"{names[k]}={_fmt(v)}" for k, v in values.items()) or "base"


def point_id(values, seed):
    """A point's folder name: its :func:`group_key` and seed, made file-name safe."""
    text = (group_key(values) + "__" if values else "") + f"seed={seed}"
    return re.sub(r"[^A-Za-z0-9._=+-]", "_", text)


def parse_sweep(data, source="sweep file", quick=False):
    """Build a :class:`Sweep` from a parsed sweep file.

    Parameters
    ----------
    data : dict
        The TOML as a dict: configuration sections plus ``[sweep]``.
    source : str
        Name used in error messages.
    quick : bool
        Apply ``selfassembly run --quick``'s settings on top of the file's
        (swept keys still win).

    Raises
    ------
    SweepError
        An unknown key, an empty list, a value of the wrong type, bad ``zip``
        or ``reference``, or two points with the same configuration.
    """
    if not isinstance(data, dict) or not isinstance(data.get("sweep"), dict):
        raise SweepError(f"{source}: no [sweep] table; add one with dotted keys and lists of values, "
                         f'e.g. "plasticity.eta_c" = [0.001, 0.004] and seeds = [0, 1]')
    data = copy.deepcopy(data)
    table = data.pop("sweep")
    base = ExperimentConfig.from_dict(data, source=source)
    if quick:
        base = _quick(base)
    valid = valid_keys()
    seeds = table.get("seeds", [base.seed])
    if not isinstance(seeds, list) or not seeds:
        raise SweepError(f"{source}: [sweep] seeds must be a non-empty list of whole numbers, got {seeds!r}")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise SweepError(f"{source}: [sweep] seeds must be distinct whole numbers >= 0, got {seeds!r}")
    values = {}
    for key, vals in table.items():
        if key in _RESERVED:
            continue
        if key not in valid:
            hint = (" (seeds have their own list: seeds = [...])" if key == "training.seed" else
                    " (every preset runs at every point)" if key == "training.presets" else "")
            raise SweepError(f"{source}: [sweep] unknown key {key!r}{hint}; valid keys: " + ", ".join(valid)
                             + ", and seeds, zip, reference")
        if not isinstance(vals, list) or not vals:
            raise SweepError(f"{source}: [sweep] {key} must be a non-empty list of values, got {vals!r}")
        base_value = _field_value(base, key)
        for v in vals:
            _check_type(key, v, base_value)
        values[key] = vals
    zipped = table.get("zip", [])
    if not isinstance(zipped, list) or any(k not in values for k in zipped):
        raise SweepError(f"{source}: [sweep] zip must list swept keys (of: {', '.join(values) or 'none'}), got {zipped!r}")
    if zipped and len({len(values[k]) for k in zipped}) != 1:
        raise SweepError(f"{source}: [sweep] the keys in zip vary together and need lists of one length; got "
                         + ", ".join(f"{k}: {len(values[k])}" for k in zipped))
    presets = list(base.presets)
    reference = table.get("reference")
    if reference is None:
        reference = next((p for p in ("kolen_pollack", "backprop") if p in presets), None)
    elif reference not in presets:
        raise SweepError(f"{source}: [sweep] reference {reference!r} is not among training.presets: {', '.join(presets)}")
    sweep = Sweep(base=base, values=values, seeds=list(seeds), zip=list(zipped), reference=reference)
    # the grid: one axis per key, one per zip group
    axes = sweep.axes
    combos = itertools.product(*[list(zip(*[values[k] for k in axis])) for axis in axes])
    seen = {}
    for combo in combos:
        point_values = {}
        for axis, vals in zip(axes, combo):
            point_values.update(dict(zip(axis, vals)))
        point_values = {k: point_values[k] for k in values}  # file order
        for seed in seeds:
            d = base.to_dict()
            d["training"]["seed"] = seed
            for key, v in point_values.items():
                parts = key.split(".")
                if parts[0] == "connectivity":
                    d["connectivity"][parts[1]][parts[2]] = v
                else:
                    d[parts[0]][parts[1]] = v
            where = ", ".join(f"{k} = {v!r}" for k, v in point_values.items()) or "the base configuration"
            try:
                config = ExperimentConfig.from_dict(d, source=f"{source}: [sweep] point {where}")
            except ConfigError as exc:
                raise SweepError(str(exc)) from None
            text = config.to_toml()
            if text in seen:
                raise SweepError(f"{source}: [sweep] duplicate point: {where}, seed {seed} gives the same configuration "
                                 f"as {seen[text]}; remove the repeated value")
            seen[text] = f"{where}, seed {seed}"
            sweep.points.append(Point(point_id(point_values, seed), seed, point_values, config))
    ids = [p.id for p in sweep.points]
    for p in sweep.points:
        if ids.count(p.id) > 1:  # different values that read the same once made file-name safe
            p.id += "-" + hashlib.sha1(json.dumps([p.values, p.seed]).encode()).hexdigest()[:6]
    return sweep


def load_sweep(path, quick=False):
    """Read and check a sweep file (see :func:`parse_sweep`); the file is read as
    :func:`selfassembly.config.read_toml_file` reads a configuration (a byte-order mark, NUL bytes,
    nesting thousands deep, a folder and binary files are refused clearly)."""
    try:
        data = read_toml_file(path, "sweep file", "give the sweep's TOML file (a sweep folder's is SWEEP_DIR/sweep.toml)")
    except ConfigError as exc:
        raise SweepError(str(exc)) from None
    return parse_sweep(data, source=str(path), quick=quick)
