"""Non-learning reference bidders (docs/architecture.md): fixed, greedy, random, truthful.

Each reports one scalar per agent and uses no feedback (bandit model, nothing learned);
they bracket the learners in the BwK comparisons of Braverman 2021 §2.3.3.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from agents.base import Feedback, Learner, LearnerParams, Observation
from agents.pacing import Truthful

__all__ = ["FixedBid", "GreedyUntilDepleted", "Truthful", "UniformRandom"]


class FixedBidParams(LearnerParams):
    """bid: the report submitted every round, whatever the value."""

    bid: float = Field(default=1.0, ge=0.0)


class FixedBid(Learner):
    """Report the same bid every round until the budget is gone. Bandit feedback, no
    guarantee: the "best fixed lambda in hindsight" comparator of Braverman 2021 eq. 1/15."""

    Params = FixedBidParams
    params: FixedBidParams

    def _act(self, obs: Observation) -> np.ndarray:
        return np.full(self.n_agents, self.params.bid)

    def _observe(self, feedback: Feedback) -> None:
        pass


class GreedyParams(LearnerParams):
    """multiplier: report value * multiplier (large: buy whenever anything is on offer)."""

    multiplier: float = Field(default=10.0, gt=0.0)


class GreedyUntilDepleted(Learner):
    """Spend as fast as the mechanism lets you: report value * multiplier every round
    until the budget is exhausted. Bandit feedback, no learning. In Braverman's toy
    example (§2.3.3) it is the "exhaust the budget in the first half" extreme (ratio 1/2
    when the second half pays 2)."""

    Params = GreedyParams
    params: GreedyParams

    def _act(self, obs: Observation) -> np.ndarray:
        return obs.values * self.params.multiplier

    def _observe(self, feedback: Feedback) -> None:
        pass


class UniformRandomParams(LearnerParams):
    """low/high: report value * U[low, high] each round."""

    low: float = Field(default=0.0, ge=0.0)
    high: float = Field(default=2.0, gt=0.0)

    @model_validator(mode="after")
    def _order(self) -> UniformRandomParams:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must be <= high ({self.high})")
        return self


class UniformRandom(Learner):
    """Report value * U[low, high], independently each round (the cohort's own rng).
    Bandit feedback, no learning: the no-information baseline."""

    Params = UniformRandomParams
    params: UniformRandomParams

    def _act(self, obs: Observation) -> np.ndarray:
        p = self.params
        return obs.values * self.rng.uniform(p.low, p.high, self.n_agents)

    def _observe(self, feedback: Feedback) -> None:
        pass
