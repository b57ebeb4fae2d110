"""Declared capabilities of a mechanism (docs/architecture.md): runtime-checkable Protocols.

Everything `abm` reads from a mechanism beyond `run_round` / `menu_all` / `report_grid`
is one of these. A mechanism has a capability by defining its members; `abm` asks
`isinstance(mechanism, ExactMenu)` (never `hasattr`). Wrappers forward a capability
explicitly (see `mechanisms.public_goods.artificial_currency.artificial_currency`).

- `ExactMenu`: alternative reports, one strictly inside each piece of the piecewise-
  constant menu, so strong regret sees the exact menu envelope, not only a grid.
- `OutcomeAverage`: the outcome as a 1-d float vector, so the model can accumulate the
  time average X-bar_T = (1/T) sum_t X_t (Braverman 2021 §2.1.2, eq. 16).
- `PayoffBound`: M of Definition 3 (per-round payoffs in [0, M]).
- `FiniteOutcomes`: a finite outcome set given by its (K, n) utilities, with outcomes
  averaged (`OutcomeAverage`) as distributions over it (externalities, Pareto check).
- `BudgetRule`: the report range and what happens when B_i < p_max (the `Mechanism`
  base class implements it: zero the report).
- `Currencies`: the number d of token currencies (charges (n,) or (n, d); default 1).
- `MenuStatistic`: a round's menus as a function of a few numbers per agent, so the
  menus of many rounds are rebuilt in one vectorized call (the recorder stores only those
  numbers per round; the metrics rebuild the menu blocks as they stream).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from mechanisms.base import Reports

__all__ = [
    "BudgetRule",
    "Currencies",
    "ExactMenu",
    "FiniteOutcomes",
    "MenuStatistic",
    "OutcomeAverage",
    "PayoffBound",
    "currencies",
]


@runtime_checkable
class ExactMenu(Protocol):
    """menu_breakpoints(reports, agents, *, state) -> (m, J) alternative reports for agents
    agents[r] (all n if None), one inside each piece of that agent's piecewise-constant menu
    in the round `state` refers to (`RoundResult.state`; None: the round the mechanism would
    play with `reports` now)."""

    def menu_breakpoints(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray: ...


@runtime_checkable
class MenuStatistic(Protocol):
    """The menus of a round are a function of a small per-agent sufficient statistic
    (e.g. Onyeze et al. 2025 §3.1: a Proportional menu depends on the others' report sum and
    the value only, a Moulin or Potential menu is a posted price tau_i, served iff the
    report is >= tau_i). Then a recorder stores the (m, S) statistic per round instead of
    the (m, K) menus, and the menus of a block of rounds are rebuilt in one call.

    menu_statistic(reports, agents, *, state) -> (m, S) for agents agents[r] (all n if
    None) in the round `state` refers to (as `menu_all`); S is fixed per mechanism.
    menus_from_statistics(statistics, alternatives) -> (utility, cost): statistics
    (..., m, S) of any leading shape (a block of rounds), alternatives (..., m, K) of the
    same leading shape; equal to `menu_all(alternatives, reports, agents, state=state)` of
    each round, float for float.
    breakpoints_from_statistics(statistics) -> (..., m, J): the `ExactMenu` breakpoints of
    each round (`menu_breakpoints`), J = 0 for a mechanism without them.
    A subclass that changes `menu_all` or `menu_breakpoints` changes these too: the
    recorder never calls `menu_all` for a `MenuStatistic` mechanism (the mechanism contract
    test checks the three agree for every registered mechanism)."""

    def menu_statistic(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray: ...

    def menus_from_statistics(
        self, statistics: np.ndarray, alternatives: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def breakpoints_from_statistics(self, statistics: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class OutcomeAverage(Protocol):
    """outcome_array(outcome) -> 1-d float array; X-bar is the mean of these over rounds
    (Braverman 2021 §2.1.2, eq. 16: a bistochastic matrix for allocation, a lottery for voting)."""

    def outcome_array(self, outcome: Any) -> np.ndarray: ...


@runtime_checkable
class PayoffBound(Protocol):
    """payoff_bound: M of Definition 3 (every per-round utility lies in [0, M])."""

    payoff_bound: float


@runtime_checkable
class FiniteOutcomes(Protocol):
    """outcome_utilities: (K, n) f_j(outcome k); `outcome_array` gives the indicator of k,
    so X-bar is the empirical distribution over the K outcomes (Braverman 2021 §2.3.4)."""

    outcome_utilities: np.ndarray

    def outcome_array(self, outcome: Any) -> np.ndarray: ...


@runtime_checkable
class BudgetRule(Protocol):
    """p_max: the largest charge one report can incur; enforce_budget(bids, remaining) ->
    the bids the round is run with, such that no charge exceeds the remaining budget."""

    p_max: float

    def enforce_budget(self, bids: np.ndarray, remaining: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class Currencies(Protocol):
    """currencies: d, the number of token currencies (charges have shape (n, d) if d > 1)."""

    currencies: int


@runtime_checkable
class RoundCurrency(Protocol):
    """Each round is paid in one currency (a budget per block of periods): `currency_of`
    maps (0-based) rounds to their currency in 0..d-1, so strong regret's LP with d budget
    rows splits into d one-row LPs (Braverman 2021 §2.3, Problem 13)."""

    def currency_of(self, rounds: np.ndarray) -> np.ndarray: ...


def currencies(mechanism: object) -> int:
    """d of `mechanism`: its declared `Currencies.currencies`, else 1."""
    return int(mechanism.currencies) if isinstance(mechanism, Currencies) else 1
