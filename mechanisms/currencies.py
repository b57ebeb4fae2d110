"""Several currencies by block of periods: a one-currency mechanism whose charges in
block j of the horizon are paid in currency j (Braverman 2021 §2.3, Problem 13: several
budgets, one knapsack per currency; e.g. a token budget per term).

`BlockCurrencies(inner, d, horizon)` declares `Currencies` (d): round t belongs to block
j(t) = floor(t d / T), its charges (n,) become the (n, d) array with column j(t), and the
report cap is the inner mechanism's rule applied to the remaining budget of currency j(t)
(so no charge overdraws it). Menus stay the inner mechanism's: one round's counterfactual
cost is paid in that round's currency only (`block_of` maps it to its row).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult
from mechanisms.capabilities import OutcomeAverage


def block_of(t: np.ndarray | int, d: int, horizon: int) -> np.ndarray:
    """The currency (block of periods) of round t: floor(t d / T), in 0..d-1."""
    return np.minimum(np.asarray(t, dtype=np.int64) * d // max(horizon, 1), d - 1)


def block_rounds(d: int, horizon: int) -> np.ndarray:
    """(d,) rounds per block: the length of each currency's period."""
    return np.bincount(block_of(np.arange(horizon), d, horizon), minlength=d)


class BlockCurrencies(Mechanism):
    """`inner`'s rounds with block j(t) = floor(t d / T)'s charges in currency j (module doc).

    Capabilities forwarded explicitly: `OutcomeAverage` (X-bar is the inner mechanism's).
    Exact menus are not forwarded: strong regret reads grid menus."""

    def __init__(self, inner: Mechanism, d: int, horizon: int) -> None:
        if d < 1:
            raise ValueError(f"d must be >= 1, got {d}")
        if horizon < d:
            raise ValueError(f"horizon must be >= d = {d} (one round per currency at least), got {horizon}")
        self.inner = inner
        self.currencies = int(d)
        self.horizon = int(horizon)
        self.name = inner.name
        self.p_max = inner.p_max
        self.report_max = inner.report_max
        #: Rounds played so far: the next round's block.
        self.t = 0

    def __new__(cls, inner: Any = None, *args: Any, **kwargs: Any) -> BlockCurrencies:
        if cls is BlockCurrencies and isinstance(inner, OutcomeAverage):
            cls = OutcomeBlockCurrencies
        return super().__new__(cls)

    @property
    def block(self) -> int:
        """The currency of the round about to be played."""
        return int(block_of(self.t, self.currencies, self.horizon))

    def currency_of(self, rounds: np.ndarray) -> np.ndarray:
        """`RoundCurrency`: round t is paid in currency floor(t d / T)."""
        return block_of(rounds, self.currencies, self.horizon)

    def enforce_budget(self, bids: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        return self.inner.enforce_budget(bids, np.asarray(remaining)[:, self.block])

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        j = self.block
        result = self.inner.run_round(reports, rng)
        charges = np.zeros((np.shape(result.charges)[0], self.currencies))
        charges[:, j] = result.charges
        self.t += 1
        return replace(result, charges=charges)

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.menu_all(alternatives, reports, agents, state=state)

    def report_grid(self, k: int) -> np.ndarray:
        return self.inner.report_grid(k)


class OutcomeBlockCurrencies(BlockCurrencies):
    """`BlockCurrencies` around an `OutcomeAverage` mechanism."""

    def outcome_array(self, outcome: Any) -> np.ndarray:
        return self.inner.outcome_array(outcome)  # type: ignore[attr-defined]
