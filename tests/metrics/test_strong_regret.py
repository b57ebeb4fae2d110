"""Strong regret (Braverman 2021 Definition 3): the exact dual/envelope computation against an LP
solver on the primal, against hand computations from the papers, and its invariants."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from abm.metrics.strong_regret import (
    StrongRegretAccumulator,
    dual_objective,
    menu_envelope,
    prefix_budgets,
    strong_regret,
)
from mechanisms.assignment.vcg import unit_demand_vcg


def primal_lp(u: np.ndarray, c: np.ndarray, budget: float) -> float:
    """max sum_t q_t . u_t s.t. sum_t q_t . c_t <= B, q_t in the simplex (HiGHS)."""
    t, k = u.shape
    a_eq = np.kron(np.eye(t), np.ones(k))
    res = linprog(
        -u.ravel(), A_ub=c.ravel()[None, :], b_ub=[budget], A_eq=a_eq, b_eq=np.ones(t), bounds=(0, None), method="highs"
    )
    assert res.status == 0
    return float(-res.fun)


def random_menus(rng: np.random.Generator, t: int, m: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    u = rng.random((t, m, k))
    c = rng.random((t, m, k)) * rng.choice([0.0, 1.0, 3.0])
    if rng.random() < 0.4:  # coarse values: many ties and collinear menu points
        u, c = np.round(u * 3) / 3, np.round(c * 2) / 2
    return u, c


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.integers(1, 7),
    m=st.integers(1, 3),
    k=st.integers(1, 6),
    slack=st.floats(0.0, 1.2),
)
def test_equals_primal_lp(seed: int, t: int, m: int, k: int, slack: float) -> None:
    rng = np.random.default_rng(seed)
    u, c = random_menus(rng, t, m, k)
    cheapest = c.min(axis=2).sum(axis=0)
    budget = cheapest + slack * (c.max(axis=2).sum(axis=0) - cheapest)
    res = strong_regret(u, c, budget, np.zeros(m))
    for i in range(m):
        assert res.opt[i] == pytest.approx(primal_lp(u[:, i], c[:, i], budget[i]), abs=1e-7)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), r=st.floats(0.0, 5.0))
def test_weak_duality_and_tightness_at_r_star(seed: int, r: float) -> None:
    rng = np.random.default_rng(seed)
    u, c = random_menus(rng, 6, 3, 5)
    budget = c.min(axis=2).sum(axis=0) + 0.5
    res = strong_regret(u, c, budget, np.zeros(3))
    assert (dual_objective(u, c, budget, np.full(3, r)) >= res.opt - 1e-9).all()
    assert dual_objective(u, c, budget, res.r_star) == pytest.approx(res.opt, abs=1e-9)


def vcg_menu(own_bids: np.ndarray, other_bid: float) -> tuple[np.ndarray, np.ndarray]:
    """Menu of a player with f = (1 for item A, 0 for B) against one opponent with the same f
    bidding `other_bid`, under unit-demand VCG on values lambda_i f_i (Braverman 2021 §3.2)."""
    u, c = [], []
    for lam in own_bids:
        res = unit_demand_vcg(np.array([[lam, 0.0], [other_bid, 0.0]]))
        u.append(1.0 if res.assignment[0] == 0 else 0.0)
        c.append(res.payments[0])
    return np.array(u), np.array(c)


def section_323_menus(rounds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Menus of both players in the Braverman 2021 §3.2.3 execution: player 1 bids 3 every round,
    player 2 bids 4 in rounds t = 3i + 1 and 1.5 otherwise (1-based). Alternatives: a grid
    avoiding ties plus the played bid (last column). Returns (utility, cost, realized)."""
    grid = np.array([0.0, 1.0, 2.0, 3.5, 5.0])
    lam1 = np.full(rounds, 3.0)
    lam2 = np.where(np.arange(1, rounds + 1) % 3 == 1, 4.0, 1.5)
    u = np.zeros((rounds, 2, grid.size + 1))
    c = np.zeros_like(u)
    for t in range(rounds):
        u[t, 0], c[t, 0] = vcg_menu(np.append(grid, lam1[t]), lam2[t])
        u[t, 1], c[t, 1] = vcg_menu(np.append(grid, lam2[t]), lam1[t])
    return u, c, u[:, :, -1]


