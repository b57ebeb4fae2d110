"""Two-sided matching (Braverman 2021 §3.3): the Sinkhorn heuristic, APEX on fractional
matchings, deferred acceptance, blocking pairs, externalities and the §3.3 instances."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment, minimize

from mechanisms.apex.algorithm1 import Apex
from mechanisms.assignment.sinkhorn import matrix_entropy, sinkhorn
from mechanisms.base import Reports
from mechanisms.matching.two_sided import (
    DeferredAcceptance,
    TwoSidedMatching,
    assortative,
    blocking_pairs,
    blocking_violations,
    deferred_acceptance,
    externalities,
    instance_33,
    normalize_rows,
    permutation_matrix,
    player_utilities,
)


# --- brute force references ------------------------------------------------------------
def brute_blocking(uh, ud, match):
    """Blocking pairs of a perfect matching, straight from the definition."""
    m = len(match)
    hosp_of = np.empty(m, dtype=int)
    hosp_of[match] = np.arange(m)
    return {
        (h, d)
        for h in range(m)
        for d in range(m)
        if match[h] != d and uh[h, d] > uh[h, match[h]] and ud[d, h] > ud[d, hosp_of[d]]
    }


def stable_matchings(uh, ud):
    m = uh.shape[0]
    return [np.array(p) for p in permutations(range(m)) if not brute_blocking(uh, ud, np.array(p))]


def market(seed, m):
    rng = np.random.default_rng(seed)
    return rng.random((m, m)), rng.random((m, m))


# --- Sinkhorn ---------------------------------------------------------------------------
def test_sinkhorn_matches_an_independent_solver():
    rng = np.random.default_rng(0)
    s, eta = rng.normal(size=(3, 3)), 0.6
    x = sinkhorn(s, eta)

    def obj(v):
        z = np.clip(v.reshape(3, 3), 1e-15, None)
        return -((s * z).sum() - eta * (z * np.log(z)).sum())

    cons = [{"type": "eq", "fun": lambda v, i=i: v.reshape(3, 3)[i].sum() - 1} for i in range(3)]
    cons += [{"type": "eq", "fun": lambda v, j=j: v.reshape(3, 3)[:, j].sum() - 1} for j in range(2)]
    ref = minimize(obj, np.full(9, 1 / 3), method="SLSQP", bounds=[(1e-12, 1)] * 9, constraints=cons,
                   options={"ftol": 1e-14, "maxiter": 1000}).x.reshape(3, 3)
    np.testing.assert_allclose(x, ref, atol=1e-5)


@pytest.mark.parametrize("scale", [0.1, 1.0, 100.0, 5000.0])
def test_sinkhorn_kkt_holds_even_for_extreme_score_ranges(scale):
    """Optimality: X doubly stochastic and log X - S / eta additive (a_h + b_d)."""
    rng = np.random.default_rng(1)
    s = rng.random((4, 6, 6)) * scale
    eta = 0.05
    x = sinkhorn(s, eta)
    np.testing.assert_allclose(x.sum(-1), 1.0, atol=1e-8)
    np.testing.assert_allclose(x.sum(-2), 1.0, atol=1e-8)
    ok = x > 1e-250  # interaction test only where log X is representable
    for b in range(4):
        m = np.where(ok[b], np.log(np.where(ok[b], x[b], 1.0)) - s[b] / eta, np.nan)
        # log X_hd - S_hd/eta = a_h + b_d: every rectangle of representable entries cancels
        checked = 0
        for h1, h2, d1, d2 in zip(*np.triu_indices(6, 1), *np.triu_indices(6, 1), strict=True):
            for dd1, dd2 in ((d1, d2), (0, 5)):
                if ok[b, h1, dd1] and ok[b, h2, dd2] and ok[b, h1, dd2] and ok[b, h2, dd1]:
                    rect = m[h1, dd1] + m[h2, dd2] - m[h1, dd2] - m[h2, dd1]
                    assert abs(rect) < 1e-6 * max(1.0, scale / eta)
                    checked += 1
        if scale / eta <= 100:
            assert checked > 0
        else:  # near the LP limit: X is (numerically) the unique optimal assignment
            _, cols = linear_sum_assignment(s[b], maximize=True)
            np.testing.assert_allclose(x[b], permutation_matrix(cols), atol=1e-6)


def test_sinkhorn_batched_equals_one_by_one():
    rng = np.random.default_rng(2)
    s = rng.random((3, 2, 4, 4)) * 10
    x = sinkhorn(s, 0.3)
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(x[i, j], sinkhorn(s[i, j], 0.3), atol=1e-10)


def test_sinkhorn_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        sinkhorn(np.ones((2, 3)), 1.0)
    with pytest.raises(ValueError, match="eta"):
        sinkhorn(np.ones((2, 2)), 0.0)


# --- Gale–Shapley ----------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), m=st.integers(1, 5))
def test_deferred_acceptance_is_stable_and_side_optimal(seed, m):
    uh, ud = market(seed, m)
    hp = deferred_acceptance(uh, ud, "hospitals")
    dp = deferred_acceptance(uh, ud, "doctors")
    assert sorted(hp) == list(range(m)) and sorted(dp) == list(range(m))
    assert not brute_blocking(uh, ud, hp) and not brute_blocking(uh, ud, dp)
    stable = stable_matchings(uh, ud)
    hosp_of = lambda mt: np.argsort(mt)  # noqa: E731
    for s in stable:
        # hospital-proposing: every hospital weakly prefers hp; doctor-proposing: every doctor dp
        assert (uh[np.arange(m), hp] >= uh[np.arange(m), s]).all()
        assert (ud[np.arange(m), hosp_of(dp)] >= ud[np.arange(m), hosp_of(s)]).all()


def test_instance_33_unique_stable_matching_has_utility_20_versus_36():
    uh, ud = instance_33()
    m1, m2 = np.array([1, 0]), np.array([0, 1])  # M1 = {(h1,d2),(h2,d1)}, M2 = {(h1,d1),(h2,d2)}
    stable = stable_matchings(uh, ud)
    assert len(stable) == 1 and (stable[0] == m1).all()
    assert (deferred_acceptance(uh, ud, "hospitals") == m1).all()
    assert (deferred_acceptance(uh, ud, "doctors") == m1).all()
    assert player_utilities(uh, ud, permutation_matrix(m1)).sum() == 20
    assert player_utilities(uh, ud, permutation_matrix(m2)).sum() == 36
    assert brute_blocking(uh, ud, m2) == {(0, 1)}


def test_instance_34_is_33_normalized():
    uh, ud = instance_33()
    np.testing.assert_array_equal(normalize_rows(uh), [[0, 1], [0, 1]])
    np.testing.assert_array_equal(normalize_rows(ud), [[1, 0], [1, 0]])


# --- blocking pairs, externalities ------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), m=st.integers(1, 5))
def test_blocking_violations_of_a_deterministic_matching_are_the_blocking_pairs(seed, m):
    uh, ud = market(seed, m)
    match = np.random.default_rng(seed + 1).permutation(m)
    v = blocking_violations(uh, ud, permutation_matrix(match))
    assert {tuple(p) for p in np.argwhere(v > 0.5)} == brute_blocking(uh, ud, match)
    np.testing.assert_array_equal(np.isin(v, (0.0, 1.0)), True)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), m=st.integers(2, 4))
def test_externalities_match_brute_force_over_all_matchings(seed, m):
    uh, ud = market(seed, m)
    x = sinkhorn(np.random.default_rng(seed).random((m, m)), 0.5)
    perms = [permutation_matrix(np.array(p)) for p in permutations(range(m))]
    f_all = np.array([player_utilities(uh, ud, p) for p in perms])  # (m!, 2m)
    f_x = player_utilities(uh, ud, x)
    expected = [(f_all.sum(1) - f_all[:, i]).max() - (f_x.sum() - f_x[i]) for i in range(2 * m)]
    np.testing.assert_allclose(externalities(uh, ud, x), expected, atol=1e-9)


# --- APEX on fractional matchings (§3.3) -------------------------------------------------
def test_instance_34_apex_equal_weights_mixes_m1_m2_and_equalizes_externalities():
    """§3.3: lambda_i = 1 for all -> mu = (M1 + M2) / 2, every externality 1/2, and the
    pair (h1, d2) keeps a blocking mass of 1/2 (it would block M2)."""
    uh, ud = instance_33()
    eta = 0.01
    prob = TwoSidedMatching(uh, ud, eta)
    res = Apex(prob).run_round(Reports(np.ones(4), np.ones(4)), np.random.default_rng())
    np.testing.assert_allclose(res.outcome, [[0.5, 0.5], [0.5, 0.5]], atol=1e-9)
    np.testing.assert_allclose(externalities(prob.uh, prob.ud, res.outcome), 0.5, atol=1e-9)
    assert blocking_pairs(prob.uh, prob.ud, res.outcome) == (1, pytest.approx(0.5))
    # Hand value of Algorithm 1's charge: removing any player leaves a 2x2 problem whose best
    # matching is worth 2 vs 1: max = 1 + 2 eta log(1 + e^{1/(2 eta)}); at mu F^{-i} = 3/2 + 2 eta log 2.
    expected = 1 + 2 * eta * np.log1p(np.exp(1 / (2 * eta))) - 1.5 - 2 * eta * np.log(2)
    np.testing.assert_allclose(res.charges, expected, rtol=1e-9)


def test_assortative_apex_marginals_uniform_while_the_stable_matching_is_assortative():
    m = 5
    uh, ud = assortative(m)
    prob = TwoSidedMatching(uh, ud, 0.05)
    x = Apex(prob).run_round(Reports(np.ones(2 * m), np.ones(2 * m)), np.random.default_rng()).outcome
    np.testing.assert_allclose(x, 1.0 / m, atol=1e-9)
    stable = stable_matchings(uh[:4, :4], ud[:4, :4])  # brute force on the 4 x 4 version
    assert len(stable) == 1 and (stable[0] == np.arange(4)).all()
    assert (deferred_acceptance(uh, ud) == np.arange(m)).all()
    assert blocking_pairs(uh, ud, permutation_matrix(np.arange(m))) == (0, 0.0)
    count, mass = blocking_pairs(prob.uh, prob.ud, x)
    # violation (h + d + 1 - m) / m for 0-based h + d >= m (hand computation)
    expected = sum(max(0, h + d + 1 - m) / m for h in range(m) for d in range(m))
    assert mass == pytest.approx(expected) and count == sum(h + d + 1 > m for h in range(m) for d in range(m))


def test_apex_matching_charges_equal_independent_reoptimization():
    rng = np.random.default_rng(5)
    uh, ud = rng.random((3, 3)), rng.random((3, 3))
    prob = TwoSidedMatching(uh, ud, 0.2)
    lam = rng.uniform(0.3, 2.0, 6)
    res = Apex(prob).run_round(Reports(lam, np.ones(6)), rng)

    def f_minus(x, w):
        return float(0.2 * matrix_entropy(x) + w @ player_utilities(prob.uh, prob.ud, x))

    for i in range(6):
        w = lam.copy()
        w[i] = 0.0
        x_minus = sinkhorn(np.einsum("i,ihd->hd", w, prob.coef), 0.2)
        assert res.charges[i] == pytest.approx(f_minus(x_minus, w) - f_minus(res.outcome, w), abs=1e-9)
    np.testing.assert_allclose(res.utilities, player_utilities(prob.uh, prob.ud, res.outcome))


def test_apex_matching_menu_equals_rerunning_the_round():
    rng = np.random.default_rng(6)
    prob = TwoSidedMatching(rng.random((3, 3)), rng.random((3, 3)), 0.1)
    lam = rng.uniform(0.3, 2.0, 6)
    mech = Apex(prob)
    reports = Reports(lam, np.ones(6))
    res = mech.run_round(reports, rng)
    alts = np.tile([0.0, 0.5, 3.0, 100.0], (6, 1))
    util, cost = mech.menu_all(alts, reports, state=res.state)
    for i in (0, 4):
        for j, a in enumerate(alts[i]):
            bids = lam.copy()
            bids[i] = a
            r = Apex(prob).run_round(Reports(bids, np.ones(6)), rng)
            assert util[i, j] == pytest.approx(r.utilities[i], abs=1e-7)
            assert cost[i, j] == pytest.approx(r.charges[i], abs=1e-6)


def test_deferred_acceptance_mechanism_is_token_free():
    uh, ud = instance_33()
    mech = DeferredAcceptance(uh, ud, "doctors")
    res = mech.run_round(Reports(np.ones(4), np.ones(4)), np.random.default_rng())
    np.testing.assert_array_equal(res.outcome, permutation_matrix(np.array([1, 0])))
    np.testing.assert_array_equal(res.charges, 0.0)
    np.testing.assert_allclose(res.utilities, [1, 0, 0, 1])  # normalized (34) utilities under M1
    u, c = mech.menu_all(np.ones((4, 3)), Reports(np.ones(4), np.ones(4)))
    np.testing.assert_allclose(u, np.repeat(res.utilities[:, None], 3, axis=1))
    np.testing.assert_array_equal(c, 0.0)


@pytest.mark.parametrize(
    ("uh", "ud", "match"),
    [(np.ones((2, 3)), np.ones((2, 3)), "square"), (np.ones((2, 2)), np.ones((3, 3)), "shape"),
     ([[1.0, np.inf], [0, 0]], np.ones((2, 2)), r"hospital_utilities\[0, 1\]")],
)
def test_bad_markets_raise_value_error(uh, ud, match):
    with pytest.raises(ValueError, match=match):
        TwoSidedMatching(uh, ud, 0.1)


def test_bad_proposing_side_raises():
    with pytest.raises(ValueError, match="proposing"):
        deferred_acceptance(np.eye(2), np.eye(2), "everyone")
