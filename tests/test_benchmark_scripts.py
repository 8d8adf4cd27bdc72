"""The benchmark scripts' own logic: statistics, choices, resume keys, parsing (issue 22).

The expected numbers are computed here independently (scipy's t quantile, sd with ddof 1), so a
normal quantile or a ddof-0 sd planted in a script's interval changes a printed number and fails.
The scripts' training is replaced by stubs where the logic around it is under test.
"""
import csv
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import census  # noqa: E402
import cross_stability as cs  # noqa: E402
import depth_puzzle as dp  # noqa: E402
import loop_mirror_tuning as lm  # noqa: E402
import self_assembly as sa  # noqa: E402
import sweep_throughput as st  # noqa: E402

T4 = stats.t.ppf(0.975, 4)  # 5 seeds: 4 degrees of freedom


def t95(x):
    x = np.asarray(x, float)
    h = T4 * x.std(ddof=1) / np.sqrt(x.size)
    return x.mean(), x.mean() - h, x.mean() + h


# ---------------------------------------------------------------- self_assembly.py
def _fake_runs(root, arch, scores, lam=1e-4, error=False):
    """Run folders RUNS/<arch>/seed<k> with a summary.json and a config.toml, as `selfassembly run` writes."""
    for k in range(5):
        d = root / arch / f"seed{k}"
        d.mkdir(parents=True)
        presets = {}
        for p, values in scores.items():
            v = {"status": "done", "final_test_acc": values[k], "ff_angle": {"2": 30.0 + k}, "cross_angle": {"1": 10.0},
                 "u_orthogonality": {"1": 0.2}}
            if error:
                v.update(final_test_error=values[k], mean_predictor_error=4.0)
            presets[p] = v
        (d / "summary.json").write_text(json.dumps({"presets": presets}))
        (d / "config.toml").write_text(f"[plasticity]\nlam = {lam!r}\n")


@pytest.fixture
def no_verdict(monkeypatch):
    """report() without snapshots: the verdict is tested in test_golden_verdicts.py."""
    monkeypatch.setattr(sa, "seed_run_verdicts", lambda dirs, **kw: ({}, list(range(len(dirs)))))


def _diff_line(text, a, b):
    found = re.search(rf"^- {a} - {b}: ([+-][\d.]+)(?: points)? \[([+-][\d.]+), ([+-][\d.]+)\]$", text, re.M)
    assert found, f"no line for {a} - {b} in\n{text}"
    return tuple(float(x) for x in found.groups())


def test_report_paired_differences_are_t_intervals_in_points(tmp_path, no_verdict):
    """Classification: differences in points (x100), 95% t-interval with 4 degrees of freedom, sd ddof 1."""
    rng = np.random.default_rng(1)
    scores = {"four_synapse": 0.95 + 0.02 * rng.standard_normal(5), "backprop": 0.96 + 0.01 * rng.standard_normal(5),
              "feedback_alignment": 0.94 + 0.015 * rng.standard_normal(5)}
    _fake_runs(tmp_path / "runs", "64-8-10", scores)
    sa.report(tmp_path / "runs", tmp_path / "out", 1e-4, ["64-8-10"])
    text = (tmp_path / "out" / "table.md").read_text()
    for a, b in (("four_synapse", "backprop"), ("feedback_alignment", "backprop"), ("four_synapse", "feedback_alignment")):
        want = t95(100 * (scores[a] - scores[b]))
        np.testing.assert_allclose(_diff_line(text, a, b), want, atol=0.051)
    s = scores["four_synapse"]
    assert f"| four_synapse | {s.mean():.3f} ± {s.std(ddof=1):.3f} |" in text
    rows = list(csv.DictReader(open(tmp_path / "out" / "final.csv")))
    assert len(rows) == 15 and {r["preset"] for r in rows} == set(scores)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["settings"]["lam"] == 1e-4 and manifest["command"].startswith("python benchmarks/self_assembly.py")


