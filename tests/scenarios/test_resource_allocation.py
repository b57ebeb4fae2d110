"""The resource-allocation scenario (Zhu): endowment process, date adapter, end to end."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binom

from abm.config import ConfigError
from abm.runs.runner import run
from mechanisms.base import Reports
from mechanisms.linked_vcg import Economy, LinkedVCG, ResourceAllocationRound
from mechanisms.registry import MECHANISMS
from scenarios.resource_allocation import BinomialEndowments


def endowments() -> tuple[BinomialEndowments, np.ndarray, np.ndarray]:
    pi = np.array([[0.0, 1.0, 0.6], [0.0, 0.4, 1.2]])
    lo, hi = np.clip(pi - 0.25, 0, None), pi + 0.25
    return BinomialEndowments(pi, trials=3, rho=0.5), lo, hi


def test_prob_outside_is_a_martingale_exactly():
    """X_s = P(mu^n not in Omega^n | mu^n|_s) (§5) satisfies E[X_{s+1} | F_s] = X_s: enumerate
    every next-date outcome of the binomial counts with its probability."""
    endow, lo, hi = endowments()
    horizon = 4
    rng = np.random.default_rng(0)
    mu = endow.sample(horizon, rng)
    x = endow.prob_outside(mu, lo, hi)
    for s in range(horizon):
        for n in range(2):
            expect = 0.0
            for counts in itertools.product(range(endow.trials + 1), repeat=2):  # types 1 and 2
                nxt = mu.copy()
                nxt[n, s, 1:] = np.array(counts) * endow.unit[n, 1:]
                prob = np.prod(binom.pmf(counts, endow.trials, endow.rho))
                expect += prob * endow.prob_outside(nxt, lo, hi)[n, s + 1]
            assert expect == pytest.approx(x[n, s], abs=1e-12)


def test_prob_outside_endpoints_and_monte_carlo():
    """X_T is the indicator of leaving Omega^n; X_0 matches a Monte Carlo frequency."""
    endow, lo, hi = endowments()
    horizon = 5
    rng = np.random.default_rng(1)
    econ = Economy(np.array([[3.0, 0.0], [0.0, 3.0], [1.0, 0.5]]), np.array([1.0, 1.0]))
    mech = LinkedVCG(econ, horizon, lo, hi)
    draws = [endow.sample(horizon, rng) for _ in range(3000)]
    outside = np.array([~mech.in_confidence_set(mu) for mu in draws])
    for mu in draws[:50]:
        x = endow.prob_outside(mu, lo, hi)
        np.testing.assert_array_equal(x[:, -1], (~mech.in_confidence_set(mu)).astype(float))
    x0 = endow.prob_outside(draws[0], lo, hi)[:, 0]
    se = np.sqrt(x0 * (1 - x0) / len(draws))
    assert np.all(np.abs(outside.mean(axis=0) - x0) < 4 * se + 1e-3)


def test_lemma5_maximal_inequality_on_the_conditional_probabilities():
    """Lemma 5: for the nonnegative martingale X_s, P(exists s: X_s >= Xbar) <= X_0 / Xbar."""
    endow, lo, hi = endowments()
    horizon = 6
    rng = np.random.default_rng(2)
    paths = np.stack([endow.prob_outside(endow.sample(horizon, rng), lo, hi) for _ in range(2000)])
    x0 = paths[0, :, 0]
    for xbar in (0.5, 0.8):
        hit = (paths.max(axis=2) >= xbar).mean(axis=0)
        assert np.all(hit <= x0 / xbar + 3 * np.sqrt(x0 / xbar / len(paths)))


def test_stylized_draws_lie_in_the_intervals():
    endow, lo, hi = endowments()
    mu = endow.sample_stylized(6, lo, hi, np.random.default_rng(3))
    avg = mu.mean(axis=1)
    assert (avg >= lo - 1e-12).all() and (avg <= hi + 1e-12).all()
    with pytest.raises(ValueError, match="halfwidth"):
        endow.sample_stylized(6, lo + 0.11, lo + 0.111, np.random.default_rng(3))


def small_mech() -> tuple[LinkedVCG, np.ndarray]:
    endow, lo, hi = endowments()
    econ = Economy(np.array([[3.0, 0.0], [0.0, 3.0], [1.0, 0.5]]), np.array([1.5, 1.2]))
    horizon = 4
    truth = endow.sample_stylized(horizon, lo, hi, np.random.default_rng(4))
    return LinkedVCG(econ, horizon, lo, hi), truth


def test_adapter_dates_match_the_batch_mechanism():
    """Date by date with truthful scalings the adapter allocates like LinkedVCG.allocate on
    [mu], and the round utilities (payoff + accrual) add up to payoff + uW^n([mu])."""
    mech, truth = small_mech()
    adapter = ResourceAllocationRound(mech, truth, linked=True)
    rng = np.random.default_rng(0)
    total = np.zeros(2)
    for t in range(mech.horizon):
        res = adapter.run_round(Reports(np.ones(2), np.ones(2)), rng)
        batch = mech.allocate(mech.retract(truth))
        np.testing.assert_allclose(res.outcome, batch.invested[t], atol=1e-10)
        total += res.utilities
    settled = mech.linked_transfers(truth)
    own = mech.realized_payoffs(settled.allocation, truth)[:, 1:].sum(axis=0)
    np.testing.assert_allclose(total, own + settled.unlinked_retracted, rtol=1e-9)
    with pytest.raises(RuntimeError, match="horizon"):
        adapter.run_round(Reports(np.ones(2), np.ones(2)), rng)


def test_adapter_menu_matches_replaying_the_date():
    """menu_all's counterfactual for a scaling equals re-running the date with it."""
    mech, truth = small_mech()
    rng = np.random.default_rng(0)
    played = np.array([[1.0, 1.0], [1.5, 0.7], [0.4, 1.0]])  # dates 1..3
    adapter = ResourceAllocationRound(mech, truth, linked=True)
    for t in range(3):
        adapter.run_round(Reports(played[t], np.ones(2)), rng)
    alts = np.array([[0.0, 0.5, 1.0, 1.9], [0.2, 1.0, 1.3, 2.0]])
    menu_u, menu_c = adapter.menu_all(alts, Reports(played[2], np.ones(2)))
    assert (menu_c == 0).all()
    for k in range(2):
        for j, lam in enumerate(alts[k]):
            replay = ResourceAllocationRound(mech, truth, linked=True)
            for t in range(3):
                bids = played[t].copy()
                if t == 2:
                    bids[k] = lam
                res = replay.run_round(Reports(bids, np.ones(2)), rng)
            assert menu_u[k, j] == pytest.approx(res.utilities[k], rel=1e-9, abs=1e-12)


