"""The core-factor search (Onyeze et al. 2025 Definition 2.1) against an independent oracle: every
coalition's LP written out here and solved by scipy HiGHS over all T columns, the max taken
by brute force. Exact mode must match it (value and coalition), bound mode must bracket it,
and each building block (Hedge's certified bounds, the column-generated LP, the vectorized
Lemma 4.2 half-spaces) is checked against its own direct computation."""

from __future__ import annotations

import importlib
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import abm
from abm.metrics.core import (
    all_coalitions,
    core_factor,
    default_work_budget,
    ex_ante_core,
    halfspace_gamma,
    halfspace_gammas,
)
from abm.metrics.core_lp import banded_lp, hedge_bounds


def top_sum(y: np.ndarray, cap: float) -> float:
    """Fractional top-cap sum by a full sort (independent of the code's partition)."""
    s = np.sort(y)[::-1]
    cap = min(max(cap, 0.0), s.size)
    k = int(np.floor(cap))
    return float(s[:k].sum() + ((cap - k) * s[k] if k < s.size else 0.0))


def direct_lp(w: np.ndarray, cap: float) -> float:
    """max z s.t. W x >= z, sum x <= cap, 0 <= x <= 1 for (d, T) W, all columns, HiGHS."""
    d, t = w.shape
    a_ub = np.zeros((d + 1, t + 1))
    a_ub[:d, :t] = -w
    a_ub[:d, t] = 1.0
    a_ub[d, :t] = 1.0
    b_ub = np.zeros(d + 1)
    b_ub[d] = cap
    c = np.zeros(t + 1)
    c[-1] = -1.0
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=[(0, 1)] * t + [(None, None)], method="highs")
    assert res.status == 0
    return float(-res.fun)


def direct_gamma(v: np.ndarray, u: np.ndarray, shares: np.ndarray, s: tuple[int, ...]) -> float:
    """gamma(S) of Definition 2.1 (delta = 0): members with U_i = 0 add capacity but never limit;
    no member with U_i > 0: inf if S can get any value, else 0."""
    t = v.shape[0]
    cap = float(shares[list(s)].sum() * t)
    pos = [i for i in s if u[i] > 0]
    if not pos:
        return math.inf if top_sum(v[:, list(s)].sum(axis=1), cap) > 0 else 0.0
    return direct_lp((v[:, pos] / u[pos]).T, cap) - 1.0


def brute_force(v: np.ndarray, u: np.ndarray, shares: np.ndarray) -> tuple[float, tuple[int, ...]]:
    """max over all coalitions, the first in (size, lexicographic) order on ties."""
    n = v.shape[1]
    best, arg = -math.inf, ()
    for size in range(1, n + 1):
        for s in itertools.combinations(range(n), size):
            g = direct_gamma(v, u, shares, s)
            if g > best:
                best, arg = g, s
    return best, arg


@st.composite
def instances(draw: st.DrawFn, max_agents: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(2, max_agents))
    t = draw(st.integers(3, 60))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["uniform", "skewed", "common", "sparse"]))
    if kind == "uniform":
        v = rng.random((t, n))
    elif kind == "skewed":
        v = rng.random((t, n)) ** rng.uniform(0.3, 4.0, size=n)
    elif kind == "common":
        v = 0.5 * rng.random((t, n)) + 0.5 * rng.random((t, 1))
    else:
        v = rng.random((t, n)) * (rng.random((t, n)) < 0.3)
    served = rng.random((t, n)) < draw(st.floats(0.05, 0.9))
    if draw(st.booleans()):
        served[:, rng.integers(n)] = False  # an agent with zero utility
    shares = rng.dirichlet(np.ones(n)) * draw(st.floats(0.2, 1.0))
    return v, (v * served).sum(axis=0), shares


def close(a: float, b: float, tol: float = 1e-7) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol * max(1.0, abs(b))


@settings(max_examples=60, deadline=None)
@given(inst=instances())
def test_exact_mode_equals_brute_force_highs(inst) -> None:
    v, u, shares = inst
    ref, _ = brute_force(v, u, shares)
    res = core_factor(v, u, shares, work_budget=math.inf)
    assert res.method == "exact"
    assert res.checked == 2 ** v.shape[1] - 1
    assert close(res.gamma, ref) and res.upper == res.gamma
    # The reported coalition attains gamma (it is the brute force's one unless two tie within 1e-7).
    assert close(direct_gamma(v, u, shares, res.coalition), ref)
    singles = [direct_gamma(v, u, shares, (i,)) for i in range(v.shape[1])]
    assert all(close(a, b, 1e-12) for a, b in zip(res.singletons, singles, strict=True))


