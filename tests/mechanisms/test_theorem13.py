"""Theorem 13's delta-equilibrium (Braverman 2021, §3.2.4, Appendix B): the closed-form best
affordable bundle against HiGHS, delta-CE by hand on the §3.2.1 instance at both price
factors, eq. (47)'s payments against `Apex.run_round`, and the bid cap lambda-bar."""

from __future__ import annotations

import numpy as np
import pytest

from mechanisms.apex.algorithm1 import Apex
from mechanisms.assignment.birkhoff import RegularizedAssignment
from mechanisms.assignment.hz import best_affordable_utility
from mechanisms.assignment.theorem13 import (
    RoundPayments,
    best_affordable_utilities,
    best_response_lambda,
    delta_ce,
    theorem13_report,
)
from mechanisms.base import Reports

U = np.array([[11, 9, 14, 0], [11, 9, 14, 0], [0, 0, 10, 0], [0, 0, 10, 0]], dtype=float)
W = U / U.max(axis=1, keepdims=True)  # normalized per agent (min 0, max 1)
P2 = np.array([8, 0, 20, 0]) / 7
Y = np.array(
    [[1 / 2, 7 / 20, 3 / 20, 0], [1 / 2, 7 / 20, 3 / 20, 0], [0, 3 / 20, 7 / 20, 1 / 2], [0, 3 / 20, 7 / 20, 1 / 2]]
)


@pytest.mark.parametrize("seed", range(25))
def test_best_affordable_closed_form_matches_highs(seed):
    rng = np.random.default_rng([13, seed])
    n, m = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    u = rng.random((n, m))
    c = rng.random(m) * 2
    if seed % 3 == 0:
        c[rng.integers(m)] = c[0]  # equal prices
    b = rng.uniform(0, 2, n)
    got = best_affordable_utilities(u, c, b)
    for i in range(n):
        want = best_affordable_utility(u[i], c, b[i])
        if np.isnan(want):
            assert got[i] == -np.inf
        else:
            assert got[i] == pytest.approx(want, abs=1e-9)


def test_delta_is_zero_at_an_hz_equilibrium():
    for factor in ("full", "third"):
        d = delta_ce(W, Y, P2, 1.0, factor)
        assert d.delta == 0.0 and d.factor == 1.0


def test_delta_by_hand_when_the_budget_binds():
    # (delta is exact up to the 1e-12 slack of the conditions.)
    # At C = 1.2 P2 everyone spends 1.2 with Y; at C' = phi C = P2 (phi = 1 / 1.2) Y is an exact
    # HZ equilibrium, so the budget is the binding condition: 1 - delta = 1/1.2 and
    # 1 - delta/3 = 1/1.2, i.e. delta = 1/6 and delta = 1/2.
    full = delta_ce(W, Y, 1.2 * P2, 1.0, "full")
    third = delta_ce(W, Y, 1.2 * P2, 1.0, "third")
    assert full.delta == pytest.approx(1 / 6, abs=1e-10)
    assert third.delta == pytest.approx(1 / 2, abs=1e-10)
    assert full.factor == pytest.approx(1 / 1.2) and third.factor == pytest.approx(1 / 1.2)


def test_delta_by_hand_when_the_gain_binds():
    # Two agents, two items, both want A (u = (1, 0)); X gives agent 0 A for sure, agent 1 B.
    # Prices C = (c, 0): agent 1 can afford A with probability min(1, 1 / (phi c)); her gain
    # is that probability; the factor "full" needs 1 / ((1 - d) c) <= d. With c = 4:
    # 4 d (1 - d) = 1 -> d = 1/2 (agent 0 spends (1 - d) 4 = 2 > 1 though, so the budget
    # binds first: (1 - d) 4 <= 1 -> d >= 3/4, and at d = 3/4 agent 1 affords A: gain 1 > d).
    # Hence delta = 1 (free items); with c = 1.25: budget d >= 0.2, gain 1 / ((1-d) 1.25) <= d
    # -> 1.25 d^2 - 1.25 d + 1 <= 0 has no root: delta = 1 again. A clean interior case:
    # u = ((1, 0), (1, 0.5)), x = identity, C = (2, 0): agent 0 spends 2 (needs 1 - d <= 1/2),
    # agent 1 gets 0.5, affords A w.p. 1 / (2 (1 - d)), gain 0.5 * that <= d.
    u = np.array([[1.0, 0.0], [1.0, 0.5]])
    x = np.eye(2)
    c = np.array([2.0, 0.0])
    d = delta_ce(u, x, c, 1.0, "full")
    # budget: d >= 1/2; at d = 1/2 agent 1 affords A surely: gain 0.5 <= 0.5. So delta = 1/2.
    assert d.delta == pytest.approx(0.5, abs=1e-10)
    third = delta_ce(u, x, c, 1.0, "third")
    # budget: (1 - d/3) 2 <= 1 -> d >= 3/2; there A is affordable, gain 0.5 <= 1.5.
    assert third.delta == pytest.approx(1.5, abs=1e-10)


