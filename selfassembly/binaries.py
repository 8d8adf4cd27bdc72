"""Compiled reuse for cpp_standalone: one binary for runs that differ only in parameters.

A cpp_standalone run generates C++ code, compiles it (tens of seconds) and
runs the binary. Two runs whose configurations differ only in the numbers
that the circuit holds as Brian2 *shared constants* (eta, lam, eta_c, lam_c,
sigma_xi: :data:`~selfassembly.plasticity.presets.DEFAULT_PARAMS`) can run
the same binary: Brian2's ``device.run(run_args={group.var: value})`` sets
them on the command line, with no code generation and no compilation
(benchmarks/speed.py measures this).

:class:`StandaloneBinaries` keeps the last binary built in this process, keyed
by everything else: the preset, and the whole configuration with the
parameters left out (seed, sizes, data, connectivity, time...). Brian2 holds
one standalone project per process (``set_device`` re-initialises it), so a
process can reuse only its latest build; the sweep submits points of the
same structure one after another, so that each worker compiles each structure
about once.

Before reusing, the cache checks that every parameter that differs from the
build is a shared constant of some group of the built circuit; if not (a
parameter that became part of an equation), it builds anew rather than
silently running the old value.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path

import brian2 as b2
import numpy as np

from .circuits.network import configure_target
from .plasticity.presets import DEFAULT_PARAMS

__all__ = ["StandaloneBinaries", "RUNTIME_PARAMETERS", "structure_key"]

#: configuration fields that a built binary takes as run_args
RUNTIME_PARAMETERS = tuple(DEFAULT_PARAMS)


def structure_key(config, preset):
    """What a compiled binary depends on: the preset and every field but the runtime parameters.

    >>> from selfassembly.config import ExperimentConfig
    >>> a, b = ExperimentConfig(eta=0.01), ExperimentConfig(eta=0.03)
    >>> structure_key(a, "backprop") == structure_key(b, "backprop")
    True
    >>> structure_key(a, "backprop") == structure_key(a.replace(seed=1), "backprop")
    False
    """
    d = config.to_dict()
    for section in d.values():
        for name in RUNTIME_PARAMETERS:
            section.pop(name, None)
    d["training"].pop("presets", None)  # one preset per binary: the other presets do not matter
    return repr((preset, sorted((k, sorted(v.items())) for k, v in d.items())))


def _parameter_values(rules):
    """Runtime parameter values by Brian2 variable name, per population kind ("W", "B", "U", "V", "A")."""
    return {"W": rules.forward.parameters(), "B": rules.feedback.parameters(),
            "U": rules.cross.parameters(), "V": rules.cross.parameters(), "A": {"sigma_xi": rules.cross.sigma_xi}}


def _shared_constant(obj, name):
    var = obj.variables.get(name) if name in obj.variables else None
    return var is not None and getattr(var, "scalar", False) and getattr(var, "constant", False)


class StandaloneBinaries:
    """The cpp_standalone binary last built in this process, reused through ``run_args``.

    Parameters
    ----------
    make_jobs : int
        Parallel jobs for Brian2's ``make`` (its default ``-j`` is unbounded
        and thrashes a small machine shared by several workers).
    root : path, optional
        Where builds go (default: a private folder under the system's
        temporary folder, removed when the process exits).

    Attributes
    ----------
    compiles, reuses : int
        Builds made and runs that reused a build.
    compile_s : float
        Seconds spent in code generation and compilation.
    """

    def __init__(self, make_jobs=1, root=None):
        self.make_jobs = max(1, int(make_jobs))
        if root is None:
            root = tempfile.mkdtemp(prefix=f"selfassembly-binaries-{os.getpid()}-")
            atexit.register(shutil.rmtree, root, True)
        self.root = Path(root)
        self.compiles = 0
        self.reuses = 0
        self.compile_s = 0.0
        self._key = None
        self._circuit = None
        self._rules = None
        self._device = None
        self._dir = None

    def stats(self):
        """Counts and compile time, as a dict."""
        return {"compiles": self.compiles, "reuses": self.reuses, "compile_s": round(self.compile_s, 2)}

    def _run_args(self, rules):
        """run_args that turn the cached build into a run with ``rules``' parameters, or None if impossible."""
        old, new = _parameter_values(self._rules), _parameter_values(rules)
        groups = {"A": [g for g in self._circuit.A[1:]]}
        for name, syn in self._circuit.synapses.items():
            groups.setdefault(name[0], []).append(syn)
        args = {}
        for kind, values in new.items():
            for name, value in values.items():
                targets = [g for g in groups.get(kind, []) if name in g.variables]
                if not targets:
                    continue  # not part of this circuit (e.g. sigma_xi without the mirror rule)
                if not all(_shared_constant(g, name) for g in targets):
                    if value != old[kind][name]:
                        return None  # the value is compiled in: needs a new build
                    continue
                for g in targets:
                    args[getattr(g, name)] = value
        return args

    def run(self, config, preset, n_presentations, make_circuit, build_dir=None):
        """Simulate ``preset`` of ``config`` on cpp_standalone, compiling only if no build fits.

        Parameters
        ----------
        config : ExperimentConfig
        preset : str
        n_presentations : int
        make_circuit : callable
            Builds the :class:`~selfassembly.circuits.network.Circuit` (called
            only when a new build is needed).
        build_dir : path, optional
            Ignored: builds go under this cache's own folder, which is local
            to the worker process.

        Returns
        -------
        Circuit
            Whose weights and monitors read the results of this run.
        """
        key = structure_key(config, preset)
        rules = config.rules(preset)
        device = b2.get_device()
        if (key == self._key and device is self._device and getattr(device, "has_been_run", False)
                and Path(getattr(device, "project_dir", "") or "") == self._dir.resolve()):
            args = self._run_args(rules)
            if args is not None:
                b2.device.run(str(self._dir), with_output=False, run_args=args)
                self._rules = rules
                self.reuses += 1
                return self._circuit
        if self._key is not None and self._dir.exists():
            shutil.rmtree(self._dir, ignore_errors=True)
        self._key = None
        self._dir = (self.root / f"build-{self.compiles}").resolve()
        configure_target("cpp_standalone", standalone_dir=str(self._dir))
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{self.make_jobs}"]
        b2.seed(config.seed)
        np.random.seed(config.seed)
        circuit = make_circuit()
        t0 = time.perf_counter()
        circuit.network.run(n_presentations * circuit.mode.T_present, namespace={})
        b2.device.build(directory=str(self._dir), compile=True, run=False, with_output=False)
        self.compile_s += time.perf_counter() - t0
        self.compiles += 1
        b2.device.run(str(self._dir), with_output=False)
        circuit.steps_done = n_presentations
        self._key, self._circuit, self._rules, self._device = key, circuit, rules, b2.get_device()
        return circuit
