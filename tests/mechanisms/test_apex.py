"""APEX, Braverman 2021 Algorithm 1: brute force over permutations and outcomes, the paper's
§3.2.3 numbers, the regularized heuristic against an independent solver, exact menus,
and the budget cap of `enforce_budget`."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import minimize

from mechanisms.apex.algorithm1 import Apex, AssignmentProblem, FiniteArgmax, RegularizedAssignment
from mechanisms.base import Reports

TOL = 1e-9


def reports(bids) -> Reports:
    bids = np.asarray(bids, dtype=float)
    return Reports(bids, np.ones_like(bids))


def normalized(u: np.ndarray) -> np.ndarray:
    lo, hi = u.min(axis=1, keepdims=True), u.max(axis=1, keepdims=True)
    return (u - lo) / np.where(hi > lo, hi - lo, 1.0)


class Plain:
    """Only the four Protocol methods: forces Apex's generic path (n + 1 calls of H)."""

    def __init__(self, inner):
        self.inner, self.n = inner, inner.n

    def utilities(self, x):
        return self.inner.utilities(x)

    def base(self, x):
        return self.inner.base(x)

    def argmax(self, weights, start):
        return self.inner.argmax(weights, start)

    def initial(self):
        return self.inner.initial()


def brute_force_vcg(u: np.ndarray, lam: np.ndarray) -> tuple[float, np.ndarray]:
    """Welfare of the best permutation and Clarke charges on lambda-scaled utilities."""
    n = u.shape[0]
    s = lam[:, None] * u
    perms = [np.array(p) for p in itertools.permutations(range(n))]
    totals = np.array([s[np.arange(n), p] for p in perms])  # (n!, n) per-agent scaled value
    best = totals.sum(axis=1).argmax()
    charges = np.array(
        [(totals.sum(axis=1) - totals[:, i]).max() - (totals[best].sum() - totals[best, i]) for i in range(n)]
    )
    return float(totals[best].sum()), charges


matrices = st.integers(2, 4).flatmap(
    lambda n: arrays(np.float64, (n, n), elements=st.floats(0, 1, allow_nan=False, allow_infinity=False))
)


@settings(max_examples=80, deadline=None)
@given(matrices, st.data())
def test_assignment_apex_is_vcg_on_scaled_utilities(u, data):
    n = u.shape[0]
    lam = np.array(data.draw(st.lists(st.floats(0, 5, allow_nan=False), min_size=n, max_size=n)))
    welfare, charges = brute_force_vcg(u, lam)
    for problem in (AssignmentProblem(u), Plain(AssignmentProblem(u))):
        res = Apex(problem).run_round(reports(lam), np.random.default_rng(0))
        x = res.outcome
        assert np.allclose(x.sum(axis=0), 1) and np.allclose(x.sum(axis=1), 1) and set(np.unique(x)) <= {0, 1}
        assert float(lam @ res.utilities) == pytest.approx(welfare, abs=TOL)
        np.testing.assert_allclose(res.charges, charges, atol=TOL)
        assert (res.charges >= 0).all()
        np.testing.assert_allclose(res.utilities, (u * x).sum(axis=1))


@settings(max_examples=80, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 4)), elements=st.floats(-1, 1, allow_nan=False)),
    st.data(),
)
def test_finite_argmax_charges_are_clarke_pivots(outcomes, data):
    k, n = outcomes.shape
    base = np.array(data.draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=k, max_size=k)))
    lam = np.array(data.draw(st.lists(st.floats(0, 3, allow_nan=False), min_size=n, max_size=n)))
    problem = FiniteArgmax(outcomes, base)
    for p in (problem, Plain(problem)):
        res = Apex(p).run_round(reports(lam), np.random.default_rng(0))
        total = base + outcomes @ lam
        chosen = int(np.argmax(total))
        assert res.outcome == chosen
        for i in range(n):
            others = total - lam[i] * outcomes[:, i]
            assert res.charges[i] == pytest.approx(others.max() - others[chosen], abs=TOL)
        assert (res.charges >= 0).all()


