"""Approximate core factor (Onyeze et al. 2025 Definition 2.1, Lemma 4.2): the LP against closed forms,
LP duality and the paper's lower-bound instance (§6)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog, minimize_scalar

from abm.metrics.core import coalition_gamma, core_factor, ex_ante_core, halfspace_gamma
from mechanisms.base import Reports
from mechanisms.public_goods.monetary import Moulin


def top_fraction(x: np.ndarray, cap: float) -> float:
    s = np.sort(x)[::-1]
    k = int(np.floor(cap))
    return float(s[:k].sum() + ((cap - k) * s[k] if k < len(s) else 0.0))


def test_singleton_equals_direct_lp() -> None:
    rng = np.random.default_rng(0)
    v = rng.random((40, 3))
    u = np.array([5.0, 3.0, 7.0])
    shares = np.array([0.1, 0.15, 0.2])
    for i in range(3):
        cap = shares[i] * 40
        res = linprog(-v[:, i], A_ub=np.ones((1, 40)), b_ub=[cap], bounds=(0, 1), method="highs")
        assert coalition_gamma(v, u, shares, [i]) == pytest.approx(-res.fun / u[i] - 1.0, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_pair_lp_equals_its_dual(seed: int) -> None:
    """LP duality: 1 + gamma(S) = min over w >= 0 with sum_i w_i U_i = 1 of the top-(alpha_S T)
    fractional sum of sum_i w_i V_it. For two agents w = (th / U_0, (1 - th) / U_1), th in [0, 1],
    a convex one-dimensional problem solved here by bounded Brent search."""
    rng = np.random.default_rng(seed)
    t = 30
    v = rng.random((t, 2)) ** rng.choice([1.0, 3.0])
    u = rng.random(2) * 6 + 0.5
    shares = rng.random(2) * 0.3 + 0.05
    cap = shares.sum() * t

    def dual(th: float) -> float:
        return top_fraction(th * v[:, 0] / u[0] + (1 - th) * v[:, 1] / u[1], cap)

    best = minimize_scalar(dual, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-12})
    ref = min(best.fun, dual(0.0), dual(1.0))
    assert coalition_gamma(v, u, shares, [0, 1]) == pytest.approx(ref - 1.0, abs=1e-6)


def harmonic_instance(n: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Onyeze et al. 2025 §6 as an exact empirical measure: each permutation sigma once as a shared round
    (n! rounds, values 1/sigma(i) - eps) and (n-1)! selfish rounds per agent, so shared rounds
    weigh alpha = 1/2 and agent i's selfish rounds alpha_i = 1/(2n)."""
    shared = np.array([1.0 / (np.array(p) + 1.0) - eps for p in itertools.permutations(range(n))])
    per_agent = len(shared) // n
    selfish = np.repeat(np.eye(n), per_agent, axis=0)
    return np.vstack([shared, selfish]), np.full(n, 1.0 / (2 * n))


def test_harmonic_lower_bound_instance() -> None:
    """Onyeze et al. 2025 §6 (n = 3, eps = 0.01): Moulin with beta = 1 serves nobody in the shared rounds
    (no k agents all value >= 1/k) and agent i alone in its selfish rounds, so U_i = 2 (its two
    selfish rounds). The grand coalition (alpha_S = 1/2, i.e. 6 of the 12 rounds) takes the 6
    shared rounds instead: each agent holds every rank twice, 2 (H_3 - 3 eps), a factor
    H_3 - 3 eps more. No allocation does better (a shared round carries total value
    H_3 - 3 eps > 1), so gamma = H_3 - 3 eps - 1 = 0.80333..."""
    n, eps = 3, 0.01
    values, shares = harmonic_instance(n, eps)
    moulin = Moulin()
    rng = np.random.default_rng(0)
    served = np.array([moulin.run_round(Reports(v, v), rng).outcome for v in values])
    assert not served[:6].any() and served[6:].sum() == 6
    utility = (values * served).sum(axis=0)
    assert utility == pytest.approx([2.0, 2.0, 2.0])
    h3 = 1 + 1 / 2 + 1 / 3
    res = core_factor(values, utility, shares)
    assert res.gamma == pytest.approx(h3 - n * eps - 1, abs=1e-9)
    assert res.coalition == (0, 1, 2)
    assert res.method == "exact" and res.checked == 7
    assert res.singletons == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
    # Lemma 4.2 with beta = 1: the half-space of measure 1/2 is the shared rounds; same factor.
    assert halfspace_gamma(values, served, shares, np.ones(n), [0, 1, 2]) == pytest.approx(h3 - n * eps - 1)
    ex = ex_ante_core(values, served, shares, np.ones(n))
    assert ex["lp_gamma"] == pytest.approx(h3 - n * eps - 1, abs=1e-9)
    assert ex["halfspace_gamma"] >= ex["lp_gamma"] - 1e-9
    assert ex["measure_allocated"] == pytest.approx(0.5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_halfspace_certificate_bounds_the_exact_factor(seed: int) -> None:
    """Lemma 4.2 is a sufficient condition, so its gamma is >= the exact LP gamma for any beta."""
    rng = np.random.default_rng(seed)
    x = rng.random((200, 3))
    served = rng.random((200, 3)) < 0.3
    shares = np.full(3, 0.1)
    beta = rng.random(3) + 0.2
    utility = (x * served).sum(axis=0)
    for s in ([0], [1, 2], [0, 1, 2]):
        assert halfspace_gamma(x, served, shares, beta, s) >= coalition_gamma(x, utility, shares, s) - 1e-7


def test_zero_utility_members_and_errors() -> None:
    v = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert coalition_gamma(v, np.array([0.0, 1.0]), np.array([0.5, 0.5]), [0]) == np.inf
    assert coalition_gamma(v, np.array([0.0, 1.0]), np.array([0.0, 0.5]), [0]) == 0.0
    with pytest.raises(ValueError, match="values"):
        coalition_gamma(-v, np.ones(2), np.ones(2) / 2, [0])
    with pytest.raises(ValueError, match="shares"):
        coalition_gamma(v, np.ones(2), np.array([0.5]), [0])
    with pytest.raises(ValueError, match="coalition"):
        coalition_gamma(v, np.ones(2), np.ones(2) / 2, [])


