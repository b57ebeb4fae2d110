"""The Learner interface: one object holds a cohort of m agents of one kind as arrays.

docs/architecture.md. Strict alternation act -> observe (as in uoftcprg/noregret's
next_strategy / observe_utility), so a learner never updates on feedback it did not
cause. Feedback is `bandit` (own utility and charge) or `full` (the whole menu of
counterfactual (utility, cost) over the learner's own alternatives).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

FeedbackModel = Literal["bandit", "full"]


def scaled_grid(values: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """(m, K) reports values[:, None] * multipliers[None, :]: a grid learner's alternatives.
    Sharded backends rebuild them with this same function, so bit for bit."""
    return values[:, None] * multipliers[None, :]


class LearnerParams(BaseModel):
    """Base of every learner's validated parameters (unknown keys and NaN are errors)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, defer_build=True)

    #: Fields that may be lists with one entry per agent of the population group; the model
    #: gives each cohort its slice (`abm.backends.group_cohorts`).
    per_agent: ClassVar[frozenset[str]] = frozenset()


@dataclass(frozen=True, slots=True)
class Observation:
    """What a cohort sees before reporting in round t (0-based): private values and budgets."""

    t: int
    values: np.ndarray
    budget: np.ndarray

    def take(self, idx: np.ndarray | slice) -> Observation:
        return Observation(self.t, self.values[idx], self.budget[idx])


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a cohort learns after round t. Arrays are (m,) or, for the menu, (m, K).

    reports: what was actually submitted (after the budget-feasibility rule).
    budget: remaining budget after this round's charge.
    alternatives/menu_utility/menu_cost: only for `full` feedback learners.
    """

    t: int
    reports: np.ndarray
    utility: np.ndarray
    charge: np.ndarray
    budget: np.ndarray
    alternatives: np.ndarray | None = None
    menu_utility: np.ndarray | None = None
    menu_cost: np.ndarray | None = None

    def take(self, idx: np.ndarray | slice) -> Feedback:
        return Feedback(self.t, self.reports[idx], self.utility[idx], self.charge[idx], self.budget[idx])

    def with_menu(self, alternatives: np.ndarray, utility: np.ndarray, cost: np.ndarray) -> Feedback:
        return Feedback(
            self.t, self.reports, self.utility, self.charge, self.budget, alternatives, utility, cost
        )


class AlternationError(RuntimeError):
    """act() twice without observe(), or observe() without act()."""


class Learner(ABC):
    """A cohort of `n_agents` bidders of one kind, state held as numpy arrays.

    Subclasses implement `_act` and `_observe`; `feedback` says which feedback model they
    need, and full-feedback learners implement `alternatives(obs)` (the reports whose
    counterfactual utility/cost they want to see). `Params` validates their parameters.
    """

    #: A class default; composite learners set it per instance from the policy they build.
    feedback: FeedbackModel = "bandit"
    #: Subclasses set `Params = TheirParams` and declare `params: TheirParams` beside it (the
    #: type `__init__` enforces at run time), so the type checker knows their fields.
    Params: ClassVar[type[LearnerParams]] = LearnerParams
    #: Whether the learner handles d > 1 currencies: budgets (m, d), and feedback charges and
    #: budgets (m, d) (docs/architecture.md, "Several currencies"). Others refuse (m, d) budgets.
    multi_currency: ClassVar[bool] = False

    def __init__(
        self,
        n_agents: int,
        budgets: np.ndarray,
        horizon: int,
        rng: np.random.Generator,
        params: LearnerParams | None = None,
    ) -> None:
        if n_agents < 1:
            raise ValueError(f"n_agents must be >= 1, got {n_agents}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.n_agents = int(n_agents)
        self.horizon = int(horizon)
        budgets = np.asarray(budgets, dtype=np.float64)
        if budgets.ndim == 2 and budgets.shape[1] > 1:
            if not self.multi_currency:
                raise ValueError(
                    f"budgets: {type(self).__name__} handles one currency, got {budgets.shape[1]} "
                    "(learners with several currencies: lagrange_bwk, bang_per_buck)"
                )
            self.budgets = np.broadcast_to(budgets, (n_agents, budgets.shape[1])).copy()
        else:
            self.budgets = np.broadcast_to(budgets.reshape(-1) if budgets.ndim == 2 else budgets, (n_agents,)).copy()
        if (self.budgets < 0).any() or not np.isfinite(self.budgets).all():
            i = int(np.argwhere(~(self.budgets >= 0) | ~np.isfinite(self.budgets))[0][0])
            raise ValueError(f"budgets[{i}] must be finite and >= 0, got {self.budgets[i]}")
        self.rng = rng
        self.params = params if params is not None else self.Params()
        if not isinstance(self.params, self.Params):
            raise TypeError(f"params must be {self.Params.__qualname__}, got {type(self.params).__name__}")
        self._awaiting_feedback = False

    @classmethod
    def create(
        cls, n_agents: int, budgets: np.ndarray, horizon: int, rng: np.random.Generator, **params: Any
    ) -> Learner:
        """Construct from keyword parameters, validated by `Params` (errors name the field)."""
        return cls(n_agents, budgets, horizon, rng, cls.Params(**params))

    def act(self, obs: Observation) -> np.ndarray:
        """Reports (m,) for this round; never more than the learner may spend."""
        if self._awaiting_feedback:
            raise AlternationError(f"{type(self).__name__}.act called twice without observe")
        self._awaiting_feedback = True
        reports = np.array(self._act(obs), dtype=np.float64)  # a fresh array we may clip in place
        np.maximum(reports, 0.0, out=reports)
        empty = obs.budget <= 0
        # Several currencies: 0 only once every currency is gone; which currency a round
        # charges is the mechanism's business (its enforce_budget caps the report).
        reports[empty if empty.ndim == 1 else empty.all(axis=1)] = 0.0
        return reports

    def observe(self, feedback: Feedback) -> None:
        """Update on the feedback of the round just played."""
        if not self._awaiting_feedback:
            raise AlternationError(f"{type(self).__name__}.observe called before act")
        if self.feedback == "full" and feedback.menu_utility is None:
            raise ValueError(f"{type(self).__name__} needs full feedback (a menu), got bandit feedback")
        self._awaiting_feedback = False
        self._observe(feedback)

    def alternatives(self, obs: Observation) -> np.ndarray | None:
        """(m, K) alternative reports whose menu a full-feedback learner needs; None if bandit."""
        return None

    def alternative_multipliers(self) -> np.ndarray | None:
        """g (K,) when `alternatives(obs)` is always `scaled_grid(obs.values, g)`, else None:
        a sharded backend then ships g instead of the (m, K) array."""
        return None

    @abstractmethod
    def _act(self, obs: Observation) -> np.ndarray: ...

    @abstractmethod
    def _observe(self, feedback: Feedback) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """Every array and scalar of the cohort's state, plus the RNG state (checkpoints)."""
        state: dict[str, Any] = {
            k: (v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in vars(self).items()
            if isinstance(v, np.ndarray | int | float | bool | np.floating | np.integer)
        }
        state["rng"] = self.rng.bit_generator.state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        self.rng.bit_generator.state = state.pop("rng")
        for k, v in state.items():
            setattr(self, k, v.copy() if isinstance(v, np.ndarray) else v)
