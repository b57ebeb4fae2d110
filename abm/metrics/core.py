"""Approximate core factor for the single-good, 0-1 cost public good (Onyeze et al. Definition 2.1,
Lemma 4.2; SPEC.md §G).

Ex post (Definition 2.1 with delta = 0): coalition S with share alpha_S = sum_{i in S} alpha_i
may pick any allocation giving the good in at most alpha_S T rounds; giving it to all of S
in those rounds is w.l.o.g. (values are >= 0). Its best multiplicative improvement is the LP
relaxation (x_t in [0, 1] = fraction of round t taken)

    1 + gamma(S) = max z  s.t.  sum_t V_it x_t >= z U_i  (i in S),  sum_t x_t <= alpha_S T,

with U_i = sum_t V_it 1[i served at t] the run's utility. gamma = max_S gamma(S): every S
for n <= `EXACT_MAX_AGENTS`, else the grand coalition, all singletons and a greedy growth
search (documented at `core_factor`), reporting how many coalitions were checked.

Ex ante (Lemma 4.2): for S and scaling weights beta, the half-space H = {sum_{i in S}
V_i / beta_i >= z*} with mu(H) = alpha_S certifies the gamma-approximate ex-ante core for
gamma = E[sum_S V_i/beta_i 1_H] / E[sum_S V_i/beta_i 1_{A_i}] - 1 (an upper bound on the
exact ex-ante factor, which is the same LP on samples of the value distribution).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

#: Coalitions are enumerated exhaustively up to this many agents (2^n - 1 LPs).
EXACT_MAX_AGENTS = 10
#: ... and only while (number of coalitions) x T stays below this many LP columns (about
#: 6 s of HiGHS): n = 10 at T = 2000 would be 1013 LPs (~20 s) after every run. Beyond it the
#: greedy search runs; pass exact_max_work=None to force enumeration.
EXACT_MAX_WORK = 600_000
#: Budget of LPs for the greedy search when n > EXACT_MAX_AGENTS.
GREEDY_MAX_LPS = 400
#: The same for the ex-ante LP on samples (its LPs have one variable per sample).
EX_ANTE_MAX_LPS = 60


@dataclass(frozen=True, slots=True)
class CoreResult:
    """gamma = max over checked coalitions of gamma(S) (inf if some coalition of agents with
    zero utility can get positive value); coalition: the maximizer (agent indices);
    checked: number of coalitions evaluated; method: 'exact' or 'search'."""

    gamma: float
    coalition: tuple[int, ...]
    checked: int
    method: str
    singletons: np.ndarray = field(repr=False)


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


#: Horizons beyond which the coalition LP is solved by interior point instead of simplex.
IPM_ROUNDS = 2000


def coalition_gamma(values: np.ndarray, utility: np.ndarray, shares: np.ndarray, coalition: Iterable[int]) -> float:
    """gamma(S) of Definition 2.1 (delta = 0) by the LP relaxation (HiGHS).

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


def core_factor(
    values: np.ndarray,
    utility: np.ndarray,
    shares: np.ndarray,
    exact_max_agents: int = EXACT_MAX_AGENTS,
    max_lps: int = GREEDY_MAX_LPS,
    exact_max_work: int | None = EXACT_MAX_WORK,
) -> CoreResult:
    """gamma = max_S gamma(S) (Onyeze et al. Definition 2.1, delta = 0).

    Every non-empty S when n <= exact_max_agents and (2^n - n - 1) * T <= exact_max_work.
    Otherwise: the grand coalition, every singleton (closed form), then greedy growth from
    the agents in decreasing order of their singleton gamma: from S = {i}, solve the LP, add
    the outside agent whose value the LP's alternative allocation serves best relative to its
    own utility (sum_t V_jt x_t / U_j), keep going while it raises gamma(S); stops after
    `max_lps` LPs in total. A lower bound on the true gamma."""
    v, u, a = _check(values, utility, shares)
    n = v.shape[1]
    singles = np.array([coalition_gamma(v, u, a, [i]) for i in range(n)])
    best_s: tuple[int, ...]
    best_g, best_s = float(singles.max()), (int(singles.argmax()),)
    affordable = exact_max_work is None or (2**n - n - 1) * v.shape[0] <= exact_max_work
    if n <= exact_max_agents and affordable:
        checked = n
        for size in range(2, n + 1):
            for s in combinations(range(n), size):
                g = coalition_gamma(v, u, a, s)
                checked += 1
                if g > best_g:
                    best_g, best_s = g, tuple(s)
        return CoreResult(best_g, best_s, checked, "exact", singles)
    grand = coalition_gamma(v, u, a, range(n))
    checked = n + 1
    if grand > best_g:
        best_g, best_s = grand, tuple(range(n))
    lps = 1
    for start in np.argsort(-singles, kind="stable"):
        if lps >= max_lps:
            break
        members = [int(start)]
        g_cur, x = _coalition_lp(v, u, a, members)  # closed form for one agent: no LP
        while len(members) < n and lps < max_lps:
            outside = np.setdiff1d(np.arange(n), members)
            with np.errstate(divide="ignore", invalid="ignore"):
                score = np.where(u[outside] > 0, (v[:, outside].T @ x) / u[outside], np.inf)
            cand = [*members, int(outside[np.argmax(score)])]
            g, x_cand = _coalition_lp(v, u, a, cand)
            lps += 1
            checked += 1
            if g > best_g:
                best_g, best_s = g, tuple(sorted(cand))
            if g <= g_cur:
                break
            members, g_cur, x = cand, g, x_cand
    return CoreResult(best_g, best_s, checked, "search", singles)


