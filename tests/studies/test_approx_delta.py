"""`mechsim study approx-delta --quick` (Chiesa, Micali, Zhu 2012, Thm 2, Thms 3-4): every claim
holds with learners restricted to undominated bids, the four outputs exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abm.runs.study import run_study
from mechanisms.approx_valuations.auctions import optimal_guarantee, second_price_guarantee


def test_quick_study_claims_hold_and_outputs_exist(tmp_path):
    res = run_study("approx-delta", quick=True, executor="serial", out=tmp_path, progress=False)
    assert res.failed == 0
    for c in res.findings.claims:
        assert c.holds is not False, c
    assert sum(c.holds is True for c in res.findings.claims) == 6
    for name in ("runs.parquet", "summary.csv", "approx-delta.png", "approx-delta.pdf", "report.md"):
        assert (tmp_path / name).is_file(), name
    # Every learned run bid inside K_i: the study's default restriction reached the learners.
    assert (res.runs["scenario_summary.bids_in_K_fraction"] == 1.0).all()
    for path in res.runs["path"]:
        config = json.loads((Path(path) / "summary.json").read_text())["config"]
        assert config["learner"]["undominated"] is True
    table = res.findings.tables["delta_sweep"]
    assert (table["worst_case_found"] >= table["guarantee"] - 1e-9).all()


def test_the_check_point_by_hand():
    """delta = 1/2, n = 2: second price (1/3)^2 = 1/9, M_f (1/4 + 1)/(9/4) = 5/9: five times as much."""
    assert second_price_guarantee(0.5, 2) == pytest.approx(1 / 9)
    assert optimal_guarantee(0.5, 2) == pytest.approx(5 / 9)
