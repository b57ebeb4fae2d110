"""A transparent mechanism wrapper that records the outcome path of a run — the per-round
outcome X_{t+1}, its running mean X-bar (Braverman §2.1.2, eq. 16) and the mean bids — at
up to `points` checkpoints, for the scenario summaries and `plot_panels`.

Everything else (menus, budget rule, report grid, name) is delegated unchanged, so the
model and the collectors see the wrapped mechanism exactly. Also the unit value model
shared by the APEX scenarios (voting, two-sided).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from abm.scenario import ValueModel
from mechanisms.base import Mechanism, Reports, RoundResult


class UnitValues(ValueModel):
    """V_i[t] = 1: in APEX the utilities f_i are fixed at construction and only the bid
    lambda varies, so learners see a constant value (a bid is v / r = 1 / r)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def sample(self, t: int, rng: np.random.Generator) -> np.ndarray:
        return np.ones(self.n)


class OutcomeTrace(Mechanism):
    """Records outcomes of `inner` (converted by `as_array`) while delegating everything."""

    def __init__(
        self, inner: Mechanism, rounds: int, points: int = 200, as_array: Callable[[Any], np.ndarray] | None = None
    ) -> None:
        if rounds < 1 or points < 1:
            raise ValueError(f"rounds and points must be >= 1, got rounds={rounds}, points={points}")
        self.inner = inner
        self.name = inner.name
        self.p_max = inner.p_max
        self.as_array = as_array or (lambda x: np.asarray(x, dtype=np.float64))
        self.checkpoints = np.unique(np.linspace(0, rounds - 1, min(points, rounds)).round().astype(np.int64))
        self.t = 0
        self.outcome_sum: np.ndarray | None = None
        self.bid_sum: np.ndarray | None = None
        self.rounds_seen: list[int] = []
        self.snapshots: list[np.ndarray] = []
        self.running_means: list[np.ndarray] = []

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        res = self.inner.run_round(reports, rng)
        x = self.as_array(res.outcome)
        bids = np.asarray(reports.bids, dtype=np.float64)
        self.outcome_sum = x.copy() if self.outcome_sum is None else self.outcome_sum + x
        self.bid_sum = bids.copy() if self.bid_sum is None else self.bid_sum + bids
        if self.t in self.checkpoints:
            self.rounds_seen.append(self.t)
            self.snapshots.append(x)
            self.running_means.append(self.outcome_sum / (self.t + 1))
        self.t += 1
        return res

    @property
    def x_bar(self) -> np.ndarray:
        """Time-average outcome over the rounds played (§2.1.2, eq. 16)."""
        if self.outcome_sum is None:
            raise ValueError("x_bar: no round has been run yet")
        return self.outcome_sum / self.t

    @property
    def mean_bids(self) -> np.ndarray:
        if self.bid_sum is None:
            raise ValueError("mean_bids: no round has been run yet")
        return self.bid_sum / self.t

    def trace(self) -> dict[str, Any]:
        """JSON-ready checkpoints: rounds, outcome at each, running mean at each."""
        return {
            "rounds": list(self.rounds_seen),
            "outcome": [s.tolist() for s in self.snapshots],
            "running_mean": [s.tolist() for s in self.running_means],
        }

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.menu_all(alternatives, reports, agents)

    def enforce_budget(self, bids: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        return self.inner.enforce_budget(bids, remaining)

    def report_grid(self, k: int) -> np.ndarray:
        return self.inner.report_grid(k)
