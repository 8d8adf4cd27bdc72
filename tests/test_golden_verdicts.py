"""Golden verdicts: recorded angle tables replayed through the verdict (issue 22).

``data/golden_verdicts.json`` holds the last-snapshot angles (per preset and seed, as
:func:`selfassembly.analysis.inspect.seed_run_verdicts` hands them to
:func:`~selfassembly.analysis.verdict.seed_verdicts`) of a real 5-seed run: digits reconstruction at
64-12-64, eta 0.02, the defaults otherwise, numpy engine, seeds 0-4, presets four_synapse,
four_synapse_fixed_u, four_synapse_fixed_cross and feedback_alignment, with the verdicts it gave.
Three of its verdicts are the cases:

* four_synapse: ASSEMBLED;
* four_synapse_fixed_cross: NOT ASSEMBLED by the random null (its cross-stream angles are random);
* four_synapse_fixed_u: the edge case, NOT ASSEMBLED only by the second matched ablation: its
  forward-feedback angle is below four_synapse_fixed_cross's but not clearly below
  feedback_alignment's (95% interval across 0).

A verdict that checks only one ablation, or drops the null, flips one of them.
"""
import json
from pathlib import Path

import pytest

from selfassembly.analysis.verdict import MATCHED_ABLATIONS, random_null, seed_verdicts

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_verdicts.json").read_text())


def _runs(recorded):
    """JSON keys are strings; the verdict's layers are ints."""
    return {p: [{k: ({int(l): x for l, x in v.items()} if isinstance(v, dict) else v) for k, v in e.items()}
                for e in entries] for p, entries in recorded.items()}


@pytest.fixture(scope="module")
def replayed():
    return seed_verdicts(_runs(GOLDEN["runs"]), random_null(GOLDEN["sizes"]))


@pytest.mark.parametrize("preset", ["four_synapse", "four_synapse_fixed_cross", "four_synapse_fixed_u"])
def test_recorded_verdict_replays(replayed, preset):
    assert replayed[preset]["verdict"] == GOLDEN["verdicts"][preset], replayed[preset]["decided_by"]


def test_the_cases_are_what_they_claim(replayed):
    """One ASSEMBLED, one NOT ASSEMBLED by the null, one NOT ASSEMBLED by the second ablation only."""
    assert GOLDEN["verdicts"]["four_synapse"] == "ASSEMBLED"
    assert "random null" in replayed["four_synapse_fixed_cross"]["decided_by"]
    first, second = MATCHED_ABLATIONS
    ff = replayed["four_synapse_fixed_u"]["ablations"]
    assert all(d["high"] < 0 for d in ff[first]["ff"].values())  # clearly below the first ablation
    assert any(not d["high"] < 0 for d in ff[second]["ff"].values())  # not clearly below the second
    assert second in replayed["four_synapse_fixed_u"]["decided_by"]


def test_below_only_the_second_ablation_is_not_assembled():
    """The same recorded tables with the two ablations' runs swapped: four_synapse_fixed_u is then not
    clearly below the first ablation (feedback alignment's angles) and clearly below the second
    (four_synapse_fixed_cross's): still NOT ASSEMBLED, decided by the first."""
    runs = _runs(GOLDEN["runs"])
    first, second = MATCHED_ABLATIONS
    runs[first], runs[second] = runs[second], runs[first]
    got = seed_verdicts(runs, random_null(GOLDEN["sizes"]))["four_synapse_fixed_u"]
    assert got["verdict"] == "NOT ASSEMBLED" and first in got["decided_by"]
