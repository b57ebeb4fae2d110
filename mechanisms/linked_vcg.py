"""Unlinked and linked VCG for repeated resource allocation (seed 004, Zhu 2021).

Model (§2): a principal with R durable divisible resources q_bar allocates them each
date t = 1..T among agents n = 1..N, each privately endowed with divisible projects
mu_t^n in [0, inf)^I (type i uses theta_i, pays 1); the principal holds unlimited
last-resort projects of types i <= R. It is common knowledge that each agent's T-date
average endowment lies in [mu_low^n, mu_high^n]; transfers are >= 0 (limited liability).

Arrays: reports and endowments are (N, T, I) — agent-major like the paper's N x T
matrix of I-vectors; array row k is the paper's agent n = k + 1 (player 0 is the
principal). Utilities are in date-1 units: U^n = sum_t beta^(t-1) v(A_t^n, mu_t^n) +
beta^(T-1) W^n, and the cost is C = beta^(T-1) sum_n W^n (§2).

The Groves base of the linked transfer, min over Omega^n of uW^n([mu]^-n, mu-hat^n)
(§4), is a non-convex problem: the others' surplus O_t(y) as a function of agent n's
date-t report is piecewise linear but neither convex nor concave (ord-A hands agent n
a share clip(alpha_i - H_i, 0, y_i) of an investment alpha that itself moves with y).
The paper gives no general algorithm: "computing an agent's transfer is
straightforward" (§1) and a closed form when Properties I and II hold (Lemma 6, §6.2).
We compute it exactly as a mixed-integer LP (`groves_base`) built on Lemma 1's
structure: on each date the efficient investment is exhaustive and linear for one of
finitely many price bases (`knapsack.price_bases`), and within a basis it is an affine
function of the report; one binary per (date, basis) plus one per contested partial
type gives an exact disaggregated formulation, solved by `scipy.optimize.milp` (HiGHS)
and re-evaluated by the knapsack at its minimizer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from mechanisms.knapsack import (
    AMOUNT_TOL,
    GENERAL_POSITION_MAX_SUBSETS,
    KnapsackSolution,
    PriceBasis,
    check_theta,
    efficient_by_bases,
    general_position_violation,
    knapsack,
    marginal_player,
    ord_split,
    price_bases,
    solve_knapsack_greedy,
)

log = logging.getLogger(__name__)

#: MILP relative gap for the Groves base (HiGHS' default 1e-4 is too coarse for transfers).
MILP_REL_GAP = 1e-9
#: MILP time limit per agent (seconds); on timeout the best point found is used (logged).
MILP_TIME_LIMIT = 60.0


# --------------------------------------------------------------------------- model (§2)


@dataclass(frozen=True, slots=True, eq=False)
class Economy:
    """The principal's side of seed 004 §2: project inputs theta (I, R) satisfying
    conditions 1-2 and resource stocks q_bar (R,) > 0. Condition 2 (general position) is
    checked exhaustively when the number of subsets is small (`check_general_position`)."""

    theta: np.ndarray
    q_bar: np.ndarray
    check_general_position: bool = True
    #: Lemma 1's candidate prices (computed from theta).
    bases: list[PriceBasis] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        theta = check_theta(self.theta)
        q_bar = np.asarray(self.q_bar, dtype=np.float64)
        if q_bar.shape != (theta.shape[1],):
            raise ValueError(f"q_bar must have shape ({theta.shape[1]},), got {q_bar.shape}")
        bad = ~(np.isfinite(q_bar) & (q_bar > 0))
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise ValueError(f"q_bar[{r}] must be finite and > 0, got {q_bar[r]}")
        if self.check_general_position:
            subset = None
            try:
                subset = general_position_violation(theta)
            except ValueError:
                log.info("theta: condition 2 not checked (more than %d subsets)", GENERAL_POSITION_MAX_SUBSETS)
            if subset is not None:
                raise ValueError(
                    f"theta rows {list(subset)} lie on a hyperplane p.x = 1 with p > 0 "
                    f"but are linearly dependent (condition 2 of seed 004 §2): {theta[list(subset)].tolist()}"
                )
        theta.setflags(write=False)
        q_bar.setflags(write=False)
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "q_bar", q_bar)
        object.__setattr__(self, "bases", price_bases(theta))

    @property
    def n_types(self) -> int:
        return self.theta.shape[0]

    @property
    def n_resources(self) -> int:
        return self.theta.shape[1]

    def principal_supply(self) -> np.ndarray:
        """mu_t^0: unlimited last-resort projects (i <= R), none of the others."""
        s = np.zeros(self.n_types)
        s[: self.n_resources] = np.inf
        return s

    def efficient(self, totals: np.ndarray) -> KnapsackSolution:
        """alpha(q_bar, totals + mu^0) for a batch of agent totals (B, I) (Lemma 1)."""
        totals = np.atleast_2d(totals)
        q = np.broadcast_to(self.q_bar, (totals.shape[0], self.n_resources))
        supply = totals + self.principal_supply()
        if self.n_resources == 1:
            return solve_knapsack_greedy(self.theta, q, supply)
        return efficient_by_bases(self.theta, q, supply, self.bases)

    def value(self, resources: np.ndarray, projects: np.ndarray) -> np.ndarray:
        """v(A, mu) of eq. (1) for a batch: resources (B, R), projects (B, I)."""
        return knapsack(self.theta, np.atleast_2d(resources), np.atleast_2d(projects)).value

    def vbar(self) -> float:
        """v-bar = v(q_bar, inf 1), the largest one-date surplus (§5)."""
        return float(knapsack(self.theta, self.q_bar[None], np.full((1, self.n_types), np.inf)).value[0])

    def vlow(self) -> float:
        """v-underbar = v(q_bar, mu^0), the principal's stand-alone surplus (§6.3)."""
        return float(self.efficient(np.zeros((1, self.n_types))).value[0])


