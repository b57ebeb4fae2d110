"""Per-round records: Mesa's DataCollector for series, an array recorder for the
counterfactual menus the regret metrics need, a per-agent trace and the outcome path
X-bar (docs/architecture.md "Recording"). What is recorded follows the mechanism's declared
capabilities (`mechanisms.capabilities`): exact menus for `ExactMenu`, the outcome vector
for `OutcomeAverage`, item prices from the typed `RoundResult.item_prices`."""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult, TimeAverage
from mechanisms.capabilities import ExactMenu, OutcomeAverage

#: Menus are recorded for at most this many agents (the first ones), to bound memory.
MENU_MAX_AGENTS = 256

MODEL_REPORTERS = {
    "allocated": lambda m: m.last_allocated,
    "total_charged": lambda m: float(m.last_charges.sum()),
    "total_utility": lambda m: float(m.last_utilities.sum()),
    "mean_report": lambda m: float(m.last_reports.mean()),
    "mean_budget_remaining": lambda m: float(m.ledger.remaining.mean()),
    "n_depleted": lambda m: m.ledger.n_depleted,
}

AGENT_REPORTERS = {
    "report": "last_report",
    "charge": "last_charge",
    "utility": "last_utility",
    "budget": "budget",
}


def make_datacollector(agent_records: bool) -> mesa.DataCollector:
    """Scalar series per round; per-agent series when `agent_records`."""
    return mesa.DataCollector(
        model_reporters=dict(MODEL_REPORTERS), agent_reporters=dict(AGENT_REPORTERS) if agent_records else None
    )


class MenuRecorder:
    """Per round t and recorded agent i, the counterfactual utility and cost of each
    report on the mechanism's grid (`Mechanism.report_grid`) plus, in the last column,
    the report actually played: arrays of shape (T, m, K + 1)."""

    def __init__(self, mechanism: Mechanism, rounds: int, n_agents: int, points: int) -> None:
        self.mechanism = mechanism
        self.agents = np.arange(min(n_agents, MENU_MAX_AGENTS))
        self.grid = np.asarray(mechanism.report_grid(points), dtype=np.float64)
        m, k = self.agents.shape[0], self.grid.shape[0] + 1
        self.utility = np.zeros((rounds, m, k))
        self.cost = np.zeros((rounds, m, k))
        self.played = np.zeros((rounds, m))
        # Exact menu breakpoints when the mechanism declares them (`ExactMenu`: (m, J)
        # alternative reports, e.g. just above each price jump of a VCG menu): their (T, m, J)
        # menus are kept beside the grid so strong regret sees the exact menu.
        self.exact = isinstance(mechanism, ExactMenu)
        self.exact_utility: np.ndarray | None = None
        self.exact_cost: np.ndarray | None = None

    def record(self, t: int, reports: Reports, result: RoundResult | None = None) -> None:
        """Menus of round t, played with `reports`; `result` is that round's `RoundResult`
        (its `state` fixes the round the menus refer to; None: the mechanism recomputes it)."""
        state = None if result is None else result.state
        played = reports.bids[self.agents]
        alts = np.empty((self.agents.shape[0], self.grid.shape[0] + 1))
        alts[:, :-1] = self.grid
        alts[:, -1] = played
        self.utility[t], self.cost[t] = self.mechanism.menu_all(alts, reports, self.agents, state=state)
        self.played[t] = played
        if self.exact and isinstance(self.mechanism, ExactMenu):  # the flag first: isinstance is slow
            extra = np.asarray(self.mechanism.menu_breakpoints(reports, self.agents, state=state), dtype=np.float64)
            u, c = self.mechanism.menu_all(extra, reports, self.agents, state=state)
            if self.exact_utility is None or self.exact_cost is None:
                self.exact_utility = np.zeros((self.utility.shape[0], *u.shape))
                self.exact_cost = np.zeros((self.utility.shape[0], *u.shape))
            self.exact_utility[t] = u
            self.exact_cost[t] = c

    def all_menus(self) -> tuple[np.ndarray, np.ndarray]:
        """(utility, cost) over every recorded alternative: grid, played, exact breakpoints."""
        if self.exact_utility is None or self.exact_cost is None:
            return self.utility, self.cost
        return (
            np.concatenate([self.utility, self.exact_utility], axis=2),
            np.concatenate([self.cost, self.exact_cost], axis=2),
        )

    def save(self, path: str) -> None:
        extra: dict[str, Any] = {}
        if self.exact_utility is not None and self.exact_cost is not None:
            extra = {"exact_utility": self.exact_utility, "exact_cost": self.exact_cost}
        np.savez(
            path, agents=self.agents, grid=self.grid, utility=self.utility, cost=self.cost, played=self.played, **extra
        )


