"""Approximate-valuation auctions (Chiesa–Micali–Zhu) against the slides, the appendix and brute force."""

from fractions import Fraction
from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mechanisms.approx_valuations.auctions import (
    OptimalApprox,
    RandomAssignment,
    SecondPrice,
    d_delta,
    dominant_strategy_bound,
    knowledge_interval,
    optimal_allocation,
    optimal_expected_payment,
    optimal_guarantee,
    optimal_integrals,
    optimal_win_probabilities,
    random_assignment_guarantee,
    second_price_guarantee,
    welfare_ratio,
    worst_case_ratio,
)
from mechanisms.base import Reports

TOL = 1e-9
bids_st = st.lists(st.floats(0.01, 10.0, allow_nan=False), min_size=1, max_size=7).map(np.array)
delta_st = st.floats(0.01, 0.95)


# --- guarantees: the slides' formulas and numeric examples -------------------------------------


def test_slide_examples_optimal_vs_second_price():
    """Slide "Implementation in ...": delta = 0.5, n = 2: 5 times better; delta = 0.5, n = 4:
    3 times better; delta = 0.25, n = 2: "2 times better" (exactly 17/9)."""
    assert optimal_guarantee(0.5, 2) / second_price_guarantee(0.5, 2) == pytest.approx(5.0)
    assert optimal_guarantee(0.5, 4) / second_price_guarantee(0.5, 4) == pytest.approx(3.0)
    r = optimal_guarantee(0.25, 2) / second_price_guarantee(0.25, 2)
    assert r == pytest.approx(17 / 9) and round(r) == 2


def test_guarantee_hand_values():
    assert second_price_guarantee(0.5, 3) == pytest.approx(1 / 9)  # (0.5 / 1.5)^2
    assert optimal_guarantee(0.5, 2) == pytest.approx((0.25 + 1.0) / 2.25)  # 5/9
    assert random_assignment_guarantee(0.3, 4) == 0.25
    assert dominant_strategy_bound(0.1, 5) == 0.2 and dominant_strategy_bound(0.0, 5) == 1.0
    # delta = 0: second price and M_f's formula both give all of MSW; delta -> 1: M_f -> 1/n.
    assert second_price_guarantee(0.0, 3) == 1.0 and optimal_guarantee(0.0, 3) == 1.0
    assert optimal_guarantee(0.999999, 5) == pytest.approx(0.2, abs=1e-5)


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_optimal_guarantee_dominates_the_others(n):
    for delta in np.linspace(0.0, 0.99, 50):
        g = optimal_guarantee(delta, n)
        assert g >= second_price_guarantee(delta, n) - 1e-15
        assert g >= 1.0 / n - 1e-15


def test_d_delta_definition():
    """D_delta = ((1 + delta)/(1 - delta))^2 - 1 (Definition E.2), and (n + D)/(n (1 + D)) is
    the guarantee (the identity used in Lemma E.1)."""
    for delta in [0.1, 0.4, 0.8]:
        d = d_delta(delta)
        assert d == pytest.approx(((1 + delta) / (1 - delta)) ** 2 - 1)
        for n in [2, 5]:
            assert (n + d) / (n * (1 + d)) == pytest.approx(optimal_guarantee(delta, n))


def test_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match="delta"):
        optimal_guarantee(1.0, 2)
    with pytest.raises(ValueError, match="delta"):
        OptimalApprox(0.0)
    with pytest.raises(ValueError, match="n must"):
        second_price_guarantee(0.1, 0)
    with pytest.raises(ValueError, match="bid_cap"):
        SecondPrice(bid_cap=0.0)
    with pytest.raises(ValueError, match="bids"):
        SecondPrice().run_round(Reports(np.array([-1.0, 1.0]), np.ones(2)), np.random.default_rng(0))
    lo, hi = knowledge_interval(np.array([1.0, 2.0]), 0.25)
    assert np.allclose(lo, [0.75, 1.5]) and np.allclose(hi, [1.25, 2.5])


# --- f of Definition E.2 against a literal implementation --------------------------------------


