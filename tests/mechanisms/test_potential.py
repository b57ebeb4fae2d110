"""Potential mechanism (Onyeze et al. 2025 §7, App. E.2) against hand computations, an independent
formula for the potential, brute force, and its axioms (IR, CC, IC, DWL <= H_n - 1)."""

from itertools import combinations
from math import factorial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mechanisms.base import Reports
from mechanisms.public_goods.monetary import MONETARY_MECHANISMS, Moulin, dead_weight_loss
from mechanisms.public_goods.potential import (
    CardinalityCost,
    CoverageCost,
    PerGoodCost,
    Potential,
    PotentialEnumerator,
    all_allocations,
    dead_weight_loss_general,
    dead_weight_loss_single_good,
    harmonic,
    per_good_potential_mechanism,
    potential,
    single_good_outcome,
    single_good_potential,
    single_good_thresholds,
)

TOL = 1e-9


# --- random cost functions of the three families ----------------------------------------------


def random_coverage(n: int, m: int, rng: np.random.Generator) -> CoverageCost:
    e = int(rng.integers(2, 6))
    inc = rng.random((n, m, e)) < 0.4
    inc[np.arange(n)[:, None], np.arange(m)[None, :], rng.integers(0, e, (n, m))] = True
    w = rng.random(e) + 0.05
    return CoverageCost(inc, w / w.sum() * rng.uniform(0.5, 1.0))


def random_cardinality(n: int, m: int, rng: np.random.Generator) -> CardinalityCost:
    inc = np.sort(rng.random(n * m))[::-1] + 1e-3  # non-increasing increments: concave
    g = np.concatenate([[0.0], np.cumsum(inc)])
    return CardinalityCost(g / g[-1] * rng.uniform(0.5, 1.0), n, m)


def random_per_good(n: int, m: int, rng: np.random.Generator) -> PerGoodCost:
    w = rng.random(m) + 0.05
    return PerGoodCost(w / w.sum() * rng.uniform(0.5, 1.0), n)


FAMILIES = [random_coverage, random_cardinality, random_per_good]


