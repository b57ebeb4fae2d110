"""Monetary-to-non-monetary reduction (seed 000 Algorithm 1, §3.1)."""

from __future__ import annotations

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult, check_vector


class ArtificialCurrency(Mechanism):
    """Run a monetary mechanism with artificial credits instead of money (seed 000 Alg. 1).

    Agent i starts with B_i[0] = alpha_i * T credits; a report is zeroed once
    B_i < p_max (`enforce_budget`, applied by the model before each round); charges are
    the monetary payments. Cost covering gives at most alpha*T goods (Proposition 3.1).
    """

    def __init__(self, monetary: Mechanism, shares: np.ndarray) -> None:
        self.monetary = monetary
        self.shares = check_vector("shares", shares)
        total = float(self.shares.sum())
        if total > 1.0 + 1e-12:
            raise ValueError(f"shares must sum to alpha <= 1, got sum(shares) = {total}")
        self.name = f"artificial_currency[{monetary.name}]"
        self.p_max = monetary.p_max
        if callable(getattr(monetary, "menu_breakpoints", None)):
            # Exact menus pass through the reduction unchanged (charges = payments).
            self.menu_breakpoints = monetary.menu_breakpoints

    @property
    def alpha(self) -> float:
        """Total share alpha = sum_i alpha_i."""
        return float(self.shares.sum())

    def initial_budgets(self, horizon: int) -> np.ndarray:
        """B_i[0] = alpha_i * T (seed 000 Algorithm 1, line 1)."""
        return self.shares * horizon

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        return self.monetary.run_round(reports, rng)

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.monetary.menu_all(alternatives, reports, agents)

    def report_grid(self, k: int) -> np.ndarray:
        return self.monetary.report_grid(k)
