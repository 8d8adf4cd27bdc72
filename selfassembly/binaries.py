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

Before reusing, the cache checks that every parameter the preset uses and
that differs from the build is a shared constant of some group of the built
circuit, and not one of :data:`INITIAL_VALUE_PARAMETERS` (read by an
initial-value expression, which the binary evaluates before it applies
run_args); otherwise it builds anew rather than silently running the old value.
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
from .plasticity.rules import SCALED_PARAMETERS, size_factor

__all__ = ["StandaloneBinaries", "RUNTIME_PARAMETERS", "INITIAL_VALUE_PARAMETERS", "structure_key", "used_parameters"]

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
    if "phases" in d:  # a list of tables: keyed as one text
        d["phases"] = {"schedule": repr(d["phases"])}
    for section in d.values():
        for name in RUNTIME_PARAMETERS:
            section.pop(name, None)
    d["training"].pop("presets", None)  # one preset per binary: the other presets do not matter
    return repr((preset, sorted((k, sorted(v.items())) for k, v in d.items())))


def used_parameters(rules):
    """The runtime parameters that the circuit of ``rules`` reads; the others cannot change its run.

    >>> from selfassembly.plasticity import make_preset
    >>> sorted(used_parameters(make_preset("kolen_pollack")))
    ['eta', 'lam']
    """
    used = set(rules.forward.parameters())
    if rules.feedback.plastic:
        used |= set(rules.feedback.parameters())
    for pop in rules.cross.changes:
        used |= set(rules.cross.parameters(pop))
    if rules.cross.needs_noise:
        used.add("sigma_xi")
    return used & set(RUNTIME_PARAMETERS)


#: runtime parameters that the circuit also reads when it sets initial values (``A.spont =
#: "sigma_xi * randn()"``): Brian2's standalone binary applies run_args after that initialisation,
#: so a new value of these needs a new build
INITIAL_VALUE_PARAMETERS = ("sigma_xi",)


def _shared_constant(obj, name):
    """Whether ``obj`` owns a shared constant ``name`` (Synapses also list their post- and presynaptic
    groups' variables, which run_args cannot set through the synapses)."""
    var = obj.variables[name] if name in obj.variables else None
    if var is None or not (getattr(var, "scalar", False) and getattr(var, "constant", False)):
        return False
    try:
        return var.owner.name == obj.name
    except (AttributeError, ReferenceError):
        return False


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
        self._config = None
        self._device = None
        self._dir = None

    def stats(self):
        """Counts and compile time, as a dict."""
        return {"compiles": self.compiles, "reuses": self.reuses, "compile_s": round(self.compile_s, 2)}

    def _run_args(self, config, preset):
        """run_args that turn the cached build into the run of ``config``, or None if it needs a new build."""
        changed = {n for n in used_parameters(config.rules(preset)) if getattr(config, n) != getattr(self._config, n)}
        if changed & set(INITIAL_VALUE_PARAMETERS):
            return None
        c = self._circuit
        args, covered = {}, set()
        for group in [*c.A[1:], *c.D[1:], *c.synapses.values()]:
            for name in RUNTIME_PARAMETERS:
                if _shared_constant(group, name):
                    # under rate_scaling = "size" a synapse group's eta_c, eta_u, eta_b are those of its
                    # target layer's size n_l (U_l: D_l, V_l: A_l, B_{l+1}: D_l)
                    k = size_factor(config.rate_scaling, len(group.target)) if name in SCALED_PARAMETERS else 1.0
                    args[getattr(group, name)] = getattr(config, name) * k
                    covered.add(name)
        if changed - covered:
            return None  # a changed value is compiled into an equation
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
        device = b2.get_device()
        if (key == self._key and device is self._device and getattr(device, "has_been_run", False)
                and Path(getattr(device, "project_dir", "") or "") == self._dir.resolve()):
            args = self._run_args(config, preset)
            if args is not None:
                b2.device.run(str(self._dir), with_output=False, run_args=args)
                self._config = config
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
        self._key, self._circuit, self._config, self._device = key, circuit, config, b2.get_device()
        return circuit