def test_report_reconstruction_gap_closed_share(tmp_path, no_verdict):
    """Reconstruction: errors unscaled, and the share of FA's gap closed per seed, (FA - p) / (FA - BP), t-interval."""
    rng = np.random.default_rng(2)
    bp = 1.0 + 0.05 * rng.random(5)
    fa = bp + 0.5 + 0.1 * rng.random(5)
    fs = bp + 0.2 + 0.1 * rng.random(5)
    scores = {"four_synapse": fs, "feedback_alignment": fa, "backprop": bp}
    _fake_runs(tmp_path / "runs", "64-12-64", scores, error=True)
    sa.report(tmp_path / "runs", tmp_path / "out", 1e-4, ["64-12-64"], task="reconstruction")
    text = (tmp_path / "out" / "table.md").read_text()
    np.testing.assert_allclose(_diff_line(text, "four_synapse", "backprop"), t95(fs - bp), atol=0.00051)
    found = re.search(r"^- four_synapse: ([\d.-]+) \[([\d.-]+), ([\d.-]+)\]$", text, re.M)
    np.testing.assert_allclose([float(x) for x in found.groups()], t95((fa - fs) / (fa - bp)), atol=0.0051)
    assert "Predicting the mean: test error 4.000." in text


def test_report_refuses_runs_of_another_lam(tmp_path, no_verdict):
    _fake_runs(tmp_path / "runs", "64-8-10", {"backprop": [0.9] * 5}, lam=0.02)
    with pytest.raises(SystemExit, match="--lam 0.02"):
        sa.report(tmp_path / "runs", tmp_path / "out", 1e-4, ["64-8-10"])


def test_t_interval_of():
    x = [1.0, 2.0, 4.0, 3.0, 7.0]
    np.testing.assert_allclose(sa.t_interval_of(x), t95(x), rtol=1e-12)


# ---------------------------------------------------------------- loop_mirror_tuning.py
def test_score_is_mean_of_last_three_records():
    rows = [{"test_acc": a} for a in (0.2, 0.9, 0.5, 0.6, 0.7)]
    assert lm.score(rows) == pytest.approx(0.6)
    assert lm.score(rows[-2:]) == pytest.approx(0.65)  # fewer records than SCORE_RECORDS: all of them


def _run(rule, eta_b, score, seed=0, angle=30.0, status="done"):
    return {"b_rule": rule, "eta_b": str(eta_b), "seed": str(seed), "score": str(score) if status == "done" else "",
            "ff_angle_2": str(angle), "ff_angle_3": str(angle + 2), "status": status}


def test_settings_table_mean_standard_error_and_angle_over_seeds():
    rows = [_run("both", 0.002, 0.96, 0, 30.0), _run("both", 0.002, 0.98, 1, 34.0), _run("both", 0.002, 0.99, 2, 20.0)]
    (t,) = lm.settings_table(rows, seeds=(0, 1, 2))
    scores = np.array([0.96, 0.98, 0.99])
    assert t["score_mean"] == pytest.approx(scores.mean(), abs=1e-12)
    assert t["score_se"] == pytest.approx(scores.std(ddof=1) / np.sqrt(3), rel=1e-12)  # ddof 1: fails with ddof 0
    assert t["angle_mean"] == pytest.approx((31 + 35 + 21) / 3, abs=0.01)  # mean over both layers and the seeds
    assert t["n_seeds"] == 3
    # a setting with a missing or diverged seed is left out: it cannot be chosen
    assert lm.settings_table(rows[:2], seeds=(0, 1, 2)) == []
    assert lm.settings_table(rows[:2] + [_run("both", 0.002, 0, 2, status="diverged")], seeds=(0, 1, 2)) == []
    # seeds outside the asked ones do not enter
    assert lm.settings_table(rows, seeds=(0, 1))[0]["score_mean"] == pytest.approx(0.97, abs=1e-12)


def _setting(rule, eta_b, mean, se, angle):
    return {"b_rule": rule, "eta_b": eta_b, "score_mean": mean, "score_se": se, "angle_mean": angle}


def test_choose_is_one_standard_error_band_then_smallest_angle():
    table = [_setting("loop_mirror", 0.002, 0.985, 0.004, 35.0),   # the best score
             _setting("both", 0.0002, 0.9811, 0.010, 26.0),        # inside the best's band (0.981): chosen
             _setting("loop_mirror", 0.0001, 0.9805, 0.010, 20.0)]  # just outside the band: not chosen
    best, band = lm.choose(table)
    assert (best["b_rule"], best["eta_b"]) == ("both", 0.0002)
    assert [t["eta_b"] for t in band] == [0.002, 0.0002]  # the band uses the best setting's se, not each own
    # with a smaller se of the best, only the best is in the band
    table[0]["score_se"] = 0.001
    assert lm.choose(table)[0]["eta_b"] == 0.002
    # equal angles: the smaller eta_b, then 'both'
    ties = [_setting("loop_mirror", 0.002, 0.98, 0.01, 30.0), _setting("loop_mirror", 0.001, 0.98, 0.01, 30.0),
            _setting("both", 0.001, 0.98, 0.01, 30.0)]
    assert (lm.choose(ties)[0]["b_rule"], lm.choose(ties)[0]["eta_b"]) == ("both", 0.001)
    assert lm.choose([]) == (None, [])


