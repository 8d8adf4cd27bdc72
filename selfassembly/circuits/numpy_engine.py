"""The numpy engine: MODEL.md's equations as lean numpy loops, the fast way to train.

It computes exactly what the Brian2 circuit (:mod:`selfassembly.circuits.network`)
computes, to 1e-9 in float64 for every preset and rule (the tests check this),
but lean: every array is allocated once, weights are updated in place through
BLAS rank-1 updates, and each U_l is read once per presentation for all its
signals (U_l [e_l, r_l, xi_l, z_l] = [d_l, q_r_l, s_l, u_l], one matrix product).

Rules, with s_l = U_l xi_l, a_l = V_l s_l, z_{l+1} = W_{l+1} xi_l and
u_{l+1} = U_{l+1} z_{l+1}:

* W: dW_l = -eta (e_l r_{l-1}^T + lam W_l)
* B task rule: dB_{l+1} = -eta ((U_l r_l) d_{l+1}^T + lam B_{l+1}); loop mirror:
  dB_{l+1} = eta_b (s_l u_{l+1}^T - lam_b B_{l+1}); ``both``: the sum
* V ``mirror``: dV_l = eta_c (xi_l s_l^T - lam_c V_l); ``hebbian``: dV_l = eta_c (r_l d_l^T - lam_c V_l)
* U ``reconstruct``: dU_l = eta_u s_l (xi_l - a_l)^T; ``hebbian``: dU_l = eta_c (d_l r_l^T - lam_c U_l)

Under ``rate_scaling = "size"`` (:class:`~selfassembly.plasticity.presets.RuleSet`) the rates
eta_c, eta_u of U_l, V_l and eta_b of B_{l+1} are those of layer l's size,
eta_x,l = eta_hat_x / n_l with eta_hat_x = eta_x * n_ref (``rules.cross_at(n_l)``,
``rules.feedback_at(n_l)``), read once when the loop is built; the task rule's eta is W's.

Spontaneous activity xi_l (l = 1..L) is an Ornstein-Uhlenbeck process updated
exactly before each step, ``xi <- decay * xi + sigma_xi sqrt(1 - decay^2) randn``,
started in its stationary distribution N(0, sigma_xi^2); decay is 0 in the
sample-clocked mode (an independent draw per presentation) and exp(-dt / tau_xi)
in the dynamic mode, as in the Brian2 circuit. :class:`NumpyCircuit` draws it
from the same stream, in the same order, as Brian2's numpy target seeded with
``brian2.seed(seed)`` (numpy's legacy ``RandomState(seed)``), so that the two
engines agree draw for draw.

:class:`NumpyCircuit`
    the engine behind ``selfassembly run --engine numpy``: the interface of
    :class:`~selfassembly.circuits.network.Circuit` (run in chunks, weights,
    recorded snapshots, divergence watch) on top of :class:`SampleLoop`.
:class:`SampleLoop`
    sample-clocked: one presentation = one forward and descending sweep plus
    one plasticity step (:meth:`SampleLoop.present`).
:class:`DynamicLoop`
    the dynamic mode, one time step of ``dt`` at a time, in the order the
    Brian2 circuit runs it. Brian2 is the engine of the dynamic mode; this
    loop is the tests' and the speed benchmark's numpy counterpart of it.

Weights and signals are float64 by default; ``dtype="float32"`` halves the bytes
each presentation moves (BLAS's sger instead of dger), within 2e-5 of float64 over
200 presentations (tests/test_engines.py). Inputs are converted to the loop's type
once; ``weights()`` returns float64 either way.

This module itself imports no Brian2 (importing it through the package
``selfassembly.circuits`` does, so the speed benchmark's worker memory includes Brian2).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dger, sger
from threadpoolctl import threadpool_limits

__all__ = ["NumpyCircuit", "SampleLoop", "DynamicLoop"]

#: the floating-point types the sample-clocked loop runs in (engines.DTYPES), and BLAS's in-place rank-1 update of each
_GER = {"float64": dger, "float32": sger}


def _tanh_prime(h):
    return 1.0 - np.tanh(h) ** 2


#: f and f'
ACTIVATIONS = {"tanh": (np.tanh, _tanh_prime), "relu": (lambda h, out=None: np.maximum(h, 0.0, out=out),
                                                        lambda h: (h > 0).astype(float))}


def activation(name):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; valid names: {sorted(ACTIVATIONS)}") from None


class _Base:
    #: decay of the spontaneous activity per step (the sample-clocked mode: none, a fresh draw)
    noise_decay = 0.0

    def __init__(self, sizes, rules, weights, f="tanh", output="softmax", masks=None, dtype="float64"):
        if dtype not in _GER:
            raise ValueError(f"unknown dtype {dtype!r}; valid names: {', '.join(_GER)}")
        self.dtype = np.dtype(dtype)
        self._ger = _GER[dtype]
        self.sizes = [int(n) for n in sizes]
        self.L = L = len(self.sizes) - 1
        self.rules = rules
        self.f, self.fprime = activation(f)
        self.tanh = f == "tanh"
        self.output = output
        cross, fb = rules.cross, rules.feedback
        self.mirror = fb.mirror  # B's loop mirror: z_{l+1} = W_{l+1} xi_l and u_{l+1} = U_{l+1} z_{l+1}
        self.noise = cross.needs_noise or self.mirror  # xi_l and s_l = U_l xi_l are needed
        # the rules of each layer's plastic populations, rates scaled by n_l under rate_scaling = "size":
        # U_l, V_l read cross_l[l] (n = n_l); B_{l+1} reads feedback_l[l + 1] (n = n_l, D_l's size)
        self.cross_l = {l: rules.cross_at(self.sizes[l]) for l in range(1, L + 1)}
        self.feedback_l = {l + 1: rules.feedback_at(self.sizes[l]) for l in range(1, L)}
        self.ret = cross.needs_return  # a_l = V_l s_l is needed (U reconstructs)
        # the settings a phase changes (set_phase): sigma_xi, the teacher (e_L = 0 without one), frozen populations
        self.sigma_xi = cross.sigma_xi
        self.teacher = True
        self.frozen = frozenset()
        # weights, C-contiguous copies in self.dtype, rows postsynaptic
        dt = self.dtype
        self.W = {l: np.array(weights[f"W{l}"], dtype=dt, order="C") for l in range(1, L + 1)}
        self.B = {l: np.array(weights[f"B{l}"], dtype=dt, order="C") for l in range(2, L + 1)}
        self.U = {l: np.array(weights[f"U{l}"], dtype=dt, order="C") for l in range(1, L + 1)}
        self.V = {l: np.array(weights[f"V{l}"], dtype=dt, order="C") for l in range(1, L + 1)}
        # sparse populations (absent synapses stay at 0): {dict of weights: {layer: float mask}}
        self.sparse = []
        for family, store in (("W", self.W), ("B", self.B), ("U", self.U), ("V", self.V)):
            held = {l: np.asarray(masks[f"{family}{l}"], dtype=dt) for l in store
                    if masks is not None and not np.all(masks[f"{family}{l}"])}
            if held:
                self.sparse.append((store, held))
        n = self.sizes
        self.h = {l: np.zeros(n[l], dt) for l in range(1, L + 1)}
        self.r = {l: np.zeros(n[l], dt) for l in range(1, L + 1)}
        self.e = {l: np.zeros(n[l], dt) for l in range(1, L + 1)}
        self.m = {l: np.zeros(n[l], dt) for l in range(1, L)}
        self.p = {l: np.zeros(n[l], dt) for l in range(1, L)}
        self.fp = {l: np.zeros(n[l], dt) for l in range(1, L)}
        # rows: e_l, r_l, xi_l, z_l -> U_l times them: d_l (= q_l), q_r_l, s_l (= q_spont_l), u_l (= u_loop_l)
        self.S = {l: np.zeros((4 if self.mirror and l >= 2 else 3, n[l]), dt) for l in range(1, L + 1)}
        self.Q = {l: np.zeros_like(S) for l, S in self.S.items()}
        # a_l = V_l s_l and xi_l - a_l (U's reconstruction rule)
        self.a_ret = {l: np.zeros(n[l], dt) for l in range(1, L + 1)} if self.ret else None
        self.mis = {l: np.zeros(n[l], dt) for l in range(1, L + 1)} if self.ret else None

    def weights(self):
        """Current weights as a dict keyed by population name (float64 copies, whatever ``dtype`` runs)."""
        out = {f"W{l}": np.array(w, dtype=float) for l, w in self.W.items()}
        out.update({f"B{l}": np.array(self.rules.feedback.effective(b), dtype=float) for l, b in self.B.items()})
        out.update({f"U{l}": np.array(u, dtype=float) for l, u in self.U.items()})
        out.update({f"V{l}": np.array(v, dtype=float) for l, v in self.V.items()})
        return out

    def _spontaneous(self, rng=None):
        """Buffers xi_l (l = 1..L), started ~ N(0, sigma_xi^2) from ``rng``, and a function that
        advances them one step of the Ornstein-Uhlenbeck process with decay ``self.noise_decay``
        (``None`` and a no-op when no rule needs spontaneous activity).

        ``rng`` is a ``numpy.random.Generator`` or a legacy ``RandomState`` (the stream of Brian2's
        numpy target); each layer takes ``n_l`` standard normal draws per step, layers in order."""
        if not self.noise:
            return None, lambda: None
        rng = rng if rng is not None else np.random.default_rng(0)
        sigma = self.sigma_xi
        decay = float(self.noise_decay)
        # stationary start; the draws are float64 (the stream Brian2 draws), stored in self.dtype
        xi = {l: (sigma * rng.standard_normal(n)).astype(self.dtype) for l, n in enumerate(self.sizes) if l > 0}

        def draw():
            kick = self.sigma_xi * np.sqrt(1.0 - decay**2)  # sigma_xi as the current phase sets it
            for l, buf in xi.items():
                z = rng.standard_normal(buf.size)
                z *= kick
                if decay == 0.0:  # an independent draw (0 * xi + sigma * z = sigma * z exactly)
                    buf[:] = z
                else:
                    buf *= decay
                    buf += z

        return xi, draw

    def _descend(self, l, xi):
        """Q_l = U_l [e_l, r_l, xi_l, z_l]: d_l and the plasticity copies, one pass over U_l."""
        S = self.S[l]
        S[0] = self.e[l]
        S[1] = self.r[l]
        if xi is not None:
            S[2] = xi[l]
        np.dot(S, self.U[l].T, out=self.Q[l])

    def _loop_up(self, xi):
        """z_l = W_l xi_{l-1} (l = 2..L) into row 3 of S_l, with W before this step's change."""
        if self.mirror:
            for l in range(2, self.L + 1):
                np.dot(self.W[l], xi[l - 1], out=self.S[l][3])

    def _returned(self, xi):
        """a_l = V_l s_l and the mismatch xi_l - a_l, with V_l before this step's change."""
        if self.ret:
            for l in range(1, self.L + 1):
                np.dot(self.V[l], self.Q[l][2], out=self.a_ret[l])
                np.subtract(xi[l], self.a_ret[l], out=self.mis[l])

    def _rank1(self, M, decay, a, b, scale):
        """M <- decay * M + scale * outer(a, b), in place.

        The outer product goes through BLAS's ger (dger, or sger in float32) on M's transpose
        (Fortran order, so no copy): one pass over M instead of numpy's outer-then-add (five
        times faster at 256 x 784)."""
        if decay != 1.0:
            M *= decay
        out = self._ger(scale, b, a, a=M.T, overwrite_a=1)
        if not np.may_share_memory(out, M):  # f2py copies an array that is not C-contiguous in ger's type
            raise TypeError(f"weights must be C-contiguous {self.dtype} arrays for the in-place rank-1 update")

    def _feedback_step(self, l, task_signal, rate_scale, xi):
        """B_{l+1}'s change (task rule, loop mirror, or both) with every rate times ``rate_scale``
        (1 per presentation; dt / T_present per Euler step of the dynamic mode)."""
        fb, B, Q = self.feedback_l[l + 1], self.B[l + 1], self.Q
        decay = 1.0 - rate_scale * ((fb.eta * fb.lam if fb.task else 0.0) + (fb.eta_b * fb.lam_b if fb.mirror else 0.0))
        if fb.task:  # (U_l r_l) d_{l+1}^T
            self._rank1(B, decay, Q[l][1], task_signal, -fb.eta * rate_scale)
            decay = 1.0
        if fb.mirror:  # s_l u_{l+1}^T
            self._rank1(B, decay, Q[l][2], Q[l + 1][3], fb.eta_b * rate_scale)

    def _keep_masks(self):
        """Absent synapses stay absent (weight 0) in sparse populations."""
        for store, held in self.sparse:
            for l, mask in held.items():
                store[l] *= mask


