"""`mechsim study hz-vs-horizon --quick` (Braverman 2021, §3.2, Theorem 5): every claim holds
and the four outputs are written."""

from __future__ import annotations

from abm.runs.study import run_study


def test_quick_claims_hold_and_outputs_exist(tmp_path):
    result = run_study("hz-vs-horizon", quick=True, out=tmp_path, executor="serial", progress=False)
    for claim in result.findings.claims:
        assert claim.holds is not False, claim
    assert sum(c.holds is True for c in result.findings.claims) >= 4
    for name in ("runs.parquet", "summary.csv", "hz-vs-horizon.png", "hz-vs-horizon.pdf", "report.md"):
        assert (tmp_path / name).is_file(), name
