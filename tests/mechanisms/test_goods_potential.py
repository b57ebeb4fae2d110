"""Potential over m goods as a repeated-round mechanism (Onyeze et al. 2025 §7): against a brute
force over allocations written here (the literal §7 formulas, itertools and math.comb, no
code of the mechanism), its axioms (IR, CC, IC in the value-scaling family), its p_max
(the sup of a charge, Algorithm 1), the cost pool read from `Reports.context`, and its
bundle-price menus against re-running the round."""

from itertools import combinations, product
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mechanisms.base import Reports
from mechanisms.public_goods.goods import GoodsPotential, report_matrix
from mechanisms.public_goods.potential import CardinalityCost, CostFunction, CoverageCost, PerGoodCost

TOL = 1e-9


def coverage(n: int, m: int, rng: np.random.Generator) -> CoverageCost:
    e = int(rng.integers(2, 5))
    inc = rng.random((n, m, e)) < 0.4
    inc[np.arange(n)[:, None], np.arange(m)[None, :], rng.integers(0, e, (n, m))] = True
    return CoverageCost(inc, rng.dirichlet(np.ones(e)) * rng.uniform(0.5, 1.0))


def cardinality(n: int, m: int, rng: np.random.Generator) -> CardinalityCost:
    return CardinalityCost((np.arange(n * m + 1) / (n * m)) ** rng.uniform(0.2, 1.0), n, m)


def per_good(n: int, m: int, rng: np.random.Generator) -> PerGoodCost:
    return PerGoodCost(rng.dirichlet(np.ones(m)) * rng.uniform(0.5, 1.0), n)


FAMILIES = {"coverage": coverage, "cardinality": cardinality, "per_good": per_good}


def brute_force(cost: CostFunction, r: np.ndarray) -> tuple[set, np.ndarray]:
    """A* and VCG payments by listing every allocation as a set of pairs (§7, literally)."""
    n, m = r.shape
    pairs = [(i, k) for i in range(n) for k in range(m)]

    def c(alloc: frozenset) -> float:
        a = np.zeros((n, m), dtype=bool)
        for i, k in alloc:
            a[i, k] = True
        return float(cost(a))

    def pot(alloc: frozenset) -> float:
        total = 0.0
        for size in range(1, n + 1):
            for agents in combinations(range(n), size):
                total += c(frozenset(p for p in alloc if p[0] in agents)) / (size * comb(n, size))
        return total

    bit_rows = product([0, 1], repeat=len(pairs))
    allocs = [frozenset(p for p, b in zip(pairs, bits, strict=True) if b) for bits in bit_rows]
    value = {a: sum(r[i, k] for i, k in a) for a in allocs}
    p = {a: pot(a) for a in allocs}
    best = max(value[a] - p[a] for a in allocs)
    star = max((a for a in allocs if value[a] - p[a] >= best - 1e-12), key=len)
    pay = np.zeros(n)
    def others(a: frozenset, i: int) -> float:
        return sum(r[j, k] for j, k in a if j != i) - p[a]

    for i in range(n):
        pay[i] = max(others(a, i) for a in allocs if all(j != i for j, _ in a)) - others(star, i)
    return set(star), pay


def allocation_set(alloc: np.ndarray) -> set:
    return {(int(i), int(k)) for i, k in np.argwhere(alloc)}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize(("n", "m"), [(2, 2), (3, 2), (2, 3)])
def test_allocation_and_payments_equal_brute_force(family, n, m):
    rng = np.random.default_rng(17 + n * 10 + m)
    for _ in range(4):
        cost = FAMILIES[family](n, m, rng)
        mech = GoodsPotential(cost)
        v = rng.random((n, m))
        # 1e3: reported values far above p_max, which the mechanism caps at p_max (exact).
        bids = v.sum(axis=1) * rng.choice([0.0, 0.3, 1.0, 2.5, 1e3], n)
        res = mech.run_round(Reports(bids, v), rng)
        star, pay = brute_force(cost, report_matrix(bids, v))
        assert allocation_set(res.outcome) == star
        np.testing.assert_allclose(res.charges, pay, atol=TOL)
        np.testing.assert_allclose(res.utilities, (v * res.outcome).sum(axis=1))
        assert res.extras["cost"] == pytest.approx(float(cost(res.outcome)))


def test_a_report_scales_the_value_vector():
    """r_i reads as r_i V_i / s_i: truthful r_i = s_i reports V_i, half of it V_i / 2."""
    v = np.array([[0.2, 0.6], [0.0, 0.0], [1.0, 0.5]])
    r = report_matrix(np.array([0.8, 3.0, 0.75]), v)
    np.testing.assert_allclose(r, [[0.2, 0.6], [0.0, 0.0], [0.5, 0.25]])


