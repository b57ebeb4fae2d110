"""LagrangeBwK (Immorlica et al. 2019) and Braverman's bang-per-buck heuristic (§2.1.1) on
a stochastic BwK instance with a known LP optimum."""

import numpy as np
import pytest

import abm
from agents import BangPerBuck, Exp3, Feedback, LagrangeBwK, Observation, make_learner
from agents.experts import Exp3Policy
from agents.swap import HedgeSwapPolicy

T = 20_000
MEANS_R = [0.0, 0.3, 0.6, 0.8, 0.35]
MEANS_C = [0.0, 0.1, 0.5, 0.9, 0.4]


def run_stochastic(learner, mode, seed=0):
    """5 agents = 5 independent replications of the instance (one cohort, separate draws)."""
    res = abm.run(
        {
            "scenario": "bwk-stochastic",
            "rounds": T,
            "agents": 5,
            "seed": seed,
            "record_menus": False,
            "agent_records": "off",
            "learner": {"name": learner},
            "params": {"reward_means": MEANS_R, "cost_means": MEANS_C, "budget_fraction": 0.25, "mode": mode},
        },
        progress=False,
    )
    s = res.summary["scenario_summary"]
    # The scenario's benchmark is the hand-computed LP optimum 0.4125 T (tests/mechanisms/test_bwk.py).
    assert s["opt"][0] == pytest.approx(0.4125 * T)
    assert np.all(res.agent_table["spent"] <= T / 4 + 1e-9)
    return np.array(s["ratio"])


@pytest.mark.slow
def test_lagrange_bwk_reaches_nine_tenths_of_lp_opt():
    """Plain BwK (reports are arms, bandit feedback): Exp3 primal vs Hedge dual."""
    ratio = run_stochastic("lagrange_bwk", "arm")
    assert ratio.mean() >= 0.9, ratio


@pytest.mark.slow
def test_bang_per_buck_reaches_nine_tenths_of_lp_opt():
    """APEX-style reports (bids; the mechanism maximizes lambda rbar - cbar): the learned
    exchange rate settles at the LP's breakpoint 1/lambda = 0.75 between the hull arms."""
    ratio = run_stochastic("bang_per_buck", "bid")
    assert ratio.mean() >= 0.9, ratio


