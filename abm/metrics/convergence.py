"""Equilibrium convergence (Braverman 2021 Lemma 4 and §2.3.1; §2.1.2 for the outcome X-bar).

- epsilon(t): the largest per-round strong regret over agents of the t-round prefix game;
  by Lemma 4 the play is then a 2 eps-dominant-strategy competitive equilibrium. It is
  evaluated on a geometric grid of horizons (one envelope pass, one sort, then O(#breakpoints)
  per horizon: `StrongRegretAccumulator.solve_many`).
- bid drift: rolling standard deviation of each agent's report (lambda_{i,t} for APEX) and
  of the average report.
- outcome drift: distance of the running average X-bar_t to the final X-bar.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from abm.metrics.strong_regret import StrongRegretAccumulator, check_menus, prefix_budgets


def geometric_horizons(rounds: int, points: int = 40, start: int = 10) -> np.ndarray:
    """About `points` distinct horizons from min(start, T) to T, geometrically spaced (T included)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if points < 1:
        raise ValueError(f"points must be >= 1, got {points}")
    lo = min(max(start, 1), rounds)
    hs = np.unique(np.round(np.geomspace(lo, rounds, points)).astype(np.int64))
    return hs[(hs >= 1) & (hs <= rounds)]


@dataclass(frozen=True, slots=True)
class RegretCurve:
    """Strong regret of each agent for each prefix horizon: arrays (H, m); epsilon (H,) is
    the max over agents of per-round regret in payoff-bound units (Lemma 4's eps / t)."""

    horizons: np.ndarray
    opt: np.ndarray
    utility: np.ndarray
    regret: np.ndarray
    epsilon: np.ndarray


def strong_regret_curve(
    utility: np.ndarray,
    cost: np.ndarray,
    realized: np.ndarray,
    charges: np.ndarray,
    budget: np.ndarray,
    horizons: np.ndarray | None = None,
    payoff_bound: float = 1.0,
    accumulator: StrongRegretAccumulator | None = None,
) -> RegretCurve:
    """Prefix strong regret for each horizon t: OPT over rounds < t with budget
    max(B t / T, spend through t) (`prefix_budgets`) minus the realized utility through t.

    utility, cost: (T, m, K) menus; realized, charges: (T, m) per round; budget: (m,).
    Pass an `accumulator` already fed with these menus to skip the envelope pass."""
    u, c = check_menus(utility, cost)
    t, m, _ = u.shape
    realized = np.asarray(realized, dtype=np.float64)
    charges = np.asarray(charges, dtype=np.float64)
    if realized.shape != (t, m) or charges.shape != (t, m):
        raise ValueError(f"realized and charges must have shape ({t}, {m}), got {realized.shape}, {charges.shape}")
    hs = geometric_horizons(t) if horizons is None else np.asarray(horizons, dtype=np.int64)
    if accumulator is None:
        accumulator = StrongRegretAccumulator(m)
        accumulator.add(u, c)
    budgets = prefix_budgets(budget, charges, hs, t)
    opt, _ = accumulator.solve_many(budgets, hs)
    got = np.cumsum(realized, axis=0)[hs - 1]
    regret = opt - got
    eps = (regret / hs[:, None]).max(axis=1) / payoff_bound
    return RegretCurve(hs, opt, got, regret, eps)


def rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    """Population std over the trailing `window` rounds (fewer at the start), per column of
    (T, ...) x, from running sums of x and x^2 (shifted by the column mean for stability)."""
    x = np.asarray(x, dtype=np.float64)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    return _rolling_std_rows(x, window, 0, x.shape[0], x.mean(axis=0, keepdims=True))


def _rolling_std_rows(x: np.ndarray, window: int, lo: int, hi: int, center: np.ndarray) -> np.ndarray:
    """Rows [lo, hi) of `rolling_std(x, window)`, from the running sums of the slab of x
    those rows' windows cover (so a long series can be taken in blocks)."""
    start = max(lo - window + 1, 0)
    slab = x[start:hi] - center
    zero = np.zeros((1, *slab.shape[1:]))
    s1 = np.concatenate([zero, np.cumsum(slab, axis=0)])
    s2 = np.concatenate([zero, np.cumsum(slab * slab, axis=0)])
    top = np.arange(lo + 1, hi + 1)
    bottom = np.maximum(top - window, 0)
    n = (top - bottom).reshape(-1, *([1] * (x.ndim - 1)))
    mean = (s1[top - start] - s1[bottom - start]) / n
    var = (s2[top - start] - s2[bottom - start]) / n - mean * mean
    return np.sqrt(np.maximum(var, 0.0))


