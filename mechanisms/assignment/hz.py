"""Hylland–Zeckhauser equilibrium residuals (Braverman 2021 §3.2; SPEC.md §E).

An allocation x (n agents x m items, fractional) and item prices C form an HZ
competitive equilibrium at budgets b if (1) every item is allocated, sum_i x_ij = 1,
and every agent gets one unit, sum_j x_ij = 1; (2) sum_j C_j x_ij <= b_i; (3) each x_i
maximizes u_i . y over the affordable bundles {y >= 0, sum_j y_j = 1, C . y <= b_i}
(eq. 29). `hz_residuals` measures how far (x, C) is from each condition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechanisms.base import check_vector

#: Default tolerance of `HZReport.is_equilibrium` (utilities and tokens are O(1)).
HZ_TOL = 1e-6
#: HiGHS feasibility tolerances, tighter than the 1e-7 defaults: a budget overrun of 1e-7
#: could otherwise buy a whole item whose price is that small.
HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


@dataclass(frozen=True, slots=True)
class HZReport:
    """How far (allocation, prices) is from an HZ equilibrium.

    clearing_error: max |sum_i x_ij - 1| over items and |sum_j x_ij - 1| over agents.
    budget_violation: max_i (C . x_i - b_i)^+.
    best_response_gain: max_i (best affordable u_i . y - u_i . x_i)^+ (LP per agent).
    gains: (n,) the per-agent best-response gains (negative if x_i is unaffordable and
        better than every affordable bundle; nan if no bundle is affordable).
    spend: (n,) C . x_i.
    is_equilibrium: all three residuals <= tol.
    """

    clearing_error: float
    budget_violation: float
    best_response_gain: float
    gains: np.ndarray
    spend: np.ndarray
    tol: float
    is_equilibrium: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly summary (for summary.json)."""
        return {
            "clearing_error": self.clearing_error,
            "budget_violation": self.budget_violation,
            "best_response_gain": self.best_response_gain,
            "is_equilibrium": self.is_equilibrium,
            "tol": self.tol,
            "gains": self.gains.tolist(),
            "spend": self.spend.tolist(),
        }


def best_affordable_utility(u: np.ndarray, prices: np.ndarray, budget: float) -> float:
    """max u . y over {y >= 0, sum y = 1, prices . y <= budget} by HiGHS (nan if empty)."""
    from scipy.optimize import linprog

    m = u.shape[0]
    res = linprog(
        -u,
        A_ub=prices[None, :],
        b_ub=[budget],
        A_eq=np.ones((1, m)),
        b_eq=[1.0],
        bounds=(0, None),
        method="highs",
        options=HIGHS_OPTIONS,
    )
    if res.status == 2:  # infeasible: every item costs more than the budget
        return np.nan
    if res.status != 0:
        raise RuntimeError(f"linprog failed on a best-response LP: {res.message}")
    return float(-res.fun)


def hz_residuals(
    utilities: np.ndarray | list,
    allocation: np.ndarray | list,
    prices: np.ndarray | list,
    budgets: float | np.ndarray | list = 1.0,
    *,
    tol: float = HZ_TOL,
) -> HZReport:
    """Residuals of the HZ conditions for a (possibly fractional) allocation (Braverman 2021 §3.2).

    utilities, allocation: n x m; prices: (m,) >= 0; budgets: scalar or (n,) (1 token each
    in HZ's equal-income setting)."""
    u = np.asarray(utilities, dtype=np.float64)
    x = np.asarray(allocation, dtype=np.float64)
    if u.ndim != 2:
        raise ValueError(f"utilities must be a 2-d (agents x items) array, got shape {u.shape}")
    if x.shape != u.shape:
        raise ValueError(f"allocation must have the shape of utilities {u.shape}, got {x.shape}")
    if not np.isfinite(u).all():
        raise ValueError("utilities must be finite")
    if not np.isfinite(x).all() or (x < -tol).any():
        raise ValueError("allocation must be finite and >= 0")
    n, m = u.shape
    c = check_vector("prices", prices, m)
    b = np.broadcast_to(np.asarray(budgets, dtype=np.float64), (n,)).copy()
    check_vector("budgets", b, n)
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be finite and >= 0, got {tol}")
    clearing = float(max(np.abs(x.sum(axis=0) - 1.0).max(), np.abs(x.sum(axis=1) - 1.0).max()))
    spend = x @ c
    budget_violation = float(np.maximum(spend - b, 0.0).max())
    own = (u * x).sum(axis=1)
    best = np.array([best_affordable_utility(u[i], c, b[i]) for i in range(n)])
    gains = best - own
    finite = gains[np.isfinite(gains)]
    gain = float(max(finite.max(initial=0.0), 0.0))
    ok = clearing <= tol and budget_violation <= tol and gain <= tol
    return HZReport(clearing, budget_violation, gain, gains, spend, float(tol), bool(ok))