def check_endowments(name: str, mu: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Validate an (N, T, I) array of endowments/reports: finite and >= 0."""
    arr = np.asarray(mu, dtype=np.float64)
    if arr.ndim != 3 or (shape is not None and arr.shape != shape):
        raise ValueError(f"{name} must have shape {shape or '(N, T, I)'}, got {arr.shape}")
    bad = ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        idx = tuple(int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"{name}{list(idx)} must be finite and >= 0, got {arr[idx]}")
    return arr


@dataclass(frozen=True, slots=True)
class DateAllocation:
    """ord-A outcome of T dates: efficient investment alpha (T, I), prices (T, R), and
    the invested units per player (T, N + 1, I), row 0 the principal (§4)."""

    alpha: np.ndarray
    prices: np.ndarray
    invested: np.ndarray

    @property
    def surplus(self) -> np.ndarray:
        """(T,) total surplus v(q_bar, 1 mu_t + mu_t^0) per date."""
        return self.alpha.sum(axis=1)

    @property
    def payoff(self) -> np.ndarray:
        """(T, N + 1) each player's invested units = v(A_t^n, mu_t^n) under the reports
        (efficiency: nobody can do better with his own bundle, or the whole would)."""
        return self.invested.sum(axis=2)

    def resources(self, theta: np.ndarray) -> np.ndarray:
        """(T, N + 1, R) bundles A_t^n = sum_i invested_i theta_i."""
        return self.invested @ theta


@dataclass(frozen=True, slots=True, eq=False)
class LinkedVCG:
    """The linked VCG mechanism (T, mu_low, mu_high) of seed 004 §4 on an `Economy`,
    with discount factor beta. mu_low, mu_high: (N, I) bounds on each agent's T-date
    average endowment. Also computes the unlinked VCG mechanism for comparison."""

    economy: Economy
    horizon: int
    mu_low: np.ndarray
    mu_high: np.ndarray
    beta: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.horizon, int | np.integer) and self.horizon >= 1):
            raise ValueError(f"horizon must be an integer >= 1, got {self.horizon!r}")
        if not (0.0 < self.beta <= 1.0):
            raise ValueError(f"beta must be in (0, 1], got {self.beta}")
        lo = np.asarray(self.mu_low, dtype=np.float64)
        hi = np.asarray(self.mu_high, dtype=np.float64)
        n_types = self.economy.n_types
        for name, arr in (("mu_low", lo), ("mu_high", hi)):
            if arr.ndim != 2 or arr.shape[1] != n_types or arr.shape[0] < 1:
                raise ValueError(f"{name} must have shape (N, {n_types}), got {arr.shape}")
            bad = ~(np.isfinite(arr) & (arr >= 0))
            if bad.any():
                k, i = np.argwhere(bad)[0]
                raise ValueError(f"{name}[{k}, {i}] must be finite and >= 0, got {arr[k, i]}")
        if lo.shape != hi.shape:
            raise ValueError(f"mu_low {lo.shape} and mu_high {hi.shape} must have the same shape")
        if (lo > hi).any():
            k, i = np.argwhere(lo > hi)[0]
            raise ValueError(f"mu_low[{k}, {i}] = {lo[k, i]} must be <= mu_high[{k}, {i}] = {hi[k, i]}")
        lo.setflags(write=False)
        hi.setflags(write=False)
        object.__setattr__(self, "mu_low", lo)
        object.__setattr__(self, "mu_high", hi)
        object.__setattr__(self, "horizon", int(self.horizon))

    @property
    def n_agents(self) -> int:
        return self.mu_low.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_agents, self.horizon, self.economy.n_types)

    def transfer_weights(self) -> np.ndarray:
        """beta^(t - T), t = 1..T: a date-t amount paid at T (§4, uW)."""
        return self.beta ** (np.arange(1, self.horizon + 1) - self.horizon)

    def payoff_weights(self) -> np.ndarray:
        """beta^(t - 1), t = 1..T (§2, S^n)."""
        return self.beta ** np.arange(self.horizon)

    # ------------------------------------------------------------------ the confidence set

    def in_confidence_set(self, mu: np.ndarray) -> np.ndarray:
        """(N,) whether each agent's T-date average lies in [mu_low^n, mu_high^n] (Omega^n)."""
        mu = check_endowments("mu", mu, self.shape)
        avg = mu.mean(axis=1)
        tol = AMOUNT_TOL * np.maximum(1.0, self.mu_high)
        return ((avg >= self.mu_low - tol) & (avg <= self.mu_high + tol)).all(axis=1)

    def retract(self, mu: np.ndarray) -> np.ndarray:
        """[mu] of §4: each agent's cumulative report of each type is capped at
        T mu_high (the date that crosses the cap gets the remainder, later dates 0), and
        at date T the report is raised to max(mu_T, T mu_low - cum_{T-1}) when the cap
        was not hit. F_t-measurable: date t of [mu] depends only on dates <= t."""
        mu = check_endowments("reports", mu, self.shape)
        return retract_rows(mu, self.mu_low, self.mu_high)

    # ------------------------------------------------------------------ allocation and VCG

    def allocate(self, reports: np.ndarray) -> DateAllocation:
        """ord-A (§4) on the given reports, every date at once (no retraction)."""
        reports = check_endowments("reports", reports, self.shape)
        sol = self.economy.efficient(reports.sum(axis=0))
        invested = ord_split(sol.alpha, np.swapaxes(reports, 0, 1))
        return DateAllocation(sol.alpha, sol.prices, invested)

    def unlinked_transfers(self, reports: np.ndarray, allocation: DateAllocation | None = None) -> np.ndarray:
        """uW^n(mu) = sum_t beta^(t-T) sum_{m != n, m >= 0} v(uA_t^m, mu_t^m) (§4): the
        others' (reported) surplus, date by date, carried to T. Shape (N,)."""
        alloc = self.allocate(reports) if allocation is None else allocation
        others = alloc.surplus[:, None] - alloc.payoff[:, 1:]
        return self.transfer_weights() @ others

    def linked_transfers(self, reports: np.ndarray) -> LinkedSettlement:
        """lW^n(mu) = uW^n([mu]) - min_{mu-hat^n in Omega^n} uW^n([mu]^-n, mu-hat^n) (§4)."""
        retracted = self.retract(reports)
        alloc = self.allocate(retracted)
        unlinked = self.unlinked_transfers(retracted, alloc)
        bases = [groves_base(self, retracted, k) for k in range(self.n_agents)]
        base = np.array([b.value for b in bases])
        raw = unlinked - base
        # The base is a min over Omega^n, which contains [mu]^n, so raw >= 0 up to the MILP's
        # tolerance; a larger deficit would mean a wrong base.
        scale = AMOUNT_TOL * np.maximum(1.0, np.abs(unlinked))
        if (raw < -1e3 * scale).any():
            k = int(np.argmin(raw))
            raise RuntimeError(f"linked transfer of agent {k} is {raw[k]} < 0: the Groves base is not a minimum")
        return LinkedSettlement(
            retracted=retracted,
            allocation=alloc,
            unlinked_retracted=unlinked,
            base=base,
            base_argmin=np.stack([b.argmin for b in bases]),
            transfers=np.clip(raw, 0.0, None),
        )

    def cost(self, transfers: np.ndarray) -> float:
        """C = beta^(T-1) sum_n W^n (§2)."""
        return float(self.beta ** (self.horizon - 1) * np.sum(transfers))

    def realized_payoffs(self, allocation: DateAllocation, truth: np.ndarray) -> np.ndarray:
        """(T, N + 1) v(A_t^n, mu_t^n) with the *true* endowments (the principal's row is
        her invested units). One batched LP over all (t, n)."""
        truth = check_endowments("truth", truth, self.shape)
        bundles = allocation.resources(self.economy.theta)[:, 1:, :]  # (T, N, R)
        projects = np.swapaxes(truth, 0, 1)  # (T, N, I)
        t, n, r = bundles.shape
        vals = self.economy.value(bundles.reshape(t * n, r), projects.reshape(t * n, -1)).reshape(t, n)
        return np.column_stack([allocation.payoff[:, 0], vals])

    def utilities(self, truth: np.ndarray, transfers: np.ndarray, allocation: DateAllocation) -> np.ndarray:
        """U^n = sum_t beta^(t-1) v(A_t^n, mu_t^n) + beta^(T-1) W^n (§2), shape (N,)."""
        pay = self.realized_payoffs(allocation, truth)[:, 1:]
        return self.payoff_weights() @ pay + self.beta ** (self.horizon - 1) * np.asarray(transfers)

    def efficiency(self, allocation: DateAllocation, truth: np.ndarray) -> float:
        """Realized surplus over the efficient surplus sum_t beta^(t-1) v(q_bar, 1 mu_t + mu^0)."""
        realized = self.payoff_weights() @ self.realized_payoffs(allocation, truth).sum(axis=1)
        best = self.payoff_weights() @ self.economy.efficient(np.asarray(truth).sum(axis=0)).value
        return float(realized / best)


@dataclass(frozen=True, slots=True)
class LinkedSettlement:
    """End-of-horizon settlement of the linked VCG mechanism: retracted reports [mu],
    the ord-A allocation on them, uW^n([mu]), the Groves base min_{Omega^n} uW^n and its
    minimizer (N, T, I), and the transfers lW^n >= 0 (§4)."""

    retracted: np.ndarray
    allocation: DateAllocation
    unlinked_retracted: np.ndarray
    base: np.ndarray
    base_argmin: np.ndarray
    transfers: np.ndarray


def retract_rows(mu: np.ndarray, mu_low: np.ndarray, mu_high: np.ndarray) -> np.ndarray:
    """The retraction [.] of §4 applied row by row: mu (..., T, I) with bounds
    broadcastable to (..., I)."""
    horizon = mu.shape[-2]
    cap = horizon * np.asarray(mu_high)[..., None, :]
    capped = np.minimum(np.cumsum(mu, axis=-2), cap)
    out = np.diff(capped, axis=-2, prepend=np.zeros_like(capped[..., :1, :]))
    before_last = capped[..., -2, :] if horizon > 1 else np.zeros_like(capped[..., -1, :])
    # At T the report is raised so the average reaches mu_low (a no-op once the cap was hit,
    # since then T mu_high - cum_{T-1} >= T mu_low - cum_{T-1}).
    out[..., -1, :] = np.maximum(out[..., -1, :], horizon * np.asarray(mu_low) - before_last)
    return out


# --------------------------------------------------------------------------- the Groves base


@dataclass(frozen=True, slots=True)
class GrovesBase:
    """min over Omega^n of uW^n([mu]^-n, mu-hat^n): the value, a minimizer (T, I), and
    the MILP's own objective (for diagnostics; `value` is the exact LP re-evaluation)."""

    value: float
    argmin: np.ndarray
    milp_value: float


def others_surplus_batch(mech: LinkedVCG, reports: np.ndarray, k: int, candidates: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """For K candidate report sequences (K, T, I) of agent k (others as in `reports`):
    the others' surplus O_t (K, T), agent k's invested units (K, T, I), and the prices
    (K, T, R). One batched knapsack over the K*T (candidate, date) pairs."""
    candidates = np.asarray(candidates, dtype=np.float64)
    n_cand, horizon, n_types = candidates.shape
    others = np.delete(reports, k, axis=0)
    others_total = others.sum(axis=0)  # (T, I)
    ahead = reports[k + 1 :].sum(axis=0)  # agents served before k (higher index)
    sol = mech.economy.efficient((others_total[None] + candidates).reshape(-1, n_types))
    alpha = sol.alpha.reshape(n_cand, horizon, n_types)
    own = np.clip(alpha - ahead[None], 0.0, candidates)
    surplus = alpha.sum(axis=2) - own.sum(axis=2)
    return surplus, own, sol.prices.reshape(n_cand, horizon, -1)


def groves_base(mech: LinkedVCG, retracted: np.ndarray, k: int) -> GrovesBase:
    """min_{mu-hat in Omega^k} uW^k([mu]^-k, mu-hat) (§4) for array row k, exactly.

    A MILP (`_groves_base_milp`) gives the minimizer; its value is re-evaluated
    with the LP, and compared with simple points of Omega^k (all of T mu_high on one
    date; mu_high or mu_low every date). Every candidate is a point of Omega^k that does
    not depend on agent k's own reports, so the transfer stays a Groves transfer (ex-post
    IC) whatever the MILP's accuracy."""
    horizon, n_types = mech.horizon, mech.economy.n_types
    lo, hi = mech.mu_low[k], mech.mu_high[k]
    cands = [np.broadcast_to(hi, (horizon, n_types)), np.broadcast_to(lo, (horizon, n_types))]
    for t in range(horizon):
        c = np.zeros((horizon, n_types))
        c[t] = horizon * hi
        cands.append(c)
    milp_y, milp_value = _groves_base_milp(mech, retracted, k)
    if milp_y is not None:
        cands.append(milp_y)
    stack = np.stack(cands)
    surplus, _, _ = others_surplus_batch(mech, retracted, k, stack)
    values = surplus @ mech.transfer_weights()
    best = int(np.argmin(values))
    return GrovesBase(float(values[best]), stack[best], milp_value)


class _Rows:
    """Sparse constraint rows lb <= sum_j coef_j x_j <= ub, built one dict at a time."""

    def __init__(self) -> None:
        self.data: list[float] = []
        self.ri: list[int] = []
        self.ci: list[int] = []
        self.lb: list[float] = []
        self.ub: list[float] = []

    def add(self, coefs: dict[int, float], lb: float, ub: float) -> None:
        r = len(self.lb)
        for c, v in coefs.items():
            self.ri.append(r)
            self.ci.append(c)
            self.data.append(v)
        self.lb.append(lb)
        self.ub.append(ub)

    def constraint(self, n_var: int) -> LinearConstraint:
        mat = sparse.csr_matrix((self.data, (self.ri, self.ci)), shape=(len(self.lb), n_var))
        return LinearConstraint(mat, np.array(self.lb), np.array(self.ub))


def _groves_base_milp(mech: LinkedVCG, retracted: np.ndarray, k: int) -> tuple[np.ndarray | None, float]:
    """The Groves base as a MILP, disaggregated over Lemma 1's price bases.

    Each date picks one basis S (binary lam_S, sum_S lam_S = 1) and a report copy y^S in
    lam_S * [0, T mu_high]. Under S the efficient investment is linear in the report:
    full types get their whole supply c_i + y_i (agent k's share is then all of y_i, the
    others' is c_i), zero types nothing, and alpha_S = theta_S^-T (q lam - sum_full
    (c_i lam + y_i) theta_i) must lie in [0, supply_S] (this is the convex hull of the
    basis' region, so the LP relaxation is tight in alpha). Agent k's ord-A share of a
    partial type, a = min(y_i, (alpha_i - H_i)^+), needs one binary b for the (.)^+
    when someone ahead of k holds type i (H_i > 0); a is maximized by the objective, so
    the upper bounds are attained. Objective: sum_t beta^(t-T) (others' surplus).
    Returns (minimizer (T, I), MILP value)."""
    econ = mech.economy
    theta, q_bar = econ.theta, econ.q_bar
    n_types, n_res, horizon = econ.n_types, econ.n_resources, mech.horizon
    bases = econ.bases
    others = np.delete(retracted, k, axis=0).sum(axis=0)  # (T, I) others' supply c_t
    ahead = retracted[k + 1 :].sum(axis=0)  # (T, I) H_t: served before agent k
    lo, hi = horizon * mech.mu_low[k], horizon * mech.mu_high[k]
    weights = mech.transfer_weights()
    last_resort = np.arange(n_types) < n_res
    # Per (date, basis) block: lam, y (I), a (R), b (R).
    block = 1 + n_types + 2 * n_res
    width = len(bases) * block
    n_var = width * horizon

    def lam(t: int, j: int) -> int:
        return t * width + j * block

    def y(t: int, j: int, i: int) -> int:
        return lam(t, j) + 1 + i

    def a(t: int, j: int, s: int) -> int:
        return lam(t, j) + 1 + n_types + s

    def b(t: int, j: int, s: int) -> int:
        return lam(t, j) + 1 + n_types + n_res + s

    rows = _Rows()
    upper = np.zeros(n_var)
    integrality = np.zeros(n_var)
    cost = np.zeros(n_var)
    for t in range(horizon):
        c_t, h_t = others[t], ahead[t]
        rows.add({lam(t, j): 1.0 for j in range(len(bases))}, 1.0, 1.0)
        for j, basis in enumerate(bases):
            upper[lam(t, j)] = 1.0
            integrality[lam(t, j)] = 1
            for i in range(n_types):
                upper[y(t, j, i)] = hi[i]
                rows.add({y(t, j, i): 1.0, lam(t, j): -hi[i]}, -np.inf, 0.0)
            full = basis.full
            cost[lam(t, j)] += weights[t] * c_t[full].sum()
            for s, i in enumerate(basis.partial):
                g = basis.inv_t[s]  # alpha_i = g . (q lam - sum_full (c_f lam + y_f) theta_f)
                gf = theta[full] @ g
                alpha = {lam(t, j): float(g @ q_bar - gf @ c_t[full])}
                alpha.update({y(t, j, f): -float(v) for f, v in zip(full, gf, strict=True)})
                rows.add(alpha, 0.0, np.inf)
                if not last_resort[i]:
                    rows.add({**alpha, lam(t, j): alpha[lam(t, j)] - c_t[i], y(t, j, i): -1.0}, -np.inf, 0.0)
                for col, v in alpha.items():
                    cost[col] += weights[t] * v
                cost[a(t, j, s)] = -weights[t]
                upper[a(t, j, s)] = hi[i]
                rows.add({a(t, j, s): 1.0, y(t, j, i): -1.0}, -np.inf, 0.0)
                minus_alpha = {col: -v for col, v in alpha.items()}
                rows.add({**minus_alpha, a(t, j, s): 1.0}, -np.inf, 0.0)  # a <= alpha
                if h_t[i] > 0:
                    # b = 1: a <= alpha - H lam; b = 0: a = 0 (then alpha - H + H >= 0 is slack).
                    upper[b(t, j, s)] = 1.0
                    integrality[b(t, j, s)] = 1
                    rows.add({**minus_alpha, a(t, j, s): 1.0, b(t, j, s): h_t[i]}, -np.inf, 0.0)
                    rows.add({a(t, j, s): 1.0, b(t, j, s): -hi[i]}, -np.inf, 0.0)
                    rows.add({b(t, j, s): 1.0, lam(t, j): -1.0}, -np.inf, 0.0)
    for i in range(n_types):
        rows.add({y(t, j, i): 1.0 for t in range(horizon) for j in range(len(bases))}, lo[i], hi[i])
    res = milp(
        cost,
        constraints=rows.constraint(n_var),
        integrality=integrality,
        bounds=Bounds(np.zeros(n_var), upper),
        options={"mip_rel_gap": MILP_REL_GAP, "time_limit": MILP_TIME_LIMIT},
    )
    if res.x is None:
        log.warning("Groves base MILP for agent %d found no point: %s", k, res.message)
        return None, math.nan
    if res.status != 0:
        log.warning("Groves base MILP for agent %d stopped early: %s", k, res.message)
    x = res.x.reshape(horizon, len(bases), block)
    y_hat = np.clip(x[:, :, 1 : 1 + n_types].sum(axis=1), 0.0, hi)
    return _project_sum(y_hat, lo, hi), float(res.fun)


def _project_sum(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Nudge a (T, I) report so each type's total lies in [lo, hi] (round-off repair)."""
    total = y.sum(axis=0)
    scale = np.where(total > hi, hi / np.where(total > 0, total, 1.0), 1.0)
    y = y * scale
    short = np.clip(lo - y.sum(axis=0), 0.0, None)
    y[-1] += short
    return y


# --------------------------------------------------------------------------- Lemma 6 / §6.2


def lemma6_transfer(mech: LinkedVCG, reports: np.ndarray, k: int) -> float:
    """Lemma 6's closed form of lW^n when Properties I and II hold (agent k "takes
    prices as given"): max over Omega^n of sum_t beta^(t-T) p_t . sum_i (mu-hat_ti -
    mu_ti) theta_i 1[n > N(mu_t, i)]. The max puts all of T mu_high_i on a date tau(theta_i)
    maximizing beta^(t-T) p_t . theta_i among the dates enclosing theta_i (§6.2)."""
    coef = _lemma6_coefficients(mech, reports, k)
    truth = np.asarray(reports)[k]
    best = mech.horizon * mech.mu_high[k] * coef.max(axis=0)
    return float(best.sum() - (coef * truth).sum())


def geometric_tau(mech: LinkedVCG, reports: np.ndarray, k: int) -> list[list[int]]:
    """tau(theta_i) of §6.2 (1-based dates) for each type: the enclosing hyperplanes
    H~_t = {x : beta^(t-1) p_t . x = 1} that the ray through theta_i touches first, i.e.
    the dates maximizing beta^(t-1) p_t . theta_i; all dates if none encloses theta_i."""
    coef = _lemma6_coefficients(mech, reports, k)
    out = []
    for i in range(coef.shape[1]):
        col = coef[:, i]
        enclosing = col > 0
        if not enclosing.any():
            out.append(list(range(1, mech.horizon + 1)))
            continue
        top = col.max()
        out.append([t + 1 for t in np.flatnonzero(np.isclose(col, top, rtol=1e-9, atol=0.0))])
    return out


def _lemma6_coefficients(mech: LinkedVCG, reports: np.ndarray, k: int) -> np.ndarray:
    """(T, I): beta^(t-T) p_t . theta_i on dates where agent k is served ahead of the
    marginal player of type i (n > N(mu_t, i)), else 0."""
    alloc = mech.allocate(reports)
    econ = mech.economy
    marg = np.stack([marginal_player(alloc.alpha[t], reports[:, t]) for t in range(mech.horizon)])
    ahead = (k + 1) > marg
    cost = alloc.prices @ econ.theta.T  # (T, I) p_t . theta_i
    return mech.transfer_weights()[:, None] * cost * ahead


# --------------------------------------------------------------------------- incentives


def misreport_candidates(mech: LinkedVCG, truth_k: np.ndarray, k: int, rng: np.random.Generator,
                         n_random: int = 32) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """Misreports (K, T, I) for agent k, with labels: scalings of the truth, one type
    scaled, mass moved to one date, the confidence-set vertices (T mu_high on one date)
    and flat sequences at mu_low / mu_high, and random sequences whose averages lie
    inside, below and above [mu_low^n, mu_high^n]."""
    horizon, n_types = truth_k.shape
    lo, hi = mech.mu_low[k], mech.mu_high[k]
    out: list[np.ndarray] = []
    labels: list[str] = []
    for lam in (0.0, 0.25, 0.5, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.5, 2.0, 4.0):
        out.append(lam * truth_k)
        labels.append(f"scale {lam}")
    for i in range(n_types):
        for lam in (0.0, 2.0):
            x = truth_k.copy()
            x[:, i] *= lam
            out.append(x)
            labels.append(f"type {i} x{lam}")
    total = truth_k.sum(axis=0)
    for t in range(horizon):
        x = np.zeros_like(truth_k)
        x[t] = total
        out.append(x)
        labels.append(f"all mass on date {t + 1}")
        x = np.zeros_like(truth_k)
        x[t] = horizon * hi
        out.append(x)
        labels.append(f"T mu_high on date {t + 1}")
    out.append(np.broadcast_to(hi, truth_k.shape).copy())
    labels.append("mu_high every date")
    out.append(np.broadcast_to(lo, truth_k.shape).copy())
    labels.append("mu_low every date")
    for j in range(n_random):
        kind = j % 4
        if kind == 3:
            out.append(truth_k * rng.lognormal(0.0, 0.5, truth_k.shape))
            labels.append("noisy truth")
            continue
        frac = rng.random(n_types)
        avg = {0: lo + frac * (hi - lo), 1: lo * frac, 2: hi * (1.0 + frac)}[kind]
        split = rng.dirichlet(np.full(horizon, 0.7), size=n_types).T  # (T, I), columns sum to 1
        out.append(horizon * avg[None, :] * split)
        labels.append({0: "random inside", 1: "random below", 2: "random above"}[kind])
    return np.stack(out), labels


def utility_batch(mech: LinkedVCG, reports: np.ndarray, truth_k: np.ndarray, k: int,
                  candidates: np.ndarray, linked: bool = True) -> np.ndarray:  # fmt: skip
    """Agent k's utility (K,) for each candidate report sequence, others' reports fixed,
    up to the constant Groves base: sum_t beta^(t-1) [v(A_t^k, mu_t^k) + O_t]. The linked
    mechanism retracts every report first (§4); `linked=False` is unlinked VCG."""
    candidates = np.asarray(candidates, dtype=np.float64)
    if linked:
        reports = retract_rows(reports, mech.mu_low, mech.mu_high)
        candidates = retract_rows(candidates, mech.mu_low[k], mech.mu_high[k])
    surplus, own, _ = others_surplus_batch(mech, reports, k, candidates)
    n_cand, horizon, _ = own.shape
    bundles = (own @ mech.economy.theta).reshape(n_cand * horizon, -1)
    projects = np.broadcast_to(truth_k, own.shape).reshape(n_cand * horizon, -1)
    payoff = mech.economy.value(bundles, projects).reshape(n_cand, horizon)
    return (payoff + surplus) @ mech.payoff_weights()


@dataclass(frozen=True, slots=True)
class IncentiveCheck:
    """Agent k's best found misreport: gain = U(best) - U(truth) (>= 0 up to round-off
    when truth-telling is ex-post optimal), its label, and how many misreports were tried."""

    gain: float
    best: str
    tried: int


def incentive_check(mech: LinkedVCG, reports: np.ndarray, truth: np.ndarray, k: int,
                    rng: np.random.Generator, n_random: int = 32, linked: bool = True) -> IncentiveCheck:  # fmt: skip
    """The ex-post incentive check: others' reports held at `reports`, agent k's true
    endowment `truth[k]`; search misreports (`misreport_candidates`) and compare with
    reporting the truth."""
    cands, labels = misreport_candidates(mech, truth[k], k, rng, n_random)
    cands = np.concatenate([truth[k][None], cands])
    u = utility_batch(mech, reports, truth[k], k, cands, linked)
    gains = u[1:] - u[0]
    j = int(np.argmax(gains))
    return IncentiveCheck(float(gains[j]), labels[j], len(labels))


# --------------------------------------------------------------------------- §5: eps-ex-post


def _scale(eps: float, horizon: int, vbar: float, beta: float) -> float:
    """beta^(1-T) T v-bar / eps, the factor in delta(z) and c(z) (§5)."""
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if not vbar > 0:
        raise ValueError(f"vbar must be > 0, got {vbar}")
    return beta ** (1 - horizon) * horizon * vbar / eps


def delta_of_z(z: float, eps: float, horizon: int, vbar: float, beta: float, n_agents: int) -> float:
    """delta(z) = z (1 - z) eps^2 / ((beta^(1-T) T v-bar)^2 N) ^ 1 (§5, before Proposition 2)."""
    if not 0 < z < 1:
        raise ValueError(f"z must be in (0, 1), got {z}")
    return min(z * (1 - z) / (_scale(eps, horizon, vbar, beta) ** 2 * n_agents), 1.0)


def c_of_z(z: float, eps: float, horizon: int, vbar: float, beta: float) -> float:
    """c(z) = z eps / (beta^(1-T) T v-bar) ^ 1 (§5)."""
    if not 0 < z < 1:
        raise ValueError(f"z must be in (0, 1), got {z}")
    return min(z / _scale(eps, horizon, vbar, beta), 1.0)


def believable_conjecture(delta: float, eps: float, horizon: int, vbar: float, beta: float,
                          n_agents: int) -> tuple[float | None, float]:  # fmt: skip
    """The smallest believable conjecture Proposition 2 certifies when it is common
    knowledge that P(Omega(T, mu_low, mu_high)) >= 1 - delta: the smallest z with
    delta(z) >= delta, and c(z). For N = 1 (§5's last paragraph) delta(c) = c eps /
    (beta^(1-T) T v-bar) ^ 1 gives c directly. Returns (None, 1.0) when only the
    trivial conjecture 1 is certified."""
    if not 0 <= delta <= 1:
        raise ValueError(f"delta must be in [0, 1], got {delta}")
    scale = _scale(eps, horizon, vbar, beta)
    if n_agents == 1:
        c = delta * scale
        return (None, 1.0) if c >= 1 else (None, c)
    k = 1.0 / (scale**2 * n_agents)  # delta(z) = k z (1 - z) below the cap
    if delta == 0:
        return 0.0, 0.0
    if 4 * delta > k:
        return None, 1.0
    z = (1 - math.sqrt(1 - 4 * delta / k)) / 2
    return z, c_of_z(z, eps, horizon, vbar, beta) if z > 0 else 0.0


def reasonable_truthful(prob_outside: np.ndarray, c: float, eps: float, vbar: float, beta: float) -> np.ndarray:
    """Condition (2) of §5 date by date: prob_outside (..., T) holds P^n(mu^n not in
    Omega^n | mu^n|_s) for s = 1..T; a reasonable agent tells the truth at date t iff
    [P + c] beta^(1-s) T v-bar < eps for every s <= t. Returns a bool array (..., T)."""
    prob_outside = np.asarray(prob_outside, dtype=np.float64)
    horizon = prob_outside.shape[-1]
    s = np.arange(1, horizon + 1)
    ok = (prob_outside + c) * beta ** (1 - s) * horizon * vbar < eps
    return np.logical_and.accumulate(ok, axis=-1)


# --------------------------------------------------------------------------- §6.3


def hoeffding_tail(d: float, horizon: int, ranges: np.ndarray) -> float:
    """A uniform f(i(d) T) for Assumption 1 (3) when date endowments are independent and
    type i's lies in [0, ranges_i]: P(||avg - pi||_inf > d) <= sum_i 2 exp(-2 T d^2 /
    ranges_i^2) (Hoeffding plus a union bound over types), capped at 1."""
    ranges = np.asarray(ranges, dtype=np.float64)
    pos = ranges > 0
    return float(min(1.0, np.sum(2.0 * np.exp(-2.0 * horizon * d**2 / ranges[pos] ** 2))))


@dataclass(frozen=True, slots=True)
class SmallAgentsDesign:
    """The linked VCG mechanism (T[k], mu_low(d)[k], mu_high(d)[k]) of the proof of
    Theorem 2 (§6.3) for the k-model, and its believable conjecture c(d)[k]."""

    mechanism: LinkedVCG
    conjecture: float
    d: float
    tail: float


def small_agents_design(base: Economy, pi: np.ndarray, d: float, kappa: float, eps: float,
                        tail: Callable[[float, int], float]) -> SmallAgentsDesign:  # fmt: skip
    """§6.3: scale the base economy to k = len(pi) agents (q_bar[k] = k q_bar, beta = 1),
    T[k] = ceil(k^kappa), intervals [max(pi^n - d, 0), pi^n + d], and
    c(d)[k] = (e - sqrt(e^2 - 4 k f)) / 2 with e = eps / (k v-bar), f = tail(d, T[k])
    (= f(i(d) T[k]) of Assumption 1), or 1 when that is not in [0, 1]. v-bar is the base
    economy's (the paper's literal formula; see the report on this choice)."""
    pi = np.asarray(pi, dtype=np.float64)
    if pi.ndim != 2 or pi.shape[1] != base.n_types:
        raise ValueError(f"pi must have shape (k, {base.n_types}), got {pi.shape}")
    if not 0 < kappa < 1:
        raise ValueError(f"kappa must be in (0, 1), got {kappa}")
    if not d > 0:
        raise ValueError(f"d must be > 0, got {d}")
    k = pi.shape[0]
    horizon = math.ceil(k**kappa)
    econ = Economy(base.theta, k * base.q_bar, check_general_position=False)
    mech = LinkedVCG(econ, horizon, np.clip(pi - d, 0.0, None), pi + d, beta=1.0)
    f = float(tail(d, horizon))
    e = eps / (k * base.vbar())
    disc = e * e - 4 * k * f
    c = (e - math.sqrt(disc)) / 2 if disc >= 0 else 1.0
    if not 0 <= c <= 1:
        c = 1.0
    return SmallAgentsDesign(mech, c, d, f)