def test_end_to_end_truthful_run():
    """`abm.runs.runner.run` on the scenario: linked cost <= unlinked cost, efficient, and the
    ex-post incentive check passes for truthful agents inside their intervals."""
    result = run("resource-allocation", overrides={"rounds": 4, "agents": 3, "misreports": 8}, progress=False)
    s = result.summary["scenario_summary"]
    assert s["cost_linked"] <= s["cost_unlinked"] + 1e-9
    assert s["efficiency"] == pytest.approx(1.0, abs=1e-9)
    assert all(s["agents_in_confidence_set"])
    assert s["incentive_check"]["ex_post_ic_holds"]
    assert len(s["incentive_check"]["per_agent"]) == 3
    assert (np.asarray(s["transfers_linked"]) >= 0).all()
    assert len(result.rounds) == 4


def test_end_to_end_misreporting_and_true_model(tmp_path):
    """Over-claiming learners (report 2x via value_scaling beta = 0.5) in the iid true model:
    the run completes, writes its outputs, and reports §5's quantities."""
    result = run(
        "resource-allocation",
        overrides={"rounds": 3, "agents": 2, "learner.name": "value_scaling", "learner.params": {"beta": 0.5},
                   "endowments": "iid", "misreports": 4, "mechanism": "unlinked"},
        progress=False,
        out=tmp_path,
    )
    s = result.summary["scenario_summary"]
    assert s["mechanism"] == "unlinked"
    assert s["efficiency"] <= 1 + 1e-9
    eps = s["eps_ex_post"]
    assert 0 <= eps["delta_P_outside"] <= 1 and 0 <= eps["conjecture_c"] <= 1
    assert (tmp_path / "summary.json").exists()


def test_params_are_validated_with_field_names():
    with pytest.raises(ConfigError, match="project_types must exceed resources"):
        run("resource-allocation", overrides={"rounds": 2, "resources": 3, "project_types": 3}, progress=False)
    with pytest.raises(ConfigError, match="halfwidth"):
        run("resource-allocation", overrides={"rounds": 2, "halfwidth": -1.0}, progress=False)
    with pytest.raises(ConfigError, match=r"params.mechanism: unknown mechanism 'vcg' in family 'linked_vcg'; "
                       r"available: linked, unlinked"):  # fmt: skip
        run("resource-allocation", overrides={"rounds": 2, "mechanism": "vcg"}, progress=False)


