"""The sweep's table from point folders: accuracy difference to the reference and worst angle (issue 21).

Only public names of ``selfassembly.sweep`` are used (parse_sweep, sweep_rows), so the test
survives the sweep becoming a subpackage. The point folders hold hand-written summary.json
files: what a finished run records, with numbers chosen so that a flipped sign or the best
layer in place of the worst shows.
"""
import json

import pytest

from selfassembly.sweep import parse_sweep, sweep_rows

ACC = {  # (eta_c, seed) -> preset -> final test accuracy
    (0.001, 0): {"four_synapse": 0.70, "kolen_pollack": 0.80},
    (0.001, 1): {"four_synapse": 0.90, "kolen_pollack": 0.75},
    (0.004, 0): {"four_synapse": 0.60, "kolen_pollack": 0.65},
    (0.004, 1): {"four_synapse": 0.85, "kolen_pollack": 0.50},
}
FF = {"four_synapse": {"2": 12.0, "3": 40.0, "4": 25.0}, "kolen_pollack": {"2": 3.0, "3": 1.0, "4": 7.0}}


def _sweep():
    return parse_sweep({"training": {"presets": ["four_synapse", "kolen_pollack"]},
                        "sweep": {"plasticity.eta_c": [0.001, 0.004], "seeds": [0, 1], "reference": "kolen_pollack"}})


def _write_points(out, sweep):
    for p in sweep.points:
        acc = ACC[(p.values["plasticity.eta_c"], p.seed)]
        presets = {name: {"status": "done", "final_test_acc": a, "ff_angle": FF[name],
                          "cross_angle": {"1": 5.0, "2": 6.0, "3": 7.0, "4": 8.0}, "wall_time_s": 1.0, "message": ""}
                   for name, a in acc.items()}
        d = out / "points" / p.id
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({"presets": presets}))


def test_sweep_rows_difference_to_the_reference_and_worst_layer(tmp_path):
    sweep = _sweep()
    assert len(sweep.points) == 4
    _write_points(tmp_path, sweep)
    rows = sweep_rows(sweep, tmp_path, verdicts=False)
    assert len(rows) == 8
    for r in rows:
        acc = ACC[(r["plasticity.eta_c"], r["seed"])]
        assert r["final_test_acc"] == acc[r["preset"]]
        # the preset's accuracy minus the reference's at the same point: positive where it is better
        assert r["acc_minus_reference"] == pytest.approx(acc[r["preset"]] - acc["kolen_pollack"], abs=1e-12)
        # the worst layer is the largest angle (90 deg is chance), not the smallest
        assert r["ff_angle_worst"] == max(FF[r["preset"]].values())
        assert r["ff_angle_3"] == FF[r["preset"]]["3"]
    better = [r for r in rows if r["preset"] == "four_synapse" and r["seed"] == 1]
    assert all(r["acc_minus_reference"] > 0.1 for r in better)
