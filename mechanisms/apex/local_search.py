"""Local search as APEX's heuristic H (Braverman 2021, abstract and §2.1: APEX "can be
combined with any optimization algorithm that is based on local search").

`LocalSearchProblem` is an `ApexProblem` (mechanisms.apex.algorithm1) whose H is
best-improvement hill climbing: from `start` (X_t), move to the neighbour with the highest
F = base + sum_j weights_j f_j while that improves F by more than `tol`, at most `max_moves`
times. A plug-in implements the outcome space by `initial` and `neighbours`, the players'
f_i by `utilities` and the principal's f_0 + R by `base`; `Apex(problem)` is then
Algorithm 1 with this H for X_{t+1} and for every X^{-i}_{t+1}.

Such an H is not exact and need not be locally correct: charges may come out negative
(recorded by `Apex.audit`), and `mechanisms.apex.monotonicity.monotonicity_check` tests
Definition 1 on it empirically.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np


def hill_climb(
    objective: Callable[[Any], float],
    neighbours: Callable[[Any], Iterable[Any]],
    start: Any,
    *,
    max_moves: int = 10_000,
    tol: float = 1e-12,
) -> tuple[Any, int]:
    """(local maximum, moves made): best-improvement ascent of `objective` from `start`.
    A move is taken only if it gains more than tol * max(1, |F|) (so round-off never
    cycles); ties between neighbours go to the first one `neighbours` lists."""
    x, fx = start, float(objective(start))
    for moves in range(max_moves):
        best, best_value = None, fx + tol * max(1.0, abs(fx))
        for y in neighbours(x):
            fy = float(objective(y))
            if fy > best_value:
                best, best_value = y, fy
        if best is None:
            return x, moves
        x, fx = best, best_value
    return x, max_moves


class LocalSearchProblem(ABC):
    """An APEX problem with H = best-improvement local search over `neighbours`.

    Implement `n`, `utilities(x) -> (n,)` (the f_i), `initial()` (X_0) and `neighbours(x)`
    (the outcomes one local move away); override `base(x)` for f_0 + R (default 0).
    `argmax(weights, start)` is the hill climb from `start` (the initial outcome when
    None). `utility_span = 1` declares f_i in [0, 1] (then APEX caps charges at
    lambda_i and budgets can never be overdrawn); change it if yours differ."""

    n: int
    utility_span: float = 1.0
    max_moves: int = 10_000
    tol: float = 1e-12

    @abstractmethod
    def utilities(self, x: Any) -> np.ndarray:
        """(n,) f_i(x)."""

    @abstractmethod
    def initial(self) -> Any:
        """X_0, Algorithm 1 line 1."""

    @abstractmethod
    def neighbours(self, x: Any) -> Iterable[Any]:
        """The outcomes one local move away from x."""

    def base(self, x: Any) -> float:
        """f_0(x) + R_t(x): 0 unless overridden."""
        return 0.0

    def value(self, weights: np.ndarray, x: Any) -> float:
        """F(x) = f_0(x) + R(x) + sum_j weights_j f_j(x)."""
        return float(self.base(x)) + float(np.asarray(weights) @ np.asarray(self.utilities(x), dtype=np.float64))

    def argmax(self, weights: np.ndarray, start: Any = None) -> Any:
        """H(F, start): the local maximum of F the hill climb reaches from start."""
        x0 = self.initial() if start is None else start
        x, _ = hill_climb(lambda y: self.value(weights, y), self.neighbours, x0, max_moves=self.max_moves,
                          tol=self.tol)
        return x
