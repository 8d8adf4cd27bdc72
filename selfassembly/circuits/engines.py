"""The engines that run the sample-clocked circuit, behind one interface.

``brian2``
    :func:`~selfassembly.circuits.network.build_circuit`: rate neuron groups and
    plastic Synapses, on Brian2's numpy, cython or cpp_standalone target. The
    engine of the dynamic mode, and the default of ``selfassembly run``.
``numpy``
    :class:`~selfassembly.circuits.numpy_engine.NumpyCircuit`: the same equations
    as in-place numpy loops, about 25 times faster than Brian2's numpy target on
    the default run's circuit (docs/benchmarks.md, section 2); sample-clocked mode
    only; float64 or float32 (``dtype``). The two agree to 1e-9 in float64,
    spontaneous activity included (the numpy engine draws Brian2's numpy stream).

Both return an object with ``run(n)``, ``weights()``, ``recorded_weights()``,
``first_bad_presentation()``, ``masks`` and ``is_standalone``.
"""
from __future__ import annotations

from .modes import Dynamic, SampleClocked

__all__ = ["DTYPES", "ENGINES", "build", "check_engine"]

ENGINES = ("brian2", "numpy")
#: floating-point types of the numpy engine (Brian2 runs in float64)
DTYPES = ("float64", "float32")


def check_engine(engine, mode=None):
    """Raise a ValueError naming the problem if ``engine`` cannot run ``mode``."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; valid names: {', '.join(ENGINES)}")
    if engine == "numpy" and isinstance(mode, Dynamic):
        raise ValueError("the numpy engine runs the sample-clocked mode only; use engine 'brian2' for the dynamic mode")


def build(engine, sizes, rules, weights, masks, stimulus, mode=None, f="tanh", output="softmax", record_every=None,
          name="circuit", seed=0, dtype="float64"):
    """Build one circuit on ``engine`` ("brian2" or "numpy").

    Parameters are those of :func:`~selfassembly.circuits.network.build_circuit`, plus
    ``seed``, the seed of the numpy engine's spontaneous activity (Brian2 takes its
    seed from ``brian2.seed``, which the caller sets), and ``dtype``, the numpy
    engine's floating-point type (one of :data:`DTYPES`; Brian2 runs in float64).
    """
    mode = mode or SampleClocked()
    check_engine(engine, mode)
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid names: {', '.join(DTYPES)}")
    if engine == "numpy":
        from .numpy_engine import NumpyCircuit

        stimulus.check_sizes(sizes)
        return NumpyCircuit(sizes, rules, weights, masks, stimulus, f, output, record_every, seed, dtype)
    if dtype != "float64":
        raise ValueError(f"the brian2 engine runs in float64 only, not {dtype}; use engine 'numpy' for float32")
    from .network import build_circuit

    return build_circuit(sizes, rules, weights, masks, stimulus, mode, f, output, record_every, name)
