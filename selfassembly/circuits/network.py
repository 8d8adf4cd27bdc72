"""Build the four-synapse circuit as a Brian2 network.

Populations (MODEL.md): for each layer l >= 1 an ascending group ``A_l`` and a
descending group ``D_l``; ``A_0`` holds the stimulus. Synapses: ``W_l``
(A_{l-1} -> A_l), ``B_l`` (D_l -> D_{l-1}), ``V_l`` (D_l -> A_l, apical) and
``U_l`` (A_l -> D_l, dendritic). Each pathway writes its own summed variable:

==========  =======================================  =============
pathway     summed variable                          target
==========  =======================================  =============
W_l         ``h_post = w * r_pre``                   A_l.h
B_{l+1}     ``p_post = b * d_pre``                   D_l.p
V_l         ``m_post = v * p_pre``                   A_l.m
U_l         ``q_post = u * err_pre``                 D_l.q
==========  =======================================  =============

U also carries two more channels, both only for plasticity (MODEL.md's
explicit choice: ascending cells multiplex rate and error): ``q_r_post = u *
r_pre`` (the signal that modifies B) and, for the ``mirror`` and
``reconstruct`` rules, ``q_spont_post = u * spont_pre`` (s_l = U_l xi_l, the
spontaneous activity xi_l of A_l as it reaches D_l). For ``reconstruct``, V
carries s_l back: ``a_spont_post = v * q_spont_pre`` (a_l = V_l s_l, at A_l's
apical dendrite). For B's loop mirror, xi_{l-1} also travels up W_l,
``z_spont_post = w * spont_pre`` (z_l = W_l xi_{l-1}), and across U_l,
``u_loop_post = u * z_spont_pre`` (u_l = U_l z_l, at B_l's presynaptic cell
D_l). V_L exists for the top layer too (it carries no error, but
the top pair assembles like the others).

The summed-variable updaters and the per-neuron code that turns them into
rates and errors are given explicit scheduling orders in the ``groups`` slot,
in sweep order::

    h_1, r_1, .., h_L, [zsum], r_L, e_L, q_L,
    (p_l, m_l, e_l, q_l for l = L-1 .. 1), q_r, q_spont, a_spont, z_spont, u_loop

so one sample-clocked step computes the full forward and descending sweep
(in the dynamic mode the rates r and d are integrated instead, after the
weights: the dynamic weight updaters run at order -1, between the sweep and
the neurons' state updaters, so W, B, U and V all read the signals of the
same sweep). Plasticity runs at ``end`` in the sample-clocked mode; stimulus,
teacher and spontaneous activity are set at ``start``.

Spontaneous activity xi_l is an Ornstein-Uhlenbeck process with correlation
time tau_xi, updated exactly at each step::

    spont = decay * spont + sigma_xi * sqrt(1 - decay**2) * randn(),  decay = exp(-dt / tau_xi)

In the sample-clocked mode decay = 0 (an independent draw per presentation);
in the dynamic mode what the cross-stream pair learns then does not depend on
dt (MODEL.md, "Time").
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import brian2 as b2
import numpy as np
from brian2.devices.device import RuntimeDevice

from ..io import check_weights, population_names
from ..plasticity.presets import RuleSet
from .connectivity import check_sizes
from .modes import Dynamic, SampleClocked

__all__ = ["Stimulus", "Circuit", "build_circuit", "configure_target", "TARGETS", "DivergenceError",
           "SimulationStopped"]

TARGETS = ("numpy", "cython", "cpp_standalone")

#: name of the state variable holding each population's weight
WEIGHT_VAR = {"W": "w", "B": "b", "U": "u", "V": "v"}


class DivergenceError(RuntimeError):
    """Rates or weights became NaN or infinite."""


class SimulationStopped(KeyboardInterrupt):
    """Brian2 stopped a run before its end (a Ctrl-C during ``Network.run``, or ``Network.stop``).

    A :class:`KeyboardInterrupt`, so that whatever handles an interrupt handles it: the run is incomplete
    and must not be recorded as finished.
    """


def check_presentations(n, left=None, name="n_presentations"):
    """Return ``n`` as an int: a whole number >= 1 and, if ``left`` is given, at most ``left``."""
    import numbers

    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be a whole number of presentations, got {n!r} ({type(n).__name__})")
    n = int(n)
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    if left is not None and n > left:
        raise ValueError(f"{name} = {n} runs past the presentation order: {left} presentations of "
                         "stimulus.order are left; give a longer order to Stimulus, or run at most that many")
    return n


@dataclass
class Stimulus:
    """What the circuit is shown: a data set and the order of presentations.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_0)
        Stimuli r_0.
    Y : ndarray, shape (n_samples, n_L)
        Teacher signals y (one-hot for classification).
    order : ndarray of int, shape (n_presentations,)
        Which sample is shown at each presentation.
    """

    X: np.ndarray
    Y: np.ndarray
    order: np.ndarray

    def __post_init__(self):
        for name in ("X", "Y"):
            try:
                setattr(self, name, np.asarray(getattr(self, name), dtype=float))
            except (TypeError, ValueError) as exc:
                raise TypeError(f"Stimulus {name} must be a 2-D array of numbers ({exc})") from None
        self.order = np.asarray(self.order)
        if self.X.ndim != 2 or self.Y.ndim != 2:
            raise ValueError(f"X and Y must be 2-D (samples x features), got shapes {self.X.shape} and {self.Y.shape}")
        if len(self.X) != len(self.Y):
            raise ValueError(f"X has {len(self.X)} samples but Y has {len(self.Y)}; they must match row for row")
        if not (np.all(np.isfinite(self.X)) and np.all(np.isfinite(self.Y))):
            raise ValueError("X and Y must be finite (found NaN or Inf in the data)")
        if self.order.ndim != 1 or len(self.order) == 0 or not np.issubdtype(self.order.dtype, np.integer):
            raise ValueError(f"Stimulus order must be a non-empty 1-D array of whole-number sample indices, got "
                             f"{self.order.dtype} of shape {self.order.shape}")
        if self.order.min() < 0 or self.order.max() >= len(self.X):
            raise ValueError(f"order holds sample indices outside 0..{len(self.X) - 1}")

    def check_sizes(self, sizes):
        if self.X.shape[1] != sizes[0]:
            raise ValueError(f"stimuli have {self.X.shape[1]} features but the input layer has n_0 = {sizes[0]}; make sizes[0] = {self.X.shape[1]}")
        if self.Y.shape[1] != sizes[-1]:
            raise ValueError(f"teacher signals have {self.Y.shape[1]} entries but the output layer has n_L = {sizes[-1]}; make sizes[-1] = {self.Y.shape[1]}")


def configure_target(target="numpy", cache_dir=None, standalone_dir=None):
    """Select Brian2's code-generation target.

    Parameters
    ----------
    target : {"numpy", "cython", "cpp_standalone"}
    cache_dir : str, optional
        Cython cache directory (default: ``$SELFASSEMBLY_CYTHON_CACHE`` or Brian2's own).
    standalone_dir : str, optional
        Where cpp_standalone writes and compiles its project.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown codegen target {target!r}; valid names: {list(TARGETS)}")
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=standalone_dir, build_on_run=False)
        b2.device.reinit()
        b2.device.activate(directory=standalone_dir, build_on_run=False)
        return
    b2.set_device("runtime")
    b2.prefs.codegen.target = target
    cache_dir = cache_dir or os.environ.get("SELFASSEMBLY_CYTHON_CACHE")
    if target == "cython" and cache_dir:
        b2.prefs.codegen.runtime.cython.cache_dir = str(cache_dir)


