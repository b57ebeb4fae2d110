"""External (fixed-action, budgeted) regret, swap regret and CE/CCE gaps against brute force."""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.metrics.regret import (
    cce_gap,
    ce_gap,
    external_regret,
    fixed_action_utility,
    lagrangian_payoff,
    nearest_grid_index,
    swap_regret,
)


def fixed_action_loop(u: np.ndarray, c: np.ndarray, budget: float) -> np.ndarray:
    """Play action k every round; stop for good once the budget would be overdrawn."""
    t, k = u.shape
    out = np.zeros(k)
    for a in range(k):
        spent = 0.0
        for s in range(t):
            if spent + c[s, a] > budget + 1e-9:
                break
            spent += c[s, a]
            out[a] += u[s, a]
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_fixed_action_utility_matches_a_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    u, c = rng.random((12, 2, 4)), rng.random((12, 2, 4))
    budget = rng.random(2) * 6
    got = fixed_action_utility(u, c, budget)
    for i in range(2):
        assert got[i] == pytest.approx(fixed_action_loop(u[:, i], c[:, i], budget[i]))
    regret, best = external_regret(u, c, budget, np.array([1.0, 2.0]))
    assert regret == pytest.approx(got.max(axis=1) - [1.0, 2.0])
    assert (got[np.arange(2), best] == got.max(axis=1)).all()


def swap_regret_brute(payoff: np.ndarray, idx: np.ndarray, got: np.ndarray) -> float:
    """max over all swap functions phi: A -> A of sum_t payoff_t(phi(a_t)) - got_t (>= 0 with
    phi = identity when got_t = payoff_t(a_t))."""
    k = payoff.shape[1]
    best = -np.inf
    for phi in itertools.product(range(k), repeat=k):
        best = max(best, float((payoff[np.arange(len(idx)), np.array(phi)[idx]] - got).sum()))
    return best


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_swap_regret_matches_enumerating_all_swap_functions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t, m, k = 15, 2, 3
    p = rng.random((t, m, k))
    idx = rng.integers(0, k, size=(t, m))
    got = np.take_along_axis(p, idx[:, :, None], axis=2)[:, :, 0]
    sw = swap_regret(p, idx, got)
    for i in range(m):
        assert sw[i] == pytest.approx(swap_regret_brute(p[:, i], idx[:, i], got[:, i]))
    # Swap regret dominates external regret (a constant swap function is one swap function).
    ext = p.sum(axis=0).max(axis=1) - got.sum(axis=0)
    assert (sw >= ext - 1e-12).all()


def test_lagrangian_payoff_prices_cost() -> None:
    u = np.ones((2, 2, 3))
    c = np.full((2, 2, 3), 2.0)
    out = lagrangian_payoff(u, c, np.array([0.5, 0.25]))
    assert out[:, 0] == pytest.approx(np.zeros((2, 3)))
    assert out[:, 1] == pytest.approx(np.full((2, 3), 0.5))
    assert lagrangian_payoff(u[:, :, 0], c[:, :, 0], np.array([0.5, 0.25]))[0] == pytest.approx([0.0, 0.5])


def test_nearest_grid_index_on_log_grid() -> None:
    grid = np.concatenate([[0.0], np.logspace(-3, 0, 4)])  # 0, 1e-3, 1e-2, 1e-1, 1
    idx = nearest_grid_index(np.array([0.0, 0.0011, 0.009, 0.5, 2.0]), grid)
    assert idx.tolist() == [0, 1, 2, 4, 4]
    with pytest.raises(ValueError, match="increasing"):
        nearest_grid_index(np.zeros(2), np.array([1.0, 0.5]))


def test_ce_and_cce_gaps_of_a_finite_game_against_payoff_tensors() -> None:
    """Two players, three actions each, random payoff tensors and a random sequence of joint
    play. The gaps from per-round menus (others' play fixed) must equal the textbook
    definitions on the empirical joint distribution P, computed here by hand and by the
    learner package's bimatrix functions (`agents.games`):
    CCE gap_i = max_b sum_{a} P(a) (u_i(b, a_-i) - u_i(a)),
    CE gap_i = sum_{a_i} max_b sum_{a_-i} P(a_i, a_-i) (u_i(b, a_-i) - u_i(a))."""
    games = pytest.importorskip("agents.games")
    rng = np.random.default_rng(11)
    k, t = 3, 200
    pay = [rng.random((k, k)), rng.random((k, k))]  # pay[i][own, other]
    play = rng.integers(0, k, size=(t, 2))
    joint = np.zeros((k, k))
    np.add.at(joint, (play[:, 0], play[:, 1]), 1.0 / t)
    menus = np.stack([pay[0][:, play[:, 1]].T, pay[1][:, play[:, 0]].T], axis=1)  # (t, 2, k)
    got = np.stack([pay[0][play[:, 0], play[:, 1]], pay[1][play[:, 1], play[:, 0]]], axis=1)
    views = [joint, joint.T]  # P[own, other] for each player
    cce_ref = max(
        max(float((views[i] * (pay[i][b][None, :] - pay[i])).sum()) for b in range(k)) for i in range(2)
    )
    ce_ref = max(
        sum(max(0.0, max(float((views[i][a] * (pay[i][b] - pay[i][a])).sum()) for b in range(k))) for a in range(k))
        for i in range(2)
    )
    assert cce_gap(menus, got) == pytest.approx(max(cce_ref, 0.0))
    assert ce_gap(menus, play, got) == pytest.approx(ce_ref)
    # agents.games: A[a, b] row payoff, B[a, b] column payoff, pi[a, b] joint.
    assert cce_gap(menus, got) == pytest.approx(float(games.cce_gap(joint, pay[0], pay[1].T)))
    assert ce_gap(menus, play, got) == pytest.approx(float(games.ce_gap(joint, pay[0], pay[1].T)))


