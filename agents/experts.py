"""Finite-grid no-regret learners: exponential weights with full (Hedge) or bandit (Exp3)
feedback, as vectorized cohorts, and the grid-learner wrapper the composite learners share.

Braverman 2021 §1.1 ("Bandits and regret minimization"): with K actions and payoffs in [0, 1],
weak regret ~ sqrt(T log K) with full information (experts) and ~ sqrt(T K) with bandit
feedback, both attained by multiplicative-weight updates.

Two layers:
- a `GridPolicy` is m independent learners over the same K actions, state (m, K) arrays,
  gains in [0, 1]; policies compose (`SwapPolicy(factory)` in `agents/swap.py`), and a
  `Factory` builds one: `factory(n, k, horizon, rng) -> GridPolicy`;
- a `GridLearner` is the `Learner` that plays a policy over a grid of report multipliers:
  action k means "report obs.values * grid[k]" (APEX: values are 1, so the report is the
  bid lambda = grid[k]; public goods: a value-scaling factor).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from agents.base import Feedback, Learner, LearnerParams, Observation, scaled_grid
from agents.jit import lazy_njit

#: A policy factory: (n learners, K actions, horizon T, rng) -> GridPolicy.
Factory = Callable[[int, int, int, np.random.Generator], "GridPolicy"]


def sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of an (m, K) probability matrix (inverse CDF, vectorized).

    u is drawn in (0, 1] and scaled by the row's own total, so a zero-probability action
    is never drawn even when rows sum to 1 - 1e-16."""
    cum = np.cumsum(probs, axis=1)
    u = (1.0 - rng.random(probs.shape[0])) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), probs.shape[1] - 1)


@lazy_njit(nogil=True, cache=True, error_model="numpy")
def _inverse_cdf(  # pragma: no cover - compiled
    w: NDArray[np.floating], u: NDArray[np.floating], actions: NDArray[np.int64], probs: NDArray[np.float64]
) -> None:
    K, n = w.shape
    total = w[0].copy()
    for k in range(1, K):
        total += w[k]
    cum = np.zeros(n, dtype=w.dtype)
    actions[:] = 0
    for k in range(K - 1):
        wk = w[k]
        for i in range(n):
            # u * total is in (0, total] (x <= 1 rounds x * total to <= total) and the running
            # sums add in the same order as total, so the action found exists and has weight > 0.
            cum[i] += wk[i]
            actions[i] += cum[i] < u[i] * total[i]
    for i in range(n):
        probs[i] = w[actions[i], i] / np.float64(total[i])


