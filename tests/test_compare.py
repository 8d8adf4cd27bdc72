"""Shipped physiology data, users' data files, the verdict rule and the `compare` command."""
import argparse
import csv
import json
import math
import shutil
import time
from importlib import resources

import numpy as np
import pytest

from selfassembly.analysis import physiology_data as pdata
from selfassembly.analysis.compare import NA, compare_results, discover_presets, judge, register
from selfassembly.analysis.physiology import SONG_DENSITY, TRIAD_CLASSES
from selfassembly.analysis.physiology_data import (
    STATISTICS,
    DataPoint,
    PhysiologyDataError,
    load_user_data,
    shipped_data,
)
from selfassembly.circuits import initial_weights
from selfassembly.io import Snapshots, SnapshotError, atomic_write_text, save_snapshots
from selfassembly.plasticity import make_preset

SIZES = [6, 12, 12, 4]


# --------------------------------------------------------------------------- shipped data
def test_shipped_files_are_package_data_and_every_row_cites_its_source():
    root = resources.files("selfassembly.analysis") / "data"
    names = sorted(p.name for p in root.iterdir() if p.name.endswith(".csv"))
    assert names == sorted(pdata.shipped_files())
    for name in names:
        with (root / name).open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows, name
        for row in rows:
            assert len(row["source"]) > 20 and "(20" in row["source"], (name, row)


def test_shipped_points_derive_the_published_figures():
    points = {}
    for p in shipped_data():
        points.setdefault(p.statistic, []).append(p)
    (rec,) = points["reciprocity_ratio"]
    assert rec.value == pytest.approx(218 / 53.9, rel=0.01)  # Song et al.: 218 / 53.9 = 4.05
    assert rec.ci_low < rec.value < rec.ci_high
    assert points["triad_ratio_300"][0].value == pytest.approx(7.7, abs=0.05)
    assert points["triad_ratio_120D"][0].value == pytest.approx(4.0, abs=0.05)
    assert {f"triad_ratio_{c}" for c in TRIAD_CLASSES} <= set(points)
    (sigma,) = points["lognormal_sigma"]
    assert sigma.value == pytest.approx(0.9355) and sigma.ci_low < 0.9355 < sigma.ci_high
    assert points["lognormal_mean_median_ratio"][0].value == pytest.approx(0.77 / 0.50, rel=0.01)
    sln = points["sln_sum"][0]
    ff = [0.729, 0.984, 0.890, 0.929, 0.942, 0.937, 0.615, 0.664]
    fb = [0.441, 0.348, 0.195, 0.269, 0.278, 0.063, 0.461, 0.432]
    assert sln.value == pytest.approx(np.mean(np.add(ff, fb))) and sln.n == 8
    assert all(p.one_sided and p.ci_low == 1 for p in points["loop_index_V"] + points["loop_index_B"])
    assert points["heterosynaptic_conservation"][0].ci_high == 1
    for p in shipped_data():
        assert p.source and p.file.startswith("data/") and p.shipped


