"""The divisible multi-dimensional knapsack of Zhu 2021 §3 and the ord-A split of §4.

    v(q, mu) = max sum_i alpha_i  s.t.  sum_i alpha_i theta_i <= q,  0 <= alpha <= mu   (eq. 1)

Every project pays 1, so v counts invested project units. The LP is solved with
`scipy.optimize.linprog(method="highs")`, many instances at once as one block-diagonal
sparse LP (the dates of a run, or the candidate misreports of an incentive search, are
independent blocks). For R = 1, Lemma 1's price structure gives an exact greedy form
(a single price p = 1/theta_marginal: fill types in increasing theta), used as the fast
path and tested against the LP.

Conventions: `theta` is (I, R); types i < R are the principal's last-resort projects
(condition 1: theta_i uses only resource i); `np.inf` in `mu` means an unlimited supply.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import comb

import numpy as np

#: Relative tolerance for comparisons of project/resource amounts (float round-off of HiGHS).
AMOUNT_TOL = 1e-7
#: HiGHS feasibility tolerances (tighter than the 1e-7 defaults: ord-A splits compare alphas).
HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
#: Condition 2 is checked exhaustively only up to this many candidate subsets.
GENERAL_POSITION_MAX_SUBSETS = 20_000


def check_theta(theta: np.ndarray) -> np.ndarray:
    """Validate the project types of Zhu 2021 §2: an (I, R) array, entries >= 0, no zero
    row, I > R, and condition 1 (for i <= R, theta_i(r) > 0 <=> r = i)."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 2:
        raise ValueError(f"theta must be an (I, R) array, got shape {theta.shape}")
    n_types, n_res = theta.shape
    if n_res < 1 or n_types <= n_res:
        raise ValueError(f"theta must have I > R >= 1 (condition 1), got I = {n_types}, R = {n_res}")
    if not np.isfinite(theta).all() or (theta < 0).any():
        i, r = np.argwhere(~np.isfinite(theta) | (theta < 0))[0]
        raise ValueError(f"theta[{i}, {r}] must be finite and >= 0, got {theta[i, r]}")
    zero = ~(theta > 0).any(axis=1)
    if zero.any():
        raise ValueError(f"theta[{int(np.flatnonzero(zero)[0])}] must be a nonzero input vector, got all zeros")
    last_resort = theta[:n_res] > 0
    if not np.array_equal(last_resort, np.eye(n_res, dtype=bool)):
        i = int(np.flatnonzero((last_resort != np.eye(n_res, dtype=bool)).any(axis=1))[0])
        raise ValueError(
            f"theta[{i}] must use only resource {i} (condition 1: last-resort project), got {theta[i].tolist()}"
        )
    return theta


def general_position_violation(theta: np.ndarray, tol: float = 1e-9) -> tuple[int, ...] | None:
    """Condition 2 of Zhu 2021 §2: any subset of Theta on a hyperplane {x : p.x = 1} with
    p in (0, inf)^R is linearly independent. Returns a violating subset or None.

    A violating subset can be taken of size <= R + 1 and linearly dependent; for each such
    subset S we ask whether some p > 0 solves theta_S p = 1 (an LP maximizing min_r p(r)).
    Exhaustive, so only run when the number of subsets is at most
    GENERAL_POSITION_MAX_SUBSETS (raises ValueError otherwise)."""
    from scipy.optimize import linprog

    theta = check_theta(theta)
    n_types, n_res = theta.shape
    total = sum(comb(n_types, k) for k in range(2, n_res + 2))
    if total > GENERAL_POSITION_MAX_SUBSETS:
        raise ValueError(f"theta: {total} subsets exceed the exhaustive-check limit {GENERAL_POSITION_MAX_SUBSETS}")
    for k in range(2, n_res + 2):
        for subset in itertools.combinations(range(n_types), k):
            rows = theta[list(subset)]
            if np.linalg.matrix_rank(rows, tol=tol * max(1.0, np.abs(rows).max())) == k:
                continue
            # Feasibility of {p : rows p = 1, p >= s, s > 0}: maximize s (capped at 1).
            c = np.zeros(n_res + 1)
            c[-1] = -1.0
            a_eq = np.hstack([rows, np.zeros((k, 1))])
            a_ub = np.hstack([-np.eye(n_res), np.ones((n_res, 1))])
            res = linprog(
                c, A_ub=a_ub, b_ub=np.zeros(n_res), A_eq=a_eq, b_eq=np.ones(k),
                bounds=[(None, None)] * n_res + [(None, 1.0)], method="highs",
            )  # fmt: skip
            if res.status == 0 and -res.fun > tol:
                return subset
    return None


@dataclass(frozen=True, slots=True)
class KnapsackSolution:
    """Solutions of B knapsack instances: investment alpha (B, I), value v (B,), and the
    prices p (B, R) — the LP duals of the resource constraints, a price associated with
    alpha in the sense of Lemma 1 (p.theta_i < 1 => fully invested, > 1 => not)."""

    alpha: np.ndarray
    value: np.ndarray
    prices: np.ndarray


