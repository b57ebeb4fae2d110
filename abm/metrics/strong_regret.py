"""Strong regret (Braverman 2021 §2.1.3, Definition 3; SPEC.md §C), exact and vectorized over agents.

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
breakpoint is the optimal exchange rate r* (tokens -> utility; Braverman 2021 Claim 2's r_min).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from abm.metrics import kernels

#: Menu entries (rows x K) per envelope chunk: two reused (rows, K) float64 buffers of 8 MB.
CHUNK_ENTRIES = 1 << 20
#: Stand-in for a zero cost difference (see `menu_envelope`).
TINY_COST = 1e-300
#: Vertices per row that `menu_envelope` finds by gift wrapping before the rows still open get
#: their hull from one sort (the two cost about the same at six vertices).
GIFT_WRAP_VERTICES = 2
#: Relative tolerance for "the budget is below the cheapest menu" (float round-off only).
BUDGET_TOL = 1e-9
#: Breakpoints per group of agents whose knapsacks `StrongRegretAccumulator.solve_many`
#: fills together (at least one agent per group).
FILL_BREAKPOINTS = 1 << 21
#: Breakpoints per block of `StrongRegretAccumulator.solve_many`'s prefix tables.
SOLVE_BLOCK = 64


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


def menu_envelope(utility: np.ndarray, cost: np.ndarray, *, compiled: bool | None = None) -> Breakpoints:
    """Breakpoints of max_a (u(a) - r c(a)) over r > 0 for each row of (rows, K) menus.

    compiled: walk each row by the compiled gift wrapping (`kernels.envelope_walk`, the same
    vertices as below); None: when `kernels.use_kernels` says so for this many entries.

    Gift wrapping (`_gift_wrap`) for up to GIFT_WRAP_VERTICES vertices per row, which finishes
    the rows of piecewise-constant menus (a few jumps) in a few passes; the rows still open
    then get their whole upper concave hull from one sort (`_sorted_hull`), which costs about
    as much as six gift-wrapping passes however many vertices a row has (concave menus: one
    per alternative). Both give the same vertices (up to ties in slope), so the same
    breakpoints (those of a row in decreasing r; the rows in no particular order).

    The base is the *first* cheapest action (lowest index); an equally cheap, more useful one
    comes out as a breakpoint with dc = 0 and r = du / TINY_COST (huge), which the knapsack
    always takes."""
    u = np.asarray(utility, dtype=np.float64)
    c = np.asarray(cost, dtype=np.float64)
    if u.shape != c.shape or u.ndim != 2:
        raise ValueError(f"utility and cost must be (rows, K) arrays of one shape, got {u.shape} and {c.shape}")
    rows, k = u.shape
    if k == 0 or rows == 0:
        empty, none = np.zeros(0), np.zeros(0, dtype=np.int64)
        return Breakpoints(np.zeros(rows), np.zeros(rows), none, empty, empty, empty)
    if kernels.use_kernels(u.size) if compiled is None else compiled:
        return _walked(u, c, _walk_buffers(rows, k), np.array([0.0, np.inf]))  # screened in the walk
    _check_block(u, c)
    return _envelope(u, c)


def _envelope(u: np.ndarray, c: np.ndarray) -> Breakpoints:
    """`menu_envelope` by numpy on checked, non-empty menus."""
    rows = u.shape[0]
    idx = np.arange(rows)
    start = c.argmin(axis=1)
    base_u, base_c = u[idx, start], c[idx, start]
    walked, still_open = _gift_wrap(u, c, base_u, base_c, GIFT_WRAP_VERTICES)
    if still_open.size == 0:
        return Breakpoints(base_u, base_c, *walked)
    # The walked rows' breakpoints, then the other rows' whole hulls.
    finished = ~np.isin(walked[0], still_open)
    h_row, h_r, h_du, h_dc = _sorted_hull(u[still_open], c[still_open], base_u[still_open], base_c[still_open])
    row = np.concatenate([walked[0][finished], still_open[h_row]])
    parts = [np.concatenate([w[finished], h]) for w, h in zip(walked[1:], (h_r, h_du, h_dc), strict=True)]
    return Breakpoints(base_u, base_c, row, *parts)


def _check_block(u: np.ndarray, c: np.ndarray) -> None:
    if u.shape != c.shape or u.ndim != 2:
        raise ValueError(f"utility and cost must be (rows, K) arrays of one shape, got {u.shape} and {c.shape}")
    with np.errstate(over="ignore", invalid="ignore"):  # a finite sum (one pass, no temporary) first
        finite = (not u.size or np.isfinite(u.sum())) and (not c.size or np.isfinite(c.sum()))
    if not finite and not (np.isfinite(u).all() and np.isfinite(c).all()):
        raise ValueError("utility and cost menus must be finite")


def _walk_buffers(rows: int, k: int) -> tuple[np.ndarray, ...]:
    """Output space of `kernels.envelope_walk` for `rows` menus of k actions (start, row, r, du, dc)."""
    size = rows * max(k - 1, 1)
    return (np.empty(rows, dtype=np.int64), np.empty(size, dtype=np.int64), *(np.empty(size) for _ in range(3)))


def _walked(u: np.ndarray, c: np.ndarray, buffers: tuple[np.ndarray, ...], screen: np.ndarray) -> Breakpoints:
    """`menu_envelope` by the compiled walk, written into reusable buffers (`_walk_buffers`),
    which checks the menus as it goes (a ValueError if one is not finite) and updates
    `screen` (largest |utility|, smallest cost: `kernels.envelope_walk`)."""
    rows = u.shape[0]
    start, row, r, du, dc = buffers
    start = start[:rows]
    n = kernels.envelope_walk(u, c, start, TINY_COST, row, r, du, dc, screen)
    if n < 0:
        raise ValueError("utility and cost menus must be finite")
    idx = np.arange(rows)
    return Breakpoints(u[idx, start], c[idx, start], *(x[:n].copy() for x in (row, r, du, dc)))


def _gift_wrap(
    u: np.ndarray, c: np.ndarray, base_u: np.ndarray, base_c: np.ndarray, max_vertices: int
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Gift wrapping, vectorized over rows, for at most `max_vertices` vertices per row: from the
    current vertex the next one is the costlier action with the steepest utility-per-cost
    slope, and that slope is the breakpoint (a collinear costlier action then follows with the
    same r). A row is finished when no slope is positive. Five passes over the (rows, K) block
    per vertex, in two reused buffers; finished rows are dropped once they are the majority.

    No action cheaper than (or as cheap as) the current vertex is more useful: at the start it
    is the cheapest action, and afterwards such an action would have had the steeper slope. So
    those actions need no mask: dividing their du <= 0 by a tiny positive dc makes them
    hugely negative (or 0).

    Returns ((row, r, du, dc) of the breakpoints found) and the rows not finished after
    max_vertices (their breakpoints so far are among those returned)."""
    rows = u.shape[0]
    idx = np.arange(rows)
    out_row: list[np.ndarray] = []
    out_r: list[np.ndarray] = []
    out_du: list[np.ndarray] = []
    out_dc: list[np.ndarray] = []
    # A row is finished once its vertex reaches the row's best utility: no slope can be positive.
    umax = u.max(axis=1)
    open_rows = base_u < umax
    if open_rows.all():
        active, ua, ca = idx, u, c
    else:
        active, ua, ca, umax = idx[open_rows], u[open_rows], c[open_rows], umax[open_rows]
    cur_u, cur_c = base_u[active], base_c[active]
    done = np.zeros(active.size, dtype=bool)
    buf_dc, buf_slope = np.empty(ua.shape), np.empty(ua.shape)
    for vertex in range(max_vertices + 1):
        if not active.size:
            break
        if vertex == max_vertices:
            return _stack(out_row, out_r, out_du, out_dc), active[~done]
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
    return _stack(out_row, out_r, out_du, out_dc), np.zeros(0, dtype=np.int64)


