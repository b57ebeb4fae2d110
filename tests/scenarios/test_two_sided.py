"""The `two-sided` scenario end to end through `abm.runs.runner.run` (Braverman 2021 §3.3)."""

from __future__ import annotations

import numpy as np
import pytest

import abm
from scenarios.two_sided import plot_panels


def test_instance_34_with_equal_budgets_mixes_m1_and_m2_and_equalizes_externalities(tmp_path):
    """Equal budgets and identical learners keep the bids equal (the instance is symmetric
    under swapping sides and relabelling), so X-bar = (M1 + M2) / 2 and every
    externality is 1/2, while the stable matching M1 has externalities 0 and 1."""
    res = abm.run("two-sided", overrides={"instance": "34", "agents": 4, "rounds": 40}, out=tmp_path, progress=False)
    s = res.summary["scenario_summary"]
    np.testing.assert_allclose(s["pair_probability"], 0.5, atol=1e-6)
    np.testing.assert_allclose(s["outcome"]["externality"], 0.5, atol=1e-6)
    assert s["stable_matching_hospitals"] == [1, 0] and s["stable_matching_doctors"] == [1, 0]
    assert sorted(s["da_hospitals"]["externality"]) == pytest.approx([0.0, 0.0, 1.0, 1.0])
    assert s["da_hospitals"]["blocking_pairs"] == 0
    assert s["outcome"]["blocking_mass"] == pytest.approx(0.5)
    assert s["outcome"]["total_utility"] == pytest.approx(2.0)
    assert res.summary["total_spent"] > 0


def test_assortative_apex_uniform_while_deferred_acceptance_is_assortative():
    res = abm.run("two-sided", overrides={"instance": "assortative", "agents": 8, "rounds": 20}, progress=False)
    s = res.summary["scenario_summary"]
    np.testing.assert_allclose(s["pair_probability"], 0.25, atol=1e-6)
    assert s["stable_matching_hospitals"] == [0, 1, 2, 3]
    assert s["outcome"]["blocking_pairs"] > 0 and s["da_hospitals"]["blocking_pairs"] == 0


@pytest.mark.parametrize("mechanism", ["da_hospitals", "da_doctors"])
def test_deferred_acceptance_runs_with_zero_charges(mechanism):
    res = abm.run("two-sided", overrides={"mechanism": mechanism, "rounds": 10}, progress=False)
    s = res.summary["scenario_summary"]
    assert res.summary["total_spent"] == 0.0
    x = np.asarray(s["pair_probability"])
    side = "hospitals" if mechanism == "da_hospitals" else "doctors"
    np.testing.assert_array_equal(x.argmax(axis=1), s[f"stable_matching_{side}"])
    assert s["outcome"]["blocking_pairs"] == 0


def test_default_apex_run_reports_all_metrics_and_plots(tmp_path):
    res = abm.run("two-sided", overrides={"rounds": 15}, out=tmp_path, progress=False)
    s = res.summary["scenario_summary"]
    x = np.asarray(s["pair_probability"])
    np.testing.assert_allclose(x.sum(0), 1.0, atol=1e-7)
    np.testing.assert_allclose(x.sum(1), 1.0, atol=1e-7)
    for key in ("outcome", "da_hospitals", "da_doctors"):
        assert {"blocking_pairs", "blocking_mass", "total_utility", "externality"} <= set(s[key])
        assert len(s[key]["externality"]) == 10
        assert min(s[key]["externality"]) >= -1e-9
    assert (res.agent_table["spent"] <= res.agent_table["budget"] + 1e-9).all()
    paths = plot_panels(tmp_path)
    assert paths[0].name == "two_sided_pairs.png" and paths[0].stat().st_size > 1000


def test_bad_agent_counts_raise():
    with pytest.raises(ValueError, match="even"):
        abm.run("two-sided", overrides={"agents": 5, "rounds": 2}, progress=False)
    with pytest.raises(ValueError, match="agents must be 4"):
        abm.run("two-sided", overrides={"agents": 6, "instance": "33", "rounds": 2}, progress=False)
