"""Menus sped up for recording (issue 13) against the formulation they replace, kept here
verbatim from main at d051521 as the oracle, over the whole valid input range (hypothesis:
zero bids, ties, n = 1, bids from 0 to the top of the report grid). Unit-demand VCG has its
own file (test_vcg_menu.py)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from helpers import WithoutHooks
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mechanisms.apex.algorithm1 import Apex
from mechanisms.base import Reports
from mechanisms.voting.mechanisms import LinearPrincipal, QuadraticPrincipal, SimplexVoting

RTOL, ATOL = 1e-12, 1e-12


def bids(max_value: float = 5.0):
    return st.one_of(st.just(0.0), st.just(1e-9), st.floats(0, max_value, allow_nan=False, allow_infinity=False))


# --- APEX voting (SimplexVoting.menu_all) ----------------------------------------------------


def oracle_voting_menu(problem: SimplexVoting, weights, alternatives, agents, opt_minus, start=None):
    """main's SimplexVoting.menu_all: the outcomes H(F^{-i} + a f_i), then F^{-i} at them."""
    w = np.asarray(weights, dtype=np.float64)
    s_minus = problem.scores(w)[None, :] - w[agents, None] * problem.u[agents]
    s = s_minus[:, None, :] + np.asarray(alternatives)[:, :, None] * problem.u[agents][:, None, :]
    x = problem.solve(s, start)
    util = np.einsum("mak,mk->ma", x, problem.u[agents])
    wu = (w @ problem.u)[None, :] - w[agents, None] * problem.u[agents]
    others = problem.base(x) + np.einsum("m...k,mk->m...", x, wu)
    return util, np.maximum(opt_minus[agents][:, None] - others, 0.0)


@st.composite
def electorates(draw):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(2, 5))
    if draw(st.booleans()):
        u = draw(arrays(np.float64, (n, k), elements=st.sampled_from([0.0, 0.5, 1.0])))
    else:
        u = draw(arrays(np.float64, (n, k), elements=st.floats(-3, 3, allow_nan=False)))
    eta = draw(st.sampled_from([0.05, 0.5, 2.5]))
    lam = np.array(draw(st.lists(bids(), min_size=n, max_size=n)))
    alts = draw(arrays(np.float64, (n, draw(st.integers(1, 8))), elements=st.one_of(bids(), st.floats(0, 100))))
    alts[:, 0] = lam
    principal = draw(st.sampled_from(["none", "linear"]))
    c = None if principal == "none" else LinearPrincipal(draw(arrays(np.float64, (k,), elements=st.floats(-1, 1))))
    return u, eta, lam, alts, c