def _stack(rows: list[np.ndarray], *values: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    return (_cat(rows, np.int64), *(_cat(v, float) for v in values))


def _sorted_hull(
    u: np.ndarray, c: np.ndarray, base_u: np.ndarray, base_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The breakpoints of each row from its whole upper concave hull: sort the actions by cost
    (ties: more useful first), keep the Pareto frontier (each kept action more useful than
    every cheaper one) packed to the left; a row whose frontier slopes already decrease
    strictly is its own hull (concave menus), the others go through Andrew's monotone chain
    (`_hull_by_stack`). Returns (row, r, du, dc), row by row."""
    rows, k = u.shape
    order = np.lexsort((-u, c), axis=1)
    us, cs = np.take_along_axis(u, order, axis=1), np.take_along_axis(c, order, axis=1)
    frontier = np.ones((rows, k), dtype=bool)
    frontier[:, 1:] = us[:, 1:] > np.maximum.accumulate(us, axis=1)[:, :-1]
    size = frontier.sum(axis=1)
    if not frontier.all():
        pack = np.argsort(~frontier, axis=1, kind="stable")  # frontier points first, in cost order
        us, cs = np.take_along_axis(us, pack, axis=1), np.take_along_axis(cs, pack, axis=1)
    # Frontier costs increase strictly, so every slope between consecutive points is finite or +inf.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        slope = (us[:, 1:] - us[:, :-1]) / (cs[:, 1:] - cs[:, :-1])
    if k > 2:
        inner = np.arange(1, k - 1)[None, :] < (size - 1)[:, None]  # slopes j and j - 1 both on the frontier
        bent = np.flatnonzero((inner & ~(slope[:, 1:] < slope[:, :-1])).any(axis=1))
        if bent.size:
            us[bent], cs[bent], size[bent] = _hull_by_stack(us[bent], cs[bent], size[bent])
    # Each row's breakpoints, row by row (so r decreases within a row): column 0 is base ->
    # vertex 0 when vertex 0 is more useful (dc = 0), column j + 1 the hull edge j -> j + 1.
    du = np.concatenate([(us[:, 0] - base_u)[:, None], us[:, 1:] - us[:, :-1]], axis=1)
    dc = np.concatenate([(cs[:, 0] - base_c)[:, None], cs[:, 1:] - cs[:, :-1]], axis=1)
    keep = np.empty((rows, k), dtype=bool)
    keep[:, 0] = du[:, 0] > 0
    keep[:, 1:] = np.arange(k - 1)[None, :] < (size - 1)[:, None]
    row = np.nonzero(keep)[0]
    du, dc = du[keep], dc[keep]
    with np.errstate(over="ignore"):
        r = du / np.maximum(dc, TINY_COST)
    return row.astype(np.int64), r, du, dc


def _hull_by_stack(us: np.ndarray, cs: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Andrew's monotone chain on packed frontier points (rows, K) with `size` points per row:
    push them left to right onto one stack per row, popping the top while the edge into it is
    not steeper than the edge out of it. Returns the hull vertices packed and their counts."""
    rows, k = us.shape
    stack_u, stack_c = np.zeros((rows, k)), np.zeros((rows, k))
    stack_u[:, 0], stack_c[:, 0] = us[:, 0], cs[:, 0]
    top = np.ones(rows, dtype=np.int64)  # stack sizes
    for j in range(1, int(size.max())):
        live = np.flatnonzero(size > j)
        pu, pc = us[live, j], cs[live, j]
        while live.size:
            t = top[live] - 1
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                into = (stack_u[live, t] - stack_u[live, t - 1]) / (stack_c[live, t] - stack_c[live, t - 1])
                out = (pu - stack_u[live, t]) / (pc - stack_c[live, t])
            pop = (t >= 1) & (into <= out)
            if not pop.any():
                break
            top[live[pop]] -= 1
        at = top[live]
        stack_u[live, at], stack_c[live, at] = pu, pc
        top[live] += 1
    return stack_u, stack_c, top


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


class StrongRegretAccumulator:
    """Streams (T_chunk, m, K) menu chunks through `menu_envelope` and keeps only the
    breakpoints, so horizons whose full menus would not fit in memory still take one pass.

    `add(utility, cost)` in round order; `solve(budget, horizon=None)` computes OPT for
    the first `horizon` rounds (all rounds by default) with the given budgets (m,).

    Memory: per breakpoint a round and an agent (int32) and r, du, dc (float64), kept per
    agent as they come and sorted agent by agent (r descending) into one set of arrays; per
    round and agent the cheapest action's utility and cost, kept per block of whole rounds.
    The knapsack fill runs over groups of agents of at most FILL_BREAKPOINTS breakpoints, so
    its temporaries stay bounded whatever the horizon."""

    def __init__(self, n_agents: int) -> None:
        if n_agents < 1:
            raise ValueError(f"n_agents must be >= 1, got {n_agents}")
        self.m = n_agents
        self.rounds = 0
        self._base_u: list[np.ndarray] = []
        self._base_c: list[np.ndarray] = []
        self._by_agent: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(n_agents)]
        self._sorted: tuple[np.ndarray, ...] | None = None
        self._groups: list[tuple[int, int, int, int, _BlockLayout]] | None = None

    def add(self, utility: np.ndarray, cost: np.ndarray, *, compiled: bool | None = None) -> float:
        """One (T_chunk, m, K) chunk of menus, in round order; `compiled`: walk the envelopes
        with the compiled kernel (None: when `kernels.use_kernels` says so for this chunk; a
        caller streaming many chunks of a large run decides once for the run).

        The chunk is checked as `check_menus` does (finite, costs >= 0; a ValueError
        otherwise) in the same pass as its envelopes when compiled; returns its largest
        |utility| (what the metrics compare with the payoff bound), so a caller need not
        pass over the menus again for either."""
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
        # Large menus go through the compiled walk, in one set of output buffers for all chunks.
        use = kernels.use_kernels(u.size) if compiled is None else compiled
        buffers = _walk_buffers(min(step, t_chunk * m), k) if use else None
        screen = np.array([0.0, np.inf])
        peak = screen_menus(u, c) if buffers is None else 0.0
        for lo in range(0, t_chunk * m, step):
            chunk_u, chunk_c = flat_u[lo : lo + step], flat_c[lo : lo + step]
            if not k:
                bp = menu_envelope(chunk_u, chunk_c)
            elif buffers is None:
                bp = _envelope(chunk_u, chunk_c)
            else:
                bp = _walked(chunk_u, chunk_c, buffers, screen)
            rows = bp.row + lo
            self._base_u.append(bp.base_utility.reshape(-1, m))
            self._base_c.append(bp.base_cost.reshape(-1, m))
            agent = rows % m
            order = np.argsort(agent, kind="stable")
            ends = np.cumsum(np.bincount(agent, minlength=m))
            rnd = (rows // m + self.rounds).astype(np.int32)[order]
            r, du, dc = bp.r[order], bp.du[order], bp.dc[order]
            start = 0
            for a in range(m):
                if ends[a] > start:
                    self._by_agent[a].append((rnd[start : ends[a]], r[start : ends[a]], du[start : ends[a]],
                                              dc[start : ends[a]]))
                start = int(ends[a])
        if buffers is not None:
            if screen[1] < 0:
                check_menus(u, c)  # names the negative cost
            peak = float(screen[0])
        self.rounds += t_chunk
        self._sorted, self._groups = None, None
        return peak

    def _breakpoints_by_agent(self) -> tuple[np.ndarray, ...]:
        """All breakpoints sorted by (agent, r descending): (round, agent, r, du, dc)."""
        if self._sorted is None:
            total = sum(p[0].shape[0] for parts in self._by_agent for p in parts)
            rnd, agent = np.empty(total, dtype=np.int32), np.empty(total, dtype=np.int32)
            r, du, dc = np.empty(total), np.empty(total), np.empty(total)
            at = 0
            for a in range(self.m):
                parts, self._by_agent[a] = self._by_agent[a], []
                if not parts:
                    continue
                cols = [np.concatenate([p[j] for p in parts]) for j in range(4)]
                # r descending; ties in r are interchangeable in the knapsack (an unstable sort).
                order = np.argsort(np.negative(cols[1]))
                hi = at + order.shape[0]
                for dst, col in zip((rnd, r, du, dc), cols, strict=True):
                    dst[at:hi] = col[order]
                agent[at:hi] = a
                # Views into the sorted arrays: an add after a solve merges with them.
                self._by_agent[a] = [(rnd[at:hi], r[at:hi], du[at:hi], dc[at:hi])]
                at = hi
            self._sorted = (rnd, agent, r, du, dc)
        return self._sorted

    def _base_sums(self, horizons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, m) sums of the cheapest actions' utility and cost over the first h rounds, one
        pass over the per-block bases (no (T, m) cumulative arrays)."""
        out_u, out_c = np.zeros((horizons.shape[0], self.m)), np.zeros((horizons.shape[0], self.m))
        order = np.argsort(horizons, kind="stable")
        acc_u, acc_c, done, g = np.zeros(self.m), np.zeros(self.m), 0, 0
        for bu, bc in zip(self._base_u, self._base_c, strict=True):
            hi = done + bu.shape[0]
            # The carried sums first: the running sum adds in the order np.cumsum would.
            cu, cc = np.cumsum(np.vstack([acc_u, bu]), axis=0), np.cumsum(np.vstack([acc_c, bc]), axis=0)
            while g < order.shape[0] and horizons[order[g]] <= hi:
                out_u[order[g]], out_c[order[g]] = cu[horizons[order[g]] - done], cc[horizons[order[g]] - done]
                g += 1
            acc_u, acc_c, done = cu[-1], cc[-1], hi
        return out_u, out_c

    def solve(self, budget: np.ndarray, horizon: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(OPT (m,), r* (m,)) of the LP over the first `horizon` rounds with budgets (m,)."""
        return self.solve_many(np.asarray(budget, dtype=np.float64)[None, :], [horizon or self.rounds])

    def solve_many(self, budgets: np.ndarray, horizons: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """OPT and r* for several prefixes at once: budgets (H, m), horizons (H,) -> (H, m) each.

        The greedy fill of each prefix, for all prefixes at once (`_fill`): per agent, the
        breakpoints (r descending) are cut into blocks of SOLVE_BLOCK, a table holds each
        block's running cost and gain over the rounds before each distinct horizon, so the
        block where a prefix's slack runs out is found by counting and only that block is
        walked: O(#breakpoints + #blocks x H) instead of a pass over every breakpoint per
        horizon."""
        horizons = [int(h) for h in horizons]
        budgets = np.asarray(budgets, dtype=np.float64)
        if budgets.shape != (len(horizons), self.m):
            raise ValueError(f"budgets must have shape ({len(horizons)}, {self.m}), got {budgets.shape}")
        if not np.isfinite(budgets).all():
            raise ValueError("budgets must be finite")
        for h in horizons:
            if not 1 <= h <= self.rounds:
                raise ValueError(f"horizon must be in [1, {self.rounds}], got {h}")
        hs = np.asarray(horizons, dtype=np.int64)
        u0, c0 = self._base_sums(hs)  # (H, m)
        slack = budgets - c0
        short = slack < -BUDGET_TOL * np.maximum(1.0, np.abs(budgets))
        if short.any():
            g, i = (int(x[0]) for x in np.nonzero(short))
            raise ValueError(
                f"budget[{i}] = {budgets[g, i]} is below the cheapest menu cost {c0[g, i]} over {hs[g]} rounds"
            )
        rnd, agent, r, du, dc = self._breakpoints_by_agent()
        if self._groups is None:
            self._groups = []
            ends = np.searchsorted(agent, np.arange(1, self.m + 1), side="left")
            a0 = 0
            while a0 < self.m:
                lo = int(ends[a0 - 1]) if a0 else 0
                a1 = int(np.searchsorted(ends, lo + FILL_BREAKPOINTS, side="right"))
                a1 = min(max(a1, a0 + 1), self.m)
                hi = int(ends[a1 - 1])
                self._groups.append((a0, a1, lo, hi, _BlockLayout.of(agent[lo:hi] - a0, a1 - a0)))
                a0 = a1
        slack = np.maximum(slack, 0.0)
        gain, r_star = np.zeros_like(slack), np.zeros_like(slack)
        for a0, a1, lo, hi, layout in self._groups:
            part = (rnd[lo:hi], agent[lo:hi] - a0, r[lo:hi], du[lo:hi], dc[lo:hi])
            gain[:, a0:a1], r_star[:, a0:a1] = _fill(part, layout, hs, slack[:, a0:a1])
        return u0 + gain, r_star


@dataclass(frozen=True, slots=True)
class _BlockLayout:
    """Blocks of SOLVE_BLOCK consecutive breakpoints within each agent (breakpoints sorted by
    agent): agent i owns blocks lo[i] .. lo[i + 1]; block b starts at entry start[b]; entry q
    lies in block block[q]; size: SOLVE_BLOCK when it was built."""

    size: int
    lo: np.ndarray
    owner: np.ndarray
    start: np.ndarray
    block: np.ndarray

    @classmethod
    def of(cls, agent: np.ndarray, m: int) -> _BlockLayout:
        counts = np.bincount(agent, minlength=m)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        n_blocks_of = -(-counts // SOLVE_BLOCK)
        lo = np.concatenate([[0], np.cumsum(n_blocks_of)])
        owner = np.repeat(np.arange(m), n_blocks_of)
        rank = np.arange(int(lo[-1])) - lo[:-1].repeat(n_blocks_of)
        start = np.append(first[owner] + rank * SOLVE_BLOCK, agent.size)
        block = np.repeat(np.arange(int(lo[-1])), np.diff(start))  # blocks are consecutive runs
        return cls(SOLVE_BLOCK, lo, owner, start, block)


def _fill(
    breakpoints: tuple[np.ndarray, ...], layout: _BlockLayout, horizons: np.ndarray, slack: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The fractional multiple-choice knapsack of every prefix: for horizon h and agent i, take
    i's breakpoints of rounds < h in decreasing r until their dc fill slack[g, i]; returns the
    utility gained (H, m) and r* (H, m), the r of the first breakpoint not fully taken (0 if
    all are). breakpoints: (round, agent, r, du, dc) sorted by (agent, r descending)."""
    rnd, agent, r, du, dc = breakpoints
    n_h, m = slack.shape
    # A breakpoint counts for horizons[g] iff rnd < horizons[g], i.e. iff its bin (the number of
    # distinct horizons <= rnd) is <= col[g], the rank of horizons[g] among them.
    distinct = np.unique(horizons)
    col = np.searchsorted(distinct, horizons)
    n_bins = distinct.size + 1
    if rnd.size and distinct.size == 1 and int(rnd.max()) < int(distinct[0]):
        bins = np.zeros(rnd.size, dtype=np.int64)  # one horizon that every breakpoint is before
    else:
        bins = np.searchsorted(distinct, rnd, side="right")
    size, block_lo, owner, block_start, block = layout.size, layout.lo, layout.owner, layout.start, layout.block
    n_blocks_of = np.diff(block_lo)
    n_blocks = int(block_lo[-1])
    gain, r_star = np.zeros((n_h, m)), np.zeros((n_h, m))
    if n_blocks == 0:
        return gain, r_star
    # run_dc[b, j]: dc of the entries of owner(b)'s blocks <= b with bin <= j (sums within one
    # agent: as precise as that agent's own totals); run_du the same for du.
    cell = block * n_bins + bins
    per_dc = np.bincount(cell, weights=dc, minlength=n_blocks * n_bins).reshape(n_blocks, n_bins)
    per_du = np.bincount(cell, weights=du, minlength=n_blocks * n_bins).reshape(n_blocks, n_bins)
    per_dc, per_du = np.cumsum(per_dc, axis=1), np.cumsum(per_du, axis=1)
    run_dc, run_du = np.empty_like(per_dc), np.empty_like(per_du)
    for i in np.flatnonzero(n_blocks_of):
        lo, hi = block_lo[i], block_lo[i + 1]
        run_dc[lo:hi] = np.cumsum(per_dc[lo:hi], axis=0)
        run_du[lo:hi] = np.cumsum(per_du[lo:hi], axis=0)
    # The block where the slack runs out: after the agent's blocks whose running cost fits.
    fits = (run_dc[:, col] <= slack[:, owner].T).astype(np.int64)  # (blocks, H)
    nonempty = np.flatnonzero(n_blocks_of)
    n_fit = np.zeros((m, n_h), dtype=np.int64)
    n_fit[nonempty] = np.add.reduceat(fits, block_lo[nonempty], axis=0)
    cross = (block_lo[:-1][:, None] + n_fit).T  # (H, m)
    done = cross > block_lo[:-1][None, :]
    last_full = np.maximum(cross - 1, 0)
    jj = np.broadcast_to(col[:, None], (n_h, m))
    gain[:] = np.where(done, run_du[last_full, jj], 0.0)
    used = np.where(done, run_dc[last_full, jj], 0.0)
    # Walk the crossing block of each pending (g, i); a pair whose slack outlasts it (round-off
    # between the table and the walk) moves on to the next block.
    flat_gain, flat_r = gain.reshape(-1), r_star.reshape(-1)
    flat_cross, flat_used = cross.reshape(-1).copy(), used.reshape(-1)
    flat_j, flat_slack = jj.reshape(-1), slack.reshape(-1)
    flat_end = np.broadcast_to(block_lo[1:][None, :], (n_h, m)).reshape(-1)
    pending = np.flatnonzero(flat_cross < flat_end)
    offsets = np.arange(size)
    while pending.size:
        b = flat_cross[pending]
        q = block_start[b][:, None] + offsets[None, :]
        take = (q < block_start[b + 1][:, None]) & (bins[np.minimum(q, agent.size - 1)] <= flat_j[pending][:, None])
        q = np.minimum(q, agent.size - 1)
        cum = flat_used[pending][:, None] + np.cumsum(np.where(take, dc[q], 0.0), axis=1)
        over = take & (cum > flat_slack[pending][:, None])
        hit = over.any(axis=1)
        at = np.where(hit, over.argmax(axis=1), size)
        rows = np.arange(pending.size)
        flat_gain[pending] += np.where(take & (offsets[None, :] < at[:, None]), du[q], 0.0).sum(axis=1)
        p = np.minimum(at, size - 1)
        before = np.where(p > 0, cum[rows, p - 1], flat_used[pending])
        qp = q[rows, p]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(hit, np.maximum(flat_slack[pending] - before, 0.0) / dc[qp], 0.0)
        flat_gain[pending] += np.where(hit, frac * du[qp], 0.0)
        flat_r[pending] = np.where(hit, r[qp], 0.0)
        moved = pending[~hit]
        flat_used[moved] = cum[~hit, -1]
        flat_cross[moved] += 1
        pending = moved[flat_cross[moved] < flat_end[moved]]
    return gain, r_star


def check_menus(utility: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate (T, m, K) menus: same shape, finite, costs >= 0."""
    u = np.asarray(utility, dtype=np.float64)
    c = np.asarray(cost, dtype=np.float64)
    if u.ndim != 3 or u.shape != c.shape:
        raise ValueError(f"menu utility and cost must be (T, m, K) arrays of one shape, got {u.shape}, {c.shape}")
    # A screen first (no temporaries): one compiled pass for large menus, else reductions (an inf
    # or nan makes the sum non-finite and the min nan); only on failure the element-wise tests,
    # which name the culprit and rule out a finite sum that overflowed.
    if kernels.use_kernels(u.size):
        u_ok = c_ok = bool(kernels.menus_valid(u, c))
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            u_ok = not u.size or bool(np.isfinite(u.sum()))
            c_ok = not c.size or bool(np.isfinite(c.sum()) and c.min() >= 0)
    if not u_ok and not np.isfinite(u).all():
        raise ValueError("menu utility must be finite")
    if not c_ok and (not np.isfinite(c).all() or (c < 0).any()):
        raise ValueError("menu cost must be finite and >= 0")
    return u, c


def screen_menus(utility: np.ndarray, cost: np.ndarray) -> float:
    """The largest |utility| of (T, m, K) menus, which are checked as `check_menus` does
    (finite, costs >= 0; the same one-line errors) by four reductions (NaN propagates through
    max and min, +-inf shows in one of them) instead of its three plus the two for the peak."""
    u = np.asarray(utility, dtype=np.float64)
    c = np.asarray(cost, dtype=np.float64)
    if u.ndim != 3 or u.shape != c.shape:
        raise ValueError(f"menu utility and cost must be (T, m, K) arrays of one shape, got {u.shape}, {c.shape}")
    if not u.size:
        return 0.0
    hi, lo = float(np.maximum.reduce(u, axis=None)), float(np.minimum.reduce(u, axis=None))
    c_lo, c_hi = float(np.minimum.reduce(c, axis=None)), float(np.maximum.reduce(c, axis=None))
    if np.isfinite(hi) and np.isfinite(lo) and np.isfinite(c_hi) and c_lo >= 0:
        return max(hi, -lo)
    check_menus(u, c)  # names the culprit
    raise AssertionError("unreachable: check_menus raises on what the reductions rejected")


def strong_regret(
    utility: np.ndarray,
    cost: np.ndarray,
    budget: np.ndarray,
    realized: np.ndarray,
    payoff_bound: float = 1.0,
) -> StrongRegretResult:
    """Strong regret of each agent (Braverman 2021 Definition 3) from per-round menus.

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


def strong_regret_currencies(
    utility: np.ndarray,
    cost: np.ndarray,
    budget: np.ndarray,
    realized: np.ndarray,
    currency: np.ndarray,
    payoff_bound: float = 1.0,
) -> StrongRegretResult:
    """Strong regret with d budget rows (Braverman 2021 Definition 3 with several budgets,
    §2.3 Problem 13) when round t is paid in one currency, currency[t] (a budget per block
    of periods: `mechanisms.currencies.BlockCurrencies`):

        OPT = max sum_t E_{q_t} u_t   s.t.   sum_{t: currency[t] = j} E_{q_t} c_t <= B_j  for each j.

    Each round's mixed report enters one budget row only, so the LP is d independent
    one-row LPs (the rounds of currency j with budget B_j), each solved exactly by the
    fractional multiple-choice knapsack above; OPT is their sum and r_star (m, d) holds each
    currency's exchange rate. utility, cost: (T, m, K); budget: (m, d); realized: (m,) or
    (T, m); currency: (T,) in 0..d-1."""
    u, c = check_menus(utility, cost)
    t, m, _ = u.shape
    budget = np.asarray(budget, dtype=np.float64)
    if budget.ndim != 2 or budget.shape[0] != m:
        raise ValueError(f"budget must have shape ({m}, d), got {budget.shape}")
    d = budget.shape[1]
    currency = np.asarray(currency, dtype=np.int64)
    if currency.shape != (t,) or (t and (currency.min() < 0 or currency.max() >= d)):
        raise ValueError(f"currency must have shape ({t},) with entries in 0..{d - 1}, got {currency!r}")
    realized = np.asarray(realized, dtype=np.float64)
    total = realized.sum(axis=0) if realized.ndim == 2 else realized
    if total.shape != (m,):
        raise ValueError(f"realized must have shape ({m},) or ({t}, {m}), got {realized.shape}")
    opt = np.zeros(m)
    r_star = np.zeros((m, d))
    for j in range(d):
        rows = currency == j
        if not rows.any():
            continue
        acc = StrongRegretAccumulator(m)
        acc.add(u[rows], c[rows])
        opt_j, r_j = acc.solve(budget[:, j])
        opt += opt_j[0]
        r_star[:, j] = r_j[0]
    return regret_result(opt, total, r_star, t, payoff_bound)
