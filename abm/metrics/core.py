"""Approximate core factor for the single-good, 0-1 cost public good (Onyeze et al. 2025 Definition 2.1,
Lemma 4.2; SPEC.md §G).

Ex post (Definition 2.1 with delta = 0): coalition S with share alpha_S = sum_{i in S} alpha_i
may pick any allocation giving the good in at most alpha_S T rounds; giving it to all of S
in those rounds is w.l.o.g. (values are >= 0). Its best multiplicative improvement is the LP
relaxation (x_t in [0, 1] = fraction of round t taken)

    1 + gamma(S) = max z  s.t.  sum_t V_it x_t >= z U_i  (i in S),  sum_t x_t <= alpha_S T,

with U_i = sum_t V_it 1[i served at t] the run's utility. With W_it = V_it / U_i its LP dual is

    1 + gamma(S) = min_{theta in simplex(S)} F_S(theta),  F_S(theta) = top_{alpha_S T}(sum_i theta_i W_i),

(top_C = the sum of the C largest entries, the last one fractionally): every theta gives a
certified upper bound, every feasible x (sum x <= alpha_S T) the lower bound min_i W_i . x
(`abm.metrics.core_lp`: Hedge's bounds and the exact LP by column generation).
gamma = max_S gamma(S) is computed by `core_factor` (see there) with a deterministic work
budget: `CoreResult.method` is "exact" when every coalition was solved or pruned by a
certified bound, else "bound" (gamma the best lower bound found, `upper` a certified upper
bound on max_S gamma(S)). The work budget is in units of about a nanosecond of CPU
(`default_work_budget`), counted by a cost model, so the same inputs give the same result.

Ex ante (Lemma 4.2): the run's agents are read as value-scaling players (report V / beta,
Onyeze et al. 2025 §3.2) with beta from their own active rounds (`value_scaling_beta`), and
the allocation those reports induce on samples of the value distribution is tested. For S
and scaling weights beta, the half-space H = {sum_{i in S}
V_i / beta_i >= z*} with mu(H) = alpha_S certifies the gamma-approximate ex-ante core for
gamma = E[sum_S V_i/beta_i 1_H] / E[sum_S V_i/beta_i 1_{A_i}] - 1 (an upper bound on the
exact ex-ante factor, which is the same LP on samples of the value distribution).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from abm.metrics.core_lp import BAND_MIN, banded_lp, hedge_bounds, top_partition

#: Coalitions are enumerated (with pruning) up to this many agents: 2^n - 1 coalitions.
EXACT_MAX_AGENTS = 12
#: Horizons beyond which `coalition_gamma`'s full LP is solved by interior point instead of simplex.
IPM_ROUNDS = 2000

# Work model: one unit is about a nanosecond of CPU on the machine these were measured on, so
# the budget is deterministic (same inputs, same result) yet tracks time. A Hedge iteration
# costs two (d x T) products and a partition of T; a HiGHS coalition LP of d rows and m
# columns costs about LP_UNIT per entry, superlinearly in d (more pivots), plus scipy's fixed
# overhead.
HEDGE_FIXED = 20_000
HEDGE_PER_ENTRY = 0.5
HEDGE_PER_COLUMN = 10.0
LP_FIXED = 1_500_000
LP_UNIT = 1000.0
#: Default work budget per round of the run and per agent-round, and its floor (`default_work_budget`).
WORK_PER_ROUND = 20_000
WORK_PER_AGENT_ROUND = 150
WORK_MIN = 20_000_000

#: Hedge iterations spent trying to prune a coalition by its certified upper bound before its LP.
HEDGE_PRUNE_ITERS = 40
#: Hedge iterations for the grand coalition when its LP does not fit the budget.
HEDGE_ITERS = 300
#: Share of the budget the grand coalition may use in the search for large n.
GRAND_SHARE = 0.6
#: Coalition sizes of `_Search.global_upper` beyond which it bounds ranges of sizes.
GLOBAL_UPPER_SIZES = 512
#: Iterations per coalition of the greedy growth in the search for large n.
GROWTH_ITERS = 40
#: A coalition is pruned when its certified upper bound is below the incumbent by this (relative) margin,
#: which is above HiGHS's tolerances, so a coalition the LP would rank first is never pruned.
PRUNE_TOL = 1e-7


#: The rule of `value_scaling_beta`, as the summary states it.
BETA_RULE = (
    "median V/report over the agent's last {window:.0%} x T rounds with a positive report and value "
    "(its rounds before depletion; value scaling, Onyeze et al. 2025 §3.2); inf only for an agent "
    "that never reported a positive value"
)


def value_scaling_beta(values: np.ndarray, reports: np.ndarray, window: float) -> np.ndarray:
    """beta_i of the value-scaling reading of agent i's play (report V_i / beta_i; Onyeze et al.
    2025 §3.2): the median of V_i / report_i over agent i's last ceil(window T) rounds with a
    positive report and value (`BETA_RULE`). Taken per agent over its own active rounds, so an
    agent that depleted early keeps the scaling it played before depletion (a window of the
    run's last rounds would hold only its zero reports); inf when it never reported (T, n)."""
    v = np.asarray(values, dtype=np.float64)
    r = np.asarray(reports, dtype=np.float64)
    if v.shape != r.shape or v.ndim != 2:
        raise ValueError(f"values and reports must be (T, n) arrays of one shape, got {v.shape}, {r.shape}")
    if not 0.0 < window <= 1.0:
        raise ValueError(f"window must lie in (0, 1], got {window}")
    w = max(1, math.ceil(window * v.shape[0]))
    ok = (r > 0) & (v > 0)
    # Active rounds counted from the end: the last w of them per agent.
    from_end = np.cumsum(ok[::-1], axis=0)[::-1]
    take = ok & (from_end <= w)
    ratio = np.where(take, v / np.where(take, r, 1.0), np.nan)
    active = ok.any(axis=0)
    with np.errstate(all="ignore"):
        beta = np.nanmedian(np.where(active, ratio, 1.0), axis=0)
    return np.where(active, beta, np.inf)


@dataclass(frozen=True, slots=True)
class CoreResult:
    """gamma: max_S gamma(S) when method is "exact"; with "bound", the best lower bound found (a
    coalition's LP value or the value of a feasible allocation for it) and `upper` a certified
    upper bound on max_S gamma(S) (inf if some coalition of agents with zero utility can get
    positive value). coalition: where gamma was attained (agent indices); checked: coalitions
    solved, bounded or pruned by a certified bound (2^n - 1 when exact); lps: coalition LPs
    solved; work / budget: the work model's units (about ns of CPU)."""

    gamma: float
    coalition: tuple[int, ...]
    checked: int
    method: str
    singletons: np.ndarray = field(repr=False)
    upper: float = math.nan
    lps: int = 0
    work: float = 0.0
    budget: float = math.inf


def _check(values: np.ndarray, utility: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, ...]:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"values must be (T, n), got shape {v.shape}")
    t, n = v.shape
    if not np.isfinite(v).all() or (v < 0).any():
        raise ValueError("values must be finite and >= 0")
    u = np.asarray(utility, dtype=np.float64)
    if u.shape == (t, n):
        u = u.sum(axis=0)
    if u.shape != (n,):
        raise ValueError(f"utility must have shape ({n},) or ({t}, {n}), got {u.shape}")
    a = np.asarray(shares, dtype=np.float64)
    if a.shape != (n,) or (a < 0).any():
        raise ValueError(f"shares must be a non-negative vector of length {n}, got {shares!r}")
    return v, u, a


