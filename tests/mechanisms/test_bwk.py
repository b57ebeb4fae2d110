"""BwK mechanism (Braverman 2021 §2.3.3) and its benchmarks: LP over means, hindsight optimum."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from mechanisms.base import Reports
from mechanisms.bwk.instances import BanditsWithKnapsacks, hindsight_opt, lp_opt

R = np.array([0.0, 0.3, 0.6, 0.8, 0.35])
C = np.array([0.0, 0.1, 0.5, 0.9, 0.4])


def test_lp_opt_matches_hand_computed_hull_mix():
    """B/T = 1/4 lies between the hull arms (0.3, 0.1) and (0.6, 0.5): x = (0.25-0.1)/0.4 =
    0.375 on the second, so OPT/T = 0.625*0.3 + 0.375*0.6 = 0.4125."""
    assert lp_opt(R, C, 5000, 20000) == pytest.approx(0.4125 * 20000)
    # Budget not binding: the best arm every round.
    assert lp_opt(R, C, 20000, 20000) == pytest.approx(0.8 * 20000)


def test_hindsight_opt_of_the_toy_instance():
    """Braverman 2021 §2.3.3: B = T/2, reward 1 then 2 (OPT = T: all budget in the second half)
    or 1 then 0 (OPT = T/2)."""
    T = 1000
    costs = np.zeros((T, 2))
    costs[:, 1] = 1
    for r2, opt in ((2.0, T), (0.0, T / 2)):
        rewards = np.zeros((T, 2))
        rewards[: T // 2, 1] = 1
        rewards[T // 2 :, 1] = r2
        assert hindsight_opt(rewards, costs, T / 2) == pytest.approx(opt)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 4), st.integers(3, 30), st.floats(0.0, 1.0))
def test_hindsight_opt_equals_the_primal_lp(seed, k, T, frac):
    """The dual formula (SPEC.md §C) equals the primal LP over per-round mixed actions."""
    rng = np.random.default_rng(seed)
    u = rng.random((T, k)) * (rng.random((T, k)) < 0.8)
    c = rng.random((T, k)) * (rng.random((T, k)) < 0.8)
    B = frac * c.sum(axis=1).max() * T / 2
    res = linprog(
        -u.ravel(),
        A_ub=np.vstack([c.ravel(), np.kron(np.eye(T), np.ones(k))]),
        b_ub=np.concatenate([[B], np.ones(T)]),
        bounds=(0, None),
        method="highs",
    )
    assert hindsight_opt(u, c, B) == pytest.approx(-res.fun, rel=1e-7, abs=1e-9)


def test_bid_mode_pulls_argmax_lambda_r_minus_c_with_ties_to_the_costlier_arm():
    mech = BanditsWithKnapsacks(R, C, mode="bid", noise="none")
    # Breakpoints: null->arm1 at lambda = 1/3, arm1->arm2 at 0.4/0.3 = 4/3, arm2->arm3 at 0.4/0.2 = 2.
    bids = np.array([0.0, 0.3, 1 / 3, 1.0, 4 / 3, 1.9, 2.0, 50.0])
    assert mech.arms(bids, 0).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_arm_mode_realizes_bernoulli_draws_and_menus_match_the_round():
    mech = BanditsWithKnapsacks(R, C, mode="arm")
    rng = np.random.default_rng(0)
    n = 20_000
    bids = np.full(n, 2.0)
    res = mech.run_round(Reports(bids, np.ones(n)), rng)
    assert res.utilities.mean() == pytest.approx(0.6, abs=0.02)
    assert res.charges.mean() == pytest.approx(0.5, abs=0.02)
    alts = np.tile(np.arange(5.0), (3, 1))
    u, c = mech.menu_all(alts, Reports(bids, np.ones(n)), np.array([0, 1, 2]))
    # The played column of the menu is what the round paid.
    assert np.array_equal(u[:, 2], res.utilities[:3]) and np.array_equal(c[:, 2], res.charges[:3])
    assert np.all(u[:, 0] == 0) and np.all(c[:, 0] == 0)  # null arm


def test_schedule_means_follow_the_round_counter():
    rewards = np.array([[0.0, 1.0], [0.0, 2.0]])
    mech = BanditsWithKnapsacks(rewards, [0.0, 1.0], mode="bid", noise="none")
    rng = np.random.default_rng(0)
    r0 = mech.run_round(Reports(np.array([0.6]), np.ones(1)), rng)  # 0.6 * 1 < 1: null arm
    r1 = mech.run_round(Reports(np.array([0.6]), np.ones(1)), rng)  # 0.6 * 2 >= 1: pull
    assert (r0.utilities[0], r1.utilities[0], r1.charges[0]) == (0.0, 2.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"reward_means": [0.0, 1.5], "cost_means": [0.0, 1.0]}, "reward_means"),
        ({"reward_means": [0.0, 0.5], "cost_means": [0.0, -1.0]}, "cost_means"),
        ({"reward_means": [0.0, 0.5], "cost_means": [0.0, 1.0, 0.2]}, "arms"),
        ({"reward_means": [0.0, 0.5], "cost_means": [0.0, 1.0], "mode": "auction"}, "mode"),
    ],
)
def test_bad_instances_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        BanditsWithKnapsacks(**kwargs)
