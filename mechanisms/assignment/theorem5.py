"""A solver for Theorem 5 (Braverman 2021, §3.2.2): weights lambda_i >= 0 such that the VCG
prices C of the scaled utilities u'_ij = lambda_i u_ij, with a mixture X of u'-optimal
assignments, form a Hylland–Zeckhauser equilibrium at budgets b.

The proof is a Brouwer fixed point of a smoothed tatonnement and gives no algorithm; this
is a search in two stages, each step checked exactly:

1. **Tatonnement** (the adjustment map Psi of the proof, in log form): each round runs
   unit-demand VCG on lambda_t u and moves log lambda_i by eta / sqrt(t) * (b_i - payment_i)
   / b_i, snapped to [.., lambda-bar] (the proof's cap). The geometric mean of lambda over
   the second half of the rounds so far is the candidate (the rounds are the smoothing the
   proof does with its epsilon-box average).
2. **Polish on the support** at the candidate: the prices C(lambda) and the near-tight
   edges (reduced cost a_i + C_j - lambda_i u_ij <= tau) give, by one HiGHS LP, the
   allocation X closest to spending every budget; on X's support the conditions of
   Theorem 5 are square polynomial equations in (lambda, a, C, X) — tight edges
   lambda_i u_ij = a_i + C_j, zero prices kept at zero, X bistochastic, sum_j C_j x_ij =
   b_i for every agent not served only her favourite items — solved by least squares
   and Gauss–Newton to round-off.

The polished lambda is then verified from scratch: C = the minimal Walrasian (= VCG) prices
of lambda u (`vcg.minimal_prices`), X = the LP's allocation over the exactly tight edges
(reduced cost <= 1e-10 of the scale, so X is a mixture of u'-optimal assignments), and
`hz.hz_residuals(u, X, C, b, tol)` must hold. Polishing is tried at rounds 50, 75, 112, ...
and with a few tau per attempt; the first verified lambda is returned. `Theorem5Result`
says whether it converged, after how many rounds and attempts, and its residuals.

HZ conditions are invariant to per-agent affine maps of u (sum_j y_j = 1), and so are the
VCG assignment and prices of lambda_i (s_i u_ij + c_i) once lambda is rescaled, so the
search runs on utilities normalized per agent to [0, 1] and lambda is returned for the
given u.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechanisms.assignment.hz import HIGHS_OPTIONS, HZReport, hz_residuals
from mechanisms.assignment.vcg import check_values, minimal_prices, optimal_assignment

#: Near-tight edge widths (fractions of the largest price) tried at each polish attempt.
POLISH_TAUS = (0.2, 0.1, 0.05, 0.02, 0.01, 0.003, 0.001)
#: Reduced cost (fraction of the largest scaled utility) below which an edge is tight.
TIGHT = 1e-10
#: Polish rounds per width, each from the market of the previous polished point.
REPOLISH = 4


@dataclass(frozen=True, slots=True)
class Theorem5Result:
    """A Theorem 5 equilibrium (Braverman 2021, §3.2.2), or the best attempt.

    lam: (n,) weights for the given utilities; prices: (n,) VCG prices of lam_i u_ij;
    allocation: (n, n) bistochastic, a mixture of lam-u-optimal assignments; spend: (n,)
    C . x_i; hz: `hz_residuals(u, allocation, prices, budgets, tol)`; optimality_gap:
    max_sigma sum_i lam_i u_i sigma(i) - sum_ij lam_i u_ij x_ij (>= 0, ~0 for a mixture of
    optimal assignments); converged: hz.is_equilibrium; rounds: tatonnement rounds run;
    attempts: polish attempts; message: how it ended."""

    lam: np.ndarray
    prices: np.ndarray
    allocation: np.ndarray
    spend: np.ndarray
    hz: HZReport
    optimality_gap: float
    converged: bool
    rounds: int
    attempts: int
    tol: float
    message: str


def normalize_rows(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(w, span): w_ij = (u_ij - min_j u_ij) / span_i in [0, 1]; span 1 for a constant row."""
    lo, hi = u.min(axis=1, keepdims=True), u.max(axis=1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (u - lo) / span, span[:, 0]


def lambda_cap(w: np.ndarray, budgets: np.ndarray) -> float:
    """The proof's lambda-bar = 1 + (total budget) / (smallest non-zero utility gap of an
    agent): an agent at the cap is served only her favourite items (Claim 6)."""
    gaps = np.abs(w[:, :, None] - w[:, None, :])
    positive = gaps[gaps > 1e-12]
    return 1.0 + float(budgets.sum()) / (float(positive.min()) if positive.size else 1.0)


def _market(w: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(assignment, minimal prices C, reduced costs a_i + C_j - lam_i w_ij >= 0) of lam w."""
    assignment, prices, reduced, _ = _market_tree(w, lam)
    return assignment, prices, reduced


def _market_tree(w: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`_market` plus the edges that pin the minimal prices: each agent's own item and,
    for every item k priced by the longest path, the edge (owner of pred[k], k)."""
    v = lam[:, None] * w
    n, m = v.shape
    assignment = optimal_assignment(v)
    prices, pred = minimal_prices(v, assignment)
    a = v[np.arange(n), assignment] - prices[assignment]
    owner = np.full(m, -1, dtype=np.int64)
    owner[assignment] = np.arange(n)
    items = np.flatnonzero(pred < m)
    tree = np.concatenate([np.column_stack([np.arange(n), assignment]), np.column_stack([owner[pred[items]], items])])
    return assignment, prices, a[:, None] + prices[None, :] - v, tree


def face_allocation(reduced: np.ndarray, prices: np.ndarray, budgets: np.ndarray, tau: float) -> np.ndarray | None:
    """The bistochastic X on the edges of reduced cost <= tau that minimizes
    sum_i |C . x_i - b_i| (one HiGHS LP), or None if those edges carry no perfect matching."""
    from scipy.optimize import linprog

    n = prices.shape[0]
    edges = np.argwhere(reduced <= tau)
    k = edges.shape[0]
    rows, cols = edges[:, 0], edges[:, 1]
    a_eq = np.zeros((3 * n, k + 2 * n))
    a_eq[rows, np.arange(k)] = 1.0
    a_eq[n + cols, np.arange(k)] = 1.0
    a_eq[2 * n + rows, np.arange(k)] = prices[cols]
    a_eq[2 * n + np.arange(n), k + np.arange(n)] = -1.0  # over-spend slack
    a_eq[2 * n + np.arange(n), k + n + np.arange(n)] = 1.0  # under-spend slack
    b_eq = np.concatenate([np.ones(2 * n), budgets])
    cost = np.concatenate([np.zeros(k), np.ones(2 * n)])
    res = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs", options=HIGHS_OPTIONS)
    if res.status != 0:
        return None
    x = np.zeros((n, n))
    x[rows, cols] = np.maximum(res.x[:k], 0.0)
    return x


def _satisfied(w: np.ndarray, x: np.ndarray, spend: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Agents served only favourite items within budget: they need not spend it all."""
    off_favourite = (x * (w < w.max(axis=1, keepdims=True) - 1e-12)).sum(axis=1)
    return (off_favourite <= 1e-9) & (spend <= budgets + 1e-9)


def _polish(
    w: np.ndarray,
    lam0: np.ndarray,
    prices0: np.ndarray,
    tree: np.ndarray,
    x0: np.ndarray,
    budgets: np.ndarray,
    sat: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Solve Theorem 5's equations on the support of x0 (see the module docstring) from
    (lam0, C0, x0): bounded least squares, then Gauss–Newton to round-off. Returns
    (lambda, max |residual|)."""
    from scipy.optimize import least_squares

    n = lam0.shape[0]
    supp = np.argwhere(x0 > 1e-10)
    k = supp.shape[0]
    si, sj = supp[:, 0], supp[:, 1]
    # Tight: X's support and the edges pinning the minimal prices (else a component of the
    # support without a zero-price item could shift its prices freely).
    edges = np.unique(np.concatenate([supp, tree]), axis=0)
    ti, tj = edges[:, 0], edges[:, 1]
    kt = edges.shape[0]
    zero = np.setdiff1d(np.arange(n), tree[n:, 1])  # priced from the root: 0
    free = ~sat
    nz = 3 * n + k
    a0 = lam0 * w[np.arange(n), tree[:n, 1]] - prices0[tree[:n, 1]]

    def residual(z: np.ndarray) -> np.ndarray:
        lam, a, c, xs = z[:n], z[n : 2 * n], z[2 * n : 3 * n], z[3 * n :]
        spend = np.bincount(si, c[sj] * xs, n) - budgets
        return np.concatenate(
            [
                lam[ti] * w[ti, tj] - a[ti] - c[tj],
                c[zero],
                np.bincount(si, xs, n) - 1.0,
                np.bincount(sj, xs, n) - 1.0,
                spend[free],
                (lam - lam0)[sat],
            ]
        )

    def jacobian(z: np.ndarray) -> np.ndarray:
        c, xs = z[2 * n : 3 * n], z[3 * n :]
        e, et = np.arange(k), np.arange(kt)
        tight = np.zeros((kt, nz))
        tight[et, ti] = w[ti, tj]
        tight[et, n + ti] = -1.0
        tight[et, 2 * n + tj] = -1.0
        zeros = np.zeros((zero.size, nz))
        zeros[np.arange(zero.size), 2 * n + zero] = 1.0
        row_sum = np.zeros((n, nz))
        row_sum[si, 3 * n + e] = 1.0
        col_sum = np.zeros((n, nz))
        col_sum[sj, 3 * n + e] = 1.0
        spend = np.zeros((n, nz))
        spend[si, 3 * n + e] = c[sj]
        np.add.at(spend, (si, 2 * n + sj), xs)
        fixed = np.zeros((n, nz))
        fixed[np.arange(n), np.arange(n)] = 1.0
        return np.vstack([tight, zeros, row_sum, col_sum, spend[free], fixed[sat]])

    lower = np.concatenate([np.zeros(n), np.full(n, -np.inf), np.zeros(n), np.zeros(k)])
    z = np.concatenate([lam0, a0, prices0, x0[si, sj]])
    z = np.maximum(z, lower)
    z = least_squares(residual, z, jac=jacobian, bounds=(lower, np.inf), xtol=1e-15, ftol=1e-15, gtol=1e-15).x
    for _ in range(8):  # the bounded solver stops near 1e-8; Newton squares the residual from there
        r = residual(z)
        if np.abs(r).max() < 1e-14:
            break
        step = np.linalg.lstsq(jacobian(z), r, rcond=None)[0]
        z = z - step
    return z[:n], float(np.abs(residual(z)).max())


@dataclass(frozen=True, slots=True)
class _Candidate:
    lam: np.ndarray  # normalized units
    prices: np.ndarray
    x: np.ndarray
    hz: HZReport


def _verify(u: np.ndarray, w: np.ndarray, lam: np.ndarray, budgets: np.ndarray, tol: float) -> _Candidate | None:
    """C = VCG prices of lam w, X = the budget-closest mixture of optimal assignments, and
    their HZ residuals on u; None if lam is unusable (negative, non-finite)."""
    if not (np.isfinite(lam).all() and (lam >= 0).all()):
        return None
    _, prices, reduced = _market(w, lam)
    scale = max(1.0, float((lam[:, None] * w).max()))
    x = face_allocation(reduced, prices, budgets, TIGHT * scale)
    if x is None:
        return None
    return _Candidate(lam, prices, x, hz_residuals(u, x, prices, budgets, tol=tol))


def _attempt(u: np.ndarray, w: np.ndarray, lam: np.ndarray, budgets: np.ndarray, tol: float) -> _Candidate | None:
    """Polish at the candidate lam for each near-tight width; the first verified equilibrium."""
    for tau in POLISH_TAUS:
        point = lam
        # A polished point whose support is not quite the equilibrium's (an edge that should
        # be slack, a price that should be zero) is re-polished from its own market.
        for _ in range(REPOLISH):
            _, prices, reduced, tree = _market_tree(w, point)
            x = face_allocation(reduced, prices, budgets, tau * max(float(prices.max()), 1e-12))
            if x is None:
                break
            spend = (x * prices).sum(axis=1)
            point, res = _polish(w, point, prices, tree, x, budgets, _satisfied(w, x, spend, budgets))
            if res > 1e-9:
                break
            cand = _verify(u, w, point, budgets, tol)
            if cand is None:
                break
            if cand.hz.is_equilibrium:
                return cand
    return None


def theorem5_equilibrium(
    utilities: np.ndarray | list,
    budgets: float | np.ndarray | list = 1.0,
    *,
    tol: float = 1e-8,
    max_rounds: int = 20_000,
    eta: float = 0.5,
) -> Theorem5Result:
    """lambda, VCG prices C(lambda u) and a mixture X of optimal assignments forming an HZ
    equilibrium (Braverman 2021, §3.2.2, Theorem 5), by tatonnement plus exact polishing
    (module docstring).

    utilities: (n, n) >= 0; budgets: scalar or (n,) > 0 (HZ's equal incomes: 1); tol: the
    HZ residual tolerance (units of u and tokens) the answer must meet; max_rounds: the
    tatonnement's budget of VCG rounds. Never raises for non-convergence: the result's
    `converged` is False and it holds the last verified candidate."""
    u = check_values(utilities, "utilities")
    n = u.shape[0]
    if u.shape[1] != n:
        raise ValueError(f"utilities must be square (n agents x n items), got shape {u.shape}")
    b = np.broadcast_to(np.asarray(budgets, dtype=np.float64), (n,)).copy()
    if not (np.isfinite(b).all() and (b > 0).all()):
        raise ValueError(f"budgets must be finite and > 0, got {b}")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be finite and > 0, got {tol}")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
    w, span = normalize_rows(u)
    log_cap = np.log(lambda_cap(w, b))
    log_lam = np.zeros(n)
    history = np.empty((max_rounds, n))
    check, attempts, found, t = 50, 0, None, 0
    for t in range(1, max_rounds + 1):
        history[t - 1] = log_lam
        assignment, prices, _ = _market(w, np.exp(log_lam))
        log_lam = np.minimum(log_lam + eta / np.sqrt(t) * (b - prices[assignment]) / b, log_cap)
        if t in (check, max_rounds):
            check = int(check * 1.5)
            attempts += 1
            found = _attempt(u, w, np.exp(history[t // 2 : t].mean(axis=0)), b, tol)
            if found is not None:
                break
    cand = found if found is not None else _verify(u, w, np.exp(history[t // 2 : t].mean(axis=0)), b, tol)
    assert cand is not None  # exp() of finite logs: lambda > 0, and a tight edge set has a matching
    if found is not None:
        message = f"HZ equilibrium within tol {tol:g} after {t} rounds, {attempts} polish attempts"
    else:
        message = f"no verified equilibrium within tol {tol:g} after {t} rounds; returning the averaged lambda"
    scaled = cand.lam[:, None] * w
    opt = float(scaled[np.arange(n), optimal_assignment(scaled)].sum())
    gap = max(opt - float((scaled * cand.x).sum()), 0.0)
    return Theorem5Result(
        lam=cand.lam / span,
        prices=cand.prices,
        allocation=cand.x,
        spend=cand.hz.spend,
        hz=cand.hz,
        optimality_gap=gap,
        converged=found is not None,
        rounds=t,
        attempts=attempts,
        tol=float(tol),
        message=message,
    )