def test_section_323_execution_has_zero_strong_regret() -> None:
    """Braverman 2021 §3.2.3. Player 1 wins item A in the 2T/3 rounds where player 2 bids 1.5,
    paying 1.5 each: spend T = B_1, utility 2T/3. A deviation winning A in a fraction alpha of
    the 4-rounds and beta of the 1.5-rounds costs (4 alpha + 1.5 beta) T <= T and yields
    (alpha + beta) T <= 2T/3 (the paper's inequality), so OPT_1 = 2T/3 = U_1: strong regret 0.
    Player 2 pays 3 for A whenever she wins (player 1 always bids 3): budget T buys T/3 rounds,
    exactly what she gets: OPT_2 = T/3 = U_2, strong regret 0."""
    rounds = 30
    u, c, realized = section_323_menus(rounds)
    assert realized.sum(axis=0) == pytest.approx([2 * rounds / 3, rounds / 3])
    assert c[:, :, -1].sum(axis=0) == pytest.approx([rounds, rounds])  # both spend exactly B = T
    res = strong_regret(u, c, np.array([rounds, rounds], dtype=float), realized)
    assert res.opt == pytest.approx([2 * rounds / 3, rounds / 3], abs=1e-9)
    assert res.regret == pytest.approx([0.0, 0.0], abs=1e-9)


def test_section_323_with_a_larger_budget() -> None:
    """Same execution, but player 1 holds B_1 = 1.2 T: after all 2T/3 rounds at price 1.5
    (cost T) the extra 0.2 T buys A in the price-4 rounds at 1/4 utility per token, so
    OPT_1 = 2T/3 + 0.2T/4 = 2T/3 + T/20, strong regret T/20 and r* = 1/4 (hand computation)."""
    rounds = 30
    u, c, realized = section_323_menus(rounds)
    res = strong_regret(u, c, np.array([1.2 * rounds, rounds]), realized)
    assert res.opt[0] == pytest.approx(2 * rounds / 3 + rounds / 20, abs=1e-9)
    assert res.regret[0] == pytest.approx(rounds / 20, abs=1e-9)
    assert res.per_round[0] == pytest.approx(1 / 20)
    assert res.r_star[0] == pytest.approx(0.25)


