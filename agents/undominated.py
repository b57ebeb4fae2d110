"""Reports restricted to an interval around the value: undominated bids (Chiesa, Micali, Zhu 2012).

Chiesa, Micali, Zhu 2012 (slide "Tool #2", Distinguishable Monotonicity Lemma): a player who
knows its value only as K_i = [(1 - delta) x_i, (1 + delta) x_i] never plays an
undominated bid outside K_i, and every guarantee of Theorems 2-4 holds for undominated
plays only. `BidRange` wraps any learner and clips its reports (and, for full-feedback
learners, the alternatives whose menus it learns from) to values x [low, high], the
interval the scenario declares (`ScenarioInstance.undominated`); the config option is
`undominated = true` on `[learner]` or a `[[population]]` group (docs/config.md).

The wrapped learner keeps learning over its own actions: where the mechanism submitted
exactly the clipped report, its feedback says its own (unclipped) report was played, so a
grid learner credits the action it chose with the utility of the bid that action now
stands for (action k bids clip(x grid[k])), instead of discarding the round as one whose
report was changed by the budget rule.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from agents.base import Feedback, Learner, LearnerParams, Observation, scaled_grid


class BidRangeParams(LearnerParams):
    """low/high: reports are clipped to values * [low, high]."""

    low: float = Field(ge=0.0)
    high: float = Field(gt=0.0)

    @model_validator(mode="after")
    def _order(self) -> BidRangeParams:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must be <= high ({self.high})")
        return self


class BidRange(Learner):
    """`inner`'s reports clipped to values * [low, high] (Chiesa, Micali, Zhu 2012: bids in K_i).

    Feedback model, alternatives (clipped the same way; a value-scaled grid stays one, with
    its multipliers clipped) and checkpoint state follow `inner`."""

    Params = BidRangeParams
    params: BidRangeParams

    def __init__(self, inner: Learner, low: float, high: float) -> None:
        super().__init__(inner.n_agents, inner.budgets, inner.horizon, inner.rng, BidRangeParams(low=low, high=high))
        self.inner = inner
        self.feedback = inner.feedback
        self.proposed = np.zeros(self.n_agents)
        self.submitted = np.zeros(self.n_agents)

    def _act(self, obs: Observation) -> np.ndarray:
        self.proposed = self.inner.act(obs)
        p = self.params
        restricted = np.clip(self.proposed, p.low * obs.values, p.high * obs.values)
        restricted[obs.budget <= 0] = 0.0  # what `Learner.act` submits for an agent without budget
        self.submitted = restricted
        return restricted

    def _observe(self, feedback: Feedback) -> None:
        # Rows the mechanism passed through unchanged were played as the inner learner chose.
        as_chosen = feedback.reports == self.submitted
        reports = np.where(as_chosen, self.proposed, feedback.reports)
        self.inner.observe(dataclasses.replace(feedback, reports=reports))

    def alternative_multipliers(self) -> np.ndarray | None:
        g = self.inner.alternative_multipliers()
        return None if g is None else np.clip(g, self.params.low, self.params.high)

    def alternatives(self, obs: Observation) -> np.ndarray | None:
        g = self.alternative_multipliers()
        if g is not None:
            return scaled_grid(obs.values, g)
        alts = self.inner.alternatives(obs)
        if alts is None:
            return None
        v = obs.values[:, None]
        return np.clip(alts, self.params.low * v, self.params.high * v)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update({f"inner.{k}": v for k, v in self.inner.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        inner = {k.removeprefix("inner."): state.pop(k) for k in list(state) if k.startswith("inner.")}
        self.inner.load_state_dict(inner)
        super().load_state_dict(state)


__all__ = ["BidRange", "BidRangeParams"]
