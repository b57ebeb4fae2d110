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


def _softmax_rows(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def test_realized_eq28_against_a_per_round_replay():
    """`realized_truthfulness_check` against a replay written from the definition: every round
    p_t = softmax(sum_j lambda_jt u_j / eta); voter i's report v is played at
    lambda' = lambda_it sd_pt(u_i) / sd_pt(v) with the others' bids kept; M(u_-i, v) is the
    time average. Large influence (small eta), so misreports do gain something."""
    from mechanisms.voting.rules import realized_truthfulness_check

    rng = np.random.default_rng(0)
    t, n, k, eta = 40, 3, 3, 0.05
    u = rng.random((n, k))
    lam = rng.uniform(0.2, 1.5, (t, n))
    lam[30:, 1] = 0.0  # voter 1 depleted: no spend, so no deviation either
    p = _softmax_rows(lam @ u / eta)
    voters = np.array([0, 1])
    rep = realized_truthfulness_check(
        p, lam[:, voters], u, voters, eta, np.random.default_rng(0), grid=4, random=200, local=200, local_scale=0.5
    )

    def sd(w, q):
        return np.sqrt(max(w**2 @ q - (w @ q) ** 2, 0.0))

    def replay(i, v):
        out = np.zeros(k)
        for s in range(t):
            weight = 0.0 if sd(v, p[s]) == 0 else lam[s, i] * sd(u[i], p[s]) / sd(v, p[s])
            z = sum(lam[s, j] * u[j] for j in range(n) if j != i) + weight * v
            out += _softmax_rows(z / eta) / t
        return out

    x_bar = p.mean(axis=0)
    for r, i in enumerate(voters):
        assert rep.benefit_voting[r] == pytest.approx(u[i] @ (x_bar - replay(i, np.zeros(k))), abs=1e-12)
        assert u[i] @ (replay(i, u[i]) - x_bar) == pytest.approx(0.0, abs=1e-12)  # truth replays X-bar
        assert rep.benefit_misreport[r] == pytest.approx(u[i] @ (replay(i, rep.best_misreport[r]) - x_bar), abs=1e-12)
    assert rep.benefit_misreport[0] > 1e-6  # eta small: some misreport does gain


def test_eq28_of_apex_runs_is_evaluated_on_what_the_learners_reached():
    """Issue 14: eq. (28) was computed on Algorithm 2's one-shot rule for both apex and apex2
    (the same numbers whatever the learners did). Now on each run's realized outcome: the
    benefit from voting is u_i . (X-bar - mean_t softmax(sum_{j != i} lambda_jt u_j / eta)),
    recomputed here from every voter's recorded bids."""
    got = {}
    for mech in ("apex", "apex2"):
        res = abm.run("voting", overrides={"rounds": 60, "agents": 6, "params": {"mechanism": mech}}, progress=False)
        truth = res.summary["scenario_summary"]["truthfulness"]
        assert truth["evaluated_on"].startswith("the run's realized outcome")
        model = res.model
        u, eta = model.mechanism.problem.u, model.mechanism.problem.eta
        lam = model.trace.reports[:60]
        x_bar = model.trace.outcome_path.x_bar
        for r, i in enumerate(truth["voters"]):
            others = np.delete(lam, i, axis=1) @ np.delete(u, i, axis=0) / eta
            expected = u[i] @ (x_bar - _softmax_rows(others).mean(axis=0))
            assert truth["benefit_voting"][r] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        got[mech] = truth["benefit_voting"]
    assert got["apex"] != pytest.approx(got["apex2"], rel=1e-6)  # different learners, different outcomes
