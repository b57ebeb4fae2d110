"""Pacing bidders: value scaling with a learned multiplier.

Adaptive pacing (Balseiro & Gur, Management Science 2019; SPEC.md §H) and the value
-scaling strategies phi^beta(v) = v / beta of Onyeze et al. 2025 §3.2-3.3 are one family: report
v / beta with beta fixed (`ValueScaling`, `Truthful`) or learned from the gap between the
target spend rate and this round's spend (`AdaptivePacing`: beta = 1 + mu, additive
dual subgradient on mu; `agents.bwk.BangPerBuck`: beta = r, the exchange rate of seed
002 §2.1.1, subgradient step on log r). `spend_gradient` is their common signal.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from agents.base import Feedback, Learner, LearnerParams, Observation


def spend_gradient(feedback: Feedback, horizon: int) -> np.ndarray:
    """(rho_t - spend_t) / rho_t per agent: the dual subgradient of the budget constraint,
    normalized by the target rate rho_t = remaining budget / remaining rounds (the adaptive
    form of rho = B/T, which avoids depleting early on noise; dividing by rho_t lets one
    step size serve every budget scale). 0 where the agent has no budget left."""
    rounds_left = max(horizon - feedback.t, 1)
    budget_before = feedback.budget + feedback.charge
    # (rho - spend) / rho = 1 - spend * rounds_left / budget_before, in place: this runs
    # for every agent every round.
    grad = np.multiply(feedback.charge, -float(rounds_left))
    np.divide(grad, budget_before, out=grad, where=budget_before > 0)
    grad += 1.0
    grad[budget_before <= 0] = 0.0
    return grad


class ScalingLearner(Learner):
    """Report values / beta (Onyeze et al. 2025 §3.2 value scaling); subclasses say what beta is."""

    @property
    def beta(self) -> np.ndarray:
        raise NotImplementedError

    def _act(self, obs: Observation) -> np.ndarray:
        return obs.values / self.beta

    def _observe(self, feedback: Feedback) -> None:
        pass


class PacingParams(LearnerParams):
    """step_size: eps in mu <- mu - eps * (rho_t - spend_t) / rho_t (None: 1/sqrt(T)).
    mu_min/mu_max: the projection interval (mu_min < 0 lets beta < 1, i.e. overbidding,
    which Onyeze et al. allows: beta in R_+). mu0: initial multiplier."""

    step_size: float | None = Field(default=None, gt=0)
    mu0: float = 0.0
    mu_min: float = Field(default=0.0, gt=-1.0)
    mu_max: float = Field(default=10.0, ge=0.0)


class AdaptivePacing(ScalingLearner):
    """Adaptive pacing (Balseiro–Gur 2019): bid v / (1 + mu_t), then
    mu_{t+1} = Proj_[mu_min, mu_max](mu_t - eps (rho_t - spend_t) / rho_t).

    Feedback: bandit (own charge only). Target: spend tracks the budget evenly — rho_t is
    the remaining budget over the remaining rounds (`spend_gradient`). Guarantee
    (Balseiro–Gur Thm 3.3): O(T^{-1/2}) average regret against the best fixed multiplier
    in stationary stochastic environments, and convergence to the pacing equilibrium of
    Onyeze et al. 2025 Theorem 3.6 under M_prop.
    """

    Params = PacingParams
    params: PacingParams

    def __init__(
        self,
        n_agents: int,
        budgets: np.ndarray,
        horizon: int,
        rng: np.random.Generator,
        params: LearnerParams | None = None,
    ) -> None:
        super().__init__(n_agents, budgets, horizon, rng, params)
        p = self.params
        if p.mu_min > p.mu_max:
            raise ValueError(f"mu_min ({p.mu_min}) must be <= mu_max ({p.mu_max})")
        self.step_size = p.step_size if p.step_size is not None else 1.0 / np.sqrt(horizon)
        self.mu = np.full(self.n_agents, np.clip(p.mu0, p.mu_min, p.mu_max))

    @property
    def beta(self) -> np.ndarray:
        """The value-scaling factor beta = 1 + mu (Onyeze et al. 2025 §3.2)."""
        return 1.0 + self.mu

    def _observe(self, feedback: Feedback) -> None:
        p = self.params
        self.mu = np.clip(self.mu - self.step_size * spend_gradient(feedback, self.horizon), p.mu_min, p.mu_max)


class ValueScalingParams(LearnerParams):
    """beta: the fixed value-scaling factor (report V / beta)."""

    beta: float = Field(default=1.0, gt=0)


class ValueScaling(ScalingLearner):
    """Fixed value scaling phi^beta(v) = v / beta (Onyeze et al. 2025 §3.2). Bandit feedback; no
    learning: the strategy class in which Theorem 3.5's equilibria live."""

    Params = ValueScalingParams
    params: ValueScalingParams

    @property
    def beta(self) -> np.ndarray:
        return np.full(self.n_agents, self.params.beta)


class Truthful(ScalingLearner):
    """Report the true value every round (beta = 1). Bandit feedback; the IC benchmark."""

    @property
    def beta(self) -> np.ndarray:
        return np.ones(self.n_agents)
