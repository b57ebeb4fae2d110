"""Budget depletion (Onyeze et al. 2025 Algorithm 1 and §3.2; Braverman 2021 §2.3.3's stopping rule).

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


def _low(remaining: np.ndarray, budget: np.ndarray, p_max: float) -> np.ndarray:
    """Where the agent can no longer pay p_max (the Ledger's rule), or has (numerically)
    nothing left when p_max is infinite; remaining (T, m), budget (m,)."""
    if np.isfinite(p_max):
        return remaining + TOKEN_TOL < p_max
    return remaining <= (EMPTY_BUDGET * np.maximum(1.0, np.abs(budget)))[None, :]


def depletion_round(remaining: np.ndarray, budget: np.ndarray, p_max: float = np.inf) -> np.ndarray:
    """First (0-based) round after which the agent can no longer pay p_max (remaining + tol <
    p_max, the Ledger's rule); with p_max infinite, the first round after which at most
    EMPTY_BUDGET x max(1, B) is left. 0 for an agent that starts there; -1 = never."""
    remaining = np.asarray(remaining, dtype=np.float64)
    budget = np.asarray(budget, dtype=np.float64)
    low = _low(remaining, budget, p_max)
    starts_low = _low(budget[None, :], budget, p_max)[0]
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


#: Rounds per block when the depletion statistics stream over a long run.
DEPLETION_BLOCK = 4096


@dataclass(frozen=True, slots=True)
class DepletionSummary:
    """`DepletionResult` without its (T, m) arrays: the per-agent statistics and the
    spend-rate error's mean and max over agents in each round, (T,) each."""

    depletion_round: np.ndarray
    unused_fraction: np.ndarray
    spend_rate_error_final: np.ndarray
    spend_rate_error_mean: np.ndarray
    spend_rate_error_max: np.ndarray
    round_mean: np.ndarray
    round_max: np.ndarray


def depletion_summary(
    charges: np.ndarray, budget: np.ndarray, p_max: float = np.inf, block: int = DEPLETION_BLOCK
) -> DepletionSummary:
    """The statistics of `budget_depletion` in blocks of `block` rounds, so memory does not
    grow with T beyond the (T,) per-round series (equal to it up to summation order)."""
    charges = np.asarray(charges, dtype=np.float64)
    budget = np.asarray(budget, dtype=np.float64)
    if charges.ndim != 2 or charges.shape[1] != budget.shape[0]:
        raise ValueError(f"charges must be (T, m={budget.shape[0]}), got shape {charges.shape}")
    t, m = charges.shape
    spent = np.zeros(m)
    first = np.full(m, -1)
    total, worst = np.zeros(m), np.zeros(m)
    round_mean, round_max = np.empty(t), np.empty(t)
    rate = np.zeros((0, m))
    remaining = budget[None, :]
    for lo in range(0, t, block):
        part = charges[lo : lo + block]
        if (part < -TOKEN_TOL).any() or not np.isfinite(part).all():
            raise ValueError("charges must be finite and >= 0")
        # The carried spend first, so the running sum adds in the order np.cumsum would.
        cum = np.cumsum(np.vstack([spent, part]), axis=0)[1:]
        spent = cum[-1]
        remaining = budget[None, :] - cum
        rate = np.abs((budget[None, :] - remaining) / np.arange(lo + 1, lo + part.shape[0] + 1)[:, None]
                      - budget[None, :] / t)
        low = _low(remaining, budget, p_max)
        first = np.where((first < 0) & low.any(axis=0), low.argmax(axis=0) + lo, first)
        total += rate.sum(axis=0)
        np.maximum(worst, rate.max(axis=0), out=worst)
        round_mean[lo : lo + part.shape[0]] = rate.mean(axis=1)
        round_max[lo : lo + part.shape[0]] = rate.max(axis=1)
    starts_low = _low(budget[None, :], budget, p_max)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        unused = np.where(budget > 0, remaining[-1] / budget, np.nan)
    return DepletionSummary(
        depletion_round=np.where(starts_low, 0, first),
        unused_fraction=unused,
        spend_rate_error_final=rate[-1] if t else np.zeros(m),
        spend_rate_error_mean=total / max(t, 1),
        spend_rate_error_max=worst,
        round_mean=round_mean,
        round_max=round_max,
    )