def test_swap_regret_shape_errors() -> None:
    with pytest.raises(ValueError, match="played_index"):
        swap_regret(np.zeros((4, 2, 3)), np.zeros((4, 3), dtype=int), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="played_index must lie"):
        swap_regret(np.zeros((4, 2, 3)), np.full((4, 2), 3), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="budget"):
        fixed_action_utility(np.zeros((4, 2, 3)), np.zeros((4, 2, 3)), np.zeros(3))


def both_paths(fn, *args):
    """fn(*args) through numpy (KERNEL_MIN_ENTRIES out of reach) and through the compiled kernel."""
    kernels = importlib.import_module("abm.metrics.kernels")
    saved = kernels.KERNEL_MIN_ENTRIES
    try:
        kernels.KERNEL_MIN_ENTRIES = 10**15
        plain = fn(*args)
        kernels.KERNEL_MIN_ENTRIES = 0
        compiled = fn(*args)
    finally:
        kernels.KERNEL_MIN_ENTRIES = saved
    return plain, compiled


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 6), k=st.integers(2, 9), sliced=st.booleans())
def test_fixed_action_kernel_is_the_cumsum_formula_bit_for_bit(seed: int, m: int, k: int, sliced: bool) -> None:
    """The compiled pass adds in the order of cumsum + where + sum over rounds: the same floats,
    on a contiguous menu and on a slice of a wider one (the grid part of the recorded menus).
    (m K >= 2: with a single column numpy's sum over rounds is its pairwise 1-d sum instead.)"""
    rng = np.random.default_rng(seed)
    t = 30
    u, c = rng.random((t, m, k + 3)), rng.random((t, m, k + 3)) * rng.choice([0.1, 1.0])
    if sliced:
        u, c = u[:, :, :k], c[:, :, :k]
    budget = rng.random(m) * t * 0.3
    plain, compiled = both_paths(fixed_action_utility, u, c, budget)
    assert np.array_equal(plain, compiled)
    assert plain[0] == pytest.approx(fixed_action_loop(u[:, 0], c[:, 0], budget[0]))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sliced=st.booleans())
def test_swap_regret_kernel_is_the_bincounts_bit_for_bit(seed: int, sliced: bool) -> None:
    rng = np.random.default_rng(seed)
    t, m, k = 40, 5, 7
    p = rng.random((t, m, k + 2)) - 0.3
    p = p[:, :, :k] if sliced else np.ascontiguousarray(p[:, :, :k])
    idx = rng.integers(0, k, size=(t, m))
    got = rng.random((t, m))
    plain, compiled = both_paths(swap_regret, p, idx, got)
    assert np.array_equal(plain, compiled)
    for i in range(2):
        assert plain[i] == pytest.approx(swap_regret_brute_small(p[:, i], idx[:, i], got[:, i]))


def swap_regret_brute_small(payoff: np.ndarray, idx: np.ndarray, got: np.ndarray) -> float:
    """Swap regret by its definition, one played action at a time (the best replacement of each
    played action is chosen independently)."""
    total = 0.0
    for a in np.unique(idx):
        rounds = idx == a
        total += max(0.0, float((payoff[rounds] - got[rounds, None]).sum(axis=0).max()))
    return total


@pytest.mark.parametrize("compiled", [False, True])
def test_grid_stats_in_chunks_equal_the_whole_array_regrets(compiled):
    """`GridRegretStats` fed in chunks (numpy or compiled passes, the cost carried between
    chunks) gives `external_regret`, `swap_regret` (plain and Lagrangian) and the CE/CCE
    gaps of the whole menus."""
    from abm.metrics.regret import GridRegretStats

    rng = np.random.default_rng(11)
    t, m, k = 57, 4, 6
    u, c = rng.random((t, m, k)), rng.random((t, m, k)) * 0.3
    idx = rng.integers(0, k, (t, m))
    rows, cols = np.arange(t)[:, None], np.arange(m)[None, :]
    got_u, got_c = u[rows, cols, idx], c[rows, cols, idx]
    budget = np.array([2.0, 5.0, 9.0, 30.0])
    stats = GridRegretStats(budget, k, compiled)
    for lo in range(0, t, 10):
        stats.add(u[lo : lo + 10], c[lo : lo + 10], idx[lo : lo + 10], got_u[lo : lo + 10], got_c[lo : lo + 10])
    ext, best = external_regret(u, c, budget, got_u.sum(axis=0))
    e2, b2 = stats.external_regret(got_u.sum(axis=0))
    np.testing.assert_allclose(e2, ext, rtol=1e-12, atol=1e-12)
    assert (b2 == best).all()
    np.testing.assert_allclose(stats.swap_regret(), swap_regret(u, idx, got_u), rtol=1e-12, atol=1e-12)
    r = np.array([0.5, 1.0, 2.0, 0.0])
    lag = swap_regret(lagrangian_payoff(u, c, r), idx, lagrangian_payoff(got_u, got_c, r))
    np.testing.assert_allclose(stats.swap_regret(r), lag, rtol=1e-12, atol=1e-12)
    assert stats.cce_gap() == pytest.approx(cce_gap(u, got_u), rel=1e-12)
    assert stats.ce_gap() == pytest.approx(ce_gap(u, idx, got_u), rel=1e-12)
    lag_u, lag_got = lagrangian_payoff(u, c, r), lagrangian_payoff(got_u, got_c, r)
    assert stats.cce_gap(r) == pytest.approx(cce_gap(lag_u, lag_got), rel=1e-12)
    assert stats.ce_gap(r) == pytest.approx(ce_gap(lag_u, idx, lag_got), rel=1e-12)