def literal_f(z: list[float], delta: float) -> list[float]:
    """Definition E.2 word for word, with loops and exact fractions for D's comparisons."""
    D = Fraction(4) * Fraction(delta) / (1 - Fraction(delta)) ** 2
    n = len(z)
    order = sorted(range(n), key=lambda i: -z[i])
    s = [Fraction(z[i]) for i in order]
    n_star = next(
        k for k in range(1, n + 1) if all(s[i] <= sum(s[:k]) / (k + D) for i in range(k, n))
    )
    total = sum(s[:n_star])
    f = [0.0] * n
    for pos, i in enumerate(order[:n_star]):
        val = Fraction(1, n) * (n + D) / (n_star + D) * (s[pos] * (n_star + D) - total) / (s[pos] * D)
        f[i] = float(val)
    return f


@settings(max_examples=150, deadline=None)
@given(bids_st, delta_st)
def test_f_matches_literal_definition(b, delta):
    assert np.allclose(optimal_win_probabilities(b, delta), literal_f(list(b), delta), atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(bids_st, delta_st)
def test_f_is_a_winning_probability_and_delta_good(b, delta):
    """Lemma E.3: f >= 0, sum f <= 1; and the delta-good inequality E.1 behind the guarantee:
    sum_j f_j v_j + D f_i v_i >= v_i (n + D)/n for every i."""
    f = optimal_win_probabilities(b, delta)
    n, D = b.shape[0], d_delta(delta)
    assert (f >= 0).all() and f.sum() <= 1 + 1e-12
    lhs = f @ b + D * f * b
    assert (lhs >= b * (n + D) / n * (1 - 1e-9)).all()


@settings(max_examples=100, deadline=None)
@given(bids_st, delta_st, st.floats(0.1, 10.0), st.data())
def test_f_symmetric_scale_free_and_monotone(b, delta, scale, data):
    f = optimal_win_probabilities(b, delta)
    perm = np.random.default_rng(0).permutation(b.shape[0])
    assert np.allclose(optimal_win_probabilities(b[perm], delta), f[perm])
    assert np.allclose(optimal_win_probabilities(b * scale, delta), f)
    i = data.draw(st.integers(0, b.shape[0] - 1))
    grid = np.linspace(0.0, 2 * b.max(), 60)
    prof = np.repeat(b[None, :], grid.shape[0], axis=0)
    prof[:, i] = grid
    fi = optimal_win_probabilities(prof, delta)[:, i]
    assert (np.diff(fi) >= -1e-12).all()


def test_f_random_when_close_and_second_price_like_when_clear():
    """Slide "Designing f": equal bids -> 1/n each; a clear winner (others <= v_1/(1 + D))
    alone gets probability (n + D)/(n (1 + D)) = the guarantee."""
    delta, n = 0.4, 4
    assert np.allclose(optimal_win_probabilities(np.full(n, 0.7), delta), 1 / n)
    D = d_delta(delta)
    b = np.array([1.0, 0.99 / (1 + D), 0.5 / (1 + D), 0.1])
    f = optimal_win_probabilities(b, delta)
    assert f[0] == pytest.approx(optimal_guarantee(delta, n)) and np.all(f[1:] == 0)
    assert optimal_allocation(b, delta).n_star == 1


# --- payments -----------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.05, 2.0), min_size=2, max_size=5).map(np.array), delta_st, st.data())
def test_payment_integral_matches_dense_quadrature(b, delta, data):
    """The exact piecewise integral int_0^x f_i equals a 60k-point midpoint rule on f itself
    (f may jump where n* changes, so the rule's error is O(h) = O(5e-5))."""
    i = data.draw(st.integers(0, b.shape[0] - 1))
    xs = np.array([0.0, 0.5 * b[i], b[i], 3.0])
    exact = optimal_integrals(np.delete(b, i)[None, :], xs[None, :], delta)[0]
    for x, e in zip(xs, exact, strict=True):
        z = np.linspace(0.0, x, 60_001)
        prof = np.repeat(b[None, :], z.shape[0] - 1, axis=0)
        prof[:, i] = 0.5 * (z[1:] + z[:-1])
        ref = float(optimal_win_probabilities(prof, delta)[:, i] @ np.diff(z))
        assert e == pytest.approx(ref, abs=3e-4)


@pytest.mark.parametrize("mech", [SecondPrice(), OptimalApprox(0.3), OptimalApprox(0.8), RandomAssignment()])
def test_truthful_when_value_known_exactly(mech):
    """With exact knowledge (delta -> 0 in the model) the M_f payments make truthful bidding
    optimal in expectation (slide "Tool #2": monotone f => M_f is DST): no grid misreport
    beats bidding TV_i."""
    rng = np.random.default_rng(3)
    alts = np.linspace(0.0, 3.0, 301)
    for _ in range(15):
        n = int(rng.integers(2, 6))
        v = rng.uniform(0.1, 2.0, n)
        i = int(rng.integers(n))
        z = np.concatenate([alts, [v[i]]])
        u, c = mech.menu(i, z, Reports(v, v))  # u is quasi-linear: TV_i f_i - E[p_i]
        assert u[-1] >= u.max() - 1e-9 and u[-1] >= -1e-12
        f = (u + c) / v[i]
        assert (c <= z * f + 1e-12).all()  # a bid never pays more than itself in expectation


def test_optimal_realized_charges_average_to_expected_payment():
    """A winner pays expected payment / f_i, so the realized charge averages to Myerson's
    expected payment; winners are drawn with probabilities f (unassigned otherwise)."""
    rng = np.random.default_rng(7)
    mech = OptimalApprox(0.4)
    b = np.array([1.0, 0.8, 0.75])
    f = optimal_win_probabilities(b, 0.4)
    expected = np.array([optimal_expected_payment(i, b, 0.4)[0] for i in range(3)])
    for i in range(3):
        assert mech.payment_if_win(i, b, f) * f[i] == pytest.approx(expected[i])
        assert mech.payment_if_win(i, b, f) <= b[i]
    draws = 3000
    wins = np.zeros(4)
    for _ in range(draws):
        res = mech.run_round(Reports(b, b), rng)
        wins[np.flatnonzero(res.outcome)[0] if res.allocated else 3] += 1
        assert res.charges.sum() == pytest.approx((res.charges * res.outcome).sum())
    probs = np.concatenate([f, [1 - f.sum()]])
    assert np.allclose(wins / draws, probs, atol=4 * np.sqrt(0.25 / draws))


def test_second_price_round_by_hand():
    reports = Reports(np.array([0.3, 0.9, 0.5]), np.array([1.0, 2.0, 3.0]))
    res = SecondPrice().run_round(reports, np.random.default_rng(0))
    assert res.outcome.tolist() == [False, True, False]
    assert res.charges.tolist() == [0.0, 0.5, 0.0]
    assert res.utilities.tolist() == [0.0, 1.5, 0.0]  # quasi-linear with the true value: 2.0 - 0.5
    assert res.extras["welfare"] == 2.0
    assert res.extras["expected_welfare"] == 2.0 and res.extras["max_welfare"] == 3.0
    capped = SecondPrice(bid_cap=0.4).run_round(Reports(np.array([0.3, 0.9]), np.ones(2)), np.random.default_rng(0))
    assert capped.charges.max() <= 0.4


def test_second_price_menu_matches_rerunning():
    mech = SecondPrice()
    v = np.array([0.4, 0.7, 0.7, 0.2])
    alts = np.array([0.0, 0.3, 0.7, 0.71, 2.0])
    u, c = mech.menu(3, alts, Reports(v, v))
    for a, uu, cc in zip(alts, u, c, strict=True):
        b = v.copy()
        b[3] = a
        p = mech.win_probabilities(b)[3]
        assert cc == pytest.approx(p * 0.7) and uu == pytest.approx(p * v[3] - cc)


# --- worst case over plays with bids in K_i -----------------------------------------------------


def grid_worst_ratio(mech, delta: float, n: int, ratios: np.ndarray) -> float:
    """Brute force: x_1 = 1, x_j on `ratios`; every bid and every true value at the low end,
    centre or high end of K_i. Returns the minimum SW/MSW."""
    pos = np.array([-1.0, 0.0, 1.0])
    worst = np.inf
    for xs in product(ratios, repeat=n - 1):
        x = np.array([1.0, *xs])
        sb = np.array(list(product(pos, repeat=n)))
        bids = x * (1 + delta * sb)
        for st_ in product(pos, repeat=n):
            tv = np.broadcast_to(x * (1 + delta * np.array(st_)), bids.shape)
            worst = min(worst, float(welfare_ratio(mech, bids, tv).min()))
    return worst


@pytest.mark.parametrize("delta", [0.2, 0.5])
@pytest.mark.parametrize("n", [2, 3])
def test_grid_worst_case_never_below_guarantee(delta, n):
    ratios = np.exp(np.linspace(-1.6, 1.6, 9 if n == 2 else 6))
    for mech in [SecondPrice(), RandomAssignment(), OptimalApprox(delta)]:
        found = grid_worst_ratio(mech, delta, n, ratios)
        assert found >= mech.guarantee(delta, n) - TOL


@pytest.mark.parametrize("delta", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_optimal_mechanism_attains_its_guarantee(delta, n):
    """The hard instance of Lemma E.1's proof: the highest-value player (TV = (1 + delta) x)
    bids min K and sits exactly at the loser threshold v = S/(n* + D) behind the others, who
    bid max K with TV = min K: E[SW]/MSW equals the guarantee."""
    D = d_delta(delta)
    others_bid = np.full(n - 1, 1.0)  # (1 + delta) y with y = 1/(1 + delta)
    low_bid = others_bid.sum() / (n - 1 + D)
    x1 = low_bid / (1 - delta)
    bids = np.concatenate([[low_bid], others_bid])
    tv = np.concatenate([[(1 + delta) * x1], np.full(n - 1, (1 - delta) / (1 + delta))])
    assert tv[0] >= tv[1:].max() * (1 - 1e-12)  # equal for n = 2: both players have MSW
    ratio = welfare_ratio(OptimalApprox(delta), bids, tv)
    assert ratio == pytest.approx(optimal_guarantee(delta, n), rel=1e-12)


@pytest.mark.parametrize("delta", [0.2, 0.5])
def test_second_price_guarantee_approached(delta):
    """Thm 2 is tight: player 1 (TV = (1 + delta) x) bids (1 - delta) x, player 2 (TV =
    (1 - delta) y) bids (1 + delta) y just above: SW/MSW -> ((1 - delta)/(1 + delta))^2."""
    for eps in [1e-2, 1e-4, 1e-6]:
        y = (1 - delta) / (1 + delta) * (1 + eps)
        bids = np.array([1 - delta, (1 + delta) * y])
        tv = np.array([1 + delta, (1 - delta) * y])
        r = welfare_ratio(SecondPrice(), bids, tv)
        assert second_price_guarantee(delta, 2) <= r <= second_price_guarantee(delta, 2) * (1 + 2 * eps)


def test_random_assignment_guarantee_approached():
    for tiny in [1e-2, 1e-5]:
        tv = np.array([1.0, tiny, tiny])
        assert welfare_ratio(RandomAssignment(), tv, tv) == pytest.approx(1 / 3, abs=tiny)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_adversarial_search_finds_each_bound(n):
    delta = 0.4
    for mech in [SecondPrice(), RandomAssignment(), OptimalApprox(delta)]:
        found = worst_case_ratio(mech, delta, n, np.random.default_rng(n), samples=4000, refine_steps=150)
        bound = mech.guarantee(delta, n)
        assert bound - TOL <= found.ratio <= bound + 5e-3
        lo, hi = knowledge_interval(found.x, delta)
        assert np.all((found.bids >= lo - TOL) & (found.bids <= hi + TOL))
        assert np.all((found.true_values >= lo - TOL) & (found.true_values <= hi + TOL))