def test_validation_split_is_fixed_disjoint_and_a_fifth():
    from selfassembly.datasets import load_dataset

    data = load_dataset("digits", 0.2, 0)
    a, b = lm.validation_split(data), lm.validation_split(data)
    n = len(data.X_train)
    assert len(a.X_test) == round(0.2 * n) and len(a.X_train) + len(a.X_test) == n
    np.testing.assert_array_equal(a.X_test, b.X_test)
    rows = {r.tobytes() for r in np.hstack([data.X_train, data.Y_train])}
    fit = {r.tobytes() for r in np.hstack([a.X_train, a.Y_train])}
    val = {r.tobytes() for r in np.hstack([a.X_test, a.Y_test])}
    assert fit | val <= rows and len(fit & val) <= 1  # digits has a few duplicate images


# ---------------------------------------------------------------- depth_puzzle.py
def test_depth_puzzle_folders_are_distinct_and_plain():
    names = {dp._folder("r", label, 0) for label in dp.VARIANTS}
    assert len(names) == len(dp.VARIANTS)
    assert all(re.fullmatch(r"[\w/]+", str(n)) for n in names)


def test_depth_puzzle_table_means_and_product_of_scales(tmp_path, monkeypatch):
    """The table's scale column is the mean over seeds per layer, the product column the mean of per-seed products."""
    layers = range(2, 7)
    scale = {s: np.array([1.0 + 0.1 * (l + s) for l in layers]) for s in (0, 1)}

    def fake_run(config, folder, progress=None):
        Path(folder).mkdir(parents=True)
        row = {"epoch": 10, "test_acc": 0.5 + 0.1 * config.seed, **{f"ff_angle_{l}": 10.0 * l for l in layers},
               **{f"fb_scale_{l}": x for l, x in zip(layers, scale[config.seed])}}
        with open(Path(folder) / "metrics.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, list(row))
            w.writeheader()
            w.writerow({**row, "epoch": 0})
            w.writerow(row)

    monkeypatch.setattr(dp, "run_experiment", fake_run)
    dp.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--seeds", "0,1"])
    line = next(x for x in (tmp_path / "out" / "table.md").read_text().splitlines() if x.startswith("| backprop |"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[1] == "0.500, 0.600"
    assert float(cells[2]) == pytest.approx(40.0)
    np.testing.assert_allclose([float(x) for x in cells[3].split(",")], (scale[0] + scale[1]) / 2, atol=0.005)
    want = (np.prod(scale[0]) + np.prod(scale[1])) / 2
    assert float(cells[4]) == pytest.approx(want, rel=1e-3)
    assert float(cells[4]) != pytest.approx(np.prod((scale[0] + scale[1]) / 2), rel=1e-3)  # not the product of means
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["settings"]["seeds"] == "0,1"


# ---------------------------------------------------------------- cross_stability.py
def test_row_key_holds_every_setting_that_changes_a_result():
    row = {"arch": "64-16-10", "f": "tanh", "eta_c": "0.002", "ratio": "0.25", "seed": "0", "lam": "0.02", "epochs": "3"}
    key = cs.row_key(row)
    for field, other in (("arch", "64-8-10"), ("f", "relu"), ("eta_c", "0.004"), ("ratio", "0.5"), ("seed", "1"),
                         ("lam", "0.0001"), ("epochs", "10")):
        assert cs.row_key({**row, field: other}) != key, field
    assert cs.row_key({k: v for k, v in row.items() if k not in ("lam", "epochs")})[-2:] == (None, None)


def test_scan_resumes_only_rows_of_the_same_lam(tmp_path, monkeypatch):
    """A rerun at the same lam skips the done rows; at another lam it runs them again, and scan.md shows one lam."""
    calls = []

    def fake_train(sizes, f, eta_c, eta_u, seed, epochs, data, lam):
        calls.append(lam)
        return {"status": "done", "test_acc": 0.5 + lam, "ff_angle_max": 40.0, "cross_angle_max": 20.0,
                "u_orth_max": 0.1, "at_presentation": ""}

    monkeypatch.setattr(cs, "train", fake_train)
    out = ["--quick", "--out", str(tmp_path)]
    cs.main(out + ["--lam", "0.02"])
    cs.main(out + ["--lam", "0.02"])
    assert calls == [0.02, 0.02]
    cs.main(out + ["--lam", "0.0001"])
    assert calls == [0.02, 0.02, 0.0001, 0.0001]
    rows = list(csv.DictReader(open(tmp_path / "scan.csv")))
    assert sorted(float(r["lam"]) for r in rows) == [0.0001, 0.0001, 0.02, 0.02]
    md = (tmp_path / "scan.md").read_text()
    assert "lam = 0.0001" in md and "0.500 / 40" in md and "0.520" not in md
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["settings"]["lam"] == 0.0001 and "--lam 0.0001" in manifest["command"]
    # the scan resumed twice into the folder: the calls that made the rows already there are kept
    assert [c["command"].split()[-2:] for c in manifest["earlier_calls"]] == [["--lam", "0.02"]] * 2


# ---------------------------------------------------------------- census.py
def test_census_circuit_and_dense_count_agree_with_the_sparse_count():
    from selfassembly.analysis.motifs import loop_count, strong_matrices

    w, masks = census.circuit(30, 0.3, seed=4)
    assert set(w) == {"W2", "U2", "B2", "V1"}
    for k in w:
        assert w[k].shape == (30, 30) and np.all((w[k] != 0) == masks[k])
        assert 0.2 < masks[k].mean() < 0.4
    strong = strong_matrices(w, threshold=0.0, masks=masks)
    assert census.dense_count(w, masks) == loop_count(strong["W2"], strong["U2"], strong["B2"], strong["V1"]) > 0
    # by hand: loops a -W-> b -U-> d -B-> e -V-> a over the 0/1 masks
    W, U, B, V = (masks[k].astype(int) for k in ("W2", "U2", "B2", "V1"))
    assert census.dense_count(w, masks) == int(np.trace(V @ B @ U @ W))


def test_census_measure_returns_result_time_and_memory():
    out, seconds, mib = census.measure(lambda: np.ones(2**17))  # 1 MiB of float64
    assert out.shape == (2**17,) and seconds >= 0 and 0.9 < mib < 2


# ---------------------------------------------------------------- sweep_throughput.py
def test_sweep_throughput_markdown():
    t = lambda w, ppm: {"workers": w, "points": 8, "wall_s": 60.0, "cluster_start_s": 1.0,  # noqa: E731
                        "points_per_min": ppm, "points_per_min_after_start": ppm + 0.1, "load_before": [1.0],
                        "load_after": [1.5]}
    report = {"machine": "box", "date": "d", "throughput": [t(1, 8.0), t(2, 15.0)], "ratio": 1.88,
              "ratio_after_start": 1.87, "machine_ratio_before": 1.9, "machine_ratio_after": 2.0}
    md = st.markdown(report)
    assert "| 2 | 8 | 60.0 | 1.0 | 15.00 | 15.10 | 1.0 -> 1.5 |" in md
    assert "Ratio 2 workers / 1: 1.88 end to end, 1.87 after" in md and "1.90 before, 2.00 after" in md
    assert "cpp_standalone" not in md


# ---------------------------------------------------------------- selfassembly.manifest
def test_manifest_records_command_settings_time_and_version(tmp_path):
    import time

    from selfassembly.errors import InputError
    from selfassembly.manifest import read_manifest, write_manifest

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "depth_puzzle.py"
    write_manifest(tmp_path, script, ["--seeds", "0,1"], {"seeds": "0,1", "lam": 3e-4}, time.time() - 2.5)
    m = read_manifest(tmp_path)
    assert m["command"] == "python benchmarks/depth_puzzle.py --seeds 0,1"
    assert m["settings"] == {"seeds": "0,1", "lam": 3e-4} and 2.5 <= m["wall_s"] < 60
    assert len(m["code_version"]["commit"]) in (40, len("unknown")) and m["machine"]["cores"] >= 1
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_manifest(tmp_path)
    with pytest.raises(InputError, match="rerun the script"):
        read_manifest(tmp_path / "nothing")
