"""Hand-written numpy loops of MODEL.md's equations: the baselines of the speed benchmark.

Both compute exactly what :mod:`selfassembly.circuits.reference` computes (the
tests check this), but lean: every array is allocated once, weights are
updated in place, and each U_l is read once per presentation for its three
signals (U_l [e_l, r_l, xi_l] = [d_l, q_r_l, s_l], one matrix product).

Cross-stream rules, one per synapse (:class:`selfassembly.plasticity.rules.CrossStreamRule`),
at every layer l = 1..L (V_L included), with s_l = U_l xi_l and a_l = V_l s_l:

* V ``mirror``: dV_l = eta_c (xi_l s_l^T - lam_c V_l); ``hebbian``: dV_l = eta_c (r_l d_l^T - lam_c V_l)
* U ``reconstruct``: dU_l = eta_u s_l (xi_l - a_l)^T; ``hebbian``: dU_l = eta_c (d_l r_l^T - lam_c U_l)

Spontaneous activity xi_l (l = 1..L) is an Ornstein-Uhlenbeck process updated
exactly before each step, ``xi <- decay * xi + sigma_xi sqrt(1 - decay^2) randn``,
started in its stationary distribution N(0, sigma_xi^2); decay is 0 in the
sample-clocked mode (an independent draw per presentation) and exp(-dt / tau_xi)
in the dynamic mode, as in the Brian2 circuit.

:class:`SampleLoop`
    sample-clocked: one presentation = one forward and descending sweep plus
    one plasticity step (:meth:`SampleLoop.present`).
:class:`DynamicLoop`
    the dynamic mode, one time step of ``dt`` at a time: the sweep, then every
    plastic weight takes an Euler step of ``dw/dt = change / T_present`` (reading
    the signals of this sweep and the rates before they relax), then the rates
    relax with ``tau_r`` (exact integration of the linear rate ODEs), in the
    order the Brian2 circuit runs them.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dger

__all__ = ["SampleLoop", "DynamicLoop"]


def _tanh_prime(h):
    return 1.0 - np.tanh(h) ** 2


#: f and f' (numpy only: this module must not import Brian2, so the speed benchmark's
#: numpy worker measures numpy's memory, not Brian2's)
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

    def __init__(self, sizes, rules, weights, f="tanh", output="softmax"):
        self.sizes = [int(n) for n in sizes]
        self.L = L = len(self.sizes) - 1
        self.rules = rules
        self.f, self.fprime = activation(f)
        self.tanh = f == "tanh"
        self.output = output
        cross = rules.cross
        self.noise = cross.needs_noise  # xi_l and s_l = U_l xi_l are needed
        self.ret = cross.needs_return  # a_l = V_l s_l is needed (U reconstructs)
        # weights, C-contiguous float64 copies, rows postsynaptic
        self.W = {l: np.array(weights[f"W{l}"], dtype=float, order="C") for l in range(1, L + 1)}
        self.B = {l: np.array(weights[f"B{l}"], dtype=float, order="C") for l in range(2, L + 1)}
        self.U = {l: np.array(weights[f"U{l}"], dtype=float, order="C") for l in range(1, L + 1)}
        self.V = {l: np.array(weights[f"V{l}"], dtype=float, order="C") for l in range(1, L + 1)}
        n = self.sizes
        self.h = {l: np.zeros(n[l]) for l in range(1, L + 1)}
        self.r = {l: np.zeros(n[l]) for l in range(1, L + 1)}
        self.e = {l: np.zeros(n[l]) for l in range(1, L + 1)}
        self.m = {l: np.zeros(n[l]) for l in range(1, L)}
        self.p = {l: np.zeros(n[l]) for l in range(1, L)}
        self.fp = {l: np.zeros(n[l]) for l in range(1, L)}
        # rows: e_l, r_l, xi_l -> U_l times them: d_l (= q_l), q_r_l, s_l (= q_spont_l)
        self.S = {l: np.zeros((3, n[l])) for l in range(1, L + 1)}
        self.Q = {l: np.zeros((3, n[l])) for l in range(1, L + 1)}
        # a_l = V_l s_l and xi_l - a_l (U's reconstruction rule)
        self.a_ret = {l: np.zeros(n[l]) for l in range(1, L + 1)} if self.ret else None
        self.mis = {l: np.zeros(n[l]) for l in range(1, L + 1)} if self.ret else None

    def weights(self):
        """Current weights as a dict keyed by population name (copies)."""
        out = {f"W{l}": w.copy() for l, w in self.W.items()}
        out.update({f"B{l}": np.array(self.rules.feedback.effective(b)) for l, b in self.B.items()})
        out.update({f"U{l}": u.copy() for l, u in self.U.items()})
        out.update({f"V{l}": v.copy() for l, v in self.V.items()})
        return out

    def _spontaneous(self, rng=None):
        """Buffers xi_l (l = 1..L), started ~ N(0, sigma_xi^2) from ``rng``, and a function that
        advances them one step of the Ornstein-Uhlenbeck process with decay ``self.noise_decay``
        (``None`` and a no-op when the cross-stream rules need no spontaneous activity)."""
        if not self.noise:
            return None, lambda: None
        rng = rng or np.random.default_rng(0)
        sigma = self.rules.cross.sigma_xi
        decay = float(self.noise_decay)
        kick = sigma * np.sqrt(1.0 - decay**2)
        xi = {l: sigma * rng.standard_normal(n) for l, n in enumerate(self.sizes) if l > 0}  # stationary start
        fresh = {l: np.zeros(n) for l, n in enumerate(self.sizes) if l > 0}

        def draw():
            for l, buf in xi.items():
                if decay == 0.0:  # an independent draw (0 * xi + sigma * z = sigma * z exactly)
                    rng.standard_normal(out=buf)
                    buf *= kick
                else:
                    rng.standard_normal(out=fresh[l])
                    fresh[l] *= kick
                    buf *= decay
                    buf += fresh[l]

        return xi, draw

    def _descend(self, l, xi):
        """Q_l = U_l [e_l, r_l, xi_l]: d_l and the two plasticity copies, one pass over U_l."""
        S = self.S[l]
        S[0] = self.e[l]
        S[1] = self.r[l]
        if xi is not None:
            S[2] = xi[l]
        np.dot(S, self.U[l].T, out=self.Q[l])

    def _returned(self, xi):
        """a_l = V_l s_l and the mismatch xi_l - a_l, with V_l before this step's change."""
        if self.ret:
            for l in range(1, self.L + 1):
                np.dot(self.V[l], self.Q[l][2], out=self.a_ret[l])
                np.subtract(xi[l], self.a_ret[l], out=self.mis[l])

    def _rank1(self, M, decay, a, b, scale):
        """M <- decay * M + scale * outer(a, b), in place.

        The outer product goes through BLAS's dger on M's transpose (Fortran order, so no copy):
        one pass over M instead of numpy's outer-then-add (five times faster at 256 x 784)."""
        if decay != 1.0:
            M *= decay
        out = dger(scale, b, a, a=M.T, overwrite_a=1)
        if not np.may_share_memory(out, M):  # f2py copies an array that is not C-contiguous float64
            raise TypeError("weights must be C-contiguous float64 arrays for the in-place rank-1 update")


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
        np.subtract(r[L], y, out=self.e[L])
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
        reads the signals of this presentation's sweep (computed with the weights before it)."""
        L, rules = self.L, self.rules
        eta, lam = rules.forward.eta, rules.forward.lam
        decay = 1.0 - eta * lam
        prev = {l: (x if l == 1 else self.r[l - 1]) for l in range(1, L + 1)}
        fb = rules.feedback.kind
        if fb == "plastic":  # B uses U_l r_l and d_{l+1} of this presentation (before U changes)
            for l in range(1, L):
                self._rank1(self.B[l + 1], decay, self.Q[l][1], self.Q[l + 1][0] * eta, -1.0)
        for l in range(1, L + 1):
            self._rank1(self.W[l], decay, self.e[l] * eta, prev[l], -1.0)
        if fb in ("transpose", "sign"):
            for l in range(2, L + 1):  # B holds what it transmits: W^T or sign(W^T)
                self.B[l][:] = self.W[l].T
                if fb == "sign":
                    np.sign(self.B[l], out=self.B[l])
        cross = rules.cross
        eta_c, lam_c = cross.eta_c, cross.lam_c
        for l in range(1, L + 1):
            d, s = self.Q[l][0], self.Q[l][2]
            if cross.v == "mirror":
                self._rank1(self.V[l], 1.0 - eta_c * lam_c, xi[l], s, eta_c)
            elif cross.v == "hebbian":
                self._rank1(self.V[l], 1.0 - eta_c * lam_c, self.r[l], d, eta_c)
            if cross.u == "reconstruct":  # a_l = V_l s_l was computed in the sweep, before V changed
                self._rank1(self.U[l], 1.0, s, self.mis[l], cross.eta_u)
            elif cross.u == "hebbian":
                self._rank1(self.U[l], 1.0 - eta_c * lam_c, d, self.r[l], eta_c)

    def present(self, x, y, xi=None):
        self.sweep(x, y, xi)
        self.plasticity(x, xi)

    def train(self, X, Y, order, rng=None):
        """Present ``X[order[k]]`` for every k; spontaneous activity xi ~ N(0, sigma_xi^2), drawn anew
        for each presentation from ``rng``."""
        xi, draw = self._spontaneous(rng)
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
                 tau_xi_ms=None):
        super().__init__(sizes, rules, weights, f, output)
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
        if rules.feedback.plastic:
            # a plastic B reads D_{l+1}'s rate d; a tied copy its input q (= U e = e with U = I),
            # the same product W_{l+1}'s change has, so that b stays W^T exactly
            for l in range(1, L):
                signal = Q[l + 1][0] if rules.feedback.tied else d[l + 1]
                self._weight_step(self.B[l + 1], eta * lam, Q[l][1], signal, -eta)
        cross = rules.cross
        rate_c = cross.eta_c * cross.lam_c
        for l in range(1, L + 1):
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
