"""Economy model, ord-A allocation and (un)linked VCG transfers (Zhu 2021, §2 and §4).

Model (§2): a principal with R durable divisible resources q_bar allocates them each
date t = 1..T among agents n = 1..N, each privately endowed with divisible projects
mu_t^n in [0, inf)^I (type i uses theta_i, pays 1); the principal holds unlimited
last-resort projects of types i <= R. It is common knowledge that each agent's T-date
average endowment lies in [mu_low^n, mu_high^n]; transfers are >= 0 (limited liability).

Arrays: reports and endowments are (N, T, I) — agent-major like the paper's N x T
matrix of I-vectors; array row k is the paper's agent n = k + 1 (player 0 is the
principal). Utilities are in date-1 units: U^n = sum_t beta^(t-1) v(A_t^n, mu_t^n) +
beta^(T-1) W^n, and the cost is C = beta^(T-1) sum_n W^n (§2).

This module holds the economy (`Economy`), the per-date ord-A allocation
(`DateAllocation`), the retraction [.] of §4 (`retract_rows`) and the mechanism
(`LinkedVCG`) with its settlement; the Groves base of the linked transfer is computed in
`mechanisms.linked_vcg.groves_milp`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from mechanisms.linked_vcg.groves_milp import groves_base
from mechanisms.linked_vcg.knapsack import (
    AMOUNT_TOL,
    GENERAL_POSITION_MAX_SUBSETS,
    KnapsackSolution,
    PriceBasis,
    check_theta,
    efficient_by_bases,
    general_position_violation,
    knapsack,
    ord_split,
    price_bases,
    solve_knapsack_greedy,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- model (§2)


@dataclass(frozen=True, slots=True, eq=False)
class Economy:
    """The principal's side of Zhu 2021 §2: project inputs theta (I, R) satisfying
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
                    f"but are linearly dependent (condition 2 of Zhu 2021 §2): {theta[list(subset)].tolist()}"
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
        """v-bar = v(q_bar, inf 1) of this economy, the largest one-date surplus (Zhu 2021 §5).

        The one definition of v-bar in mechsim: always the economy the mechanism allocates.
        For the k-model of §6.3 (q_bar[k] = k q_bar) that is k times the base economy's
        (with unlimited projects v is linear in q_bar), and §6.3's eps / (k v-bar), written
        with the base economy's v-bar, is eps / v-bar[k] (`small_agents_design`)."""
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


# --------------------------------------------------------------------------- mechanism (§4)


@dataclass(frozen=True, slots=True, eq=False)
class LinkedVCG:
    """The linked VCG mechanism (T, mu_low, mu_high) of Zhu 2021 §4 on an `Economy`,
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
