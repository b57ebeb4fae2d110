"""Budget depletion statistics against a replay through the project's Ledger and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.ledger import Ledger
from abm.metrics.depletion import budget_depletion, depletion_round, depletion_summary


def test_against_ledger_replay() -> None:
    """The Ledger's own depletion rule (remaining < p_max) on the same charges."""
    rng = np.random.default_rng(0)
    t, n = 60, 6
    budget = np.array([5.0, 10.0, 30.0, 0.5, 12.0, 20.0])
    charges = np.zeros((t, n))
    ledger = Ledger(budget, p_max=1.0)
    for s in range(t):
        want = rng.random(n) * 0.9
        # Algorithm 1 of Onyeze et al.: no charge once the remaining budget is below p_max.
        charges[s] = np.where(ledger.can_pay(), want, 0.0)
        ledger.charge(charges[s], s)
    res = budget_depletion(charges, budget, p_max=1.0)
    assert res.depletion_round.tolist() == ledger.depleted_at.tolist()
    assert res.remaining[-1] == pytest.approx(ledger.remaining)
    assert res.unused_fraction == pytest.approx(ledger.remaining / budget)


def test_hand_example() -> None:
    """B = (4, 4), T = 4; agent 0 spends 2 per round (out after round 1, 0-based), agent 1
    spends 1 per round (even pace). Spend-rate error |S_t / t - B / T| with B/T = 1:
    agent 0: S = 2, 4, 4, 4 -> |2-1|, |2-1|, |4/3-1|, |1-1| = 1, 1, 1/3, 0; agent 1: all 0."""
    charges = np.array([[2.0, 1.0], [2.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    res = budget_depletion(charges, np.array([4.0, 4.0]), p_max=1.0)
    assert res.depletion_round.tolist() == [1, 3]
    assert res.unused_fraction == pytest.approx([0.0, 0.0])
    assert res.rate_error[:, 0] == pytest.approx([1.0, 1.0, 1 / 3, 0.0])
    assert res.rate_error[:, 1] == pytest.approx([0.0] * 4)
    assert res.spend_rate_error_mean == pytest.approx([(2 + 1 / 3) / 4, 0.0])
    assert res.spend_rate_error_max == pytest.approx([1.0, 0.0])
    assert res.remaining[:, 0] == pytest.approx([2.0, 0.0, 0.0, 0.0])


def test_never_depleted_and_starting_empty() -> None:
    remaining = np.array([[3.0, 0.5], [2.5, 0.5]])
    assert depletion_round(remaining, np.array([3.5, 0.5]), p_max=1.0).tolist() == [-1, 0]


def test_bad_charges() -> None:
    with pytest.raises(ValueError, match="charges must be"):
        budget_depletion(np.zeros((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match=">= 0"):
        budget_depletion(-np.ones((3, 2)), np.ones(2))


def test_infinite_p_max_depletes_at_empty_budget() -> None:
    """APEX-style (p_max = inf): depleted once (numerically) nothing is left. Hand example
    above: agent 0 is empty after round 1, agent 1 after round 3."""
    charges = np.array([[2.0, 1.0], [2.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    assert budget_depletion(charges, np.array([4.0, 4.0])).depletion_round.tolist() == [1, 3]
    assert budget_depletion(charges, np.array([4.0, 5.0])).depletion_round.tolist() == [1, -1]


@settings(max_examples=60, deadline=None)
@given(
    t=st.integers(1, 40),
    m=st.integers(1, 4),
    block=st.integers(1, 12),
    p_max=st.sampled_from([1.0, 0.3, np.inf]),
    seed=st.integers(0, 10_000),
)
def test_streamed_summary_equals_the_whole_array_statistics(t, m, block, p_max, seed):
    """`depletion_summary` in blocks of rounds gives `budget_depletion`'s statistics."""
    rng = np.random.default_rng(seed)
    budget = rng.uniform(0.0, 0.5 * t, m)
    charges = np.where(rng.random((t, m)) < 0.5, rng.uniform(0, 1.2, (t, m)), 0.0)
    charges = np.minimum(charges, np.maximum(budget - np.vstack([np.zeros(m), np.cumsum(charges, 0)[:-1]]), 0.0))
    whole = budget_depletion(charges, budget, p_max)
    part = depletion_summary(charges, budget, p_max, block=block)
    assert part.depletion_round.tolist() == whole.depletion_round.tolist()
    np.testing.assert_allclose(part.unused_fraction, whole.unused_fraction, rtol=1e-12, atol=1e-12)
    for name in ("spend_rate_error_final", "spend_rate_error_mean", "spend_rate_error_max"):
        np.testing.assert_allclose(getattr(part, name), getattr(whole, name), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(part.round_mean, whole.rate_error.mean(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(part.round_max, whole.rate_error.max(axis=1), rtol=1e-12, atol=1e-12)