def test_finite_argmax_over_permutations_matches_fast_assignment():
    # Two independent routes to the same charges: K = n! explicit outcomes vs exchange-graph VCG.
    rng = np.random.default_rng(3)
    n = 4
    u = rng.random((n, n))
    perms = list(itertools.permutations(range(n)))
    outcomes = np.array([[u[i, p[i]] for i in range(n)] for p in perms])
    lam = rng.random(n) * 3
    fin = Apex(FiniteArgmax(outcomes)).run_round(reports(lam), np.random.default_rng(0))
    fast = Apex(AssignmentProblem(u)).run_round(reports(lam), np.random.default_rng(0))
    np.testing.assert_allclose(fin.charges, fast.charges, atol=TOL)
    np.testing.assert_allclose(fin.utilities, fast.utilities, atol=TOL)


def test_paper_2x2_example_payments():
    # Braverman 2021 §3.2.3: u_1 = u_2 = (1, 0). Player 1 bids 3; when player 2 bids 1.5 player 1
    # gets A and pays 1.5, when player 2 bids 4 player 2 gets A and pays 3.
    apex = Apex(AssignmentProblem([[1.0, 0.0], [1.0, 0.0]]))
    rng = np.random.default_rng(0)
    r1 = apex.run_round(reports([3.0, 1.5]), rng)
    np.testing.assert_allclose(r1.utilities, [1.0, 0.0])
    np.testing.assert_allclose(r1.charges, [1.5, 0.0])
    r2 = apex.run_round(reports([3.0, 4.0]), rng)
    np.testing.assert_allclose(r2.utilities, [0.0, 1.0])
    np.testing.assert_allclose(r2.charges, [0.0, 3.0])
    # Over the period-3 schedule (4, 1.5, 1.5) each player averages 1 token per round.
    np.testing.assert_allclose(apex.x_bar, [[0.5, 0.5], [0.5, 0.5]])


def test_printed_line_9_typo_would_charge_nothing():
    # Line 9 as printed, F^{-i}(X^{-i}) - F^{-i}(X^{-i}), is identically 0; the charges
    # (SPEC.md §A) are F^{-i}(X^{-i}) - F^{-i}(X_{t+1}), positive whenever i displaces someone.
    u = np.array([[1.0, 0.0], [1.0, 0.0]])
    problem = AssignmentProblem(u)
    lam = np.array([2.0, 1.0])
    res = Apex(problem).run_round(reports(lam), np.random.default_rng(0))
    x_minus = problem.argmax_without_each(lam, problem.initial())
    f_minus = [lam @ problem.utilities(x_minus[i]) - lam[i] * problem.utilities(x_minus[i])[i] for i in range(2)]
    printed = np.array([f_minus[i] - f_minus[i] for i in range(2)])
    intended = np.array(
        [f_minus[i] - (lam @ res.utilities - lam[i] * res.utilities[i]) for i in range(2)]
    )
    np.testing.assert_array_equal(printed, 0.0)
    np.testing.assert_allclose(res.charges, intended)
    np.testing.assert_allclose(res.charges, [1.0, 0.0])


@settings(max_examples=60, deadline=None)
@given(matrices, st.data())
def test_budget_cap_keeps_charges_within_remaining(u, data):
    u = normalized(u)
    n = u.shape[0]
    bids = np.array(data.draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=n, max_size=n)))
    remaining = np.array(data.draw(st.lists(st.floats(0, 2, allow_nan=False), min_size=n, max_size=n)))
    apex = Apex(AssignmentProblem(u))
    capped = apex.enforce_budget(bids, remaining)
    span = apex.problem.utility_span  # 1 once some row is non-constant, 0 if none is
    assert (capped <= bids).all()
    if span > 0:
        np.testing.assert_allclose(capped, np.minimum(bids, remaining / span))
    res = apex.run_round(reports(capped), np.random.default_rng(0))
    assert (res.charges <= remaining + TOL).all()


