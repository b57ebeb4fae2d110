"""m public goods under a submodular cost, one round of the repeated game (Onyeze, Lin, Banerjee,
Tardos 2025 §2.1, §7): the Potential mechanism over m goods as a `Mechanism`.

Reports. Agent i's value is a vector V_i in [0, 1]^m; its report is one scalar r_i >= 0 read
as the vector r_i V_i / s_i with s_i = sum_k V_ik (`bundle_values`, what the learners
observe): the value-scaling family of Onyeze et al. 2025 §3.2 (report V_i / beta_i is
r_i = s_i / beta_i), which is the strategy class of Theorem 7.2 (1), and contains
truthful reporting (r_i = s_i), every agent's best response for the IC Potential mechanism
(Theorem 7.2 (2)). So learners, menus and regret stay one-dimensional per agent
(docs/architecture.md "Many goods").

Costs. The round's cost c[t] is `Reports.context`: an index into the mechanism's `costs`
(a pool drawn once; a value model that draws the index each round gives a random cost
i.i.d. over rounds, §2.1), or None for costs[0].

The mechanism (§7, [DO17]): A* = argmax_A (sum_{(j,k) in A} R_jk - P_c(A)), largest
cardinality on ties, VCG payments p_i = max_{A without i} (R_-i(A) - P_c(A)) - (R_-i(A*) -
P_c(A*)), by enumerating the 2^(n m) allocations (`PotentialEnumerator`'s tables). With the
others' reports fixed, agent i faces one price per bundle g of its goods, pi_i(g) =
W_-i - B_i(g) with B_i(g) = max_{A: A_i = g} (R_-i(A) - P_c(A)): a report r buys the bundle
maximizing r u_i(g) - pi_i(g) (u_i(g) = sum_{k in g} V_ik / s_i), so the menu in r is
the upper envelope of 2^m lines (`menu_all`, `menu_breakpoints`).

Report range. Each reported value R_ik is capped at p_max, which is exact (the same allocation
and payments for every finite report, so `report_max` is infinite): pair (i, k) raises
P_c by at most c({(i, k)}) <= p_max (P_c is a Shapley-weighted sum of submodular costs), so
any R_ik >= p_max puts (i, k) in A* (largest cardinality) and, for j != i, in the best
allocation without i as well, where R_jk cancels from p_i. The sums then stay below n m p_max.

p_max. sup_V p_i(V) = c({i} x [m]) (the others report 0 and i everything: p_i =
P_c({i} x [m]) = c({i} x [m]), since a single agent's Shapley weights sum to 1), the largest
over agents and costs is the `p_max` of Algorithm 1, line 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult, check_vector
from mechanisms.public_goods.artificial_currency import ExactMenuArtificialCurrency
from mechanisms.public_goods.potential import (
    MAX_PAIRS,
    TIE_TOL,
    CostFunction,
    all_allocations,
    harmonic,
    potential,
)
from mechanisms.registry import ONYEZE, cite, register_mechanism


def bundle_values(values: np.ndarray) -> np.ndarray:
    """s_i = sum_k V_ik: agent i's value for all m goods, the scalar its reports scale."""
    return np.asarray(values, dtype=np.float64).sum(axis=-1)


def report_matrix(bids: np.ndarray, values: np.ndarray, cap: float = np.inf) -> np.ndarray:
    """The reported values R_ik = min(r_i V_ik / s_i, cap) (0 for an agent with s_i = 0), (..., n, m).
    V_ik / s_i <= 1 is formed first, so no finite report overflows."""
    v = np.asarray(values, dtype=np.float64)
    s = v.sum(axis=-1, keepdims=True)
    share = np.divide(v, s, out=np.zeros(v.shape), where=s > 0)
    return np.minimum(share * np.asarray(bids, dtype=np.float64)[..., None], cap)