@settings(max_examples=300, deadline=None)
@given(electorates())
def test_voting_menu_equals_the_oracle(case):
    u, eta, lam, alts, principal = case
    apex = Apex(SimplexVoting(u, eta, principal))
    res = apex.run_round(Reports(lam, np.ones_like(lam)), np.random.default_rng(0))
    agents = np.arange(lam.shape[0])
    util, cost = apex.menu_all(alts, Reports(lam, np.ones_like(lam)), agents, state=res.state)
    eu, ec = oracle_voting_menu(apex.problem, lam, alts, agents, res.state.cache["opt_minus"])
    np.testing.assert_allclose(util, eu, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(cost, apex._clamp(ec, alts), rtol=RTOL, atol=ATOL * max(1.0, np.abs(alts).max()))
    # The played column is the round itself.
    np.testing.assert_allclose(util[:, 0], res.utilities, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(cost[:, 0], res.charges, rtol=1e-9, atol=1e-9)


def test_voting_menu_with_a_curved_principal_keeps_mirror_ascent():
    rng = np.random.default_rng(5)
    problem = SimplexVoting(rng.random((4, 3)), 0.5, QuadraticPrincipal(np.full(3, 1 / 3), 0.7))
    apex = Apex(problem)
    apex.run_round(Reports(rng.random(4), np.ones(4)), rng)  # X_t, mirror ascent's start, moves
    lam = rng.random(4)
    res = apex.run_round(Reports(lam, np.ones(4)), rng)
    alts = np.tile(apex.report_grid(9), (4, 1))
    util, cost = apex.menu_all(alts, Reports(lam, np.ones(4)), state=res.state)
    eu, ec = oracle_voting_menu(problem, lam, alts, np.arange(4), res.state.cache["opt_minus"], res.state.start)
    np.testing.assert_array_equal(util, eu)
    np.testing.assert_array_equal(cost, apex._clamp(ec, alts))


# --- APEX Algorithm 2 on the simplex (SimplexVoting.quadratic_menu) ---------------------------


def exact_form(u_i: np.ndarray, h: list) -> Fraction:
    """g^T (B^T A B)^{-1} B^T g in exact rationals, A = diag(h) / 2, B's columns e_0 - e_j
    (a basis of the tangent space {sum x = 0}; the form does not depend on the basis)."""
    k = len(h)
    g = [Fraction(float(v)) for v in u_i]
    a = [Fraction(v) / 2 for v in h]
    r = k - 1
    # M = B^T A B: M[j, l] = a_0 + [j == l] a_{j+1}; b = B^T g: b_j = g_0 - g_{j+1}.
    m = [[a[0] + (a[j + 1] if j == l else 0) for l in range(r)] for j in range(r)]
    b = [g[0] - g[j + 1] for j in range(r)]
    for c in range(r):  # Gaussian elimination (M is symmetric positive definite)
        for row in range(c + 1, r):
            f = m[row][c] / m[c][c]
            m[row] = [x - f * y for x, y in zip(m[row], m[c], strict=True)]
            b[row] -= f * b[c]
    y = [Fraction(0)] * r
    for c in reversed(range(r)):
        y[c] = (b[c] - sum(m[c][l] * y[l] for l in range(c + 1, r))) / m[c][c]
    return sum(bj * yj for bj, yj in zip([g[0] - g[j + 1] for j in range(r)], y, strict=True))


@st.composite
def quadratic_cases(draw):
    u, eta, lam, alts, principal = draw(electorates())
    if draw(st.booleans()):
        # (gamma = 0 makes mirror ascent's step tau = 1, and 0 * log(0) a NaN outcome once a
        # coordinate underflows: main's behaviour, outside this test.)
        principal = QuadraticPrincipal(np.full(u.shape[1], 1 / u.shape[1]), draw(st.sampled_from([0.3, 1.0])))
    return u, eta, lam, alts, principal


@settings(max_examples=200, deadline=None)
@given(quadratic_cases())
def test_algorithm_2_menu_equals_the_batched_path_and_the_exact_form(case):
    from mechanisms.apex.algorithm2 import InfinitesimalApex
    from mechanisms.voting.mechanisms import HESSIAN_PROB_FLOOR

    u, eta, lam, alts, principal = case
    problem = SimplexVoting(u, eta, principal)
    # Without `quadratic_menu`, Algorithm 2 takes main's batched path (`BatchedQuadraticMenu`:
    # outcomes, then the restricted Hessian's Cholesky factor): the oracle.
    fast, slow = InfinitesimalApex(problem), InfinitesimalApex(WithoutHooks(problem, ("quadratic_menu",)))
    reports = Reports(lam, np.ones_like(lam))
    rf, rs = fast.run_round(reports, np.random.default_rng(0)), slow.run_round(reports, np.random.default_rng(0))
    util, cost = fast.menu_all(alts, reports, state=rf.state)
    su, sc = slow.menu_all(alts, reports, state=rs.state)
    np.testing.assert_allclose(util, su, rtol=RTOL, atol=ATOL)
    # The Cholesky path loses digits with the condition of H~ (up to 1 / min p); the closed
    # form is checked exactly below, and against the batched path to that condition.
    agents = np.arange(lam.shape[0])
    x = problem.menu_outcomes(lam, agents, alts, rf.state.start)
    p = np.maximum(x, HESSIAN_PROB_FLOOR)
    cond = 1.0 / p.min(axis=-1)
    np.testing.assert_allclose(cost, sc, rtol=1e-13 * cond.max() + 1e-12, atol=1e-12)
    gamma = principal.gamma if isinstance(principal, QuadraticPrincipal) else 0.0
    for i, kk in [(0, 0), (lam.shape[0] - 1, alts.shape[1] - 1)]:
        h = [Fraction(eta) / Fraction(float(pj)) + 2 * Fraction(gamma) for pj in p[i, kk]]
        q = float(exact_form(problem.u[i], h))
        assert cost[i, kk] == pytest.approx(alts[i, kk] ** 2 / 4.0 * q, rel=1e-12, abs=1e-300)


# --- bandits with knapsacks (BanditsWithKnapsacks.menu_all) --------------------------------


def oracle_bwk_menu(mech, alternatives, agents, state):
    """main's BanditsWithKnapsacks.menu_all: the arm of every entry, then its realized draw."""
    (t,), rewards, costs = state
    arm = mech.arms(alternatives, int(t))
    return np.take_along_axis(rewards[agents], arm, axis=1), np.take_along_axis(costs[agents], arm, axis=1)


@st.composite
def bwk_cases(draw):
    k = draw(st.integers(1, 5))
    means = st.sampled_from([0.0, 0.25, 0.5, 1.0])
    r = np.array(draw(st.lists(means, min_size=k, max_size=k)))
    c = np.array(draw(st.lists(means, min_size=k, max_size=k)))
    n = draw(st.integers(1, 5))
    mode = draw(st.sampled_from(["arm", "bid"]))
    noise = draw(st.sampled_from(["none", "bernoulli"]))
    # Bids exactly at the breakpoints (c_a - c_b) / (r_a - r_b) of the arms' lines, and repeats.
    cross = [(c[a] - c[b]) / (r[a] - r[b]) for a in range(k) for b in range(k) if r[a] != r[b]]
    bid = st.one_of(bids(100.0), st.sampled_from([0.0, 1.0, *[x for x in cross if x >= 0]]))
    alts = draw(arrays(np.float64, (n, draw(st.integers(1, 9))), elements=bid))
    played = np.array(draw(st.lists(bid, min_size=n, max_size=n)))
    return r, c, mode, noise, alts, played


@settings(max_examples=300, deadline=None)
@given(bwk_cases(), st.data())
def test_bwk_menu_equals_the_oracle(case, data):
    from mechanisms.bwk.instances import BanditsWithKnapsacks

    r, c, mode, noise, alts, played = case
    mech = BanditsWithKnapsacks(r, c, mode=mode, noise=noise)
    res = mech.run_round(Reports(played, np.ones_like(played)), np.random.default_rng(1))
    n = played.shape[0]
    agents = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=alts.shape[0], max_size=alts.shape[0])))
    u, cost = mech.menu_all(alts, Reports(played, np.ones(n)), agents, state=res.state)
    eu, ec = oracle_bwk_menu(mech, alts, agents, res.state)
    np.testing.assert_array_equal(u, eu)
    np.testing.assert_array_equal(cost, ec)


