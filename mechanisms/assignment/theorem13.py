"""Theorem 13's approximate HZ equilibrium of a regularized APEX run (Braverman 2021,
§3.2.4 and Appendix B).

Given a run of Algorithm 1 with the regularizer F_0 = -beta sum_ij 1/x_ij and bids
lambda_{i,t} in [0, lambda-bar]:

* `best_response_lambda`: eq. (47), lambda_i = min(the unique lambda with
  sum_t P_{i,t}(lambda) = B_i, lambda-bar), where P_{i,t}(lambda) is what agent i would
  have paid in round t bidding lambda against the others' recorded bids (Claim 10: P is
  continuous and strictly increasing from P(0) = 0, so the root is found by Brent's method).
  P_{i,t}(lambda) = F_t^{-i}(X^{-i}) - (F_t(X(lambda)) - lambda U_{i,t}(lambda)), the
  charge of `Apex`, re-solved by the regularized problem's own H.
* the prices C_j: VCG prices of the utilities lambda_i u_ij (`unit_demand_vcg`).
* `delta_ce`: the smallest delta for which the time-average X-bar is a delta-competitive
  equilibrium at budgets b and prices C' = phi(delta) C: every agent affords x_i
  (C' . x_i <= b_i) and no affordable bundle y (C' . y <= b_i, sum y = 1) gains more than
  delta (u . y - u . x_i <= delta, u normalized to [0, 1] per agent as in the theorem).

The paper states two price factors: the restated Theorem 13 of §3.2.4 says C' = (1 - delta) C,
the Theorem 13 proved in Appendix B says C' = (1 - delta/3) C (with delta = 10 / lambda-bar).
They are different claims, so both are computed (`PRICE_FACTORS`): "full" for (1 - delta)
and "third" for (1 - delta/3). Smaller prices relax the budget and enlarge the affordable
set, so neither factor's delta bounds the other's in general.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mechanisms.assignment.birkhoff import RegularizedAssignment
from mechanisms.assignment.vcg import unit_demand_vcg

#: Theorem 13's price factor phi(delta) and the delta at which it makes every item free
#: (where X-bar is a delta-CE whenever delta >= 1, the largest utility gain).
PRICE_FACTORS: dict[str, tuple[Callable[[float], float], float]] = {
    "full": (lambda d: 1.0 - d, 1.0),  # §3.2.4: C' = (1 - delta) C
    "third": (lambda d: 1.0 - d / 3.0, 3.0),  # Appendix B: C' = (1 - delta/3) C
}
#: delta is bracketed on this many grid points of [0, delta at free prices], then bisected.
DELTA_GRID = 2000
#: Bisection steps after the grid (the interval shrinks below 1e-15 of its size).
DELTA_BISECT = 60


def best_affordable_utilities(u: np.ndarray, prices: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """(n,) max u_i . y over {y >= 0, sum y = 1, prices . y <= b_i}; -inf if nothing is
    affordable. Closed form: the optimum of this two-constraint LP is a vertex, one
    affordable item or two items mixed to spend exactly b_i (O(n m^2) numpy, no LP)."""
    u = np.asarray(u, dtype=np.float64)
    c = np.asarray(prices, dtype=np.float64)
    b = np.asarray(budgets, dtype=np.float64)[:, None, None]
    single = np.where(c[None, :] <= b[:, :, 0], u, -np.inf).max(axis=1)
    cj, ck = c[:, None], c[None, :]
    cheap, dear = cj <= b, ck > b  # (n, m, m): j affordable, k not
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(cheap & dear, (b - cj) / (ck - cj), 0.0)  # weight on the dear item k
    mixed = (1.0 - t) * u[:, :, None] + t * u[:, None, :]
    mixed = np.where(cheap & dear, mixed, -np.inf).max(axis=(1, 2))
    return np.maximum(single, mixed)


@dataclass(frozen=True, slots=True)
class DeltaCE:
    """The smallest delta for which (x, phi(delta) C) is a delta-CE (see `delta_ce`).

    delta: that delta; factor: phi(delta); budget_violation and gain: max_i of
    (C' . x_i - b_i)^+ and of the best affordable gain at C' = phi(delta) C."""

    delta: float
    factor: float
    budget_violation: float
    gain: float


def _conditions(u: np.ndarray, x: np.ndarray, prices: np.ndarray, budgets: np.ndarray, f: float) -> tuple[float, float]:
    spend = x @ (f * prices)
    gain = best_affordable_utilities(u, f * prices, budgets) - (u * x).sum(axis=1)
    return float(np.maximum(spend - budgets, 0.0).max()), float(np.maximum(gain, 0.0).max())


def delta_ce(
    u: np.ndarray, x: np.ndarray, prices: np.ndarray, budgets: np.ndarray | float, factor: str = "full"
) -> DeltaCE:
    """Smallest delta in [0, delta_free] such that x is a delta-CE at prices phi(delta) C
    (Braverman 2021, Theorem 13; `PRICE_FACTORS[factor]`): phi(delta) C . x_i <= b_i and
    best affordable gain <= delta for every agent. Both conditions hold at delta_free (free
    items, utilities in [0, 1]); the first feasible point of a DELTA_GRID grid is bisected
    against the grid point before it, so delta is exact to round-off unless the feasible
    set has a gap narrower than the grid step below it."""
    if factor not in PRICE_FACTORS:
        raise ValueError(f"factor must be one of {sorted(PRICE_FACTORS)}, got {factor!r}")
    phi, top = PRICE_FACTORS[factor]
    u = np.asarray(u, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    c = np.asarray(prices, dtype=np.float64)
    b = np.broadcast_to(np.asarray(budgets, dtype=np.float64), (u.shape[0],))

    def feasible(d: float) -> bool:
        violation, gain = _conditions(u, x, c, b, phi(d))
        return violation <= 1e-12 and gain <= d + 1e-12

    grid = np.linspace(0.0, top, DELTA_GRID + 1)
    first = next(k for k, d in enumerate(grid) if feasible(float(d)) or k == DELTA_GRID)
    lo, hi = (float(grid[first - 1]), float(grid[first])) if first else (0.0, 0.0)
    for _ in range(DELTA_BISECT if first else 0):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if feasible(mid) else (mid, hi)
    violation, gain = _conditions(u, x, c, b, phi(hi))
    return DeltaCE(delta=hi, factor=phi(hi), budget_violation=violation, gain=gain)


class RoundPayments:
    """P_{i,t}(lambda) and U_{i,t}(lambda) of every recorded round for one agent i (Claim
    10): the regularized problem re-solved with lambda_i = lambda and the others' bids of
    round t, warm-started at the previous evaluation's solutions (continuation in lambda)."""

    def __init__(self, problem: RegularizedAssignment, bids: np.ndarray, agent: int) -> None:
        self.problem = problem
        self.bids = np.asarray(bids, dtype=np.float64)
        self.agent = int(agent)
        w = self.bids.copy()
        w[:, agent] = 0.0
        self.start = problem.solve(w, problem.initial())
        self.opt_minus = problem.objective(w, self.start)  # F_t^{-i}(X^{-i}_t)

    def __call__(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """(P (T,), U (T,)) at bid lam: the charge clamped to [0, lam * span] as `Apex` does."""
        w = self.bids.copy()
        w[:, self.agent] = lam
        x = self.problem.solve(w, self.start)
        self.start = x
        util = (self.problem.u[self.agent] * x[:, self.agent]).sum(axis=1)
        pay = self.opt_minus - (self.problem.objective(w, x) - lam * util)
        return np.clip(pay, 0.0, lam * self.problem.utility_span), util


def best_response_lambda(
    problem: RegularizedAssignment, bids: np.ndarray, agent: int, budget: float, bid_cap: float = np.inf
) -> float:
    """Eq. (47): min(lambda with sum_t P_{i,t}(lambda) = budget, bid_cap) for agent i against
    the recorded bids (T, n) of every round (Braverman 2021, Appendix B, Claim 10). With no
    cap, an agent whose payments stay below the budget at every lambda (a constant utility
    row) gets inf."""
    from scipy.optimize import brentq

    pay = RoundPayments(problem, bids, agent)

    def excess(lam: float) -> float:
        return float(pay(lam)[0].sum()) - budget

    hi = float(bid_cap) if np.isfinite(bid_cap) else max(1.0, float(bids[:, agent].max()))
    if np.isfinite(bid_cap):
        if excess(hi) <= 0.0:
            return float(bid_cap)
    else:
        for _ in range(60):
            if excess(hi) > 0.0:
                break
            hi *= 2.0
        else:
            return np.inf
    return float(brentq(excess, 0.0, hi, xtol=1e-12 * hi, rtol=1e-12))


@dataclass(frozen=True, slots=True)
class Theorem13Report:
    """Theorem 13 read off a regularized run (Braverman 2021, §3.2.4, Appendix B).

    lam: (n,) best responses of eq. (47); capped: (n,) lam_i = bid_cap; prices: (n,) VCG
    prices C of lam_i u_ij; deviation: s of eq. (58), (1/T) sum_t sum_i |lambda_{i,t} -
    lam_i|; deltas: factor name -> `DeltaCE` of X-bar at phi(delta) C; bid_cap: lambda-bar."""

    lam: np.ndarray
    capped: np.ndarray
    prices: np.ndarray
    deviation: float
    deltas: dict[str, DeltaCE]
    bid_cap: float

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly summary (for summary.json)."""
        return {
            "lambda": self.lam.tolist(),
            "capped": self.capped.tolist(),
            "prices": self.prices.tolist(),
            "lambda_deviation": self.deviation,
            "bid_cap": self.bid_cap,
            **{f"delta_{name}": d.delta for name, d in self.deltas.items()},
            **{f"price_factor_{name}": d.factor for name, d in self.deltas.items()},
        }


def theorem13_report(
    problem: RegularizedAssignment,
    bids: np.ndarray,
    x_bar: np.ndarray,
    budgets: np.ndarray,
    bid_cap: float = np.inf,
) -> Theorem13Report:
    """Best-response lambda (eq. 47), prices C(lambda) and both delta-CEs of X-bar.

    bids: (T, n) the played (budget-capped) bids lambda_{i,t}; x_bar: (n, n); budgets: (n,)
    total tokens B_i (the per-round budget of the delta-CE is B_i / T)."""
    bids = np.asarray(bids, dtype=np.float64)
    t, n = bids.shape
    if n != problem.n:
        raise ValueError(f"bids must have one column per agent ({problem.n}), got shape {bids.shape}")
    if t == 0:
        raise ValueError("bids must hold at least one round")
    b = np.asarray(budgets, dtype=np.float64)
    lam = np.array([best_response_lambda(problem, bids, i, float(b[i]), bid_cap) for i in range(n)])
    capped = lam >= bid_cap
    # A zero utility row has no best response (inf); its scaled utilities are 0 whatever lam.
    scaled = np.where(np.isfinite(lam), lam, 0.0)[:, None] * problem.u
    prices = unit_demand_vcg(scaled).item_prices
    per_round = b / t
    deltas = {name: delta_ce(problem.u, x_bar, prices, per_round, name) for name in PRICE_FACTORS}
    deviation = float(np.abs(bids - lam[None, :]).sum(axis=1).mean()) if np.isfinite(lam).all() else np.inf
    return Theorem13Report(lam, capped, prices, deviation, deltas, float(bid_cap))
