"""The Potential mechanism for public goods with submodular costs (Onyeze et al. 2025 §7, App. E.2).

Setting (Onyeze et al. 2025 §2.1): each round m goods, a cost c: 2^([n] x [m]) -> [0, 1] on sets of
agent-good pairs that is submodular, monotone and normalized (c(A) = 0 iff A is empty).
The Potential mechanism of [DO17] (Onyeze et al. 2025 §7):
    P_c(A) = sum_{nonempty I subset [n]} c(A|_I) / (|I| binom(n, |I|)),
    A* = argmax_A (sum_{(j,k) in A} V_jk - P_c(A)), of largest cardinality,
    p_i = max_{A without i} (V_{-i}(A) - P_c(A)) - (V_{-i}(A*) - P_c(A*))   (VCG).
The seed writes c(U_{i in I} A_i); since c is defined on agent-good pairs we read this as
A|_I = {(i, k) in A : i in I}, the allocation restricted to the agents of I (both readings
agree for a single good with 0-1 cost). With it P_c(A) = sum_{T subset S(A)} Shapley
weight(|T|, |S(A)|) c(A|_T) (Hart–Mas-Colell), so P(k agents) = H_k for that good.

Exact enumeration over all 2^(n m) allocations for small n m; closed forms for a single good
with a symmetric cost g(|S|) (P(k) = sum_{t<=k} g(t)/t) and per-good 0-1 costs (separable).
`Potential` is the single-good version as a `Mechanism` for the public-goods scenario.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from math import comb
from typing import Any

import numpy as np

from mechanisms.base import TOKEN_TOL, Mechanism, Reports, RoundResult, check_reports, check_vector, clip_reports
from mechanisms.public_goods.monetary import PostedPriceMenus, PostedPrices, check_batch, posted_prices
from mechanisms.registry import ONYEZE, cite, register_mechanism

#: Cost of the single good in the public-goods scenario (Onyeze et al. 2025 normalizes c = 1).
UNIT_COST = 1.0
#: Relative tolerance for ties of value - potential (largest-cardinality tie-break).
TIE_TOL = 1e-12
#: Largest n * m the exact enumeration accepts (2^(n m) allocations).
MAX_PAIRS = 16


# ---------------------------------------------------------------------------------------
# Cost functions on sets of agent-good pairs, evaluated on boolean allocations (..., n, m).


class CostFunction(ABC):
    """c: 2^([n] x [m]) -> [0, 1], submodular, monotone, normalized (Onyeze et al. 2025 §2.1)."""

    n: int
    m: int

    @abstractmethod
    def __call__(self, alloc: np.ndarray) -> np.ndarray:
        """Cost of each allocation in a boolean array of shape (..., n, m)."""

    def _check_shape(self, alloc: np.ndarray) -> np.ndarray:
        a = np.asarray(alloc, dtype=bool)
        if a.shape[-2:] != (self.n, self.m):
            raise ValueError(f"allocation must have trailing shape ({self.n}, {self.m}), got {a.shape}")
        return a


class CoverageCost(CostFunction):
    """Coverage-type cost: pair (i, k) covers the elements e with incidence[i, k, e]; c(A) is
    the weight of the covered elements. Coverage functions are monotone submodular; every
    pair must cover some positive weight (normalized) and the total weight is <= 1."""

    def __init__(self, incidence: np.ndarray, weights: np.ndarray) -> None:
        inc = np.asarray(incidence, dtype=bool)
        if inc.ndim != 3:
            raise ValueError(f"incidence must have shape (n, m, elements), got {inc.shape}")
        w = check_vector("weights", weights, inc.shape[2])
        if w.sum() > 1.0 + 1e-12:
            raise ValueError(f"weights must sum to <= 1 (costs lie in [0, 1]), got sum {w.sum()}")
        own = (inc * (w > 0)).any(axis=2)
        if not own.all():
            i, k = np.argwhere(~own)[0]
            raise ValueError(f"incidence: pair ({i}, {k}) covers no positive weight, so c is not normalized")
        self.n, self.m = inc.shape[:2]
        self.incidence, self.weights = inc, w

    def __call__(self, alloc: np.ndarray) -> np.ndarray:
        a = self._check_shape(alloc)
        flat = a.reshape(*a.shape[:-2], self.n * self.m).astype(np.float64)
        covered = flat @ self.incidence.reshape(self.n * self.m, -1).astype(np.float64) > 0
        return covered @ self.weights


class CardinalityCost(CostFunction):
    """Concave-of-cardinality cost c(A) = g(|A|) with g(0) = 0 < g(1), g non-decreasing and
    concave (non-increasing increments), g(n m) <= 1: monotone, submodular, normalized."""

    def __init__(self, g: np.ndarray, n: int, m: int) -> None:
        g = check_vector("g", g, n * m + 1)
        if g[0] != 0.0 or not g[1] > 0.0:
            raise ValueError(f"g must have g(0) = 0 < g(1), got g(0) = {g[0]}, g(1) = {g[1]}")
        inc = np.diff(g)
        if (inc < -1e-15).any():
            raise ValueError(f"g must be non-decreasing, got increments {inc}")
        if (np.diff(inc) > 1e-12).any():
            raise ValueError(f"g must be concave (non-increasing increments), got increments {inc}")
        if g[-1] > 1.0 + 1e-12:
            raise ValueError(f"g(n m) must be <= 1, got {g[-1]}")
        self.g, self.n, self.m = g, int(n), int(m)

    def __call__(self, alloc: np.ndarray) -> np.ndarray:
        a = self._check_shape(alloc)
        return self.g[a.sum(axis=(-2, -1))]


class PerGoodCost(CostFunction):
    """Per-good 0-1 cost: c(A) = sum_k w_k [some agent gets good k], w_k > 0, sum w_k <= 1
    (m = 1, w = 1 is Onyeze et al.'s single good of cost 1)."""

    def __init__(self, weights: np.ndarray, n: int) -> None:
        w = check_vector("weights", weights)
        if (w <= 0).any():
            raise ValueError(f"weights must be > 0 (normalized cost), got {w}")
        if w.sum() > 1.0 + 1e-12:
            raise ValueError(f"weights must sum to <= 1, got sum {w.sum()}")
        self.weights, self.n, self.m = w, int(n), w.shape[0]

    def __call__(self, alloc: np.ndarray) -> np.ndarray:
        a = self._check_shape(alloc)
        return a.any(axis=-2) @ self.weights


# ---------------------------------------------------------------------------------------
# Enumeration.


def all_allocations(n: int, m: int) -> np.ndarray:
    """Every allocation A subset [n] x [m] as a boolean array (2^(n m), n, m); row r has
    pair (i, k) iff bit i*m + k of r is set."""
    if n * m > MAX_PAIRS:
        raise ValueError(f"exact enumeration needs n * m <= {MAX_PAIRS}, got n = {n}, m = {m}")
    codes = np.arange(2 ** (n * m), dtype=np.int64)
    bits = (codes[:, None] >> np.arange(n * m)) & 1
    return bits.astype(bool).reshape(-1, n, m)


def agent_subsets(n: int) -> np.ndarray:
    """Every nonempty I subset [n] as a boolean array (2^n - 1, n)."""
    codes = np.arange(1, 2**n, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(bool)


def potential(cost: CostFunction, alloc: np.ndarray) -> np.ndarray:
    """P_c(A) = sum_{nonempty I} c(A|_I) / (|I| binom(n, |I|)) (Onyeze et al. 2025 §7), for allocations
    of shape (..., n, m), by the literal sum over the 2^n - 1 agent subsets."""
    a = np.asarray(alloc, dtype=bool)
    n = cost.n
    total = np.zeros(a.shape[:-2])
    for subset in agent_subsets(n):
        size = int(subset.sum())
        total += cost(a & subset[:, None]) / (size * comb(n, size))
    return total


def harmonic(k: np.ndarray | int) -> np.ndarray:
    """H_k = sum_{t=1}^k 1/t (H_0 = 0), elementwise."""
    k = np.asarray(k)
    table = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, int(k.max(initial=0)) + 1))])
    return table[k]


