"""Approximate core factor for m public goods under submodular costs (Onyeze et al. 2025
Definition 2.1 with delta = 0, §2.1 and §7), by an LP over allocations with column generation.

Coalition S with share alpha_S may pick, in each round t, any allocation A subset S x [m]
(a fractional mix of them, the LP relaxation), of total cost sum_t c[t](A_t) <= alpha_S T:

    1 + gamma(S) = max z  s.t.  sum_{t, A} x_tA V_i[t](A_i) >= z U_i  (i in S, U_i > 0),
                               sum_A x_tA <= 1  (each t),   sum_{t, A} x_tA c[t](A) <= alpha_S T,

U_i the run's utility. With one good and the 0-1 cost the only useful A is S itself and this
is `abm.metrics.core`'s LP. Here a cost that grows with the agents served makes smaller
allocations worth taking, so the columns are all 2^(|S| m) - 1 allocations of S per round,
too many to list: the LP starts from S x [m] in every round and adds, per round, the
allocation of largest reduced value max_A (sum_i y_i V_i[t](A_i) / U_i - lambda c[t](A)) while
it exceeds the round's dual mu_t (y, lambda, mu the duals of the three row kinds): when none
does, the restricted LP's optimum is the full LP's (exact, to HiGHS's tolerance).

The ex-ante factor is the same LP on samples of (V, c) ~ D with the allocation the agents'
value scaling induces on them (Lemma 4.2's sample measure).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

#: Coalitions are all enumerated up to this many agents; beyond, the singletons and the grand coalition.
GOODS_CORE_MAX_AGENTS = 6
#: Column-generation rounds per coalition LP before giving up (reported as not converged).
MAX_PRICING_ROUNDS = 200
#: A column enters when its reduced value exceeds the round's dual by this much.
PRICING_TOL = 1e-9
#: Rounds priced per block (bounds the (rounds x allocations) temporaries).
PRICING_BLOCK = 256


@dataclass(frozen=True, slots=True)
class GoodsInstance:
    """values (T, n, m); cost_index (T,) into costs (K, N), the cost of each of the N = 2^(n m)
    allocations `allocs` (N, n, m) (row 0 empty) under each pool cost; utility (n,); shares (n,)."""

    values: np.ndarray
    cost_index: np.ndarray
    costs: np.ndarray
    allocs: np.ndarray
    utility: np.ndarray
    shares: np.ndarray

    @classmethod
    def of(
        cls, values: Any, cost_index: Any, costs: Any, allocs: Any, utility: Any, shares: Any
    ) -> GoodsInstance:
        v = np.asarray(values, dtype=np.float64)
        if v.ndim != 3 or not np.isfinite(v).all() or (v < 0).any():
            raise ValueError(f"values must be a finite non-negative (T, n, m) array, got shape {v.shape}")
        t, n, m = v.shape
        a = np.asarray(allocs, dtype=bool)
        if a.shape[1:] != (n, m) or a[0].any():
            raise ValueError(f"allocs must be (N, {n}, {m}) with the empty allocation first, got {a.shape}")
        c = np.atleast_2d(np.asarray(costs, dtype=np.float64))
        if c.shape[1] != a.shape[0]:
            raise ValueError(f"costs must be (K, {a.shape[0]}), got {c.shape}")
        idx = np.asarray(cost_index, dtype=np.int64)
        if idx.shape != (t,) or (idx < 0).any() or (idx >= c.shape[0]).any():
            raise ValueError(f"cost_index must be ({t},) indices into {c.shape[0]} costs")
        u = np.asarray(utility, dtype=np.float64)
        s = np.asarray(shares, dtype=np.float64)
        if u.shape != (n,) or s.shape != (n,) or (s < 0).any():
            raise ValueError(f"utility and shares must be length-{n} vectors (shares >= 0)")
        return cls(v, idx, c, a, u, s)


@dataclass(frozen=True, slots=True)
class GoodsCoalition:
    """gamma(S), the LP's columns at the optimum, pricing rounds used and whether it converged."""

    gamma: float
    columns: int
    pricing_rounds: int
    converged: bool


