"""The public Python API checks its arguments like the command line: a clear error naming the argument."""
from __future__ import annotations

import numpy as np
import pytest

from selfassembly.analysis import alignment_timecourse, cross_stream_angles, forward_feedback_angles
from selfassembly.analysis.alignment import gradient_alignment
from selfassembly.circuits import Connectivity, Stimulus, build_circuit, initial_weights
from selfassembly.circuits import reference as ref
from selfassembly.io import SnapshotError, Snapshots, save_snapshots
from selfassembly.plasticity import make_preset

SIZES = [5, 4, 3]


def _parts(sizes=SIZES, seed=0):
    rules = make_preset("four_synapse")
    weights, masks = initial_weights(sizes, rules, seed=seed)
    return rules, weights, masks


def _stimulus(n_in=5, n_out=3, order=(0, 1, 0)):
    rng = np.random.default_rng(0)
    return Stimulus(rng.normal(size=(2, n_in)), np.eye(n_out)[[0, 1]], np.array(order))


def _build(**changes):
    rules, weights, masks = _parts()
    kw = dict(sizes=SIZES, rules=rules, weights=weights, masks=masks, stimulus=_stimulus())
    kw.update(changes)
    return build_circuit(**kw)


def _other_weights():
    return _parts([5, 6, 3])[1]


def _snaps(**changes):
    _, weights, masks = _parts()
    kw = dict(sizes=SIZES, steps=np.array([0, 1]), weights={k: np.stack([v, v]) for k, v in weights.items()})
    kw.update(changes)
    return Snapshots(**kw)


CASES = [
    ("seed-float", lambda: initial_weights(SIZES, make_preset("backprop"), seed=1.5), TypeError, "seed must be a whole"),
    ("seed-negative", lambda: initial_weights(SIZES, make_preset("backprop"), seed=-1), ValueError, "seed must be in 0"),
    ("seed-text", lambda: initial_weights(SIZES, make_preset("backprop"), seed="1"), TypeError, "seed"),
    ("sizes-float", lambda: initial_weights([5.5, 4, 3], make_preset("backprop")), ValueError, "sizes must be a list"),
    ("rules-name", lambda: initial_weights(SIZES, "backprop"), TypeError, "rules must be a RuleSet"),
    ("connectivity-dict", lambda: initial_weights(SIZES, make_preset("backprop"), {"W": {"p": 0.5}}), TypeError,
     "connectivity['W'] must be a Connectivity"),
    ("weights-other-sizes", lambda: _build(weights=_other_weights()), ValueError,
     "weights['W1'] has shape (6, 5), expected (4, 5)"),
    ("masks-missing", lambda: _build(masks={"W1": np.ones((4, 5))}), ValueError, "masks lacks"),
    ("weights-nan", lambda: _build(weights={**_parts()[1], "W2": np.full((3, 4), np.nan)}), ValueError,
     "weights['W2'] holds NaN"),
    ("weights-text", lambda: _build(weights={**_parts()[1], "W2": [["a"] * 4] * 3}), TypeError,
     "weights['W2'] must be a 2-D array of numbers"),
    ("stimulus-tuple", lambda: _build(stimulus=(np.zeros((2, 5)), np.zeros((2, 3)), [0])), TypeError,
     "stimulus must be a Stimulus"),
    ("stimulus-wrong-inputs", lambda: _build(stimulus=_stimulus(n_in=6)), ValueError,
     "stimuli have 6 features but the input layer has n_0 = 5"),
    ("record-every-float", lambda: _build(record_every=2.5), TypeError, "record_every must be a whole number"),
    ("stimulus-text", lambda: Stimulus([["x"]], [[1.0]], [0]), TypeError, "Stimulus X must be a 2-D array"),
    ("order-float", lambda: Stimulus(np.zeros((2, 5)), np.zeros((2, 3)), [0.0, 1.0]), ValueError,
     "Stimulus order must be a non-empty 1-D array of whole-number"),
    ("run-float", lambda: _build().run(2.5), TypeError, "n_presentations must be a whole number"),
    ("run-past-order", lambda: _build().run(4), ValueError, "runs past the presentation order: 3 presentations"),
    ("ff-angles-list", lambda: forward_feedback_angles([np.eye(2)]), TypeError, "weights must be a dict"),
    ("ff-angles-mismatch", lambda: forward_feedback_angles({**_parts()[1], "V1": np.eye(3)}), ValueError,
     "weights['V1'] has shape (3, 3), expected (4, 4)"),
    ("cross-angles-missing-v", lambda: cross_stream_angles({k: v for k, v in _parts()[1].items() if k != "V2"}),
     ValueError, "weights lacks ['V2']"),
    ("evaluate-x-width", lambda: ref.evaluate(_parts()[1], np.zeros((4, 6)), np.zeros((4, 3))), ValueError,
     "X has shape (4, 6), expected (samples, 5)"),
    ("gradient-y-rows", lambda: gradient_alignment(_parts()[1], np.zeros((4, 5)), np.zeros((3, 3))), ValueError,
     "X has 4 samples but Y has 3"),
    ("timecourse-dict", lambda: alignment_timecourse(_parts()[1]), TypeError, "snapshots must be a selfassembly.io.Snapshots"),
    ("snapshots-float-steps", lambda: save_snapshots("/nonexistent/x.npz", _snaps(steps=np.array([0.0, 1.5]))),
     SnapshotError, "'steps' must be a 1-D array of whole numbers"),
    ("snapshots-decreasing", lambda: _snaps(steps=np.array([5, 1])).validate(), SnapshotError, "must not decrease"),
    ("save-not-snapshots", lambda: save_snapshots("/nonexistent/x.npz", {"W1": 1}), TypeError,
     "snapshots must be a Snapshots object"),
    ("connectivity-p-tiny", lambda: Connectivity("gaussian", p=1e-300).sample(4, 5, np.random.default_rng(0)),
     ValueError, "p = 1e-300 leaves"),
]


@pytest.mark.parametrize("call,error,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_argument_is_named(call, error, message):
    with pytest.raises(error) as exc:
        call()
    assert message in str(exc.value)


def test_seed_1_and_seed_1_as_numpy_int_agree_and_differ_from_seed_2():
    a, b, c = _parts(seed=1)[1], _parts(seed=np.int64(1))[1], _parts(seed=2)[1]
    assert np.array_equal(a["W1"], b["W1"]) and not np.array_equal(a["W1"], c["W1"])