def random_instance(seed: int, max_pairs: int = 6):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    m = int(rng.integers(1, max_pairs // n + 1))
    cost = FAMILIES[seed % 3](n, m, rng)
    values = rng.random((n, m)) * rng.choice([0.3, 0.7, 1.5])
    return rng, cost, values


# --- cost families ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_cost_families_are_submodular_monotone_normalized(family):
    rng = np.random.default_rng(1)
    for _ in range(5):
        n, m = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        cost = family(n, m, rng)
        A = all_allocations(n, m)
        c = cost(A)
        assert c[0] == 0.0 and (c[1:] > 0).all() and (c <= 1 + TOL).all()
        union, inter = A[:, None] | A[None, :], A[:, None] & A[None, :]
        cu, ci = cost(union), cost(inter)
        assert (cu + ci <= c[:, None] + c[None, :] + TOL).all()  # submodular
        assert (cu >= c[:, None] - TOL).all()  # monotone


def test_cost_constructors_reject_bad_input():
    with pytest.raises(ValueError, match="concave"):
        CardinalityCost(np.array([0.0, 0.2, 0.6]), 2, 1)
    with pytest.raises(ValueError, match=r"g\(0\)"):
        CardinalityCost(np.array([0.1, 0.2, 0.3]), 2, 1)
    with pytest.raises(ValueError, match="weights"):
        PerGoodCost(np.array([0.7, 0.7]), 2)
    inc = np.zeros((2, 1, 1), dtype=bool)
    inc[0, 0, 0] = True
    with pytest.raises(ValueError, match="normalized"):
        CoverageCost(inc, np.array([0.5]))
    with pytest.raises(ValueError, match="n \\* m"):
        all_allocations(5, 4)


# --- the potential ----------------------------------------------------------------------------


def test_single_good_potential_by_hand():
    """Onyeze et al. 2025 §7's sum for one good of cost 1: n = 2, one agent served:
    I = {1}: 1/(1*2) + I = {1,2}: 1/(2*1) = 1; both: 1/2 + 1/2 + 1/2 = 3/2. So P(k) = H_k
    (not H_n - H_{n-k}, which would give 1/2 for one agent)."""
    cost = PerGoodCost(np.array([1.0]), 2)
    P = potential(cost, np.array([[[False], [False]], [[True], [False]], [[True], [True]]]))
    assert P.tolist() == pytest.approx([0.0, 1.0, 1.5])
    for n in range(1, 7):
        A = all_allocations(n, 1)
        P = potential(PerGoodCost(np.array([1.0]), n), A)
        k = A.sum(axis=(1, 2))
        assert np.allclose(P, harmonic(k))


def shapley_potential(cost, alloc: np.ndarray) -> float:
    """Hart–Mas-Colell: sum over nonempty T within the served agents S of
    (|T|-1)! (|S|-|T|)! / |S|! c(A|_T). An independent formula the seed's sum must equal."""
    served = [i for i in range(alloc.shape[0]) if alloc[i].any()]
    s = len(served)
    total = 0.0
    for t in range(1, s + 1):
        w = factorial(t - 1) * factorial(s - t) / factorial(s)
        for T in combinations(served, t):
            mask = np.zeros(alloc.shape[0], dtype=bool)
            mask[list(T)] = True
            total += w * float(cost(alloc & mask[:, None]))
    return total


@pytest.mark.parametrize("seed", range(9))
def test_potential_equals_shapley_form_and_bounds(seed):
    rng, cost, _ = random_instance(seed)
    A = all_allocations(cost.n, cost.m)
    P = potential(cost, A)
    for r in rng.choice(A.shape[0], size=min(20, A.shape[0]), replace=False):
        assert P[r] == pytest.approx(shapley_potential(cost, A[r]), abs=1e-12)
    c = cost(A)
    pot = P
    assert (pot >= c - TOL).all() and (pot <= harmonic(cost.n) * c + TOL).all()  # c <= P_c <= H_n c


@pytest.mark.parametrize("seed", range(6))
def test_single_good_closed_form_equals_enumeration(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    cost = random_cardinality(n, 1, rng)
    A = all_allocations(n, 1)
    assert np.allclose(potential(cost, A), single_good_potential(cost.g)[A.sum(axis=(1, 2))])


# --- the mechanism: axioms on random instances ------------------------------------------------


@pytest.mark.parametrize("seed", range(60))
def test_ir_cc_budget_and_dwl_bound(seed):
    _, cost, v = random_instance(seed)
    enum = PotentialEnumerator(cost)
    out = enum.run(v)
    own = (v * out.allocation).sum(axis=1)
    assert (out.payments <= own + TOL).all()  # IR
    assert out.payments.sum() >= out.cost - TOL  # CC
    assert out.payments.sum() <= out.potential + TOL  # [DO17] Lemma 4.4
    dwl = dead_weight_loss_general(v, out.allocation, out.payments, cost)
    assert -TOL <= dwl <= harmonic(cost.n) - 1 + TOL  # Proposition E.2
    assert dwl == pytest.approx(enum.dead_weight_loss(v, out))


def brute_argmax(cost, v):
    """A* by a plain loop: the best value - P_c, then the most pairs among the ties."""
    best, best_size, best_a = -np.inf, -1, None
    for a in all_allocations(cost.n, cost.m):
        obj = float((v * a).sum() - potential(cost, a[None])[0])
        size = int(a.sum())
        if obj > best + 1e-12 or (abs(obj - best) <= 1e-12 and size > best_size):
            best, best_size, best_a = obj, size, a
    return best_a


@pytest.mark.parametrize("seed", range(12))
def test_allocation_matches_brute_force(seed):
    _, cost, v = random_instance(seed, max_pairs=4)
    assert np.array_equal(PotentialEnumerator(cost).run(v).allocation, brute_argmax(cost, v))


@pytest.mark.parametrize("seed", range(24))
def test_truthful_against_grid_misreports(seed):
    """VCG on value - P_c: no agent gains by any misreport on a grid (quasi-linear utility
    with its true values)."""
    rng, cost, v = random_instance(seed)
    enum = PotentialEnumerator(cost)
    truth = enum.run(v)
    grid = np.array([0.0, 0.05, 0.2, 0.4, 0.7, 1.0, 2.0])
    for i in range(cost.n):
        honest = float(v[i] @ truth.allocation[i]) - truth.payments[i]
        for _ in range(25):
            lie = v.copy()
            lie[i] = rng.choice(grid, cost.m)
            out = enum.run(lie)
            assert float(v[i] @ out.allocation[i]) - out.payments[i] <= honest + TOL


def test_largest_cardinality_tie_break_by_hand():
    """0-1 good, n = 2: values (0.75, 0.75) give S_k - H_k = 0, -0.25, 0 for k = 0, 1, 2: the
    tie 0 = 0 goes to serving both; each pays its critical value 0.75 (total 1.5 = P(2))."""
    res = Potential().run_round(Reports(np.array([0.75, 0.75]), np.array([0.75, 0.75])), np.random.default_rng(0))
    assert res.outcome.tolist() == [True, True]
    assert res.charges.tolist() == pytest.approx([0.75, 0.75])
    res = Potential().run_round(Reports(np.array([1.0, 0.0]), np.ones(2)), np.random.default_rng(0))
    assert res.outcome.tolist() == [True, False] and res.charges.tolist() == pytest.approx([1.0, 0.0])
    res = Potential().run_round(Reports(np.array([0.6, 0.6]), np.ones(2)), np.random.default_rng(0))
    assert not res.allocated and res.charges.sum() == 0.0


@pytest.mark.parametrize("seed", range(10))
def test_per_good_closed_form_equals_enumeration(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    cost = random_per_good(n, m, rng)
    v = rng.random((n, m)) * 0.8
    a, b = PotentialEnumerator(cost).run(v), per_good_potential_mechanism(v, cost)
    assert np.array_equal(a.allocation, b.allocation)
    assert np.allclose(a.payments, b.payments) and a.potential == pytest.approx(b.potential)


# --- single good, vectorized ------------------------------------------------------------------

values_st = st.lists(st.floats(0.0, 1.5, allow_nan=False), min_size=1, max_size=9).map(np.array)
tie_st = st.lists(st.sampled_from([0.0, 1 / 6, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0]), min_size=1, max_size=6).map(
    np.array
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(values_st, tie_st))
def test_vectorized_single_good_equals_enumeration(v):
    if v.shape[0] > 6:
        v = v[:6]
    n = v.shape[0]
    enum = PotentialEnumerator(PerGoodCost(np.array([1.0]), n)).run(v[:, None])
    res = Potential().run_round(Reports(v, v), np.random.default_rng(0))
    assert np.array_equal(res.outcome, enum.allocation[:, 0])
    assert np.allclose(res.charges, enum.payments, atol=1e-9)
    tau = single_good_thresholds(v, Potential().potential_curve(n))
    assert np.array_equal(v >= tau - 1e-9, res.outcome)  # served iff report >= critical value
    assert np.array_equal(single_good_outcome(v, Potential().potential_curve(n))[1], tau)  # one sort, same tau
    assert (tau <= Potential().p_max + TOL).all()  # p_max = g(1) bounds every charge


def test_vectorized_single_good_with_concave_cost_equals_enumeration():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(1, 6))
        cost = random_cardinality(n, 1, rng)
        v = rng.random(n) * 0.8
        mech = Potential(lambda k, g=cost.g: g[k])
        res = mech.run_round(Reports(v, v), rng)
        enum = PotentialEnumerator(cost).run(v[:, None])
        assert np.array_equal(res.outcome, enum.allocation[:, 0])
        assert np.allclose(res.charges, enum.payments, atol=1e-9)
        dwl = dead_weight_loss_general(v[:, None], enum.allocation, enum.payments, cost)
        assert res.extras["dwl"] == pytest.approx(dwl)
        assert (single_good_thresholds(v, mech.potential_curve(n)) <= mech.p_max + TOL).all()


@settings(max_examples=100, deadline=None)
@given(st.one_of(values_st, tie_st), st.data())
def test_potential_menu_matches_rerunning(v, data):
    i = data.draw(st.integers(0, len(v) - 1))
    alts = np.array([0.0, 0.1, 1 / 7, 0.25, 1 / 3, 0.5, 0.99, 1.0, 2.0])
    mech = Potential()
    u_fast, c_fast = mech.menu(i, alts, Reports(v, v))
    for a, u, c in zip(alts, u_fast, c_fast, strict=True):
        bids = v.copy()
        bids[i] = a
        res = mech.run_round(Reports(bids, v), np.random.default_rng(0))
        assert u == pytest.approx(res.utilities[i]) and c == pytest.approx(res.charges[i], abs=1e-9)


# --- DWL: Potential and Moulin, single good ---------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.one_of(values_st, tie_st))
def test_potential_and_moulin_dwl_at_most_h_n_minus_1(v):
    n = v.shape[0]
    bound = harmonic(n) - 1 + TOL
    ones = np.ones(n + 1)
    ones[0] = 0.0
    for mech in (Potential(), Moulin()):
        res = mech.run_round(Reports(v, v), np.random.default_rng(0))
        d22 = dead_weight_loss(v, res.outcome, res.charges)
        d71 = dead_weight_loss_single_good(v, res.outcome, res.charges, ones)
        assert d22 == pytest.approx(d71, abs=1e-9)  # Proposition E.1
        assert d22 <= bound


def test_potential_dwl_bound_is_approached():
    """All n values (H_n - eps)/n: serving all loses (sum < H_n = P(n)) and any smaller group
    is worse, so nobody is served and DWL = sum V - 1 = H_n - 1 - eps."""
    for n in [2, 5, 9]:
        v = np.full(n, (harmonic(n) - 1e-6) / n)
        res = Potential().run_round(Reports(v, v), np.random.default_rng(0))
        assert not res.allocated
        assert res.extras["dwl"] == pytest.approx(harmonic(n) - 1, abs=1e-5)


def test_dwl_general_single_good_matches_definition_2_2():
    rng = np.random.default_rng(2)
    for _ in range(30):
        n = int(rng.integers(1, 6))
        v = rng.random(n) * rng.choice([0.3, 1.0])
        cost = PerGoodCost(np.array([1.0]), n)
        out = PotentialEnumerator(cost).run(v[:, None])
        assert dead_weight_loss_general(v[:, None], out.allocation, out.payments, cost) == pytest.approx(
            dead_weight_loss(v, out.allocation[:, 0], out.payments), abs=1e-12
        )


# --- the public-goods scenario ----------------------------------------------------------------


def test_registered_for_public_goods():
    assert MONETARY_MECHANISMS["potential"] is Potential
    assert Potential().p_max == 1.0


def test_public_goods_run_with_potential_end_to_end(tmp_path):
    from abm.runs.runner import run

    res = run(
        "public-goods",
        overrides={"mechanism": "potential", "rounds": 60, "agents": 4, "seed": 3},
        out=tmp_path,
        progress=False,
    )
    assert res.summary["mechanism"] == "artificial_currency[potential]"
    assert (res.model.ledger.remaining >= 0).all()
    assert res.summary["scenario_summary"]["goods_allocated"] <= res.summary["scenario_summary"]["goods_bound_alpha_T"]
    assert (tmp_path / "summary.json").exists() and (tmp_path / "rounds.parquet").exists()
