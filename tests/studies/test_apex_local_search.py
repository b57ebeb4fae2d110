"""`mechsim study apex-local-search --quick`: every claim holds (exact H: optimal, no
negative charge, eq. (13) never violated; local search at most the optimum), the
informational rows are there, and the four outputs exist."""

from __future__ import annotations

import pandas as pd

from abm.runs.study import run_study


def test_apex_local_search_quick(tmp_path):
    result = run_study("apex-local-search", quick=True, executor="serial", out=tmp_path, progress=False)
    claims = result.findings.claims
    assert all(c.holds is not False for c in claims), [c for c in claims if c.holds is False]
    checked = [c for c in claims if c.holds is True]
    assert len(checked) == 2 * 4  # two scenarios x (3 exact-H claims + local search <= optimum)
    assert sum(c.holds is None for c in claims) == 2 * 3
    for name in ("runs.parquet", "summary.csv", "apex-local-search.png", "report.md"):
        assert (tmp_path / name).is_file(), name
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    assert set(runs["params.heuristic"]) == {"local_search", "exact"} and set(runs["agents"]) == {3, 6}
    exact = runs[runs["params.heuristic"] == "exact"]
    assert (exact["scenario_summary.welfare.ratio_min"] >= 1 - 1e-7).all()
    local = runs[runs["params.heuristic"] == "local_search"]
    assert (local["scenario_summary.welfare.ratio_mean"] <= 1 + 1e-7).all()
    table = pd.read_csv(tmp_path / "apex_local_search.csv")
    assert {"welfare_ratio", "negative_charge_rate", "monotonicity_violation_rate", "strong_regret_per_round",
            "per_round_seconds"} <= set(table.columns)
    assert set(table["heuristic"]) == {"local_search", "exact"} and set(table["agents"]) == {3, 6}
