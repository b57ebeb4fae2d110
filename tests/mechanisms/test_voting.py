"""Voting on the simplex (Braverman 2021 §3.1): the APEX problem, the baselines, the
equilibrium rules, eq. (28), and the section's examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from mechanisms.apex.algorithm1 import Apex
from mechanisms.base import Mechanism, Reports
from mechanisms.voting.mechanisms import (
    LinearPrincipal,
    Plurality,
    QuadraticPrincipal,
    QuadraticVoting,
    RandomizedDictatorship,
    SimplexVoting,
    normalize_utilities,
    voting_externalities,
)
from mechanisms.voting.rules import (
    apex_equilibrium,
    apex_rule,
    dictatorship_rule,
    misreport_candidates,
    plurality_rule,
    quadratic_rule,
    truthfulness_check,
)
from mechanisms.voting.simplex import entropy, log_sum_exp, mirror_ascent, softmax, tangent_basis

RNG = np.random.default_rng(7)


def scipy_argmax(lin: np.ndarray, eta: float, f0=None, grad_f0=None) -> np.ndarray:
    """Independent solver: SLSQP on max lin.p + f0(p) + eta H(p) over the simplex."""
    k = lin.shape[0]

    def obj(p):
        q = np.clip(p, 1e-15, None)
        return -(lin @ q + (0.0 if f0 is None else f0(q)) - eta * (q * np.log(q)).sum())

    res = minimize(
        obj,
        np.full(k, 1.0 / k),
        method="SLSQP",
        bounds=[(1e-12, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1.0}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    return res.x


# --- normalization and validation ------------------------------------------------------
def test_normalize_each_voter_to_min0_max1_and_indifferent_to_zero():
    u = normalize_utilities([[12, 11, -23], [2, 1, -3], [5, 5, 5]])
    np.testing.assert_allclose(u[0], [1.0, 34 / 35, 0.0])
    np.testing.assert_allclose(u[1], [1.0, 0.8, 0.0])
    np.testing.assert_array_equal(u[2], [0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("bad", "match"),
    [([1.0, 2.0], "2-d"), ([[1.0]], "alternatives"), ([[1.0, np.nan]], r"utilities\[0, 1\]")],
)
def test_bad_utilities_raise_value_error_naming_the_field(bad, match):
    with pytest.raises(ValueError, match=match):
        normalize_utilities(bad)


def test_bad_eta_raises():
    with pytest.raises(ValueError, match="eta"):
        SimplexVoting([[0, 1]], eta=0.0)


# --- the heuristic --------------------------------------------------------------------
def test_softmax_is_the_exact_entropy_regularized_maximizer():
    for _ in range(5):
        s, eta = RNG.normal(size=4) * 2, RNG.uniform(0.3, 2.0)
        p = softmax(s, eta)
        q = scipy_argmax(s, eta)
        np.testing.assert_allclose(p, q, atol=1e-5)
        # and its value is eta * logsumexp(s / eta)
        assert s @ p + eta * entropy(p) == pytest.approx(log_sum_exp(s, eta), abs=1e-12)


def test_mirror_ascent_matches_an_independent_solver_for_a_quadratic_principal():
    target = np.array([0.6, 0.2, 0.1, 0.1])
    f0 = QuadraticPrincipal(target, gamma=3.0)
    for _ in range(3):
        s, eta = RNG.normal(size=4), RNG.uniform(0.2, 1.0)
        p = mirror_ascent(s, f0.gradient, eta, f0.smoothness, np.full(4, 0.25))
        q = scipy_argmax(s, eta, f0=f0.value)
        np.testing.assert_allclose(p, q, atol=1e-5)


def test_linear_principal_shifts_the_scores():
    u = RNG.random((5, 3))
    c = np.array([0.3, 0.0, -0.2])
    prob = SimplexVoting(u, 0.7, LinearPrincipal(c))
    w = RNG.random(5)
    np.testing.assert_allclose(prob.argmax(w), softmax(w @ prob.u + c, 0.7))


def test_tangent_basis_is_orthonormal_and_orthogonal_to_ones():
    for k in (2, 3, 7):
        q = tangent_basis(k)
        assert q.shape == (k, k - 1)
        np.testing.assert_allclose(q.T @ q, np.eye(k - 1), atol=1e-12)
        np.testing.assert_allclose(np.ones(k) @ q, 0.0, atol=1e-12)


# --- APEX Algorithm 1 on the simplex ---------------------------------------------------
def test_apex_charges_equal_the_closed_form_vcg_externality():
    """C_i = max F^{-i} - F^{-i}(X) with max F^{-i} = eta * logsumexp(s_{-i} / eta)."""
    n, k, eta = 12, 4, 3.0
    prob = SimplexVoting(RNG.random((n, k)), eta)
    lam = RNG.uniform(0.2, 2.0, n)
    res = Apex(prob).run_round(Reports(lam, np.ones(n)), RNG)
    p = res.outcome
    s = lam @ prob.u
    for i in range(n):
        s_minus = s - lam[i] * prob.u[i]
        expected = log_sum_exp(s_minus, eta) - (s_minus @ p + eta * entropy(p))
        assert res.charges[i] == pytest.approx(expected, rel=1e-9, abs=1e-13)
    assert (res.charges >= 0).all()


def test_apex_menu_equals_rerunning_the_round_with_the_alternative_bid():
    n, k = 8, 3
    prob = SimplexVoting(RNG.random((n, k)), 1.5)
    lam = RNG.uniform(0.2, 2.0, n)
    mech = Apex(prob)
    reports = Reports(lam, np.ones(n))
    res = mech.run_round(reports, RNG)
    alts = np.tile([0.0, 0.3, 1.0, 5.0], (3, 1))
    agents = np.array([0, 4, 7])
    util, cost = mech.menu_all(alts, reports, agents, state=res.state)
    for r, i in enumerate(agents):
        for j, a in enumerate(alts[r]):
            bids = lam.copy()
            bids[i] = a
            res = Apex(prob).run_round(Reports(bids, np.ones(n)), RNG)
            assert util[r, j] == pytest.approx(res.utilities[i], abs=1e-12)
            assert cost[r, j] == pytest.approx(res.charges[i], abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 8),
    k=st.integers(2, 5),
    eta=st.floats(0.05, 5.0),
    seed=st.integers(0, 10_000),
)
def test_apex_lottery_valid_and_charges_within_the_budget_cap_bound(n, k, eta, seed):
    """Charges are >= 0 and <= lambda_i * span (the bound behind Apex.enforce_budget)."""
    rng = np.random.default_rng(seed)
    prob = SimplexVoting(rng.random((n, k)), eta)
    lam = rng.uniform(0.0, 3.0, n)
    res = Apex(prob).run_round(Reports(lam, np.ones(n)), rng)
    assert res.outcome.min() >= 0 and res.outcome.sum() == pytest.approx(1.0)
    assert (res.charges >= 0).all()
    assert (res.charges <= lam * prob.utility_span + 1e-12).all()


# --- baselines --------------------------------------------------------------------------
def test_plurality_and_dictatorship_by_hand():
    u = np.array([[1, 0, 0], [1, 0.2, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0]])
    bids = np.ones(5)
    r = Plurality(u).run_round(Reports(bids, np.ones(5)), RNG)
    # favorite votes: A, A, B, C, (A+B)/2 -> A 2.5, B 1.5, C 1 -> A wins
    np.testing.assert_array_equal(r.outcome, [1, 0, 0])
    d = RandomizedDictatorship(u).run_round(Reports(bids, np.ones(5)), RNG)
    np.testing.assert_allclose(d.outcome, [2.5 / 5, 1.5 / 5, 1 / 5])
    # abstaining (bid 0) voters 0 and 1 -> B 1.5, C 1, A 0.5 -> B wins
    bids[:2] = 0
    np.testing.assert_array_equal(Plurality(u).run_round(Reports(bids, np.ones(5)), RNG).outcome, [0, 1, 0])
    assert (r.charges == 0).all()


def test_plurality_ties_give_a_uniform_lottery_over_the_winners():
    u = np.array([[1, 0, 0], [0, 1, 0]])
    np.testing.assert_allclose(Plurality(u).run_round(Reports(np.ones(2), np.ones(2)), RNG).outcome, [0.5, 0.5, 0])


def test_quadratic_voting_by_hand():
    u = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    eta = 2.0
    mech = QuadraticVoting(u, eta)
    bids = np.array([1.0, 2.0, 0.5])
    res = mech.run_round(Reports(bids, np.ones(3)), RNG)
    d = np.array([1.0, -1.0]) / np.sqrt(2)  # centered, unit length
    votes = bids[0] * d - bids[1] * d + bids[2] * d
    np.testing.assert_allclose(res.outcome, softmax(votes, eta))
    np.testing.assert_allclose(res.charges, bids**2 / (2 * eta))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), eta=st.floats(0.01, 10.0), scale=st.floats(0.01, 100.0))
def test_quadratic_voting_budget_cap_never_overdraws(seed, eta, scale):
    rng = np.random.default_rng(seed)
    u = rng.random((6, 3))
    u[5] = 0.5  # an indifferent voter pays nothing whatever she bids
    mech = QuadraticVoting(u, eta)
    remaining = rng.uniform(0, 1, 6) * scale
    bids = mech.enforce_budget(rng.uniform(0, 10, 6) * scale, remaining)
    res = mech.run_round(Reports(bids, np.ones(6)), rng)
    assert (res.charges <= remaining * (1 + 1e-12)).all()
    assert res.charges[5] == 0.0


@pytest.mark.parametrize("cls", [Plurality, RandomizedDictatorship, "qv"])
def test_baseline_exact_menus_equal_the_generic_rerun(cls):
    n, k = 7, 4
    u = RNG.random((n, k))
    mech = QuadraticVoting(u, 1.3) if cls == "qv" else cls(u)
    bids = RNG.uniform(0, 2, n)
    bids[2] = 0.0
    reports = Reports(bids, np.ones(n))
    alts = np.tile([0.0, 0.1, 1.0, 3.0], (n, 1))
    fast = mech.menu_all(alts, reports)
    slow = Mechanism.menu_all(mech, alts, reports)
    np.testing.assert_allclose(fast[0], slow[0], atol=1e-12)
    np.testing.assert_allclose(fast[1], slow[1], atol=1e-12)


# --- §3.1 examples ----------------------------------------------------------------------
COMPROMISE = np.repeat(np.array([[1.0, 0.0, 0.9], [0.0, 1.0, 0.9]]), 20, axis=0)


def test_compromise_population_dictatorship_never_picks_c_but_apex_does():
    """§3.1: half A >= C >> B, half B >= C >> A; C is clearly best."""
    n = COMPROMISE.shape[0]
    rd = RandomizedDictatorship(COMPROMISE).run_round(Reports(np.ones(n), np.ones(n)), RNG).outcome
    np.testing.assert_allclose(rd, [0.5, 0.5, 0.0])
    assert plurality_rule(COMPROMISE)[2] == 0.0
    # APEX Algorithm 1 with equal bids: s = lambda n/2 (1, 1, 1.8) puts most mass on C.
    apex = Apex(SimplexVoting(COMPROMISE, eta=0.5 * n)).run_round(Reports(np.ones(n), np.ones(n)), RNG).outcome
    np.testing.assert_allclose(apex, softmax(np.array([1.0, 1.0, 1.8]) * n / 2, 0.5 * n))
    assert apex[2] > 0.5
    # and at Algorithm 2's competitive equilibrium C is selected (almost) surely
    assert apex_rule(eta=1.0, budget=1e-3)(COMPROMISE)[2] > 0.99


INTENSITY = np.array([[12, 11, -23], [11, 12, -23], [2, 1, -3], [1, 2, -3]], dtype=float)


def test_intensity_example_u1_gains_by_reporting_u3_under_quadratic_voting_not_under_apex():
    """§3.1: types u1..u4 in equal numbers; C is not realistic, so a fixed normalization
    makes u1 (weak A-over-B preference, strong dislike of C) want to report u3. APEX's
    equilibrium standardizes each vote under the outcome itself (sd_p), where u1 and u3
    coincide on {A, B}: the misreport gains nothing."""
    profile = np.repeat(INTENSITY, 25, axis=0)
    eta, budget = 1.0, 0.002
    out = {}
    for name, rule in (("qv", quadratic_rule(eta, budget)), ("apex", apex_rule(eta, budget))):
        rep = truthfulness_check(rule, profile, [0], np.random.default_rng(0), grid=2, random=8, local=4,
                                 extra=INTENSITY[2])
        mis = profile.copy()
        mis[0] = INTENSITY[2]
        u1 = normalize_utilities(INTENSITY)[0]
        gain_u3 = u1 @ (rule(mis) - rule(profile))
        out[name] = (gain_u3, rep.benefit_voting[0], rep.benefit_misreport[0])
    qv_gain, qv_benefit, _ = out["qv"]
    apex_gain, apex_benefit, apex_best = out["apex"]
    assert qv_gain > qv_benefit > 0  # misreporting beats voting itself: eps > 1
    assert apex_benefit > 0
    assert abs(apex_gain) < 1e-9 * apex_benefit + 1e-12
    assert apex_best <= 1e-3 * apex_benefit


def test_collusion_example_both_voters_gain_from_reporting_2_m1_m1():
    """§3.1: u1 = (1, 1, -2), u2 = (1, -2, 1) both report (2, -1, -1)."""
    bg = np.random.default_rng(3).random((40, 3))
    u1, u2 = np.array([1.0, 1.0, -2.0]), np.array([1.0, -2.0, 1.0])
    truthful = np.vstack([bg, u1, u2])
    colluding = truthful.copy()
    colluding[-2:] = [2.0, -1.0, -1.0]
    n1, n2 = normalize_utilities([u1])[0], normalize_utilities([u2])[0]
    # Randomized dictatorship by hand: u1 splits its vote A/B, u2 A/C; colluding both vote
    # A, so p_A += 1/N, p_B -= 1/(2N), p_C -= 1/(2N), and each gains exactly 1/(2N).
    n = truthful.shape[0]
    dp = dictatorship_rule(colluding) - dictatorship_rule(truthful)
    np.testing.assert_allclose(dp, [1 / n, -1 / (2 * n), -1 / (2 * n)], atol=1e-12)
    assert n1 @ dp == pytest.approx(1 / (2 * n))
    assert n2 @ dp == pytest.approx(1 / (2 * n))
    for rule in (quadratic_rule(1.0, 0.002), apex_rule(1.0, 0.002)):
        dp = rule(colluding) - rule(truthful)
        assert n1 @ dp > 0 and n2 @ dp > 0


# --- equilibrium rule and eq. (28) -------------------------------------------------------
def test_apex_equilibrium_prices_equal_the_budget_at_the_fixed_point():
    profile = np.random.default_rng(5).random((30, 4))
    eq = apex_equilibrium(profile, eta=2.0, budget=0.01)
    u = normalize_utilities(profile)
    p = eq.lottery
    np.testing.assert_allclose(p, softmax(eq.weights @ u, 2.0), atol=1e-9)
    var = ((u - (u @ p)[:, None]) ** 2) @ p
    np.testing.assert_allclose(eq.weights**2 * var / (2 * 2.0), 0.01, rtol=1e-9)
    np.testing.assert_allclose(eq.prices, 0.01, rtol=1e-9)


def test_apex_equilibrium_continuation_and_warm_start_agree():
    """From `start` (a nearby profile's logits) or by continuation in kappa: the same
    fixed point when it is unique near the uniform lottery (small kappa)."""
    profile = np.random.default_rng(9).random((15, 3))
    cold = apex_equilibrium(profile, eta=1.0, budget=1e-3)
    near = profile.copy()
    near[0] = near[0] * 0.9 + 0.05
    warm = apex_equilibrium(near, 1.0, 1e-3, start=cold.logits)
    again = apex_equilibrium(near, 1.0, 1e-3)
    np.testing.assert_allclose(warm.lottery, again.lottery, atol=1e-9)
    assert cold.residual < 1e-11 and warm.residual < 1e-11


def test_truthfulness_check_counts_candidates_a_rule_cannot_solve():
    calls = {"n": 0}

    def flaky(profile):
        calls["n"] += 1
        if calls["n"] > 2 and calls["n"] % 3 == 0:
            raise RuntimeError("no equilibrium")
        return dictatorship_rule(profile)

    profile = np.random.default_rng(10).random((5, 3))
    rep = truthfulness_check(flaky, profile, [1], np.random.default_rng(0), grid=2, random=6, local=3)
    assert rep.unsolved > 0
    assert rep.benefit_misreport[0] == pytest.approx(0.0, abs=1e-15)


def test_rules_are_invariant_to_scaling_and_shifting_a_report():
    profile = np.random.default_rng(6).random((9, 3))
    moved = profile.copy()
    moved[2] = 7.0 * moved[2] - 3.0
    for rule in (plurality_rule, dictatorship_rule, quadratic_rule(1.0, 0.05), apex_rule(1.0, 0.05)):
        np.testing.assert_allclose(rule(moved), rule(profile), atol=1e-9)


def test_strategic_voting_under_plurality_detected_with_exact_numbers():
    """3 A-fans, 3 B-fans; voter 6 prefers C > B > A: voting C leaves an A/B coin flip
    (utility 1/4), voting B makes B win (utility 1/2): gain 1/4, benefit of voting 0."""
    profile = np.array([[1, 0, 0]] * 3 + [[0, 1, 0]] * 3 + [[0, 0.5, 1]], dtype=float)
    rep = truthfulness_check(plurality_rule, profile, [6], np.random.default_rng(0), grid=2, random=0, local=0)
    assert rep.benefit_misreport[0] == pytest.approx(0.25)
    assert rep.benefit_voting[0] == pytest.approx(0.0)
    assert np.isinf(rep.epsilon(0.0)[0])
    # with delta >= gain / ||u||, the benefit is within the absolute allowance
    assert rep.epsilon(0.25 / rep.norms[0])[0] == 0.0


def test_randomized_dictatorship_is_truthful_in_eq_28():
    profile = np.random.default_rng(8).random((12, 4))
    rep = truthfulness_check(dictatorship_rule, profile, [0, 5, 11], np.random.default_rng(1), grid=3, random=32)
    np.testing.assert_allclose(rep.benefit_misreport, 0.0, atol=1e-15)
    assert (rep.benefit_voting > 0).all()


def test_misreport_candidates_are_normalized_grid_points_plus_random():
    c = misreport_candidates(3, np.random.default_rng(0), grid=2, random=5)
    grid = c[:-5]
    assert (grid.min(axis=1) == 0).all() and (grid.max(axis=1) == 1).all()
    # {0, 1/2, 1}^3 minus the points without a 0 (8) or without a 1 (8), plus {1/2}^3 (1)
    assert len(grid) == 27 - 8 - 8 + 1
    assert c.shape == (12 + 5, 3)


def test_voting_externalities_by_hand():
    u = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    p = np.array([0.5, 0.5])
    # others of voter 0: (1, 1) at either alternative -> 1 - 1 = 0
    # others of voter 2: (2, 0): best 2, under p 1 -> 1
    np.testing.assert_allclose(voting_externalities(u, p), [0.0, 0.0, 1.0])