def coalition_gamma(values: np.ndarray, utility: np.ndarray, shares: np.ndarray, coalition: Iterable[int]) -> float:
    """gamma(S) of Definition 2.1 (delta = 0) by the LP relaxation (HiGHS, all T columns).

    values: (T, n) V_i[t]; utility: (n,) realized total utility U_i (or (T, n) per round);
    shares: (n,) alpha_i. Agents of S with U_i = 0 never limit the ratio; if all of S has
    U_i = 0 the result is inf when S can get any positive value, else 0 (nothing to block)."""
    v, u, a = _check(values, utility, shares)
    return _coalition_lp(v, u, a, coalition)[0]


def _coalition_lp(v: np.ndarray, u: np.ndarray, a: np.ndarray, coalition: Iterable[int]) -> tuple[float, np.ndarray]:
    """(gamma(S), the maximizing alternative x (T,)) for validated inputs."""
    from scipy.optimize import linprog

    s = np.asarray(sorted(set(coalition)), dtype=np.int64)
    if s.size == 0:
        raise ValueError("coalition must be non-empty")
    t = v.shape[0]
    cap = float(a[s].sum() * t)
    pos = s[u[s] > 0]
    if pos.size <= 1:
        score = v[:, pos[0]] if pos.size else v[:, s].sum(axis=1)
        x = _top_indicator(score, cap)
        if pos.size == 0:
            return (float(np.inf) if (score @ x) > 0 else 0.0), x
        return float(score @ x / u[pos[0]] - 1.0), x
    # Variables (x_1..x_T, z); maximize z.
    obj = np.zeros(t + 1)
    obj[-1] = -1.0
    a_ub = np.zeros((pos.size + 1, t + 1))
    a_ub[:-1, :t] = -v[:, pos].T
    a_ub[:-1, t] = u[pos]
    a_ub[-1, :t] = 1.0
    b_ub = np.zeros(pos.size + 1)
    b_ub[-1] = cap
    bounds = [(0.0, 1.0)] * t + [(0.0, None)]
    # This LP is |S|+1 dense rows over T columns: HiGHS's interior point (with crossover) is
    # ~30x faster than its simplex here at T = 20000 (0.2 s vs 6 s), same optimum to 1e-8.
    method = "highs-ipm" if t > IPM_ROUNDS else "highs"
    res = linprog(obj, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method=method)
    if res.status != 0:
        raise RuntimeError(f"core LP for coalition {tuple(s)} failed: {res.message}")
    return float(-res.fun - 1.0), res.x[:t]


