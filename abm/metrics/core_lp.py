"""The coalition LP of the core factor (Onyeze et al. 2025 Definition 2.1, delta = 0) in its
normalized form, for (d, T) W = V_S / U_S (SPEC.md §G):

    1 + gamma(S) = max z  s.t.  W x >= z 1,  sum x <= cap,  0 <= x <= 1
                 = min_{theta in simplex} top_cap(theta W)   (LP duality),

a zero-sum game between the coalition's members (theta) and its allocations (x), whose best
response is a fractional knapsack (`top_partition`). `hedge_bounds` gives certified bounds
on it by multiplicative weights; `banded_lp` solves it exactly by column generation over
HiGHS. `abm.metrics.core` searches the coalitions with both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Hedge step size: eta = HEDGE_STEP * sqrt(ln d / iterations) / F(theta_0) (tuned on runs).
HEDGE_STEP = 10.0
#: Column generation for the coalition LP: columns kept free around the threshold of the
#: dual scores (the rest fixed at 0 or 1), at least this many and 2 (d + 1).
BAND_MIN = 16
#: Rounds of adding the fixed columns whose reduced profit has the wrong sign before the full LP.
BAND_ROUNDS = 4
#: Reduced-profit tolerance (relative to the largest score) of the column-generation check.
BAND_TOL = 1e-9


def top_partition(y: np.ndarray, cap: float) -> np.ndarray:
    """The maximizer x in [0, 1]^T of y . x subject to sum x <= cap (y >= 0): the top floor(cap)
    entries fully and a fraction of the next, found by one partition (ties in any order)."""
    t = y.shape[0]
    cap = min(max(cap, 0.0), t)
    k = int(np.floor(cap))
    x = np.zeros(t)
    if k >= t:
        x[:] = 1.0
        return x
    idx = np.argpartition(-y, k)
    x[idx[:k]] = 1.0
    rest = idx[k:]
    x[rest[np.argmax(y[rest])]] = cap - k
    return x


@dataclass(frozen=True, slots=True)
class GameBounds:
    """Hedge on the zero-sum game min_theta max_x theta^T W x: lower <= 1 + gamma(S) <= upper.

    upper = F_S(theta) (certified by LP duality), lower = min_i W_i . x (x feasible), with
    theta the best iterate and x the best average of the best responses (checked every 10
    iterations), iteration k weighted by k (the later, better responses count more: about 2x
    tighter than the plain average)."""

    lower: float
    upper: float
    x: np.ndarray
    theta: np.ndarray
    iterations: int


def hedge_bounds(
    w: np.ndarray,
    cap: float,
    iterations: int,
    theta0: np.ndarray | None = None,
    stop_below: float = -np.inf,
    stop_above: float = np.inf,
) -> GameBounds:
    """Certified bounds on 1 + gamma(S) = min_{theta in simplex} top_cap(theta W) for (d, T) W.

    Hedge (multiplicative weights) over the d agents against the best response x =
    top_cap(theta W) (a fractional knapsack: one partition). Stops early once upper <
    stop_below (the coalition is pruned) or lower > stop_above. theta0: warm start (mixed
    with the uniform weights so that no agent starts at zero)."""
    d, t = w.shape
    theta = np.full(d, 1.0 / d)
    if theta0 is not None and float(np.sum(theta0)) > 0:
        theta = 0.5 * theta + 0.5 * np.asarray(theta0, dtype=np.float64) / float(np.sum(theta0))
    best_theta, upper = theta, np.inf
    total_x = np.zeros(t)
    weight = 0.0
    best_x: np.ndarray | None = None
    loss = -np.log(theta)
    eta = 0.0
    lower = -np.inf
    k = 0
    for k in range(1, iterations + 1):
        y = theta @ w
        x = top_partition(y, cap)
        f = float(y @ x)
        if f < upper:
            upper, best_theta = f, theta
        if upper < stop_below:
            break
        if eta == 0.0:
            eta = HEDGE_STEP * math.sqrt(math.log(max(d, 2)) / max(iterations, 1)) / max(f, 1e-300)
            loss /= eta  # the warm start as accumulated loss: theta = exp(-eta loss)
        total_x += k * x
        weight += k
        loss += w @ x
        if k % 10 == 0 or k == iterations:
            value = float((w @ total_x).min()) / weight
            if value > lower:
                lower, best_x = value, total_x / weight
            if lower > stop_above or upper - lower <= 1e-12 * upper:
                break
        z = np.exp(-eta * (loss - loss.min()))
        theta = z / z.sum()
    if best_x is None:
        best_x = total_x / weight if weight > 0 else np.zeros(t)
        lower = float((w @ best_x).min())
    return GameBounds(lower, upper, best_x, best_theta, k)


def banded_lp(w: np.ndarray, cap: float, theta: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray, int]:
    """Exact 1 + gamma(S) = max z s.t. W x >= z 1, sum x <= cap, 0 <= x <= 1 for (d, T) W, by
    column generation on the bounds: with dual scores y = theta W, the columns ranked far
    above the cap-th score are fixed at 1, far below at 0, and HiGHS solves the LP over the
    band around it; the LP's duals (lambda, mu) certify the fixed columns (reduced profit
    lambda . W_t - mu >= 0 at 1, <= 0 at 0), else the violators join the band and it is
    solved again (BAND_ROUNDS times, then over all columns).

    Returns (value, x (T,), lambda (d,) (the optimal theta, sums to 1), columns of the last LP)."""
    from scipy.optimize import linprog

    d, t = w.shape
    cap = min(max(float(cap), 0.0), float(t))
    if cap >= t:
        return float(w.sum(axis=1).min()), np.ones(t), _argmin_theta(w.sum(axis=1)), 0
    if cap <= 0:
        return 0.0, np.zeros(t), np.full(d, 1.0 / d), 0
    y = (np.full(d, 1.0 / d) if theta is None else np.asarray(theta, dtype=np.float64)) @ w
    order = np.argsort(-y, kind="stable")
    k = int(np.floor(cap))
    width = max(BAND_MIN, 2 * (d + 1))
    lo, hi = max(k - width, 0), min(k + width + 1, t)
    band = np.zeros(t, dtype=bool)
    band[order[lo:hi]] = True
    ones = np.zeros(t, dtype=bool)
    ones[order[:lo]] = True
    for attempt in range(BAND_ROUNDS + 1):
        if attempt == BAND_ROUNDS:
            band[:], ones[:] = True, False
        cols = np.flatnonzero(band)
        m = cols.size
        fixed = w[:, ones].sum(axis=1)
        # Variables (x_cols, z): min -z s.t. z - W_cols x <= fixed (per agent), sum x <= cap - |ones|.
        obj = np.zeros(m + 1)
        obj[-1] = -1.0
        a_ub = np.empty((d + 1, m + 1))
        a_ub[:d, :m] = -w[:, cols]
        a_ub[:d, m] = 1.0
        a_ub[d, :m] = 1.0
        a_ub[d, m] = 0.0
        b_ub = np.append(fixed, cap - ones.sum())
        res = linprog(obj, A_ub=a_ub, b_ub=b_ub, bounds=[(0.0, 1.0)] * m + [(0.0, None)], method="highs")
        if res.status != 0:
            raise RuntimeError(f"core LP failed: {res.message}")
        lam = np.maximum(-res.ineqlin.marginals[:d], 0.0)
        mu = max(-float(res.ineqlin.marginals[d]), 0.0)
        profit = lam @ w - mu
        tol = BAND_TOL * max(float(np.abs(lam @ w).max()), 1e-300)
        bad_one = ones & (profit < -tol)
        bad_zero = ~band & ~ones & (profit > tol)
        if attempt == BAND_ROUNDS or not (bad_one.any() or bad_zero.any()):
            x = ones.astype(np.float64)
            x[cols] = res.x[:m]
            total = lam.sum()
            return float(-res.fun), x, lam / total if total > 0 else np.full(d, 1.0 / d), m
        band |= bad_one | bad_zero
        ones &= ~bad_one
    raise AssertionError("unreachable")


def _argmin_theta(values: np.ndarray) -> np.ndarray:
    theta = np.zeros(values.shape[0])
    theta[int(np.argmin(values))] = 1.0
    return theta