#: Outcome vectors are kept for every round only while rounds x outcome size stays below
#: this and each round's outcome has at most TRACE_OUTCOME_SIZE entries (copying a 1e5-agent
#: outcome every round would cost more than the round itself). The sum behind X-bar is kept
#: whatever the size for a mechanism that declares `OutcomeAverage`; an undeclared numeric
#: outcome larger than TRACE_OUTCOME_SIZE is not traced at all.
TRACE_OUTCOME_MAX = 20_000_000
TRACE_OUTCOME_SIZE = 65_536
#: Entries (rounds x agents) per traced per-round array.
TRACE_MAX_ENTRIES = 25_600_000
#: Checkpoints recorded as the run goes when the per-round outcomes are not all kept.
OUTCOME_PATH_POINTS = 200


def checkpoints(rounds: int, points: int) -> np.ndarray:
    """min(points, rounds) rounds spread evenly over 0..rounds-1 (both ends included)."""
    if rounds < 1 or points < 1:
        raise ValueError(f"rounds and points must be >= 1, got rounds={rounds}, points={points}")
    return np.unique(np.linspace(0, rounds - 1, min(points, rounds)).round().astype(np.int64))


class OutcomePath:
    """The outcome path of a run (Braverman §2.1.2): the running sum behind the time average
    X-bar_t = (1/t) sum_{s<=t} X_s (eq. 16), the mean bids and the
    per-round outcomes as vectors (all rounds while small, else OUTCOME_PATH_POINTS
    checkpoints), for the scenario summaries, `plot_panels` and the convergence metrics.

    The outcome vector is the mechanism's `outcome_array(outcome)` when it declares
    `OutcomeAverage`, else the outcome itself if it is a numeric array; anything else is
    not traced (`recorded` is False)."""

    def __init__(self, mechanism: Mechanism, rounds: int) -> None:
        self.mechanism = mechanism
        # Resolved once: an isinstance check against a runtime Protocol is too slow per round.
        self._declared = mechanism if isinstance(mechanism, OutcomeAverage) else None
        self.horizon = max(int(rounds), 1)
        self.t = 0
        self.recorded = True
        #: The running sums behind X-bar and the mean bids.
        self.outcome = TimeAverage("x_bar")
        self.bids = TimeAverage("mean_bids")
        self.last_outcome: np.ndarray | None = None
        #: (T, size) outcomes of every round, or None when too large (or not traced).
        self.outcomes: np.ndarray | None = None
        self._live = checkpoints(self.horizon, OUTCOME_PATH_POINTS)
        self._live_rounds: list[int] = []
        self._live_outcomes: list[np.ndarray] = []
        self._live_means: list[np.ndarray] = []

    def _vector(self, outcome: Any) -> np.ndarray | None:
        if self._declared is not None:
            return np.asarray(self._declared.outcome_array(outcome), dtype=np.float64).ravel()
        if isinstance(outcome, np.ndarray) and outcome.ndim >= 1 and outcome.dtype.kind in "biuf":
            return outcome.astype(np.float64).ravel()
        return None

    def record(self, t: int, bids: np.ndarray, result: RoundResult) -> None:
        self.bids.add(bids)
        self.t = t + 1
        if not self.recorded:
            return
        x = self._vector(result.outcome)
        if x is not None and self._declared is None and x.size > TRACE_OUTCOME_SIZE:
            x = None  # an undeclared outcome this large (a 1e5-agent served vector) is not traced
        if x is None or (self.outcome.total is not None and x.shape != self.outcome.total.shape):
            self.recorded, self.outcome, self.outcomes, self.last_outcome = False, TimeAverage("x_bar"), None, None
            return
        if self.outcome.total is None and x.size * self.horizon <= TRACE_OUTCOME_MAX and x.size <= TRACE_OUTCOME_SIZE:
            self.outcomes = np.zeros((self.horizon, x.size))
        self.outcome.add(x)
        self.last_outcome = x
        if self.outcomes is not None and t < self.outcomes.shape[0]:
            self.outcomes[t] = x
        elif t in self._live and x.size * OUTCOME_PATH_POINTS <= TRACE_OUTCOME_MAX:
            self._live_rounds.append(t)
            self._live_outcomes.append(x.copy())
            self._live_means.append(self.outcome.mean)

    @property
    def x_bar(self) -> np.ndarray:
        """Time-average outcome vector over the rounds played (§2.1.2, eq. 16); a ValueError
        if no outcome was recorded (no round run, or outcomes not traced)."""
        return self.outcome.mean

    @property
    def mean_bids(self) -> np.ndarray:
        """(n,) every agent's mean (budget-feasible) bid over the rounds played."""
        return self.bids.mean

    def trace(self, points: int, shape: tuple[int, ...] | None = None) -> dict[str, Any]:
        """JSON-ready checkpoints — `rounds` (0-based), the `outcome` at each and the
        `running_mean` X-bar at each — at min(points, T) rounds spread over the horizon T
        (of those played); outcomes reshaped to `shape` if given."""
        if self.outcome.total is None:
            raise ValueError("trace: no outcome has been recorded")
        if self.outcomes is not None:
            rounds = [int(r) for r in checkpoints(self.horizon, points) if r < self.t]
            outcomes = [self.outcomes[r] for r in rounds]
            means, acc, prev = [], np.zeros(self.outcomes.shape[1]), 0
            for r in rounds:
                acc = acc + self.outcomes[prev : r + 1].sum(axis=0)
                prev = r + 1
                means.append(acc / (r + 1))
        else:
            keep = checkpoints(len(self._live_rounds), points) if self._live_rounds else np.zeros(0, dtype=np.int64)
            rounds = [self._live_rounds[k] for k in keep]
            outcomes = [self._live_outcomes[k] for k in keep]
            means = [self._live_means[k] for k in keep]

        def out(x: np.ndarray) -> list:
            return (x if shape is None else x.reshape(shape)).tolist()

        return {
            "rounds": rounds,
            "outcome": [out(x) for x in outcomes],
            "running_mean": [out(x) for x in means],
        }


