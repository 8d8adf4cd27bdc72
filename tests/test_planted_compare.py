"""compare's report on a constructed comparison: its counts and its lists of agreeing presets (issue 21).

Two presets: four_synapse, whose every population changed between the snapshots, and backprop,
whose snapshots are identical, so that its heterosynaptic conservation index is undefined (not
comparable) in every population. Two user data points on that statistic then have known
outcomes: a wide interval that four_synapse's 11 populations all lie in, and one far above them.
"""
import argparse
import json

import numpy as np
import pytest

from selfassembly.analysis.compare import AGREE, DISAGREE, NA, compare_results, register
from selfassembly.circuits import initial_weights
from selfassembly.io import Snapshots, atomic_write_text, save_snapshots
from selfassembly.plasticity import make_preset

SIZES = [6, 12, 12, 4]
N_POPULATIONS = 11  # W1-3, B2-3, U1-3, V1-3
WIDE = "heterosynaptic_conservation,1,0,1000000,Wide lab 2024\n"
HIGH = "heterosynaptic_conservation,200000,100000,1000000,High lab 2024\n"


def _run(root):
    for preset in ("four_synapse", "backprop"):
        w0, masks = initial_weights(SIZES, make_preset(preset), seed=0)
        w1 = {k: v * 0.9 + (0.05 if k == "W1" else 0.0) for k, v in w0.items()} if preset == "four_synapse" else w0
        save_snapshots(root / "snapshots" / f"{preset}.npz",
                       Snapshots(SIZES, np.array([0, 100]), {k: np.stack([w0[k], w1[k]]) for k in w0}, masks))
    atomic_write_text(root / "config.toml", '[circuit]\nsizes = [6, 12, 12, 4]\n[training]\npresets = '
                                            '["four_synapse", "backprop"]\n')
    return root


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmp")
    root = _run(tmp / "run")
    user = tmp / "mine.csv"
    user.write_text("statistic,value,ci_low,ci_high,source\n" + WIDE + HIGH)
    base = compare_results(root, out_dir=tmp / "base", plots=False)
    parser = argparse.ArgumentParser(prog="selfassembly")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["compare", str(root), "--data", str(user), "--out", str(tmp / "with")])
    return tmp, base, args, user


def _recount(result):
    """Verdicts per preset, counted from the comparisons themselves."""
    out = {}
    for block in result["statistics"].values():
        for c in block["comparisons"]:
            out.setdefault(c["preset"], {AGREE: 0, DISAGREE: 0, NA: 0})[c["verdict"]] += 1
    return out


def test_counts_follow_the_constructed_verdicts(compared, capsys):
    tmp, base, args, user = compared
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    result = json.loads((tmp / "with" / "physiology.json").read_text())
    het = [c for c in result["statistics"]["heterosynaptic_conservation"]["comparisons"] if c["data_file"] == str(user)]
    mine = {(c["preset"], c["data_line"]): [] for c in het}
    for c in het:
        mine[(c["preset"], c["data_line"])].append(c["verdict"])
    assert mine[("four_synapse", 2)] == [AGREE] * N_POPULATIONS
    assert mine[("four_synapse", 3)] == [DISAGREE] * N_POPULATIONS
    assert mine[("backprop", 2)] == mine[("backprop", 3)] == [NA] * N_POPULATIONS
    # physiology.json's summary: the shipped comparisons plus exactly these
    added = {"four_synapse": {AGREE: N_POPULATIONS, DISAGREE: N_POPULATIONS, NA: 0},
             "backprop": {AGREE: 0, DISAGREE: 0, NA: 2 * N_POPULATIONS}}
    for p, counts in added.items():
        assert {v: result["summary"][p][v] - base["summary"][p][v] for v in counts} == counts, p
    recount = _recount(result)
    for p, counts in result["summary"].items():
        assert counts == recount.get(p, {AGREE: 0, DISAGREE: 0, NA: 0}), p
    # the command's line: totals over every preset, agree before disagree
    total = {v: sum(c[v] for c in _recount(result).values()) for v in (AGREE, DISAGREE, NA)}
    assert total[AGREE] != total[DISAGREE]  # else a swap would not show
    assert f"{total[AGREE]} agree, {total[DISAGREE]} disagree, {total[NA]} not comparable" in printed


def test_agreeing_presets_leave_out_the_not_comparable(compared):
    """The wide point: four_synapse agrees and backprop cannot be judged, so it agrees 'for every
    preset' judged; the high point disagrees for every preset judged (backprop is not among them)."""
    tmp, _, args, _ = compared
    if not (tmp / "with" / "physiology.md").exists():
        assert args.func(args) == 0
    report = (tmp / "with" / "physiology.md").read_text()
    lines = [x for x in report.splitlines() if "Wide lab" in x or "High lab" in x]
    agreement = [x for x in lines if x.startswith("- **")]
    assert len(agreement) == 2, agreement
    assert agreement[0].startswith("- **agrees** for every preset: Heterosynaptic conservation index vs Wide lab 2024")
    assert agreement[1].startswith("- **disagrees** for every preset: Heterosynaptic conservation index vs High lab 2024")
    # the summary table: four_synapse judged in all 11 populations, backprop in none
    header = next(x for x in report.splitlines() if x.startswith("| statistic |"))
    presets = [c.strip() for c in header.split("|")[3:-1]]
    assert sorted(presets) == ["backprop", "four_synapse"]
    cells = {("Wide" if "Wide lab" in r else "High"): dict(zip(presets, (c.strip() for c in r.split("|")[3:-1])))
             for r in lines if r.startswith("| ") and len(r.split("|")) == len(presets) + 4}  # not the detail tables
    assert cells["Wide"]["four_synapse"].startswith(f"{N_POPULATIONS}/{N_POPULATIONS} agree")
    assert cells["High"]["four_synapse"].startswith(f"0/{N_POPULATIONS} agree")
    assert cells["Wide"]["backprop"] == cells["High"]["backprop"] == "n/a"


def test_a_value_on_the_data_intervals_bound_agrees():
    """The data's 95% interval is closed: a model value equal to either bound lies inside it."""
    from selfassembly.analysis.compare import judge
    from selfassembly.analysis.physiology_data import DataPoint

    point = DataPoint("reciprocity_ratio", 4.0, 3.5, 4.6, "src", "f.csv", 2)
    assert judge(3.5, None, None, point)[0] == AGREE and judge(4.6, None, None, point)[0] == AGREE
    assert judge(np.nextafter(4.6, 5), None, None, point)[0] == DISAGREE