def test_lagrangian_payoff_and_dual_direction():
    """L = u + lambda (1 - c / rho) normalized by [lo, hi] = [-(c_max/rho - 1), r_max + 1];
    overspending raises the multiplier, underspending lowers it."""
    lb = LagrangeBwK.create(2, np.array([25.0, 25.0]), 100, np.random.default_rng(0), grid=[0.0, 1.0])
    assert lb.lam == pytest.approx([0.5, 0.5])
    # rho = 0.25: L(u=1, c=0) = 1.5, L(u=0, c=1) = 0.5 * (1 - 4) = -1.5; lo = -3, hi = 2.
    assert lb._gain(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx([4.5 / 5, 1.5 / 5])
    lb.act(Observation(0, np.ones(2), np.array([25.0, 25.0])))
    lb.observe(Feedback(0, lb.intended, np.zeros(2), np.array([1.0, 0.0]), np.array([24.0, 25.0])))
    assert lb.lam[0] > 0.5 > lb.lam[1]


def test_lagrange_bwk_takes_any_primal_factory():
    lb = LagrangeBwK(3, np.ones(3), 50, np.random.default_rng(0), LagrangeBwK.Params(), primal=Exp3.factory(eta=0.1))
    assert isinstance(lb.policy, Exp3Policy) and lb.policy.eta == 0.1 and lb.feedback == "bandit"
    sw = make_learner("lagrange_bwk", 3, np.ones(3), 50, np.random.default_rng(0), {"base": "blum_mansour_hedge"})
    assert isinstance(sw.policy, HedgeSwapPolicy) and sw.feedback == "full"
    with pytest.raises(ValueError, match="base"):
        make_learner("lagrange_bwk", 3, np.ones(3), 50, np.random.default_rng(0), {"base": "thompson"})
    with pytest.raises(ValueError, match="dual"):
        make_learner("lagrange_bwk", 3, np.ones(3), 50, np.random.default_rng(0), {"dual": "newton"})


def test_bang_per_buck_exchange_rate_step():
    """log r <- log r - eta (rho_t - spend_t) / rho_t: rho = 10/100 = 0.1; agent 0 spent
    0.5 (log r up by 0.5 * 4 = 2), agent 1 spent nothing (log r down by 0.5)."""
    bpb = BangPerBuck.create(2, np.array([10.0, 10.0]), 100, np.random.default_rng(0), step_size=0.5)
    assert bpb.act(Observation(0, np.ones(2), np.full(2, 10.0))) == pytest.approx([1.0, 1.0])
    bpb.observe(Feedback(0, np.ones(2), np.zeros(2), np.array([0.5, 0.0]), np.array([9.5, 10.0])))
    assert np.log(bpb.r) == pytest.approx([2.0, -0.5])
    assert bpb.lambda_ == pytest.approx(np.exp([-2.0, 0.5]))
    with pytest.raises(ValueError, match="r_min"):
        BangPerBuck.create(1, np.ones(1), 10, np.random.default_rng(0), r_min=2.0, r_max=1.0)


# -- several currencies (Braverman 2021 §2.3, Problem 13; ISSS §3, d resources) -------------
def test_lagrange_bwk_keeps_one_hedge_dual_per_currency():
    """Hedge over d = 2 resources plus the dummy: lambda_j = e^{eta s_j} / (1 + sum_k e^{eta s_k}),
    s_j = sum_t (c_tj - rho_j) / cost_max; by hand after one round."""
    budgets = np.array([[25.0, 50.0], [25.0, 50.0]])  # rho = (0.25, 0.5)
    lb = LagrangeBwK.create(2, budgets, 100, np.random.default_rng(0), grid=[0.0, 1.0], dual_eta=0.5)
    assert lb.lam == pytest.approx(np.full((2, 2), 1.0 / 3.0))
    lb.act(Observation(0, np.ones(2), budgets))
    charge = np.array([[1.0, 0.0], [0.0, 0.0]])
    lb.observe(Feedback(0, lb.intended, np.zeros(2), charge, budgets - charge))
    s = np.array([[0.75, -0.5], [-0.25, -0.5]])
    w = np.exp(0.5 * s)
    assert lb.lam == pytest.approx(w / (1.0 + w.sum(axis=1, keepdims=True)))
    # Overspending currency 0 raised its price; the idle currency 1 became cheaper than at start.
    assert lb.lam[0, 0] > 1.0 / 3.0 > lb.lam[0, 1]


def test_lagrange_bwk_gain_with_two_currencies_by_hand():
    """L = u + sum_j lambda_j (1 - c_j / rho_j) on [lo, hi], lo = -max_j (c_max / rho_j - 1)
    (Hedge's lambda in the simplex), hi = r_max + 1."""
    lb = LagrangeBwK.create(1, np.array([[25.0, 50.0]]), 100, np.random.default_rng(0), grid=[0.0, 1.0])
    lam = 1.0 / 3.0
    # rho = (0.25, 0.5): u = 1, c = (1, 0): L = 1 + lam (1 - 4) + lam (1 - 0) = 1 - 2 lam; lo = -3, hi = 2.
    assert lb._gain(np.array([1.0]), np.array([[1.0, 0.0]])) == pytest.approx([(1 - 2 * lam + 3) / 5])


def test_lagrange_bwk_with_several_currencies_refuses_a_full_information_primal():
    with pytest.raises(ValueError, match=r"base: 'hedge'.*2 currencies"):
        LagrangeBwK.create(2, np.ones((2, 2)), 10, np.random.default_rng(0), base="hedge")


def test_one_currency_learners_refuse_several_budgets_naming_the_field():
    with pytest.raises(ValueError, match="budgets: AdaptivePacing handles one currency, got 2"):
        make_learner("adaptive_pacing", 2, np.ones((2, 2)), 10, np.random.default_rng(0))


def test_bang_per_buck_keeps_one_exchange_rate_per_currency():
    """d = 2 budgets (10, 10) over T = 100, step 0.5: rho_j = 0.1 per currency. Agent 0 is
    charged 0.5 in currency 1: its gradient there is 1 - 0.5 * 100 / 10 = -4, so log r_1 rises
    by 2, and log r_0 falls by 0.5 (nothing spent there); its next bid uses currency 1's rate
    alone (its last charge).
    Agent 1 paid nothing: both rates fall by 0.5 and its weights stay uniform."""
    budgets = np.full((2, 2), 10.0)
    bpb = BangPerBuck.create(2, budgets, 100, np.random.default_rng(0), step_size=0.5)
    assert bpb.act(Observation(0, np.ones(2), budgets)) == pytest.approx([1.0, 1.0])
    charge = np.array([[0.0, 0.5], [0.0, 0.0]])
    bpb.observe(Feedback(0, np.ones(2), np.zeros(2), charge, budgets - charge))
    np.testing.assert_allclose(np.log(bpb.r), [[-0.5, 2.0], [-0.5, -0.5]])
    np.testing.assert_array_equal(bpb.weights, [[0.0, 1.0], [0.5, 0.5]])
    assert bpb.lambda_ == pytest.approx([np.exp(-2.0), np.exp(0.5)])
    assert bpb.act(Observation(1, np.ones(2), budgets - charge)) == pytest.approx([np.exp(-2.0), np.exp(0.5)])


def test_bang_per_buck_plays_course_allocation_terms():
    """d = 2 end to end with the bang-per-buck rule: no currency overdrawn, both used."""
    model = abm.MechanismModel(scenario="course-allocation-terms", agents=4, rounds=30, menu_points=4,
                               learner={"name": "bang_per_buck"}, **{"welfare_rounds": 3})
    while model.running:
        model.step()
    ledger = model.ledger
    ledger.check_invariants()
    assert np.all(ledger.remaining >= 0) and (ledger.spent.sum(axis=0) > 0).all()
