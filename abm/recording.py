"""Per-round records: Mesa's DataCollector for series, and an array recorder for the
counterfactual menus the regret metrics need (DESIGN.md §3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult

if TYPE_CHECKING:
    pass

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
        # Exact menu breakpoints when the mechanism provides them (`menu_breakpoints(reports,
        # agents) -> (m, J)` alternative reports, e.g. just above each price jump of a VCG menu):
        # their (T, m, J) menus are kept beside the grid so strong regret sees the exact menu.
        self.exact = callable(getattr(mechanism, "menu_breakpoints", None))
        self.exact_utility: np.ndarray | None = None
        self.exact_cost: np.ndarray | None = None

    def record(self, t: int, reports: Reports) -> None:
        played = reports.bids[self.agents]
        alts = np.empty((self.agents.shape[0], self.grid.shape[0] + 1))
        alts[:, :-1] = self.grid
        alts[:, -1] = played
        self.utility[t], self.cost[t] = self.mechanism.menu_all(alts, reports, self.agents)
        self.played[t] = played
        if self.exact:
            extra = np.asarray(self.mechanism.menu_breakpoints(reports, self.agents), dtype=np.float64)
            u, c = self.mechanism.menu_all(extra, reports, self.agents)
            if self.exact_utility is None:
                self.exact_utility = np.zeros((self.utility.shape[0], *u.shape))
                self.exact_cost = np.zeros((self.utility.shape[0], *u.shape))
            self.exact_utility[t], self.exact_cost[t] = u, c

    def all_menus(self) -> tuple[np.ndarray, np.ndarray]:
        """(utility, cost) over every recorded alternative: grid, played, exact breakpoints."""
        if self.exact_utility is None:
            return self.utility, self.cost
        return (
            np.concatenate([self.utility, self.exact_utility], axis=2),
            np.concatenate([self.cost, self.exact_cost], axis=2),
        )

    def save(self, path: str) -> None:
        extra = {}
        if self.exact_utility is not None:
            extra = {"exact_utility": self.exact_utility, "exact_cost": self.exact_cost}
        np.savez(
            path, agents=self.agents, grid=self.grid, utility=self.utility, cost=self.cost, played=self.played, **extra
        )


#: Outcome vectors are traced only while rounds x outcome size stays below this, and each
#: round's outcome has at most TRACE_OUTCOME_SIZE entries (copying a 1e5-agent outcome
#: every round would cost more than the round itself).
TRACE_OUTCOME_MAX = 20_000_000
TRACE_OUTCOME_SIZE = 65_536
#: Entries (rounds x agents) per traced per-round array.
TRACE_MAX_ENTRIES = 25_600_000


class TraceRecorder:
    """Per-round (T, m) arrays for the first m = min(n, MENU_MAX_AGENTS) agents: true values,
    reports, realized utilities and charges (prefix regret, depletion, core factor); item
    prices when the mechanism reports them (`extras["item_prices"]`); and the outcome as a
    vector (the mechanism's `outcome_array(outcome)` if it has one, else a numeric array
    outcome) for the running average X-bar_t of seed 002 §2.1.2."""

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
        self.outcomes: np.ndarray | None = None
        self._outcome_ok = True
        self.rounds = 0

    def record(self, t: int, values: np.ndarray, reports: np.ndarray, result: RoundResult) -> None:
        a = self.agents
        self.values[t], self.reports[t] = values[a], reports[a]
        self.utilities[t], self.charges[t] = result.utilities[a], result.charges[a]
        prices = result.extras.get("item_prices")
        if prices is not None:
            prices = np.asarray(prices, dtype=np.float64).ravel()
            if self.prices is None:
                self.prices = np.full((self.values.shape[0], prices.shape[0]), np.nan)
            if prices.shape[0] == self.prices.shape[1]:
                self.prices[t] = prices
        if self._outcome_ok:
            self._record_outcome(t, result.outcome)
        self.rounds = t + 1

    def _record_outcome(self, t: int, outcome: object) -> None:
        to_array = getattr(self.mechanism, "outcome_array", None)
        if callable(to_array):
            x = np.asarray(to_array(outcome), dtype=np.float64).ravel()
        elif isinstance(outcome, np.ndarray) and outcome.ndim >= 1 and outcome.dtype.kind in "biuf":
            x = outcome.astype(np.float64).ravel()
        else:
            self._outcome_ok = False
            return
        if self.outcomes is None:
            if x.size * self.values.shape[0] > TRACE_OUTCOME_MAX or x.size > TRACE_OUTCOME_SIZE:
                self._outcome_ok = False
                return
            self.outcomes = np.zeros((self.values.shape[0], x.size))
        if x.size != self.outcomes.shape[1]:
            self._outcome_ok, self.outcomes = False, None
            return
        self.outcomes[t] = x
