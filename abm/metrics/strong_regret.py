"""Strong regret (Braverman §2.1.3, Definition 3; SPEC.md §C), exact and vectorized over agents.

The benchmark of Definition 3 is the best *distribution* over bid sequences whose
*expected* cost is within the budget. With per-round menus (u_t(a), c_t(a)) it is the LP
over per-round mixed actions q_t

    OPT = max sum_t E_{q_t} u_t   s.t.   sum_t E_{q_t} c_t <= B,

whose dual OPT = min_{r >= 0} r B + sum_t max_a (u_t(a) - r c_t(a)) is convex and
piecewise linear in r. Per round, max_a (u_t(a) - r c_t(a)) is the upper envelope of the
menu's lines; walking it from the cheapest action (r = inf) towards r = 0 gives
breakpoints r_1 > r_2 > ... with utility gains du_j and extra costs dc_j (du_j = r_j dc_j),
so that envelope_t(r) = u_t^0 - r c_t^0 + sum_j (du_j - r dc_j)^+. Sorting every round's
breakpoints by r (descending) and filling the slack B - sum_t c_t^0 greedily (the
fractional multiple-choice knapsack) gives the exact optimum; the last, partially filled
breakpoint is the optimal exchange rate r* (tokens -> utility; Braverman Claim 2's r_min).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

#: Menu entries (rows x K) per envelope chunk: two reused (rows, K) float64 buffers of 8 MB.
CHUNK_ENTRIES = 1 << 20
#: Stand-in for a zero cost difference (see `menu_envelope`).
TINY_COST = 1e-300
#: Relative tolerance for "the budget is below the cheapest menu" (float round-off only).
BUDGET_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class Breakpoints:
    """Upper-envelope data of many menus (rows), flat over all breakpoints.

    base_utility/base_cost: (rows,) the first cheapest action of each row. row/r/du/dc: one
    entry per breakpoint in decreasing r per row, r > 0, dc >= 0 (dc = 0 with a huge r for
    an equally cheap, more useful action)."""

    base_utility: np.ndarray
    base_cost: np.ndarray
    row: np.ndarray
    r: np.ndarray
    du: np.ndarray
    dc: np.ndarray


@dataclass(frozen=True, slots=True)
class StrongRegretResult:
    """Per agent (m,): the benchmark OPT, realized utility, strong regret OPT - U (utility
    units), per round (/T), in payoff-bound units (/M: Definition 3's epsilon), and the
    optimal dual price r* (0 when the budget does not bind)."""

    opt: np.ndarray
    utility: np.ndarray
    regret: np.ndarray
    per_round: np.ndarray
    eps: np.ndarray
    r_star: np.ndarray
    rounds: int
    payoff_bound: float


def menu_envelope(utility: np.ndarray, cost: np.ndarray) -> Breakpoints:
    """Breakpoints of max_a (u(a) - r c(a)) over r > 0 for each row of (rows, K) menus.

    Gift wrapping, vectorized over rows: from the current vertex the next one is the costlier
    action with the steepest utility-per-cost slope, and that slope is the breakpoint (a
    collinear costlier action then follows with the same r). A row is finished when no slope
    is positive. Five passes over the (rows, K) block per envelope vertex, in two reused
    buffers; finished rows are dropped once they are the majority.

    No action cheaper than (or as cheap as) the current vertex is more useful: at the start it
    is the cheapest action, and afterwards such an action would have had the steeper slope. So
    those actions need no mask: dividing their du <= 0 by a tiny positive dc makes them
    hugely negative (or 0). Equally cheap but more useful actions than the first cheapest one
    come out as breakpoints with dc = 0 and a huge r, which the knapsack always takes."""
    u = np.asarray(utility, dtype=np.float64)
    c = np.asarray(cost, dtype=np.float64)
    if u.shape != c.shape or u.ndim != 2:
        raise ValueError(f"utility and cost must be (rows, K) arrays of one shape, got {u.shape} and {c.shape}")
    if not (np.isfinite(u).all() and np.isfinite(c).all()):
        raise ValueError("utility and cost menus must be finite")
    rows, _ = u.shape
    idx = np.arange(rows)
    start = c.argmin(axis=1)
    base_u, base_c = u[idx, start], c[idx, start]
    out_row, out_r, out_du, out_dc = [], [], [], []
    # A row is finished once its vertex reaches the row's best utility: no slope can be positive.
    umax = u.max(axis=1)
    open_rows = base_u < umax
    if open_rows.all():
        active, ua, ca, umax = idx, u, c, umax
    else:
        active, ua, ca, umax = idx[open_rows], u[open_rows], c[open_rows], umax[open_rows]
    cur_u, cur_c = base_u[active], base_c[active]
    done = np.zeros(active.size, dtype=bool)
    buf_dc, buf_slope = np.empty(ua.shape), np.empty(ua.shape)
    while active.size:
        n = active.size
        dc, slope = buf_dc[:n], buf_slope[:n]
        np.subtract(ca, cur_c[:, None], out=dc)
        np.maximum(dc, TINY_COST, out=dc)
        np.subtract(ua, cur_u[:, None], out=slope)
        with np.errstate(over="ignore"):
            np.divide(slope, dc, out=slope)
        k = np.arange(n)
        nxt = slope.argmax(axis=1)
        best = slope[k, nxt]
        new_u, new_c = ua[k, nxt], ca[k, nxt]
        # new_c < cur_c only through float round-off on near-duplicate actions: stop there.
        go = (best > 0) & (new_c >= cur_c) & ~done
        if not go.any():
            break
        out_row.append(active[go])
        out_r.append(best[go])
        out_du.append(new_u[go] - cur_u[go])
        out_dc.append(new_c[go] - cur_c[go])
        cur_u = np.where(go, new_u, cur_u)
        cur_c = np.where(go, new_c, cur_c)
        done = ~go | (cur_u >= umax)
        if done.all():
            break
        if done.sum() * 2 > n:  # drop finished rows once they are the majority
            keep = ~done
            active, ua, ca, umax = active[keep], ua[keep], ca[keep], umax[keep]
            cur_u, cur_c, done = cur_u[keep], cur_c[keep], done[keep]
    return Breakpoints(
        base_u, base_c, _cat(out_row, np.int64), _cat(out_r, float), _cat(out_du, float), _cat(out_dc, float)
    )


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


#: Breakpoints solved per block of agents (bounds the knapsack's temporaries).
SOLVE_BLOCK = 1 << 20


class StrongRegretAccumulator:
    """Streams (T_chunk, m, K) menu chunks through `menu_envelope` and keeps only the
    breakpoints, so horizons whose full menus would not fit in memory still take one pass.

    `add(utility, cost)` in round order; `solve(budget, horizon=None)` computes OPT for
    the first `horizon` rounds (all rounds by default) with the given budgets (m,).

    Memory: per breakpoint a round and an agent (int32) and r, du, dc (float64), sorted
    once by (agent, r descending) in place of the unsorted parts; per round and agent the
    cheapest action's utility and cost, kept per chunk."""

    def __init__(self, n_agents: int) -> None:
        if n_agents < 1:
            raise ValueError(f"n_agents must be >= 1, got {n_agents}")
        self.m = n_agents
        self.rounds = 0
        self._base_u: list[np.ndarray] = []
        self._base_c: list[np.ndarray] = []
        self._parts: list[tuple[np.ndarray, ...]] = []
        self._sorted = False

    def add(self, utility: np.ndarray, cost: np.ndarray) -> None:
        u = np.asarray(utility, dtype=np.float64)
        c = np.asarray(cost, dtype=np.float64)
        if u.ndim != 3 or u.shape != c.shape or u.shape[1] != self.m:
            raise ValueError(
                f"menus must be (T, m={self.m}, K) utility and cost arrays of one shape, got {u.shape}, {c.shape}"
            )
        t_chunk, m, k = u.shape
        flat_u, flat_c = u.reshape(t_chunk * m, k), c.reshape(t_chunk * m, k)
        # Whole rounds per envelope block, so each block's base rows reshape to (rounds, m).
        step = max(1, CHUNK_ENTRIES // max(k * m, 1)) * m
        for lo in range(0, t_chunk * m, step):
            bp = menu_envelope(flat_u[lo : lo + step], flat_c[lo : lo + step])
            rows = bp.row + lo
            self._base_u.append(bp.base_utility.reshape(-1, m))
            self._base_c.append(bp.base_cost.reshape(-1, m))
            self._parts.append(
                ((rows // m + self.rounds).astype(np.int32), (rows % m).astype(np.int32), bp.r, bp.du, bp.dc)
            )
        self.rounds += t_chunk
        self._sorted = False

    def _breakpoints_by_agent(self) -> tuple[np.ndarray, ...]:
        """All breakpoints sorted by (agent, r descending): (round, agent, r, du, dc)."""
        if not self._sorted:
            # Column by column, each chunk list dropped once joined, each column replaced by
            # its sorted copy: the peak is one column above the breakpoints themselves.
            dtypes = (np.int32, np.int32, np.float64, np.float64, np.float64)
            columns: list[list[np.ndarray]] = [[p[j] for p in self._parts] for j in range(5)]
            self._parts = []
            joined: list[np.ndarray] = []
            for j in range(5):
                joined.append(np.concatenate(columns[j]).astype(dtypes[j], copy=False) if columns[j]
                              else np.zeros(0, dtype=dtypes[j]))
                columns[j] = []
            order = np.lexsort((np.negative(joined[2]), joined[1]))
            for j in range(5):
                joined[j] = joined[j][order]
            del order
            self._parts = [tuple(joined)]
            self._sorted = True
        return self._parts[0]

    def _base_sums(self, horizons: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(H, m) sums of the cheapest actions' utility and cost over the first h rounds."""
        out_u, out_c = np.zeros((len(horizons), self.m)), np.zeros((len(horizons), self.m))
        order = np.argsort(horizons, kind="stable")
        acc_u, acc_c, done, g = np.zeros(self.m), np.zeros(self.m), 0, 0
        for bu, bc in zip(self._base_u, self._base_c, strict=True):
            hi = done + bu.shape[0]
            cu, cc = np.cumsum(np.vstack([acc_u, bu]), axis=0), np.cumsum(np.vstack([acc_c, bc]), axis=0)
            while g < len(order) and horizons[order[g]] <= hi:
                out_u[order[g]], out_c[order[g]] = cu[horizons[order[g]] - done], cc[horizons[order[g]] - done]
                g += 1
            acc_u, acc_c, done = cu[-1], cc[-1], hi
        return out_u, out_c

    def base(self) -> tuple[np.ndarray, np.ndarray]:
        """(T, m) utility and cost of each round's cheapest action."""
        if not self._base_u:
            return np.zeros((0, self.m)), np.zeros((0, self.m))
        return np.concatenate(self._base_u), np.concatenate(self._base_c)

    def solve(self, budget: np.ndarray, horizon: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(OPT (m,), r* (m,)) of the LP over the first `horizon` rounds with budgets (m,)."""
        return self.solve_many(np.asarray(budget, dtype=np.float64)[None, :], [horizon or self.rounds])

    def solve_many(self, budgets: np.ndarray, horizons: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """OPT and r* for several prefixes at once: budgets (H, m), horizons (H,) -> (H, m) each."""
        horizons = [int(h) for h in horizons]
        budgets = np.asarray(budgets, dtype=np.float64)
        if budgets.shape != (len(horizons), self.m):
            raise ValueError(f"budgets must have shape ({len(horizons)}, {self.m}), got {budgets.shape}")
        if not np.isfinite(budgets).all():
            raise ValueError("budgets must be finite")
        for h in horizons:
            if not 1 <= h <= self.rounds:
                raise ValueError(f"horizon must be in [1, {self.rounds}], got {h}")
        rnd, agent, r, du, dc = self._breakpoints_by_agent()
        u0s, c0s = self._base_sums(horizons)
        opt = np.empty((len(horizons), self.m))
        r_star = np.zeros((len(horizons), self.m))
        # Agents in blocks of about SOLVE_BLOCK breakpoints (the arrays are sorted by agent).
        ends = np.searchsorted(agent, np.arange(1, self.m + 1), side="left")
        blocks, first = [], 0
        while first < self.m:
            start = ends[first - 1] if first else 0
            last = int(np.searchsorted(ends, start + SOLVE_BLOCK, side="right"))
            last = min(max(last, first + 1), self.m)
            blocks.append((first, last, int(start), int(ends[last - 1])))
            first = last
        for g, h in enumerate(horizons):
            u0, c0 = u0s[g], c0s[g]
            slack = budgets[g] - c0
            short = slack < -BUDGET_TOL * np.maximum(1.0, np.abs(budgets[g]))
            if short.any():
                i = int(np.flatnonzero(short)[0])
                raise ValueError(
                    f"budget[{i}] = {budgets[g, i]} is below the cheapest menu cost {c0[i]} over {h} rounds"
                )
            slack = np.maximum(slack, 0.0)
            gains = np.zeros(self.m)
            for a0, a1, lo, hi in blocks:
                ag, rr, uu, cc = agent[lo:hi], r[lo:hi], du[lo:hi], dc[lo:hi]
                if h < self.rounds:
                    take = rnd[lo:hi] < h
                    ag, rr, uu, cc = ag[take], rr[take], uu[take], cc[take]
                local = ag - a0
                cum = _segment_cumsum(cc, local, a1 - a0)
                before = cum - cc
                s = slack[ag]
                full = cum <= s
                part = ~full & (before < s)
                frac = np.where(part, (s - before) / np.where(part, cc, 1.0), 0.0)
                gain = np.where(full, uu, 0.0) + frac * uu
                gains[a0:a1] = np.bincount(local, weights=gain, minlength=a1 - a0)
                # r* is the first breakpoint not fully taken (entries are sorted r-descending).
                rest = ~full
                agents_rest, first_rest = np.unique(ag[rest], return_index=True)
                r_star[g, agents_rest] = rr[rest][first_rest]
            opt[g] = u0 + gains
        return opt, r_star


def _segment_cumsum(x: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Cumulative sum of x restarting at each group (x sorted by group)."""
    total = np.cumsum(x)
    counts = np.bincount(group, minlength=n_groups)
    ends = np.cumsum(counts)
    offsets = np.concatenate([[0.0], total[ends[:-1] - 1]]) if x.size else np.zeros(n_groups)
    # An empty group's end index repeats its predecessor's, so its offset is still correct.
    offsets = np.where(np.concatenate([[0], ends[:-1]]) > 0, offsets, 0.0)
    return total - offsets[group]


def check_menus(utility: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate (T, m, K) menus: same shape, finite, costs >= 0."""
    u = np.asarray(utility, dtype=np.float64)
    c = np.asarray(cost, dtype=np.float64)
    if u.ndim != 3 or u.shape != c.shape:
        raise ValueError(f"menu utility and cost must be (T, m, K) arrays of one shape, got {u.shape}, {c.shape}")
    if not np.isfinite(u).all():
        raise ValueError("menu utility must be finite")
    if not np.isfinite(c).all() or (c < 0).any():
        raise ValueError("menu cost must be finite and >= 0")
    return u, c


def strong_regret(
    utility: np.ndarray,
    cost: np.ndarray,
    budget: np.ndarray,
    realized: np.ndarray,
    payoff_bound: float = 1.0,
) -> StrongRegretResult:
    """Strong regret of each agent (Braverman Definition 3) from per-round menus.

    utility, cost: (T, m, K) menus (they should contain the played action, so the played
    sequence is feasible for the LP); budget: (m,); realized: (m,) total realized utility
    U or (T, m) per round; payoff_bound: M (payoffs in [0, M]); eps = (OPT - U) / M."""
    u, c = check_menus(utility, cost)
    t, m, _ = u.shape
    budget = np.asarray(budget, dtype=np.float64)
    if budget.shape != (m,):
        raise ValueError(f"budget must have shape ({m},), got {budget.shape}")
    if not payoff_bound > 0:
        raise ValueError(f"payoff_bound must be > 0, got {payoff_bound}")
    realized = np.asarray(realized, dtype=np.float64)
    total = realized.sum(axis=0) if realized.ndim == 2 else realized
    if total.shape != (m,):
        raise ValueError(f"realized must have shape ({m},) or ({t}, {m}), got {realized.shape}")
    acc = StrongRegretAccumulator(m)
    acc.add(u, c)
    opt, r_star = acc.solve(budget)
    return regret_result(opt[0], total, r_star[0], t, payoff_bound)


def regret_result(
    opt: np.ndarray, total: np.ndarray, r_star: np.ndarray, t: int, payoff_bound: float
) -> StrongRegretResult:
    """Package OPT (m,) and the realized totals (m,) over t rounds as a `StrongRegretResult`."""
    regret = opt - total
    return StrongRegretResult(
        opt=opt,
        utility=total,
        regret=regret,
        per_round=regret / t,
        eps=regret / payoff_bound,
        r_star=r_star,
        rounds=t,
        payoff_bound=float(payoff_bound),
    )


def dual_objective(utility: np.ndarray, cost: np.ndarray, budget: np.ndarray, r: np.ndarray) -> np.ndarray:
    """D(r) = r B + sum_t max_a (u_t(a) - r c_t(a)) per agent, for prices r (m,): an upper
    bound on OPT for every r >= 0 (weak duality), equal to it at r*."""
    u, c = check_menus(utility, cost)
    r = np.asarray(r, dtype=np.float64)
    return r * np.asarray(budget, dtype=np.float64) + (u - r[None, :, None] * c).max(axis=2).sum(axis=0)


def prefix_budgets(budget: np.ndarray, spent: np.ndarray, horizons: Iterable[int], rounds: int) -> np.ndarray:
    """Budget of the t-round prefix game: the pro-rated share B t / T, raised to what the
    agent actually spent by t so the played prefix stays feasible (Definition 3 assumes a
    feasible played sequence). spent: (T, m) per-round charges -> (H, m)."""
    cum = np.cumsum(np.asarray(spent, dtype=np.float64), axis=0)
    hs = np.asarray(list(horizons), dtype=np.int64)
    budget = np.asarray(budget, dtype=np.float64)
    return np.maximum(budget[None, :] * hs[:, None] / rounds, cum[hs - 1])
