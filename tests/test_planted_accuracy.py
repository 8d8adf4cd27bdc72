"""Reported accuracy is the last evaluation, never the best one (issue 21).

Taking the best test accuracy over training is selection on the test set. These tests give
every producer of a reported accuracy a curve whose best point is not its last and check
that the last is what is reported: a run's summary (summary.json's final_test_acc), the
learning benchmark's runs, its seeds.csv and its summary.csv.
"""
import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from selfassembly.experiment import PresetResult
from selfassembly.plasticity.presets import PRESETS
from selfassembly.sweep import learning_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import learning  # noqa: E402
import learning_plots  # noqa: E402

#: test accuracy per evaluation: best in the middle, last below it
CURVE = [0.10, 0.92, 0.55, 0.61]


def test_run_summary_reports_the_last_evaluation():
    rows = [{"preset": "backprop", "step": 10 * k, "epoch": k, "train_loss": 1.0 - 0.1 * k, "train_acc": 0.3 + 0.1 * k,
             "test_loss": 2.0 - 0.1 * k, "test_acc": acc, "ff_angle_2": 50.0 - k, "cross_angle_1": 0.0}
            for k, acc in enumerate(CURVE)]
    s = PresetResult("backprop", None, rows, wall_time=1.0).summary()
    assert s["final_test_acc"] == CURVE[-1] != max(CURVE)
    assert s["final_train_acc"] == pytest.approx(0.6) and s["final_test_loss"] == pytest.approx(1.7)
    assert s["steps"] == 30 and s["ff_angle"] == {"2": 47.0}


def test_learning_run_reports_its_last_epoch(monkeypatch):
    """train_run (the package's, which learning.py submits to its workers) on a tiny net, its
    evaluations replaced by CURVE: final_acc is CURVE's last value."""
    real = learning_run.epoch_record

    def record(weights, X, Y, epoch, seconds, *rest):
        rec = real(weights, X, Y, epoch, seconds, *rest)
        return dict(rec, acc=CURVE[epoch])

    monkeypatch.setattr(learning_run, "epoch_record", record)
    job = learning._job("test", "digits", "64-6-10", "backprop", 0, len(CURVE) - 1, eta=0.02, lam=1e-4)
    result = learning.train_run(job)
    assert result["status"] == "done" and [c["acc"] for c in result["curve"]] == CURVE
    assert result["final_acc"] == CURVE[-1]


def _result(preset, seed, curve, eta_c=0.002, eta_u=0.0005, stage="test"):
    return {"stage": stage, "dataset": "digits", "arch": "64-8-10", "preset": preset, "seed": seed, "epochs": len(curve) - 1,
            "eta": 0.02, "lam": 1e-4, "eta_c": eta_c, "eta_u": eta_u, "b_rule": PRESETS[preset][0], "eta_b": 0.002,
            "status": "done",
            "curve": [{"epoch": k, "acc": a, "loss": 1.0, "ff_angle": 10.0, "ff_angle_worst": 12.0, "cross_angle": 5.0,
                       "seconds": 1.0} for k, a in enumerate(curve)],
            "final_acc": curve[-1], "wall_s": 1.0}


def test_learning_report_aggregates_last_epochs(tmp_path, monkeypatch):
    """seeds.csv and summary.csv hold the last epoch's test accuracy of each seed, and its mean."""
    monkeypatch.setattr(learning_plots, "plot_all", lambda *a, **k: None)
    curves = {0: [0.1, 0.9, 0.6], 1: [0.1, 0.8, 0.7], 2: [0.1, 0.95, 0.5]}
    results = [_result(p, 0, [0.1, 0.9, 0.9], stage="tune") for p in ("backprop", "four_synapse")]
    results += [_result(p, s, [c[0], c[1], c[2] - (0.1 if p == "four_synapse" else 0.0)])
                for p in ("backprop", "four_synapse") for s, c in curves.items()]
    summary = learning.write_report(tmp_path, results, ["backprop", "four_synapse"], {"digits": "digits"})
    last = {p: [c[-1] - (0.1 if p == "four_synapse" else 0.0) for c in curves.values()] for p in ("backprop", "four_synapse")}
    rows = {(r["preset"], r["setting"]): r for r in summary}
    for p in ("backprop", "four_synapse"):
        assert rows[(p, "tuned")]["test_acc_mean"] == pytest.approx(np.mean(last[p]), abs=1e-4)
        assert rows[(p, "tuned")]["test_acc_sd"] == pytest.approx(np.std(last[p], ddof=1), abs=1e-4)
    assert rows[("four_synapse", "tuned")]["diff_to_backprop_mean"] == pytest.approx(-10.0, abs=0.01)
    with open(tmp_path / "seeds.csv", newline="") as fh:
        seeds = list(csv.DictReader(fh))
    assert sorted((r["preset"], int(r["seed"]), float(r["test_acc"])) for r in seeds) == \
        sorted((p, s, pytest.approx(last[p][s])) for p in last for s in curves)
    with open(tmp_path / "summary.csv", newline="") as fh:
        assert {r["preset"]: float(r["test_acc_mean"]) for r in csv.DictReader(fh) if r["setting"] == "tuned"} == \
            {p: pytest.approx(np.mean(v), abs=1e-4) for p, v in last.items()}