def test_the_linked_vcg_family_builds_the_date_adapter():
    """`mechanism = linked | unlinked` names the `linked_vcg` family's factories (mech, truth)."""
    mech, truth = small_mech()
    assert MECHANISMS.names("linked_vcg") == ["linked", "unlinked"]
    for name, linked in (("linked", True), ("unlinked", False)):
        adapter = MECHANISMS.get(name, family="linked_vcg")(mech, truth)
        assert isinstance(adapter, ResourceAllocationRound) and adapter.linked is linked and adapter.truth is truth


def test_small_agents_design_needs_theorem2_horizon():
    """§6.3: T[k] = ceil(k^kappa); with 9 agents and kappa = 0.5 the horizon must be 3."""
    with pytest.raises(ConfigError, match=r"rounds = ceil\(agents\^kappa\) = 3"):
        run("resource-allocation", overrides={"rounds": 4, "agents": 9, "design": "small-agents"}, progress=False)
    result = run(
        "resource-allocation",
        overrides={"rounds": 3, "agents": 9, "design": "small-agents", "halfwidth": 0.3, "incentive_agents": 2,
                   "misreports": 4},
        progress=False,
    )
    s = result.summary["scenario_summary"]
    assert s["cost_linked"] < s["cost_unlinked"]
    assert 0 <= s["small_agents_conjecture_c"] <= 1


def test_one_vbar_in_the_design_and_the_eps_ex_post_summary():
    """Issue 14: v-bar was the base economy's in the §6.3 design and the run economy's (k times
    larger) in eps_ex_post. Both now report the run economy's v(q_bar, inf 1) (Zhu 2021 §5):
    here 9 agents x 2.0 of the one resource on the best ratio type."""
    result = run(
        "resource-allocation",
        overrides={"rounds": 3, "agents": 9, "design": "small-agents", "halfwidth": 0.3, "incentive_agents": 1,
                   "misreports": 2, "endowments": "iid"},
        progress=False,
    )
    s = result.summary["scenario_summary"]
    econ = result.model.mechanism.mech.economy
    assert s["eps_ex_post"]["vbar"] == pytest.approx(s["small_agents_vbar"]) == pytest.approx(econ.vbar())
    assert econ.q_bar.tolist() == [9 * 2.0] * econ.n_resources
    assert "this run's economy" in s["eps_ex_post"]["vbar_definition"]


def test_stylized_halfwidth_holds_the_truth_fixed_across_widths():
    """Common random numbers (Zhu 2021 §2-4 stylized model): conditioned on stylized_halfwidth, the
    true endowments do not move with the mechanism's halfwidth, and lie in the narrowest interval."""

    def truth(d: float, d_true: float | None) -> tuple[np.ndarray, LinkedVCG]:
        over = {"rounds": 4, "agents": 3, "incentive_agents": 0, "halfwidth": d, "seed": 3}
        if d_true is not None:
            over["stylized_halfwidth"] = d_true
        adapter = run("resource-allocation", overrides=over, progress=False).model.mechanism
        return adapter.truth.copy(), adapter.mech

    narrow, mech = truth(0.15, 0.15)
    for d in (0.5, 2.0):
        wide, wide_mech = truth(d, 0.15)
        np.testing.assert_array_equal(wide, narrow)
        np.testing.assert_allclose(wide_mech.mu_high - mech.mu_high, d - 0.15)  # same pi, wider interval
    # Without it each width conditions on its own d: the 0.15 draw is rejected more often,
    # so the truths differ.
    assert not np.array_equal(truth(2.0, None)[0], narrow)
    avg = narrow.mean(axis=1)  # (N, I) T-date averages, inside the narrowest interval
    assert np.all(avg >= mech.mu_low - 1e-12) and np.all(avg <= mech.mu_high + 1e-12)


def test_stylized_halfwidth_must_fit_inside_the_intervals():
    with pytest.raises(ConfigError, match=r"stylized_halfwidth must be <= halfwidth \(0.4\)"):
        run("resource-allocation", overrides={"rounds": 2, "stylized_halfwidth": 0.5}, progress=False)