def _copy_shipped(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    files = {}
    for name, path in pdata.shipped_files().items():
        files[name] = folder / name
        shutil.copy(path, files[name])
    monkeypatch.setattr(pdata, "shipped_files", lambda: dict(files))
    return files


def test_inconsistent_shipped_counts_are_refused(tmp_path, monkeypatch):
    files = _copy_shipped(tmp_path, monkeypatch)
    text = files["song2005_pairs.csv"].read_text().replace("pairs_two_way,218", "pairs_two_way,219")
    files["song2005_pairs.csv"].write_text(text)
    with pytest.raises(PhysiologyDataError, match="song2005_pairs.csv: counts are inconsistent"):
        shipped_data()


def test_shipped_file_with_a_bad_number_names_its_line(tmp_path, monkeypatch):
    files = _copy_shipped(tmp_path, monkeypatch)
    lines = files["markov2014_sln.csv"].read_text().splitlines()
    lines[3] = lines[3].replace("0.890", "0.8x0")
    files["markov2014_sln.csv"].write_text("\n".join(lines) + "\n")
    with pytest.raises(PhysiologyDataError, match=r"markov2014_sln.csv, line 4: sln_feedforward '0.8x0'"):
        shipped_data()


# --------------------------------------------------------------------------- user data files
def _write(tmp_path, text, name="mine.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_user_file_rows_become_points_with_intervals(tmp_path):
    path = _write(tmp_path, (
        "statistic,value,ci_low,ci_high,se,n,source\n"
        "reciprocity_ratio,3.2,2.5,4.1,,120,My lab 2024\n"
        "\n"
        'lognormal_sigma,1.05,,,0.04,300,"Other lab, 2023"\n'
        "loop_index_V,1.6,1,inf,,,direction only\n"))
    a, b, c = load_user_data(path)
    assert (a.statistic, a.value, a.ci_low, a.ci_high, a.n, a.line) == ("reciprocity_ratio", 3.2, 2.5, 4.1, 120, 2)
    assert b.line == 4 and b.source == "Other lab, 2023"
    assert b.ci_low == pytest.approx(1.05 - 1.959964 * 0.04) and b.ci_high == pytest.approx(1.05 + 1.959964 * 0.04)
    assert c.one_sided and c.value is None and c.ci_high == math.inf


def test_unknown_statistic_lists_the_known_names(tmp_path):
    path = _write(tmp_path, "statistic,value,ci_low,ci_high,source\nreciprocity,3,2,4,me\n")
    with pytest.raises(PhysiologyDataError) as err:
        load_user_data(path)
    msg = str(err.value)
    assert "line 2" in msg and "unknown statistic 'reciprocity'" in msg
    for name in ("reciprocity_ratio", "loop_index_B", "triad_ratio_300", "heterosynaptic_conservation"):
        assert name in msg


@pytest.mark.parametrize("body, message", [
    ("reciprocity_ratio,abc,2,4,,me\n", r"line 2: value 'abc' is not a number"),
    ("reciprocity_ratio,3,2,4,,me\nreciprocity_ratio,3,,,,me\n", r"line 3: no interval"),
    ("reciprocity_ratio,3,2,,,me\n", r"line 2: give both ci_low and ci_high"),
    ("reciprocity_ratio,5,2,4,,me\n", r"line 2: need ci_low <= value <= ci_high"),
    ("reciprocity_ratio,3,2,4,,me,extra\n", r"line 2: 7 cells but the header has 6 columns"),
    ("reciprocity_ratio,3,2,4,,\n", r"line 2: empty source"),
    ("reciprocity_ratio,3,,,-1,me\n", r"line 2: se must be positive"),
    ("reciprocity_ratio,3,2,4,,me\nlognormal_sigma,nan,0,2,,me\n", r"line 3: value must be a finite number"),
])
def test_malformed_rows_name_their_line(tmp_path, body, message):
    path = _write(tmp_path, "statistic,value,ci_low,ci_high,se,source\n" + body)
    with pytest.raises(PhysiologyDataError, match=message) as err:
        load_user_data(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("text, message", [
    ("", r"line 1: the file is empty"),
    ("statistic,value,source,ci\nreciprocity_ratio,3,me,1\n", r"line 1: unknown column\(s\) ci"),
    ("statistic,source\n", r"line 1: missing column\(s\) value"),
    ("statistic,value,ci_low,ci_high,source\n", r"no data rows"),
])
def test_malformed_headers_and_empty_files_are_refused(tmp_path, text, message):
    with pytest.raises(PhysiologyDataError, match=message):
        load_user_data(_write(tmp_path, text))


def test_missing_user_file_is_an_error(tmp_path):
    with pytest.raises(PhysiologyDataError, match="no such file"):
        load_user_data(tmp_path / "absent.csv")


# --------------------------------------------------------------------------- verdicts
def _point(value, lo, hi):
    return DataPoint("reciprocity_ratio", value, lo, hi, "src", "f.csv", 2)


def test_two_sided_verdict_uses_the_data_interval():
    p = _point(4.0, 3.5, 4.6)
    assert judge(4.5, None, None, p)[0] == "agree"
    verdict, reason = judge(6.0, 5.8, 6.2, p)
    assert verdict == "disagree" and "above" in reason
    assert judge(3.0, None, None, p)[0] == "disagree"
    assert judge(float("nan"), None, None, p)[0] == NA


def test_one_sided_verdict_needs_the_model_interval_on_that_side():
    greater = _point(None, 1.0, math.inf)
    assert judge(1.3, 1.1, 1.5, greater)[0] == "agree"
    assert judge(1.02, 0.97, 1.07, greater)[0] == "disagree"  # a chance fluctuation above 1 is not an effect
    assert judge(math.inf, math.inf, math.inf, greater)[0] == "agree"
    assert judge(1.3, None, None, greater)[0] == NA
    less = _point(None, -math.inf, 1.0)
    assert judge(0.5, 0.3, 0.7, less)[0] == "agree"
    assert judge(0.9, 0.8, 1.1, less)[0] == "disagree"


# --------------------------------------------------------------------------- the command
def _results(tmp_path, presets=("four_synapse", "kolen_pollack"), config_presets=None):
    """A results folder with two snapshots per preset; four_synapse's V assembles to U^T."""
    root = tmp_path / "run"
    for preset in presets:
        w0, masks = initial_weights(SIZES, make_preset(preset), seed=0)
        w1 = {k: v * 0.9 for k, v in w0.items()}
        w1["W1"] = w0["W1"] + 0.05  # every input of every cell potentiated: not conserved
        if preset == "four_synapse":
            for l in (1, 2):
                w1[f"V{l}"] = 0.5 * w0[f"U{l}"].T
        weights = {k: np.stack([w0[k], w1[k]]) for k in w0}
        save_snapshots(root / "snapshots" / f"{preset}.npz",
                       Snapshots(sizes=SIZES, steps=np.array([0, 100]), weights=weights, masks=masks))
    listed = list(config_presets or presets)
    atomic_write_text(root / "config.toml", "[circuit]\nsizes = [6, 12, 12, 4]\n[training]\npresets = ["
                      + ", ".join(f'"{p}"' for p in listed) + "]\n")
    return root


def _strict_json(path):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")
    return json.loads(path.read_text(), parse_constant=refuse)


def test_compare_writes_json_report_and_plots(tmp_path):
    root = _results(tmp_path)
    user = _write(tmp_path, "statistic,value,ci_low,ci_high,source\nreciprocity_ratio,8,6,10,Test lab 2024\n")
    compare_results(root, [user])
    data = _strict_json(root / "physiology.json")
    assert list(data["presets"]) == ["four_synapse", "kolen_pollack"]
    assert data["presets"]["four_synapse"]["steps"] == [0, 100]
    block = data["statistics"]["reciprocity_ratio"]
    assert {d["file"] for d in block["data"]} == {"data/song2005_pairs.csv", str(user)}
    comps = [c for c in block["comparisons"] if c["preset"] == "four_synapse" and c["data_file"] == str(user)]
    assert len(comps) == 2 and all(c["data_line"] == 2 for c in comps)
    for c in block["comparisons"]:
        lo, hi = c["data_interval"]
        inside = lo <= c["model_value"] <= hi
        assert c["verdict"] == ("agree" if inside else "disagree")
        for key in ("model_value", "data_value", "data_interval", "verdict", "source"):
            assert key in c
    # the assembled V = U^T / 2 makes the pair reciprocal well above the initial, independent value
    fs = [m for m in block["model"] if m["preset"] == "four_synapse"]
    assert all(m["value"] > 3 * m["initial"] for m in fs)
    # identity U, V: reciprocity fixed by construction, flagged as such
    kp = [c for c in block["comparisons"] if c["preset"] == "kolen_pollack"]
    assert all(c["by_construction"] and "construction" in c["reason"] for c in kp)
    # W1 grew at every synapse of every cell: conservation index far above 1, Royer & Pare disagree
    het = [c for c in data["statistics"]["heterosynaptic_conservation"]["comparisons"]
           if c["population"] == "W1"]
    assert het and all(c["verdict"] == "disagree" and c["model_value"] > 1 for c in het)
    # structural SLN values: compared once, for the architecture
    sln = data["statistics"]["sln_feedforward"]["comparisons"]
    assert len(sln) == 1 and sln[0]["preset"] == "(architecture)" and sln[0]["model_value"] == 1.0
    # triads that need three connected pairs are never judged, and say why
    t300 = data["statistics"]["triad_ratio_300"]["comparisons"]
    assert t300 and all(c["verdict"] == NA and "bipartite" in c["reason"] for c in t300)
    report = (root / "physiology.md").read_text()
    for text in ("## Verdict rule", "## Summary", "## Where the model agrees and where it does not",
                 "## What has no model counterpart", "Test lab 2024", "four_synapse", "kolen_pollack"):
        assert text in report
    for png in ("physiology_statistics.png", "physiology_triads.png"):
        assert (root / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_comparison_of_a_statistic_is_kept(tmp_path):
    root = _results(tmp_path, presets=("backprop",))
    data = compare_results(root, out_dir=tmp_path / "out", plots=False)
    assert (tmp_path / "out" / "physiology.json").is_file() and not (root / "physiology.json").exists()
    n_points = {s: sum(p.statistic == s for p in shipped_data()) for s in STATISTICS}
    for name, block in data["statistics"].items():
        models = [m for m in block["model"] if m["preset"] != "(architecture)"]
        expected = n_points[name] * (len(models) or 1)
        assert len(block["comparisons"]) == expected, name
    total = sum(sum(v.values()) for v in data["summary"].values())
    assert total == sum(len(b["comparisons"]) for b in data["statistics"].values())


def test_missing_presets_are_reported_not_dropped(tmp_path):
    root = _results(tmp_path, presets=("backprop",), config_presets=("four_synapse", "backprop"))
    found, missing = discover_presets(root)
    assert list(found) == ["backprop"] and missing == ["four_synapse"]
    data = compare_results(root, plots=False)
    assert data["missing_presets"] == ["four_synapse"]
    assert "four_synapse: listed in config.toml but has no snapshot file" in (root / "physiology.md").read_text()


def test_folders_without_snapshots_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results folder"):
        compare_results(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SnapshotError, match="no snapshot files"):
        compare_results(tmp_path / "empty")


def test_register_adds_the_compare_subcommand(tmp_path, capsys):
    root = _results(tmp_path, presets=("feedback_alignment",))
    a = _write(tmp_path, "statistic,value,se,source\nlognormal_sigma,1.0,0.05,A 2020\n", "a.csv")
    b = _write(tmp_path, "statistic,value,se,source\nlognormal_sigma,1.1,0.05,B 2021\n", "b.csv")
    parser = argparse.ArgumentParser(prog="selfassembly")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["compare", str(root), "--data", str(a), str(b)])
    assert args.data == [str(a), str(b)] and args.density == SONG_DENSITY
    assert args.func(args) == 0
    assert "agree" in capsys.readouterr().out
    sources = {d["source"] for d in _strict_json(root / "physiology.json")["statistics"]["lognormal_sigma"]["data"]}
    assert {"A 2020", "B 2021"} <= sources


def test_bad_user_file_stops_the_command_before_writing(tmp_path):
    root = _results(tmp_path, presets=("backprop",))
    bad = _write(tmp_path, "statistic,value,se,source\nlognormal_sigma,1.0,0.05,A\nfoo,1,1,B\n")
    with pytest.raises(PhysiologyDataError, match="line 3: unknown statistic 'foo'"):
        compare_results(root, [bad], plots=False)
    assert not (root / "physiology.json").exists()


def _many_points(tmp_path, n):
    lines = ["statistic,value,ci_low,ci_high,source"]
    lines += [f"reciprocity_ratio,{2 + k % 997 / 1000:.4f},1,{4 + k * 1e-6:.6f},lab {k}" for k in range(n)]
    return _write(tmp_path, "\n".join(lines) + "\n", name="many.csv")


def test_many_user_points_are_all_compared_in_linear_time(tmp_path):
    """3000 rows, every one compared, reported and counted; the report's per-point tables group comparisons
    once (before: a scan of every comparison for every point, 5000 rows > 200 s)."""
    root = _results(tmp_path, presets=("backprop",))
    user = _many_points(tmp_path, 3000)
    t0 = time.perf_counter()
    data = compare_results(root, [user], out_dir=tmp_path / "out")
    took = time.perf_counter() - t0
    block = data["statistics"]["reciprocity_ratio"]
    mine = [c for c in block["comparisons"] if c["data_file"] == str(user)]
    n_models = len([m for m in block["model"] if m["preset"] == "backprop"])
    assert len(mine) == 3000 * n_models and {c["data_line"] for c in mine} == set(range(2, 3002))
    assert _strict_json(tmp_path / "out" / "physiology.json")["summary"] == data["summary"]
    report = (tmp_path / "out" / "physiology.md").read_text()
    assert "lab 2999" in report and "lab 0" in report
    assert took < 60, took  # about 3 s on one core


@pytest.mark.slow
def test_1e5_user_points_take_under_a_minute(tmp_path):
    root = _results(tmp_path, presets=("backprop",))
    user = _many_points(tmp_path, 100_000)
    t0 = time.perf_counter()
    compare_results(root, [user], out_dir=tmp_path / "out")
    assert time.perf_counter() - t0 < 60