def halfspace_gamma(
    samples: np.ndarray, served: np.ndarray, shares: np.ndarray, beta: np.ndarray, coalition: Iterable[int]
) -> float:
    """Lemma 4.2's certificate for coalition S on samples of the value distribution.

    samples: (N, n) value vectors V ~ D; served: (N, n) whether i is in A_i at V (the
    induced ex-ante allocation); beta: (n,) > 0 scaling weights. H = the alpha_S-measure top
    part of sum_{i in S} V_i / beta_i (ties split fractionally); returns
    E[sum_S V_i/beta_i 1_H] / E[sum_S V_i/beta_i 1_{A_i}] - 1 (inf if the denominator is 0)."""
    x = np.asarray(samples, dtype=np.float64)
    a_sel = np.asarray(served, dtype=bool)
    beta = np.asarray(beta, dtype=np.float64)
    if x.ndim != 2 or a_sel.shape != x.shape:
        raise ValueError(f"samples and served must be (N, n) arrays of one shape, got {x.shape}, {a_sel.shape}")
    if beta.shape != (x.shape[1],) or not (beta > 0).all():
        raise ValueError(f"beta must be a positive vector of length {x.shape[1]}")
    s = np.asarray(sorted(set(coalition)), dtype=np.int64)
    alpha_s = float(np.asarray(shares, dtype=np.float64)[s].sum())
    w = x[:, s] / beta[s]
    score = w.sum(axis=1)
    n_samples = x.shape[0]
    top = float(score @ _top_indicator(score, alpha_s * n_samples)) / n_samples
    got = float((w * a_sel[:, s]).sum() / n_samples)
    if got <= 0:
        return float(np.inf) if top > 0 else 0.0
    return top / got - 1.0


def ex_ante_core(
    samples: np.ndarray,
    served: np.ndarray,
    shares: np.ndarray,
    beta: np.ndarray,
    exact_max_agents: int = EXACT_MAX_AGENTS,
) -> dict[str, float | int]:
    """Ex-ante core factor on samples (N, n) of the value distribution with the induced
    allocation `served` (N, n): the Lemma 4.2 half-space bound with weights beta (max over the
    checked coalitions) and the exact LP factor on the sample measure (`core_factor`); the
    feasibility check mu(A) <= alpha of Definition 4.1 is reported as `measure_allocated`."""
    x = np.asarray(samples, dtype=np.float64)
    a_sel = np.asarray(served, dtype=bool)
    shares = np.asarray(shares, dtype=np.float64)
    n = x.shape[1]
    if n <= exact_max_agents:
        coalitions: Iterable[tuple[int, ...]] = (
            s for size in range(1, n + 1) for s in combinations(range(n), size)
        )
    else:
        coalitions = [tuple(range(n)), *((i,) for i in range(n))]
    bound, checked = -np.inf, 0
    for s in coalitions:
        bound = max(bound, halfspace_gamma(x, a_sel, shares, beta, s))
        checked += 1
    exact = core_factor(x, (x * a_sel).sum(axis=0), shares, exact_max_agents, max_lps=EX_ANTE_MAX_LPS)
    return {
        "halfspace_gamma": float(bound),
        "halfspace_coalitions": checked,
        "lp_gamma": exact.gamma,
        "lp_coalitions": exact.checked,
        "measure_allocated": float(a_sel.any(axis=1).mean()),
        "samples": int(x.shape[0]),
    }
