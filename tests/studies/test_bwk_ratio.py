"""`mechsim study bwk-ratio --quick` (Braverman 2021 §2.3.3): every claim holds, the four outputs exist."""

from __future__ import annotations

import pandas as pd
import pytest

from abm.runs.study import run_study
from agents import LEARNERS
from scenarios.bwk_toy import toy_table

#: The learners of the `agents` package (other tests register more into the same registry).
BUILT_IN = sorted(e.name for e in LEARNERS.entries() if e.obj.__module__.startswith("agents."))


def test_quick_study_claims_hold_and_outputs_exist(tmp_path):
    res = run_study("bwk-ratio", quick=True, executor="serial", out=tmp_path, progress=False,
                    options={"learners": BUILT_IN})
    assert res.failed == 0
    for c in res.findings.claims:
        assert c.holds is not False, c
    assert sum(c.holds is True for c in res.findings.claims) >= 11
    # Problem 7 (variants 1-5): the oracle, the toy bound, the stationary rise, the Bernoulli gap.
    p7 = [c for c in res.findings.claims if "Problem 7" in c.citation.section]
    assert len(p7) == 5 and sum(c.holds is True for c in p7) == 4
    toy7 = res.findings.tables["problem7_toy"]
    assert set(toy7["variant"]) == {"1", "2", "3", "4", "5"} and (toy7["worst_max"] <= 2 / 3 + 0.02).all()
    bern = res.findings.tables["problem7_bernoulli"].set_index(["game", "feedback"])["ratio_hindsight"]
    assert bern.loc["concave"].min() >= 0.9 > 0.6 >= bern.drop("concave").max()
    for name in ("runs.parquet", "summary.csv", "bwk-ratio.png", "bwk-ratio.pdf", "report.md"):
        assert (tmp_path / name).is_file(), name
    report = (tmp_path / "report.md").read_text()
    assert "T/4" in report and "T/2" in report  # the paper's additive regret, corrected
    assert "Eq. (24)" in report  # the paper's concavity claim, qualified
    toy = res.findings.tables["toy"]
    assert set(toy["learner"]) == set(BUILT_IN)
    assert (toy["worst"] <= 2 / 3 + 0.02).all()


def test_toy_table_by_hand():
    """Two seeds of one strategy: ratios (pays 2, pays 0) = (0.75, 0.5) and (0.7, 0.6); the
    worst case per seed is 0.5 and 0.6, mean 0.55; worst regret per round max(.25, 0) and max(.3, .2)."""
    runs = pd.DataFrame({
        "learner": ["a"] * 4, "seed": [0, 0, 1, 1], "second_half_reward": [2.0, 0.0, 2.0, 0.0],
        "ratio": [0.75, 0.5, 0.7, 0.6], "regret_per_round": [0.25, 0.0, 0.3, 0.2],
    })
    row = toy_table(runs).loc["a"]
    assert row["worst"] == pytest.approx(0.55)
    assert row["ratio_r2=2"] == pytest.approx(0.725) and row["ratio_r2=0"] == pytest.approx(0.55)
    assert row["worst_regret_per_round"] == pytest.approx(0.275)
    assert row["worst_lo"] < 0.55 < row["worst_hi"]
