"""Monetary-to-non-monetary reduction (Onyeze et al. Algorithm 1, §3.1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult, check_vector
from mechanisms.capabilities import ExactMenu


class ArtificialCurrency(Mechanism):
    """Run a monetary mechanism with artificial credits instead of money (Onyeze et al. Alg. 1).

    Agent i starts with B_i[0] = alpha_i * T credits; a report is zeroed once
    B_i < p_max (`enforce_budget`, applied by the model before each round); charges are
    the monetary payments. Cost covering gives at most alpha*T goods (Proposition 3.1).

    Capabilities are forwarded explicitly: wrapping an `ExactMenu` mechanism gives an
    `ExactMenuArtificialCurrency` (what `ArtificialCurrency(monetary, shares)` returns then),
    whose breakpoints are the monetary ones (charges = payments).
    """

    def __new__(cls, monetary: Any = None, *args: Any, **kwargs: Any) -> ArtificialCurrency:
        if cls is ArtificialCurrency and isinstance(monetary, ExactMenu):
            cls = ExactMenuArtificialCurrency
        return super().__new__(cls)

    def __init__(self, monetary: Mechanism, shares: np.ndarray) -> None:
        self.monetary = monetary
        self.shares = check_vector("shares", shares)
        total = float(self.shares.sum())
        if total > 1.0 + 1e-12:
            raise ValueError(f"shares must sum to alpha <= 1, got sum(shares) = {total}")
        self.name = f"artificial_currency[{monetary.name}]"
        self.p_max = monetary.p_max

    @property
    def alpha(self) -> float:
        """Total share alpha = sum_i alpha_i."""
        return float(self.shares.sum())

    def initial_budgets(self, horizon: int) -> np.ndarray:
        """B_i[0] = alpha_i * T (Onyeze et al. Algorithm 1, line 1)."""
        return self.shares * horizon

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
