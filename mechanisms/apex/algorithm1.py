"""APEX — adaptive pricing equalizing externalities (Braverman 2021 §2.1, Algorithm 1; SPEC.md §A).

Generic over the outcome space: a problem (`ApexProblem`) supplies the players'
utilities f_j, the principal's term f_0 + R_t (`base`) and the heuristic H (`argmax`,
warm-started at X_t). Each round, with bids lambda_{j,t} >= 0 as weights,

    F_t      = base + sum_j lambda_j f_j,      X_{t+1}      = H(F_t, start = X_t)
    F_t^{-i} = F_t - lambda_i f_i,             X^{-i}_{t+1} = H(F_t^{-i}, start = X_t)
    C_{i,t}  = F_t^{-i}(X^{-i}_{t+1}) - F_t^{-i}(X_{t+1})   tokens.

The printed line 9 of Algorithm 1 reads F^{-i}(X^{-i}) - F^{-i}(X^{-i}) (identically 0);
the formula above is the one the proofs of Claim 2 and Lemma 4 use (SPEC.md §A).

Optional fast paths and declarations a problem may implement are the runtime-checkable
Protocols of `mechanisms.apex.hooks` (closed-form externalities, all X^{-i} at once, exact
menus and menu breakpoints, item prices, the outcome as an array, `utility_span`,
`tolerance`), tested with `isinstance`. Charges (and menu costs) are projected onto
[0, lambda_i * utility_span] (the upper bound only if `utility_span` is declared), the
range an exact H guarantees (`Apex._clamp`).

Negative charges. With an inexact H (a local search that is not locally correct, §2.1)
C_{i,t} can be negative: X_{t+1}, found for F_t, may score higher on F_t^{-i} than the
X^{-i}_{t+1} that H found for F_t^{-i} itself. The ledger pays no refunds (its invariant:
every charge >= 0, `abm.ledger.Ledger.charge` refuses a negative one), so such a charge is
floored at 0 — explicitly, never silently: every round's raw C_{i,t} is in
`RoundResult.extras["raw_charges"]`, and `Apex.audit` (a `ChargeAudit`) counts the rounds
and agent-rounds with a negative raw charge, the most negative one and the tokens floored
away (and likewise the charges capped at lambda_i * utility_span), which the scenarios
put in their summaries.

Round state is explicit: `run_round` returns an `ApexRoundState` (lambda, X_t, X_{t+1},
F^{-i}(X^{-i}_{t+1}) and the problem's per-round cache) in `RoundResult.state`, and
`menu_all(..., state=...)` / `menu_breakpoints(..., state=...)` answer for that round
whenever they are called; without a state they refer to the round `reports` would play
from the current X_t.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mechanisms.apex.hooks import (
    LAMBDA_MAX,
    ArgmaxWithoutEach,
    ClosedFormExternalities,
    DeclaredSpan,
    FiniteOutcomeProblem,
    OutcomeAsArray,
    ProblemItemPrices,
    ProblemMenu,
    ProblemMenuBreakpoints,
    tolerance,
    utility_span,
)
from mechanisms.assignment.birkhoff import AssignmentProblem, RegularizedAssignment
from mechanisms.base import TOKEN_TOL, Mechanism, Reports, RoundResult, TimeAverage, check_vector, clip_reports

__all__ = [
    "Apex",
    "ApexProblem",
    "ApexRoundState",
    "AssignmentProblem",
    "ChargeAudit",
    "ExactMenuApex",
    "FiniteApex",
    "FiniteArgmax",
    "RegularizedAssignment",
]


@runtime_checkable
class ApexProblem(Protocol):
    """The outcome space X, the utilities f_j, f_0 + R and the heuristic H of Algorithm 1:
    APEX's problem interface (docs/extending.md, "An APEX problem"). X is whatever `argmax`
    returns and the other members accept; `argmax` may be any optimizer — exact, a MILP, a
    local search (`mechanisms.apex.local_search.LocalSearchProblem`) — and Algorithm 1 uses
    the same one for X_{t+1} and every X^{-i}_{t+1}."""

    n: int

    def utilities(self, x: Any) -> np.ndarray:
        """(n,) f_j(x)."""
        ...

    def base(self, x: Any) -> float | np.ndarray:
        """f_0(x) + R_t(x): a float for one outcome; problems whose outcomes are arrays may
        batch over leading axes and return an array (Algorithm 1 passes one outcome)."""
        ...

    def argmax(self, weights: np.ndarray, start: Any) -> Any:
        """H(F, start) for F = base + sum_j weights_j f_j."""
        ...

    def initial(self) -> Any:
        """The starting point X_1 (Algorithm 1, line 1)."""
        ...


class FiniteArgmax:
    """X = a finite set of K outcomes given by their utilities; H = exact argmax.

    outcome_utilities: (K, n) f_j(outcome k); base: (K,) f_0 + R per outcome (default 0).
    An outcome is its index k. Ties go to the lowest index, so H is a deterministic
    exact maximizer (charges are the VCG Clarke pivots, >= 0)."""

    def __init__(self, outcome_utilities: np.ndarray, base: np.ndarray | None = None) -> None:
        u = np.asarray(outcome_utilities, dtype=np.float64)
        if u.ndim != 2 or u.shape[0] == 0 or u.shape[1] == 0:
            raise ValueError(f"outcome_utilities must be a non-empty (K, n) array, got shape {u.shape}")
        if not np.isfinite(u).all():
            k, j = np.argwhere(~np.isfinite(u))[0]
            raise ValueError(f"outcome_utilities[{k}, {j}] must be finite, got {u[k, j]}")
        self.outcome_utilities = u
        self.n = u.shape[1]
        k = u.shape[0]
        self.base_values = np.zeros(k) if base is None else check_vector("base", base, k, nonneg=False)
        self.utility_span = float((u.max(axis=0) - u.min(axis=0)).max())

    def utilities(self, x: int) -> np.ndarray:
        return self.outcome_utilities[x]

    def base(self, x: int) -> float:
        return float(self.base_values[x])

    def argmax(self, weights: np.ndarray, start: Any = None) -> int:
        return int(np.argmax(self.base_values + self.outcome_utilities @ weights))

    def initial(self) -> int:
        return 0

    def as_array(self, x: int) -> np.ndarray:
        out = np.zeros(self.outcome_utilities.shape[0])
        out[x] = 1.0
        return out

    def argmax_without_each(self, weights: np.ndarray, start: Any = None) -> np.ndarray:
        # F^{-i}(k) = F(k) - w_i u_ki for every i at once: (K, n) scores, argmax per column.
        total = self.base_values + self.outcome_utilities @ weights
        return np.argmax(total[:, None] - self.outcome_utilities * weights[None, :], axis=0)


@dataclass(frozen=True)
class ApexRoundState:
    """What a counterfactual menu needs about one round of Algorithm 1 (`RoundResult.state`).

    lam: (n,) the bids lambda_{i,t}; start: X_t (the warm start of H); x_next: X_{t+1};
    opt_minus: (n,) F^{-i}(X^{-i}_{t+1}) (NaN when the charges came in closed form);
    cache: per-round work of the problem's menu hooks (filled lazily, e.g. personal prices)."""

    lam: np.ndarray
    start: Any
    x_next: Any
    opt_minus: np.ndarray
    cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, lam: np.ndarray, start: Any, x_next: Any, opt_minus: np.ndarray, cache: dict[str, Any] | None = None
    ) -> ApexRoundState:
        """The state, its cache seeded with `cache` (the round's own work that the menu
        hooks reuse, e.g. the minimal prices) and F^{-i}(X^{-i}) unless it was closed form."""
        cache = {} if cache is None else dict(cache)
        if not np.isnan(opt_minus).any():
            cache["opt_minus"] = opt_minus
        return cls(lam, start, x_next, opt_minus, cache)