def test_budget_cap_regularized_accounts_for_tolerance():
    rng = np.random.default_rng(5)
    n = 4
    u = normalized(rng.random((n, n)))
    apex = Apex(RegularizedAssignment(u, beta=1e-3, tol=1e-6))
    remaining = np.array([0.0, 1e-3, 0.5, 3.0])
    capped = apex.enforce_budget(np.full(n, 50.0), remaining)
    np.testing.assert_allclose(capped, np.maximum(remaining - 1e-6, 0.0) / apex.problem.utility_span)
    for _ in range(5):
        res = apex.run_round(reports(capped), rng)
        assert (res.charges <= remaining + TOL).all()


def test_uncapped_bid_can_overdraw():
    # Why the cap matters: with lambda far above the budget, the VCG charge exceeds it.
    apex = Apex(AssignmentProblem([[1.0, 0.0], [1.0, 0.0]]))
    res = apex.run_round(reports([5.0, 4.0]), np.random.default_rng(0))
    assert res.charges[0] == pytest.approx(4.0) and res.charges[0] > 1.0
    assert apex.enforce_budget(np.array([5.0, 4.0]), np.array([1.0, 1.0])).tolist() == [1.0, 1.0]


def rerun(apex_before: Apex, bids: np.ndarray, i: int) -> tuple[float, float]:
    clone = copy.deepcopy(apex_before)
    res = clone.run_round(reports(bids), np.random.default_rng(0))
    return float(res.utilities[i]), float(res.charges[i])


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, False), (2, False), (3, True), (4, True)])
def test_exact_menu_matches_rerunning(seed, ties):
    rng = np.random.default_rng(seed)
    n = 6
    u = normalized(rng.integers(0, 3, (n, n)).astype(float) if ties else rng.random((n, n)))
    apex = Apex(AssignmentProblem(u))
    apex.run_round(reports(rng.random(n)), rng)  # move X_t away from X_1
    before = copy.deepcopy(apex)
    lam = rng.random(n) * 2
    played = apex.run_round(reports(lam), rng)
    x_after, sum_after, rounds_after = apex.x.copy(), apex._x_avg.total.copy(), apex.rounds
    alts = np.sort(rng.random((n, 12)) * 4, axis=1)
    alts[:, 0] = 0.0
    util, cost = apex.menu_all(alts, reports(lam), state=played.state)
    np.testing.assert_array_equal(apex.x, x_after)  # warm-start state untouched
    np.testing.assert_array_equal(apex._x_avg.total, sum_after)
    assert apex.rounds == rounds_after
    for i in range(n):
        for k in range(alts.shape[1]):
            bids = lam.copy()
            bids[i] = alts[i, k]
            eu, ec = rerun(before, bids, i)
            if alts[i, k] > 0:  # at lambda = 0 ties in the others' market make u ambiguous
                assert util[i, k] == pytest.approx(eu, abs=TOL)
            assert cost[i, k] == pytest.approx(ec, abs=TOL)
        # Claim 2's premise: u and C are non-decreasing in lambda.
        assert (np.diff(util[i]) >= -TOL).all() and (np.diff(cost[i]) >= -TOL).all()


def test_menu_played_bid_returns_realized_outcome_and_subset_of_agents():
    rng = np.random.default_rng(11)
    n = 5
    apex = Apex(AssignmentProblem(normalized(rng.random((n, n)))))
    lam = rng.random(n)
    res = apex.run_round(reports(lam), rng)
    agents = np.array([3, 1])
    alts = np.column_stack([apex.report_grid(8)[None, :].repeat(2, 0), lam[agents]])
    util, cost = apex.menu_all(alts, reports(lam), agents, state=res.state)
    assert util.shape == cost.shape == (2, 9)
    np.testing.assert_allclose(util[:, -1], res.utilities[agents])
    np.testing.assert_allclose(cost[:, -1], res.charges[agents])
    u1, c1 = apex.menu(1, alts[1], reports(lam), state=res.state)
    np.testing.assert_allclose(u1, util[1])
    np.testing.assert_allclose(c1, cost[1])


