"""Proportional and Moulin (Onyeze et al. 2025 §3.1) against brute force and their axioms."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mechanisms import Moulin, Proportional, Reports, dead_weight_loss
from mechanisms.public_goods.monetary import moulin_thresholds

RNG = np.random.default_rng(0)
values_st = st.lists(st.floats(0.0, 1.5, allow_nan=False), min_size=1, max_size=8).map(np.array)
# Values on a coarse grid of reciprocals make the V_i >= 1/|S| comparisons tie-heavy.
tie_st = st.lists(st.sampled_from([0.0, 1 / 8, 1 / 6, 1 / 5, 0.25, 1 / 3, 0.5, 1.0]), min_size=1, max_size=8).map(
    np.array
)


def brute_moulin(v: np.ndarray) -> set[int]:
    """Largest S with v_i >= 1/|S| for all i in S, by enumerating every subset."""
    n = len(v)
    for size in range(n, 0, -1):
        for s in combinations(range(n), size):
            if all(v[i] >= 1.0 / size for i in s):
                return set(s)
    return set()


@settings(max_examples=300, deadline=None)
@given(st.one_of(values_st, tie_st))
def test_moulin_matches_subset_enumeration(v):
    res = Moulin().run_round(Reports(v, v), RNG)
    expected = brute_moulin(v)
    assert set(np.flatnonzero(res.outcome)) == expected
    if expected:
        assert np.allclose(res.charges[list(expected)], 1.0 / len(expected))
    assert res.charges[~res.outcome].sum() == 0.0


@settings(max_examples=200, deadline=None)
@given(st.one_of(values_st, tie_st), st.data())
def test_moulin_threshold_menu_matches_rerunning(v, data):
    """The posted-price form of the menu equals re-running Moulin per alternative."""
    i = data.draw(st.integers(0, len(v) - 1))
    alts = np.array([0.0, 0.1, 1 / 7, 0.2, 0.25, 1 / 3, 0.5, 0.99, 1.0, 2.0])
    u_fast, c_fast = Moulin().menu(i, alts, Reports(v, v))
    for a, u, c in zip(alts, u_fast, c_fast, strict=True):
        bids = v.copy()
        bids[i] = a
        res = Moulin().run_round(Reports(bids, v), RNG)
        assert u == pytest.approx(res.utilities[i])
        assert c == pytest.approx(res.charges[i])
    assert moulin_thresholds(v).shape == v.shape


@pytest.mark.parametrize("mech", [Proportional(), Moulin()])
@settings(max_examples=200, deadline=None)
@given(v=values_st)
def test_individually_rational_and_cost_covering(mech, v):
    res = mech.run_round(Reports(v, v), RNG)
    served = res.outcome
    assert np.all(res.charges <= v * served + 1e-12)  # IR: p_i <= V_i 1[i in A]
    assert res.charges.sum() >= (1.0 if served.any() else 0.0) - 1e-12  # CC


@settings(max_examples=200, deadline=None)
@given(v=values_st)
def test_proportional_budget_balanced_and_zero_dwl(v):
    res = Proportional().run_round(Reports(v, v), RNG)
    if v.sum() >= 1:
        assert res.outcome.all()
        assert res.charges.sum() == pytest.approx(1.0)
    else:
        assert not res.outcome.any() and res.charges.sum() == 0
    assert dead_weight_loss(v, res.outcome, res.charges) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(v=values_st)
def test_moulin_truthful_against_grid_misreports(v):
    """No misreport on a grid improves quasi-linear utility V_i 1[served] - p_i."""
    grid = np.linspace(0, 1.5, 61)
    truthful = Moulin().run_round(Reports(v, v), RNG)
    for i in range(len(v)):
        base = v[i] * truthful.outcome[i] - truthful.charges[i]
        u, c = Moulin().menu(i, grid, Reports(v, v))
        assert np.all(u - c <= base + 1e-12)


def test_moulin_dwl_bound_and_harmonic_instance():
    """DWL <= H_n - 1 (Onyeze et al. 2025 §3.1); the §6 shared round (1/sigma(i) - eps) allocates
    nothing under Moulin, so its DWL is H_n - n*eps - 1."""
    n, eps = 6, 1e-3
    v = 1.0 / np.arange(1, n + 1) - eps
    res = Moulin().run_round(Reports(v, v), RNG)
    assert not res.outcome.any()
    h_n = np.sum(1.0 / np.arange(1, n + 1))
    assert dead_weight_loss(v, res.outcome, res.charges) == pytest.approx(h_n - n * eps - 1)
    for _ in range(200):
        w = RNG.random(n)
        r = Moulin().run_round(Reports(w, w), RNG)
        assert dead_weight_loss(w, r.outcome, r.charges) <= h_n - 1 + 1e-12


def test_proportional_menu_matches_rerunning():
    v = RNG.random(6)
    alts = np.linspace(0, 1, 11)
    u, c = Proportional().menu(2, alts, Reports(v, v))
    for a, uu, cc in zip(alts, u, c, strict=True):
        b = v.copy()
        b[2] = a
        r = Proportional().run_round(Reports(b, v), RNG)
        assert (uu, cc) == pytest.approx((r.utilities[2], r.charges[2]))


@pytest.mark.parametrize("mech", [Proportional(), Moulin()])
def test_menu_breakpoints_attain_the_exact_menu_envelope(mech):
    """For every exchange rate r, the best of u - r c over a fine report grid is attained
    at one of the two breakpoints (0 and the cheapest served report)."""
    rng = np.random.default_rng(5)
    grid = np.linspace(0, 2, 4001)
    for _ in range(30):
        v = rng.random(5) * rng.choice([0.3, 1.0])
        reports = Reports(v, v)
        bp = mech.menu_breakpoints(reports)
        u_bp, c_bp = mech.menu_all(bp, reports)
        u_g, c_g = mech.menu_all(np.tile(grid, (5, 1)), reports)
        for r in (0.0, 0.3, 1.0, 3.0, 50.0):
            assert np.all((u_bp - r * c_bp).max(axis=1) >= (u_g - r * c_g).max(axis=1) - 1e-12)