class SampleLoop(_Base):
    """Sample-clocked MODEL.md, one presentation at a time (see the module docstring)."""

    def sweep(self, x, y, xi=None):
        """Forward and descending sweep of one presentation; fills h, r, e, m, p, Q (and a = V s)."""
        L, W, r, h = self.L, self.W, self.r, self.h
        prev = x
        for l in range(1, L + 1):
            np.dot(W[l], prev, out=h[l])
            if l < L:
                self.f(h[l], out=r[l]) if self.tanh else np.maximum(h[l], 0.0, out=r[l])
            elif self.output == "softmax":
                np.subtract(h[l], h[l].max(), out=r[l])
                np.exp(r[l], out=r[l])
                r[l] /= r[l].sum()
            else:
                r[l][:] = h[l]
            prev = r[l]
        self._loop_up(xi)
        if self.teacher:
            np.subtract(r[L], y, out=self.e[L])
        else:  # no teacher (a phase without stimulus): e_L = 0
            self.e[L].fill(0.0)
        self._descend(L, xi)
        for l in range(L - 1, 0, -1):
            np.dot(self.B[l + 1], self.Q[l + 1][0], out=self.p[l])
            np.dot(self.V[l], self.p[l], out=self.m[l])
            if self.tanh:  # f'(h) = 1 - tanh(h)^2 = 1 - r^2
                np.multiply(r[l], r[l], out=self.fp[l])
                np.subtract(1.0, self.fp[l], out=self.fp[l])
            else:
                np.greater(h[l], 0.0, out=self.fp[l])
            np.multiply(self.fp[l], self.m[l], out=self.e[l])
            self._descend(l, xi)
        self._returned(xi)

    def plasticity(self, x, xi=None):
        """One presentation's weight changes (MODEL.md, Plasticity), in place; every change
        reads the signals of this presentation's sweep (computed with the weights before it).
        Populations in ``self.frozen`` (a phase's ``freeze``) are left exactly as they are."""
        L, rules, frozen = self.L, self.rules, self.frozen
        eta, lam = rules.forward.eta, rules.forward.lam
        decay = 1.0 - eta * lam
        prev = {l: (x if l == 1 else self.r[l - 1]) for l in range(1, L + 1)}
        fb = rules.feedback
        if fb.plastic and not fb.tied and "B" not in frozen:  # B reads U_l r_l, d_{l+1}, s_l, u_{l+1}
            for l in range(1, L):
                self._feedback_step(l, self.Q[l + 1][0], 1.0, xi)
        for l in range(1, L + 1 if "W" not in frozen else 1):
            self._rank1(self.W[l], decay, self.e[l] * eta, prev[l], -1.0)
        if fb.tied and "B" not in frozen:
            for l in range(2, L + 1):  # B holds what it transmits: W^T or sign(W^T)
                self.B[l][:] = self.W[l].T
                if fb.kind == "sign":
                    np.sign(self.B[l], out=self.B[l])
        v_rule = "fixed" if "V" in frozen else rules.cross.v
        u_rule = "fixed" if "U" in frozen else rules.cross.u
        for l in range(1, L + 1):
            cross = self.cross_l[l]
            eta_c, lam_c = cross.eta_c, cross.lam_c
            d, s = self.Q[l][0], self.Q[l][2]
            if v_rule == "mirror":
                self._rank1(self.V[l], 1.0 - eta_c * lam_c, xi[l], s, eta_c)
            elif v_rule == "hebbian":
                self._rank1(self.V[l], 1.0 - eta_c * lam_c, self.r[l], d, eta_c)
            if u_rule == "reconstruct":  # a_l = V_l s_l was computed in the sweep, before V changed
                self._rank1(self.U[l], 1.0, s, self.mis[l], cross.eta_u)
            elif u_rule == "hebbian":
                self._rank1(self.U[l], 1.0 - eta_c * lam_c, d, self.r[l], eta_c)
        self._keep_masks()

    def set_phase(self, params):
        """The settings of a phase (:func:`~selfassembly.plasticity.phases.phase_parameters`): sigma_xi,
        the teacher (stimulus off: e_L = 0; the caller presents r_0 = 0) and the frozen populations."""
        self.sigma_xi = params["sigma_xi"]
        self.teacher = bool(params["stimulus"])
        self.frozen = frozenset(params["frozen"])

    def present(self, x, y, xi=None):
        self.sweep(x, y, xi)
        self.plasticity(x, xi)

    def train(self, X, Y, order, rng=None):
        """Present ``X[order[k]]`` for every k; spontaneous activity xi ~ N(0, sigma_xi^2), drawn anew
        for each presentation from ``rng``."""
        xi, draw = self._spontaneous(rng)
        X, Y = np.asarray(X, dtype=self.dtype), np.asarray(Y, dtype=self.dtype)
        for k in order:
            draw()
            self.present(X[k], Y[k], xi)