@dataclass
class ChargeAudit:
    """Algorithm 1's raw charges C_{i,t} against what the ledger was charged (Braverman
    2021, §2.1: with an H that is not locally correct, C_{i,t} < 0 can happen).

    rounds: rounds played; negative_rounds / negative_charges: rounds / agent-rounds with a
    raw charge below -tol (floored at 0: the ledger pays no refunds); most_negative: the
    smallest raw charge (0 if none was negative); floored_tokens: sum of -C over the floored
    charges; capped_rounds / capped_charges / capped_tokens: the same for the charges above
    lambda_i * utility_span (capped, so no budget is overdrawn); seconds: wall time of
    `run_round` (H for X_{t+1} and every X^{-i}_{t+1}, the charges)."""

    rounds: int = 0
    negative_rounds: int = 0
    negative_charges: int = 0
    most_negative: float = 0.0
    floored_tokens: float = 0.0
    capped_rounds: int = 0
    capped_charges: int = 0
    capped_tokens: float = 0.0
    seconds: float = 0.0

    def record(self, raw: np.ndarray, charged: np.ndarray, tol: float, seconds: float) -> None:
        """One round: the raw charges, the charges the ledger gets, the round-off tolerance."""
        self.rounds += 1
        self.seconds += seconds
        low = raw < -tol
        if low.any():
            self.negative_rounds += 1
            self.negative_charges += int(low.sum())
            self.most_negative = min(self.most_negative, float(raw.min()))
            self.floored_tokens += float(-raw[low].sum())
        high = raw > charged + tol
        if high.any():
            self.capped_rounds += 1
            self.capped_charges += int(high.sum())
            self.capped_tokens += float((raw - charged)[high].sum())

    def as_dict(self) -> dict[str, float]:
        """The counters plus the rates per round (for summary.json)."""
        rounds = max(self.rounds, 1)
        return {
            "rounds": self.rounds,
            "negative_rounds": self.negative_rounds,
            "negative_round_rate": self.negative_rounds / rounds,
            "negative_charges": self.negative_charges,
            "most_negative": self.most_negative,
            "floored_tokens": self.floored_tokens,
            "capped_rounds": self.capped_rounds,
            "capped_charges": self.capped_charges,
            "capped_tokens": self.capped_tokens,
            "per_round_seconds": self.seconds / rounds,
        }


