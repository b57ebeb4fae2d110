"""`BidRange`: any learner's reports restricted to values * [low, high] (Chiesa, Micali, Zhu 2012:
undominated bids lie in K_i), with its learning intact and its state checkpointed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import LEARNERS, Feedback, Observation, make_learner
from agents.undominated import BidRange, BidRangeParams
from mechanisms.approx_valuations.auctions import SecondPrice


def test_reports_are_clipped_to_the_interval_around_the_value_and_zero_without_budget():
    inner = make_learner("fixed_bid", 4, np.full(4, 10.0), 5, np.random.default_rng(0), {"bid": 2.0})
    lr = BidRange(inner, 0.5, 1.5)
    values = np.array([1.0, 2.0, 4.0, 1.0])
    reports = lr.act(Observation(0, values, np.array([10.0, 10.0, 10.0, 0.0])))
    # fixed bid 2: above 1.5 * 1 (clipped to 1.5), inside [1, 3] (kept), below 0.5 * 4 (raised to 2)
    # — the same 2 — and 0 for the agent without budget.
    assert reports.tolist() == [1.5, 2.0, 2.0, 0.0]


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(sorted(LEARNERS)),
    st.lists(st.floats(0.01, 5.0), min_size=1, max_size=5),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.integers(0, 100),
)
def test_every_learner_reports_inside_the_interval(name, values, low, width, seed):
    v = np.asarray(values)
    m = v.shape[0]
    lo, hi = low, low + width + 1e-3
    lr = BidRange(make_learner(name, m, np.full(m, 50.0), 20, np.random.default_rng(seed)), lo, hi)
    mech = SecondPrice()
    rng = np.random.default_rng(seed)
    for t in range(6):
        obs = Observation(t, v, np.full(m, 50.0))
        r = lr.act(obs)
        assert np.all(r >= lo * v - 1e-12) and np.all(r <= hi * v + 1e-12)
        alts = lr.alternatives(obs)
        from mechanisms.base import Reports

        res = mech.run_round(Reports(r, v), rng)
        fb = Feedback(t, r, res.utilities, res.charges, np.full(m, 50.0))
        if alts is not None:
            assert np.all(alts >= lo * v[:, None] - 1e-12) and np.all(alts <= hi * v[:, None] + 1e-12)
            fb = fb.with_menu(alts, *mech.menu_all(alts, Reports(r, v)))
        lr.observe(fb)


def test_a_value_scaled_grid_stays_one_with_clipped_multipliers():
    inner = make_learner("hedge", 3, np.full(3, 10.0), 5, np.random.default_rng(0), {"grid_points": 5})
    lr = BidRange(inner, 0.6, 1.4)
    assert lr.feedback == "full"
    assert lr.alternative_multipliers().tolist() == [0.6, 0.6, 1.0, 1.4, 1.4]  # grid 0, .5, 1, 1.5, 2
    v = np.array([1.0, 2.0, 3.0])
    obs = Observation(0, v, np.full(3, 10.0))
    lr.act(obs)
    assert np.array_equal(lr.alternatives(obs), v[:, None] * np.array([0.6, 0.6, 1.0, 1.4, 1.4]))


def test_the_inner_learner_learns_from_rounds_whose_report_was_clipped():
    """Exp3 on a grid entirely below the interval: every report is clipped, yet each round
    updates its weights (without the substitution its `_active` check would skip them all)."""
    inner = make_learner("exp3", 2, np.full(2, 10.0), 50, np.random.default_rng(0), {"grid": [0.0, 0.1]})
    lr = BidRange(inner, 0.9, 1.1)
    before = inner.policy.state_dict()
    v = np.ones(2)
    r = lr.act(Observation(0, v, np.full(2, 10.0)))
    assert np.allclose(r, 0.9)
    lr.observe(Feedback(0, r, np.array([0.5, 0.5]), np.zeros(2), np.full(2, 10.0)))
    after = inner.policy.state_dict()
    assert any(not np.array_equal(before[k], after[k]) for k in before if isinstance(before[k], np.ndarray))


def test_a_report_changed_by_the_mechanism_is_passed_on_as_submitted():
    inner = make_learner("exp3", 2, np.full(2, 10.0), 50, np.random.default_rng(0), {"grid": [1.0]})
    lr = BidRange(inner, 0.5, 1.5)
    lr.act(Observation(0, np.ones(2), np.full(2, 10.0)))
    seen = []
    inner._observe = seen.append  # type: ignore[method-assign]
    lr.observe(Feedback(0, np.array([1.0, 0.0]), np.zeros(2), np.zeros(2), np.full(2, 10.0)))
    assert seen[0].reports.tolist() == [1.0, 0.0]  # agent 1's report was zeroed: not "as chosen"


def test_checkpoint_round_trip_restores_the_inner_learner():
    def build(seed):
        return BidRange(make_learner("exp3", 3, np.full(3, 30.0), 40, np.random.default_rng(seed)), 0.8, 1.2)

    mech = SecondPrice()
    from mechanisms.base import Reports

    def play(lr, t0, rounds, rng):
        out = []
        for t in range(t0, t0 + rounds):
            v = np.array([0.5, 1.0, 1.5])
            r = lr.act(Observation(t, v, np.full(3, 30.0)))
            res = mech.run_round(Reports(r, v), rng)
            lr.observe(Feedback(t, r, res.utilities, res.charges, np.full(3, 30.0)))
            out.append(r)
        return np.array(out)

    a = build(1)
    play(a, 0, 15, np.random.default_rng(2))
    b = build(99)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(play(a, 15, 15, np.random.default_rng(3)), play(b, 15, 15, np.random.default_rng(3)))


def test_bad_interval_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="low"):
        BidRangeParams(low=1.2, high=1.0)