def default_window(rounds: int) -> int:
    """Rolling window for drift series: 5% of the horizon, at least 10 rounds."""
    return max(10, rounds // 20)


@dataclass(frozen=True, slots=True)
class BidDrift:
    """per_agent: (T, m) rolling std of each agent's report; mean: (T,) its mean over agents;
    average: (T,) rolling std of the average report; final: (m,) per-agent value at T."""

    window: int
    per_agent: np.ndarray
    mean: np.ndarray
    average: np.ndarray
    final: np.ndarray


def bid_drift(reports: np.ndarray, window: int | None = None) -> BidDrift:
    """Rolling std of lambda_{i,t} (the reports, (T, m)) and of the average report."""
    r = np.asarray(reports, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"reports must be (T, m), got shape {r.shape}")
    w = default_window(r.shape[0]) if window is None else int(window)
    per = rolling_std(r, w)
    avg = rolling_std(r.mean(axis=1), w)
    return BidDrift(w, per, per.mean(axis=1), avg, per[-1])


#: Rounds per block when bid drift streams over a long run.
DRIFT_BLOCK = 4096


@dataclass(frozen=True, slots=True)
class DriftSummary:
    """`BidDrift` without the (T, m) per-agent series: mean over agents (T,), the rolling
    std of the average report (T,) and each agent's final value (m,)."""

    window: int
    mean: np.ndarray
    average: np.ndarray
    final: np.ndarray


def drift_summary(reports: np.ndarray, window: int | None = None, block: int = DRIFT_BLOCK) -> DriftSummary:
    """`bid_drift` in blocks of `block` rounds: memory independent of T beyond the (T,)
    series (equal to it up to the running sums' round-off)."""
    r = np.asarray(reports, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"reports must be (T, m), got shape {r.shape}")
    t = r.shape[0]
    w = default_window(t) if window is None else int(window)
    if w < 1:
        raise ValueError(f"window must be >= 1, got {w}")
    center = r.mean(axis=0, keepdims=True)
    mean = np.empty(t)
    final = np.zeros(r.shape[1])
    for lo in range(0, t, block):
        hi = min(lo + block, t)
        rows = _rolling_std_rows(r, w, lo, hi, center)
        mean[lo:hi] = rows.mean(axis=1)
        final = rows[-1]
    return DriftSummary(w, mean, rolling_std(r.mean(axis=1), w), final)


def outcome_distance(outcomes: np.ndarray) -> np.ndarray:
    """(T,) L1 distance sum |X-bar_t - X-bar_T| between the running average of the first t
    outcomes (each flattened to a vector; X-bar of Braverman 2021 §2.1.2 eq. (16)) and the final one."""
    x = np.asarray(outcomes, dtype=np.float64)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"outcomes must be a non-empty (T, ...) array, got shape {x.shape}")
    x = x.reshape(x.shape[0], -1)
    return outcome_distance_blocks([x], np.cumsum(x, axis=0)[-1] / x.shape[0])


def outcome_distance_blocks(blocks: Iterable[np.ndarray], final: np.ndarray) -> np.ndarray:
    """`outcome_distance` from the outcomes in consecutive (t_b, size) blocks, given the
    final X-bar_T (kept by the run's `OutcomePath`): one pass, memory one block."""
    final = np.asarray(final, dtype=np.float64).ravel()
    acc, done, out = np.zeros(final.shape[0]), 0, []
    for block in blocks:
        x = np.asarray(block, dtype=np.float64).reshape(len(block), -1)
        cum = np.cumsum(np.vstack([acc, x]), axis=0)[1:]
        out.append(np.abs(cum / np.arange(done + 1, done + x.shape[0] + 1)[:, None] - final).sum(axis=1))
        acc, done = cum[-1], done + x.shape[0]
    return np.concatenate(out) if out else np.zeros(0)


def hz_residual_curve(
    utilities: np.ndarray,
    outcomes: np.ndarray,
    prices: np.ndarray,
    budgets: np.ndarray | float,
    horizons: np.ndarray,
) -> dict[str, np.ndarray]:
    """HZ equilibrium residuals (Braverman 2021 §3.2; `mechanisms.assignment.hz.hz_residuals`) of the running
    outcome X-bar_t and running mean item prices at each horizon t.

    utilities: (n, m); outcomes: (T, n*m) or (T, n, m) per-round allocations; prices: (T, m)
    per-round item prices; budgets: per-round tokens (HZ's equal incomes: B_i / T).
    Returns arrays (H,) `clearing_error`, `budget_violation`, `best_response_gain`."""
    from mechanisms.assignment.hz import hz_residuals

    u = np.asarray(utilities, dtype=np.float64)
    n, m = u.shape
    x = np.asarray(outcomes, dtype=np.float64).reshape(-1, n, m)
    p = np.asarray(prices, dtype=np.float64)
    if p.shape != (x.shape[0], m):
        raise ValueError(f"prices must have shape ({x.shape[0]}, {m}), got {p.shape}")
    hs = np.asarray(horizons, dtype=np.int64)
    cum_x, cum_p = np.cumsum(x, axis=0), np.cumsum(p, axis=0)
    out = {k: np.empty(hs.shape[0]) for k in ("clearing_error", "budget_violation", "best_response_gain")}
    for g, h in enumerate(hs):
        rep = hz_residuals(u, cum_x[h - 1] / h, cum_p[h - 1] / h, budgets)
        out["clearing_error"][g] = rep.clearing_error
        out["budget_violation"][g] = rep.budget_violation
        out["best_response_gain"][g] = rep.best_response_gain
    return out
