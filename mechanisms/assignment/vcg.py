"""Unit-demand VCG (Braverman 2021 §3.2 and Appendix A; SPEC.md §E).

VCG prices for unit demand are the minimal Walrasian (competitive) prices (Leonard 1983;
Demange, Gale & Sotomayor 1986), so they follow from ONE optimal assignment plus
longest paths in the exchange graph on items: an edge pi(i) -> k of length
v_ik - v_{i pi(i)} says "the owner of pi(i) moves to k". Envy-freeness at prices p is
p_k >= p_{pi(i)} + v_ik - v_{i pi(i)} for all i, k, and p >= 0; the least solution is the
longest-path length from a root joined to every item by a 0-edge (no positive cycle
exists because pi is optimal). That price equals OPT_{+k} - OPT (Claim 7.2), and the
VCG payment of i is the price of the item it receives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class VCGResult:
    """Outcome of unit-demand VCG on an n x m value matrix.

    assignment: (n,) item of each agent, -1 if none (never for m >= n, values >= 0).
    item_prices: (m,) VCG (= minimal Walrasian) price per item; 0 for unsold items.
    payments: (n,) VCG payment of each agent = price of its item.
    welfare: total value of the assignment.
    """

    assignment: np.ndarray
    item_prices: np.ndarray
    payments: np.ndarray
    welfare: float


def check_values(values: np.ndarray | list, name: str = "values") -> np.ndarray:
    """Validate an n x m (m >= n >= 1) finite, non-negative value matrix."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"{name} must be a 2-d (agents x items) array, got shape {v.shape}")
    n, m = v.shape
    if n == 0:
        raise ValueError(f"{name} must have at least one agent (row), got shape {v.shape}")
    if m < n:
        raise ValueError(f"{name} must have at least as many items as agents (m >= n), got shape {v.shape}")
    bad = ~np.isfinite(v)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{i}, {j}] must be finite, got {v[i, j]}")
    if (v < 0).any():
        i, j = np.argwhere(v < 0)[0]
        raise ValueError(f"{name}[{i}, {j}] must be >= 0, got {v[i, j]}")
    return v


def optimal_assignment(v: np.ndarray) -> np.ndarray:
    """Agent -> item of one max-weight assignment (every agent served: m >= n, v >= 0)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(v, maximize=True)
    assignment = np.full(v.shape[0], -1, dtype=np.int64)
    assignment[rows] = cols
    return assignment


def minimal_prices(v: np.ndarray, assignment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least envy-free prices p >= 0 and the longest-path predecessor of each item.

    Bellman-Ford in (max, +) form, vectorized over all n*m exchange edges per pass:
    p_k <- max(p_k, max_i p_{pi(i)} + v_ik - v_{i pi(i)}), from p = 0 (the root edges).
    A pass costs O(nm) numpy work and the loop stops after (longest hop count + 1)
    passes, typically a handful, and each pass only rescans the agents whose item
    price just rose (SPFA-style); m + 1 passes bound it (no positive cycle: pi is
    optimal). Improvements below `tol` are ignored so float round-off on the zero-length
    cycles that ties create cannot keep it running, and the predecessor graph stays a
    tree (it changes only on strict improvement). pred[k] = m means "from the root"."""
    n, m = v.shape
    own = v[np.arange(n), assignment]
    tol = 1e-13 * max(1.0, float(v.max()))
    prices = np.zeros(m)
    pred = np.full(m, m, dtype=np.int64)
    owner = np.full(m, -1, dtype=np.int64)
    owner[assignment] = np.arange(n)
    cols = np.arange(m)
    active = np.arange(n)  # agents whose item price changed: only their edges can improve
    for _ in range(m + 1):
        cand = v[active] - (own[active] - prices[assignment[active]])[:, None]
        best_row = cand.argmax(axis=0)
        best = cand[best_row, cols]
        improved = best > prices + tol
        if not improved.any():
            break
        prices[improved] = best[improved]
        pred[improved] = assignment[active[best_row[improved]]]
        active = owner[improved]
        active = active[active >= 0]  # unsold items have no outgoing exchange edges
        if active.size == 0:
            break
    return prices, pred


def unit_demand_vcg(values: np.ndarray | list) -> VCGResult:
    """Unit-demand VCG from one assignment plus exchange-graph shortest paths (Braverman App. A).

    values: n x m (m >= n) finite non-negative. Cost: one `linear_sum_assignment` and a
    few O(nm) vectorized Bellman-Ford passes, instead of n + 1 assignments."""
    v = check_values(values)
    assignment = optimal_assignment(v)
    prices, _ = minimal_prices(v, assignment)
    payments = prices[assignment]
    welfare = float(v[np.arange(v.shape[0]), assignment].sum())
    return VCGResult(assignment, prices, payments, welfare)


def assignments_without_each(values: np.ndarray | list) -> tuple[VCGResult, np.ndarray]:
    """VCG plus, for every agent i, an optimal assignment of the others when i is absent.

    Returns (result, without) with without[i] the (n,) agent -> item vector of that
    assignment (without[i, i] = -1): the owner chain on the longest path root -> pi(i)
    shifts one step towards pi(i), which is OPT - v_{i pi(i)} + p_{pi(i)} = OPT_{-i}."""
    v = check_values(values)
    n, m = v.shape
    assignment = optimal_assignment(v)
    prices, pred = minimal_prices(v, assignment)
    owner = np.full(m, -1, dtype=np.int64)
    owner[assignment] = np.arange(n)
    without = np.tile(assignment, (n, 1))
    for i in range(n):
        row = without[i]
        row[i] = -1
        item = assignment[i]
        prev = pred[item]
        for _ in range(m):  # walk back to the root; the owner of prev moves onto item
            if prev == m:
                break
            row[owner[prev]] = item
            item = prev
            prev = pred[item]
    payments = prices[assignment]
    welfare = float(v[np.arange(n), assignment].sum())
    return VCGResult(assignment, prices, payments, welfare), without


def unit_demand_vcg_naive(values: np.ndarray | list) -> VCGResult:
    """Reference VCG by n + 1 assignment solves (tests and benchmarks only).

    payment_i = OPT_{-i} - (OPT - v_{i pi(i)}); item price = payment of its owner, 0 if unsold."""
    from scipy.optimize import linear_sum_assignment

    v = check_values(values)
    n, m = v.shape
    assignment = optimal_assignment(v)
    own = v[np.arange(n), assignment]
    opt = float(own.sum())
    payments = np.empty(n)
    for i in range(n):
        rest = np.delete(v, i, axis=0)
        r, c = linear_sum_assignment(rest, maximize=True)
        payments[i] = float(rest[r, c].sum()) - (opt - own[i])
    payments = np.maximum(payments, 0.0)
    prices = np.zeros(m)
    prices[assignment] = payments
    return VCGResult(assignment, prices, payments, opt)
