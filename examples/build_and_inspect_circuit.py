"""
Build a circuit in Brian2 and check it against the equations
============================================================

The lower-level API: build a small four-synapse circuit with
:func:`~selfassembly.circuits.network.build_circuit`, run one presentation, and
compare its signals with :mod:`selfassembly.circuits.reference`, the plain
numpy implementation of MODEL.md's equations: they agree to float precision.
Then train on and watch the forward-feedback angle of the self-assembling
preset fall (its feedback B learns by the loop mirror from spontaneous activity).

The gallery shows the quick version (200 presentations);
``python examples/build_and_inspect_circuit.py`` runs 2000 (about a minute).
"""
import argparse

import matplotlib.pyplot as plt
import numpy as np

from selfassembly.analysis import cross_stream_angles, forward_feedback_angles
from selfassembly.circuits import Stimulus, build_circuit, configure_target, initial_weights
from selfassembly.circuits import reference as ref
from selfassembly.datasets import load_digits
from selfassembly.plasticity import make_preset


def main(quick=False):
    configure_target("numpy")
    data = load_digits()
    sizes = [64, 32, 32, 10]
    rules = make_preset("four_synapse")  # the defaults: B's loop mirror aligns the feedback
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

    fig, (ax_h, ax_a) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax_h.plot(expected["h"][3], state["h3"], "o", ms=4)
    ax_h.set(xlabel="h_3, numpy reference", ylabel="h_3, Brian2", title="One presentation: Brian2 = MODEL.md")
    before, after = forward_feedback_angles(weights), forward_feedback_angles(w)
    layers = sorted(before)
    ax_a.bar([l - 0.2 for l in layers], [before[l] for l in layers], 0.4, label="start")
    ax_a.bar([l + 0.2 for l in layers], [after[l] for l in layers], 0.4, label=f"after {n} presentations")
    ax_a.set(xlabel="layer l", ylabel="angle W_l^T vs V B U (deg)", xticks=layers, ylim=(0, 100),
             title="four_synapse assembling")
    ax_a.legend(fontsize=8)
    fig.tight_layout()
    return acc


def _fmt(angles):
    return ", ".join(f"layer {l}: {a:.0f} deg" for l, a in angles.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Build a circuit in Brian2 and check it against the equations")
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of a minute")
    main(parser.parse_args().quick)
    plt.show()  # a window where there is a display; the docs gallery collects the open figure