def solve_knapsack(theta: np.ndarray, q: np.ndarray, mu: np.ndarray) -> KnapsackSolution:
    """Solve eq. (1) for B instances at once: q (B, R) resources, mu (B, I) supplies
    (np.inf = unlimited). One block-diagonal HiGHS LP; blocks are independent, so the
    optimum is the blockwise optimum."""
    from scipy import sparse
    from scipy.optimize import linprog

    theta = np.asarray(theta, dtype=np.float64)
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    mu = np.atleast_2d(np.asarray(mu, dtype=np.float64))
    n_types, n_res = theta.shape
    if q.shape[1] != n_res or mu.shape[1] != n_types or q.shape[0] != mu.shape[0]:
        raise ValueError(f"q must be (B, {n_res}) and mu (B, {n_types}) with equal B, got {q.shape} and {mu.shape}")
    if (q < 0).any() or np.isnan(q).any() or np.isinf(q).any():
        raise ValueError(f"q must be finite and >= 0, got {q[~(np.isfinite(q) & (q >= 0))][0]}")
    if (mu < 0).any() or np.isnan(mu).any():
        raise ValueError(f"mu must be >= 0, got {mu[~(mu >= 0)][0]}")
    b = q.shape[0]
    # Unlimited types need no cap (each uses some resource, so the LP stays bounded); a
    # redundant finite cap would steal the dual from the resource price.
    upper = mu
    a_ub = sparse.kron(sparse.identity(b, format="csr"), sparse.csr_matrix(theta.T), format="csr")
    res = linprog(
        -np.ones(b * n_types),
        A_ub=a_ub,
        b_ub=q.ravel(),
        bounds=np.column_stack([np.zeros(b * n_types), upper.ravel()]),
        method="highs",
        options=HIGHS_OPTIONS,
    )
    if res.status != 0:
        raise RuntimeError(f"knapsack LP failed: {res.message}")
    alpha = np.clip(res.x.reshape(b, n_types), 0.0, upper)
    prices = -np.asarray(res.ineqlin.marginals).reshape(b, n_res)
    return KnapsackSolution(alpha, alpha.sum(axis=1), np.clip(prices, 0.0, None))


