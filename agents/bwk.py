"""Budgeted learners for the bandits-with-knapsacks problem every APEX player faces.

Braverman 2021 §2.1 ("Suggested algorithm for Player i: run a Bandit with Knapsacks online
algorithm with initial budget B_i to determine the lambda_{i,t}") and §2.3.3 (BwK: no
o(T) regret in general, up to a multiplicative log T [ISSS19]).

- `LagrangeBwK` (Immorlica, Sankararaman, Schapire & Slivkins, FOCS 2019 / JACM 2022):
  a repeated zero-sum Lagrangian game between a primal learner over the report grid and
  a dual learner over the budget multiplier.
- `BangPerBuck` (Braverman 2021 §2.1.1, Claim 2, eq. 15): learn the exchange rate r (tokens
  per unit of utility) so spending tracks the budget, and bid lambda = 1 / r.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from agents.base import Feedback, LearnerParams, Observation
from agents.experts import BASE_POLICIES, Factory, GridLearner, GridParams, GridPolicy, policy_factory
from agents.pacing import ScalingLearner, spend_gradient
from agents.swap import swap_factory


class DualParams(GridParams):
    """base: the primal learner over the grid ("exp3": bandit, as in ISSS; "hedge": full
    information; "blum_mansour_hedge" / "blum_mansour_exp3": swap-regret primal).
    dual: "hedge" — Hedge over {budget, dummy time resource}, the ISSS dual, so the
    multiplier is lambda in [0, 1] on the normalized constraint 1 - c/rho; "gradient" —
    projected online gradient descent on lambda in [0, 1]. dual_eta: the dual step
    (None: sqrt(8 ln 2 / T) for hedge, 1/sqrt(T) for gradient). reward_max / cost_max:
    per-round bounds of utility and charge, to normalize the Lagrangian into [0, 1]."""

    base: str = "exp3"
    dual: Literal["hedge", "gradient"] = "hedge"
    dual_eta: float | None = Field(default=None, gt=0.0)
    reward_max: float = Field(default=1.0, gt=0.0)
    cost_max: float = Field(default=1.0, gt=0.0)

    @field_validator("base")
    @classmethod
    def _known_base(cls, v: str) -> str:
        names = {*BASE_POLICIES, *(f"blum_mansour_{b}" for b in BASE_POLICIES)}
        if v not in names:
            raise ValueError(f"unknown primal learner {v!r}; available: {', '.join(sorted(names))}")
        return v


def primal_factory(base: str, eta: float | None = None) -> Factory:
    """The primal `Factory` named by `DualParams.base`."""
    if base.startswith("blum_mansour_"):
        return swap_factory(policy_factory(base.removeprefix("blum_mansour_"), eta=eta))
    return policy_factory(base, eta=eta)


class LagrangeBwK(GridLearner):
    """LagrangeBwK (Immorlica–Sankararaman–Schapire–Slivkins 2019, Alg. 1) over the report grid.

    Each round the primal learner picks a grid report a_t and the dual holds a
    multiplier lambda_t in [0, 1]; the payoff of the Lagrangian game is
        L_t(a, lambda) = u_t(a) + lambda (1 - c_t(a) / rho),   rho = B / T,
    the primal maximizes it (its gains are L_t normalized into [0, 1] with reward_max and
    cost_max), the dual minimizes it: with dual "hedge", lambda_t = sigmoid(eta_d
    sum_s (c_s - rho) / cost_max), i.e. Hedge on the resource and the dummy "time"
    resource of ISSS. The price of one token is lambda T / B in units of utility.

    Feedback: that of the primal (bandit for Exp3; the dual only needs the own charge).
    Guarantee targeted (ISSS, d = 1): stochastic BwK — reward >= LP-OPT - O((T/B) R(T)), R(T)
    the primal plus dual regret, O(sqrt(T K log K)) here; adversarial BwK — an O(log T)
    competitive ratio, which Braverman 2021 §2.3.3 cites as unavoidable up to constants.
    Python callers may pass any `primal` factory (e.g. `Exp3.factory()`).

    Several currencies (budgets (m, d); Braverman 2021 §2.3, Problem 13; ISSS §3, d
    resources): one multiplier lambda_j per currency, rho_j = B_j / T, and
        L_t(a, lambda) = u_t(a) + sum_j lambda_j (1 - c_tj(a) / rho_j);
    dual "hedge" is Hedge over the d resources plus the dummy time resource (whose
    constraint is never violated, so its score stays 0):
        lambda_j = exp(eta_d s_j) / (1 + sum_k exp(eta_d s_k)),  s_j = sum_s (c_sj - rho_j) / cost_max,
    which is the sigmoid above for d = 1; "gradient" steps each lambda_j in [0, 1]. The primal
    must be a bandit learner then (a menu's cost is one number per report, not per currency).
    """

    Params = DualParams
    params: DualParams
    feedback = "bandit"  # with the default Exp3 primal; per instance it follows the primal
    multi_currency = True

    def __init__(
        self,
        n_agents: int,
        budgets: np.ndarray,
        horizon: int,
        rng: np.random.Generator,
        params: LearnerParams | None = None,
        *,
        primal: Factory | None = None,
    ) -> None:
        self._primal = primal
        super().__init__(n_agents, budgets, horizon, rng, params)
        p = self.params
        self.rho = self.budgets / self.horizon
        self.dual_eta = p.dual_eta if p.dual_eta is not None else (
            np.sqrt(8.0 * np.log(2.0) / horizon) if p.dual == "hedge" else 1.0 / np.sqrt(horizon)
        )
        if self.budgets.ndim == 2 and self.feedback == "full":
            raise ValueError(
                f"base: {p.base!r} needs full-information menus, whose cost is one number per report; "
                f"with {self.budgets.shape[1]} currencies use a bandit primal (exp3)"
            )
        self.dual_score = np.zeros(self.budgets.shape)
        self.lam = self._lambda()

    def make_policy(self) -> GridPolicy:
        base = self._primal or primal_factory(self.params.base, self.params.eta)
        return base(self.n_agents, self.n_actions, self.horizon, self.rng)

    def _lambda(self) -> np.ndarray:
        if self.params.dual == "hedge":
            if self.dual_score.ndim == 1:
                return 1.0 / (1.0 + np.exp(-self.dual_eta * self.dual_score))
            # Hedge over d resources and the dummy (score 0), shifted by the largest score.
            z = self.dual_eta * self.dual_score
            top = np.maximum(z.max(axis=1, keepdims=True), 0.0)
            w = np.exp(z - top)
            return w / (np.exp(-top) + w.sum(axis=1, keepdims=True))
        return np.clip(self.dual_score, 0.0, 1.0)

    def _act(self, obs: Observation) -> np.ndarray:
        if obs.budget.ndim == 2:  # several currencies: a grid report while any budget is left
            obs = Observation(obs.t, obs.values, obs.budget.sum(axis=1))
        return super()._act(obs)

    def _active(self, fb: Feedback) -> np.ndarray:
        if fb.budget.ndim == 2:
            total = fb.budget.sum(axis=1) + fb.charge.sum(axis=1)
            fb = Feedback(fb.t, fb.reports, fb.utility, total, np.zeros_like(total))
        return super()._active(fb)

    def _gain(self, utility: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """The Lagrangian L(a, lambda_t), affinely mapped onto [0, 1] per agent; inputs (m,)
        or (K, m) (agents last)."""
        p = self.params
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_rho = np.where(self.rho > 0, 1.0 / self.rho, 0.0)
        if self.rho.ndim == 2:
            return self._gain_currencies(utility, cost, inv_rho)
        lagrangian = utility + self.lam * (1.0 - cost * inv_rho)
        lo = -np.maximum(p.cost_max * inv_rho - 1.0, 0.0)  # lambda = 1, the costliest pull, no reward
        hi = p.reward_max + 1.0
        return np.clip((lagrangian - lo) / (hi - lo), 0.0, 1.0)

    def _gain_currencies(self, utility: np.ndarray, cost: np.ndarray, inv_rho: np.ndarray) -> np.ndarray:
        """`_gain` with d currencies: utility (m,), cost (m, d) (bandit feedback)."""
        p = self.params
        lagrangian = utility + (self.lam * (1.0 - cost * inv_rho)).sum(axis=1)
        worst = np.maximum(p.cost_max * inv_rho - 1.0, 0.0)
        # The lowest Lagrangian: Hedge's lambda lies in the simplex (all weight on the worst
        # currency), the gradient dual's in [0, 1]^d (every currency at 1).
        lo = -(worst.max(axis=1) if p.dual == "hedge" else worst.sum(axis=1))
        hi = p.reward_max + 1.0
        return np.clip((lagrangian - lo) / (hi - lo), 0.0, 1.0)

    def _observe(self, fb: Feedback) -> None:
        super()._observe(fb)
        # Dual step on the realized charge (the dual is full-information: it only needs c_t(a_t)).
        active = self._active(fb)
        active = (active if self.rho.ndim == 1 else active[:, None]) & (self.rho > 0)
        step = (fb.charge - self.rho) / self.params.cost_max
        if self.params.dual == "hedge":
            self.dual_score = self.dual_score + active * step
        else:
            self.dual_score = np.clip(self.dual_score + active * self.dual_eta * step, 0.0, 1.0)
        self.lam = self._lambda()


class BangPerBuckParams(LearnerParams):
    """step_size: eta in log r <- log r - eta (rho_t - spend_t) / rho_t (None: 1/sqrt(T)).
    r0: initial exchange rate (tokens per unit of utility); r_min / r_max: its range."""

    step_size: float | None = Field(default=None, gt=0.0)
    r0: float = Field(default=1.0, gt=0.0)
    r_min: float = Field(default=1e-3, gt=0.0)
    r_max: float = Field(default=1e3, gt=0.0)


class BangPerBuck(ScalingLearner):
    """Braverman's bang-per-buck heuristic (§2.1.1, Claim 2, eq. 15): bid lambda = v / r.

    r is the exchange rate the player is willing to pay in tokens per unit of utility.
    Claim 2: with u_t(lambda), C_t(lambda) non-decreasing (local optimality of H), the
    constant bid lambda_max = 1 / r_min with sum_t C_t(lambda_max) = B matches the best
    distribution over bid sequences (eq. 15). r_min is the minimizer of the dual
    r B + sum_t max_lambda (u_t(lambda) - r C_t(lambda)) (SPEC.md §C), so r is learned by
    dual subgradient steps — taken on log r, since exchange rates are scale-free:
        log r_{t+1} = Proj(log r_t - eta (rho_t - spend_t) / rho_t).
    Spending above the target rate rho_t raises r (bids shrink). Same signal as
    `AdaptivePacing` (`spend_gradient`), different parametrization (beta = r, not 1 + mu).

    Feedback: bandit (own charge only). Guarantee: none in general (§2.3.3: the optimal
    bang-per-buck may drift); in stationary stochastic environments the iterate tracks
    r_min, so the utility approaches eq. 15's benchmark up to the subgradient error.

    d currencies (budgets (m, d), Braverman 2021 §2.3 Problem 13): one exchange rate r_j per
    currency, each stepped on its own currency's spend; the Lagrangian bid of a round paid
    in currency j is v / r_j, so the bid is v / sum_j w_j r_j with w the currency split of
    the agent's last charge (uniform before the first): for a budget per block of periods
    (`BlockCurrencies`) that is the current block's rate except on a block's first rounds.
    """

    Params = BangPerBuckParams
    params: BangPerBuckParams
    feedback = "bandit"
    multi_currency = True

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
        if p.r_min > p.r_max:
            raise ValueError(f"r_min ({p.r_min}) must be <= r_max ({p.r_max})")
        self.step_size = p.step_size if p.step_size is not None else 1.0 / np.sqrt(horizon)
        self.log_r = np.full(self.budgets.shape, np.log(np.clip(p.r0, p.r_min, p.r_max)))
        #: (m, d) currency split of each agent's last charge (d > 1 only).
        self.weights = np.full(self.budgets.shape, 1.0 / self.budgets.shape[1]) if self.budgets.ndim == 2 else None

    @property
    def r(self) -> np.ndarray:
        """The exchange rate (tokens per unit of utility): (m,), or (m, d) per currency."""
        return np.exp(self.log_r)

    @property
    def beta(self) -> np.ndarray:
        return self.r if self.weights is None else (self.r * self.weights).sum(axis=1)

    @property
    def lambda_(self) -> np.ndarray:
        """The bid intensity 1 / r (Braverman 2021 §2.1.1: lambda_max = 1 / r_min); with d
        currencies 1 / sum_j w_j r_j."""
        return 1.0 / self.beta

    def _observe(self, feedback: Feedback) -> None:
        p = self.params
        step = self.step_size * spend_gradient(feedback, self.horizon)  # per currency when (m, d)
        self.log_r = np.clip(self.log_r - step, np.log(p.r_min), np.log(p.r_max))
        if self.weights is not None:
            total = feedback.charge.sum(axis=1)
            paid = total > 0
            self.weights[paid] = feedback.charge[paid] / total[paid, None]
