"""`mechsim study core-vs-n --quick` (Onyeze et al. 2025, §6 Theorem 6.1; Theorem 3.6): Moulin
within 15% of H_n - 1 - n eps at every n, Proportional at the pacing equilibrium below 0.05 at
the largest T, and the four outputs."""

from __future__ import annotations

import pytest

from abm.runs.study import run_study
from scenarios.studies.core_vs_n import harmonic_bound


def test_harmonic_bound_closed_form():
    assert harmonic_bound(2, 0.01) == pytest.approx(0.48)
    assert harmonic_bound(8, 0.01) == pytest.approx(1 / 2 + 1 / 3 + 1 / 4 + 1 / 5 + 1 / 6 + 1 / 7 + 1 / 8 - 0.08)


def test_core_vs_n_quick(tmp_path):
    result = run_study("core-vs-n", quick=True, out=tmp_path, executor="serial", progress=False)
    assert result.failed == 0
    claims = result.findings.claims
    assert all(c.holds is not False for c in claims), [c for c in claims if c.holds is False]
    moulin = [c for c in claims if c.quantity.startswith("Moulin (truthful) ex-post")]
    assert [c.quantity.rsplit("= ", 1)[1] for c in moulin] == ["2", "4", "6"]
    assert all(c.holds is True for c in moulin)
    prop = [c for c in claims if c.quantity.startswith("Proportional ex-post core factor at the largest T")]
    assert len(prop) == 1 and prop[0].holds is True
    for name in ("runs.parquet", "summary.csv", "core-vs-n.png", "core-vs-n.pdf", "report.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    # The equilibrium beta lies in (1, H_n - n eps], where C_i(beta) = alpha_i (Theorem 3.6).
    runs = result.runs[result.runs["part"] == "proportional"]
    beta = runs["scenario_summary.pacing_equilibrium.beta"]
    assert ((beta > 1) & (beta <= [harmonic_bound(int(n), 0.01) + 1 for n in runs["agents"]])).all()