def _activation_code(f):
    if f == "tanh":
        return "tanh(h)", "(1 - tanh(h)**2)"
    if f == "relu":
        return "h * int(h > 0)", "int(h > 0)"
    raise ValueError(f"unknown activation {f!r}; valid names: ['relu', 'tanh']")


class Circuit:
    """A built Brian2 network of the four-synapse circuit.

    Use :func:`build_circuit` to make one. Attributes: ``A`` and ``D`` (lists of
    NeuronGroups indexed by layer, ``D[0]`` is None), ``synapses`` (dict
    population name -> Synapses), ``network`` (the Brian2 Network).
    """

    def __init__(self, sizes, rules, masks, mode, stimulus, f, output, record_every):
        self.sizes = sizes
        self.rules = rules
        self.masks = masks
        self.mode = mode
        self.stimulus = stimulus
        self.f = f
        self.output = output
        self.record_every = record_every
        self.A, self.D, self.synapses, self.monitors = [], [None], {}, {}
        self.network = b2.Network()
        self.steps_done = 0

    @property
    def L(self):
        return len(self.sizes) - 1

    @property
    def is_standalone(self):
        return not isinstance(b2.get_device(), RuntimeDevice)

    # ---- reading out ----------------------------------------------------
    def _matrix(self, name, values):
        """Synapse values (Brian2 order) -> dense matrix in MODEL.md orientation."""
        mat = np.zeros(self.masks[name].shape)
        rows, cols = self._index[name]
        mat[rows, cols] = values
        if name[0] == "B":
            return self.rules.feedback.effective(mat)
        return mat

    def weights(self):
        """Current weights as dense matrices (rows postsynaptic), keyed by population."""
        return {
            name: self._matrix(name, np.asarray(getattr(syn, WEIGHT_VAR[name[0]])[:]))
            for name, syn in self.synapses.items()
        }

    def recorded_weights(self):
        """Weights recorded every ``record_every`` presentations, and the presentations done at each."""
        steps, out = None, {}
        for name, mon in self.monitors.items():
            values = np.asarray(getattr(mon, WEIGHT_VAR[name[0]]))  # (n_syn, n_records)
            out[name] = np.stack([self._matrix(name, values[:, k]) for k in range(values.shape[1])])
            steps = np.round(np.asarray(mon.t / self.mode.T_present)).astype(np.int64)
        return steps, out

    def first_bad_presentation(self):
        """The presentation (counted from 1) at which output rates first became NaN/Inf, or None."""
        bad = np.asarray(self.A[-1].bad_at[:])
        bad = bad[bad > 0]
        return int(round(bad.min())) if bad.size else None

    def state(self):
        """Current signals (h, r, e, m per A_l and p, q, d per D_l), for tests."""
        out = {}
        for l in range(1, self.L + 1):
            for var in ("h", "r", "err", "m"):
                if var in self.A[l].variables:
                    out[f"{var}{l}"] = np.array(getattr(self.A[l], var)[:])
            for var in ("p", "q", "d"):
                if var in self.D[l].variables:
                    out[f"{var}{l}"] = np.array(getattr(self.D[l], var)[:])
        return out

    # ---- phases ---------------------------------------------------------------
    def set_phase(self, params):
        """Set the settings of a phase (:func:`~selfassembly.plasticity.phases.phase_parameters`) for the
        presentations that follow: each population's rates (0 where frozen), sigma_xi and the stimulus.

        On the runtime targets call it between runs; on cpp_standalone use :meth:`run_phases`, which
        sets them between the runs of one compiled program.
        """
        frozen = params.get("frozen", ())
        for pop, S in self.synapses.items():
            # the phase's rates are the rule set's; each layer's own (rate_scaling) unless frozen (0)
            layer = {} if pop[0] in frozen else self.rules.parameters_of(pop, self.sizes)
            for key, value in params[pop[0]].items():
                setattr(S, key, layer.get(key, value))
        for A in self.A[1:]:
            if "sigma_xi" in A.variables:
                A.sigma_xi = params["sigma_xi"]
        on = 1.0 if params["stimulus"] else 0.0
        self.A[0].stim_on = on
        self.A[-1].stim_on = on

    def run_phases(self, segments, report=None):
        """Run ``[(n_presentations, phase parameters), ...]`` in turn, the settings of each set before it.

        On cpp_standalone this is one program: Brian2 records every setting made between the
        runs and the program applies it at that point; it compiles and runs once, at the end.
        """
        if not self.is_standalone:
            for n, params in segments:
                self.set_phase(params)
                self.run(n, report=report)
            return
        if self.steps_done:
            raise RuntimeError("a cpp_standalone circuit runs once; build a new circuit for another run")
        total = sum(check_presentations(n) for n, _ in segments)
        check_presentations(total, len(self.stimulus.order))
        for n, params in segments:
            self.set_phase(params)
            self.network.run(n * self.mode.T_present, report=report, namespace={})
        b2.device.build(run=True, **b2.device.build_options)
        self.steps_done += total

    # ---- running ------------------------------------------------------------
    def run(self, n_presentations, report=None):
        """Present ``n_presentations`` stimuli.

        On the runtime targets (numpy, cython) this may be called repeatedly. On
        cpp_standalone it compiles and runs the whole program, so it may be
        called once (build a new circuit for another run).

        Raises
        ------
        TypeError, ValueError
            ``n_presentations`` is not a whole number >= 1, or runs past the
            stimulus' presentation order (which would repeat its last sample).
        SimulationStopped
            Brian2 stopped the run before its end (a first Ctrl-C, or
            ``Network.stop``); the circuit then holds a partial run.
        """
        n_presentations = check_presentations(n_presentations, len(self.stimulus.order) - self.steps_done)
        if self.is_standalone and self.steps_done:
            raise RuntimeError("a cpp_standalone circuit runs once; build a new circuit for another run")
        if self.is_standalone:
            self.network.run(n_presentations * self.mode.T_present, report=report, namespace={})
            b2.device.build(run=True, **b2.device.build_options)
        else:
            start = self.network.t_
            self.network.run(n_presentations * self.mode.T_present, report=report, namespace={})
            # Brian2 turns a first Ctrl-C during Network.run into a stop request: the run returns early (or at
            # the end of this chunk) as if it had finished. The circuit then holds fewer presentations than
            # asked for, so the stop is passed on as an interrupt: nothing may record it as a finished run.
            expected = start + n_presentations * float(self.mode.T_present)
            short = self.network.t_ < expected - 0.5 * float(self.mode.dt)
            if short or self.network._stopped or b2.Network._globally_stopped:
                raise SimulationStopped(
                    f"the simulation was stopped after {(self.network.t_ - start) / float(self.mode.T_present):.0f} "
                    f"of {n_presentations} presentations (Ctrl-C or Network.stop); this circuit's run is incomplete")
        self.steps_done += n_presentations


