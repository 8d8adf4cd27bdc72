"""Hand-written numpy loops of MODEL.md's equations: the baselines of the speed benchmark.

Both compute exactly what :mod:`selfassembly.circuits.reference` computes (the
tests check this), but lean: every array is allocated once, weights are
updated in place, and each U_l is read once per presentation for its three
signals (U_l [e_l, r_l, xi_l], one matrix product).

:class:`SampleLoop`
    sample-clocked: one presentation = one forward and descending sweep plus
    one plasticity step (:meth:`SampleLoop.present`).
:class:`DynamicLoop`
    the dynamic mode, one time step of ``dt`` at a time: rates relax with
    ``tau_r`` (exact integration of the linear rate ODEs, as the Brian2 circuit
    does), weights change continuously with ``dw/dt = change / T_present`` (Euler steps).
"""
from __future__ import annotations

import numpy as np

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
    def __init__(self, sizes, rules, weights, f="tanh", output="softmax"):
        self.sizes = [int(n) for n in sizes]
        self.L = L = len(self.sizes) - 1
        self.rules = rules
        self.f, self.fprime = activation(f)
        self.tanh = f == "tanh"
        self.output = output
        # weights, C-contiguous float64 copies, rows postsynaptic
        self.W = {l: np.array(weights[f"W{l}"], dtype=float, order="C") for l in range(1, L + 1)}
        self.B = {l: np.array(weights[f"B{l}"], dtype=float, order="C") for l in range(2, L + 1)}
        self.U = {l: np.array(weights[f"U{l}"], dtype=float, order="C") for l in range(1, L + 1)}
        self.V = {l: np.array(weights[f"V{l}"], dtype=float, order="C") for l in range(1, L)}
        n = self.sizes
        self.h = {l: np.zeros(n[l]) for l in range(1, L + 1)}
        self.r = {l: np.zeros(n[l]) for l in range(1, L + 1)}
        self.e = {l: np.zeros(n[l]) for l in range(1, L + 1)}
        self.m = {l: np.zeros(n[l]) for l in range(1, L)}
        self.p = {l: np.zeros(n[l]) for l in range(1, L)}
        self.fp = {l: np.zeros(n[l]) for l in range(1, L)}
        # columns: e_l, r_l, xi_l -> U_l times them: d_l (= q_l), q_r_l, q_spont_l
        self.S = {l: np.zeros((3, n[l])) for l in range(1, L + 1)}
        self.Q = {l: np.zeros((3, n[l])) for l in range(1, L + 1)}
        self.buf = {(a, b): np.zeros((a, b)) for a, b in {(n[l], n[l - 1]) for l in range(1, L + 1)}
                    | {(n[l - 1], n[l]) for l in range(2, L + 1)} | {(n[l], n[l]) for l in range(1, L + 1)}}

    def weights(self):
        """Current weights as a dict keyed by population name (copies)."""
        out = {f"W{l}": w.copy() for l, w in self.W.items()}
        out.update({f"B{l}": np.array(self.rules.feedback.effective(b)) for l, b in self.B.items()})
        out.update({f"U{l}": u.copy() for l, u in self.U.items()})
        out.update({f"V{l}": v.copy() for l, v in self.V.items()})
        return out

    def _spontaneous(self, rng=None):
        """Buffers xi_l and a function that redraws them ~ N(0, sigma_xi^2) from ``rng``
        (``None`` and a no-op when the cross-stream rule needs no spontaneous activity)."""
        if not self.rules.cross.needs_noise:
            return None, lambda: None
        rng = rng or np.random.default_rng(0)
        sigma = self.rules.cross.sigma_xi
        xi = {l: np.zeros(n) for l, n in enumerate(self.sizes) if 0 < l < self.L}

        def draw():
            for buf in xi.values():
                rng.standard_normal(out=buf)
                buf *= sigma

        return xi, draw

    def _rank1(self, M, decay, a, b, scale):
        """M <- decay * M + scale * outer(a, b), in place."""
        buf = self.buf[M.shape]
        np.outer(a, b, out=buf)
        if decay != 1.0:
            M *= decay
        if scale == -1.0:
            M -= buf
        else:
            buf *= scale
            M += buf


