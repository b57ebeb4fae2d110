"""The one-round mechanism interface every allocation rule implements (docs/architecture.md).

A mechanism is a pure function of this round's reports: it never learns and never
touches Mesa. Reports are scalars per agent (a reported value for public goods, a
bid intensity lambda_i for APEX); true values travel beside them only so the
mechanism can score the utility each agent actually derived.

Everything else a caller may read from a mechanism is a declared capability
(`mechanisms.capabilities`: ExactMenu, OutcomeAverage, PayoffBound, FiniteOutcomes,
BudgetRule, Currencies) or a typed `RoundResult` field.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Tolerance for comparisons of token amounts (float64 round-off, not economics).
TOKEN_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class Reports:
    """What the mechanism sees in one round.

    bids: (n,) reports (already budget-feasible: see `Mechanism.enforce_budget`).
    values: (n,) true private values this round, used only to score utilities; (n, m) for
        m public goods (Onyeze et al. 2025 §2.1), where a report scales agent i's value
        vector (`mechanisms.public_goods.goods`).
    context: the round's public draw beside the values (the cost function c[t] of Onyeze et al.
        2025 §2.1, drawn with V[t] from D), or None; single-good mechanisms ignore it.
    """

    bids: np.ndarray
    values: np.ndarray
    context: Any = None


@dataclass(frozen=True, slots=True)
class RoundResult:
    """Outcome of one round (docs/architecture.md): every field `abm` reads is typed here.

    outcome: the mechanism's outcome (an allocation, a lottery, an arm, ...).
    utilities: (n,) utility each agent derived. charges: (n,) or (n, d) tokens, >= 0.
    allocated: whether anything was allocated this round (set by the mechanism).
    item_prices: per-round item prices when the mechanism has them (APEX on assignment,
        Braverman 2021 §2.1.2 "Prices"), else None.
    state: the round state a counterfactual menu of this round needs (APEX: lambda, X_t,
        X_{t+1}, F^{-i}(X^{-i}) and the problem's per-round cache); pass it back as
        `menu_all(..., state=result.state)`. None for stateless mechanisms.
    extras: diagnostics for tests and scenarios; `abm` never reads them.
    """

    outcome: Any
    utilities: np.ndarray
    charges: np.ndarray
    allocated: bool
    item_prices: np.ndarray | None = None
    state: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


class TimeAverage:
    """Running sum of equally shaped float arrays and its mean: the one accumulator behind
    every time average X-bar_T = (1/T) sum_t X_t (Braverman 2021 §2.1.2, eq. 16), mean bids and
    mean item prices. `name` labels the error raised when nothing was added yet."""

    def __init__(self, name: str = "mean") -> None:
        self.name = name
        self.total: np.ndarray | None = None
        self.count = 0

    def add(self, x: Any) -> None:
        arr = np.asarray(x)
        if self.total is None:
            self.total = arr.astype(np.float64)  # always a copy: the sum is ours to update
        elif arr.shape != self.total.shape:
            raise ValueError(f"{self.name}: shape {arr.shape} differs from the earlier {self.total.shape}")
        else:
            # In place, casting bools and ints on the fly: a fresh (n,) float temporary per
            # round costs more than the addition at n = 1e5 (page faults on each allocation).
            np.add(self.total, arr, out=self.total)
        self.count += 1

    @property
    def mean(self) -> np.ndarray:
        if self.total is None:
            raise ValueError(f"{self.name}: no round has been run yet")
        return self.total / self.count


def check_vector(name: str, x: Any, n: int | None = None, *, nonneg: bool = True) -> np.ndarray:
    """Validate a per-agent float vector, raising a ValueError that names the field."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {arr.shape[0]}")
    if arr.size == 0:
        return arr
    # Two reductions screen the common case without temporaries (NaN propagates through
    # min and max, and +-inf shows in one of them); the slow path names the culprit.
    lo, hi = arr.min(), arr.max()
    if np.isfinite(lo) and np.isfinite(hi) and (lo >= 0 or not nonneg):
        return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] must be finite, got {arr[i]}")
    i = int(np.flatnonzero(arr < 0)[0])
    raise ValueError(f"{name}[{i}] must be >= 0, got {arr[i]}")


def clip_reports(bids: np.ndarray, report_max: float) -> np.ndarray:
    """`bids` played within the report range [0, report_max] (docs/architecture.md, "Report
    range"): a report above report_max is played as report_max. The array itself when
    nothing is above (no copy on the hot path)."""
    if report_max < np.inf and bids.size and bids.max() > report_max:
        return np.minimum(bids, report_max)
    return bids