def single_good_potential(g: np.ndarray) -> np.ndarray:
    """Closed form for one good with symmetric cost c(S) = g(|S|): P(k) = sum_{t<=k} g(t)/t,
    k = 0..n (the Shapley weights summed over subsets of the served set); for the 0-1 cost
    g = 1 this is H_k."""
    g = check_vector("g", g)
    t = np.arange(1, g.shape[0])
    return np.concatenate([[0.0], np.cumsum(g[1:] / t)])


@dataclass(frozen=True, slots=True)
class PotentialOutcome:
    """A* (n, m) boolean, VCG payments p (n,), and c(A*), P_c(A*)."""

    allocation: np.ndarray
    payments: np.ndarray
    cost: float
    potential: float


class PotentialEnumerator:
    """Exact Potential mechanism for one cost function by enumerating all allocations; the
    potential of every allocation is computed once and reused across value profiles."""

    def __init__(self, cost: CostFunction) -> None:
        self.cost = cost
        self.allocs = all_allocations(cost.n, cost.m)
        self.sizes = self.allocs.sum(axis=(1, 2))

    @cached_property
    def potentials(self) -> np.ndarray:
        return potential(self.cost, self.allocs)

    @cached_property
    def costs(self) -> np.ndarray:
        return self.cost(self.allocs)

    def _argmax(self, objective: np.ndarray, allowed: np.ndarray | None = None) -> int:
        obj = objective if allowed is None else np.where(allowed, objective, -np.inf)
        best = obj.max()
        ties = obj >= best - TIE_TOL * max(1.0, abs(best))
        return int(np.flatnonzero(ties)[np.argmax(self.sizes[ties])])

    def run(self, values: np.ndarray) -> PotentialOutcome:
        """A* = argmax (V(A) - P_c(A)) of largest cardinality; p_i by VCG (Onyeze et al. 2025 §7)."""
        v = np.asarray(values, dtype=np.float64)
        n, m = self.cost.n, self.cost.m
        if v.shape != (n, m) or not np.isfinite(v).all() or (v < 0).any():
            raise ValueError(f"values must be a finite non-negative ({n}, {m}) array, got shape {v.shape}")
        per_agent = (self.allocs * v).sum(axis=2)  # (2^(nm), n): V_i(A_i)
        welfare = per_agent.sum(axis=1)
        obj = welfare - self.potentials
        star = self._argmax(obj)
        payments = np.zeros(n)
        for i in range(n):
            without_i = ~self.allocs[:, i, :].any(axis=1)
            others = obj - per_agent[:, i]
            payments[i] = others[without_i].max() - others[star]
        return PotentialOutcome(
            self.allocs[star].copy(), np.maximum(payments, 0.0), float(self.costs[star]), float(self.potentials[star])
        )

    def dead_weight_loss(self, values: np.ndarray, outcome: PotentialOutcome) -> float:
        """Definition 7.1 with this enumerator's cost (see `dead_weight_loss_general`)."""
        return _dwl(self.allocs[1:], self.costs[1:], values, outcome.allocation, outcome.payments)