class TraceRecorder:
    """Per-round (T, m) arrays for the first m = min(n, MENU_MAX_AGENTS) agents: true values,
    reports, realized utilities and charges (prefix regret, depletion, core factor); item
    prices when the mechanism reports them (`RoundResult.item_prices`); and the run's
    `OutcomePath` (`outcome_path`: X-bar, mean bids, the outcome per round as a vector)."""

    def __init__(self, mechanism: Mechanism, rounds: int, n_agents: int) -> None:
        self.mechanism = mechanism
        # The menu agents, fewer only beyond 1e5 rounds (each array stays <= TRACE_MAX_ENTRIES).
        self.agents = np.arange(min(n_agents, MENU_MAX_AGENTS, max(1, TRACE_MAX_ENTRIES // max(rounds, 1))))
        m = self.agents.shape[0]
        self.values = np.zeros((rounds, m))
        self.reports = np.zeros((rounds, m))
        self.utilities = np.zeros((rounds, m))
        self.charges = np.zeros((rounds, m))
        self.prices: np.ndarray | None = None
        self.outcome_path = OutcomePath(mechanism, rounds)
        self.rounds = 0

    @property
    def mean_item_prices(self) -> np.ndarray | None:
        """Mean of `RoundResult.item_prices` over the rounds that had them, from the per-round
        prices (None if the mechanism has none)."""
        if self.prices is None:
            return None
        rows = self.prices[: self.rounds]
        return rows[~np.isnan(rows).any(axis=1)].mean(axis=0)

    @property
    def outcomes(self) -> np.ndarray | None:
        """(T, size) outcome vectors of every round (None if not kept; see `OutcomePath`)."""
        return self.outcome_path.outcomes

    def record(self, t: int, values: np.ndarray, reports: np.ndarray, result: RoundResult) -> None:
        a = self.agents
        self.values[t], self.reports[t] = values[a], reports[a]
        self.utilities[t], self.charges[t] = result.utilities[a], result.charges[a]
        prices = result.item_prices
        if prices is not None:
            prices = np.asarray(prices, dtype=np.float64).ravel()
            if self.prices is None:
                self.prices = np.full((self.values.shape[0], prices.shape[0]), np.nan)
            if prices.shape[0] == self.prices.shape[1]:
                self.prices[t] = prices
        self.outcome_path.record(t, reports, result)
        self.rounds = t + 1
