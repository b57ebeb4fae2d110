"""Problem 7's games (Braverman 2021 §2.3.3): closure decoding, eq. (24), the concave game's
closed-form optimum against HiGHS and by hand, and the mechanism's payoffs by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from mechanisms.base import Reports
from mechanisms.bwk.instances import hindsight_opt
from mechanisms.bwk.variants import BwKVariants, concave_envelope, concave_game_opt, cost_reward, decode_closure
from scenarios.bwk_toy import toy_schedule


def definition3_lp(u: np.ndarray, c: np.ndarray, budget: float) -> float:
    """max sum q_{t,i} u_{t,i} s.t. sum q c <= B, sum_i q_{t,i} <= 1, q >= 0 (HiGHS)."""
    t, k = u.shape
    res = linprog(-u.ravel(), A_ub=np.vstack([c.ravel(), np.kron(np.eye(t), np.ones(k))]),
                  b_ub=np.r_[budget, np.ones(t)], bounds=(0, None), method="highs")
    assert res.status == 0
    return -float(res.fun)


def test_decode_closure_by_hand():
    arm, p = decode_closure(np.array([0.0, 0.25, 1.0, 1.5, 3.0, -1.0, 9.0]), 4)
    assert arm.tolist() == [0, 1, 1, 2, 3, 0, 3]
    assert p == pytest.approx([0.0, 0.25, 1.0, 0.5, 1.0, 0.0, 1.0])


def test_eq24_is_not_concave_with_two_undominated_arms():
    """Arms (c, r) = (1, 1), (2, 1.5): R(1/2) = 1/2, R(1) = 1, R(4/3) = 1, R(2) = 1.5, R(3) = 1.5."""
    r, c = np.array([0.0, 1.0, 1.5]), np.array([0.0, 1.0, 2.0])
    got = cost_reward(r, c, np.array([0.5, 1.0, 4 / 3, 2.0, 3.0]))
    assert got == pytest.approx([0.5, 1.0, 1.0, 1.5, 1.5])
    assert got[2] < (got[1] + got[3]) / 2 - 0.2  # a convex kink: R(4/3) = 1 < the chord's 1.167
    hc, hr = concave_envelope(r, c)
    assert hc.tolist() == [0.0, 1.0, 2.0] and hr.tolist() == [0.0, 1.0, 1.5]


def test_envelope_keeps_a_free_arm_and_drops_dominated_ones():
    hc, hr = concave_envelope(np.array([0.3, 0.2, 0.9, 0.5]), np.array([0.0, 0.5, 1.0, 0.9]))
    assert hc.tolist() == [0.0, 1.0] and hr.tolist() == [0.3, 0.9]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("frac", [0.05, 0.3, 0.8, 2.0])
def test_concave_game_opt_equals_highs_and_hindsight(seed, frac):
    rng = np.random.default_rng(seed)
    t, k = 25, 1 + seed % 4
    u = rng.random((t, k)) * (rng.random((t, k)) < 0.8)
    c = rng.random((t, k)) * (rng.random((t, k)) < 0.8)
    want = definition3_lp(u, c, frac * t)
    assert concave_game_opt(u, c, frac * t) == pytest.approx(want, abs=1e-7)
    assert hindsight_opt(u, c, frac * t) == pytest.approx(want, abs=1e-7)


def test_concave_game_opt_on_the_toy_by_hand():
    """B = T/2: spend everything in the second half when it pays 2 (OPT = T), in the first when 0 (T/2)."""
    for r2, want in ((2.0, 100.0), (0.0, 50.0)):
        u, c = toy_schedule(100, r2)
        assert concave_game_opt(u, c, 50.0) == pytest.approx(want)


def _round(mech, bids, n=2):
    return mech.run_round(Reports(bids=np.asarray(bids, dtype=float), values=np.ones(n)), np.random.default_rng(0))


def test_closure_pays_p_times_the_arm():
    mech = BwKVariants([0.0, 0.6, 0.8], [0.0, 0.5, 0.9], game="closure", noise="none")
    res = _round(mech, [0.5, 1.75])  # arm 1 at p = 1/2; arm 2 at p = 3/4
    assert res.utilities == pytest.approx([0.3, 0.6]) and res.charges == pytest.approx([0.25, 0.675])
    played = Reports(bids=np.array([0.5, 1.75]), values=np.ones(2))
    u, c = mech.menu_all(np.array([[0.0, 0.5, 1.75], [1.0, 2.0, 1.5]]), played, np.array([0, 1]), state=res.state)
    assert u == pytest.approx(np.array([[0.0, 0.3, 0.6], [0.6, 0.8, 0.4]]))
    assert c == pytest.approx(np.array([[0.0, 0.25, 0.675], [0.5, 0.9, 0.45]]))


def test_concave_game_picks_argmax_lambda_r_minus_c_on_the_realized_menu():
    mech = BwKVariants([0.0, 0.3, 0.6, 0.8], [0.0, 0.1, 0.5, 0.9], game="concave", noise="none")
    # lambda = 1: scores 0, .2, .1, -.1 -> arm 1; lambda = 2: 0, .5, .7, .7 -> tie, the costlier arm 3;
    # lambda = 0.2: 0, -.04, -.38, -.74 -> null.
    res = _round(mech, [1.0, 2.0, 0.2], n=3)
    assert res.outcome.tolist() == [1, 3, 0]
    assert res.utilities == pytest.approx([0.3, 0.8, 0.0]) and res.charges == pytest.approx([0.1, 0.9, 0.0])


def test_bernoulli_draws_are_kept_for_the_hindsight_benchmark():
    mech = BwKVariants([0.0, 0.5], [0.0, 0.5], game="arm", noise="bernoulli")
    rng = np.random.default_rng(1)
    results = [mech.run_round(Reports(bids=np.array([1.0, 0.0]), values=np.ones(2)), rng) for _ in range(5)]
    r, c = mech.realized()
    assert r.shape == (2, 5, 2)
    assert [res.utilities[0] for res in results] == r[0, :, 1].tolist()
    assert [res.charges[0] for res in results] == c[0, :, 1].tolist()
    assert [res.charges[1] for res in results] == [0.0] * 5


def test_bad_game_is_refused():
    with pytest.raises(ValueError, match="game must be one of"):
        BwKVariants([0.0, 1.0], [0.0, 1.0], game="bandit")  # type: ignore[arg-type]