def _dwl(allocs: np.ndarray, costs: np.ndarray, values: np.ndarray, alloc: np.ndarray, payments: np.ndarray) -> float:
    v = np.asarray(values, dtype=np.float64)
    surplus = float((v * alloc).sum() - np.sum(payments))
    gain = np.maximum((allocs * v).sum(axis=(1, 2)) - costs, 0.0)
    return float(((gain - surplus) / costs).max())


def dead_weight_loss_general(
    values: np.ndarray, allocation: np.ndarray, payments: np.ndarray, cost: CostFunction
) -> float:
    """DWL(M, V, c) = max_{A' != {}} [(V(A') - c(A'))^+ - (V(A*) - sum_i p_i)] / c(A')
    (Onyeze et al. 2025 Definition 7.1), by enumerating every nonempty A'."""
    allocs = all_allocations(cost.n, cost.m)[1:]
    return _dwl(allocs, cost(allocs), values, np.asarray(allocation, dtype=bool), np.asarray(payments))


def per_good_potential_mechanism(values: np.ndarray, cost: PerGoodCost) -> PotentialOutcome:
    """Closed form for per-good 0-1 costs: c and hence P_c are sums over goods, so A* and the
    VCG payments separate into one single-good Potential mechanism per good (cost w_k,
    P_k(j) = w_k H_j)."""
    v = np.asarray(values, dtype=np.float64)
    n, m = v.shape
    alloc = np.zeros((n, m), dtype=bool)
    pay = np.zeros(n)
    pot = 0.0
    for k in range(m):
        g = np.concatenate([[0.0], np.full(n, cost.weights[k])])
        served, tau, P = single_good_outcome(v[:, k], single_good_potential(g))
        alloc[:, k] = served
        pay += np.where(served, tau, 0.0)
        pot += P[int(served.sum())]
    return PotentialOutcome(alloc, pay, float(cost(alloc)), pot)


