"""Unit-demand VCG (Braverman App. A): fast exchange-graph prices vs n + 1 solves, and the
economic invariants (envy-freeness, IR, truthfulness, unsold items at price 0)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment

from mechanisms.assignment.vcg import (
    VCGResult,
    assignments_without_each,
    unit_demand_vcg,
    unit_demand_vcg_naive,
)

TOL = 1e-9


@st.composite
def value_matrices(draw, kind: str = "float"):
    n = draw(st.integers(1, 6))
    m = draw(st.integers(n, n + 3))
    if kind == "float":
        elems = st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False)
    else:  # integer ties everywhere
        elems = st.integers(0, 2).map(float)
    return draw(arrays(np.float64, (n, m), elements=elems))


def opt(v: np.ndarray) -> float:
    r, c = linear_sum_assignment(v, maximize=True)
    return float(v[r, c].sum())


def brute_force_opt(v: np.ndarray) -> float:
    n, m = v.shape
    return max(sum(v[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))


def assert_same(a: VCGResult, b: VCGResult) -> None:
    np.testing.assert_allclose(a.item_prices, b.item_prices, atol=TOL, rtol=0)
    np.testing.assert_allclose(a.payments, b.payments, atol=TOL, rtol=0)
    assert a.welfare == pytest.approx(b.welfare, abs=TOL)


@settings(max_examples=150, deadline=None)
@given(value_matrices("float"))
def test_fast_equals_naive_random(v):
    assert_same(unit_demand_vcg(v), unit_demand_vcg_naive(v))


@settings(max_examples=150, deadline=None)
@given(value_matrices("int"))
def test_fast_equals_naive_integer_ties(v):
    assert_same(unit_demand_vcg(v), unit_demand_vcg_naive(v))


@pytest.mark.parametrize(
    "v",
    [
        np.zeros((4, 4)),
        np.zeros((3, 5)),
        np.ones((5, 5)),
        np.tile([3.0, 1.0, 2.0, 0.0], (4, 1)),  # identical agents
        np.tile([[1.0], [2.0], [3.0]], (1, 3)),  # agents indifferent between items
        np.array([[7.0]]),
        np.eye(4),
        np.array([[1e-12, 0.0], [0.0, 1e-12]]),
        np.array([[1e6, 1e6 - 1e-3], [1e6, 1e6]]),
    ],
)
def test_fast_equals_naive_degenerate(v):
    assert_same(unit_demand_vcg(v), unit_demand_vcg_naive(v))


def test_hand_computed_two_agents_one_good_item():
    # u = [[1, 0], [1, 0]] (Braverman 2021 §3.2.3): the winner of A pays the loser's value 1.
    res = unit_demand_vcg([[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(res.item_prices, [1.0, 0.0])
    assert sorted(res.payments.tolist()) == [0.0, 1.0]
    assert res.welfare == 1.0


def test_paper_4x4_prices_are_p2():
    # Braverman 2021 §3.2.1 with lambda = (4/7, 4/7, 2/7, 2/7): VCG payments 8/7, 0, 20/7, 0 for A, B, C, D.
    u = np.array([[11, 9, 14, 0], [11, 9, 14, 0], [0, 0, 10, 0], [0, 0, 10, 0]], dtype=float)
    lam = np.array([4, 4, 2, 2]) / 7.0
    res = unit_demand_vcg(lam[:, None] * u)
    np.testing.assert_allclose(res.item_prices, [8 / 7, 0.0, 20 / 7, 0.0], atol=1e-12)
    assert res.welfare == pytest.approx(100 / 7)


small_matrices = st.integers(1, 4).flatmap(
    lambda n: st.integers(n, 5).flatmap(
        lambda m: arrays(np.float64, (n, m), elements=st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False))
    )
)


@settings(max_examples=100, deadline=None)
@given(small_matrices)
def test_price_is_benefit_of_second_copy(v):
    # Claim 7.2, checked by brute force: C_j = OPT_{+j} - OPT.
    res = unit_demand_vcg(v)
    base = brute_force_opt(v)
    for j in range(v.shape[1]):
        plus = brute_force_opt(np.column_stack([v, v[:, j]]))
        assert res.item_prices[j] == pytest.approx(plus - base, abs=TOL)


@settings(max_examples=150, deadline=None)
@given(value_matrices("float"))
def test_envy_free_and_individually_rational(v):
    res = unit_demand_vcg(v)
    n = v.shape[0]
    surplus = v[np.arange(n), res.assignment] - res.payments
    assert (surplus >= -TOL).all()  # IR
    assert (surplus[:, None] >= v - res.item_prices[None, :] - TOL).all()  # envy-free
    assert (res.item_prices >= 0).all()
    assert len(set(res.assignment.tolist())) == n and (res.assignment >= 0).all()


@settings(max_examples=100, deadline=None)
@given(value_matrices("int"), st.integers(0, 5))
def test_unsold_items_priced_zero(v, extra):
    v = np.column_stack([v, np.zeros((v.shape[0], extra))])
    res = unit_demand_vcg(v)
    unsold = np.setdiff1d(np.arange(v.shape[1]), res.assignment)
    assert (res.item_prices[unsold] == 0).all()


def test_unsold_item_zero_even_if_valued():
    # Hand computation: OPT = 5 + 2 (item 2, valued 1 by both, stays unsold); agent 0
    # pays OPT_{-0} - (OPT - 5) = 4 - 2 = 2 for item 0, agent 1 pays 4 - 4 = 0.
    v = np.array([[5.0, 2.0, 1.0], [4.0, 2.0, 1.0]])
    res = unit_demand_vcg(v)
    np.testing.assert_array_equal(res.assignment, [0, 1])
    np.testing.assert_allclose(res.item_prices, [2.0, 0.0, 0.0])
    np.testing.assert_allclose(res.payments, [2.0, 0.0])


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 4), st.just(4)), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0])))
def test_truthful_against_grid_misreports(v):
    # No report from a grid of rows gives agent i a higher quasi-linear utility.
    grid = [np.array(r) for r in itertools.product([0.0, 1.0, 2.0], repeat=v.shape[1])]
    truth = unit_demand_vcg(v)
    for i in range(v.shape[0]):
        honest = v[i, truth.assignment[i]] - truth.payments[i]
        for row in grid:
            lie = v.copy()
            lie[i] = row
            res = unit_demand_vcg(lie)
            assert v[i, res.assignment[i]] - res.payments[i] <= honest + TOL


@settings(max_examples=80, deadline=None)
@given(value_matrices("int"))
def test_assignments_without_each_are_optimal(v):
    res, without = assignments_without_each(v)
    n = v.shape[0]
    for i in range(n):
        row = without[i]
        assert row[i] == -1
        others = np.delete(np.arange(n), i)
        items = row[others]
        assert len(set(items.tolist())) == n - 1 and (items >= 0).all()
        value = float(v[others, items].sum())
        assert value == pytest.approx(opt(np.delete(v, i, axis=0)), abs=TOL)
        # ... and it is the VCG identity OPT_{-i} = OPT - v_{i pi(i)} + p_{pi(i)}.
        assert value == pytest.approx(res.welfare - v[i, res.assignment[i]] + res.payments[i], abs=TOL)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (np.array([1.0, 2.0]), "2-d"),
        (np.zeros((0, 3)), "at least one agent"),
        (np.zeros((3, 2)), "m >= n"),
        (np.array([[1.0, np.nan]]), r"values\[0, 1\] must be finite"),
        (np.array([[1.0, np.inf]]), "finite"),
        (np.array([[1.0, -0.5]]), r"values\[0, 1\] must be >= 0"),
    ],
)
def test_bad_input_raises(values, match):
    with pytest.raises(ValueError, match=match):
        unit_demand_vcg(values)
    with pytest.raises(ValueError, match=match):
        unit_demand_vcg_naive(values)


def test_larger_random_instances_match_naive():
    rng = np.random.default_rng(7)
    for n, m in [(30, 30), (40, 55)]:
        v = rng.random((n, m))
        assert_same(unit_demand_vcg(v), unit_demand_vcg_naive(v))
        w = rng.integers(0, 3, (n, m)).astype(float)
        assert_same(unit_demand_vcg(w), unit_demand_vcg_naive(w))
