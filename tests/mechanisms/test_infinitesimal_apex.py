"""Algorithm 2 (Braverman 2021 §2.2): quadratic prices from the Hessian on the simplex's tangent
space, checked against the exact re-optimization charge of Algorithm 1."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import WithoutHooks
from hypothesis import given, settings
from hypothesis import strategies as st

from mechanisms.apex.algorithm1 import Apex
from mechanisms.apex.algorithm2 import InfinitesimalApex, quadratic_forms, restricted_hessian
from mechanisms.base import Reports
from mechanisms.voting.mechanisms import QuadraticPrincipal, SimplexVoting
from mechanisms.voting.simplex import tangent_basis

#: The batched menu hooks; without them Algorithm 2 takes its per-entry loop.
NO_BATCH = ("menu_outcomes", "agent_gradients", "linear_utilities", "quadratic_menu")


def exact_charge(prob: SimplexVoting, lam: np.ndarray, i: int) -> float:
    """Algorithm 1's C_i by two independent solves: X with i, X^{-i} without i."""
    x = prob.argmax(lam, prob.initial())
    w = lam.copy()
    w[i] = 0.0
    x_minus = prob.argmax(w, prob.initial())

    def f_minus(z):
        return float(prob.base(z) + w @ prob.utilities(z))

    return f_minus(x_minus) - f_minus(x)


def test_entropy_form_is_twice_the_variance_over_eta():
    """-Hess F = eta diag(1/p); on {sum x = 0} the inverse form is (diag p - p p^T) / eta
    (hand derivation), and H_t is half of it: g^T H_t^{-1} g = 2 Var_p(g) / eta."""
    rng = np.random.default_rng(0)
    n, k, eta = 6, 5, 0.8
    prob = SimplexVoting(rng.random((n, k)), eta)
    lam = rng.uniform(0.5, 2.0, n)
    mech = InfinitesimalApex(prob)
    res = mech.run_round(Reports(lam, np.ones(n)), rng)
    p = res.outcome
    var = ((prob.u - (prob.u @ p)[:, None]) ** 2) @ p
    np.testing.assert_allclose(res.extras["quadratic_form"], 2 * var / eta, rtol=1e-10)
    np.testing.assert_allclose(res.charges, lam**2 * var / (2 * eta), rtol=1e-10)
    # shifting a voter's utilities by a constant (normal to the tangent space) costs nothing
    h = restricted_hessian(prob.neg_hessian(lam, p), tangent_basis(k))
    g = prob.u[0] @ tangent_basis(k)
    g_shift = (prob.u[0] + 3.0) @ tangent_basis(k)
    np.testing.assert_allclose(quadratic_forms(h, g[None]), quadratic_forms(h, g_shift[None]))


@pytest.mark.parametrize("principal", [None, "quadratic"])
def test_quadratic_price_matches_finite_differences_of_the_exact_charge(principal):
    """C_exact(lambda) = lambda^2 / 4 * g^T H_t^{-1} g + O(lambda^3): the ratio tends to 1
    linearly as lambda -> 0 (H_t = -Hess F / 2; the full Hessian would give 1/2)."""
    rng = np.random.default_rng(1)
    n, k = 9, 4
    f0 = QuadraticPrincipal(np.array([0.4, 0.3, 0.2, 0.1]), gamma=2.0) if principal else None
    prob = SimplexVoting(rng.random((n, k)), 0.7, f0)
    others = rng.uniform(0.5, 1.5, n)
    i = 3
    errors = []
    for lam_i in (0.2, 0.02, 0.002):
        lam = others.copy()
        lam[i] = lam_i
        x = prob.argmax(lam, prob.initial())
        q = InfinitesimalApex(prob).forms(lam, x)[i]
        ratio = exact_charge(prob, lam, i) / (lam_i**2 / 4 * q)
        errors.append(abs(ratio - 1.0))
    assert errors[-1] < 5e-3
    # first-order convergence: a 10x smaller lambda shrinks the error about 10x
    assert errors[1] < errors[0] / 5 and errors[2] < errors[1] / 5