@settings(max_examples=40, deadline=None)
@given(inst=instances(), budget=st.sampled_from([0.0, 3e6, 2e7, None]))
def test_bound_mode_brackets_the_brute_force_maximum(inst, budget) -> None:
    """The large-n search (forced by exact_max_agents=1) and a budget cut short both give a
    certified bracket gamma <= max_S gamma(S) <= upper, with gamma a lower bound of its coalition."""
    v, u, shares = inst
    ref, _ = brute_force(v, u, shares)
    searched = core_factor(v, u, shares, exact_max_agents=1, work_budget=budget)
    core = importlib.import_module("abm.metrics.core")
    saved = core.GLOBAL_UPPER_SIZES
    try:
        core.GLOBAL_UPPER_SIZES = 2  # the upper bound over ranges of coalition sizes
        ranged = core_factor(v, u, shares, exact_max_agents=1, work_budget=budget)
    finally:
        core.GLOBAL_UPPER_SIZES = saved
    assert ranged.upper >= searched.upper - 1e-12
    for res in (searched, ranged, core_factor(v, u, shares, work_budget=budget)):
        assert res.method in ("exact", "bound")
        if math.isinf(ref):
            assert res.upper == math.inf
            continue
        assert res.gamma <= ref + 1e-7 * max(1.0, abs(ref))
        assert res.upper >= ref - 1e-7 * max(1.0, abs(ref))
        assert direct_gamma(v, u, shares, res.coalition) >= res.gamma - 1e-7 * max(1.0, abs(res.gamma))
        if res.method == "exact":
            assert close(res.gamma, ref)


def test_budget_cut_says_bound_and_unlimited_says_exact() -> None:
    rng = np.random.default_rng(3)
    n, t = 6, 80
    v = rng.random((t, n)) ** 2
    u = (v * (rng.random((t, n)) < 0.3)).sum(axis=0)
    shares = np.full(n, 0.08)
    full = core_factor(v, u, shares, work_budget=math.inf)
    cut = core_factor(v, u, shares, work_budget=0.0)
    assert full.method == "exact" and full.checked == 2**n - 1 and full.lps >= 1
    assert cut.method == "bound" and cut.lps == 0
    assert cut.gamma <= full.gamma + 1e-9 <= cut.upper + 2e-9
    assert cut.gamma == pytest.approx(full.singletons.max())  # only the closed forms fit


def test_large_n_stays_within_its_budget_and_reports_a_bracket() -> None:
    """n = 64 > EXACT_MAX_AGENTS: no enumeration; the grand coalition's certified bounds and the
    searches spend at most the budget (the closed forms aside) and report a bracket."""
    rng = np.random.default_rng(5)
    t, n = 400, 64
    v = rng.random((t, n))
    u = (v * (rng.random((t, n)) < 0.5)).sum(axis=0)
    shares = np.full(n, 0.5 / n)
    res = core_factor(v, u, shares)
    assert res.budget == default_work_budget(t, n)
    assert res.method == "bound" and res.work <= 1.1 * res.budget
    assert res.gamma <= res.upper
    grand = direct_gamma(v, u, shares, tuple(range(n)))
    assert res.gamma <= grand + 1e-9 <= res.upper + 2e-9
    assert res.gamma >= grand - 0.01 * (1 + grand)  # Hedge's bound on the grand coalition is close


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 8), t=st.integers(2, 300), iters=st.integers(1, 80))
def test_hedge_bounds_bracket_the_lp_and_are_certified(seed, d, t, iters) -> None:
    rng = np.random.default_rng(seed)
    w = rng.random((d, t)) ** rng.uniform(0.5, 3.0)
    cap = float(rng.uniform(0.0, t))
    hb = hedge_bounds(w, cap, iters)
    exact = direct_lp(w, cap)
    assert hb.lower <= exact + 1e-9 <= hb.upper + 2e-9
    # upper is F(theta) for the returned theta, lower is attained by the returned feasible x.
    assert hb.theta.sum() == pytest.approx(1.0) and (hb.theta >= 0).all()
    assert hb.upper == pytest.approx(top_sum(hb.theta @ w, cap), rel=1e-12, abs=1e-12)
    assert hb.x.sum() <= cap + 1e-9 and (hb.x >= 0).all() and (hb.x <= 1 + 1e-12).all()
    assert (w @ hb.x).min() >= hb.lower - 1e-12


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(1, 10),
    t=st.integers(2, 400),
    start=st.sampled_from(["none", "bad", "good"]),
)
def test_banded_lp_equals_the_full_lp(seed, d, t, start) -> None:
    """Column generation with any dual start (none, a random one, Hedge's) reaches the full LP's
    optimum, with a feasible x attaining it and lambda an optimal dual (F(lambda) = value)."""
    rng = np.random.default_rng(seed)
    w = rng.random((d, t)) ** rng.uniform(0.5, 3.0)
    cap = float(rng.uniform(0.0, t))
    theta = {"none": None, "bad": rng.dirichlet(np.ones(d) * 0.2), "good": hedge_bounds(w, cap, 30).theta}[start]
    value, x, lam, _ = banded_lp(w, cap, theta)
    exact = direct_lp(w, cap)
    assert value == pytest.approx(exact, rel=1e-8, abs=1e-10)
    assert x.sum() <= cap + 1e-7 and (x >= -1e-9).all() and (x <= 1 + 1e-9).all()
    assert (w @ x).min() == pytest.approx(exact, rel=1e-7, abs=1e-10)
    assert top_sum(lam @ w, cap) == pytest.approx(exact, rel=1e-7, abs=1e-10)


