"""`mechsim study linked-savings --quick` (Zhu 2021, Theorem 1, §6.3): linked <= unlinked at every
width with the endowments held fixed across widths, per agent and in total; the small-agents
design; and the four outputs."""

from __future__ import annotations

import numpy as np

from abm.runs.study import run_study


def test_linked_savings_quick(tmp_path):
    result = run_study("linked-savings", quick=True, out=tmp_path, executor="serial", progress=False)
    assert result.failed == 0
    claims = result.findings.claims
    assert all(c.holds is not False for c in claims), [c for c in claims if c.holds is False]
    per_width = [c for c in claims if c.quantity.startswith("linked / unlinked VCG cost, d = ")]
    assert len(per_width) == 5 and all(c.holds is True for c in per_width)
    for name in ("runs.parquet", "summary.csv", "linked-savings.png", "linked-savings.pdf", "report.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    widths = result.runs[result.runs["part"] == "widths"]
    # Theorem 1 from the raw transfers, independently of the study's claims: every agent, every run.
    ratios = widths[[f"agent_ratio.{k}" for k in range(4)]].to_numpy()
    assert np.all(ratios <= 1 + 1e-9)
    # Nested intervals, truthful reports inside all of them: the Groves base can only fall as d grows.
    for _, g in widths.groupby("seed"):
        g = g.sort_values("params.halfwidth")
        assert np.all(np.diff(g[[f"agent_ratio.{k}" for k in range(4)]].to_numpy(), axis=0) >= -1e-9)
        assert np.ptp(g["scenario_summary.cost_unlinked"]) == 0.0  # the same endowments at every d
    assert "reproduces for one agent only" in (tmp_path / "report.md").read_text()