def test_relative_gap_between_algorithms_1_and_2_shrinks_with_n():
    """Large market (§2.2): eta = n / 2, bids O(1): one voter moves the lottery O(1/n)."""
    rng = np.random.default_rng(2)
    k = 4
    rows = []
    for n in (10, 100, 1000):
        prob = SimplexVoting(rng.random((n, k)), 0.5 * n)
        lam = rng.uniform(0.5, 1.5, n)
        reports = Reports(lam, np.ones(n))
        c1 = Apex(prob).run_round(reports, rng).charges
        c2 = InfinitesimalApex(prob).run_round(reports, rng).charges
        gap = np.abs(c1 - c2) / c1
        rows.append((n, float(gap.mean()), float(gap.max())))
    print("\n   n   mean rel. gap   max rel. gap  (Algorithm 1 vs 2 charges, k = 4)")
    for n, mean, mx in rows:
        print(f"{n:5d}   {mean:13.3e}   {mx:12.3e}")
    means = [r[1] for r in rows]
    assert means[1] < means[0] / 5 and means[2] < means[1] / 5
    assert rows[-1][2] < 2e-3


def test_algorithm_2_outcome_is_algorithm_1_outcome():
    rng = np.random.default_rng(3)
    prob = SimplexVoting(rng.random((20, 3)), 4.0)
    lam = rng.uniform(0, 2, 20)
    r1 = Apex(prob).run_round(Reports(lam, np.ones(20)), rng)
    r2 = InfinitesimalApex(prob).run_round(Reports(lam, np.ones(20)), rng)
    np.testing.assert_allclose(r1.outcome, r2.outcome)
    np.testing.assert_allclose(r1.utilities, r2.utilities)


def test_vectorized_menu_equals_the_loop_and_rerunning_the_round():
    rng = np.random.default_rng(4)
    n, k = 6, 3
    prob = SimplexVoting(rng.random((n, k)), 1.1)
    lam = rng.uniform(0.2, 2, n)
    reports = Reports(lam, np.ones(n))
    fast_mech, slow_mech = InfinitesimalApex(prob), InfinitesimalApex(WithoutHooks(prob, NO_BATCH))
    rf = fast_mech.run_round(reports, rng)
    rs = slow_mech.run_round(reports, rng)
    alts = np.tile([0.0, 0.5, 2.0, 10.0], (n, 1))
    fu, fc = fast_mech.menu_all(alts, reports, state=rf.state)
    su, sc = slow_mech.menu_all(alts, reports, state=rs.state)
    np.testing.assert_allclose(fu, su, atol=1e-12)
    np.testing.assert_allclose(fc, sc, rtol=1e-9, atol=1e-15)
    for j, a in enumerate(alts[2]):
        bids = lam.copy()
        bids[2] = a
        res = InfinitesimalApex(prob).run_round(Reports(bids, np.ones(n)), rng)
        assert fc[2, j] == pytest.approx(res.charges[2], rel=1e-9, abs=1e-15)


def test_not_positive_definite_raises_a_clear_error():
    with pytest.raises(ValueError, match="not positive definite"):
        quadratic_forms(np.zeros((2, 2)), np.ones((1, 2)))


def test_problem_without_hessian_is_rejected():
    from mechanisms.apex.algorithm1 import FiniteArgmax

    with pytest.raises(ValueError, match="gradients"):
        InfinitesimalApex(FiniteArgmax(np.eye(2)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), eta=st.floats(0.05, 3.0), scale=st.floats(0.01, 100.0))
def test_budget_cap_keeps_every_charge_within_the_remaining_budget(seed, eta, scale):
    rng = np.random.default_rng(seed)
    n, k = 5, 4
    prob = SimplexVoting(rng.random((n, k)), eta)
    mech = InfinitesimalApex(prob)
    remaining = rng.uniform(0.0, 1.0, n) * scale
    bids = mech.enforce_budget(rng.uniform(0, 50, n) * scale, remaining)
    res = mech.run_round(Reports(bids, np.ones(n)), rng)
    assert (res.charges <= remaining + 1e-12).all()
    assert (res.charges >= 0).all()


def test_quadratic_prices_are_not_clamped_to_the_vcg_range():
    """For large bids eq. (23) exceeds lambda_i * span (the exact charge never does); Algorithm
    2 must still charge eq. (23), not Algorithm 1's clamp."""
    u = np.array([[1.0, 0.0], [0.0, 1.0]])
    prob = SimplexVoting(u, eta=0.1)
    lam = np.array([1.0, 1.0])  # symmetric: p = (1/2, 1/2), Var_p(u_i) = 1/4
    res = InfinitesimalApex(prob).run_round(Reports(lam, np.ones(2)), np.random.default_rng())
    np.testing.assert_allclose(res.outcome, [0.5, 0.5])
    np.testing.assert_allclose(res.charges, 1.0**2 * 0.25 / (2 * 0.1))  # 1.25 > lambda * span = 1