def test_bwk_toy_instance_additive_regret_half_t() -> None:
    """Braverman 2021 §2.3.3: a zero arm and an arm of cost 1, B = T/2, reward 1 in the first half
    and 2 in the second. Pulling the arm in the first half (U = T/2) leaves strong regret
    T/2 against the hindsight optimum T (pull it in the second half)."""
    rounds = 10
    reward = np.where(np.arange(rounds) < rounds // 2, 1.0, 2.0)
    u = np.stack([np.zeros(rounds), reward], axis=1)[:, None, :]
    c = np.stack([np.zeros(rounds), np.ones(rounds)], axis=1)[:, None, :]
    res = strong_regret(u, c, np.array([rounds / 2]), np.array([rounds / 2]))
    assert res.opt[0] == pytest.approx(rounds)
    assert res.regret[0] == pytest.approx(rounds / 2)
    # The budget exactly buys the five reward-2 rounds, so every r in [1, 2] is dual-optimal.
    assert 1.0 - 1e-12 <= res.r_star[0] <= 2.0 + 1e-12
    assert dual_objective(u, c, np.array([rounds / 2]), res.r_star) == pytest.approx([rounds])


def test_chunked_accumulation_equals_one_pass() -> None:
    rng = np.random.default_rng(3)
    u, c = random_menus(rng, 40, 4, 6)
    budget = c.min(axis=2).sum(axis=0) + 3.0
    whole = strong_regret(u, c, budget, np.zeros(4))
    acc = StrongRegretAccumulator(4)
    for lo in range(0, 40, 7):
        acc.add(u[lo : lo + 7], c[lo : lo + 7])
    opt, r_star = acc.solve(budget)
    assert opt[0] == pytest.approx(whole.opt, abs=1e-12)
    assert r_star[0] == pytest.approx(whole.r_star, abs=1e-12)


def test_prefix_solutions_equal_truncated_problems() -> None:
    rng = np.random.default_rng(4)
    u, c = random_menus(rng, 25, 3, 5)
    spent = c[:, :, 0]
    horizons = [1, 5, 12, 25]
    budgets = prefix_budgets(np.full(3, 6.0), spent, horizons, 25)
    acc = StrongRegretAccumulator(3)
    acc.add(u, c)
    opt, _ = acc.solve_many(budgets, horizons)
    for g, h in enumerate(horizons):
        ref = strong_regret(u[:h], c[:h], budgets[g], np.zeros(3))
        assert opt[g] == pytest.approx(ref.opt, abs=1e-9)
    # The prefix budget is the pro-rated share, raised to the actual spend.
    assert budgets[1] == pytest.approx(np.maximum(6.0 * 5 / 25, spent[:5].sum(axis=0)))


def test_envelope_breakpoints_are_decreasing_and_sum_to_the_max() -> None:
    rng = np.random.default_rng(5)
    u, c = rng.random((50, 8)), rng.random((50, 8))
    bp = menu_envelope(u, c)
    total_du = np.bincount(bp.row, weights=bp.du, minlength=50)
    # Walking the whole envelope ends at the best-utility action: r -> 0 gives max_a u.
    assert bp.base_utility + total_du == pytest.approx(u.max(axis=1))
    for row in range(50):
        r = bp.r[bp.row == row]
        assert (np.diff(r) < 0).all() and (r > 0).all()


def test_played_sequence_in_menu_gives_nonnegative_regret() -> None:
    rng = np.random.default_rng(6)
    u, c = random_menus(rng, 30, 3, 5)
    played = rng.integers(0, 5, size=(30, 3))
    got_u = np.take_along_axis(u, played[:, :, None], axis=2)[:, :, 0]
    got_c = np.take_along_axis(c, played[:, :, None], axis=2)[:, :, 0]
    res = strong_regret(u, c, got_c.sum(axis=0), got_u)
    assert (res.regret >= -1e-9).all()
    assert res.eps == pytest.approx(res.regret)  # M = 1


def test_bad_inputs_raise_value_errors() -> None:
    u = np.ones((3, 2, 4))
    c = np.ones((3, 2, 4))
    with pytest.raises(ValueError, match="budget\\[0\\]"):
        strong_regret(u, c, np.array([1.0, 5.0]), np.zeros(2))  # cheapest menu costs 3
    with pytest.raises(ValueError, match="shape"):
        strong_regret(u, c[:, :, :3], np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match="cost"):
        strong_regret(u, -c, np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match="payoff_bound"):
        strong_regret(u, c, np.full(2, 9.0), np.zeros(2), payoff_bound=0.0)


def test_accumulator_blocks_hold_whole_rounds(monkeypatch):
    """Envelope blocks smaller than a round's m x K entries still give the one-shot optimum."""
    import importlib

    sr = importlib.import_module("abm.metrics.strong_regret")  # the package's function shadows the module

    rng = np.random.default_rng(4)
    u, c = rng.random((30, 7, 5)), rng.random((30, 7, 5))
    c[:, :, 0] = 0.0
    budget = np.full(7, 3.0)
    whole = sr.strong_regret(u, c, budget, np.zeros(7))
    monkeypatch.setattr(sr, "CHUNK_ENTRIES", 12)  # < m x K = 35: one round per block
    acc = sr.StrongRegretAccumulator(7)
    acc.add(u[:11], c[:11])
    acc.add(u[11:], c[11:])
    opt, r_star = acc.solve(budget)
    np.testing.assert_allclose(opt[0], whole.opt, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r_star[0], whole.r_star, rtol=1e-12, atol=1e-12)


def envelope_value(bp, rows: int, r: float) -> np.ndarray:
    """base_u - r base_c + sum_j (du_j - r dc_j)^+ per row: the envelope the breakpoints describe."""
    gain = np.maximum(bp.du - r * bp.dc, 0.0)
    return bp.base_utility - r * bp.base_cost + np.bincount(bp.row, weights=gain, minlength=rows)


@st.composite
def menu_blocks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """(rows, K) menus of every kind the recorders produce: concave (APEX-like, every point a
    vertex), piecewise constant (posted prices), random point clouds, coarse values with ties."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows, k = draw(st.integers(1, 40)), draw(st.integers(1, 70))
    kind = draw(st.sampled_from(["concave", "steps", "cloud", "coarse"]))
    x = np.sort(rng.random((rows, k)), axis=1)
    if kind == "concave":
        u, c = np.sqrt(x) * rng.random((rows, 1)), x**2
    elif kind == "steps":
        thr = rng.random((rows, 1))
        u, c = np.where(x >= thr, rng.random((rows, 1)), 0.0), np.where(x >= thr, thr + 0.1 * x, 0.0)
    elif kind == "cloud":
        u, c = rng.random((rows, k)), rng.random((rows, k))
    else:
        u, c = np.round(rng.random((rows, k)) * 3) / 3, np.round(rng.random((rows, k)) * 2) / 2
    perm = rng.permutation(k)  # the alternatives in no particular order
    return u[:, perm], c[:, perm]


@settings(max_examples=150, deadline=None)
@given(menus=menu_blocks(), walk=st.sampled_from([0, 1, 3, 10**6, "compiled"]))
def test_envelope_is_the_upper_envelope_whatever_the_split(menus, walk) -> None:
    """However many vertices gift wrapping walks before the sorted hull takes over (0: hull only,
    10**6: gift wrapping only; "compiled": the compiled walk), the breakpoints describe
    max_a (u(a) - r c(a)) exactly, with r decreasing per row (gift wrapping may split a
    collinear edge into pieces of equal r), from the first cheapest action."""
    sr = importlib.import_module("abm.metrics.strong_regret")  # the package's name is the function

    u, c = menus
    rows = u.shape[0]
    saved = sr.GIFT_WRAP_VERTICES
    try:
        sr.GIFT_WRAP_VERTICES = 10**6 if walk == "compiled" else walk
        bp = menu_envelope(u, c, compiled=walk == "compiled")
        if walk == "compiled":  # the same walk as numpy's gift wrapping, breakpoint for breakpoint
            ref = menu_envelope(u, c, compiled=False)
            order, ref_order = np.lexsort((-bp.r, bp.row)), np.lexsort((-ref.r, ref.row))
            assert np.array_equal(bp.row[order], ref.row[ref_order])
            for a, b in ((bp.r, ref.r), (bp.du, ref.du), (bp.dc, ref.dc)):
                assert np.array_equal(a[order], b[ref_order])
    finally:
        sr.GIFT_WRAP_VERTICES = saved
    start = c.argmin(axis=1)
    assert np.array_equal(bp.base_utility, u[np.arange(rows), start])
    for r in (0.0, 1e-3, 0.3, 1.0, 3.0, 1e3):
        assert envelope_value(bp, rows, r) == pytest.approx((u - r * c).max(axis=1), abs=1e-12)
    for row in range(rows):
        rr = bp.r[bp.row == row]
        assert (np.diff(rr) <= 0).all() and (rr > 0).all()
        if walk == 0:
            assert (np.diff(rr) < 0).all()  # the hull has no collinear vertices
    assert (bp.dc >= 0).all() and (bp.du > 0).all()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    block=st.sampled_from([1, 2, 3, 64]),
    t=st.integers(1, 30),
    m=st.integers(1, 4),
    k=st.integers(1, 8),
)
def test_prefix_fill_equals_each_truncated_problem(seed, block, t, m, k) -> None:
    """solve_many's block tables (blocks of 1, 2, 3, 64 breakpoints) give, for random horizons and
    budgets, the OPT and r* of the problem truncated to each prefix and solved on its own by a
    full sort of its breakpoints (`_fill` on one horizon over the prefix's menus only)."""
    sr = importlib.import_module("abm.metrics.strong_regret")  # the package's name is the function

    rng = np.random.default_rng(seed)
    u, c = random_menus(rng, t, m, k)
    horizons = np.unique(rng.integers(1, t + 1, size=4))
    cheapest = np.cumsum(c.min(axis=2), axis=0)[horizons - 1]
    costliest = np.cumsum(c.max(axis=2), axis=0)[horizons - 1]
    budgets = cheapest + rng.random(cheapest.shape) * (costliest - cheapest) * 1.1
    acc = StrongRegretAccumulator(m)
    acc.add(u, c)
    saved = sr.SOLVE_BLOCK
    try:
        sr.SOLVE_BLOCK = block
        opt, r_star = acc.solve_many(budgets, horizons)
    finally:
        sr.SOLVE_BLOCK = saved
    for g, h in enumerate(horizons):
        for i in range(m):
            assert opt[g, i] == pytest.approx(primal_lp(u[:h, i], c[:h, i], budgets[g, i]), abs=1e-7)
        ref = StrongRegretAccumulator(m)
        ref.add(u[:h], c[:h])
        ref_opt, ref_r = ref.solve(budgets[g])
        assert opt[g] == pytest.approx(ref_opt[0], abs=1e-12)
        assert r_star[g] == pytest.approx(ref_r[0], abs=1e-12)


@pytest.mark.parametrize("compiled", [False, True])
def test_check_menus_rejects_non_finite_and_negative_but_not_a_large_finite_sum(compiled, monkeypatch) -> None:
    from abm.metrics.strong_regret import check_menus

    monkeypatch.setattr(importlib.import_module("abm.metrics.kernels"), "KERNEL_MIN_ENTRIES", 0 if compiled else 10**15)
    u, c = np.ones((2, 2, 3)), np.ones((2, 2, 3))
    big = np.full((2, 2, 3), 1e308)  # finite entries whose sum overflows: still valid menus
    check_menus(big, big)
    for bad_u in (np.nan, np.inf, -np.inf):
        x = u.copy()
        x[1, 0, 2] = bad_u
        with pytest.raises(ValueError, match="utility"):
            check_menus(x, c)
    for bad_c in (np.nan, np.inf, -1e-3):
        y = c.copy()
        y[0, 1, 1] = bad_c
        with pytest.raises(ValueError, match="cost"):
            check_menus(u, y)


def test_compiled_accumulation_equals_numpy_and_the_lp(monkeypatch) -> None:
    """Menus above KERNEL_MIN_ENTRIES (forced to 0 here) take the compiled walk and checks in
    `StrongRegretAccumulator.add`: the same OPT and r* as numpy's path, and the LP's OPT."""
    kernels = importlib.import_module("abm.metrics.kernels")
    rng = np.random.default_rng(12)
    for _ in range(5):
        u, c = random_menus(rng, 9, 3, 6)
        budget = c.min(axis=2).sum(axis=0) + rng.random(3) * 2
        monkeypatch.setattr(kernels, "KERNEL_MIN_ENTRIES", 10**15)
        plain = strong_regret(u, c, budget, np.zeros(3))
        monkeypatch.setattr(kernels, "KERNEL_MIN_ENTRIES", 0)
        compiled = strong_regret(u, c, budget, np.zeros(3))
        assert compiled.opt == pytest.approx(plain.opt, abs=1e-12)
        assert compiled.r_star == pytest.approx(plain.r_star, abs=1e-12)
        for i in range(3):
            assert compiled.opt[i] == pytest.approx(primal_lp(u[:, i], c[:, i], budget[i]), abs=1e-7)
    with pytest.raises(ValueError, match="finite"):
        bad = u.copy()
        bad[0, 0, 0] = np.nan
        strong_regret(bad, c, budget, np.zeros(3))


def test_knapsack_fill_by_groups_of_agents_equals_one_group(monkeypatch):
    """Filling the agents' knapsacks in small groups (bounded temporaries) gives the optimum
    and prefix curve of filling them all at once; an add after a solve merges its breakpoints."""
    import importlib

    sr = importlib.import_module("abm.metrics.strong_regret")
    rng = np.random.default_rng(8)
    u, c = rng.random((40, 6, 7)), rng.random((40, 6, 7))
    c[:, :, 0] = 0.0
    budgets = np.array([[2.0] * 6, [5.0] * 6, [9.0] * 6])
    hs = [10, 25, 40]
    one = sr.StrongRegretAccumulator(6)
    one.add(u, c)
    ref = one.solve_many(budgets, hs)
    monkeypatch.setattr(sr, "FILL_BREAKPOINTS", 5)
    many = sr.StrongRegretAccumulator(6)
    many.add(u[:20], c[:20])
    many.solve(np.full(6, 1.0), 20)
    many.add(u[20:], c[20:])
    got = many.solve_many(budgets, hs)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("compiled", [False, True])
def test_accumulator_checks_each_chunk_and_returns_its_largest_utility(compiled) -> None:
    """`StrongRegretAccumulator.add` checks the menus itself (the regret step checks them only
    there): a non-finite utility or cost, or a negative cost, is a ValueError naming it, on
    the compiled walk (which screens each row before walking it) as on numpy's path; a valid
    chunk returns max |utility| over it, the payoff the metrics compare with the bound."""
    rng = np.random.default_rng(4)
    u, c = random_menus(rng, 7, 3, 5)
    u[3, 1, 2] = -4.5  # the largest |utility|, and negative
    acc = StrongRegretAccumulator(3)
    assert acc.add(u, c, compiled=compiled) == 4.5
    for array, value, field in ((u, np.nan, "finite"), (u, -np.inf, "finite"), (c, np.inf, "finite"),
                                (c, -1e-3, "cost")):
        bad = array.copy()
        bad[5, 2, 0] = value
        args = (bad, c) if array is u else (u, bad)
        with pytest.raises(ValueError, match=field):
            StrongRegretAccumulator(3).add(*args, compiled=compiled)


# -- several currencies: d budget rows (Braverman 2021 §2.3, Problem 13) -------------------
def primal_lp_rows(u: np.ndarray, c: np.ndarray, budget: np.ndarray) -> float:
    """max sum_t q_t . u_t s.t. sum_t q_t . c_t[:, j] <= B_j for each of the d rows, q_t in the
    simplex (HiGHS on the whole LP). u: (T, K); c: (T, K, d)."""
    t, k, d = c.shape
    a_eq = np.kron(np.eye(t), np.ones(k))
    a_ub = c.reshape(t * k, d).T
    res = linprog(-u.ravel(), A_ub=a_ub, b_ub=budget, A_eq=a_eq, b_eq=np.ones(t), bounds=(0, None), method="highs")
    assert res.status == 0
    return float(-res.fun)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.integers(1, 12), st.integers(1, 5))
def test_strong_regret_with_d_budget_rows_matches_highs(seed, d, t, k):
    """OPT over per-round mixed reports with expected spend <= B_j in each currency, each round
    paid in its currency[t]: the per-currency knapsacks against HiGHS on the LP with d rows."""
    from abm.metrics.strong_regret import strong_regret_currencies

    rng = np.random.default_rng(seed)
    m = 2
    u, c = random_menus(rng, t, m, k)
    currency = rng.integers(0, d, size=t)
    # Each row at least its rounds' cheapest spend (the LP is feasible), plus some slack.
    cheapest = np.stack([c[currency == j].min(axis=2).sum(axis=0) for j in range(d)], axis=1)
    budget = cheapest + rng.random((m, d)) * rng.choice([0.1, 1.0, 5.0])
    res = strong_regret_currencies(u, c, budget, np.zeros(m), currency)
    for i in range(m):
        rows = np.zeros((t, k, d))
        rows[np.arange(t), :, currency] = c[:, i, :]
        assert res.opt[i] == pytest.approx(primal_lp_rows(u[:, i, :], rows, budget[i]), rel=1e-7, abs=1e-7)
    assert res.r_star.shape == (m, d)


def test_strong_regret_with_one_row_is_the_one_currency_regret():
    from abm.metrics.strong_regret import strong_regret_currencies

    u, c = random_menus(np.random.default_rng(5), 9, 3, 4)
    budget = c.min(axis=2).sum(axis=0) + np.array([0.5, 1.0, 2.0])
    one = strong_regret(u, c, budget, np.ones(3))
    rows = strong_regret_currencies(u, c, budget[:, None], np.ones(3), np.zeros(9, dtype=int))
    assert np.array_equal(rows.opt, one.opt) and np.array_equal(rows.r_star[:, 0], one.r_star)


def test_strong_regret_with_d_rows_names_a_bad_currency():
    from abm.metrics.strong_regret import strong_regret_currencies

    u, c = random_menus(np.random.default_rng(1), 3, 1, 2)
    with pytest.raises(ValueError, match="currency must have shape"):
        strong_regret_currencies(u, c, np.ones((1, 2)), np.zeros(1), np.array([0, 2, 1]))
