"""Build a small four-synapse circuit, run it, and compare it with MODEL.md's equations.

The Brian2 circuit and the plain numpy reference compute the same sweep; after
one presentation their signals agree to float precision. Then train briefly and
watch the forward-feedback angle of the self-assembling preset fall.

Run:  python examples/build_and_inspect_circuit.py [--quick]
"""
import argparse

import numpy as np

from selfassembly.analysis import cross_stream_angles, forward_feedback_angles
from selfassembly.circuits import Stimulus, build_circuit, configure_target, initial_weights
from selfassembly.circuits import reference as ref
from selfassembly.datasets import load_digits
from selfassembly.plasticity import ASSEMBLY_LAM, make_preset


def main(quick=False):
    configure_target("numpy")
    data = load_digits()
    sizes = [64, 32, 32, 10]
    # the assembly regime: at the default weight decay the feedback barely aligns in 2000 steps
    rules = make_preset("four_synapse", lam=ASSEMBLY_LAM)
    weights, masks = initial_weights(sizes, rules, seed=0)
    n = 200 if quick else 2000
    order = np.random.default_rng(0).integers(0, len(data.X_train), n)
    circuit = build_circuit(sizes, rules, weights, masks, Stimulus(data.X_train, data.Y_train, order))

    # one presentation: Brian2 against numpy
    circuit.run(1)
    k = order[0]
    expected = ref.sweep(weights, data.X_train[k], data.Y_train[k])
    state = circuit.state()
    print("max |h_3 (Brian2) - h_3 (numpy)| =", np.max(np.abs(state["h3"] - expected["h"][3])))
    print("max |e_1 (Brian2) - e_1 (numpy)| =", np.max(np.abs(state["err1"] - expected["e"][1])))

    # keep training and watch the circuit assemble
    print("initial angles: W^T vs VBU", _fmt(forward_feedback_angles(weights)), " V vs U^T", _fmt(cross_stream_angles(weights)))
    circuit.run(n - 1)
    w = circuit.weights()
    print(f"after {n} presentations: W^T vs VBU", _fmt(forward_feedback_angles(w)), " V vs U^T", _fmt(cross_stream_angles(w)))
    loss, acc = ref.evaluate(w, data.X_test, data.Y_test)
    print(f"test accuracy {acc:.3f} (chance 0.1)")
    return acc


def _fmt(angles):
    return ", ".join(f"layer {l}: {a:.0f} deg" for l, a in angles.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of a minute")
    main(parser.parse_args().quick)