def direct_halfspace(x, served, shares, beta, s) -> float:
    s = list(s)
    w = x[:, s] / beta[s]
    score = w.sum(axis=1)
    n = x.shape[0]
    top = top_sum(score, shares[s].sum() * n) / n
    got = (w * served[:, s]).sum() / n
    if got <= 0:
        return math.inf if top > 0 else 0.0
    return top / got - 1.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5), samples=st.integers(1, 300))
def test_halfspace_gammas_equal_the_per_coalition_formula(seed, n, samples) -> None:
    rng = np.random.default_rng(seed)
    x = rng.random((samples, n)) * (rng.random((samples, n)) < 0.8)
    served = rng.random((samples, n)) < 0.4
    shares = rng.dirichlet(np.ones(n)) * rng.uniform(0.1, 1.0)
    beta = rng.uniform(0.3, 2.0, size=n)
    member = all_coalitions(n)
    got = halfspace_gammas(x, served, shares, beta, member)
    for row, g in zip(member, got, strict=True):
        s = tuple(np.flatnonzero(row))
        ref = direct_halfspace(x, served, shares, beta, s)
        assert close(g, ref, 1e-12), s
        assert close(halfspace_gamma(x, served, shares, beta, s), ref, 1e-12)


def test_ex_ante_lp_equals_brute_force_on_the_samples() -> None:
    rng = np.random.default_rng(11)
    x = rng.random((300, 4))
    served = rng.random((300, 4)) < 0.35
    shares = np.full(4, 0.12)
    ex = ex_ante_core(x, served, shares, np.ones(4))
    ref, _ = brute_force(x, (x * served).sum(axis=0), shares)
    assert ex["lp_method"] == "exact" and ex["lp_gamma"] == pytest.approx(ref, rel=1e-7)
    assert ex["halfspace_coalitions"] == 15 and ex["halfspace_gamma"] >= ex["lp_gamma"] - 1e-9


def test_default_public_goods_run_pins_gamma_to_the_exhaustive_highs_value() -> None:
    """A small default public-goods run (proportional, pacing): the pipeline's gamma and blocking
    coalition are the brute-force HiGHS maximum over all 2^n - 1 coalitions of the run's records."""
    res = abm.run("public-goods", overrides={"rounds": 300, "agents": 5, "seed": 2}, progress=False)
    core = res.summary["metrics"]["core"]
    trace = res.model.trace
    shares = res.model.instance.metric_steps[0].shares
    ref, arg = brute_force(trace.values[:300], trace.utilities[:300].sum(axis=0), shares)
    assert core["method"] == "exact" and core["coalitions_checked"] == 31
    assert core["gamma"] == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert core["gamma_upper"] == core["gamma"]
    assert tuple(core["blocking_coalition"]) == arg
