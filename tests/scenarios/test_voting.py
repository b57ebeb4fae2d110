"""The `voting` scenario end to end through `abm.runs.runner.run` (Braverman 2021 §3.1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import abm
from abm.config import ConfigError
from scenarios.voting import MECHANISMS, plot_panels


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_every_mechanism_runs_and_reports_the_metrics(mechanism, tmp_path):
    res = abm.run(
        "voting",
        overrides={"mechanism": mechanism, "rounds": 30, "agents": 12, "truth_voters": 2, "truth_random": 4},
        out=tmp_path,
        progress=False,
    )
    s = res.summary["scenario_summary"]
    assert res.summary["mechanism"] == mechanism.replace("dictatorship", "randomized_dictatorship").replace(
        "quadratic", "quadratic_voting"
    )
    p = np.asarray(s["lottery_mean"])
    assert p.shape == (4,) and p.min() >= 0 and p.sum() == pytest.approx(1.0)
    assert 0.0 <= s["welfare"] <= 1.0
    assert s["externality_max"] >= s["externality_mean"] >= 0.0
    t = s["truthfulness"]
    assert len(t["benefit_misreport"]) == 2 and min(t["benefit_misreport"]) >= 0.0
    assert set(s["sincere_rules"]) == {"apex", "quadratic", "plurality", "dictatorship"}
    assert len(s["trace"]["rounds"]) == 30
    # budgets are never overdrawn and the ledger conserves tokens (checked every round)
    assert (res.agent_table["spent"] <= res.agent_table["budget"] + 1e-9).all()
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["scenario_summary"]["lottery_mean"] == pytest.approx(s["lottery_mean"])


def test_compromise_profile_apex_selects_c_where_dictatorship_cannot(tmp_path):
    """§3.1: A >= C >> B / B >= C >> A. Randomized dictatorship never picks C; APEX does."""
    common = {"profile": "compromise", "rounds": 40, "agents": 10, "truth_voters": 0}
    apex = abm.run("voting", overrides={**common, "mechanism": "apex"}, progress=False)
    rd = abm.run("voting", overrides={**common, "mechanism": "dictatorship"}, progress=False)
    p_apex = apex.summary["scenario_summary"]["lottery_mean"]
    p_rd = rd.summary["scenario_summary"]["lottery_mean"]
    assert p_rd[2] == 0.0
    assert p_apex[2] > max(p_apex[0], p_apex[1])
    assert apex.summary["scenario_summary"]["welfare"] > rd.summary["scenario_summary"]["welfare"]


def test_apex2_spends_budgets_and_matches_apex_outcomes_closely():
    common = {"rounds": 60, "agents": 20, "truth_voters": 0, "eta": 0.05}
    a1 = abm.run("voting", overrides={**common, "mechanism": "apex"}, progress=False)
    a2 = abm.run("voting", overrides={**common, "mechanism": "apex2"}, progress=False)
    np.testing.assert_allclose(
        a1.summary["scenario_summary"]["lottery_mean"], a2.summary["scenario_summary"]["lottery_mean"], atol=0.05
    )
    assert a2.summary["total_spent"] > 0


def test_adaptive_pacing_learner_also_works():
    res = abm.run(
        "voting", overrides={"rounds": 20, "agents": 6, "learner.name": "adaptive_pacing", "truth_voters": 0},
        progress=False,
    )
    assert res.summary["learner"] == "adaptive_pacing"


def test_plot_panels_writes_the_lottery_figure(tmp_path):
    abm.run("voting", overrides={"rounds": 15, "agents": 6, "truth_voters": 0}, out=tmp_path, progress=False)
    paths = plot_panels(tmp_path)
    assert [p.name for p in paths] == ["voting_lottery.png"] and paths[0].stat().st_size > 1000


def test_invalid_params_name_the_field():
    with pytest.raises(ConfigError, match="alternatives"):
        abm.run("voting", overrides={"profile": "intensity", "alternatives": 5, "rounds": 2}, progress=False)
    with pytest.raises(ConfigError, match="mechanism"):
        abm.run("voting", overrides={"mechanism": "borda", "rounds": 2}, progress=False)