class SampleLoop(_Base):
    """Sample-clocked MODEL.md, one presentation at a time (see the module docstring)."""

    def sweep(self, x, y, xi=None):
        """Forward and descending sweep of one presentation; fills h, r, e, m, p and Q."""
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

    def _descend(self, l, xi):
        """Q_l = U_l [e_l, r_l, xi_l]: d_l and the two plasticity copies, one pass over U_l."""
        S = self.S[l]
        S[0] = self.e[l]
        S[1] = self.r[l]
        if xi is not None and l < self.L:
            S[2] = xi[l]
        np.dot(S, self.U[l].T, out=self.Q[l])

    def plasticity(self, x, xi=None):
        """One presentation's weight changes (MODEL.md, Plasticity), in place."""
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
        if cross.kind == "mirror":
            for l in range(1, L):
                self._rank1(self.V[l], 1.0 - eta_c * lam_c, xi[l], self.Q[l][2], eta_c)
        elif cross.kind == "hebbian":
            for l in range(1, L + 1):
                d = self.Q[l][0]
                if l < L:
                    self._rank1(self.V[l], 1.0 - eta_c * lam_c, self.r[l], d, eta_c)
                self._rank1(self.U[l], 1.0 - eta_c * lam_c, d, self.r[l], eta_c)

    def present(self, x, y, xi=None):
        self.sweep(x, y, xi)
        self.plasticity(x, xi)

    def train(self, X, Y, order, rng=None):
        """Present ``X[order[k]]`` for every k; spontaneous noise xi ~ N(0, sigma_xi^2) from ``rng``."""
        xi, draw = self._spontaneous(rng)
        for k in order:
            draw()
            self.present(X[k], Y[k], xi)


class DynamicLoop(_Base):
    """MODEL.md's dynamic mode as a numpy time-step loop, the same equations as the Brian2 circuit.

    Per step of ``dt``: the summed inputs (h, zsum, e_L, q, p, m, e, q_r, q_spont)
    are computed from the current rates in sweep order; then the state updates
    run in the order the Brian2 circuit runs them (A, B, D, U, V, W): rates relax
    exactly, ``r <- target + (r - target) exp(-dt/tau_r)`` (and d towards q), and
    every plastic weight takes an Euler step of ``dw/dt = change / T_present``.
    Stimulus, teacher and spontaneous noise are set at the start of each step.
    """

    def __init__(self, sizes, rules, weights, tau_r_ms, T_present_ms, dt_ms, f="tanh", output="softmax"):
        super().__init__(sizes, rules, weights, f, output)
        self.dt, self.tau_r, self.T = dt_ms, tau_r_ms, T_present_ms
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
        # the sweep, from the rates at the start of the step
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
        S, Q = self.S, self.Q
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
            S[l][0] = self.e[l]
            S[l][1] = r[l]
            if xi is not None and l < L:
                S[l][2] = xi[l]
            np.dot(S[l], self.U[l].T, out=Q[l])
        # state updates, in the order the Brian2 circuit runs them within a step (its objects
        # are sorted by name: A, B, D, U, V, W)
        for l in range(1, L + 1):  # A_l: r relaxes towards f(h_l) (softmax at the top)
            r[l] -= self.target[l]
            r[l] *= self.a
            r[l] += self.target[l]
        rules = self.rules
        eta, lam = rules.forward.eta, rules.forward.lam
        if rules.feedback.plastic:  # B: plastic, or a tied copy (whose change is the same expression)
            for l in range(1, L):
                self._weight_step(self.B[l + 1], eta * lam, Q[l][1], d[l + 1], -eta)
        for l in range(1, L + 1):  # D_l: d relaxes towards q_l
            d[l] -= Q[l][0]
            d[l] *= self.a
            d[l] += Q[l][0]
        cross = rules.cross
        rate_c = cross.eta_c * cross.lam_c
        if cross.kind == "hebbian":
            for l in range(1, L + 1):
                self._weight_step(self.U[l], rate_c, d[l], r[l], cross.eta_c)
            for l in range(1, L):
                self._weight_step(self.V[l], rate_c, r[l], d[l], cross.eta_c)
        elif cross.kind == "mirror":
            for l in range(1, L):
                self._weight_step(self.V[l], rate_c, xi[l], Q[l][2], cross.eta_c)
        for l in range(1, L + 1):
            self._weight_step(W[l], eta * lam, self.e[l], x if l == 1 else r[l - 1], -eta)

    def train(self, X, Y, order, rng=None):
        """Hold ``X[order[k]]`` for T_present (``steps_per_presentation`` steps) for every k."""
        xi, draw = self._spontaneous(rng)
        for k in order:
            x, y = X[k], Y[k]
            for _ in range(self.steps_per_presentation):
                draw()
                self.step(x, y, xi)