class Apex(Mechanism):
    """Braverman 2021 Algorithm 1 as a `Mechanism`: reports.bids are the lambda_{i,t}.

    RoundResult.utilities are the true f_i(X_{t+1}); `reports.values` are ignored (the
    utilities f_i are fixed at construction, as in the paper). charges are C_{i,t}.
    State: X_t (the warm start of H), the running sum for `x_bar`, and per-round item
    prices when the problem defines them. p_max = inf; `enforce_budget` instead caps
    lambda so that no charge can exceed the remaining budget (see there), and at `bid_cap`
    (lambda-bar of Theorem 13; inf by default)."""

    p_max = np.inf
    #: Report range [0, LAMBDA_MAX] (see LAMBDA_MAX): a larger lambda is played as LAMBDA_MAX.
    report_max = LAMBDA_MAX

    def __new__(cls, problem: Any = None, *args: Any, **kwargs: Any) -> Apex:
        """`Apex(problem)` is an `ExactMenuApex` when the problem has closed-form menu
        breakpoints and a `FiniteApex` when its outcome set is finite, so the mechanism's
        declared capabilities follow from the problem's (subclasses are kept as given)."""
        if cls is Apex:
            if isinstance(problem, ProblemMenuBreakpoints):
                cls = ExactMenuApex
            elif isinstance(problem, FiniteOutcomeProblem):
                cls = FiniteApex
        return super().__new__(cls)

    def __init__(self, problem: ApexProblem, *, name: str = "apex", bid_cap: float = np.inf) -> None:
        if not isinstance(problem, ApexProblem):
            raise ValueError(
                f"problem must implement ApexProblem (n, utilities, base, argmax, initial), got {problem!r}"
            )
        if not (bid_cap > 0):
            raise ValueError(f"bid_cap must be > 0, got {bid_cap}")
        self.problem = problem
        #: lambda-bar: the game space is lambda_{i,t} in [0, bid_cap] (Braverman 2021, Theorem 13);
        #: a larger bid (played or on a menu) is the bid at the cap.
        self.bid_cap = float(bid_cap)
        # The problem's optional hooks, resolved once (an isinstance check against a runtime
        # Protocol costs tens of microseconds, too much for every round).
        self._externalities = problem if isinstance(problem, ClosedFormExternalities) else None
        self._without_each = problem if isinstance(problem, ArgmaxWithoutEach) else None
        self._item_prices = problem if isinstance(problem, ProblemItemPrices) else None
        self._problem_menu = problem if isinstance(problem, ProblemMenu) else None
        self._as_array_hook = problem if isinstance(problem, OutcomeAsArray) else None
        self._declared_span = problem if isinstance(problem, DeclaredSpan) else None
        self.name = name
        self.n = int(problem.n)
        self.x = problem.initial()
        self.rounds = 0
        self._x_avg = TimeAverage("x_bar")
        self._price_avg = TimeAverage("mean_item_prices")
        self.last_item_prices: np.ndarray | None = None
        #: Raw charges against the charged ones, and the time per round (see `ChargeAudit`).
        self.audit = ChargeAudit()
        self._neg_tol = TOKEN_TOL + tolerance(problem)

    # -- Algorithm 1 -------------------------------------------------------------------
    def _weighted(self, weights: np.ndarray, x: Any) -> tuple[float, np.ndarray]:
        """(F(x), f(x)) for F = base + weights . f."""
        f = np.asarray(self.problem.utilities(x), dtype=np.float64)
        return float(self.problem.base(x)) + float(weights @ f), f

    def _charges(self, lam: np.ndarray, start: Any, x_next: Any) -> tuple[np.ndarray, np.ndarray, dict]:
        """C_{i,t} (raw, before clamping), F^{-i}(X^{-i}) per i, and problem extras."""
        p = self.problem
        if self._externalities is not None:
            charges, extras = self._externalities.externalities(lam, start, x_next)
            return np.asarray(charges, dtype=np.float64), np.full(self.n, np.nan), dict(extras)
        f_next_total, f_next = self._weighted(lam, x_next)
        if self._without_each is not None:
            without = self._without_each.argmax_without_each(lam, start)
        else:
            without = []
            for i in range(self.n):
                w = lam.copy()
                w[i] = 0.0
                without.append(p.argmax(w, start))
        opt_minus = np.empty(self.n)
        for i in range(self.n):
            total, f = self._weighted(lam, without[i])
            opt_minus[i] = total - lam[i] * f[i]
        # F^{-i}(X_{t+1}) = F(X_{t+1}) - lambda_i f_i(X_{t+1}).
        return opt_minus - (f_next_total - lam * f_next), opt_minus, {}

    def _capped(self, bids: np.ndarray) -> np.ndarray:
        """Bids within [0, min(bid_cap, report_max)] (`report_max` = LAMBDA_MAX)."""
        return clip_reports(np.asarray(bids, dtype=np.float64), min(self.bid_cap, self.report_max))

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        lam = self._capped(check_vector("bids", reports.bids, self.n))
        started = time.perf_counter()
        start = self.x
        x_next = self.problem.argmax(lam, start)
        raw, opt_minus, extras = self._charges(lam, start, x_next)
        menu_cache = extras.pop("menu_cache", None)
        charges = self._clamp(raw, lam)
        # Recorded, then floored / capped in the open: the ledger refuses negative charges.
        self.audit.record(raw, charges, self._neg_tol * max(1.0, float(lam.max(initial=0.0))),
                          time.perf_counter() - started)
        utilities = np.asarray(self.problem.utilities(x_next), dtype=np.float64).copy()
        prices = extras.pop("item_prices", None)
        if prices is None and self._item_prices is not None:
            prices = self._item_prices.item_prices(lam, x_next)
        if prices is not None:
            prices = np.asarray(prices, dtype=np.float64)
        self._record(x_next, prices)
        state = ApexRoundState.of(lam, start, x_next, opt_minus, menu_cache)
        self.x = x_next
        return RoundResult(
            outcome=x_next,
            utilities=utilities,
            charges=charges,
            allocated=True,
            item_prices=prices,
            state=state,
            extras={**extras, "raw_charges": raw, "min_raw_charge": float(raw.min())},
        )

    def outcome_array(self, outcome: Any) -> np.ndarray:
        """The outcome as a float vector for X-bar (`OutcomeAverage`): the problem's
        `as_array` (a distribution over outcomes), else the outcome itself."""
        return self._as_array(outcome).ravel()

    @property
    def span(self) -> float:
        """Upper bound on max f_i - min f_i: the problem's `utility_span`, else 1 (the
        paper's f_i in [0, 1])."""
        return utility_span(self.problem)

    def _clamp(self, charges: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """Project C_i onto [0, lambda_i * span], the range an exact H guarantees:
        C_i >= 0 as X^{-i} maximizes F^{-i}, and C_i <= lambda_i (f_i(X) - f_i(X^{-i}))
        as X maximizes F (see `enforce_budget`). An approximate H can leave either bound
        by at most its tolerance; the projection removes that round-off, so the ledger
        gets non-negative charges and the budget cap holds exactly. The upper bound is
        applied only when the problem declares `utility_span`. An H that is not locally
        correct (local search) can leave the range by more than round-off: `run_round`
        records every such charge in `audit` before projecting it."""
        charges = np.maximum(charges, 0.0)
        if self._declared_span is not None:
            cap = np.multiply(lam, float(self._declared_span.utility_span), dtype=np.float64)
            np.minimum(charges, cap, out=charges)
        return charges

    def _as_array(self, x: Any) -> np.ndarray:
        if self._as_array_hook is not None:
            return np.asarray(self._as_array_hook.as_array(x), dtype=np.float64)
        return np.asarray(x, dtype=np.float64)

    def _record(self, x_next: Any, prices: np.ndarray | None) -> None:
        arr = self._as_array(x_next)
        self._x_avg.add(arr)
        if prices is not None:
            prices = np.asarray(prices, dtype=np.float64)
            self.last_item_prices = prices
            self._price_avg.add(prices)
        self.rounds += 1

    # -- reading the output (§2.1.2) -------------------------------------------------------
    @property
    def x_bar(self) -> np.ndarray:
        """Time average of X_1..X_T (a bistochastic matrix for allocation), §2.1.2 eq. (16)."""
        return self._x_avg.mean

    @property
    def mean_item_prices(self) -> np.ndarray | None:
        """Average over rounds of the per-round item prices (None if the problem has none)."""
        return None if self._price_avg.total is None else self._price_avg.mean

    # -- budgets -------------------------------------------------------------------------
    def enforce_budget(self, bids: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        """Cap lambda_i so that C_{i,t} cannot exceed the remaining budget.

        Why it is safe: X = X_{t+1} maximizes F = F^{-i} + lambda_i f_i up to the problem's
        tolerance eps (0 for exact H), and X^{-i} is feasible for F, so
            F^{-i}(X) + lambda_i f_i(X) >= F^{-i}(X^{-i}) + lambda_i f_i(X^{-i}) - eps,
        i.e. C_i = F^{-i}(X^{-i}) - F^{-i}(X) <= lambda_i (f_i(X) - f_i(X^{-i})) + eps
        <= lambda_i * span + eps, with span >= max f_i - min f_i (1 for f_i in [0, 1]).
        (For an approximate X^{-i}, F^{-i}(X^{-i}) only gets smaller.) Hence
        lambda_i <= (remaining_i - eps) / span keeps C_i <= remaining_i. (Charges are also
        clamped to lambda_i * span in `run_round`, so the cap holds even if a problem
        understates its tolerance.)"""
        span = self.span
        eps = tolerance(self.problem)
        cap = np.maximum(np.asarray(remaining, dtype=np.float64) - eps, 0.0) / max(span, 1e-300)
        return self._capped(np.minimum(np.asarray(bids, dtype=np.float64), cap))

    # -- counterfactual menus (§2.1.2 "Prices") --------------------------------------------
    def _round_for(self, reports: Reports, state: ApexRoundState | None = None) -> ApexRoundState:
        """State of the round a menu refers to: `state` (a `RoundResult.state` of this
        mechanism) if given, else the round `reports` would play from the current X_t
        (recomputed; the warm-start state is not touched)."""
        if state is not None:
            if not isinstance(state, ApexRoundState):
                raise ValueError(f"state must be the ApexRoundState of a round of this mechanism, got {state!r}")
            return state
        lam = self._capped(check_vector("bids", reports.bids, self.n))
        x_next = self.problem.argmax(lam, self.x)
        _, opt_minus, extras = self._charges(lam, self.x, x_next)
        return ApexRoundState.of(lam, self.x, x_next, opt_minus, extras.get("menu_cache"))

    def _menu_inputs(self, alternatives: np.ndarray, agents: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Validated (alternatives (m, K) of bids lambda >= 0, agent indices (m,))."""
        alts = np.asarray(alternatives, dtype=np.float64)
        agents = np.arange(self.n) if agents is None else np.asarray(agents, dtype=np.int64)
        if alts.ndim != 2 or alts.shape[0] != agents.shape[0]:
            raise ValueError(f"alternatives must have shape ({agents.shape[0]}, K), got {alts.shape}")
        # Two reductions screen the bids (NaN fails `>= 0`, +inf fails `< inf`).
        if alts.size and not (alts.min() >= 0 and alts.max() < np.inf):
            raise ValueError("alternatives must be finite bids lambda >= 0")
        return self._capped(alts), agents

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """u_{i,t}(lambda) = f_i(X~) and C_{i,t}(lambda) = F^{-i}(X^{-i}) - F^{-i}(X~), with
        X~ = H(F^{-i} + lambda f_i, start = X_t), for each agent agents[r] and alternative
        bid alternatives[r, k], others fixed (§2.1.2). The round is `state` (the
        `RoundResult.state` of the round played, start X_t, not the updated X_{t+1}), or
        without it the round `reports` would play from the current X_t; the warm-start
        state is not touched. Problems with a closed form (`ProblemMenu`) answer exactly
        and vectorized; otherwise H is re-run per alternative."""
        st = self._round_for(reports, state)
        alts, agents = self._menu_inputs(alternatives, agents)
        p = self.problem
        if self._problem_menu is not None:
            u, c = self._problem_menu.menu_all(st.lam, st.start, st.x_next, alts, agents, st.cache)
            return np.asarray(u, dtype=np.float64), self._clamp(np.asarray(c, dtype=np.float64), alts)
        if np.isnan(st.opt_minus).any():
            raise ValueError("menu_all: the problem computes charges in closed form but defines no menu_all")
        m, k = alts.shape
        u = np.empty((m, k))
        c = np.empty((m, k))
        for r, i in enumerate(agents):
            w = st.lam.copy()
            for j in range(k):
                w[i] = alts[r, j]
                x = p.argmax(w, st.start)
                total, f = self._weighted(w, x)
                u[r, j] = f[i]
                c[r, j] = st.opt_minus[i] - (total - w[i] * f[i])
        return u, self._clamp(c, alts)

    def report_grid(self, k: int) -> np.ndarray:
        """0 plus k-1 log-spaced bids in [1e-2, 1e2]: lambda is tokens per unit of utility,
        and with f_i in [0, 1] and about 1 token per round the relevant exchange rates
        lie well inside this range."""
        return np.concatenate([[0.0], np.geomspace(1e-2, 1e2, k - 1)])


class ExactMenuApex(Apex):
    """Algorithm 1 on a problem with closed-form menu breakpoints (`ProblemMenuBreakpoints`,
    e.g. unit-demand assignment): an `ExactMenu` mechanism. `Apex(problem)` returns one."""

    problem: Any

    def menu_breakpoints(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        """(m, J) bids, one inside each piece of each agent's piecewise-constant menu (§2.1.2),
        from the problem's closed form; the round is the one `menu_all` refers to."""
        st = self._round_for(reports, state)
        agents = np.arange(self.n) if agents is None else np.asarray(agents, dtype=np.int64)
        return self._capped(self.problem.menu_breakpoints(st.lam, st.x_next, agents, st.cache))


class FiniteApex(Apex):
    """Algorithm 1 on a finite outcome set (`FiniteOutcomeProblem`, e.g. `FiniteArgmax`): a
    `FiniteOutcomes` mechanism, X-bar being the empirical distribution over the outcomes
    (Braverman 2021 §2.3.4). `Apex(problem)` returns one."""

    @property
    def outcome_utilities(self) -> np.ndarray:
        """(K, n) f_j(outcome k) of the problem."""
        problem = self.problem
        assert isinstance(problem, FiniteOutcomeProblem)
        return np.asarray(problem.outcome_utilities, dtype=np.float64)
