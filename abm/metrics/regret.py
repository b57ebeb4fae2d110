"""Fixed-action (external) regret under a budget, swap regret, and the CE/CCE gaps of the
empirical joint play they imply (Braverman 2021 §2.1.3 and §2.3.3; SPEC.md §C-D).

Inputs are the recorded menus on a finite grid of alternative reports: grid_utility and
grid_cost (T, m, K) for the K grid actions, and what was played. External regret competes
with the best single grid action in hindsight, which in a bandits-with-knapsacks game
stops collecting once its cumulative cost would exceed the budget (Braverman 2021 §2.3.3).
Swap regret (finite grids) sums, over played actions a, the best gain from always
replacing a by some b; on plain utility, and on the Lagrangian payoff u - r* c with r*
the strong-regret dual price, which prices the budget the plain version ignores.

The CE/CCE gaps are functions of any per-round payoff. The run's `ce_gap` / `cce_gap` are
taken on the Lagrangian payoff u - r* c: where the mechanism charges tokens against a
budget, a gap on utility alone counts as "gain" the deviations a budget forbids (bidding
more every round), so it can be large while strong regret is small. Where no budget binds
(r* = 0) the two coincide; the utility-only gaps are kept as `*_utility_only`.
"""

from __future__ import annotations

import numpy as np

from abm.metrics import kernels
from abm.metrics.strong_regret import check_menus