def _shared_params(params):
    return "\n".join(f"{k} : 1 (shared, constant)" for k in params)


def _set_params(obj, params):
    for k, v in params.items():
        setattr(obj, k, v)


def build_circuit(sizes, rules, weights, masks, stimulus, mode=None, f="tanh", output="softmax",
                  record_every=None, name="circuit"):
    """Build the Brian2 network of one circuit.

    Parameters
    ----------
    sizes : list of int
        n_0 .. n_L.
    rules : RuleSet
        Plasticity of each population (a resolved preset).
    weights, masks : dict
        Initial weights and existing synapses (:func:`~selfassembly.circuits.connectivity.initial_weights`).
    stimulus : Stimulus
        Data and presentation order.
    mode : SampleClocked or Dynamic
    f : {"tanh", "relu"}
        Hidden activation.
    output : {"softmax", "linear"}
    record_every : int, optional
        Record all weights every this many presentations (from presentation 0).

    Returns
    -------
    Circuit
    """
    sizes = check_sizes(sizes)
    if not isinstance(rules, RuleSet):
        raise TypeError(f"rules must be a RuleSet (see selfassembly.plasticity.make_preset), got {type(rules).__name__}")
    if output not in ("softmax", "linear"):
        raise ValueError(f"unknown output {output!r}; valid names: ['linear', 'softmax']")
    act, act_prime = _activation_code(f)
    mode = mode or SampleClocked()
    if not isinstance(mode, (SampleClocked, Dynamic)):
        raise TypeError(f"mode must be SampleClocked or Dynamic (see selfassembly.circuits.make_mode), got "
                        f"{type(mode).__name__}")
    if not isinstance(stimulus, Stimulus):
        raise TypeError(f"stimulus must be a Stimulus(X, Y, order), got {type(stimulus).__name__}")
    stimulus.check_sizes(sizes)
    if record_every is not None:
        record_every = check_presentations(record_every, name="record_every")
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"name must be a Python identifier (it names Brian2 objects), got {name!r}")
    names = population_names(len(sizes) - 1)
    weights, _ = check_weights(weights, sizes, "weights", need="WBUV" if len(sizes) > 2 else "WUV")
    masks_given = masks
    masks, _ = check_weights(masks, sizes, "masks", need="WBUV" if len(sizes) > 2 else "WUV")
    masks = {k: np.asarray(masks_given[k]).astype(bool) for k in masks}
    for pop in names:
        if not np.all(np.isfinite(weights[pop])):
            raise ValueError(f"weights[{pop!r}] holds NaN or infinite values; initial weights must be finite")
    dynamic = isinstance(mode, Dynamic)
    L = len(sizes) - 1
    c = Circuit(sizes, rules, masks, mode, stimulus, f, output, record_every)
    clock = b2.Clock(dt=mode.dt, name=f"{name}_clock")
    ns = {
        "x_data": b2.TimedArray(stimulus.X, dt=1 * b2.ms),
        "y_data": b2.TimedArray(stimulus.Y, dt=1 * b2.ms),
        "sample_at": b2.TimedArray(stimulus.order.astype(float), dt=mode.T_present),
        "ms": b2.ms,
    }
    ns.update(T_present=mode.T_present)
    if dynamic:
        ns.update(tau_r=mode.tau_r)
    cross = rules.cross
    mirror = rules.feedback.mirror  # B's loop mirror: xi travels up W and across U
    noise = cross.needs_noise or mirror
    needs_q_r = rules.feedback.task or rules.feedback.tied  # U_l r_l, the signal of B's task rule

    # ---- neuron groups ------------------------------------------------------
    # Rates and errors are stored per neuron and computed once per step by code placed in
    # the sweep (below), not as subexpressions: a subexpression read by a synapse is
    # evaluated once per synapse (tanh 16k times instead of 128 for a 128x128 population).
    # Stimulus and teacher are stored at the start of each step, so that after a run the
    # groups hold the signals of the last presentation.
    # stim_on: 1, or 0 in a phase without stimulus and teacher (r_0 = 0, e_L = 0; set_phase)
    A0 = b2.NeuronGroup(sizes[0], "r : 1\nstim_on : 1 (shared, constant)", clock=clock, namespace=ns,
                        name=f"{name}_A0")
    A0.stim_on = 1.0
    A0.run_regularly("r = stim_on * x_data(sample_at(t) * ms, i)", when="start")
    c.A.append(A0)
    rate_code = {}  # layer -> code computing r from h (sample-clocked mode)
    for l in range(1, L + 1):
        top = l == L
        target = ("exp(h) / zsum" if output == "softmax" else "h") if top else act
        eqs = ["h : 1", "err : 1"]
        if dynamic:
            eqs.append(f"dr/dt = ({target} - r) / tau_r : 1")
        else:
            eqs.append("r : 1")
            rate_code[l] = f"r = {target}"
        if top:
            eqs += ["y : 1", "bad_at : 1", "stim_on : 1 (shared, constant)"]
            if output == "softmax":
                eqs.append("zsum : 1")
        else:
            eqs.append("m : 1")
        if noise:
            eqs += ["spont : 1", "sigma_xi : 1 (shared, constant)", "noise_decay : 1 (shared, constant)"]
        if cross.needs_return:
            eqs.append("a_spont : 1")
        if mirror and l >= 2:
            eqs.append("z_spont : 1")
        A = b2.NeuronGroup(sizes[l], "\n".join(eqs), clock=clock, namespace=ns, name=f"{name}_A{l}", method="exact")
        if top:
            A.stim_on = 1.0
            A.run_regularly("y = y_data(sample_at(t) * ms, i)", when="start")
            # divergence watch: the presentation (counted from 1) at which each output rate
            # first became NaN or infinite (NaN fails every comparison); 0 while finite
            A.run_regularly("bad_at += int(bad_at == 0 and not (abs(r) < 1e300)) * (t / T_present + 1)", when="end")
        if noise:
            A.sigma_xi = cross.sigma_xi
            A.noise_decay = mode.noise_decay
            A.spont = "sigma_xi * randn()"  # start in the stationary distribution
            A.run_regularly("spont = noise_decay * spont + sigma_xi * sqrt(1 - noise_decay**2) * randn()", when="start")
        c.A.append(A)
        eqs = ["q : 1"]
        eqs.append("dd/dt = (q - d) / tau_r : 1" if dynamic else "d = q : 1")
        if not top:
            eqs.append("p : 1")
            if needs_q_r:
                eqs.append("q_r : 1")
        if noise:
            eqs.append("q_spont : 1")
        if mirror and l >= 2:
            eqs.append("u_loop : 1")
        c.D.append(b2.NeuronGroup(sizes[l], "\n".join(eqs), clock=clock, namespace=ns, name=f"{name}_D{l}", method="exact"))

    # ---- synapses -----------------------------------------------------------
    c._index = {}

    def make_synapses(pop, source, target, summed, change=None, params=None):
        var = WEIGHT_VAR[pop[0]]
        eqs = [f"{var} : 1"] + summed
        params = params or {}
        if change:
            eqs.append(_shared_params(params))
            if dynamic:
                eqs[0] = f"d{var}/dt = ({change}) / T_present : 1 (clock-driven)"
        # Euler for the weights: tau_w >> dt, and "exact" integration divides by lambda (fails at lambda = 0)
        S = b2.Synapses(source, target, "\n".join(eqs), clock=clock, namespace=ns, name=f"{name}_{pop}", method="euler")
        # synapses in presynaptic-major order: consecutive synapses then add into different
        # postsynaptic cells, so the compiled summed-variable loop (target[post[k]] += ...) is not
        # one long dependency chain through a single memory location; about 3x faster in
        # cpp_standalone and cython than postsynaptic-major order (benchmarks/speed.py)
        cols, rows = np.nonzero(masks[pop].T)
        S.connect(i=cols, j=rows)
        if pop[0] == "B" and rules.feedback.tied:
            # the synapse stores the transported copy W^T and transmits W^T or sign(W^T)
            setattr(S, var, weights[f"W{pop[1:]}"].T[rows, cols])
        else:
            setattr(S, var, weights[pop][rows, cols])
        if change:
            _set_params(S, params)
            if dynamic:
                S.state_updater.order = -1  # after the sweep, before the rates relax (module docstring)
            else:
                S.run_regularly(f"{var} += {change}", when="end")
        c._index[pop] = (rows, cols)
        c.synapses[pop] = S
        return S

    for l in range(1, L + 1):
        summed = ["h_post = w * r_pre : 1 (summed)"]
        if mirror and l >= 2:  # z_l = W_l xi_{l-1}: the loop mirror's trip up W
            summed.append("z_spont_post = w * spont_pre : 1 (summed)")
        make_synapses(f"W{l}", c.A[l - 1], c.A[l], summed, rules.forward.change, rules.parameters_of(f"W{l}", sizes))
    for l in range(1, L + 1):
        summed = ["q_post = u * err_pre : 1 (summed)"]
        if l < L and needs_q_r:
            summed.append("q_r_post = u * r_pre : 1 (summed)")
        if noise:
            summed.append("q_spont_post = u * spont_pre : 1 (summed)")
        if mirror and l >= 2:  # u_l = U_l z_l: ... and across U
            summed.append("u_loop_post = u * z_spont_pre : 1 (summed)")
        # each group's constants at its layer's rates (rate_scaling = "size": eta_c, eta_u, eta_b times
        # n_ref / n_l; RuleSet.parameters_of)
        make_synapses(f"U{l}", c.A[l], c.D[l], summed, cross.changes.get("U"), rules.parameters_of(f"U{l}", sizes))
    for l in range(1, L):
        make_synapses(f"B{l + 1}", c.D[l + 1], c.D[l], [f"p_post = {rules.feedback.transmitted} * d_pre : 1 (summed)"],
                      rules.feedback.change, rules.parameters_of(f"B{l + 1}", sizes))  # eta_b of D_l's size n_l
    for l in range(1, L + 1):
        summed = ["m_post = v * p_pre : 1 (summed)"] if l < L else []
        if cross.needs_return:
            summed.append("a_spont_post = v * q_spont_pre : 1 (summed)")
        make_synapses(f"V{l}", c.D[l], c.A[l], summed, cross.changes.get("V"), rules.parameters_of(f"V{l}", sizes))
    extra = []
    if output == "softmax":
        Z = b2.Synapses(c.A[L], c.A[L], "zsum_post = exp(h_pre) : 1 (summed)", clock=clock, name=f"{name}_softmax")
        Z.connect()
        extra.append(Z)

    # ---- the sweep: what runs in the "groups" slot of each step, in order -------------
    # Negative orders put the whole sweep before the groups' own state updaters (order 0),
    # which in the dynamic mode integrate the rates from it.
    sweep = []  # (synapses, summed variable) or (group, code)
    for l in range(1, L + 1):
        sweep.append((c.synapses[f"W{l}"], "h_post"))
        if l == L and output == "softmax":
            sweep.append((Z, "zsum_post"))
        if l in rate_code:
            sweep.append((c.A[l], rate_code[l]))
    sweep += [(c.A[L], "err = stim_on * (r - y)"), (c.synapses[f"U{L}"], "q_post")]
    for l in range(L - 1, 0, -1):
        sweep += [(c.synapses[f"B{l + 1}"], "p_post"), (c.synapses[f"V{l}"], "m_post"),
                  (c.A[l], f"err = {act_prime} * m"), (c.synapses[f"U{l}"], "q_post")]
    # plasticity-only channels; z_spont (W) before u_loop (U), which reads it
    for pop, var in (("U", "q_r_post"), ("U", "q_spont_post"), ("V", "a_spont_post"), ("W", "z_spont_post"),
                     ("U", "u_loop_post")):
        for l in range(1, L + 1):
            if var in c.synapses[f"{pop}{l}"].summed_updaters:
                sweep.append((c.synapses[f"{pop}{l}"], var))
    # orders -len(sweep)-1 .. -2: order -1 is the dynamic weight updaters', 0 the neurons' state updaters
    for order, (obj, what) in enumerate(sweep, start=-len(sweep) - 1):
        if isinstance(obj, b2.Synapses):
            obj.summed_updaters[what].order = order
        else:
            obj.run_regularly(what, when="groups", order=order)

    if record_every:
        for pop, S in c.synapses.items():
            var = WEIGHT_VAR[pop[0]]
            mon = b2.StateMonitor(S, var, record=np.arange(len(c._index[pop][0])),
                                  dt=record_every * mode.T_present, when="start", name=f"{name}_mon_{pop}")
            c.monitors[pop] = mon
    c.network.add(*c.A, *c.D[1:], *c.synapses.values(), *extra, *c.monitors.values())
    return c
