"""`mechsim study pacing-equilibrium --quick` (Onyeze et al. 2025 Theorem 5.1, Corollary 5.4): the
ex-ante core factor at the solved focal pacing equilibrium is at most H_n - 1 for Moulin and
Potential at every n of the grid, and the four outputs exist."""

from __future__ import annotations

import pytest

from abm.runs.study import run_study
from scenarios.studies.pacing_equilibrium import harmonic_minus_one


def test_harmonic_minus_one_closed_form():
    assert harmonic_minus_one(2) == pytest.approx(0.5)
    assert harmonic_minus_one(4) == pytest.approx(1 / 2 + 1 / 3 + 1 / 4)


def test_pacing_equilibrium_quick(tmp_path):
    result = run_study("pacing-equilibrium", quick=True, out=tmp_path, executor="serial", progress=False)
    assert result.failed == 0
    claims = result.findings.claims
    assert all(c.holds is not False for c in claims), [c for c in claims if c.holds is False]
    bound = [c for c in claims if "at the focal pacing equilibrium: ex-ante" in c.quantity and c.holds is not None]
    assert sorted(c.quantity.split(" at ")[0] for c in bound) == ["Moulin", "Moulin", "Potential", "Potential"]
    assert all(c.holds is True for c in bound)
    for name in ("runs.parquet", "summary.csv", "pacing-equilibrium.png", "pacing-equilibrium.pdf", "report.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    runs = result.runs
    eq = runs[runs["part"].str.endswith("-equilibrium")]
    assert eq["scenario_summary.pacing_equilibrium.converged"].all()
    frontier = runs[runs["part"] == "frontier-T"]
    assert (frontier["frontier.delta.0"] >= frontier["frontier.delta.4"]).all()
    assert "frontier" in result.findings.tables