@pytest.mark.parametrize("n", [5, 30])
def test_generic_menu_matches_fast_menu(n):
    rng = np.random.default_rng(2)
    u = normalized(rng.random((n, n)))
    fast, slow = Apex(AssignmentProblem(u)), Apex(Plain(AssignmentProblem(u)))
    lam = rng.random(n) * 2
    rf = fast.run_round(reports(lam), rng)
    rs = slow.run_round(reports(lam), rng)
    agents = np.arange(n) if n <= 5 else rng.choice(n, 4, replace=False)
    alts = np.tile(np.geomspace(0.013, 7.1, 15), (agents.size, 1))
    uf, cf = fast.menu_all(alts, reports(lam), agents, state=rf.state)
    us, cs = slow.menu_all(alts, reports(lam), agents, state=rs.state)
    np.testing.assert_allclose(uf, us, atol=TOL)
    np.testing.assert_allclose(cf, cs, atol=TOL)


def test_x_bar_and_item_prices_are_time_averages():
    rng = np.random.default_rng(4)
    n = 4
    u = normalized(rng.random((n, n)))
    apex = Apex(AssignmentProblem(u))
    xs, ps = [], []
    for _ in range(7):
        lam = rng.random(n)
        res = apex.run_round(reports(lam), rng)
        xs.append(res.outcome)
        ps.append(res.item_prices)
        # per-round prices are the VCG prices of the scaled market: the winner of j pays p_j
        np.testing.assert_allclose(res.charges, res.item_prices[res.outcome.argmax(axis=1)])
    np.testing.assert_allclose(apex.x_bar, np.mean(xs, axis=0))
    np.testing.assert_allclose(apex.mean_item_prices, np.mean(ps, axis=0))
    np.testing.assert_allclose(apex.x_bar.sum(axis=0), 1.0)
    np.testing.assert_allclose(apex.x_bar.sum(axis=1), 1.0)


def test_bad_inputs():
    apex = Apex(AssignmentProblem(np.eye(3)))
    with pytest.raises(ValueError, match="bids must have length 3"):
        apex.run_round(reports([1.0, 2.0]), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"bids\[1\] must be >= 0"):
        apex.run_round(reports([1.0, -2.0, 0.0]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="ApexProblem"):
        Apex(object())
    with pytest.raises(ValueError, match="square"):
        AssignmentProblem(np.ones((2, 3)))
    with pytest.raises(ValueError, match="beta"):
        RegularizedAssignment(np.eye(2), beta=0.0)
    with pytest.raises(ValueError, match="x_bar"):
        _ = apex.x_bar


# -- the regularized heuristic (Theorem 13) --------------------------------------------------


def scipy_regularized_max(u: np.ndarray, lam: np.ndarray, beta: float) -> np.ndarray:
    """Independent solver: SLSQP over the Birkhoff polytope (positivity by bounds)."""
    n = u.shape[0]
    c = (lam[:, None] * u).ravel()

    def neg_f(z):
        return -(c @ z) + beta * (1.0 / z).sum()

    def neg_grad(z):
        return -c - beta / z**2

    cons = [{"type": "eq", "fun": lambda z, i=i: z.reshape(n, n)[i].sum() - 1.0} for i in range(n)]
    cons += [{"type": "eq", "fun": lambda z, j=j: z.reshape(n, n)[:, j].sum() - 1.0} for j in range(n - 1)]
    res = minimize(
        neg_f, np.full(n * n, 1.0 / n), jac=neg_grad, bounds=[(1e-9, 1.0)] * (n * n),
        constraints=cons, method="SLSQP", options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success
    return res.x.reshape(n, n)


@pytest.mark.parametrize(("n", "beta", "seed"), [(2, 0.05, 0), (3, 0.01, 1), (3, 0.002, 2), (4, 0.01, 3)])
def test_regularized_matches_scipy(n, beta, seed):
    rng = np.random.default_rng(seed)
    u = normalized(rng.random((n, n)))
    lam = rng.random(n) * 2
    reference = scipy_regularized_max(u, lam, beta)
    for method in ("newton", "frank_wolfe"):
        problem = RegularizedAssignment(u, beta, tol=1e-10 if method == "newton" else 1e-8, method=method)
        x = problem.argmax(lam, problem.initial())
        limit = problem.scale_tol(lam)
        if method == "frank_wolfe":
            assert problem.last_gap <= limit
        assert problem.gap(lam, x) == pytest.approx(problem.last_gap, abs=1e-15)
        assert problem.last_gap <= limit or problem.last_decrement <= min(1e-2 * limit, 0.4 * beta)
        np.testing.assert_allclose(x, reference, atol=1e-4)
        w = lam[None, :]
        assert problem.objective(w, x[None])[0] >= problem.objective(w, reference[None])[0] - limit


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 8), st.floats(1e-5, 1e-1), st.integers(0, 10_000))
def test_regularized_newton_converges_from_warm_starts(n, beta, seed):
    rng = np.random.default_rng(seed)
    u = normalized(rng.random((n, n)))
    problem = RegularizedAssignment(u, beta)
    start = problem.initial()
    for _ in range(3):  # X_t from the previous round is the next warm start
        lam = rng.random(n) * rng.choice([0.1, 1.0, 10.0])
        x = problem.argmax(lam, start)
        limit = problem.scale_tol(lam)
        # Certified by the FW gap, or (round-off floor at tiny beta) by the Newton decrement.
        assert problem.last_gap <= limit or problem.last_decrement <= min(1e-2 * limit, 0.4 * beta)
        np.testing.assert_allclose(x.sum(axis=0), 1.0, atol=1e-12)
        np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-12)
        assert (x > 0).all()
        start = x