def test_delta_bad_factor_names_the_field():
    with pytest.raises(ValueError, match="factor"):
        delta_ce(W, Y, P2, 1.0, "half")


def _bids(t: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 3.0, (t, 4))


def test_round_payments_equal_apex_charges():
    # P_{i,t}(lambda) of Claim 10 is what Apex charges when agent i bids lambda in round t.
    prob = RegularizedAssignment(W, 1e-2)
    bids = _bids(5)
    pay = RoundPayments(prob, bids, agent=2)
    for lam in (0.0, 0.7, 2.5):
        p, util = pay(lam)
        for t in range(bids.shape[0]):
            apex = Apex(RegularizedAssignment(W, 1e-2))
            b = bids[t].copy()
            b[2] = lam
            res = apex.run_round(Reports(values=np.ones(4), bids=b), np.random.default_rng(0))
            assert p[t] == pytest.approx(res.charges[2], abs=1e-7)
            assert util[t] == pytest.approx(res.utilities[2], abs=1e-7)


def test_best_response_spends_the_budget_and_exceeds_one():
    prob = RegularizedAssignment(W, 1e-2)
    bids = _bids(8)
    t = bids.shape[0]
    for i in range(4):
        lam = best_response_lambda(prob, bids, i, float(t))
        p, _ = RoundPayments(prob, bids, i)(lam)
        assert p.sum() == pytest.approx(t, rel=1e-8)
        assert lam > 1.0  # Claim 10.5 with one token per round and utilities in [0, 1]
        # strictly increasing payments (Claim 10.1): a smaller bid spends less
        assert RoundPayments(prob, bids, i)(0.9 * lam)[0].sum() < t


def test_best_response_stops_at_the_cap():
    prob = RegularizedAssignment(W, 1e-2)
    bids = _bids(6)
    free = best_response_lambda(prob, bids, 0, 6.0)
    assert best_response_lambda(prob, bids, 0, 6.0, bid_cap=0.5 * free) == 0.5 * free
    # (payments are exact to the solver's duality-gap tolerance, so lambda to about 1e-8)
    assert best_response_lambda(prob, bids, 0, 6.0, bid_cap=2 * free) == pytest.approx(free, rel=1e-7)


def test_report_prices_are_vcg_at_the_best_responses():
    from mechanisms.assignment.vcg import unit_demand_vcg_naive

    prob = RegularizedAssignment(W, 1e-2)
    bids = _bids(6)
    x_bar = np.full((4, 4), 0.25)
    rep = theorem13_report(prob, bids, x_bar, np.full(4, 6.0))
    np.testing.assert_allclose(rep.prices, unit_demand_vcg_naive(rep.lam[:, None] * W).item_prices, atol=1e-9)
    assert rep.deviation == pytest.approx(np.abs(bids - rep.lam).sum(axis=1).mean())
    assert set(rep.deltas) == {"full", "third"}
    with pytest.raises(ValueError, match="bids"):
        theorem13_report(prob, bids[:, :3], x_bar, np.full(4, 6.0))


def test_apex_bid_cap_plays_and_prices_capped_bids():
    prob = RegularizedAssignment(W, 1e-2)
    capped = Apex(prob, bid_cap=2.0)
    plain = Apex(RegularizedAssignment(W, 1e-2))
    rng = np.random.default_rng(0)
    high = Reports(values=np.ones(4), bids=np.array([5.0, 1.0, 3.0, 0.5]))
    at_cap = Reports(values=np.ones(4), bids=np.array([2.0, 1.0, 2.0, 0.5]))
    np.testing.assert_allclose(capped.enforce_budget(high.bids, np.full(4, 100.0)), at_cap.bids)
    a, b = capped.run_round(high, rng), plain.run_round(at_cap, rng)
    np.testing.assert_allclose(a.charges, b.charges, atol=1e-9)
    u1, c1 = capped.menu_all(np.array([[9.0]]), high, np.array([1]), state=a.state)
    u2, c2 = capped.menu_all(np.array([[2.0]]), high, np.array([1]), state=a.state)
    np.testing.assert_allclose([u1, c1], [u2, c2], atol=1e-9)
    with pytest.raises(ValueError, match="bid_cap"):
        Apex(prob, bid_cap=0.0)