def check_reports(
    reports: Reports, n: int | None = None, report_max: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """(bids, values) of a round, validated: finite, bids >= 0, both of one length (`n`
    when the mechanism fixes the number of agents), bids played within [0, report_max]
    (`clip_reports`). Errors name `bids` or `values`."""
    bids = check_vector("bids", reports.bids, n)
    values = check_vector("values", reports.values, bids.shape[0], nonneg=False)
    return clip_reports(bids, report_max), values


class Mechanism(ABC):
    """One-round allocation rule with token charges (docs/architecture.md)."""

    #: Short name used in configs and summaries.
    name: str = "mechanism"
    #: Largest charge any single report can incur (Onyeze et al. 2025 Alg. 1's p_max); np.inf if unbounded.
    p_max: float = np.inf
    #: The report range is [0, report_max] (docs/architecture.md, "Report range"): every
    #: finite report >= 0 is valid, and one above report_max is played as report_max (each
    #: mechanism documents why that cap is harmless, or exact). np.inf: no cap, the
    #: mechanism's arithmetic holds for every finite report.
    report_max: float = np.inf

    @abstractmethod
    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        """Allocate and charge for one round."""

    def menu_all(
        self,
        alternatives: np.ndarray,
        reports: Reports,
        agents: np.ndarray | None = None,
        *,
        state: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Counterfactual (utility, cost), each (m, K): agent agents[r] reports
        alternatives[r, k], everyone else as in `reports` (agents defaults to all n), in the
        round `state` refers to (`RoundResult.state` of that round; stateless mechanisms
        ignore it, stateful ones recompute it from their current state when None).

        This generic version re-runs the round per alternative; mechanisms override it
        with an exact vectorized form where their structure allows (docs/architecture.md)."""
        agents = np.arange(reports.bids.shape[0]) if agents is None else np.asarray(agents)
        m, k = alternatives.shape
        u = np.empty((m, k))
        c = np.empty((m, k))
        rng = np.random.default_rng(0)
        for r, i in enumerate(agents):
            bids = reports.bids.copy()
            for j in range(k):
                bids[i] = alternatives[r, j]
                res = self.run_round(Reports(bids, reports.values), rng)
                u[r, j] = res.utilities[i]
                c[r, j] = res.charges[i]
        return u, c

    def run_rounds(self, bids: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
        """Rounds on the rows of (N, n) bids and values, in order: (outcomes, charges), the N
        rounds' outcomes (a sequence) and their charges stacked (N, ...). This generic version
        calls `run_round` row by row; a stateless mechanism overrides it with a vectorized form
        giving the same values (the ex-ante core plays thousands of independent rounds)."""
        results = [self.run_round(Reports(b, v), rng) for b, v in zip(bids, values, strict=True)]
        return [r.outcome for r in results], np.stack([np.asarray(r.charges) for r in results])

    def menu(
        self, i: int, alternatives: np.ndarray, reports: Reports, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`menu_all` for one agent: (utility, cost) arrays of shape (K,)."""
        u, c = self.menu_all(np.asarray(alternatives, dtype=float)[None, :], reports, np.array([i]), state=state)
        return u[0], c[0]

    def enforce_budget(self, bids: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        """Budget-feasibility rule (Onyeze et al. 2025 Algorithm 1, line 4): zero the report of every
        agent whose remaining budget is below p_max, so no charge can overdraw it."""
        if not np.isfinite(self.p_max):
            return bids
        return np.where(remaining >= self.p_max - TOKEN_TOL, bids, 0.0)

    def state_dict(self) -> dict[str, Any]:
        """The mechanism's state across rounds (APEX's X_t and time averages, a wrapper's
        counters), for checkpoints: by default every data attribute, recursively
        (`mechanisms.state.state_of`); the mechanism itself is rebuilt from the config."""
        from mechanisms.state import state_of

        return state_of(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load `state_dict()` of a mechanism built from the same config (StateError if it does not fit)."""
        from mechanisms.state import load_state

        load_state(self, state)

    def report_grid(self, k: int) -> np.ndarray:
        """Default alternatives for counterfactual menus: 0 plus k-1 log-spaced reports in
        [1e-3, 1] (documented grid of the metrics; mechanisms with exact breakpoints override)."""
        return np.concatenate([[0.0], np.logspace(-3, 0, k - 1)])