def _top_indicator(x: np.ndarray, cap: float) -> np.ndarray:
    """The maximizer y in [0, 1]^T of x . y subject to sum y <= cap (x >= 0): the top
    floor(cap) entries fully and a fraction of the next (the one-agent LP in closed form)."""
    cap = min(max(cap, 0.0), x.shape[0])
    order = np.argsort(-x, kind="stable")
    k = int(np.floor(cap))
    y = np.zeros(x.shape[0])
    y[order[:k]] = 1.0
    if k < x.shape[0]:
        y[order[k]] = cap - k
    return y


def default_work_budget(rounds: int, agents: int) -> float:
    """Work budget of `core_factor` for a run of `rounds` x `agents`: WORK_PER_ROUND per round
    plus WORK_PER_AGENT_ROUND per agent-round, at least WORK_MIN (units of about a nanosecond:
    ~0.04 s of CPU for 5 agents x 2000 rounds, ~0.06 s for 256 x 1000, 0.02 s at least), a small
    fraction of what the rounds cost."""
    return float(max(WORK_MIN, WORK_PER_ROUND * rounds + WORK_PER_AGENT_ROUND * rounds * agents))


def hedge_cost(d: int, t: int) -> float:
    """Work of one Hedge iteration on d agents and t columns."""
    return HEDGE_FIXED + HEDGE_PER_ENTRY * 2 * d * t + HEDGE_PER_COLUMN * t


def lp_cost(d: int, m: int) -> float:
    """Work of one HiGHS coalition LP with d agent rows and m columns."""
    return LP_FIXED + LP_UNIT * (d + 1) * m * (1.0 + d / 128.0)


class _Instance:
    """Validated inputs with W = V / U (rows of zero-utility agents are 0 and never used) and
    each agent's sorted W for its closed-form bound top_C(W_i) (the singleton dual)."""

    def __init__(self, v: np.ndarray, u: np.ndarray, a: np.ndarray) -> None:
        self.v, self.u, self.a = v, u, a
        self.t, self.n = v.shape
        self.pos = u > 0
        self.w = np.ascontiguousarray((v / np.where(self.pos, u, 1.0)).T * self.pos[:, None])
        desc = -np.sort(-self.w, axis=1)
        zeros = np.zeros((self.n, 1))
        self.prefix = np.concatenate([zeros, np.cumsum(desc, axis=1)], axis=1)
        self.next = np.concatenate([desc, zeros], axis=1)

    def cap(self, members: np.ndarray) -> float:
        return float(self.a[members].sum() * self.t)

    def own_tops(self, caps: np.ndarray) -> np.ndarray:
        """(n,) top_{caps_i}(W_i): agent i's best value from caps_i rounds."""
        c = np.clip(np.asarray(caps, dtype=np.float64), 0.0, float(self.t))
        k = np.floor(c).astype(np.int64)
        rows = np.arange(self.n)
        return self.prefix[rows, k] + (c - k) * self.next[rows, k]

    def top_sums(self, caps: np.ndarray) -> np.ndarray:
        """(M, n) top_{caps_m}(W_i) for every agent i: the best value i alone gets from caps_m rounds."""
        c = np.clip(np.asarray(caps, dtype=np.float64), 0.0, float(self.t))
        k = np.floor(c).astype(np.int64)
        return (self.prefix[:, k] + (c - k)[None, :] * self.next[:, k]).T


