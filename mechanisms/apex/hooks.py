"""Optional fast paths and declarations of an APEX problem (Braverman 2021 §2.1-§2.2), as
runtime-checkable Protocols that `Apex` / `InfinitesimalApex` test with `isinstance`.

A problem implements `mechanisms.apex.algorithm1.ApexProblem` (n, utilities, base,
argmax, initial) and, optionally, any of these. Algorithm 1:
- `ArgmaxWithoutEach`: all X^{-i}_{t+1} at once instead of n calls of H;
- `ClosedFormExternalities`: C_{i,t} in closed form (unit-demand VCG payments, no re-solves);
  an extras entry "menu_cache" (a dict) seeds the round's menu cache with work the menu
  hooks reuse (the VCG prices and assignment);
- `ProblemMenu`: the exact per-round menu of `Apex.menu_all`; `cache` is the round's
  dict (holding "opt_minus" = F^{-i}(X^{-i}_{t+1}) unless the externalities were closed form);
- `ProblemMenuBreakpoints`: one bid inside each piece of the piecewise-constant menu
  (then `Apex(problem)` is an `ExactMenu` mechanism);
- `ProblemItemPrices`: per-round item prices for reading the output (§2.1.2);
- `OutcomeAsArray`: the outcome as a distribution, for the time average X-bar;
- `FiniteOutcomeProblem`: a finite outcome set with (K, n) utilities (then `Apex(problem)`
  is a `FiniteOutcomes` mechanism);
- `DeclaredSpan` (`utility_span`, default 1): an upper bound on max f_i - min f_i; declaring
  it also turns on the upper clamp of charges at lambda_i * utility_span;
- `DeclaredTolerance` (`tolerance`, default 0): how far H may stop short of a maximizer.
Algorithm 2 (§2.2):
- `QuadraticPriceProblem` (required): gradients(x) (n, d) and neg_hessian(weights, x);
- `TangentBasis`: an orthonormal basis of the tangent space of X at x (identity if absent);
- `QuadraticPriceBound`: sup of g^T H_t^{-1} g, for the budget cap (no cap if absent);
- `BatchedQuadraticMenu` (with `linear_utilities` True) and `AgentUtilities`: exact
  vectorized menus;
- `QuadraticMenu`: the menu's utilities and quadratic forms in one call, where the problem
  has them in closed form (the simplex with a diagonal Hessian of -F).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: The largest bid lambda APEX plays (its report range [0, LAMBDA_MAX]; a larger bid is
#: played as LAMBDA_MAX). lambda is tokens per unit of utility, and with f_i in [0, 1] and
#: about one token per round the relevant bids lie in [1e-2, 1e2] (`report_grid`); the
#: solvers behind H hold their tolerance relative to lambda * span, and a lambda of order
#: 1e300 overflows F itself (lambda * f_i, the regularized objectives), so past 1e6 no
#: outcome or charge would be computed to the problem's tolerance. The budget rule
#: (`enforce_budget`) caps lambda by the remaining budget as well.
LAMBDA_MAX = 1e6


@runtime_checkable
class ArgmaxWithoutEach(Protocol):
    def argmax_without_each(self, weights: np.ndarray, start: Any) -> Sequence[Any]:
        """X^{-i}_{t+1} = H(F - weights_i f_i, start) for every i."""
        ...


@runtime_checkable
class ClosedFormExternalities(Protocol):
    def externalities(self, weights: np.ndarray, start: Any, x_next: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """(C_{i,t} (n,), extras; an "item_prices" entry is the round's item prices)."""
        ...


@runtime_checkable
class ProblemMenu(Protocol):
    def menu_all(
        self,
        weights: np.ndarray,
        start: Any,
        x_next: Any,
        alternatives: np.ndarray,
        agents: np.ndarray,
        cache: dict[str, Any],
    ) -> tuple[np.ndarray, np.ndarray]:
        """(utility, cost), each (m, K), of agents[r] bidding alternatives[r, k]."""
        ...


@runtime_checkable
class ProblemMenuBreakpoints(Protocol):
    def menu_breakpoints(
        self, weights: np.ndarray, x_next: Any, agents: np.ndarray, cache: dict[str, Any]
    ) -> np.ndarray:
        """(m, J) bids, one inside each piece of agent agents[r]'s menu."""
        ...


@runtime_checkable
class ProblemItemPrices(Protocol):
    def item_prices(self, weights: np.ndarray, x_next: Any) -> np.ndarray:
        """(m,) per-round item prices in tokens."""
        ...


@runtime_checkable
class OutcomeAsArray(Protocol):
    def as_array(self, x: Any) -> np.ndarray:
        """The outcome as a float array (a distribution over outcomes for X-bar)."""
        ...


@runtime_checkable
class FiniteOutcomeProblem(Protocol):
    outcome_utilities: np.ndarray

    def as_array(self, x: Any) -> np.ndarray: ...


@runtime_checkable
class DeclaredSpan(Protocol):
    utility_span: float


@runtime_checkable
class DeclaredTolerance(Protocol):
    tolerance: float


@runtime_checkable
class QuadraticPriceProblem(Protocol):
    def gradients(self, x: Any) -> np.ndarray:
        """(n, d) grad f_i(x) in ambient coordinates."""
        ...

    def neg_hessian(self, weights: np.ndarray, x: Any) -> np.ndarray:
        """(d, d) Hessian of -F at x (batched over leading axes of x for batched menus)."""
        ...


@runtime_checkable
class TangentBasis(Protocol):
    def tangent_basis(self, x: Any) -> np.ndarray: ...


@runtime_checkable
class QuadraticPriceBound(Protocol):
    quadratic_price_bound: float


@runtime_checkable
class BatchedQuadraticMenu(Protocol):
    linear_utilities: bool

    def menu_outcomes(self, weights: np.ndarray, agents: np.ndarray, alternatives: np.ndarray, start: Any) -> Any:
        """(m, K, ...) outcomes X~ of agents[r] bidding alternatives[r, k]."""
        ...

    def agent_gradients(self, agents: np.ndarray, x: Any) -> np.ndarray:
        """(m, K, d) grad f_{agents[r]} at the batched outcomes x."""
        ...


@runtime_checkable
class QuadraticMenu(Protocol):
    def quadratic_menu(
        self, weights: np.ndarray, agents: np.ndarray, alternatives: np.ndarray, start: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """(f_i(X~), grad f_i(X~)^T H~^{-1} grad f_i(X~)), each (m, K), at the outcome
        X~ = H(F^{-i} + a f_i) of agents[r] bidding a = alternatives[r, k], H~ = -Hess F / 2
        at X~ on the tangent space."""
        ...


@runtime_checkable
class AgentUtilities(Protocol):
    def agent_utilities(self, agents: np.ndarray, x: Any) -> np.ndarray:
        """(m, K) f_{agents[r]} at the batched outcomes x."""
        ...


def utility_span(problem: object) -> float:
    """The problem's declared `utility_span`, else 1 (the paper's f_i in [0, 1])."""
    return float(problem.utility_span) if isinstance(problem, DeclaredSpan) else 1.0


def tolerance(problem: object) -> float:
    """The problem's declared `tolerance`, else 0 (an exact H)."""
    return float(problem.tolerance) if isinstance(problem, DeclaredTolerance) else 0.0
