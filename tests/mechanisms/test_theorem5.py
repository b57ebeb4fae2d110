"""The Theorem 5 solver (Braverman 2021, §3.2.2): on the §3.2.1 4x4 instance it returns the
VCG-supported equilibrium P2 with lambda = (4/7, 4/7, 2/7, 2/7), not P1; on random small
instances its output is an HZ equilibrium checked by oracles independent of the solver
(n + 1 assignment solves for the VCG prices, brute force over permutations for optimality,
vertex enumeration for the best responses)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mechanisms.assignment.hz import hz_residuals
from mechanisms.assignment.theorem5 import theorem5_equilibrium
from mechanisms.assignment.vcg import unit_demand_vcg_naive

U = np.array([[11, 9, 14, 0], [11, 9, 14, 0], [0, 0, 10, 0], [0, 0, 10, 0]], dtype=float)
P1 = np.array([1.1, 0.9, 2.0, 0.0])
P2 = np.array([8, 0, 20, 0]) / 7
LAM = np.array([4, 4, 2, 2]) / 7


def vertex_best(u: np.ndarray, c: np.ndarray, b: float) -> float:
    """max u.y over {y >= 0, sum y = 1, c.y <= b} at the vertices: one affordable item, or
    two items mixed to spend exactly b (independent of HiGHS)."""
    best = max((u[j] for j in range(len(u)) if c[j] <= b + 1e-12), default=-np.inf)
    for j, k in itertools.combinations(range(len(u)), 2):
        if abs(c[j] - c[k]) > 1e-12:
            t = (b - c[k]) / (c[j] - c[k])
            if 0 <= t <= 1:
                best = max(best, t * u[j] + (1 - t) * u[k])
    return best


def brute_force_opt(v: np.ndarray) -> float:
    n = v.shape[0]
    return max(v[np.arange(n), list(p)].sum() for p in itertools.permutations(range(n)))


def assert_theorem5(u: np.ndarray, b: np.ndarray, res, tol: float = 1e-7) -> None:
    n = u.shape[0]
    assert res.converged, res.message
    # 2. prices are the VCG prices of lambda u (n + 1 assignment solves, not the solver's path)
    np.testing.assert_allclose(res.prices, unit_demand_vcg_naive(res.lam[:, None] * u).item_prices, atol=1e-9)
    # 1. a valid allocation
    x = res.allocation
    assert (x >= -1e-12).all()
    np.testing.assert_allclose(x.sum(axis=0), 1.0, atol=1e-9)
    np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-9)
    # 3. a mixture of lambda-u-optimal assignments: its welfare is the optimum (brute force)
    v = res.lam[:, None] * u
    assert (v * x).sum() == pytest.approx(brute_force_opt(v), abs=1e-7 * max(1.0, v.max()))
    # 4. budgets; 5. best responses at prices C (vertex enumeration)
    spend = (x * res.prices).sum(axis=1)
    assert (spend <= b + tol).all()
    for i in range(n):
        assert vertex_best(u[i], res.prices, b[i]) <= (u[i] * x[i]).sum() + tol
    # and the repo's own HZ check agrees
    assert hz_residuals(u, x, res.prices, b, tol=tol).is_equilibrium


def test_paper_4x4_returns_p2_not_p1():
    res = theorem5_equilibrium(U)
    assert_theorem5(U, np.ones(4), res)
    np.testing.assert_allclose(res.prices, P2, atol=1e-9)
    np.testing.assert_allclose(res.lam, LAM, atol=1e-9)
    assert not np.allclose(res.prices, P1, atol=1e-3)
    np.testing.assert_allclose(res.spend, 1.0, atol=1e-9)  # nobody gets only a favourite
    assert res.optimality_gap <= 1e-9


def test_paper_4x4_budgets_scale_lambda_and_prices():
    # Doubling every budget doubles lambda and the prices (VCG is homogeneous in the bids).
    res = theorem5_equilibrium(U, 2.0)
    assert_theorem5(U, np.full(4, 2.0), res)
    np.testing.assert_allclose(res.prices, 2 * P2, atol=1e-9)
    np.testing.assert_allclose(res.lam, 2 * LAM, atol=1e-9)


def test_invariant_to_per_agent_affine_utilities():
    rng = np.random.default_rng(3)
    u = rng.random((4, 4))
    s, c = rng.uniform(0.5, 3, 4), rng.uniform(0, 2, 4)
    a = theorem5_equilibrium(u)
    b = theorem5_equilibrium(s[:, None] * u + c[:, None])
    assert a.converged and b.converged
    # lambda_i u_i and lambda'_i s_i u_i are the same market: same prices, lambda' = lambda / s
    np.testing.assert_allclose(b.prices, a.prices, atol=1e-8)
    np.testing.assert_allclose(b.lam, a.lam / s, rtol=1e-8)


@pytest.mark.parametrize("seed", range(30))
def test_random_instances_pass_independent_checks(seed):
    rng = np.random.default_rng([14, seed])
    n = int(rng.integers(2, 7))
    u = rng.random((n, n))
    if seed % 3 == 0:
        u = np.round(3 * u)  # ties and shared favourites
    b = np.ones(n) if seed % 4 else rng.uniform(0.5, 2.0, n)
    res = theorem5_equilibrium(u, b)
    assert_theorem5(u, b, res)
    # Theorem 5's last clause: an agent either spends her whole budget or gets only favourites
    fav = u >= u.max(axis=1, keepdims=True) - 1e-12
    only_fav = (res.allocation * ~fav).sum(axis=1) <= 1e-9
    assert (only_fav | np.isclose(res.spend, b, atol=1e-7)).all()


def test_constant_row_agent_is_served_a_free_item():
    u = np.array([[1.0, 0.0, 0.5], [0.3, 0.3, 0.3], [1.0, 0.2, 0.0]])
    res = theorem5_equilibrium(u)
    assert_theorem5(u, np.ones(3), res)
    assert res.spend[1] == pytest.approx(0.0, abs=1e-12)


def test_not_converged_is_reported_not_raised():
    res = theorem5_equilibrium(U, max_rounds=1)
    assert not res.converged
    assert "no verified equilibrium" in res.message
    assert res.rounds == 1 and res.attempts == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"utilities": np.ones((2, 3))}, "square"),
        ({"utilities": -np.ones((2, 2))}, "utilities"),
        ({"utilities": np.ones((2, 2)), "budgets": [1.0, 0.0]}, "budgets"),
        ({"utilities": np.ones((2, 2)), "tol": 0.0}, "tol"),
        ({"utilities": np.ones((2, 2)), "max_rounds": 0}, "max_rounds"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        theorem5_equilibrium(**kwargs)
