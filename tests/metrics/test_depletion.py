"""Budget depletion statistics against a replay through the project's Ledger and by hand."""

from __future__ import annotations

import numpy as np
import pytest

from abm.ledger import Ledger
from abm.metrics.depletion import budget_depletion, depletion_round


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