# ---------------------------------------------------------------------------------------
# Single good, vectorized: O(n log n) per round.


def _others_best(s: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """For each sorted position r, max_j (S^{-r}_j - shift[j]) over j = 0..n-1, where S^{-r}_j
    is the sum of the j largest reports other than the r-th: S_j for j <= r and
    S_{j+1} - s_r for j >= r. Prefix and suffix maxima, O(n); along the last axis, so (N, n)
    rows of sorted reports are N independent rounds (`Potential.run_rounds`)."""
    # Positions first: each accumulate step is then one vector operation over the rows.
    st = np.ascontiguousarray(np.moveaxis(s, -1, 0))
    n = st.shape[0]
    S = np.concatenate([np.zeros((1, *st.shape[1:])), np.cumsum(st, axis=0)], axis=0)
    sh = shift[:n].reshape((n, *(1,) * (st.ndim - 1)))
    left = _running_max(S[:n] - sh)  # j <= r
    right = _running_max((S[1:] - sh)[::-1])[::-1] - st  # j >= r
    return np.moveaxis(np.maximum(left, right), 0, -1)


def _running_max(a: np.ndarray) -> np.ndarray:
    """Running maximum along axis 0. One round (1-D) by the ufunc; (n, N) rows by a loop over
    the n positions, each a vector operation over N rounds (about 10x faster than the ufunc's
    accumulate there, which steps element by element)."""
    if a.ndim == 1:
        return np.maximum.accumulate(a)
    out = np.array(a, copy=True)
    for j in range(1, out.shape[0]):
        np.maximum(out[j - 1], out[j], out=out[j])
    return out


def single_good_thresholds(bids: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Critical report tau_i of every agent under the single-good Potential mechanism with
    potential P(k): i is served iff bid_i >= tau_i, and then pays tau_i (VCG = critical
    value for one parameter). tau_i = max_j (S^{-i}_j - P(j)) - max_j (S^{-i}_j - P(j+1))."""
    n = bids.shape[0]
    order = np.argsort(-bids, kind="stable")
    s = bids[order]
    tau_sorted = _others_best(s, P[:n]) - _others_best(s, P[1 : n + 1])
    tau = np.empty(n)
    tau[order] = tau_sorted
    return tau


def single_good_outcome(bids: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(served (n,), thresholds tau (n,), P): the top k* reports, k* the largest maximizer of
    S_k - P(k) (the largest-cardinality argmax of Onyeze et al. 2025 §7)."""
    n = bids.shape[0]
    order = np.argsort(-bids, kind="stable")
    s = bids[order]
    S = np.concatenate([[0.0], np.cumsum(s)])
    obj = S - P[: n + 1]
    best = obj.max()
    k_star = int(np.flatnonzero(obj >= best - TIE_TOL * max(1.0, abs(best)))[-1])
    served = np.zeros(n, dtype=bool)
    served[order[:k_star]] = True
    # single_good_thresholds(bids, P) on the order already sorted (one sort, not two, at 10^6 agents).
    tau = np.empty(n)
    tau[order] = _others_best(s, P[:n]) - _others_best(s, P[1 : n + 1])
    return served, tau, P


@register_mechanism(
    "potential", family="public_goods", citation=cite(ONYEZE, "§3.1, §7"),
    doc="Potential: serve the top-k* reports maximizing sum - P(k), each paying its critical report (IC).",
)
class Potential(PostedPriceMenus, Mechanism):
    """Single-good Potential mechanism M_pot (Onyeze et al. 2025 §3.1 via [DO17], §7 with m = 1):
    serve the top-k* reports maximizing sum - P(k), largest k* on ties, each paying its
    critical report (the VCG payment). Cost g(|S|) (default the 0-1 cost of one good,
    P(k) = H_k). IR, IC, CC; DWL <= H_n - 1 (Proposition E.2).

    Report range [0, p_max]: a report above p_max = g(1) is played as g(1), exactly. Such
    a report's increment s - g(k)/k is >= 0 wherever it is added, so every maximizer of
    S_k - P(k) (and of the others' objectives behind each critical report) holds it, and
    lowering it to g(1) shifts all of them by the same amount: the served set, k* and
    every tau_i are unchanged. Without the cap, prefix sums of huge reports swallow P(k)
    (1e17 + H_k - 1e17 = 0 charges nothing) or overflow to inf - inf.

    p_max = g(1): a critical report never exceeds the first increment P(1) - P(0) = g(1),
    because P is concave when g is (increments g(k)/k non-increasing)."""

    menu_tol = TOKEN_TOL
    name = "potential"

    def __init__(self, cost: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.cost_fn = cost if cost is not None else (lambda k: np.where(np.asarray(k) > 0, UNIT_COST, 0.0))
        self.p_max = float(self.cost_fn(np.array([1]))[0])
        self.report_max = self.p_max
        self._curves: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _curves_for(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n not in self._curves:
            g = np.asarray(self.cost_fn(np.arange(n + 1)), dtype=np.float64)
            CardinalityCost(g, n, 1)  # raises a ValueError naming the violated property
            self._curves[n] = (g, single_good_potential(g))
        return self._curves[n]

    def cost_curve(self, n: int) -> np.ndarray:
        """g(0..n), validated once per n (monotone, concave, normalized, <= 1)."""
        return self._curves_for(n)[0]

    def potential_curve(self, n: int) -> np.ndarray:
        """P(0..n) = sum_{t<=k} g(t)/t."""
        return self._curves_for(n)[1]

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids, values = check_reports(reports, report_max=self.report_max)
        n = bids.shape[0]
        served, tau, P = single_good_outcome(bids, self.potential_curve(n))
        charges = np.where(served, np.minimum(tau, bids), 0.0)
        k = int(served.sum())
        g = self.cost_curve(n)
        return RoundResult(
            outcome=served,
            utilities=values * served,
            charges=charges,
            allocated=bool(k),
            state=PostedPrices(bids, tau),
            extras={
                "cost": float(g[k]),
                "potential": float(P[k]),
                "dwl": dead_weight_loss_single_good(bids, served, charges, g),
            },
        )

    def run_rounds(self, bids: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
        """`run_round` on every row at once: one sort per row, k* and the critical reports by
        prefix/suffix maxima along the rows (the pacing-equilibrium solver and the ex-ante core
        play thousands of independent rounds)."""
        b, _ = check_batch(bids, values)
        b = clip_reports(b, self.report_max)  # played within [0, report_max], as run_round plays each row
        big_n, n = b.shape
        P = self.potential_curve(n)
        order = np.argsort(-b, axis=1, kind="stable")
        s = np.take_along_axis(b, order, axis=1)
        S = np.concatenate([np.zeros((big_n, 1)), np.cumsum(s, axis=1)], axis=1)
        obj = S - P[: n + 1]
        best = obj.max(axis=1, keepdims=True)
        # The largest k within the tie tolerance of the best (largest cardinality), as in run_round.
        near = obj >= best - TIE_TOL * np.maximum(1.0, np.abs(best))
        k_star = n - np.argmax(near[:, ::-1], axis=1)
        tau_sorted = _others_best(s, P[:n]) - _others_best(s, P[1 : n + 1])
        served = np.zeros((big_n, n), dtype=bool)
        np.put_along_axis(served, order, np.arange(n)[None, :] < k_star[:, None], axis=1)
        tau = np.empty((big_n, n))
        np.put_along_axis(tau, order, tau_sorted, axis=1)
        return served, np.where(served, np.minimum(tau, b), 0.0)

    def _tau(self, reports: Reports, state: Any) -> np.ndarray:
        curve = self.potential_curve(reports.bids.shape[0])
        return posted_prices(
            state, clip_reports(reports.bids, self.report_max), lambda b: single_good_thresholds(b, curve)
        )


#: docs/architecture.md lists the class under this name.
PotentialMechanism = Potential


def dead_weight_loss_single_good(values: np.ndarray, served: np.ndarray, charges: np.ndarray, g: np.ndarray) -> float:
    """Definition 7.1 for one good with symmetric cost g(|S|): for each size k the best A' is
    the top-k reports, so DWL = max_k [(S_k - g(k))^+ - (V(A*) - sum p)] / g(k), O(n log n).
    With g = 1 this equals Definition 2.2 (Proposition E.1)."""
    v = check_vector("values", values)
    S = np.cumsum(np.sort(v)[::-1])
    gk = np.asarray(g, dtype=np.float64)[1 : v.shape[0] + 1]
    surplus = float(v[served].sum() - np.sum(charges))
    return float(((np.maximum(S - gk, 0.0) - surplus) / gk).max())
