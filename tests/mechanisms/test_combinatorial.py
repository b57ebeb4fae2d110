"""APEX over local search and over an exact MILP on course allocation and facility location
(Braverman 2021, §2.1, Algorithm 1), against brute force: the exact H is the brute-force
optimum and its charges are the VCG (Clarke pivot) payments; the local search ends at a
local optimum of the stated neighbourhood (and follows the generic hill climb); raw
negative charges are recorded, floored and counted, never silently."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from abm.ledger import BudgetError, Ledger
from mechanisms.apex.algorithm1 import Apex
from mechanisms.apex.local_search import hill_climb
from mechanisms.base import Reports
from mechanisms.combinatorial.course_allocation import CourseAllocation, CourseExact, CourseLocalSearch
from mechanisms.combinatorial.facility_location import FacilityExact, FacilityLocalSearch
from mechanisms.registry import MECHANISMS


def course_outcomes(n: int, m: int, cap: np.ndarray, k: int) -> list[np.ndarray]:
    """Every feasible allocation, by enumeration."""
    bundles = [b for size in range(k + 1) for b in itertools.combinations(range(m), size)]
    out = []
    for choice in itertools.product(bundles, repeat=n):
        x = np.zeros((n, m), dtype=bool)
        for i, b in enumerate(choice):
            x[i, list(b)] = True
        if (x.sum(axis=0) <= cap).all():
            out.append(x)
    return out


def facility_outcomes(m: int) -> list[np.ndarray]:
    return [np.array(bits, dtype=bool) for bits in itertools.product([False, True], repeat=m)]


def brute_vcg(problem, outcomes, lam):
    """(max F, Clarke pivots C_i = max F^{-i} - F^{-i}(x*)) by enumeration; x* the argmax of F."""
    f = np.array([problem.utilities(x) for x in outcomes])  # (K, n)
    base = np.array([problem.base(x) for x in outcomes])
    total = base + f @ lam
    star = int(np.argmax(total))
    minus = total[:, None] - f * lam[None, :]  # F^{-i} per outcome
    return total[star], minus.max(axis=0) - minus[star]


def small_course(rng, n=3, m=3):
    return rng.random((n, m)), rng.integers(1, 3, m), 2


def small_facility(rng, n=4, m=4):
    return rng.random((n, m)), rng.uniform(0.2, 1.0, m)


@pytest.mark.parametrize("seed", range(6))
def test_exact_course_apex_charges_are_brute_force_vcg(seed):
    rng = np.random.default_rng(seed)
    u, cap, k = small_course(rng)
    problem = CourseExact(u, cap, k)
    outcomes = course_outcomes(3, 3, cap, k)
    apex = Apex(problem)
    for _ in range(3):
        lam = rng.uniform(0.1, 2.0, 3)
        res = apex.run_round(Reports(lam, np.ones(3)), rng)
        best, pivots = brute_vcg(problem, outcomes, lam)
        assert problem.feasible(res.outcome)
        assert problem.value(lam, res.outcome) == pytest.approx(best, abs=1e-9)
        np.testing.assert_allclose(res.charges, pivots, atol=1e-7)
        assert (res.extras["raw_charges"] >= -1e-7).all()
    assert apex.audit.negative_rounds == 0


@pytest.mark.parametrize("seed", range(6))
def test_exact_facility_apex_charges_are_brute_force_vcg(seed):
    rng = np.random.default_rng(seed)
    s, c = small_facility(rng)
    problem = FacilityExact(s, c)
    outcomes = facility_outcomes(4)
    apex = Apex(problem)
    for _ in range(3):
        lam = rng.uniform(0.1, 2.0, 4)
        res = apex.run_round(Reports(lam, np.ones(4)), rng)
        best, pivots = brute_vcg(problem, outcomes, lam)
        assert problem.value(lam, res.outcome) == pytest.approx(best, abs=1e-9)
        np.testing.assert_allclose(res.charges, np.minimum(pivots, lam), atol=1e-7)
        np.testing.assert_allclose(res.charges, pivots, atol=1e-7)  # exact H: within [0, lambda_i]


@pytest.mark.parametrize("seed", range(4))
def test_facility_enumeration_and_milp_agree(seed):
    rng = np.random.default_rng(seed)
    s, c = small_facility(rng, n=7, m=6)
    problem = FacilityExact(s, c)
    for _ in range(4):
        lam = rng.uniform(0.0, 2.0, 7)
        by_table, by_milp = problem.exact(lam), problem.exact_milp(lam)
        assert problem.value(lam, by_table) == pytest.approx(problem.value(lam, by_milp), abs=1e-9)
        best = max(problem.value(lam, x) for x in facility_outcomes(6))
        assert problem.value(lam, by_table) == pytest.approx(best, abs=1e-12)


def course_moves(problem: CourseAllocation, x: np.ndarray) -> list[np.ndarray]:
    """Every feasible allocation one add, drop, swap (i: c -> c') or seat move (c: i -> j) away."""
    out = []
    n, m = x.shape
    for i, c in itertools.product(range(n), range(m)):
        y = x.copy()
        y[i, c] = not y[i, c]  # add or drop
        out.append(y)
        if x[i, c]:
            for d in range(m):
                if not x[i, d]:
                    y = x.copy()
                    y[i, c], y[i, d] = False, True
                    out.append(y)
            for j in range(n):
                if not x[j, c]:
                    y = x.copy()
                    y[i, c], y[j, c] = False, True
                    out.append(y)
    return [y for y in out if problem.feasible(y)]


@pytest.mark.parametrize("seed", range(8))
def test_course_local_search_is_a_local_optimum_and_the_generic_hill_climb(seed):
    rng = np.random.default_rng(seed)
    n, m = 5, 4
    problem = CourseLocalSearch(rng.random((n, m)), rng.integers(1, 4, m), 2)
    start = None
    for _ in range(3):  # warm starts, as in Algorithm 1
        lam = rng.uniform(0.0, 2.0, n)
        x = problem.argmax(lam, start)
        assert problem.feasible(x)
        fx = problem.value(lam, x)
        assert all(problem.value(lam, y) <= fx + 1e-12 for y in course_moves(problem, x))
        x0 = problem.initial() if start is None else start
        generic, _ = hill_climb(lambda y, lam=lam: problem.value(lam, y), lambda y: course_moves(problem, y), x0)
        assert problem.value(lam, generic) == pytest.approx(fx, abs=1e-12)
        start = x


@pytest.mark.parametrize("seed", range(8))
def test_facility_local_search_is_a_local_optimum_and_the_generic_hill_climb(seed):
    rng = np.random.default_rng(seed)
    s, c = small_facility(rng, n=6, m=6)
    problem = FacilityLocalSearch(s, c)
    start = None
    for _ in range(3):
        lam = rng.uniform(0.0, 2.0, 6)
        x = problem.argmax(lam, start)
        fx = problem.value(lam, x)
        assert (problem.values(lam, problem.neighbours(x)) <= fx + 1e-12).all()
        # The neighbourhood is every set at Hamming distance 1, and every swap.
        neighbours = {tuple(y) for y in problem.neighbours(x)}
        expected = {tuple(y) for y in facility_outcomes(6)
                    if (y ^ x).sum() == 1 or ((y ^ x).sum() == 2 and y.sum() == x.sum())}
        assert neighbours == expected
        x0 = problem.initial() if start is None else start
        generic, _ = hill_climb(lambda y, lam=lam: problem.value(lam, y), problem.neighbours, x0)
        assert problem.value(lam, generic) == pytest.approx(fx, abs=1e-12)
        start = x


def test_course_local_search_can_stop_short_of_the_optimum():
    """Two students, two one-seat courses, one course each: A holds c1 (u_A = 1, 0.9),
    B (u_B = 0.8, 0) has none. Every single move loses (swap -0.1, move the seat -0.2) or
    gains nothing (B adds c2), so local search stays at F = 1, while the optimum A -> c2,
    B -> c1 has F = 1.7."""
    problem = CourseLocalSearch(np.array([[1.0, 0.9], [0.8, 0.0]]), np.array([1, 1]), 1)
    start = np.array([[True, False], [False, False]])
    lam = np.ones(2)
    stuck = problem.argmax(lam, start)
    np.testing.assert_array_equal(stuck, start)
    best = problem.exact(lam)
    np.testing.assert_array_equal(best, [[False, True], [True, False]])
    assert problem.value(lam, stuck) == pytest.approx(1.0) and problem.value(lam, best) == pytest.approx(1.7)


def test_negative_charges_are_recorded_floored_and_counted():
    """APEX over local search on a congested random instance: the raw C_{i,t} (recomputed
    here from Algorithm 1 with the same H) goes negative in some rounds; the ledger gets
    max(C, 0) and the audit counts exactly those rounds, agent-rounds and tokens."""
    rng = np.random.default_rng(3)
    n, m = 10, 4
    quality = rng.random(m)
    u = 0.6 * quality[None, :] + 0.4 * rng.random((n, m))
    problem = CourseLocalSearch(u, np.full(m, 3), 2)
    apex = Apex(problem)
    ledger = Ledger(np.full(n, 1e6))
    negative_rounds = negative_charges = 0
    floored = 0.0
    for t in range(40):
        lam = rng.uniform(0.2, 2.0, n)
        start = apex.x
        res = apex.run_round(Reports(lam, np.ones(n)), rng)
        x = problem.local_search(lam, start)
        raw = np.empty(n)
        for i in range(n):
            w = lam.copy()
            w[i] = 0.0
            raw[i] = problem.value(w, problem.local_search(w, start)) - problem.value(w, x)
        np.testing.assert_allclose(res.extras["raw_charges"], raw, atol=1e-12)
        np.testing.assert_allclose(res.charges, np.clip(raw, 0.0, lam), atol=1e-12)
        ledger.charge(res.charges, t)  # the floored charges keep the ledger's invariants
        low = raw < -1e-9
        negative_rounds += bool(low.any())
        negative_charges += int(low.sum())
        floored += float(-raw[low].sum())
    assert negative_rounds > 0, "the instance should produce negative raw charges"
    audit = apex.audit
    assert (audit.negative_rounds, audit.negative_charges) == (negative_rounds, negative_charges)
    assert audit.floored_tokens == pytest.approx(floored)
    assert audit.as_dict()["negative_round_rate"] == pytest.approx(negative_rounds / 40)
    ledger.check_invariants()
    with pytest.raises(BudgetError, match="must be finite and >= 0"):
        ledger.charge(np.full(n, -0.1), 40)  # why the mechanism floors: the ledger pays no refunds


@pytest.mark.parametrize("family", ["course_allocation", "facility_location"])
def test_the_families_build_apex_over_each_heuristic(family):
    rng = np.random.default_rng(0)
    args = small_course(rng) if family == "course_allocation" else small_facility(rng)
    for name, kind in (("local_search", "LocalSearch"), ("exact", "Exact")):
        mech = MECHANISMS.get(name, family=family)(*args)
        assert isinstance(mech, Apex) and type(mech.problem).__name__.endswith(kind)


def test_bad_instances_name_the_field():
    with pytest.raises(ValueError, match="utilities must be finite and in"):
        CourseExact(np.array([[1.5, 0.0]]), np.array([1, 1]), 1)
    with pytest.raises(ValueError, match="capacities must be integers"):
        CourseExact(np.ones((2, 2)), np.array([1.5, 1.0]), 1)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        CourseExact(np.ones((2, 2)), np.array([1, 1]), 0)
    with pytest.raises(ValueError, match=r"costs\[1\]"):
        FacilityExact(np.ones((2, 2)), np.array([1.0, np.nan]))