def check_goods_reports(reports: Reports, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(bids (n,), values (n, m)) validated: finite, bids and values >= 0; errors name the field."""
    bids = check_vector("bids", reports.bids, n)
    v = np.asarray(reports.values, dtype=np.float64)
    if v.shape != (n, m):
        raise ValueError(f"values must have shape ({n}, {m}) (agents x goods), got {v.shape}")
    check_vector("values", v.ravel())
    return bids, v


class _Tables:
    """One cost's tables over the 2^(n m) allocations: cost, potential, size, each agent's bundle code."""

    def __init__(self, cost: CostFunction, allocs: np.ndarray) -> None:
        self.cost = cost
        self.costs = np.asarray(cost(allocs), dtype=np.float64)
        self.potentials = potential(cost, allocs)


@dataclass(frozen=True, slots=True)
class GoodsState:
    """The round a menu refers to: the report matrix R (n, m) and the cost index."""

    reports: np.ndarray
    cost_index: int


@register_mechanism(
    "potential", family="many_goods", citation=cite(ONYEZE, "§7"),
    doc="Potential over m goods: argmax of reported value - P_c(A), largest on ties, VCG payments (IC).",
)
class GoodsPotential(Mechanism):
    """The Potential mechanism M_pot of Onyeze et al. 2025 §7 ([DO17]) for m goods and submodular
    costs, reports scaling each agent's value vector (module docstring). IR, IC, CC;
    DWL <= H_n - 1 (Proposition E.2), the gamma of Theorem 7.2 / Corollary 7.3."""

    name = "potential[goods]"
    #: Tables rebuilt from the costs at construction or on first use: not checkpointed.
    transient_state = ("_tables", "bundles", "allocs", "flat", "sizes")

    def __init__(self, costs: CostFunction | Sequence[CostFunction]) -> None:
        pool = [costs] if isinstance(costs, CostFunction) else list(costs)
        if not pool:
            raise ValueError("costs must hold at least one cost function")
        self.n, self.m = pool[0].n, pool[0].m
        for j, c in enumerate(pool):
            if (c.n, c.m) != (self.n, self.m):
                raise ValueError(f"costs[{j}] is on ({c.n}, {c.m}) pairs, costs[0] on ({self.n}, {self.m})")
        if self.n * self.m > MAX_PAIRS:
            raise ValueError(f"agents * goods must be <= {MAX_PAIRS} (2^(n m) allocations), got {self.n} * {self.m}")
        self.costs = pool
        self.allocs = all_allocations(self.n, self.m)
        self.flat = self.allocs.reshape(self.allocs.shape[0], -1).astype(np.float64)
        self.sizes = self.allocs.sum(axis=(1, 2))
        own = np.zeros((self.n, self.n, self.m), dtype=bool)
        own[np.arange(self.n), np.arange(self.n)] = True
        # sup_V p_i = c({i} x [m]) for every cost of the pool (module docstring).
        self.p_max = float(max(np.max(c(own)) for c in pool))
        self.dwl_bound = float(harmonic(self.n) - 1.0)
        #: M of strong regret (every utility lies in [0, m]: values in [0, 1] per good).
        self.payoff_bound = float(self.m)
        self._tables: dict[int, _Tables] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tables": {}}  # rebuilt on first use: a checkpoint stays small

    @cached_property
    def bundles(self) -> np.ndarray:
        """(2^m, m) every bundle g of goods; row b has good k iff bit k of b is set."""
        b = np.arange(2**self.m)
        return ((b[:, None] >> np.arange(self.m)) & 1).astype(bool)

    def tables(self, j: int) -> _Tables:
        if j not in self._tables:
            self._tables[j] = _Tables(self.costs[j], self.allocs)
        return self._tables[j]

    def cost_index(self, context: Any) -> int:
        if context is None:
            return 0
        j = int(context)
        if not 0 <= j < len(self.costs):
            raise ValueError(f"context must index the {len(self.costs)} costs, got {context!r}")
        return j

    def _argmax(self, obj: np.ndarray) -> int:
        best = obj.max()
        ties = obj >= best - TIE_TOL * max(1.0, abs(best))
        return int(np.flatnonzero(ties)[np.argmax(self.sizes[ties])])

    def solve(self, r: np.ndarray, j: int) -> tuple[int, np.ndarray, np.ndarray]:
        """(index of A*, payments (n,), per-agent reported value of every allocation (N, n))."""
        tab = self.tables(j)
        per_agent = (self.allocs * r).sum(axis=2)
        obj = per_agent.sum(axis=1) - tab.potentials
        star = self._argmax(obj)
        # p_i = W_-i - (R_-i(A*) - P(A*)) rewritten with A*_-i = A* without agent i's goods (an
        # allocation without i, so R_-i(A*) = R(A*_-i)): p_i = [W_-i - obj(A*_-i)] + [P(A*) -
        # P(A*_-i)]. Both brackets are differences of table entries, never of a huge own
        # report, so a report of 1e9 does not cost the charges their last digits (which cost
        # covering, and with it Proposition 3.1, needs).
        without = ~self.allocs.any(axis=2)
        best_without = np.where(without, obj[:, None], -np.inf).max(axis=0)
        minus = star & ~((2**self.m - 1) << (np.arange(self.n) * self.m))
        pay = (best_without - obj[minus]) + (tab.potentials[star] - tab.potentials[minus])
        return star, np.maximum(pay, 0.0), per_agent

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids, v = check_goods_reports(reports, self.n, self.m)
        j = self.cost_index(reports.context)
        r = report_matrix(bids, v, self.p_max)
        star, pay, _ = self.solve(r, j)
        alloc = self.allocs[star]
        tab = self.tables(j)
        # The outcome is A* itself, (n, m) boolean (its cost and potential are in the extras).
        return RoundResult(
            outcome=alloc.copy(),
            utilities=(v * alloc).sum(axis=1),
            charges=pay,
            allocated=bool(alloc.any()),
            state=GoodsState(r, j),
            extras={"cost": float(tab.costs[star]), "potential": float(tab.potentials[star])},
        )

    # -- menus -----------------------------------------------------------------------------
    def _state(self, reports: Reports, state: Any) -> GoodsState:
        if isinstance(state, GoodsState):
            return state
        bids, v = check_goods_reports(reports, self.n, self.m)
        return GoodsState(report_matrix(bids, v, self.p_max), self.cost_index(reports.context))

    def bundle_lines(self, st: GoodsState, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(B_i(g), size_i(g)) over the 2^m bundles g of agent i (module docstring): the best
        value of the others minus P_c among allocations giving i exactly g, and the largest
        cardinality among those within the tie tolerance."""
        tab = self.tables(st.cost_index)
        r = st.reports.copy()
        r[i] = 0.0  # the others' reports alone: no difference with i's own (possibly huge) report
        others = self.flat @ r.ravel() - tab.potentials
        # Allocation codes have pair (i, k) at bit i*m + k: agent i's bundle is digit i in base 2^m.
        code = np.arange(self.allocs.shape[0]) >> (i * self.m) & (2**self.m - 1)
        order = np.argsort(code, kind="stable")
        grouped = others[order].reshape(2**self.m, -1)
        sizes = self.sizes[order].reshape(2**self.m, -1)
        best = grouped.max(axis=1)
        ties = grouped >= (best - TIE_TOL * np.maximum(1.0, np.abs(best)))[:, None]
        return best, np.where(ties, sizes, -1).max(axis=1)

    def _choose(self, slopes: np.ndarray, best: np.ndarray, size: np.ndarray, alts: np.ndarray) -> np.ndarray:
        """Index of the bundle each report in `alts` (K,) buys: argmax r u(g) + B(g), the
        largest cardinality on ties (as run_round's argmax)."""
        return self._pick(alts[:, None] * slopes[None, :] + best[None, :], size)

    @staticmethod
    def _pick(lines: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Row-wise argmax of (K, 2^m) bundle values, the largest cardinality on ties."""
        top = lines.max(axis=1, keepdims=True)
        ties = lines >= top - TIE_TOL * np.maximum(1.0, np.abs(top))
        return np.argmax(np.where(ties, size[None, :], -1), axis=1)

    def _agent_lines(self, st: GoodsState, v: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        best, size = self.bundle_lines(st, i)
        s = v[i].sum()
        slopes = self.bundles @ (v[i] / s) if s > 0 else np.zeros(2**self.m)
        return slopes, best, size

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        st = self._state(reports, state)
        v = np.asarray(reports.values, dtype=np.float64)
        idx = np.arange(self.n) if agents is None else np.asarray(agents)
        alts = np.asarray(alternatives, dtype=np.float64)
        u = np.empty(alts.shape)
        c = np.empty(alts.shape)
        for row, i in enumerate(idx):
            best, size = self.bundle_lines(st, int(i))
            # Agent i's reported values at each alternative, capped as run_round caps them.
            own = report_matrix(alts[row], np.broadcast_to(v[i], (alts.shape[1], self.m)), self.p_max)
            g = self._pick(own @ self.bundles.T.astype(np.float64) + best[None, :], size)
            u[row] = self.bundles[g] @ v[i]
            c[row] = np.maximum(best[0] - best[g], 0.0)
        return u, c

    def menu_breakpoints(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        """One report inside each piece of agent i's menu in r (the upper envelope of the 2^m
        bundle lines): the midpoints between consecutive crossings of the lines (and one past
        the last), 2^m columns per agent, padded with 0."""
        st = self._state(reports, state)
        v = np.asarray(reports.values, dtype=np.float64)
        idx = np.arange(self.n) if agents is None else np.asarray(agents)
        width = 2**self.m
        out = np.zeros((idx.shape[0], width))
        for row, i in enumerate(idx):
            slopes, best, size = self._agent_lines(st, v, int(i))
            da = slopes[None, :] - slopes[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                cross = (best[:, None] - best[None, :]) / da
            cuts = np.unique(np.concatenate([[0.0], cross[(da != 0) & np.isfinite(cross) & (cross > 0)]]))
            probes = np.concatenate([(cuts[:-1] + cuts[1:]) / 2, [cuts[-1] + 1.0]])
            g = self._choose(slopes, best, size, probes)
            _, first = np.unique(g, return_index=True)
            picks = probes[np.sort(first)]
            out[row, : picks.shape[0]] = picks[:width]
        return out

    def report_grid(self, k: int) -> np.ndarray:
        """0 plus k-1 log-spaced reports in [1e-3, m]: a report is a bundle value, at most m."""
        return np.concatenate([[0.0], np.logspace(-3, np.log10(max(self.m, 1)), k - 1)])

    def dead_weight_loss(self, values: np.ndarray, allocation: np.ndarray, payments: np.ndarray, j: int = 0) -> float:
        """Definition 7.1 on (reported) values (n, m), allocation (n, m), payments and cost j."""
        tab = self.tables(j)
        v = np.asarray(values, dtype=np.float64)
        surplus = float((v * allocation).sum() - np.sum(payments))
        gain = np.maximum(self.flat[1:] @ v.ravel() - tab.costs[1:], 0.0)
        return float(((gain - surplus) / tab.costs[1:]).max())


class GoodsArtificialCurrency(ExactMenuArtificialCurrency):
    """Algorithm 1 of Onyeze et al. 2025 around a many-goods mechanism: the reduction with the
    mechanism's p_max, its exact menus, and its payoff bound M = m forwarded."""

    monetary: GoodsPotential

    @property
    def payoff_bound(self) -> float:
        return self.monetary.payoff_bound