class DynamicLoop(_Base):
    """MODEL.md's dynamic mode as a numpy time-step loop, the same equations as the Brian2 circuit.

    Per step of ``dt`` (stimulus, teacher and spontaneous activity set before it):

    1. the sweep: the summed inputs (h, zsum, e_L, q, p, m, e, q_r, q_spont = s,
       a_spont = a) from the current rates r and d, in sweep order;
    2. every plastic weight takes an Euler step of ``dw/dt = change / T_present``,
       reading the signals of this sweep and the rates r, d *before* they relax
       (the Brian2 circuit runs its weight updaters at order -1, after the sweep and
       before the neurons' state updaters); a tied B reads D's input q, not its rate d;
    3. the rates relax exactly: ``r <- target + (r - target) exp(-dt/tau_r)``, d towards q.
    """

    def __init__(self, sizes, rules, weights, tau_r_ms, T_present_ms, dt_ms, f="tanh", output="softmax",
                 tau_xi_ms=None, masks=None):
        super().__init__(sizes, rules, weights, f, output, masks)
        self.dt, self.tau_r, self.T = dt_ms, tau_r_ms, T_present_ms
        self.tau_xi = tau_xi_ms or T_present_ms  # the default of selfassembly.circuits.modes.Dynamic
        self.noise_decay = float(np.exp(-dt_ms / self.tau_xi))
        self.steps_per_presentation = int(round(T_present_ms / dt_ms))
        self.a = np.exp(-dt_ms / tau_r_ms)  # rate relaxation factor per step
        self.d = {l: np.zeros(n) for l, n in enumerate(self.sizes) if l > 0}
        self.target = {l: np.zeros(self.sizes[l]) for l in range(1, self.L + 1)}
        self.sign = rules.feedback.kind == "sign"
        if rules.feedback.tied:
            # as in the Brian2 circuit: the synapse stores a transported copy b = W^T that gets W's
            # changes, and transmits b or sign(b)
            for l in self.B:
                self.B[l] = self.W[l].T.copy()
        self.Bs = {l: np.zeros_like(b) for l, b in self.B.items()} if self.sign else self.B

    def _weight_step(self, M, rate, a, b, scale):
        """Euler step of dM/dt = (scale * outer(a, b) - rate * M) / T, as the Brian2 circuit takes it."""
        self._rank1(M, 1.0 - rate * self.dt / self.T, a, b, scale * self.dt / self.T)

    def step(self, x, y, xi=None):
        L, W, r, h, d = self.L, self.W, self.r, self.h, self.d
        # 1. the sweep, from the rates at the start of the step
        prev = x
        for l in range(1, L + 1):
            np.dot(W[l], prev, out=h[l])
            if l < L:
                self.f(h[l], out=self.target[l]) if self.tanh else np.maximum(h[l], 0.0, out=self.target[l])
            elif self.output == "softmax":
                np.exp(h[l], out=self.target[l])
                self.target[l] /= self.target[l].sum()
            else:
                self.target[l][:] = h[l]
            prev = r[l]
        self._loop_up(xi)
        np.subtract(r[L], y, out=self.e[L])
        Q = self.Q
        for l in range(L, 0, -1):
            if l < L:
                if self.sign:
                    np.sign(self.B[l + 1], out=self.Bs[l + 1])
                np.dot(self.Bs[l + 1], d[l + 1], out=self.p[l])
                np.dot(self.V[l], self.p[l], out=self.m[l])
                if self.tanh:
                    np.tanh(h[l], out=self.fp[l])
                    np.multiply(self.fp[l], self.fp[l], out=self.fp[l])
                    np.subtract(1.0, self.fp[l], out=self.fp[l])
                else:
                    np.greater(h[l], 0.0, out=self.fp[l])
                np.multiply(self.fp[l], self.m[l], out=self.e[l])
            self._descend(l, xi)
        self._returned(xi)
        # 2. the weights (order -1 in the Brian2 circuit: after the sweep, before the rates relax);
        # each change reads only its own weight, so their order among themselves does not matter
        rules = self.rules
        eta, lam = rules.forward.eta, rules.forward.lam
        if rules.feedback.tied:
            # a tied copy reads D_{l+1}'s input q (= U e = e with U = I), the same product W_{l+1}'s
            # change has, so that b stays W^T exactly
            for l in range(1, L):
                self._weight_step(self.B[l + 1], eta * lam, Q[l][1], Q[l + 1][0], -eta)
        elif rules.feedback.plastic:  # the task rule reads D_{l+1}'s rate d
            for l in range(1, L):
                self._feedback_step(l, d[l + 1], self.dt / self.T, xi)
        for l in range(1, L + 1):
            cross = self.cross_l[l]
            rate_c = cross.eta_c * cross.lam_c
            if cross.v == "mirror":
                self._weight_step(self.V[l], rate_c, xi[l], Q[l][2], cross.eta_c)
            elif cross.v == "hebbian":
                self._weight_step(self.V[l], rate_c, r[l], d[l], cross.eta_c)
            if cross.u == "reconstruct":
                self._weight_step(self.U[l], 0.0, Q[l][2], self.mis[l], cross.eta_u)
            elif cross.u == "hebbian":
                self._weight_step(self.U[l], rate_c, d[l], r[l], cross.eta_c)
        for l in range(1, L + 1):
            self._weight_step(W[l], eta * lam, self.e[l], x if l == 1 else r[l - 1], -eta)
        self._keep_masks()
        # 3. the rates relax (the neurons' state updaters, order 0)
        for l in range(1, L + 1):  # A_l: r relaxes towards f(h_l) (softmax at the top)
            r[l] -= self.target[l]
            r[l] *= self.a
            r[l] += self.target[l]
        for l in range(1, L + 1):  # D_l: d relaxes towards q_l
            d[l] -= Q[l][0]
            d[l] *= self.a
            d[l] += Q[l][0]

    def train(self, X, Y, order, rng=None):
        """Hold ``X[order[k]]`` for T_present (``steps_per_presentation`` steps) for every k; the
        spontaneous activity advances one Ornstein-Uhlenbeck step (decay exp(-dt/tau_xi)) before each step."""
        xi, draw = self._spontaneous(rng)
        for k in order:
            x, y = X[k], Y[k]
            for _ in range(self.steps_per_presentation):
                draw()
                self.step(x, y, xi)