def test_regularized_apex_charges_menus_and_regularization_limit():
    rng = np.random.default_rng(8)
    n = 4
    u = normalized(rng.random((n, n)))
    lam = rng.random(n) * 2
    apex = Apex(RegularizedAssignment(u, beta=1e-4))
    apex.run_round(reports(rng.random(n)), rng)
    before = copy.deepcopy(apex)
    res = apex.run_round(reports(lam), rng)
    assert res.extras["min_raw_charge"] >= -apex.problem.scale_tol(lam)
    # Small beta: charges approach the unregularized VCG payments (Claim 8.2, |P - xC| <= eta).
    plain = Apex(AssignmentProblem(u)).run_round(reports(lam), rng)
    np.testing.assert_allclose(res.charges, plain.charges, atol=0.05)
    # Menu = re-running Algorithm 1 with the alternative bid, from the same X_t.
    alts = np.array([[0.0, 0.3, 1.7]] * n)
    util, cost = apex.menu_all(alts, reports(lam), state=res.state)
    for i in range(n):
        for k in range(3):
            bids = lam.copy()
            bids[i] = alts[i, k]
            eu, ec = rerun(before, bids, i)
            assert util[i, k] == pytest.approx(eu, abs=1e-6)
            assert cost[i, k] == pytest.approx(ec, abs=1e-6)


def test_assignment_menu_breakpoints_attain_the_exact_envelope():
    """For every exchange rate r, the best of u - r c over a fine lambda grid is attained
    at one of the breakpoint bids, and each breakpoint bid's outcome is on the menu."""
    rng = np.random.default_rng(11)
    grid = np.concatenate([[0.0], np.geomspace(1e-3, 1e3, 3000)])
    for n in (3, 5, 8):
        u = rng.random((n, n))
        mech = Apex(AssignmentProblem(u))
        lam = rng.random(n) * 2
        reports = Reports(lam, np.ones(n))
        res = mech.run_round(reports, rng)
        bp = mech.menu_breakpoints(reports, state=res.state)
        assert bp.shape == (n, n) and np.all(bp >= 0)
        u_bp, c_bp = mech.menu_all(bp, reports, state=res.state)
        u_g, c_g = mech.menu_all(np.tile(grid, (n, 1)), reports, state=res.state)
        for r in (0.0, 0.05, 0.3, 1.0, 4.0, 50.0):
            assert np.all((u_bp - r * c_bp).max(axis=1) >= (u_g - r * c_g).max(axis=1) - 1e-9)
