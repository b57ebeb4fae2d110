"""`mechsim study hz-regularized-delta --quick` (Braverman 2021, Theorem 13): every claim holds
and the four outputs are written."""

from __future__ import annotations

from abm.runs.study import run_study


def test_quick_claims_hold_and_outputs_exist(tmp_path):
    result = run_study("hz-regularized-delta", quick=True, out=tmp_path, executor="serial", progress=False)
    for claim in result.findings.claims:
        assert claim.holds is not False, claim
    assert sum(c.holds is True for c in result.findings.claims) >= 2
    for name in ("runs.parquet", "summary.csv", "hz-regularized-delta.png", "hz-regularized-delta.pdf", "report.md"):
        assert (tmp_path / name).is_file(), name