class NumpyCircuit:
    """The numpy engine with the interface of the Brian2 :class:`~selfassembly.circuits.network.Circuit`.

    Sample-clocked only (the dynamic mode runs on Brian2). Build it with
    :func:`selfassembly.circuits.engines.build`.

    Parameters
    ----------
    sizes : list of int
    rules : RuleSet
    weights, masks : dict
        Initial weights and existing synapses (:func:`~selfassembly.circuits.connectivity.initial_weights`).
    stimulus : object with ``X``, ``Y`` and ``order``
        (:class:`~selfassembly.circuits.network.Stimulus`).
    f, output : str
    record_every : int, optional
        Record all weights every this many presentations (from presentation 0).
    seed : int
        Seed of the spontaneous activity: the stream of Brian2's numpy target after
        ``brian2.seed(seed)``, drawn in the same order (a stationary start per layer
        when built, then one draw per layer and presentation).
    dtype : {"float64", "float32"}
        Type of the weights and signals. float64 (the default) agrees with Brian2 to
        1e-9; float32 moves half the bytes (tests/test_engines.py states its measured
        distance from float64). Weights are returned as float64 either way.
    """

    is_standalone = False

    def __init__(self, sizes, rules, weights, masks, stimulus, f="tanh", output="softmax", record_every=None, seed=0,
                 dtype="float64"):
        self.sizes = [int(n) for n in sizes]
        self.rules = rules
        self.masks = masks
        self.stimulus = stimulus
        self.record_every = record_every
        self.loop = SampleLoop(self.sizes, rules, weights, f, output, masks, dtype)
        # inputs and teachers in the loop's type, converted once (numpy will not mix types into an ``out``)
        self._X = np.ascontiguousarray(stimulus.X, dtype=self.loop.dtype)
        self._Y = np.ascontiguousarray(stimulus.Y, dtype=self.loop.dtype)
        self._xi, self._draw = self.loop._spontaneous(np.random.RandomState(int(seed)))
        self.steps_done = 0
        self._bad_at = None
        self._steps, self._records = [], []
        self._stimulus_on = True
        self._blank = np.zeros(self.sizes[0], dtype=self.loop.dtype)  # r_0 in a phase without stimulus

    @property
    def L(self):
        return len(self.sizes) - 1

    def run(self, n_presentations, report=None):
        """Present the next ``n_presentations`` stimuli of the order (``report`` is ignored)."""
        X, Y, order, loop = self._X, self._Y, self.stimulus.order, self.loop
        top = loop.r[loop.L]
        with threadpool_limits(limits=1, user_api="blas"):
            self._run(X, Y, order, loop, top, int(n_presentations))
        self.steps_done += int(n_presentations)

    def set_phase(self, params):
        """Set a phase's settings (:func:`~selfassembly.plasticity.phases.phase_parameters`) for the
        presentations that follow; as the Brian2 circuit's :meth:`~selfassembly.circuits.network.Circuit.set_phase`."""
        self.loop.set_phase(params)
        self._stimulus_on = bool(params["stimulus"])

    def run_phases(self, segments, report=None):
        """Run ``[(n_presentations, phase parameters), ...]`` in turn, the settings of each set before it."""
        for n, params in segments:
            self.set_phase(params)
            self.run(n, report=report)

    def _run(self, X, Y, order, loop, top, n_presentations):
        # one BLAS thread: the products are small (a few hundred by a few hundred), and threads that
        # wait for a core cost far more than they share (25 ms against 0.4 ms per presentation at
        # 64-128-128-10 on a loaded 2-core machine)
        for k in range(self.steps_done, self.steps_done + n_presentations):
            if self.record_every and k % self.record_every == 0:
                self._steps.append(k)
                self._records.append(loop.weights())
            sample = order[k]
            self._draw()
            x = X[sample] if self._stimulus_on else self._blank
            loop.sweep(x, Y[sample], self._xi)
            if self._bad_at is None and not np.all(np.isfinite(top)):
                self._bad_at = k + 1  # counted from 1, as the Brian2 circuit's watch
            loop.plasticity(x, self._xi)

    def weights(self):
        """Current weights as dense matrices (rows postsynaptic), keyed by population."""
        return self.loop.weights()

    def recorded_weights(self):
        """Weights recorded every ``record_every`` presentations, and the presentations done at each."""
        names = list(self._records[0]) if self._records else list(self.loop.weights())
        weights = {name: np.stack([rec[name] for rec in self._records]) if self._records else
                   np.zeros((0,) + self.masks[name].shape) for name in names}
        return np.asarray(self._steps, dtype=np.int64), weights

    def first_bad_presentation(self):
        """The presentation (counted from 1) at which output rates first became NaN/Inf, or None."""
        return self._bad_at
