"""Monetary-to-non-monetary reduction (Onyeze et al. 2025 Algorithm 1, §3.1)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult, check_vector
from mechanisms.capabilities import ExactMenu, MenuStatistic
from mechanisms.public_goods.scaled_cost import ScaledCost

#: How a report is made budget-feasible (Onyeze et al. 2025 §3.1): "p_max" zeroes it once
#: B_i < p_max (Algorithm 1, line 4); "cap" takes the minimum of report and budget (the
#: alternative §3.1 names), which an IR mechanism can never overdraw since p_i <= report.
BudgetRuleName = Literal["p_max", "cap"]


class ArtificialCurrency(Mechanism):
    """Run a monetary mechanism with artificial credits instead of money (Onyeze et al. 2025 Alg. 1).

    Agent i starts with B_i[0] = alpha_i * T * c credits for a good of cost c (c = 1 in the
    paper's normalization; another c runs the monetary mechanism re-denominated,
    `ScaledCost`); a report is zeroed once B_i < p_max (`enforce_budget`, applied by the
    model before each round), or with budget_rule "cap" capped at B_i (§3.1's alternative;
    p_max is then infinite: the ledger counts an agent depleted when its budget is gone);
    charges are the monetary payments. Cost covering gives at most alpha*T goods
    (Proposition 3.1).

    Capabilities are forwarded explicitly: wrapping an `ExactMenu` mechanism gives an
    `ExactMenuArtificialCurrency` (what `ArtificialCurrency(monetary, shares)` returns then),
    whose breakpoints are the monetary ones (charges = payments); a `MenuStatistic` one a
    `MenuStatisticArtificialCurrency`, both an `ExactMenuStatisticArtificialCurrency`.
    """

    def __new__(cls, monetary: Any = None, *args: Any, **kwargs: Any) -> ArtificialCurrency:
        if cls is ArtificialCurrency:
            cls = _FORWARDING[isinstance(monetary, ExactMenu), isinstance(monetary, MenuStatistic)]
        return super().__new__(cls)

    def __init__(
        self, monetary: Mechanism, shares: np.ndarray, *, cost: float = 1.0, budget_rule: BudgetRuleName = "p_max"
    ) -> None:
        if budget_rule not in ("p_max", "cap"):
            raise ValueError(f"budget_rule must be 'p_max' or 'cap', got {budget_rule!r}")
        self.cost = float(cost)
        # Cost 1 runs the monetary mechanism itself: no rescaling round-off.
        self.monetary = monetary if self.cost == 1.0 else ScaledCost(monetary, self.cost)
        self.shares = check_vector("shares", shares)
        total = float(self.shares.sum())
        if total > 1.0 + 1e-12:
            raise ValueError(f"shares must sum to alpha <= 1, got sum(shares) = {total}")
        self.budget_rule = budget_rule
        self.name = f"artificial_currency[{self.monetary.name}]"
        self.p_max = self.monetary.p_max if budget_rule == "p_max" else np.inf
        self.report_max = self.monetary.report_max

    @property
    def alpha(self) -> float:
        """Total share alpha = sum_i alpha_i."""
        return float(self.shares.sum())

    def initial_budgets(self, horizon: int) -> np.ndarray:
        """B_i[0] = alpha_i * T (Onyeze et al. 2025 Algorithm 1, line 1), times the cost c of a
        good: the principal's alpha * T goods' worth of credits."""
        return self.shares * horizon if self.cost == 1.0 else self.shares * (horizon * self.cost)

    def enforce_budget(self, bids: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        """Algorithm 1, line 4 (zero the report once B_i < p_max), or with budget_rule "cap"
        the report capped at the remaining budget (§3.1)."""
        if self.budget_rule == "cap":
            return np.minimum(bids, remaining)
        return super().enforce_budget(bids, remaining)

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        return self.monetary.run_round(reports, rng)

    def run_rounds(self, bids: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
        return self.monetary.run_rounds(bids, values, rng)

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.monetary.menu_all(alternatives, reports, agents, state=state)

    def report_grid(self, k: int) -> np.ndarray:
        return self.monetary.report_grid(k)


class ExactMenuArtificialCurrency(ArtificialCurrency):
    """`ArtificialCurrency` around an `ExactMenu` mechanism: exact menus pass through the
    reduction unchanged (charges = payments)."""

    monetary: Any

    def menu_breakpoints(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        return self.monetary.menu_breakpoints(reports, agents, state=state)


class MenuStatisticArtificialCurrency(ArtificialCurrency):
    """`ArtificialCurrency` around a `MenuStatistic` mechanism: the statistic and the menus
    rebuilt from it pass through unchanged (charges = payments)."""

    monetary: Any

    def menu_statistic(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        return self.monetary.menu_statistic(reports, agents, state=state)

    def menus_from_statistics(self, statistics: np.ndarray, alternatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.monetary.menus_from_statistics(statistics, alternatives)

    def breakpoints_from_statistics(self, statistics: np.ndarray) -> np.ndarray:
        return self.monetary.breakpoints_from_statistics(statistics)


class ExactMenuStatisticArtificialCurrency(ExactMenuArtificialCurrency, MenuStatisticArtificialCurrency):
    """`ArtificialCurrency` around a mechanism that is both `ExactMenu` and `MenuStatistic`
    (Proportional, Moulin, Potential)."""


#: The class `ArtificialCurrency(monetary, ...)` builds, by (ExactMenu, MenuStatistic) of `monetary`.
_FORWARDING: dict[tuple[bool, bool], type[ArtificialCurrency]] = {
    (False, False): ArtificialCurrency,
    (True, False): ExactMenuArtificialCurrency,
    (False, True): MenuStatisticArtificialCurrency,
    (True, True): ExactMenuStatisticArtificialCurrency,
}