@st.composite
def instances(draw):
    n, m = draw(st.sampled_from([(2, 2), (3, 2), (2, 3), (4, 2), (3, 3)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cost = FAMILIES[draw(st.sampled_from(sorted(FAMILIES)))](n, m, rng)
    v = rng.random((n, m)) * (rng.random((n, m)) < 0.8)
    scale = draw(st.lists(st.sampled_from([0.0, 1e-9, 0.5, 1.0, 3.0, 1e6]), min_size=n, max_size=n))
    return cost, v, v.sum(axis=1) * np.asarray(scale)


@settings(max_examples=60, deadline=None)
@given(instances())
def test_ir_and_cc_and_charges_at_most_p_max(inst):
    """IR (p_i <= reported value of i's goods), CC (sum p >= c(A*), [DO17]) and every charge
    <= p_max = max_i c({i} x [m]), also for extreme reports."""
    cost, v, bids = inst
    mech = GoodsPotential(cost)
    res = mech.run_round(Reports(bids, v), np.random.default_rng(0))
    r = report_matrix(bids, v)
    assert (res.charges <= (r * res.outcome).sum(axis=1) + TOL).all()
    assert res.charges.sum() >= float(cost(res.outcome)) - TOL
    assert (res.charges <= mech.p_max + TOL).all()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_p_max_is_attained_by_a_lone_bidder(family):
    """sup_V p_i = c({i} x [m]): the others report 0 and agent i a huge value (Algorithm 1's p_max)."""
    rng = np.random.default_rng(5)
    n, m = 3, 2
    cost = FAMILIES[family](n, m, rng)
    mech = GoodsPotential(cost)
    v = rng.random((n, m)) + 0.1
    for i in range(n):
        bids = np.zeros(n)
        bids[i] = 1e6
        res = mech.run_round(Reports(bids, v), rng)
        own = np.zeros((n, m), dtype=bool)
        own[i] = True
        assert res.charges[i] == pytest.approx(float(cost(own)), abs=TOL)
    rows = np.eye(n, dtype=bool)[:, :, None] & np.ones((1, 1, m), dtype=bool)  # {i} x [m] for each i
    assert mech.p_max == pytest.approx(float(np.max(cost(rows))))


@settings(max_examples=40, deadline=None)
@given(instances(), st.integers(0, 3))
def test_truthful_is_a_best_report_in_the_scaling_family(inst, agent):
    """VCG is IC: no scaling r of agent i's value vector beats the truthful r = s_i."""
    cost, v, bids = inst
    i = agent % v.shape[0]
    mech = GoodsPotential(cost)
    alts = np.concatenate([[0.0], v[i].sum() * np.logspace(-2, 2, 41)])
    u, c = mech.menu(i, alts, Reports(bids, v))
    truthful = bids.copy()
    truthful[i] = v[i].sum()
    res = mech.run_round(Reports(truthful, v), np.random.default_rng(0))
    assert (u - c <= res.utilities[i] - res.charges[i] + 1e-9).all()


@settings(max_examples=40, deadline=None)
@given(instances(), st.integers(0, 3))
def test_menu_equals_rerunning_the_round(inst, agent):
    cost, v, bids = inst
    i = agent % v.shape[0]
    mech = GoodsPotential(cost)
    alts = np.array([0.0, 1e-9, 0.1, 0.5, 1.0, 2.0, 7.0])
    u, c = mech.menu(i, alts, Reports(bids, v))
    for k, a in enumerate(alts):
        b = bids.copy()
        b[i] = a
        res = mech.run_round(Reports(b, v), np.random.default_rng(0))
        assert u[k] == pytest.approx(res.utilities[i], abs=1e-9)
        assert c[k] == pytest.approx(res.charges[i], abs=1e-9)


def test_the_context_picks_the_round_cost_from_the_pool():
    rng = np.random.default_rng(3)
    pool = [coverage(3, 2, rng), cardinality(3, 2, rng)]
    mech = GoodsPotential(pool)
    v = rng.random((3, 2))
    bids = v.sum(axis=1)
    for j, cost in enumerate(pool):
        res = mech.run_round(Reports(bids, v, j), rng)
        alone = GoodsPotential(cost).run_round(Reports(bids, v), rng)
        np.testing.assert_array_equal(res.outcome, alone.outcome)
        np.testing.assert_allclose(res.charges, alone.charges)
    with pytest.raises(ValueError, match="context"):
        mech.run_round(Reports(bids, v, 2), rng)


def test_bad_shapes_name_the_field():
    mech = GoodsPotential(cardinality(2, 2, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="values"):
        mech.run_round(Reports(np.ones(2), np.ones(2)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="agents \\* goods"):
        GoodsPotential(CardinalityCost(np.linspace(0, 1, 18) ** 0.5, 17, 1))