def solve_knapsack_greedy(theta: np.ndarray, q: np.ndarray, mu: np.ndarray) -> KnapsackSolution:
    """R = 1 exact form of eq. (1) (Lemma 1 with one price): invest in types by increasing
    theta_i until the resource runs out; the price is 1/theta of the marginal type.
    Vectorized over the B instances."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape[1] != 1:
        raise ValueError(f"the greedy knapsack needs R = 1, got R = {theta.shape[1]}")
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))[:, 0]
    mu = np.atleast_2d(np.asarray(mu, dtype=np.float64))
    th = theta[:, 0]
    order = np.argsort(th, kind="stable")
    th_sorted = th[order]
    need = mu[:, order] * th_sorted  # resource each type would use if fully invested (inf ok)
    with np.errstate(invalid="ignore"):
        used_before = np.concatenate([np.zeros((mu.shape[0], 1)), np.cumsum(need, axis=1)[:, :-1]], axis=1)
    left = np.clip(q[:, None] - used_before, 0.0, None)
    invest = np.minimum(mu[:, order], left / th_sorted)
    alpha = np.empty_like(invest)
    alpha[:, order] = invest
    # The marginal type: the last one with any investment (resources exhausted there or all supply used).
    partial = (invest > 0) & (invest < mu[:, order])
    marg = np.where(partial.any(axis=1), np.argmax(partial, axis=1), -1)
    prices = np.where(marg >= 0, 1.0 / th_sorted[np.maximum(marg, 0)], 0.0)[:, None]
    return KnapsackSolution(alpha, alpha.sum(axis=1), prices)


@dataclass(frozen=True, slots=True)
class PriceBasis:
    """A candidate associated price of Lemma 1: R types S (the partially invested ones)
    on the hyperplane p.x = 1 with p = theta_S^-1 1 > 0. Types with p.theta_i < 1
    (`full`) are fully invested, the others (`zero`) not; exhausting q fixes alpha_S =
    theta_S^-T (q - sum_full mu_i theta_i). `inv_t` is theta_S^-T."""

    partial: np.ndarray
    full: np.ndarray
    price: np.ndarray
    inv_t: np.ndarray


def price_bases(theta: np.ndarray) -> list[PriceBasis]:
    """Every price that can be associated with an efficient investment when the principal
    holds unlimited last-resort projects (Lemmas 1-2): by Lemma 2's proof some associated
    price has exactly R types on its hyperplane, so it is p_S = theta_S^-1 1 for an
    R-subset S with p_S > 0; p_S.theta_i >= 1 for every last-resort type i <= R (one with
    cost < 1 would have to be invested without limit)."""
    theta = np.asarray(theta, dtype=np.float64)
    n_types, n_res = theta.shape
    out = []
    for subset in itertools.combinations(range(n_types), n_res):
        rows = theta[list(subset)]
        if abs(np.linalg.det(rows)) < 1e-12 * max(1.0, np.abs(rows).max()) ** n_res:
            continue
        p = np.linalg.solve(rows, np.ones(n_res))
        if (p <= 0).any():
            continue
        cost = theta @ p
        if (cost[:n_res] < 1 - 1e-12).any():
            continue
        full = cost < 1 - 1e-12
        full[list(subset)] = False
        out.append(PriceBasis(np.array(subset), np.flatnonzero(full), p, np.linalg.inv(rows).T))
    return out


def efficient_by_bases(theta: np.ndarray, q: np.ndarray, mu: np.ndarray,
                       bases: list[PriceBasis] | None = None) -> KnapsackSolution:  # fmt: skip
    """Lemma 1's exact form of eq. (1) when the principal's unlimited last-resort projects
    make the efficient investment exhaustive: the unique alpha is the one basis whose
    exhaustive linear investment is feasible (0 <= alpha_S <= mu_S). Vectorized over the
    B instances and the bases; rows no basis fits (round-off at region boundaries) are
    re-solved by the LP. Requires mu_i = inf for i < R."""
    theta = np.asarray(theta, dtype=np.float64)
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    mu = np.atleast_2d(np.asarray(mu, dtype=np.float64))
    n_res = theta.shape[1]
    if not np.isinf(mu[:, :n_res]).all():
        raise ValueError("efficient_by_bases needs unlimited last-resort supply (mu[:, :R] = inf)")
    bases = price_bases(theta) if bases is None else bases
    b = mu.shape[0]
    alpha = np.full_like(mu, np.nan)
    prices = np.zeros((b, n_res))
    todo = np.ones(b, dtype=bool)
    tol = AMOUNT_TOL * np.maximum(1.0, np.abs(q).max(axis=1))
    for basis in bases:
        if not todo.any():
            break
        rows = np.flatnonzero(todo)
        full_mu = mu[np.ix_(rows, basis.full)]
        rem = q[rows] - full_mu @ theta[basis.full]
        a_s = rem @ basis.inv_t.T
        cap = mu[np.ix_(rows, basis.partial)]
        ok = (a_s >= -tol[rows, None]).all(axis=1) & (a_s <= cap + tol[rows, None]).all(axis=1)
        if not ok.any():
            continue
        hit = rows[ok]
        a = np.zeros((hit.shape[0], mu.shape[1]))
        a[:, basis.full] = full_mu[ok]
        a[:, basis.partial] = np.clip(a_s[ok], 0.0, cap[ok])
        alpha[hit] = a
        prices[hit] = basis.price
        todo[hit] = False
    if todo.any():
        sol = solve_knapsack(theta, q[todo], mu[todo])
        alpha[todo] = sol.alpha
        prices[todo] = sol.prices
    return KnapsackSolution(alpha, alpha.sum(axis=1), prices)


def knapsack(theta: np.ndarray, q: np.ndarray, mu: np.ndarray) -> KnapsackSolution:
    """Eq. (1) by the fastest exact method: greedy when R = 1, the HiGHS LP otherwise."""
    theta = np.asarray(theta, dtype=np.float64)
    return solve_knapsack_greedy(theta, q, mu) if theta.shape[1] == 1 else solve_knapsack(theta, q, mu)


def ord_split(alpha: np.ndarray, reports: np.ndarray) -> np.ndarray:
    """Zhu 2021 §4, ord-A: the efficient investment alpha (..., I) of a date is handed out
    in index order, agent N first and the principal last. reports (..., N, I) are the
    agents' (reported) endowments; returns invested units (..., N + 1, I), row 0 the
    principal. Agent n gets clip(alpha_i - sum_{m > n} mu_i^m, 0, mu_i^n); the principal
    the rest."""
    reports = np.asarray(reports, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    ahead = np.flip(np.cumsum(np.flip(reports, axis=-2), axis=-2), axis=-2) - reports  # sum over m > n
    agents = np.clip(alpha[..., None, :] - ahead, 0.0, reports)
    principal = np.clip(alpha - agents.sum(axis=-2), 0.0, None)
    return np.concatenate([principal[..., None, :], agents], axis=-2)


def marginal_player(alpha: np.ndarray, reports: np.ndarray, tol: float = AMOUNT_TOL) -> np.ndarray:
    """N(mu_t, i) of Zhu 2021 §4 for each type i: the player (0 = principal, 1..N agents)
    whose projects are served last, alpha_i in (sum_{m > N} mu_i^m, sum_{m >= N} mu_i^m];
    N when alpha_i = 0."""
    reports = np.asarray(reports, dtype=np.float64)
    n = reports.shape[0]
    from_top = np.cumsum(reports[::-1], axis=0)  # row k: sum over the k+1 highest indices
    scale = tol * np.maximum(1.0, np.abs(alpha))
    # Agent n (1-based) is marginal iff sum_{m > n} < alpha_i <= sum_{m >= n}.
    covered = from_top >= alpha[None, :] - scale[None, :]  # sums over m >= N - k
    first = np.where(covered.any(axis=0), np.argmax(covered, axis=0), n)  # k of the first cover
    player = n - first  # k = 0 -> agent N; k = N -> principal (not covered by agents)
    return np.where(alpha <= scale, n, player)
