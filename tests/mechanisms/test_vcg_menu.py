"""Unit-demand VCG menus from one solve (`mechanisms.assignment.vcg_menu`): bit-for-bit the
earlier numpy/scipy formulation, kept here as the oracle (`oracle_*`, verbatim from main at
d051521: scipy's Floyd-Warshall on a csr graph, lexsort Pareto lists, per-call scoring of
every Pareto item), and equal to re-running the round per alternative (brute force over
permutations). Hypothesis covers ties in utilities, zero bids, n = 1 and bids at breakpoints."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mechanisms.apex.algorithm1 import Apex, AssignmentProblem
from mechanisms.assignment.vcg import minimal_prices
from mechanisms.base import Reports

# --- the oracle: main's AssignmentProblem.personal_prices / menu_breakpoints / menu_all -------


def oracle_personal_prices(problem: AssignmentProblem, weights: np.ndarray, x_next: np.ndarray) -> np.ndarray:
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import floyd_warshall

    s = problem.scaled(weights)
    n = problem.n
    assignment = x_next.argmax(axis=1)
    prices, _ = minimal_prices(s, assignment)
    owner = np.empty(n, dtype=np.int64)
    owner[assignment] = np.arange(n)
    own = s[owner, np.arange(n)]  # value of item k to its owner
    reduced = own[:, None] - s[owner] - prices[:, None] + prices[None, :]
    np.maximum(reduced, 0.0, out=reduced)
    rows, cols = np.nonzero(~np.eye(n, dtype=bool))
    graph = csr_array((reduced[rows, cols], (rows, cols)), shape=(n, n))
    dist = floyd_warshall(graph, directed=True) + prices[:, None] - prices[None, :]
    to_own = dist[:, assignment].T  # to_own[i, k] = D[k, pi(i)]
    return to_own - to_own.min(axis=1, keepdims=True)


def oracle_menu_breakpoints(problem: AssignmentProblem, rho_all: np.ndarray, agents: np.ndarray) -> np.ndarray:
    rho = rho_all[agents][:, :, None]
    u = problem.u[agents][:, :, None]
    du = u - np.swapaxes(u, 1, 2)
    drho = rho - np.swapaxes(rho, 1, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = drho / du
    lower = np.where(du > 0, cross, -np.inf).max(axis=2)
    upper = np.where(du < 0, cross, np.inf).min(axis=2)
    same = (du == 0) & (drho > 0)
    lower = np.maximum(lower, 0.0)
    on_envelope = (lower < upper) & ~same.any(axis=2)
    mid = np.where(np.isfinite(upper), 0.5 * (lower + upper), lower + np.maximum(lower, 1.0))
    return np.where(on_envelope, mid, 0.0)


def oracle_menu_all(
    problem: AssignmentProblem,
    rho_all: np.ndarray,
    assignment: np.ndarray,
    weights: np.ndarray,
    alternatives: np.ndarray,
    agents: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    rho = rho_all[agents]
    u = problem.u[agents]
    order = np.lexsort((rho, -u), axis=-1)
    u_s = np.take_along_axis(u, order, axis=1)
    rho_s = np.take_along_axis(rho, order, axis=1)
    prev_min = np.minimum.accumulate(rho_s, axis=1)
    pareto = np.ones_like(u_s, dtype=bool)
    pareto[:, 1:] = rho_s[:, 1:] < prev_min[:, :-1]
    width = int(pareto.sum(axis=1).max())
    pick = np.argsort(~pareto, axis=1, kind="stable")[:, :width]
    valid = np.take_along_axis(pareto, pick, axis=1)
    u_p = np.take_along_axis(u_s, pick, axis=1)
    rho_p = np.take_along_axis(rho_s, pick, axis=1)
    score = alternatives[:, :, None] * u_p[:, None, :] - rho_p[:, None, :]
    score = np.where(valid[:, None, :], score, -np.inf)
    best = score.max(axis=2, keepdims=True)
    tol = 1e-12 * max(1.0, float(np.abs(best).max()))
    choice = np.where(score >= best - tol, u_p[:, None, :], -np.inf).argmax(axis=2)
    util = np.take_along_axis(u_p, choice, axis=1)
    cost = np.take_along_axis(rho_p, choice, axis=1)
    played = alternatives == weights[agents][:, None]
    if played.any():
        own_item = assignment[agents]
        rows = np.nonzero(played)[0]
        util[played] = u[rows, own_item[rows]]
        cost[played] = rho_all[agents[rows], own_item[rows]]
    return util, cost


def oracle_menus(apex: Apex, lam: np.ndarray, state, alternatives: np.ndarray, agents: np.ndarray):
    """(rho, breakpoints, (utility, cost) at `alternatives`, (utility, cost) at the
    breakpoints) by the oracle, with Apex's clamp of the costs and its report range: a
    breakpoint above min(bid_cap, report_max) is a report Apex plays at that top."""
    problem = apex.problem
    rho = oracle_personal_prices(problem, lam, state.x_next)
    assignment = state.x_next.argmax(axis=1)
    bp = np.minimum(oracle_menu_breakpoints(problem, rho, agents), min(apex.bid_cap, apex.report_max))
    u, c = oracle_menu_all(problem, rho, assignment, lam, alternatives, agents)
    ub, cb = oracle_menu_all(problem, rho, assignment, lam, bp, agents)
    return rho, bp, (u, apex._clamp(c, alternatives)), (ub, apex._clamp(cb, bp))


# --- strategies -----------------------------------------------------------------------------


@st.composite
def markets(draw):
    """(u (n, n), lambda (n,), alternatives (n, K)): utilities from a small integer set (ties)
    or floats, bids with zeros, alternatives with 0, the played bid, repeats and large bids."""
    n = draw(st.integers(1, 7))
    if draw(st.booleans()):
        u = draw(arrays(np.float64, (n, n), elements=st.sampled_from([0.0, 0.5, 1.0])))
    else:
        u = draw(arrays(np.float64, (n, n), elements=st.floats(0, 1, allow_nan=False, allow_infinity=False)))
    bid = st.one_of(st.just(0.0), st.floats(0, 5, allow_nan=False, allow_infinity=False), st.sampled_from([0.5, 1.0]))
    lam = np.array(draw(st.lists(bid, min_size=n, max_size=n)))
    k = draw(st.integers(1, 9))
    alts = draw(arrays(np.float64, (n, k), elements=st.one_of(bid, st.floats(0, 1e3, allow_nan=False))))
    alts[:, 0] = lam  # the played bid
    return u, lam, alts


def play(u: np.ndarray, lam: np.ndarray):
    apex = Apex(AssignmentProblem(u))
    res = apex.run_round(Reports(lam, np.ones_like(lam)), np.random.default_rng(0))
    return apex, res


@settings(max_examples=300, deadline=None)
@given(markets())
def test_menus_bit_for_bit_equal_the_oracle(market):
    u, lam, alts = market
    apex, res = play(u, lam)
    n = u.shape[0]
    agents = np.arange(n)
    rho, bp, (u_o, c_o), (ub_o, cb_o) = oracle_menus(apex, lam, res.state, alts, agents)
    reports = Reports(lam, np.ones(n))
    bp_new = apex.menu_breakpoints(reports, agents, state=res.state)
    u_new, c_new = apex.menu_all(alts, reports, agents, state=res.state)
    ub_new, cb_new = apex.menu_all(bp_new, reports, agents, state=res.state)
    np.testing.assert_array_equal(res.state.cache["rho"], rho)
    np.testing.assert_array_equal(bp_new, bp)
    np.testing.assert_array_equal(u_new, u_o)
    np.testing.assert_array_equal(c_new, c_o)
    np.testing.assert_array_equal(ub_new, ub_o)
    np.testing.assert_array_equal(cb_new, cb_o)


@settings(max_examples=60, deadline=None)
@given(markets(), st.data())
def test_menus_for_a_subset_of_agents_equal_the_full_menus(market, data):
    u, lam, alts = market
    apex, res = play(u, lam)
    n = u.shape[0]
    agents = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n)))
    reports = Reports(lam, np.ones(n))
    full_u, full_c = apex.menu_all(alts, reports, state=res.state)
    sub_u, sub_c = apex.menu_all(alts[agents], reports, agents, state=res.state)
    # The tie tolerance is relative to the call's largest |best|: equal away from ties.
    _, _, (u_o, c_o), _ = oracle_menus(apex, lam, res.state, alts[agents], agents)
    np.testing.assert_array_equal(sub_u, u_o)
    np.testing.assert_array_equal(sub_c, c_o)
    assert full_u.shape == full_c.shape == alts.shape


def brute_force_menu(u: np.ndarray, lam: np.ndarray, i: int, bid: float) -> tuple[float, float, bool]:
    """Agent i's utility and Clarke charge when it bids `bid`, by enumerating permutations
    (the per-alternative computation), and whether the best permutation is unique."""
    n = u.shape[0]
    w = lam.copy()
    w[i] = bid
    s = w[:, None] * u
    perms = [np.array(p) for p in itertools.permutations(range(n))]
    vals = np.array([s[np.arange(n), p] for p in perms])
    total = vals.sum(axis=1)
    best = total.max()
    ties = np.flatnonzero(total >= best - 1e-9)
    k = int(ties[0])
    others = total - vals[:, i]
    return float(u[i, perms[k][i]]), float(others.max() - others[k]), bool(ties.size == 1)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: arrays(np.float64, (n, n), elements=st.floats(0, 1))), st.data())
def test_menu_matches_rerunning_the_round_per_alternative(u, data):
    n = u.shape[0]
    lam = np.array(data.draw(st.lists(st.floats(0, 3), min_size=n, max_size=n)))
    apex, res = play(u, lam)
    grid = np.concatenate([[0.0], np.geomspace(1e-2, 1e2, 12)])
    alts = np.tile(grid, (n, 1))
    util, cost = apex.menu_all(alts, Reports(lam, np.ones(n)), state=res.state)
    for i in range(n):
        for k, bid in enumerate(grid):
            eu, ec, unique = brute_force_menu(u, lam, i, bid)
            # bid * u_i - C_i = OPT - OPT_{-i} whichever optimal permutation is played.
            assert bid * util[i, k] - cost[i, k] == pytest.approx(bid * eu - ec, abs=1e-9)
            if unique:
                assert (util[i, k], cost[i, k]) == pytest.approx((eu, ec), abs=1e-9)


def test_personal_prices_without_the_rounds_prices_equal_the_cached_ones():
    rng = np.random.default_rng(3)
    u = rng.random((9, 9))
    lam = rng.random(9) * 2
    apex, res = play(u, lam)
    assert "rho" not in res.state.cache and "prices" in res.state.cache  # the round's prices, seeded
    apex.menu_breakpoints(Reports(lam, np.ones(9)), state=res.state)
    np.testing.assert_array_equal(apex.problem.personal_prices(lam, res.outcome), res.state.cache["rho"])
    # Without a state, the menus recompute the round (from the same X_t) and agree.
    fresh = Apex(AssignmentProblem(u))
    alts = np.tile(fresh.report_grid(16), (9, 1))
    np.testing.assert_array_equal(
        fresh.menu_all(alts, Reports(lam, np.ones(9))), apex.menu_all(alts, Reports(lam, np.ones(9)), state=res.state)
    )


def test_the_menu_at_the_breakpoints_just_returned_is_the_oracles():
    """menu_breakpoints computes no menu of its own (the recorder evaluates the breakpoints
    with its grid in one menu_all call): menu_all at them, for those agents and for others
    given the same array, is the per-alternative oracle's menu."""
    rng = np.random.default_rng(8)
    n = 6
    u = rng.integers(0, 3, (n, n)).astype(float)  # ties
    lam = rng.random(n)
    apex, res = play(u, lam)
    reports = Reports(lam, np.ones(n))
    agents = np.array([4, 1, 2])
    bp = apex.menu_breakpoints(reports, agents, state=res.state)
    got = apex.menu_all(bp, reports, agents, state=res.state)
    _, _, _, (ub_o, cb_o) = oracle_menus(apex, lam, res.state, bp, agents)
    np.testing.assert_array_equal(got[0], ub_o)
    np.testing.assert_array_equal(got[1], cb_o)
    # Other agents with the same array.
    others = np.array([0, 3, 5])
    got_u, got_c = apex.menu_all(bp, reports, others, state=res.state)
    eu, ec = oracle_menu_all(apex.problem, res.state.cache["rho"], res.state.x_next.argmax(axis=1), lam, bp, others)
    np.testing.assert_array_equal(got_u, eu)
    np.testing.assert_array_equal(got_c, apex._clamp(ec, bp))
