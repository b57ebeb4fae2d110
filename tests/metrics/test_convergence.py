"""Convergence series: prefix strong regret (epsilon(t)), rolling std, X-bar drift."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.metrics.convergence import (
    bid_drift,
    drift_summary,
    geometric_horizons,
    outcome_distance,
    rolling_std,
    strong_regret_curve,
)
from abm.metrics.strong_regret import strong_regret


def test_rolling_std_matches_pandas() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 2.0, size=(300, 3)) + np.linspace(0, 50, 300)[:, None]
    got = rolling_std(x, 25)
    ref = pd.DataFrame(x).rolling(25, min_periods=1).std(ddof=0).to_numpy()
    assert got == pytest.approx(ref, abs=1e-9)


def test_bid_drift_of_constant_bids_is_zero_and_of_alternation_is_half_gap() -> None:
    reports = np.column_stack([np.full(40, 0.3), np.tile([1.5, 4.0], 20)])
    drift = bid_drift(reports, window=10)
    assert drift.per_agent[:, 0] == pytest.approx(np.zeros(40))
    # Alternating 1.5 / 4: population std over an even window is (4 - 1.5) / 2.
    assert drift.final[1] == pytest.approx(1.25)
    assert drift.average[-1] == pytest.approx(0.625)


def test_outcome_distance_by_hand() -> None:
    """Outcomes e_A, e_B, e_A, e_B: running averages (1,0), (1/2,1/2), (2/3,1/3), (1/2,1/2);
    L1 distances to the final average: 1, 0, 1/3, 0."""
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert outcome_distance(x) == pytest.approx([1.0, 0.0, 1 / 3, 0.0])


def test_geometric_horizons() -> None:
    hs = geometric_horizons(2000, 40)
    assert hs[0] == 10 and hs[-1] == 2000
    assert (np.diff(hs) > 0).all()
    assert geometric_horizons(3).tolist() == [3]
    with pytest.raises(ValueError, match="rounds"):
        geometric_horizons(0)


def test_curve_equals_strong_regret_of_each_prefix() -> None:
    rng = np.random.default_rng(1)
    t, m, k = 50, 3, 6
    u, c = rng.random((t, m, k)), rng.random((t, m, k))
    played = rng.integers(0, k, size=(t, m))
    got_u = np.take_along_axis(u, played[:, :, None], axis=2)[:, :, 0]
    got_c = np.take_along_axis(c, played[:, :, None], axis=2)[:, :, 0]
    budget = got_c.sum(axis=0) * 1.1
    hs = np.array([1, 7, 20, 50])
    curve = strong_regret_curve(u, c, got_u, got_c, budget, hs, payoff_bound=2.0)
    for g, h in enumerate(hs):
        b = np.maximum(budget * h / t, got_c[:h].sum(axis=0))
        ref = strong_regret(u[:h], c[:h], b, got_u[:h])
        assert curve.regret[g] == pytest.approx(ref.regret, abs=1e-9)
        assert curve.epsilon[g] == pytest.approx(ref.regret.max() / h / 2.0)
    assert (curve.regret >= -1e-9).all()  # the played prefix is always feasible


def test_hz_curve_evaluates_running_averages() -> None:
    """Two agents, two items, both prefer item 0 (Braverman 2021 §3.2.3's utilities). Rounds
    alternate the two permutations with prices (1, 0): X-bar_2 = [[.5, .5], [.5, .5]], every
    agent spends 0.5 of a budget of 1 per round; at t = 1 agent 0 holds item 0 (spend 1)."""
    hz = pytest.importorskip("mechanisms.assignment.hz")
    from abm.metrics.convergence import hz_residual_curve

    u = np.array([[1.0, 0.0], [1.0, 0.0]])
    eye, swap = np.eye(2), np.eye(2)[::-1]
    outcomes = np.stack([eye, swap, eye, swap])
    prices = np.tile([1.0, 0.0], (4, 1))
    curve = hz_residual_curve(u, outcomes, prices, 1.0, np.array([1, 2, 4]))
    for g, h in enumerate([1, 2, 4]):
        ref = hz.hz_residuals(u, outcomes[:h].mean(axis=0), prices[:h].mean(axis=0), 1.0)
        assert curve["best_response_gain"][g] == pytest.approx(ref.best_response_gain)
        assert curve["budget_violation"][g] == pytest.approx(ref.budget_violation)
    # Half of item 0 each at price 1: agent 1 could afford all of item 0 with its budget of 1.
    assert curve["best_response_gain"][1] == pytest.approx(0.5)
    assert curve["clearing_error"] == pytest.approx([0.0, 0.0, 0.0])


@settings(max_examples=50, deadline=None)
@given(t=st.integers(1, 60), m=st.integers(1, 3), block=st.integers(1, 17), window=st.integers(1, 30),
       seed=st.integers(0, 1000))
def test_drift_in_blocks_equals_the_whole_series(t, m, block, window, seed):
    reports = np.random.default_rng(seed).random((t, m)) * 3
    whole = bid_drift(reports, window)
    part = drift_summary(reports, window, block=block)
    ref = pd.DataFrame(reports).rolling(window, min_periods=1).std(ddof=0).to_numpy()  # independent oracle
    # sqrt of a variance from running sums: a round-off of 1e-16 shows as 1e-8 near zero.
    np.testing.assert_allclose(part.mean, ref.mean(axis=1), rtol=1e-7, atol=1e-7)
    # Against the whole-series sums, up to their cancellation error (sqrt of ~1e-16 x T).
    np.testing.assert_allclose(part.mean, whole.mean, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(part.average, whole.average, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(part.final, whole.final, rtol=1e-7, atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(t=st.integers(1, 50), size=st.integers(1, 4), cut=st.lists(st.integers(1, 50), max_size=5),
       seed=st.integers(0, 99))
def test_outcome_distance_in_blocks_equals_the_whole_series(t, size, cut, seed):
    from abm.metrics.convergence import outcome_distance_blocks

    x = np.random.default_rng(seed).random((t, size))
    edges = sorted({0, t, *(c for c in cut if c < t)})
    blocks = [x[a:b] for a, b in pairwise(edges)]
    final = np.cumsum(x, axis=0)[-1] / t
    np.testing.assert_allclose(outcome_distance_blocks(blocks, final), outcome_distance(x), rtol=1e-12, atol=1e-12)
