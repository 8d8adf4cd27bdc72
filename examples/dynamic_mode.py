"""
The dynamic mode's time course
==============================

In the dynamic mode (``--mode dynamic``) rates relax with the time constant
tau_r while each stimulus is held for T_present, as in a recording, instead of
settling in one step. This script shows the time course of the output rates
and of the top layer's descending signal d during three presentations, and
checks that the weights after them approach the sample-clocked result (they
do as T_present grows against tau_r). Saves ``dynamic_mode.png``.

The gallery shows the quick version (T_present = 10 ms);
``python examples/dynamic_mode.py [--out DIR]`` holds each stimulus for 40 ms.
"""
import argparse
from pathlib import Path

import brian2 as b2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from selfassembly.circuits import Dynamic, Stimulus, build_circuit, configure_target, initial_weights  # noqa: E402
from selfassembly.datasets import load_digits  # noqa: E402
from selfassembly.plasticity import make_preset  # noqa: E402


def main(quick=False, out="."):
    configure_target("numpy")
    data = load_digits()
    sizes = [64, 16, 10]
    rules = make_preset("kolen_pollack", eta=0.002)
    weights, masks = initial_weights(sizes, rules, seed=0)
    stim = Stimulus(data.X_train, data.Y_train, np.array([0, 1, 2]))
    mode = Dynamic(tau_r_ms=1.0, T_present_ms=10.0 if quick else 40.0, dt_ms=0.1)
    dyn = build_circuit(sizes, rules, weights, masks, stim, mode=mode, name="dynamic")
    mon = b2.StateMonitor(dyn.A[2], "r", record=[0, 1, 2], name="rates")
    mon_d = b2.StateMonitor(dyn.D[2], "d", record=[0], name="descending")
    dyn.network.add(mon, mon_d)
    dyn.run(3)
    sample = build_circuit(sizes, rules, weights, masks, stim, name="sample")
    sample.run(3)
    got, want = dyn.weights(), sample.weights()
    rel = np.linalg.norm(got["W2"] - want["W2"]) / np.linalg.norm(want["W2"] - weights["W2"])
    print(f"T_present = {mode.T_present_ms} ms, tau_r = {mode.tau_r_ms} ms: "
          f"|dW2 (dynamic) - dW2 (sample-clocked)| / |dW2| = {rel:.3f}")

    fig, axes = plt.subplots(2, 1, sharex=True, figsize=(6, 4))
    axes[0].plot(mon.t / b2.ms, mon.r.T)
    axes[0].set_ylabel("output rate r_2")
    axes[1].plot(mon_d.t / b2.ms, mon_d.d[0])
    axes[1].set_ylabel("descending d_2[0]")
    axes[1].set_xlabel("time (ms)")
    for ax in axes:
        for k in range(1, 3):
            ax.axvline(k * mode.T_present_ms, color="grey", lw=0.5)
    fig.tight_layout()
    path = Path(out) / "dynamic_mode.png"
    fig.savefig(path, dpi=120)
    print("saved", path)
    return rel


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The dynamic mode's time course")
    parser.add_argument("--quick", action="store_true", help="T_present = 10 ms instead of 40 ms")
    parser.add_argument("--out", default=".", help="folder for dynamic_mode.png (default: here)")
    args = parser.parse_args()
    main(args.quick, args.out)
    # the figure is left open: the docs gallery collects it (a plain run has saved it)