def fixed_action_utility(grid_utility: np.ndarray, grid_cost: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """(m, K) total utility of playing grid action k every round, stopping at depletion: round t
    counts while the cumulative cost through t stays within the budget."""
    u, c = check_menus(grid_utility, grid_cost)
    budget = np.asarray(budget, dtype=np.float64)
    if budget.shape != (u.shape[1],):
        raise ValueError(f"budget must have shape ({u.shape[1]},), got {budget.shape}")
    tol = 1e-9 * np.maximum(1.0, np.abs(budget))
    if kernels.use_kernels(u.size):
        # One compiled pass over the menus, the same additions in the same order as below.
        total = np.zeros(u.shape[1:])
        kernels.fixed_action_totals(u, c, budget + tol, total, np.zeros(u.shape[1:]))
        return total
    alive = np.cumsum(c, axis=0) <= (budget + tol)[None, :, None]
    return np.where(alive, u, 0.0).sum(axis=0)


def external_regret(
    grid_utility: np.ndarray, grid_cost: np.ndarray, budget: np.ndarray, realized: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(regret (m,), best action index (m,)): best fixed grid action under the budget minus the
    realized total utility (m,)."""
    totals = fixed_action_utility(grid_utility, grid_cost, budget)
    best = totals.argmax(axis=1)
    return totals[np.arange(totals.shape[0]), best] - np.asarray(realized, dtype=np.float64), best


def nearest_grid_index(played: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index of the grid point nearest to each played report, measured on log(x + g) with g
    the smallest positive grid point (log-spaced grids; 0 stays distinct)."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or (np.diff(grid) <= 0).any():
        raise ValueError("grid must be a non-empty strictly increasing 1-d array")
    pos = grid[grid > 0]
    shift = pos.min() if pos.size else 1.0
    g = np.log(np.maximum(grid, 0.0) + shift)
    x = np.log(np.maximum(np.asarray(played, dtype=np.float64), 0.0) + shift)
    mids = (g[1:] + g[:-1]) / 2
    return np.searchsorted(mids, x)


def swap_regret(grid_payoff: np.ndarray, played_index: np.ndarray, played_payoff: np.ndarray) -> np.ndarray:
    """Swap regret per agent (m,) for payoffs (T, m, K) on a finite grid (Braverman 2021 §2.3.3):
    sum over played a of max(0, max_b sum_{t: a_t = a} (payoff_t(b) - played_payoff_t)).

    played_index: (T, m) grid index of the action played (see `nearest_grid_index`);
    played_payoff: (T, m) the payoff actually obtained."""
    p = np.asarray(grid_payoff, dtype=np.float64)
    t, m, k = p.shape
    idx = np.asarray(played_index)
    got = np.asarray(played_payoff, dtype=np.float64)
    if idx.shape != (t, m) or got.shape != (t, m):
        raise ValueError(f"played_index and played_payoff must have shape ({t}, {m}), got {idx.shape}, {got.shape}")
    if ((idx < 0) | (idx >= k)).any():
        raise ValueError(f"played_index must lie in [0, {k}), got values in [{idx.min()}, {idx.max()}]")
    # gain[i, a, b] = sum over rounds where i played a of payoff(b) - payoff obtained.
    flat = (np.arange(m)[None, :] * k + idx).ravel()
    swap_in = swap_table(p, idx)
    obtained = np.bincount(flat, weights=got.ravel(), minlength=m * k)
    gain = (swap_in - obtained[:, None]).reshape(m, k, k)
    return np.maximum(gain.max(axis=2), 0.0).sum(axis=1)


def swap_table(
    payoff: np.ndarray, played_index: np.ndarray, compiled: bool | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """(m K, K): row i K + a holds, for each b, the sum of payoff_t(b) over the rounds where
    agent i played a; payoff (T, m, K), played_index (T, m) (validated by the callers);
    `compiled` as `kernels.use_kernels` decides for this many entries when None. With `out`
    ((m K, K), the sums of earlier chunks) the sums are added to it and it is returned."""
    t, m, k = payoff.shape
    if kernels.use_kernels(payoff.size) if compiled is None else compiled:
        # One compiled pass over the payoffs (any strides: no copy of a sliced menu), adding in the
        # bincounts' order, so the same floats (a chunk's sums added into `out` as they come).
        table = np.zeros((m * k, k)) if out is None else out
        kernels.swap_table(payoff, np.asarray(played_index).astype(np.int64, copy=False), table)
        return table
    flat = (np.arange(m)[None, :] * k + np.asarray(played_index)).ravel()
    rows = payoff.reshape(t * m, k)
    sums = np.stack([np.bincount(flat, weights=rows[:, b], minlength=m * k) for b in range(k)], axis=1)
    if out is None:
        return sums
    out += sums
    return out


def lagrangian_payoff(utility: np.ndarray, cost: np.ndarray, r_star: np.ndarray) -> np.ndarray:
    """u - r* c with the per-agent dual price r* (m,) broadcast over (T, m[, K])."""
    r = np.asarray(r_star, dtype=np.float64)
    shape = (1, -1) + (1,) * (np.ndim(utility) - 2)
    out = np.multiply(r.reshape(shape), np.asarray(cost, dtype=np.float64))
    return np.subtract(np.asarray(utility, dtype=np.float64), out, out=out)  # one temporary, not two


def cce_gap(grid_payoff: np.ndarray, played_payoff: np.ndarray) -> float:
    """Coarse-correlated-equilibrium gap of the empirical joint play for per-round payoffs p
    (T, m, K) (utility, or the Lagrangian `lagrangian_payoff`): the largest per-round gain any
    player gets from one fixed grid action against the others' recorded play,
    max_i max_b (1/T) sum_t (p_it(b) - p_it(a_t)); the empirical distribution of play is an
    eps-CCE of the (grid) game with payoffs p iff this is <= eps."""
    p = np.asarray(grid_payoff, dtype=np.float64)
    t = p.shape[0]
    gain = p.sum(axis=0).max(axis=1) - np.asarray(played_payoff, dtype=np.float64).sum(axis=0)
    return float(max(gain.max(), 0.0) / t)


def ce_gap(grid_payoff: np.ndarray, played_index: np.ndarray, played_payoff: np.ndarray) -> float:
    """Correlated-equilibrium gap of the empirical joint play for per-round payoffs p
    (as `cce_gap`): max_i swap regret_i / T."""
    t = np.shape(grid_payoff)[0]
    return float(swap_regret(grid_payoff, played_index, played_payoff).max() / t)


class GridRegretStats:
    """The grid-menu regret metrics of one run fed chunk by chunk in round order
    (`add`), so the (T, m, K) menus are never held whole: fixed-action utilities under the
    budget (`external_regret`), the swap gains on utility and cost (`swap_regret`, also
    on the Lagrangian payoff u - r c, which is linear in them) and the per-action sums of
    the CE/CCE gaps. Equal to the whole-array functions above up to summation order."""

    def __init__(self, budget: np.ndarray, k: int, compiled: bool | None = None) -> None:
        self.compiled = compiled
        self.budget = np.asarray(budget, dtype=np.float64)
        m = self.budget.shape[0]
        self.k = k
        self._tol = 1e-9 * np.maximum(1.0, np.abs(self.budget))
        self.rounds = 0
        self.cum_cost = np.zeros((m, k))
        self.fixed = np.zeros((m, k))
        self.grid_sum = np.zeros((m, k))
        self.grid_cost_sum = np.zeros((m, k))
        self.swap_u = np.zeros((m * k, k))
        self.swap_c = np.zeros((m * k, k))
        self.got_u = np.zeros(m * k)
        self.got_c = np.zeros(m * k)
        self.played_total = np.zeros(m)
        self.played_cost = np.zeros(m)

    def add(
        self,
        grid_u: np.ndarray,
        grid_c: np.ndarray,
        played_index: np.ndarray,
        got_u: np.ndarray,
        got_c: np.ndarray,
        *,
        validated: bool = False,
    ) -> None:
        """One chunk: grid menus (t, m, K), the played grid index (t, m) and the realized
        utility and charge (t, m) of those rounds; `validated`: the caller has checked the
        menus already (`strong_regret.screen_menus`)."""
        u, c = (np.asarray(grid_u, dtype=np.float64), np.asarray(grid_c, dtype=np.float64)) if validated else (
            check_menus(grid_u, grid_c))
        t, m, k = u.shape
        if k != self.k or m != self.budget.shape[0]:
            raise ValueError(f"grid menus must be (t, {self.budget.shape[0]}, {self.k}), got {u.shape}")
        if kernels.use_kernels(u.size) if self.compiled is None else self.compiled:
            # One compiled pass for the fixed actions (the carried cost updated in place: the
            # floats of one cumsum), both swap tables and the action sums.
            kernels.grid_chunk_stats(
                u, c, np.asarray(played_index).astype(np.int64, copy=False), self.budget + self._tol,
                self.fixed, self.cum_cost, self.swap_u, self.swap_c, self.grid_sum,
            )
        else:
            cum = np.cumsum(c, axis=0)
            cum += self.cum_cost  # the carried cost (round-off apart, the running sum of every round)
            self.cum_cost = cum[-1].copy()
            alive = cum <= (self.budget + self._tol)[:, None]
            self.fixed += np.multiply(u, alive, out=cum).sum(axis=0)  # u where alive, else 0
            self.grid_sum += u.sum(axis=0)
            swap_table(u, played_index, False, out=self.swap_u)
            swap_table(c, played_index, False, out=self.swap_c)
        # The Lagrangian CE/CCE gaps need the cost's action sums too (one numpy pass).
        self.grid_cost_sum += c.sum(axis=0)
        flat = (np.arange(m)[None, :] * k + np.asarray(played_index)).ravel()
        self.got_u += np.bincount(flat, weights=np.asarray(got_u, dtype=np.float64).ravel(), minlength=m * k)
        self.got_c += np.bincount(flat, weights=np.asarray(got_c, dtype=np.float64).ravel(), minlength=m * k)
        self.played_total += np.asarray(got_u, dtype=np.float64).sum(axis=0)
        self.played_cost += np.asarray(got_c, dtype=np.float64).sum(axis=0)
        self.rounds += t

    def external_regret(self, realized: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As `external_regret`: (regret (m,), best grid index (m,))."""
        best = self.fixed.argmax(axis=1)
        return self.fixed[np.arange(self.fixed.shape[0]), best] - np.asarray(realized, dtype=np.float64), best

    def swap_regret(self, r: np.ndarray | None = None) -> np.ndarray:
        """As `swap_regret` on utility, or on u - r c with per-agent prices r (m,)."""
        m, k = self.budget.shape[0], self.k
        swap_in, got = self.swap_u, self.got_u
        if r is not None:
            rr = np.repeat(np.asarray(r, dtype=np.float64), k)
            swap_in = swap_in - rr[:, None] * self.swap_c
            got = got - rr * self.got_c
        gain = (swap_in - got[:, None]).reshape(m, k, k)
        return np.maximum(gain.max(axis=2), 0.0).sum(axis=1)

    def cce_gap(self, r: np.ndarray | None = None) -> float:
        """As `cce_gap` on utility, or on u - r c with per-agent prices r (m,)."""
        grid, played = self.grid_sum, self.played_total
        if r is not None:
            rr = np.asarray(r, dtype=np.float64)
            grid = grid - rr[:, None] * self.grid_cost_sum
            played = played - rr * self.played_cost
        gain = grid.max(axis=1) - played
        return float(max(gain.max(), 0.0) / self.rounds)

    def ce_gap(self, r: np.ndarray | None = None) -> float:
        """As `ce_gap` on utility, or on u - r c with per-agent prices r (m,)."""
        return float(self.swap_regret(r).max() / self.rounds)
