"""Definition 1 (eq. 13, Braverman 2021 §2.1.1) tested empirically: the reported violations
are eq. (13) evaluated literally on the pairs (F, F~) the check tried; an exact maximizer
never violates it; a heuristic that moves against a player's own weight does."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mechanisms.apex.algorithm1 import FiniteArgmax
from mechanisms.apex.monotonicity import monotonicity_check
from mechanisms.combinatorial.course_allocation import CourseLocalSearch


class Recording:
    """H wrapped to record every (weights, start, x) it is called with."""

    def __init__(self, h):
        self.h, self.calls = h, []

    def __call__(self, weights, start):
        x = self.h(weights, start)
        self.calls.append((np.array(weights), x))
        return x


def literal(problem, calls, tol=1e-9):
    """Violations of (13) from the recorded calls: the first is (F, x), each later one (F~, x~)."""
    (w, x), rest = calls[0], calls[1:]

    def big_f(weights, y):
        return float(problem.base(y)) + float(weights @ np.asarray(problem.utilities(y)))

    excess = np.array([(big_f(wt, x) - big_f(wt, xt)) - (big_f(w, x) - big_f(w, xt)) for wt, xt in rest])
    bad = excess > tol * max(1.0, w.max())
    return int(bad.sum()), float(excess[bad].max()) if bad.any() else 0.0


def contrarian(problem: FiniteArgmax):
    """Not monotone: maximizes F with player 0's weight turned against it."""
    def h(weights, start):
        w = np.array(weights, dtype=np.float64)
        w[0] = -w[0]
        return problem.argmax(w, start)
    return h


def test_reported_violations_are_eq_13_evaluated_literally():
    rng = np.random.default_rng(4)
    problem = FiniteArgmax(rng.random((6, 3)))
    h = Recording(contrarian(problem))
    report = monotonicity_check(h, problem, np.array([1.0, 0.5, 0.8]), None, probes=40, rng=np.random.default_rng(1))
    violations, worst = literal(problem, h.calls)
    assert len(h.calls) == 41 and report.probes == 40
    assert report.violations == violations > 0
    assert report.rate == pytest.approx(violations / 40)
    assert report.worst == pytest.approx(worst)
    assert 0 < report.mean <= report.worst


def test_local_search_violations_match_eq_13():
    rng = np.random.default_rng(0)
    n, m = 8, 4
    problem = CourseLocalSearch(0.6 * rng.random(m)[None, :] + 0.4 * rng.random((n, m)), np.full(m, 2), 2)
    start = problem.argmax(rng.uniform(0.5, 1.5, n), None)
    h = Recording(problem.argmax)
    report = monotonicity_check(h, problem, rng.uniform(0.5, 1.5, n), start, probes=30, rng=np.random.default_rng(2))
    violations, worst = literal(problem, h.calls)
    assert (report.violations, report.worst) == (violations, pytest.approx(worst))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 5), st.integers(2, 8))
def test_an_exact_maximizer_is_monotone(seed, n, k):
    rng = np.random.default_rng(seed)
    problem = FiniteArgmax(rng.random((k, n)), base=rng.normal(size=k))
    weights = rng.uniform(0.0, 2.0, n) * (rng.random(n) < 0.8)  # some zero weights
    report = monotonicity_check(None, problem, weights, None, probes=10, rng=rng)
    assert report.violations == 0 and report.worst == 0.0


def test_bad_arguments_name_the_field():
    problem = FiniteArgmax(np.eye(2))
    with pytest.raises(ValueError, match="weights must be"):
        monotonicity_check(None, problem, np.array([1.0, -1.0]), None)
    with pytest.raises(ValueError, match="probes must be >= 1"):
        monotonicity_check(None, problem, np.ones(2), None, probes=0)
    with pytest.raises(ValueError, match="spread must be > 1"):
        monotonicity_check(None, problem, np.ones(2), None, spread=1.0)
