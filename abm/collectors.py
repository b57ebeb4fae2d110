"""Per-round records: Mesa's DataCollector for series, and an array recorder for the
counterfactual menus the regret metrics need (DESIGN.md §3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from mechanisms.base import Mechanism, Reports

if TYPE_CHECKING:
    pass

#: Menus are recorded for at most this many agents (the first ones), to bound memory.
MENU_MAX_AGENTS = 256

MODEL_REPORTERS = {
    "allocated": lambda m: bool(m.last_result.allocated),
    "total_charged": lambda m: float(m.last_charges.sum()),
    "total_utility": lambda m: float(m.last_utilities.sum()),
    "mean_report": lambda m: float(m.last_reports.mean()),
    "mean_budget_remaining": lambda m: float(m.ledger.remaining.mean()),
    "n_depleted": lambda m: int((m.ledger.depleted_at >= 0).sum()),
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

    def record(self, t: int, reports: Reports) -> None:
        played = reports.bids[self.agents]
        alts = np.empty((self.agents.shape[0], self.grid.shape[0] + 1))
        alts[:, :-1] = self.grid
        alts[:, -1] = played
        self.utility[t], self.cost[t] = self.mechanism.menu_all(alts, reports, self.agents)
        self.played[t] = played

    def save(self, path: str) -> None:
        np.savez(path, agents=self.agents, grid=self.grid, utility=self.utility, cost=self.cost, played=self.played)
