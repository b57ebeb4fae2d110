"""A single good of cost c (Onyeze et al. 2025 §3.1: "a single excludable good with cost c")
from a monetary mechanism written for the normalized cost 1.

Re-denominating the currency in units of c gives M_c(V) = c * M_1(V / c): the same
allocation, payments times c. Every property Onyeze et al. 2025 ask of M (IR, CC, IC) is
unit-free, so it carries over; DWL scales by c.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult
from mechanisms.capabilities import ExactMenu, MenuStatistic


class ScaledCost(Mechanism):
    """The monetary mechanism `monetary` (cost 1) for a good of cost `cost` > 0.

    Reports and alternatives are divided by c on the way in, charges (and exact-menu
    breakpoints) multiplied by c on the way out; utilities are the true values, untouched.
    `report_grid` is forwarded unchanged: reports stay on the value scale, which the
    good's cost does not change. Like `ArtificialCurrency`, wrapping an `ExactMenu`
    mechanism gives an `ExactMenuScaledCost`, a `MenuStatistic` one a
    `MenuStatisticScaledCost` (the statistic is the unit mechanism's on the reports in
    units of c), both an `ExactMenuStatisticScaledCost`. `RoundResult.extras` are the monetary
    mechanism's, in units of c (`extras["cost_unit"]` = c).
    """

    #: The last round's reports in units of c: a cache, not state (`mechanisms.state`).
    transient_state = ("_last",)

    def __new__(cls, monetary: Any = None, *args: Any, **kwargs: Any) -> ScaledCost:
        if cls is ScaledCost:
            cls = _FORWARDING[isinstance(monetary, ExactMenu), isinstance(monetary, MenuStatistic)]
        return super().__new__(cls)

    def __init__(self, monetary: Mechanism, cost: float) -> None:
        cost = float(cost)
        if not (np.isfinite(cost) and cost > 0):
            raise ValueError(f"cost must be finite and > 0, got {cost}")
        self.monetary = monetary
        self.cost = cost
        self.name = f"{monetary.name}[cost={cost:g}]"
        self.p_max = monetary.p_max * cost
        self.report_max = monetary.report_max * cost
        self._last: tuple[Reports, Reports] | None = None

    def _unit(self, reports: Reports) -> Reports:
        """`reports` in units of c. One round's run_round, menus and breakpoints all get the
        same Reports object, whose arrays nobody mutates once played: divide once per object."""
        last = self._last
        if last is not None and last[0] is reports:
            return last[1]
        unit = Reports(reports.bids / self.cost, reports.values)
        self._last = (reports, unit)
        return unit

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        res = self.monetary.run_round(self._unit(reports), rng)
        return replace(res, charges=res.charges * self.cost, extras={**res.extras, "cost_unit": self.cost})

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        u, c = self.monetary.menu_all(
            np.asarray(alternatives, dtype=np.float64) / self.cost, self._unit(reports), agents, state=state
        )
        return u, c * self.cost

    def report_grid(self, k: int) -> np.ndarray:
        return self.monetary.report_grid(k)


class ExactMenuScaledCost(ScaledCost):
    """`ScaledCost` around an `ExactMenu` mechanism: the breakpoints, in reports, times c."""

    monetary: Any

    def menu_breakpoints(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        return np.asarray(self.monetary.menu_breakpoints(self._unit(reports), agents, state=state)) * self.cost


class MenuStatisticScaledCost(ScaledCost):
    """`ScaledCost` around a `MenuStatistic` mechanism: the unit mechanism's statistic of the
    reports in units of c; menus rebuilt as `menu_all` computes them (alternatives divided
    by c, costs times c)."""

    monetary: Any

    def menu_statistic(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        return self.monetary.menu_statistic(self._unit(reports), agents, state=state)

    def menus_from_statistics(self, statistics: np.ndarray, alternatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, c = self.monetary.menus_from_statistics(statistics, np.asarray(alternatives, dtype=np.float64) / self.cost)
        return u, c * self.cost

    def breakpoints_from_statistics(self, statistics: np.ndarray) -> np.ndarray:
        return np.asarray(self.monetary.breakpoints_from_statistics(statistics)) * self.cost


class ExactMenuStatisticScaledCost(ExactMenuScaledCost, MenuStatisticScaledCost):
    """`ScaledCost` around a mechanism that is both `ExactMenu` and `MenuStatistic`."""


#: The class `ScaledCost(monetary, c)` builds, by (ExactMenu, MenuStatistic) of `monetary`.
_FORWARDING: dict[tuple[bool, bool], type[ScaledCost]] = {
    (False, False): ScaledCost,
    (True, False): ExactMenuScaledCost,
    (False, True): MenuStatisticScaledCost,
    (True, True): ExactMenuStatisticScaledCost,
}
