"""Budget depletion (Onyeze et al. Algorithm 1 and §3.2; Braverman §2.3.3's stopping rule).

From per-round charges (T, m) and initial budgets (m,): the remaining-budget trajectory,
the depletion round (first round after which the agent can no longer pay the
mechanism's maximum charge p_max, or has (numerically) nothing left when p_max is infinite), the
spend-rate error |spend_t / t - B / T| and the fraction of the budget left unused at T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: At most this much (relative to max(1, B)) left counts as empty when the mechanism has no
#: finite p_max (APEX-style charges scale with the bid).
EMPTY_BUDGET = 1e-9
#: Float tolerance on token comparisons (as `mechanisms.base.TOKEN_TOL`).
TOKEN_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class DepletionResult:
    """Per agent (m,): depletion round (-1 = never), unused budget fraction at T, the final,
    time-averaged and maximal spend-rate error; remaining: (T, m) budget after each round;
    rate_error: (T, m) |S_t / t - B / T| with S_t the spend through round t (1-based t)."""

    depletion_round: np.ndarray
    unused_fraction: np.ndarray
    spend_rate_error_final: np.ndarray
    spend_rate_error_mean: np.ndarray
    spend_rate_error_max: np.ndarray
    remaining: np.ndarray
    rate_error: np.ndarray


def remaining_budget(charges: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """(T, m) budget left after each round."""
    return np.asarray(budget, dtype=np.float64)[None, :] - np.cumsum(np.asarray(charges, dtype=np.float64), axis=0)


def depletion_round(remaining: np.ndarray, budget: np.ndarray, p_max: float = np.inf) -> np.ndarray:
    """First (0-based) round after which the agent can no longer pay p_max (remaining + tol <
    p_max, the Ledger's rule); with p_max infinite, the first round after which at most
    EMPTY_BUDGET x max(1, B) is left. 0 for an agent that starts there; -1 = never."""
    remaining = np.asarray(remaining, dtype=np.float64)
    budget = np.asarray(budget, dtype=np.float64)
    if np.isfinite(p_max):
        low = remaining + TOKEN_TOL < p_max
        starts_low = budget + TOKEN_TOL < p_max
    else:
        empty = EMPTY_BUDGET * np.maximum(1.0, np.abs(budget))
        low = remaining <= empty[None, :]
        starts_low = budget <= empty
    first = np.where(low.any(axis=0), low.argmax(axis=0), -1)
    return np.where(starts_low, 0, first)


def budget_depletion(charges: np.ndarray, budget: np.ndarray, p_max: float = np.inf) -> DepletionResult:
    """All depletion statistics from per-round charges (T, m) and budgets (m,)."""
    charges = np.asarray(charges, dtype=np.float64)
    budget = np.asarray(budget, dtype=np.float64)
    if charges.ndim != 2 or charges.shape[1] != budget.shape[0]:
        raise ValueError(f"charges must be (T, m={budget.shape[0]}), got shape {charges.shape}")
    if (charges < -TOKEN_TOL).any() or not np.isfinite(charges).all():
        raise ValueError("charges must be finite and >= 0")
    t = charges.shape[0]
    remaining = remaining_budget(charges, budget)
    spent = budget[None, :] - remaining
    rate_error = np.abs(spent / np.arange(1, t + 1)[:, None] - budget[None, :] / t)
    with np.errstate(divide="ignore", invalid="ignore"):
        unused = np.where(budget > 0, remaining[-1] / budget, np.nan)
    return DepletionResult(
        depletion_round=depletion_round(remaining, budget, p_max),
        unused_fraction=unused,
        spend_rate_error_final=rate_error[-1],
        spend_rate_error_mean=rate_error.mean(axis=0),
        spend_rate_error_max=rate_error.max(axis=0),
        remaining=remaining,
        rate_error=rate_error,
    )