# --- public goods (Proportional, Moulin, Potential) -----------------------------------------


def oracle_public_goods_menu(mech, alternatives, reports, rows):
    """main's menus: Proportional's shares of the others' total, Moulin's and Potential's
    posted prices recomputed from the bids. (Issue 15: the one report above half the
    total gets its others' sum added up directly, as total - b loses it: 1e20 + 0.6 - 1e20
    = 0; test_public_goods.py checks that case by hand.)"""
    from mechanisms.base import TOKEN_TOL
    from mechanisms.public_goods.monetary import GOOD_COST, Moulin, Proportional, moulin_thresholds
    from mechanisms.public_goods.potential import single_good_thresholds

    if isinstance(mech, Proportional):
        b = reports.bids
        others = b.sum() - b
        for i in np.flatnonzero(b > 0.5 * b.sum()):
            others[i] = sum(float(x) for j, x in enumerate(b) if j != i)
        others = others[rows]
        total = others[:, None] + alternatives
        served = total >= GOOD_COST
        cost = np.where(served, alternatives / np.where(served, total, 1.0), 0.0)
        bp = np.stack([np.zeros_like(others), np.maximum(GOOD_COST - others, 0.0)], axis=1)
        return reports.values[rows][:, None] * served, cost, bp
    if isinstance(mech, Moulin):
        tau = moulin_thresholds(reports.bids)[rows][:, None]
        served = alternatives >= tau
    else:
        # Reports above p_max = g(1) are played as g(1) (the same thresholds in exact
        # arithmetic: test_potential.py checks it against the uncapped formula).
        capped = np.minimum(reports.bids, mech.p_max)
        tau = single_good_thresholds(capped, mech.potential_curve(reports.bids.shape[0]))[rows][:, None]
        served = alternatives >= tau - TOKEN_TOL
    bp = np.concatenate([np.zeros_like(tau), tau], axis=1)
    return reports.values[rows][:, None] * served, np.where(served, tau, 0.0), bp


@st.composite
def public_goods_cases(draw):
    n = draw(st.integers(1, 7))
    bid = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 1 / 3, 0.25]), st.floats(0, 1.5, allow_nan=False))
    b = np.array(draw(st.lists(bid, min_size=n, max_size=n)))
    v = np.array(draw(st.lists(st.floats(0, 2), min_size=n, max_size=n)))
    alts = draw(arrays(np.float64, (n, draw(st.integers(1, 8))), elements=bid))
    # Reports exactly at the price: 1 - others (Proportional) and 1/k (Moulin, Potential).
    others = b.sum() - b
    for i in np.flatnonzero(b > 0.5 * b.sum()):
        others[i] = sum(float(x) for j, x in enumerate(b) if j != i)
    alts[:, 0] = np.maximum(1.0 - others, 0.0)
    alts[:, -1] = b
    return b, v, alts