def coalition_gamma_goods(inst: GoodsInstance, coalition: tuple[int, ...] | list[int]) -> GoodsCoalition:
    """gamma(S) of Definition 2.1 (delta = 0) for m goods by column generation (module docstring)."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    t_len, n, _ = inst.values.shape
    member = np.zeros(n, dtype=bool)
    member[list(coalition)] = True
    if not member.any():
        raise ValueError("coalition must be non-empty")
    inside = np.asarray(~inst.allocs[:, ~member, :].any(axis=(1, 2)))
    inside[0] = False
    cols_s = np.flatnonzero(inside)  # the allocations of S
    cap = float(inst.shares[member].sum() * t_len)
    pos = np.flatnonzero(member & (inst.utility > 0))
    if pos.size == 0:
        # Nothing limits the ratio: blocked (inf) iff S can get positive value at all.
        can = cap > 0 and bool((inst.values[:, member, :] > 0).any())
        return GoodsCoalition(np.inf if can else 0.0, 0, 0, True)
    flat = inst.allocs.reshape(inst.allocs.shape[0], -1).astype(np.float64)
    full = int(np.flatnonzero((inst.allocs == member[None, :, None]).all(axis=(1, 2)))[0])
    col_t = list(range(t_len))
    col_a = [full] * t_len

    def column_values(ts: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """(|pos|, C): V_i[t](A_i) / U_i of each column."""
        got = np.einsum("cim,cim->ci", inst.values[ts][:, pos, :], inst.allocs[codes][:, pos, :])
        return (got / inst.utility[pos]).T

    w_cols = column_values(np.asarray(col_t), np.asarray(col_a))
    c_cols = inst.costs[inst.cost_index[col_t], col_a]
    b_ub = np.concatenate([np.zeros(pos.size), np.ones(t_len), [cap]])
    rounds = 0
    while True:
        ncol = len(col_t)
        rows = np.concatenate([
            np.repeat(np.arange(pos.size), ncol), pos.size + np.asarray(col_t), np.full(ncol, pos.size + t_len),
            np.arange(pos.size),
        ])
        cols = np.concatenate([
            np.tile(np.arange(ncol), pos.size), np.arange(ncol), np.arange(ncol), np.full(pos.size, ncol),
        ])
        data = np.concatenate([-w_cols.ravel(), np.ones(ncol), c_cols, np.ones(pos.size)])
        a_ub = coo_matrix((data, (rows, cols)), shape=(pos.size + t_len + 1, ncol + 1)).tocsr()
        obj = np.zeros(ncol + 1)
        obj[-1] = -1.0
        res = linprog(obj, A_ub=a_ub, b_ub=b_ub, bounds=[(0.0, None)] * (ncol + 1), method="highs")
        if res.status != 0:
            raise RuntimeError(f"goods core LP for coalition {tuple(np.flatnonzero(member))} failed: {res.message}")
        z = -float(res.fun)
        duals = -np.asarray(res.ineqlin.marginals)
        y, mu, lam = duals[: pos.size], duals[pos.size : pos.size + t_len], float(duals[-1])
        if rounds >= MAX_PRICING_ROUNDS:
            return GoodsCoalition(z - 1.0, ncol, rounds, False)
        rounds += 1
        weight = np.zeros(n)
        weight[pos] = y / inst.utility[pos]
        new_t: list[int] = []
        new_a: list[int] = []
        sub = flat[cols_s]
        for lo in range(0, t_len, PRICING_BLOCK):
            ts = np.arange(lo, min(lo + PRICING_BLOCK, t_len))
            score = (inst.values[ts] * weight[None, :, None]).reshape(ts.size, -1) @ sub.T
            score -= lam * inst.costs[inst.cost_index[ts]][:, cols_s]
            best = np.argmax(score, axis=1)
            gain = score[np.arange(ts.size), best] - mu[ts]
            hit = gain > PRICING_TOL * max(1.0, z)
            new_t.extend(ts[hit].tolist())
            new_a.extend(cols_s[best[hit]].tolist())
        if not new_t:
            return GoodsCoalition(z - 1.0, ncol, rounds, True)
        nt, na = np.asarray(new_t), np.asarray(new_a)
        col_t.extend(new_t)
        col_a.extend(new_a)
        w_cols = np.concatenate([w_cols, column_values(nt, na)], axis=1)
        c_cols = np.concatenate([c_cols, inst.costs[inst.cost_index[nt], na]])


@dataclass(frozen=True, slots=True)
class GoodsCoreResult:
    """gamma = max over the coalitions checked; method "exact" when every coalition was checked
    and every LP converged, else "partial"; coalition where attained; singletons (n,)."""

    gamma: float
    coalition: tuple[int, ...]
    checked: int
    method: str
    singletons: np.ndarray


def goods_core_factor(inst: GoodsInstance, max_agents: int = GOODS_CORE_MAX_AGENTS) -> GoodsCoreResult:
    """max_S gamma(S) over every coalition for n <= max_agents (else the singletons and the grand coalition)."""
    n = inst.values.shape[1]
    if n <= max_agents:
        coalitions = [s for size in range(1, n + 1) for s in combinations(range(n), size)]
    else:
        coalitions = [(i,) for i in range(n)] + [tuple(range(n))]
    best, exact = -np.inf, n <= max_agents
    where: tuple[int, ...] = (0,)
    singles = np.zeros(n)
    for s in coalitions:
        out = coalition_gamma_goods(inst, s)
        exact &= out.converged
        if len(s) == 1:
            singles[s[0]] = out.gamma
        if out.gamma > best + 1e-12:
            best, where = out.gamma, s
    return GoodsCoreResult(float(best), tuple(where), len(coalitions), "exact" if exact else "partial", singles)


# -- the public-goods scenario's metric step for m goods -------------------------------------

#: Samples of (V, c) ~ D for the ex-ante factor (fewer than the single good's: each is a
#: 2^(n m) enumeration, and each coalition LP has one row per sample).
GOODS_EX_ANTE_SAMPLES = 500


class GoodsCoreStep:
    """The core step of the public-goods scenario with m goods (Onyeze et al. 2025 §7): the ex-post
    factor (Definition 2.1, delta = 0) on the run's draws, the ex-ante factor on
    GOODS_EX_ANTE_SAMPLES draws of D at the agents' value scaling (Lemma 4.2's sample measure),
    Theorem 7.2's gamma = sup DWL (H_n - 1 for Potential, Corollary 7.3) beside them, the
    largest Definition 7.1 DWL of the rounds played, and Proposition 3.1's feasibility
    sum_t c[t](A[t]) <= alpha T.

    The run's (V[t], c[t]) are the "values" stream replayed (the model is its only consumer,
    so a fresh generator on it draws them again); the allocations are the mechanism replayed
    on the recorded reports (deterministic). Needs every agent recorded."""

    name = "core"

    def __init__(self, shares: np.ndarray, mechanism: Any) -> None:
        self.shares = np.asarray(shares, dtype=np.float64)
        self.mechanism = mechanism

    def applies(self, records: Any) -> bool:
        return self.shares.shape == (records.n_agents,) and records.agents.size == records.n_agents

    def _replay(self, model: Any, stream: str, rounds: int) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        rng = model.streams.generator(stream)
        draws = [model.instance.values.draw(t, rng) for t in range(rounds)]
        ctx = [c for _, c in draws]
        idx = np.asarray([self.mechanism.cost_index(c) for c in ctx], dtype=np.int64)
        return np.stack([v for v, _ in draws]), idx, ctx

    def compute(self, records: Any) -> Any:
        from abm.metrics.core import BETA_RULE, value_scaling_beta
        from abm.metrics.pipeline import BETA_WINDOW, StepOutput
        from mechanisms.base import Reports

        mech, model, t_done = self.mechanism, records.model, records.t_done
        trace = records.trace
        values, idx, ctx = self._replay(model, "values", t_done)
        reports = trace.reports[:t_done]
        rng = np.random.default_rng(0)  # unused by the deterministic Potential mechanism
        total_cost, dwl = 0.0, 0.0
        for t in range(t_done):
            res = mech.run_round(Reports(reports[t], values[t], ctx[t]), rng)
            total_cost += res.extras["cost"]
            dwl = max(dwl, mech.dead_weight_loss(res.state.reports, res.outcome, res.charges, int(idx[t])))
        costs = np.stack([mech.tables(j).costs for j in range(len(mech.costs))])
        inst = GoodsInstance.of(values, idx, costs, mech.allocs, records.utilities.sum(axis=0), self.shares)
        ex_post = goods_core_factor(inst)
        bound = mech.dwl_bound
        alpha_t = float(self.shares.sum() * t_done)
        out = StepOutput(agent_columns={"core_gamma_singleton": ex_post.singletons})
        core: dict[str, Any] = {
            "gamma": ex_post.gamma,
            "blocking_coalition": list(ex_post.coalition),
            "coalitions_checked": ex_post.checked,
            "method": ex_post.method,
            "method_meaning": "exact: every coalition's LP solved to optimality by column generation over its "
            "allocations; partial: the singletons and the grand coalition only (n > "
            f"{GOODS_CORE_MAX_AGENTS}) or an LP stopped before converging",
            "goods": int(values.shape[2]),
            "theorem_7_2": {
                "gamma_bound": bound,
                "source": "Onyeze et al. 2025 Theorem 7.2 with gamma = sup DWL(M, V, c) = H_n - 1 for Potential "
                "(Proposition E.2, Corollary 7.3): the (gamma, o(1))-core at the focal value-scaling equilibrium",
                "dwl_max_played": dwl,
                "dwl_within_bound": bool(dwl <= bound + 1e-9),
            },
            "feasibility": {
                "total_cost": total_cost,
                "alpha_T": alpha_t,
                "holds": bool(total_cost <= alpha_t + 1e-9),
                "source": "Onyeze et al. 2025 Proposition 3.1 with m goods: sum_t c[t](A[t]) <= alpha T",
            },
        }
        beta = value_scaling_beta(trace.values[:t_done], reports, BETA_WINDOW)
        sv, sidx, sctx = self._replay(model, "metrics", GOODS_EX_ANTE_SAMPLES)
        bids = np.where(np.isfinite(beta), sv.sum(axis=2) / np.where(np.isfinite(beta), beta, 1.0), 0.0)
        got = np.zeros((GOODS_EX_ANTE_SAMPLES, values.shape[1]))
        spend = np.zeros(values.shape[1])
        for s in range(GOODS_EX_ANTE_SAMPLES):
            res = mech.run_round(Reports(bids[s], sv[s], sctx[s]), rng)
            got[s] = res.utilities
            spend += res.charges
        ex_ante = goods_core_factor(GoodsInstance.of(sv, sidx, costs, mech.allocs, got.sum(axis=0), self.shares))
        core["ex_ante"] = {
            "lp_gamma": ex_ante.gamma,
            "lp_method": ex_ante.method,
            "lp_coalitions": ex_ante.checked,
            "samples": GOODS_EX_ANTE_SAMPLES,
            "within_theorem_7_2": bool(ex_ante.gamma <= bound + 1e-9),
            "max_spend_over_share": float((spend / GOODS_EX_ANTE_SAMPLES / self.shares).max()),
            "beta": BETA_RULE.format(window=BETA_WINDOW),
            "beta_infinite": int(np.isinf(beta).sum()),
        }
        out.agent_columns["beta"] = beta
        out.agent_columns["ex_ante_spend"] = spend / GOODS_EX_ANTE_SAMPLES
        out.summary["core"] = core
        return out