def sample_columns(w: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One draw per column of non-negative weights w (K, n), actions first: (actions (n,),
    probability of each drawn action (n,)). One compiled pass over the K actions of all
    columns (inverse CDF), where a cumsum per column would be n small calls."""
    n: int = w.shape[1]
    u = (1.0 - rng.random(n)).astype(w.dtype)
    actions = np.empty(n, dtype=np.int64)
    probs = np.empty(n)
    _inverse_cdf(w, u, actions, probs)
    return actions, probs


def importance_weighted_loss(
    gains: np.ndarray, played_prob: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """l_hat = weight * (1 - g) / P(a) on the played arm: the loss-based estimator of the
    bandit updates (Lattimore & Szepesvari 2020, ch. 11)."""
    loss_hat = (1.0 - gains) / np.maximum(played_prob, 1e-300)
    return loss_hat if weight is None else loss_hat * weight


def hedge_eta(k: int, horizon: int) -> float:
    """Hedge's rate eta = sqrt(8 ln K / T): regret <= sqrt(T ln K / 2) (Braverman 2021 §1.1)."""
    return float(np.sqrt(8.0 * np.log(max(k, 2)) / horizon))


def _collect_state(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Arrays and scalars of `obj`, recursing into nested policies (for checkpoints)."""
    out: dict[str, Any] = {}
    for k, v in vars(obj).items():
        if k.startswith("_"):  # scratch buffers, not state
            continue
        if isinstance(v, GridPolicy):
            out.update(_collect_state(v, f"{prefix}{k}."))
        elif isinstance(v, np.ndarray):
            out[prefix + k] = v.copy()
        elif isinstance(v, bool | int | float | np.floating | np.integer):
            out[prefix + k] = v
    return out


def _restore_state(obj: Any, state: dict[str, Any]) -> None:
    for key, v in state.items():
        target = obj
        *path, name = key.split(".")
        for p in path:
            target = getattr(target, p)
        setattr(target, name, v.copy() if isinstance(v, np.ndarray) else v)


class GridPolicy:
    """n independent no-regret learners over the same K actions (gains in [0, 1]).

    `probs()` is the (n, K) distribution to play this round and `sample(rng)` draws from
    it; `update(gains)` takes the full (n, K) gain vector of every action (experts
    feedback), `update_t` the same transposed (K, n), and `update_bandit(actions, gains,
    played_prob, weight)` only the gain of the action played (bandit feedback). Updates
    refer to the distribution of the latest `probs()`/`sample()` call. A zero gain vector
    or zero weight leaves a row unchanged, which is how callers mask rows.
    """

    #: Whether the policy's guarantee needs the full gain vector (a class default; composite
    #: policies set it per instance from the policies they are built from).
    full_information: bool = True

    def __init__(self, n: int, k: int, horizon: int, rng: np.random.Generator) -> None:
        if n < 1 or k < 1 or horizon < 1:
            raise ValueError(f"need n, k, horizon >= 1, got n={n}, k={k}, horizon={horizon}")
        self.n, self.k, self.horizon = int(n), int(k), int(horizon)
        self.rng = rng

    def probs(self) -> np.ndarray:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(actions (n,), probability of each drawn action (n,))."""
        p = self.probs()
        a = sample_categorical(p, rng)
        return a, p[np.arange(self.n), a]

    def update(self, gains: np.ndarray) -> None:
        self.update_t(np.asarray(gains).T)

    def update_t(self, gains_t: np.ndarray) -> None:
        raise NotImplementedError

    def update_bandit(
        self,
        actions: np.ndarray,
        gains: np.ndarray,
        played_prob: np.ndarray,
        weight: np.ndarray | None = None,
    ) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return _collect_state(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _restore_state(self, state)


#: Above this many actions, sampling uses one cumsum instead of a loop over the actions.
_LOOP_SAMPLING_MAX_K = 64


class ExpWeights(GridPolicy):
    """Exponential weights on cumulative (estimated) gains S: p = (1-gamma) softmax(eta S) + gamma/K.

    Bandit updates use the loss-based importance-weighted estimator
    l_hat(a) = (1 - g) / P(a) on the played arm (Lattimore & Szepesvari 2020, ch. 11):
    subtracting it from S equals adding the unbiased gain estimate 1 - l_hat up to a
    per-row constant, which softmax ignores, and keeps the estimates one-sided.

    Layout: `scores` is (K, n), action-major, so the per-learner reductions (max, sum,
    cumulative sum over K actions) are K vector operations over n contiguous learners —
    the difference between memory-bound and call-bound at 10^5 agents. Each learner's
    maximum score is kept at 0 (`_recenter`), so exp(eta S) never overflows and every
    learner's weights sum to >= 1.
    """

    def __init__(
        self, n: int, k: int, horizon: int, rng: np.random.Generator, eta: float, gamma: float = 0.0
    ) -> None:
        super().__init__(n, k, horizon, rng)
        if not eta > 0:
            raise ValueError(f"eta must be > 0, got {eta}")
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {gamma}")
        self.eta = float(eta)
        self.gamma = float(gamma)
        self.scores = np.zeros((self.k, self.n))
        self._weights: tuple[np.ndarray, np.ndarray] | None = None
        # Reused scratch: a fresh (K, n) array per round costs page faults at 10^5 agents.
        # Weights are float32: its exp is SIMD-vectorized (~3x faster than float64's), and a
        # relative error of 1e-7 in sampling probabilities is immaterial; scores stay float64.
        self._zbuf = np.empty((self.k, self.n), dtype=np.float32)

    def _eta(self) -> float | np.ndarray:
        return self.eta

    def _z(self) -> tuple[np.ndarray, np.ndarray]:
        """Unnormalized weights exp(eta S) (K, n) and their per-learner totals (n,)."""
        z = np.multiply(self.scores, self._eta(), out=self._zbuf, casting="same_kind")
        np.exp(z, out=z)
        self._weights = (z, z.sum(axis=0, dtype=np.float64))
        return self._weights

    def _current(self) -> tuple[np.ndarray, np.ndarray]:
        return self._weights if self._weights is not None else self._z()

    def probs(self) -> np.ndarray:
        z, total = self._z()
        p = (z / total).T
        if self.gamma > 0:
            p = (1.0 - self.gamma) * p + self.gamma / self.k
        return p

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.gamma > 0 or self.k > _LOOP_SAMPLING_MAX_K:
            return super().sample(rng)
        z, _ = self._z()
        return sample_columns(z, rng)

    def _recenter(self) -> None:
        self.scores -= self.scores.max(axis=0)
        self._weights = None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._weights = None  # cached weights belong to the old scores

    def update_t(self, gains_t: np.ndarray) -> None:
        self.scores += gains_t
        self._recenter()

    def update_bandit(
        self,
        actions: np.ndarray,
        gains: np.ndarray,
        played_prob: np.ndarray,
        weight: np.ndarray | None = None,
    ) -> None:
        loss_hat = importance_weighted_loss(gains, played_prob, weight)
        self._before_bandit(actions, loss_hat)
        self.scores[actions, np.arange(self.n)] -= loss_hat
        self._recenter()

    def _before_bandit(self, actions: np.ndarray, loss_hat: np.ndarray) -> None:
        pass


class HedgePolicy(ExpWeights):
    """Hedge (Freund & Schapire 1997) with eta = sqrt(8 ln K / T): regret <= sqrt(T ln K / 2)
    against every fixed action for any (adaptive) gain sequence in [0, 1]^K (Braverman 2021 §1.1)."""

    full_information = True

    def __init__(self, n: int, k: int, horizon: int, rng: np.random.Generator, eta: float | None = None):
        eta = eta if eta is not None else hedge_eta(k, horizon)
        super().__init__(n, k, horizon, rng, eta)


class Exp3Policy(ExpWeights):
    """Exp3 (Auer et al. 2002) in its loss-based form, bandit feedback (Braverman 2021 §1.1: regret
    ~ sqrt(T K)).

    eta given: the fixed rate (eta = sqrt(2 ln K / (T K)) gives expected regret
    <= sqrt(2 T K ln K) for losses in [0, 1]). eta None: the data-dependent decreasing rate
    eta_t = sqrt(2 ln K / (K + V_{t-1})), V_t = sum_{s<=t} sum_k p_{s,k} l_hat_{s,k}^2 (an
    unbiased estimate of sum_s ||l_s||^2), i.e. FTRL with a negentropy regularizer and
    adaptive rate (Orabona 2019, "A Modern Introduction to Online Learning", §7.5, §10):
    it targets regret O(sqrt(ln K * sum_t ||l_t||_2^2)), never worse in order than the fixed
    rate's sqrt(T K ln K), and much smaller when losses are small — as the Lagrangian
    payoffs of `LagrangeBwK` are after normalization.
    """

    full_information = False

    def __init__(
        self,
        n: int,
        k: int,
        horizon: int,
        rng: np.random.Generator,
        eta: float | None = None,
        gamma: float = 0.0,
    ):
        self.adaptive = eta is None
        super().__init__(n, k, horizon, rng, 1.0 if eta is None else eta, gamma)
        self.variance = np.zeros(self.n)
        self.log_k = float(np.log(max(k, 2)))

    def _eta(self) -> float | np.ndarray:
        if not self.adaptive:
            return self.eta
        return np.sqrt(2.0 * self.log_k / (self.k + self.variance))

    def _before_bandit(self, actions: np.ndarray, loss_hat: np.ndarray) -> None:
        if self.adaptive:
            # sum_k p_k l_hat_k^2 has one non-zero term, the played arm's; p is this policy's
            # own distribution (inside a swap learner it differs from the played probability).
            z, total = self._current()
            self.variance += z[actions, np.arange(self.n)] / total * loss_hat**2

    def update_t(self, gains_t: np.ndarray) -> None:
        if self.adaptive:
            z, total = self._current()
            self.variance += (z * (1.0 - gains_t) ** 2).sum(axis=0) / total
        super().update_t(gains_t)


#: Base policies by name, for composite learners configured from TOML (`base = "hedge"`).
BASE_POLICIES: dict[str, Callable[..., GridPolicy]] = {"hedge": HedgePolicy, "exp3": Exp3Policy}


def policy_factory(name: str, **kwargs: Any) -> Factory:
    """A `Factory` for the base policy registered as `name` (extra kwargs, e.g. eta)."""
    if name not in BASE_POLICIES:
        raise ValueError(f"base: unknown base learner {name!r}; available: {', '.join(sorted(BASE_POLICIES))}")
    cls = BASE_POLICIES[name]
    kwargs = {k: v for k, v in kwargs.items() if v is not None}

    def build(n: int, k: int, horizon: int, rng: np.random.Generator) -> GridPolicy:
        return cls(n, k, horizon, rng, **kwargs)

    build.full_information = cls.full_information  # type: ignore[attr-defined]
    # What it builds, so composites can pick a specialized kernel (`agents.swap.swap_factory`).
    build.policy_cls, build.kwargs = cls, kwargs  # type: ignore[attr-defined]
    return build


class GridParams(LearnerParams):
    """The report grid: `grid` explicitly (non-negative multipliers), else `grid_points`
    evenly spaced multipliers in [grid_min, grid_max]. eta: learning rate (None: the
    policy's theory default for horizon T). Payoff per round is utility - cost_weight *
    charge, mapped to a gain in [0, 1] by (payoff - payoff_min) / (payoff_max - payoff_min)."""

    grid: list[float] | None = None
    grid_points: int = Field(default=11, ge=2, le=10_000)
    grid_min: float = Field(default=0.0, ge=0.0)
    grid_max: float = Field(default=2.0, gt=0.0)
    eta: float | None = Field(default=None, gt=0.0)
    cost_weight: float = Field(default=0.0, ge=0.0)
    payoff_min: float = 0.0
    payoff_max: float = 1.0

    @field_validator("grid")
    @classmethod
    def _grid_ok(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            if len(v) < 1:
                raise ValueError("grid must have at least one point")
            for i, x in enumerate(v):
                if not (x >= 0 and np.isfinite(x)):
                    raise ValueError(f"grid[{i}] must be finite and >= 0, got {x}")
        return v

    @model_validator(mode="after")
    def _ranges_ok(self) -> GridParams:
        if self.grid_min >= self.grid_max:
            raise ValueError(f"grid_min ({self.grid_min}) must be < grid_max ({self.grid_max})")
        if self.payoff_min >= self.payoff_max:
            raise ValueError(f"payoff_min ({self.payoff_min}) must be < payoff_max ({self.payoff_max})")
        return self

    def make_grid(self) -> np.ndarray:
        if self.grid is not None:
            return np.asarray(self.grid, dtype=np.float64)
        return np.linspace(self.grid_min, self.grid_max, self.grid_points)


class GridLearner(Learner):
    """A `GridPolicy` playing report multipliers: action k reports obs.values * grid[k].

    Subclasses provide `make_policy()`; feedback is "full" when the policy needs the full
    gain vector (then `alternatives(obs)` asks for the menu of exactly the grid reports).
    Rows whose submitted report differs from the intended one (zeroed by the mechanism's
    budget rule) or that had no budget are not updated: the feedback is not about their
    action.
    """

    Params = GridParams
    params: GridParams

    def __init__(
        self,
        n_agents: int,
        budgets: np.ndarray,
        horizon: int,
        rng: np.random.Generator,
        params: LearnerParams | None = None,
    ) -> None:
        super().__init__(n_agents, budgets, horizon, rng, params)
        self.grid = self.params.make_grid()
        self.policy = self.make_policy()
        self.feedback = "full" if self.policy.full_information else "bandit"
        m = self.n_agents
        self.actions = np.zeros(m, dtype=np.int64)
        self.played_prob = np.ones(m)
        self.intended = np.zeros(m)
        self._gain_buf: np.ndarray | None = None

    def make_policy(self) -> GridPolicy:
        raise NotImplementedError

    @property
    def n_actions(self) -> int:
        return int(self.grid.shape[0])

    def _act(self, obs: Observation) -> np.ndarray:
        a, pa = self.policy.sample(self.rng)
        self.actions = a
        self.played_prob = pa
        self.intended = np.where(obs.budget > 0, obs.values * self.grid[a], 0.0)
        return self.intended

    def alternatives(self, obs: Observation) -> np.ndarray | None:
        g = self.alternative_multipliers()
        return None if g is None else scaled_grid(obs.values, g)

    def alternative_multipliers(self) -> np.ndarray | None:
        return self.grid if self.feedback == "full" else None

    def _active(self, fb: Feedback) -> np.ndarray:
        had_budget = fb.budget + fb.charge > 0
        return had_budget & np.isclose(fb.reports, self.intended, rtol=1e-12, atol=1e-12)

    def _gain(self, utility: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """Gains in [0, 1] from utilities and costs of shape (m,) or (K, m) (agents last)."""
        p = self.params
        if utility.ndim == 2:  # menus: reuse one buffer (page faults dominate at 10^5 agents)
            if self._gain_buf is None or self._gain_buf.shape != utility.shape:
                self._gain_buf = np.empty(utility.shape)
            gain = self._gain_buf
        else:
            gain = np.empty(utility.shape)
        if p.cost_weight:
            np.multiply(cost, -p.cost_weight, out=gain)
            gain += utility
        elif (p.payoff_min, p.payoff_max) == (0.0, 1.0):
            return np.clip(utility, 0.0, 1.0, out=gain)
        else:
            gain[...] = utility
        if (p.payoff_min, p.payoff_max) != (0.0, 1.0):
            gain -= p.payoff_min
            gain /= p.payoff_max - p.payoff_min
        return np.clip(gain, 0.0, 1.0, out=gain)

    def _observe(self, fb: Feedback) -> None:
        active = self._active(fb)
        if self.feedback == "full":
            # Menus arrive (m, K); the policies keep actions first, so transpose once here.
            # (`Learner.observe` has checked that full feedback carries a menu.)
            assert fb.menu_utility is not None and fb.menu_cost is not None
            gains_t = self._gain(fb.menu_utility.T, fb.menu_cost.T)
            if not active.all():
                gains_t *= active
            self.policy.update_t(gains_t)
        else:
            gains = self._gain(fb.utility, fb.charge)
            self.policy.update_bandit(self.actions, gains, self.played_prob, active.astype(np.float64))

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.pop("_gain_buf", None)  # scratch, not state
        state.update({f"policy.{k}": v for k, v in self.policy.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        pol = {k.removeprefix("policy."): state.pop(k) for k in list(state) if k.startswith("policy.")}
        self.policy.load_state_dict(pol)
        super().load_state_dict(state)


class Hedge(GridLearner):
    """Hedge over the report grid. Feedback: full (the menu of every grid report's
    utility and cost this round). Guarantee: regret <= sqrt(T ln K / 2) against the best
    fixed grid report on payoff u - cost_weight * c (Braverman 2021 §1.1, experts setting);
    it ignores the budget beyond cost_weight (a baseline for BwK, not a BwK algorithm)."""

    feedback = "full"

    def make_policy(self) -> GridPolicy:
        return HedgePolicy(self.n_agents, self.n_actions, self.horizon, self.rng, self.params.eta)

    @staticmethod
    def factory(eta: float | None = None) -> Factory:
        """A `Factory` of Hedge policies (for composites such as BlumMansourSwap)."""
        return policy_factory("hedge", eta=eta)


class Exp3Params(GridParams):
    """gamma: explicit uniform exploration mixed into the distribution (0: none needed
    by the loss-based estimator)."""

    gamma: float = Field(default=0.0, ge=0.0, lt=1.0)


class Exp3(GridLearner):
    """Exp3 over the report grid. Feedback: bandit (own utility and charge). Guarantee:
    expected regret <= sqrt(2 T K ln K) against the best fixed grid report on payoff
    u - cost_weight * c (Braverman 2021 §1.1, bandit setting); ignores the budget otherwise."""

    Params = Exp3Params
    params: Exp3Params
    feedback = "bandit"

    def make_policy(self) -> GridPolicy:
        p = self.params
        return Exp3Policy(self.n_agents, self.n_actions, self.horizon, self.rng, p.eta, p.gamma)

    @staticmethod
    def factory(eta: float | None = None, gamma: float = 0.0) -> Factory:
        """A `Factory` of Exp3 policies (for composites such as LagrangeBwK)."""
        return policy_factory("exp3", eta=eta, gamma=gamma)