@settings(max_examples=300, deadline=None)
@given(public_goods_cases(), st.sampled_from(["proportional", "moulin", "potential"]), st.booleans())
def test_public_goods_menus_equal_the_oracle(case, name, with_state):
    from mechanisms.public_goods.monetary import Moulin, Proportional
    from mechanisms.public_goods.potential import Potential

    b, v, alts = case
    mech = {"proportional": Proportional, "moulin": Moulin, "potential": Potential}[name]()
    reports = Reports(b, v)
    res = mech.run_round(reports, np.random.default_rng(0))
    state = res.state if with_state else None
    rows = np.arange(b.shape[0])
    eu, ec, ebp = oracle_public_goods_menu(mech, alts, reports, rows)
    u, c = mech.menu_all(alts, reports, rows, state=state)
    np.testing.assert_array_equal(u, eu)
    np.testing.assert_array_equal(c, ec)
    np.testing.assert_array_equal(mech.menu_breakpoints(reports, rows, state=state), ebp)
    # The played column is the round (Potential serves within TOKEN_TOL of its price).
    if name != "potential":
        np.testing.assert_array_equal(u[:, -1], res.utilities)
        np.testing.assert_allclose(c[:, -1], res.charges, rtol=0, atol=1e-12)


# --- the optimal approximate-valuation auction M_f (OptimalApprox.menu_all) -----------------


@st.composite
def auction_cases(draw):
    n = draw(st.integers(1, 5))
    delta = draw(st.sampled_from([0.05, 0.4, 0.9]))
    bid = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.floats(0, 3, allow_nan=False))
    b = np.array(draw(st.lists(bid, min_size=n, max_size=n)))
    v = np.array(draw(st.lists(st.floats(0, 3), min_size=n, max_size=n)))
    alts = draw(arrays(np.float64, (n, draw(st.integers(1, 8))), elements=bid))
    # Bids on the breakpoints of f_i: the others' bids and S'_k / (k + D).
    D = 4 * delta / (1 - delta) ** 2
    for r in range(n):
        o = -np.sort(-np.delete(b, r))
        if o.size:
            alts[r, 0] = o[draw(st.integers(0, o.size - 1))]
            k = draw(st.integers(1, o.size))
            alts[r, -1] = o[:k].sum() / (k + D)
    cap = draw(st.sampled_from([np.inf, 1.0]))
    return b, v, alts, delta, cap


@settings(max_examples=300, deadline=None)
@given(auction_cases(), st.data())
def test_optimal_auction_menu_equals_the_oracle(case, data):
    from mechanisms.approx_valuations.auctions import ApproxAuction, OptimalApprox

    b, v, alts, delta, cap = case
    mech = OptimalApprox(delta, cap)
    n = b.shape[0]
    agents = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
    reports = Reports(b, v)
    u, c = mech.menu_all(alts, reports, agents)
    eu, ec = ApproxAuction.menu_all(mech, alts, reports, agents)  # main: allocate every (agent, bid) profile
    np.testing.assert_allclose(u, eu, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(c, ec, rtol=RTOL, atol=ATOL)


def test_bwk_menu_at_non_finite_bids_equals_the_oracle():
    from mechanisms.bwk.instances import BanditsWithKnapsacks

    mech = BanditsWithKnapsacks([0.0, 0.5, 1.0], [0.0, 0.2, 0.9], mode="bid", noise="none")
    res = mech.run_round(Reports(np.array([1.0, 2.0]), np.ones(2)), np.random.default_rng(0))
    alts = np.array([[np.inf, np.nan, 0.0], [1e308, -np.inf, 3.5]])
    agents = np.array([0, 1])
    got = mech.menu_all(alts, Reports(np.array([1.0, 2.0]), np.ones(2)), agents, state=res.state)
    with np.errstate(invalid="ignore"):
        want = oracle_bwk_menu(mech, alts, agents, res.state)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(electorates())
def test_quadratic_voting_menu_equals_the_oracle(case):
    from mechanisms.voting.mechanisms import QuadraticVoting
    from mechanisms.voting.simplex import softmax

    u, eta, lam, alts, _ = case
    mech = QuadraticVoting(u, eta)
    agents = np.arange(lam.shape[0])
    util, cost = mech.menu_all(alts, Reports(lam, np.ones_like(lam)), agents)
    # main: the softmax of every (agent, bid) profile, lottery axis last.
    d = mech.directions[agents]
    base = (lam @ mech.directions)[None, :] - lam[agents, None] * d
    p = softmax(base[:, None, :] + alts[:, :, None] * d[:, None, :], mech.eta)
    np.testing.assert_allclose(util, np.einsum("mak,mk->ma", p, mech.u[agents]), rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(cost, mech.price(alts, agents))
