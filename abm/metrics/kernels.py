"""Compiled loops of the regret metrics (`abm.metrics.regret`): one pass over the (T, m, K)
menus, whatever their strides, instead of numpy's temporaries and copies of the same size.
Each adds in the same order as the numpy formula it replaces (rounds, then agents), with no
fast-math reassociation, so the results are the same floats. numba is imported, and the
kernel compiled or loaded from numba's disk cache, on first use (`agents.jit.lazy_njit`).
"""

from __future__ import annotations

import numpy as np

from agents.jit import lazy_njit

#: From this many menu entries (T x m x K) the regret functions use the kernels below: numpy's
#: temporaries then cost more than numba's one-time import and cache load (~0.5 s of CPU).
KERNEL_MIN_ENTRIES = 1 << 22


def use_kernels(entries: int) -> bool:
    """Whether `entries` menu entries go through the compiled kernels (the same floats either way)."""
    return entries >= KERNEL_MIN_ENTRIES


@lazy_njit(nogil=True, cache=True)
def menus_valid(utility: np.ndarray, cost: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Whether every utility of the (T, m, K) menus is finite and every cost finite and >= 0
    (one pass over both, any strides)."""
    t_len, m, k = utility.shape
    ok = True
    for t in range(t_len):
        for i in range(m):
            for a in range(k):
                x, y = utility[t, i, a], cost[t, i, a]
                ok &= np.isfinite(x) & np.isfinite(y) & (y >= 0)
        if not ok:
            return False
    return ok


@lazy_njit(nogil=True, cache=True)
def swap_table(payoff: np.ndarray, played: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[i K + played[t, i], b] += payoff[t, i, b] over t, i in order: the per-column bincounts
    of `swap_regret` (out: (m K, K) zeros)."""
    t_len, m, k = payoff.shape
    for t in range(t_len):
        for i in range(m):
            row = i * k + played[t, i]
            for b in range(k):
                out[row, b] += payoff[t, i, b]


@lazy_njit(nogil=True, cache=True)
def fixed_action_totals(
    utility: np.ndarray, cost: np.ndarray, limit: np.ndarray, out: np.ndarray, spent: np.ndarray
) -> None:  # pragma: no cover - compiled
    """out[i, k] += sum of utility[t, i, k] over the rounds t whose cumulative cost
    spent[i, k] + sum_{s <= t} cost[s, i, k] is <= limit[i]; `spent` (m, K) carries the cost
    of earlier chunks in and this chunk's out (zeros for a whole run). The running cost is
    added round by round like numpy's cumsum, so chunks give the floats of one pass."""
    t_len, m, k = utility.shape
    for t in range(t_len):
        for i in range(m):
            for a in range(k):
                spent[i, a] += cost[t, i, a]
                if spent[i, a] <= limit[i]:
                    out[i, a] += utility[t, i, a]


@lazy_njit(nogil=True, cache=True)
def grid_chunk_stats(
    utility: np.ndarray,
    cost: np.ndarray,
    played: np.ndarray,
    limit: np.ndarray,
    fixed: np.ndarray,
    spent: np.ndarray,
    swap_u: np.ndarray,
    swap_c: np.ndarray,
    grid_sum: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """`fixed_action_totals` (into fixed, spent), `swap_table` of utility and of cost (into
    swap_u, swap_c) and the per-action utility sums (into grid_sum, (m, K)) of one chunk in
    one pass over its menus: each accumulator adds in the order of its own kernel."""
    t_len, m, k = utility.shape
    for t in range(t_len):
        for i in range(m):
            row = i * k + played[t, i]
            for a in range(k):
                x, y = utility[t, i, a], cost[t, i, a]
                spent[i, a] += y
                if spent[i, a] <= limit[i]:
                    fixed[i, a] += x
                swap_u[row, a] += x
                swap_c[row, a] += y
                grid_sum[i, a] += x


@lazy_njit(nogil=True, cache=True)
def envelope_walk(
    utility: np.ndarray,
    cost: np.ndarray,
    start: np.ndarray,
    tiny: float,
    out_row: np.ndarray,
    out_r: np.ndarray,
    out_du: np.ndarray,
    out_dc: np.ndarray,
    screen: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """`strong_regret._gift_wrap` row by row, to the end: from the first cheapest action
    (written to start[i]), repeatedly the costlier action of steepest slope (u - u_cur) / max(c - c_cur, tiny)
    (the first on ties, as numpy's argmax), while that slope is positive and the row's best
    utility is not reached. Writes the breakpoints (row, r, du, dc) row by row; returns how many,
    or -1 as soon as a row holds a utility or cost that is not finite. Each row is screened
    before its walk, while it is in cache: screen[0] is raised to the largest |utility| and
    screen[1] lowered to the smallest cost seen (the caller initializes both)."""
    rows, k = utility.shape
    n = 0
    peak, low = screen[0], screen[1]
    for i in range(rows):
        ok = True
        for a in range(k):
            x, y = utility[i, a], cost[i, a]
            ok &= np.isfinite(x) & np.isfinite(y)
            peak = max(peak, abs(x))
            low = min(low, y)
        if not ok:
            return -1
        first = 0
        for a in range(1, k):
            if cost[i, a] < cost[i, first]:
                first = a
        start[i] = first  # the first cheapest action, as numpy's argmin
        cur_u = utility[i, first]
        cur_c = cost[i, first]
        best_u = utility[i, 0]
        for a in range(1, k):
            best_u = max(best_u, utility[i, a])
        while cur_u < best_u:
            best, nxt = -np.inf, -1
            for a in range(k):
                slope = (utility[i, a] - cur_u) / max(cost[i, a] - cur_c, tiny)
                if slope > best:
                    best, nxt = slope, a
            if nxt < 0 or not best > 0 or cost[i, nxt] < cur_c:
                break
            out_row[n] = i
            out_r[n] = best
            out_du[n] = utility[i, nxt] - cur_u
            out_dc[n] = cost[i, nxt] - cur_c
            n += 1
            cur_u, cur_c = utility[i, nxt], cost[i, nxt]
    screen[0], screen[1] = peak, low
    return n