class _Search:
    """State of one `core_factor` call: incumbent, work spent, coalitions covered."""

    def __init__(self, inst: _Instance, budget: float) -> None:
        self.inst = inst
        self.budget = budget
        self.work = 0.0
        self.lps = 0
        self.checked = 0
        self.best_g = -np.inf
        self.best_key: tuple[int, tuple[int, ...]] | None = None
        self.best_exact = False
        self.open_upper = -np.inf  # largest certified bound over coalitions not resolved
        self.singles = np.zeros(inst.n)

    # -- incumbent -------------------------------------------------------------------------
    def offer(self, g: float, members: Iterable[int], exact: bool) -> None:
        """A lower bound g <= gamma(S) (exact: g = gamma(S)); ties go to the smaller coalition, then
        the lexicographically first, as in the enumeration order (size, then combinations)."""
        s = tuple(sorted(int(i) for i in members))
        key = (len(s), s)
        if (
            g > self.best_g
            or (g == self.best_g and exact and (not self.best_exact or self.best_key is None or key < self.best_key))
        ):
            self.best_g, self.best_key, self.best_exact = float(g), key, exact

    def prunable(self, upper: float) -> bool:
        return upper < self.best_g - PRUNE_TOL * max(1.0, abs(self.best_g))

    def affords(self, cost: float) -> bool:
        return self.work + cost <= self.budget

    # -- one coalition ---------------------------------------------------------------------
    def closed_form(self, members: np.ndarray) -> float:
        """gamma(S) when at most one member has positive utility (no LP)."""
        self.work += HEDGE_PER_COLUMN * self.inst.t * math.log2(max(self.inst.t, 2))
        return _coalition_lp(self.inst.v, self.inst.u, self.inst.a, members)[0]

    def solve(self, members: np.ndarray, theta0: np.ndarray | None) -> tuple[float, np.ndarray, np.ndarray] | None:
        """Exact gamma(S) by Hedge for a dual start, then `banded_lp`; None if it does not fit."""
        inst = self.inst
        pos = members[inst.pos[members]]
        w, cap = inst.w[pos], inst.cap(members)
        d = pos.size
        start = min(HEDGE_PRUNE_ITERS, 20)
        cost = start * hedge_cost(d, inst.t) + lp_cost(d, min(inst.t, 2 * max(BAND_MIN, 2 * (d + 1)) + 1))
        if not self.affords(cost):
            return None
        hb = hedge_bounds(w, cap, start, theta0)
        self.work += hb.iterations * hedge_cost(d, inst.t)
        value, x, theta, m = banded_lp(w, cap, hb.theta)
        self.work += lp_cost(d, max(m, 1))
        self.lps += 1
        return value - 1.0, x, theta

    # -- the searches ----------------------------------------------------------------------
    def singletons(self) -> None:
        inst = self.inst
        caps = inst.a * inst.t
        own = inst.own_tops(caps)
        self.work += inst.n * inst.t * math.log2(max(inst.t, 2)) * HEDGE_PER_COLUMN / 4
        # Zero utility: inf when i alone can get any value (top_C(V_i) > 0 iff C > 0 and max V_i > 0).
        blocked = np.where((caps > 0) & (inst.v.max(axis=0) > 0), np.inf, 0.0)
        self.singles[:] = np.where(inst.pos, own - 1.0, blocked)
        for i in range(inst.n):
            self.offer(float(self.singles[i]), (i,), exact=True)
        self.checked = inst.n

    def enumerate_all(self) -> bool:
        """Every coalition, strongest certified bound first; True when all were resolved."""
        inst = self.inst
        n = inst.n
        if n == 1 or self.best_g == np.inf:
            self.checked = 2**n - 1
            return True
        everyone = np.arange(n)
        masks = np.arange(1, 2**n, dtype=np.int64)
        bits = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)
        bits = bits[bits.sum(axis=1) >= 2]  # the singletons are done; the grand coalition is last
        caps = bits.astype(np.float64) @ inst.a * inst.t
        # The singleton duals for every coalition at once (inf when no member has U > 0).
        ub = np.where(bits & inst.pos[None, :], inst.top_sums(caps), np.inf).min(axis=1) - 1.0
        self.work += bits.size * 10.0
        theta_all: np.ndarray | None = None
        grand_pos = everyone[inst.pos]
        if grand_pos.size <= 1:
            self.offer(self.closed_form(everyone), everyone, exact=True)
        else:
            out = self.solve(everyone, None)
            if out is None:
                self.open_upper = max(self.open_upper, float(ub.max()))
                return False
            g, _, theta = out
            theta_all = np.zeros(n)
            theta_all[grand_pos] = theta
            self.offer(g, everyone, exact=True)
        self.checked += 1
        bits, ub = bits[:-1], ub[:-1]
        order = np.argsort(-ub, kind="stable")
        for rank, c in enumerate(order):
            bound = float(ub[c])
            if self.prunable(bound):
                self.checked += order.size - rank
                return True
            members = np.flatnonzero(bits[c])
            pos = members[inst.pos[members]]
            if pos.size <= 1:
                self.offer(self.closed_form(members), members, exact=True)
                self.checked += 1
                continue
            w, cap = inst.w[pos], inst.cap(members)
            theta0 = None if theta_all is None else theta_all[pos]
            if theta0 is not None and theta0.sum() > 0:
                y = (theta0 / theta0.sum()) @ w
                bound = min(bound, float(y @ top_partition(y, cap)) - 1.0)
                self.work += hedge_cost(pos.size, inst.t)
                if self.prunable(bound):
                    self.checked += 1
                    continue
            if self.affords(HEDGE_PRUNE_ITERS * hedge_cost(pos.size, inst.t)):
                target = self.best_g + 1.0 - PRUNE_TOL * max(1.0, abs(self.best_g))
                hb = hedge_bounds(w, cap, HEDGE_PRUNE_ITERS, theta0, stop_below=target)
                self.work += hb.iterations * hedge_cost(pos.size, inst.t)
                bound = min(bound, hb.upper - 1.0)
                self.offer(hb.lower - 1.0, members, exact=False)
                if self.prunable(bound):
                    self.checked += 1
                    continue
                theta0 = hb.theta
            out = self.solve(members, theta0)
            if out is None:
                # Out of budget: this and every later coalition keep their certified bounds.
                rest = ub[order[rank + 1 :]]
                self.open_upper = max(self.open_upper, bound, float(rest.max()) if rest.size else -np.inf)
                return False
            self.offer(out[0], members, exact=True)
            self.checked += 1
        return True

    def explore(self) -> None:
        """Large n: the grand coalition (LP if it fits GRAND_SHARE of the budget, else Hedge
        bounds), the best sub-coalition each of its allocations affords, then greedy growth
        from the best singletons while the budget lasts."""
        inst = self.inst
        n, t = inst.n, inst.t
        everyone = np.arange(n)
        pos_all = everyone[inst.pos]
        zero = everyone[~inst.pos]
        if self.best_g == np.inf:
            return
        if zero.size:
            g = self.closed_form(zero)
            self.offer(g, zero, exact=True)
            self.checked += 1
            if g == np.inf:
                return
        if pos_all.size == 0:
            return
        theta_all = np.full(pos_all.size, 1.0 / pos_all.size)
        x_all: np.ndarray | None = None
        upper_all = np.inf
        if pos_all.size == 1:
            self.offer(self.closed_form(everyone), everyone, exact=True)
        else:
            d = pos_all.size
            grand_budget = self.budget * GRAND_SHARE
            width = 2 * max(BAND_MIN, 2 * (d + 1)) + 1
            if self.work + 20 * hedge_cost(d, t) + lp_cost(d, min(t, width)) <= grand_budget:
                out = self.solve(everyone, None)
                assert out is not None
                g, x_all, theta_all = out
                y = theta_all @ inst.w[pos_all]
                upper_all = float(y @ top_partition(y, inst.cap(everyone)))  # F_N(theta), certified
                self.offer(g, everyone, exact=True)
            else:
                iters = int(max(grand_budget - self.work, 0) // hedge_cost(d, t))
                iters = max(min(iters, HEDGE_ITERS), 1)
                hb = hedge_bounds(inst.w[pos_all], inst.cap(everyone), iters)
                self.work += hb.iterations * hedge_cost(d, t)
                x_all, theta_all, upper_all = hb.x, hb.theta, hb.upper
                self.offer(hb.lower - 1.0, everyone, exact=False)
        self.checked += 1
        if x_all is not None:
            self._afforded(x_all, pos_all, zero)
        self._grow(pos_all, zero)
        self.open_upper = max(self.open_upper, self.global_upper(pos_all, zero, theta_all, upper_all))

    def _afforded(self, x: np.ndarray, pos_all: np.ndarray, zero: np.ndarray) -> None:
        """Lower bounds from one allocation x of the grand coalition: S = N minus its j most
        limited members can afford x scaled by alpha_S T / sum x, worth min_{i in S} W_i . x times that."""
        inst = self.inst
        vals = inst.w[pos_all] @ x
        self.work += hedge_cost(pos_all.size, inst.t)
        mass = float(x.sum())
        if mass <= 0:
            return
        order = np.argsort(vals, kind="stable")
        share_left = inst.a[zero].sum() + np.cumsum(inst.a[pos_all][order][::-1])[::-1]  # S = order[j:]
        scale = np.minimum(share_left * inst.t / mass, 1.0)
        lbs = vals[order] * scale - 1.0
        j = int(np.argmax(lbs))
        self.offer(float(lbs[j]), np.concatenate([zero, pos_all[order[j:]]]), exact=False)
        self.checked += order.size

    def _grow(self, pos_all: np.ndarray, zero: np.ndarray) -> None:
        """Greedy growth: from S = {i} (best singletons first) add the outside agent that S's
        allocation serves best relative to its utility, while that raises the bound."""
        inst = self.inst
        t = inst.t
        for start in np.argsort(-self.singles[pos_all], kind="stable"):
            members = [int(pos_all[start])]
            x = top_partition(inst.w[members[0]], inst.cap(np.asarray(members)))
            g_cur = float(self.singles[members[0]])
            while len(members) < pos_all.size:
                if not self.affords(GROWTH_ITERS * hedge_cost(len(members) + 1, t)):
                    return
                outside = np.setdiff1d(pos_all, members)
                score = inst.w[outside] @ x
                cand = np.asarray([*members, int(outside[np.argmax(score)])])
                hb = hedge_bounds(inst.w[cand], inst.cap(cand), GROWTH_ITERS)
                self.work += hb.iterations * hedge_cost(cand.size, t)
                self.checked += 1
                g = hb.lower - 1.0
                self.offer(g, cand, exact=False)
                if g <= g_cur:
                    break
                members, g_cur, x = cand.tolist(), g, hb.x

    def global_upper(self, pos_all: np.ndarray, zero: np.ndarray, theta: np.ndarray, upper_all: float) -> float:
        """A certified upper bound on gamma(S) over every S with a member of positive utility.

        For S with k such members: 1 + gamma(S) <= min_{i in S} top_{C_S}(W_i) (singleton duals)
        <= the k-th largest top_{C(k)}(W_i), C(k) = T (alpha of the zero-utility agents + the k
        largest other shares) >= C_S; and 1 + gamma(S) <= F_S(theta_S) <= F_N(theta) / theta(S)
        (theta restricted to S and renormalized; W >= 0), with theta(S) >= the k smallest theta_i.
        Both terms only fall as k grows, so for k in a range [k1, k2] the k1-th largest
        top_{C(k2)} and the k1 term of the second bound it: beyond GLOBAL_UPPER_SIZES members the
        sizes are taken in that many ranges, not one by one (n x n tops would not fit)."""
        inst = self.inst
        d = pos_all.size
        shares = np.sort(inst.a[pos_all])[::-1]
        caps = (inst.a[zero].sum() + np.cumsum(shares)) * inst.t  # C(k), k = 1..d
        k_hi = np.unique(np.linspace(1, d, min(d, GLOBAL_UPPER_SIZES)).round().astype(np.int64))
        k_lo = np.concatenate([[1], k_hi[:-1] + 1])
        tops = inst.top_sums(caps[k_hi - 1])[:, pos_all]  # (ranges, i)
        kth = -np.sort(-tops, axis=1)[np.arange(k_hi.size), k_lo - 1]
        low = np.cumsum(np.sort(theta))[k_lo - 1]
        with np.errstate(divide="ignore"):
            dual = np.where(low > 0, upper_all / np.where(low > 0, low, 1.0), np.inf)
        self.work += k_hi.size * d * 10.0
        return float(np.minimum(kth, dual).max() - 1.0)

    def result(self, exact: bool) -> CoreResult:
        assert self.best_key is not None
        if exact:
            upper = self.best_g
            method = "exact"
        else:
            upper = max(self.best_g, self.open_upper)
            method = "exact" if upper <= self.best_g and self.best_exact else "bound"
        return CoreResult(
            self.best_g,
            self.best_key[1],
            self.checked,
            method,
            self.singles,
            upper=float(upper),
            lps=self.lps,
            work=float(self.work),
            budget=float(self.budget),
        )


def core_factor(
    values: np.ndarray,
    utility: np.ndarray,
    shares: np.ndarray,
    exact_max_agents: int = EXACT_MAX_AGENTS,
    work_budget: float | None = None,
) -> CoreResult:
    """gamma = max_S gamma(S) (Onyeze et al. 2025 Definition 2.1, delta = 0), within a work budget
    (None: `default_work_budget(T, n)`; math.inf: unlimited).

    n <= exact_max_agents: every coalition, in decreasing order of a certified upper bound
    (the singleton duals min_{i in S} top_{C_S}(W_i), computed for all 2^n - 1 at once): the
    singletons and the grand coalition first, then a coalition whose bound is below the
    incumbent is pruned (and with it every later one), else its bound is tightened by the
    grand coalition's dual restricted to S and by Hedge, and only then its LP is solved
    (`banded_lp`). method "exact" when the enumeration finished; if the budget ran out first,
    "bound" with `upper` the largest certified bound left.

    n > exact_max_agents: singletons (closed form), the grand coalition (LP if it fits, else
    Hedge's certified bounds), the sub-coalitions its allocation affords, greedy growth from
    the best singletons by Hedge; method "bound" with `upper` from `_Search.global_upper`."""
    v, u, a = _check(values, utility, shares)
    t, n = v.shape
    budget = default_work_budget(t, n) if work_budget is None else float(work_budget)
    search = _Search(_Instance(v, u, a), budget)
    search.singletons()
    if n <= exact_max_agents:
        return search.result(search.enumerate_all())
    search.explore()
    return search.result(False)


def halfspace_gammas(
    samples: np.ndarray, served: np.ndarray, shares: np.ndarray, beta: np.ndarray, coalitions: np.ndarray
) -> np.ndarray:
    """`halfspace_gamma` for many coalitions at once: coalitions is an (M, n) boolean membership
    matrix; one product gives every coalition's scores sum_{i in S} V_i / beta_i on the N
    samples, one partition per distinct alpha_S gives their top parts."""
    x = np.asarray(samples, dtype=np.float64)
    a_sel = np.asarray(served, dtype=bool)
    beta = np.asarray(beta, dtype=np.float64)
    if x.ndim != 2 or a_sel.shape != x.shape:
        raise ValueError(f"samples and served must be (N, n) arrays of one shape, got {x.shape}, {a_sel.shape}")
    if beta.shape != (x.shape[1],) or not (beta > 0).all():
        raise ValueError(f"beta must be a positive vector of length {x.shape[1]}")
    member = np.asarray(coalitions, dtype=bool)
    if member.ndim != 2 or member.shape[1] != x.shape[1] or not member.any(axis=1).all():
        raise ValueError(f"coalitions must be a (M, {x.shape[1]}) boolean matrix with non-empty rows")
    n_samples = x.shape[0]
    w = x / beta
    mf = member.astype(np.float64)
    neg_scores = -(mf @ w.T)  # (M, N): one row per coalition, contiguous for the partitions
    got = (mf @ (w * a_sel).sum(axis=0)) / n_samples
    caps = np.clip(mf @ np.asarray(shares, dtype=np.float64) * n_samples, 0.0, n_samples)
    top = np.empty(member.shape[0])
    for cap in np.unique(caps):
        rows = np.flatnonzero(caps == cap)
        k = int(np.floor(cap))
        block = neg_scores[rows]
        if k >= n_samples:
            top[rows] = -block.sum(axis=1)
            continue
        part = np.partition(block, k, axis=1)  # columns [:k] the k largest scores, column k the next
        top[rows] = -part[:, :k].sum(axis=1) - (cap - k) * part[:, k]
    top /= n_samples
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(got > 0, top / np.where(got > 0, got, 1.0) - 1.0, np.where(top > 0, np.inf, 0.0))


def halfspace_gamma(
    samples: np.ndarray, served: np.ndarray, shares: np.ndarray, beta: np.ndarray, coalition: Iterable[int]
) -> float:
    """Lemma 4.2's certificate for coalition S on samples of the value distribution.

    samples: (N, n) value vectors V ~ D; served: (N, n) whether i is in A_i at V (the
    induced ex-ante allocation); beta: (n,) > 0 scaling weights. H = the alpha_S-measure top
    part of sum_{i in S} V_i / beta_i (ties split fractionally); returns
    E[sum_S V_i/beta_i 1_H] / E[sum_S V_i/beta_i 1_{A_i}] - 1 (inf if the denominator is 0)."""
    if np.ndim(samples) != 2:
        raise ValueError(f"samples must be an (N, n) array, got shape {np.shape(samples)}")
    member = np.zeros((1, np.shape(samples)[1]), dtype=bool)
    member[0, sorted(set(coalition))] = True
    return float(halfspace_gammas(samples, served, shares, beta, member)[0])


def all_coalitions(n: int) -> np.ndarray:
    """(2^n - 1, n) membership matrix of every non-empty coalition, by size then lexicographically."""
    rows = [s for size in range(1, n + 1) for s in combinations(range(n), size)]
    member = np.zeros((len(rows), n), dtype=bool)
    for r, s in enumerate(rows):
        member[r, list(s)] = True
    return member


def ex_ante_core(
    samples: np.ndarray,
    served: np.ndarray,
    shares: np.ndarray,
    beta: np.ndarray,
    exact_max_agents: int = EXACT_MAX_AGENTS,
    work_budget: float | None = None,
) -> dict[str, float | int | str]:
    """Ex-ante core factor on samples (N, n) of the value distribution with the induced
    allocation `served` (N, n): the Lemma 4.2 half-space bound with weights beta (max over
    every coalition for n <= exact_max_agents, else the grand coalition and the singletons;
    `halfspace_gammas`) and the LP factor on the sample measure (`core_factor` with
    `work_budget`, its method and certified upper bound reported); the feasibility check
    mu(A) <= alpha of Definition 4.1 is reported as `measure_allocated`."""
    x = np.asarray(samples, dtype=np.float64)
    a_sel = np.asarray(served, dtype=bool)
    shares = np.asarray(shares, dtype=np.float64)
    n = x.shape[1]
    if n <= exact_max_agents:
        member = all_coalitions(n)
    else:
        member = np.vstack([np.ones((1, n), dtype=bool), np.eye(n, dtype=bool)])
    bounds = halfspace_gammas(x, a_sel, shares, beta, member)
    lp = core_factor(x, (x * a_sel).sum(axis=0), shares, exact_max_agents, work_budget=work_budget)
    return {
        "halfspace_gamma": float(bounds.max()),
        "halfspace_coalitions": int(member.shape[0]),
        "lp_gamma": lp.gamma,
        "lp_gamma_upper": lp.upper,
        "lp_method": lp.method,
        "lp_coalitions": lp.checked,
        "measure_allocated": float(a_sel.any(axis=1).mean()),
        "samples": int(x.shape[0]),
    }
