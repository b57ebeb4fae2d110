"""Infinitesimal APEX: Braverman 2021 §2.2, Algorithm 2 (SPEC.md §B) — quadratic prices.

The outcome is Algorithm 1's, X_{t+1} = H(F_t, start = X_t); only the prices change.
Around the maximizer, F_t(X_{t+1} + x) = F_t(X_{t+1}) - x^T H_t x + o(|x|^2) (eq. 22),
and removing player i moves the optimum by about -lambda_i H_t^{-1} grad f_i / 2, so

    C_{i,t} = lambda_{i,t}^2 / 4 * grad f_i(X_{t+1})^T H_t^{-1} grad f_i(X_{t+1})     (eq. 23)

from ONE optimization and one factorization per round instead of n + 1 optimizations.

Note the factor: eq. (22) defines H_t by F(X + x) = F(X) - x^T H_t x, so H_t is HALF
the Hessian of -F_t (SPEC.md §B says "H_t PSD" without the factor; reading H_t as the
full Hessian of -F would halve every price and break agreement with Algorithm 1).

Restriction to the tangent space. When X is a manifold inside R^d — the simplex, whose
feasible moves satisfy sum_j x_j = 0, or the Birkhoff polytope — the problem supplies an
orthonormal basis Q (d x r) of the tangent space (`tangent_basis(x)`; identity if it has
none, i.e. X open in R^d). Writing x = Q y, the quadratic form becomes
y^T (Q^T H_t Q) y and the gradient Q^T grad f_i, so

    C_{i,t} = lambda_i^2 / 4 * (Q^T g_i)^T (Q^T H_t Q)^{-1} (Q^T g_i),   H_t = -Hess F_t / 2,

computed with one Cholesky factor of the r x r matrix Q^T H_t Q (positive definite when
X_{t+1} is a strict local maximum; otherwise a ValueError). Components of g_i normal to
the tangent space (e.g. adding a constant to u_i on the simplex) cost nothing, as they
should: they cannot move the outcome.

Problem hooks (on top of `ApexProblem`; Protocols in `mechanisms.apex.hooks`, tested with
`isinstance`): `QuadraticPriceProblem` — `gradients(x) -> (n, d)`, `neg_hessian(weights,
x) -> (d, d)` (Hessian of -F in ambient coordinates) — required; optional `TangentBasis`,
`QuadraticPriceBound` (sup of g^T H_t^{-1} g, for the budget cap) and, for exact
vectorized menus, `BatchedQuadraticMenu` (`menu_outcomes`, `agent_gradients` and a
batched `neg_hessian`, with `linear_utilities = True`) plus, optionally, `AgentUtilities`;
or `QuadraticMenu`, the menu's utilities and forms in closed form (one pass over the
alternatives, no Hessian formed: the simplex, `SimplexVoting.quadratic_menu`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mechanisms.apex.algorithm1 import Apex, ApexProblem
from mechanisms.apex.hooks import (
    AgentUtilities,
    BatchedQuadraticMenu,
    QuadraticMenu,
    QuadraticPriceBound,
    QuadraticPriceProblem,
    TangentBasis,
)
from mechanisms.base import Reports


def restricted_hessian(neg_hessian: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """H_t restricted to the tangent space: Q^T (-Hess F / 2) Q (batched over leading axes)."""
    q = np.asarray(basis, dtype=np.float64)
    return 0.5 * np.swapaxes(q, -1, -2) @ np.asarray(neg_hessian, dtype=np.float64) @ q


def quadratic_forms(h: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """g^T h^{-1} g for every row g of grads (…, n, r), h (…, r, r) positive definite."""
    try:
        chol = np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        raise ValueError(
            "H_t restricted to the tangent space is not positive definite: X_{t+1} is not a strict "
            "local maximum of F_t, so Algorithm 2's quadratic prices are undefined"
        ) from None
    # L^{-1} g^T by a general solve: numpy's batched LAPACK call is far cheaper for these
    # small r x r systems than scipy's per-call triangular-solve overhead.
    y = np.linalg.solve(chol, np.swapaxes(np.asarray(grads), -1, -2))
    return (y**2).sum(axis=-2)


class InfinitesimalApex(Apex):
    """Braverman 2021 Algorithm 2 as a `Mechanism`: reports.bids are lambda_{i,t}; outcome as in
    Algorithm 1; charges are the quadratic prices of eq. (23). extras["quadratic_form"]
    holds g_i^T H_t^{-1} g_i, the per-player price of lambda^2 / 4 this round."""

    def __init__(self, problem: ApexProblem, *, name: str = "apex2") -> None:
        super().__init__(problem, name=name)
        if not isinstance(problem, QuadraticPriceProblem):
            raise ValueError(
                "problem needs ['gradients', 'neg_hessian'] for Algorithm 2 (gradients and the Hessian of -F)"
            )
        self.quadratic: QuadraticPriceProblem = problem
        self._quadratic_menu = problem if isinstance(problem, QuadraticMenu) else None

    def _basis(self, x: Any, d: int) -> np.ndarray:
        p = self.problem
        return np.asarray(p.tangent_basis(x), dtype=np.float64) if isinstance(p, TangentBasis) else np.eye(d)

    def forms(self, weights: np.ndarray, x: Any) -> np.ndarray:
        """(n,) grad f_i(x)^T H_t^{-1} grad f_i(x) with H_t = -Hess F / 2 on the tangent space."""
        g = np.asarray(self.quadratic.gradients(x), dtype=np.float64).reshape(self.n, -1)
        basis = self._basis(x, g.shape[1])
        h = restricted_hessian(self.quadratic.neg_hessian(weights, x), basis)
        return quadratic_forms(h, g @ basis)

    def _charges(self, lam: np.ndarray, start: Any, x_next: Any) -> tuple[np.ndarray, np.ndarray, dict]:
        q = self.forms(lam, x_next)
        # No re-optimization: F^{-i}(X^{-i}) is never computed (NaN keeps Apex's menu path away).
        return lam**2 / 4.0 * q, np.full(self.n, np.nan), {"quadratic_form": q}

    def _clamp(self, charges: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """Quadratic prices are >= 0 by construction (H_t positive definite) and are NOT
        bounded by lambda_i * span as exact VCG charges are (Algorithm 1's clamp would
        silently alter eq. (23) for large bids), so nothing is projected."""
        return np.maximum(np.asarray(charges, dtype=np.float64), 0.0)

    def enforce_budget(self, bids: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        """Cap lambda_i at sqrt(4 remaining_i / bound) so lambda^2 / 4 * q_i <= remaining_i
        whatever the outcome, with bound = the problem's `quadratic_price_bound` >= q_i
        (no cap if the problem gives no bound)."""
        bids = np.asarray(bids, dtype=np.float64)
        if not isinstance(self.problem, QuadraticPriceBound):
            return bids
        bound = self.problem.quadratic_price_bound
        cap = np.sqrt(4.0 * np.maximum(np.asarray(remaining, dtype=np.float64), 0.0) / max(float(bound), 1e-300))
        return np.minimum(bids, cap)

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """What agents[r] would get and pay bidding alternatives[r, k], others fixed: the
        outcome X~ = H(F^{-i} + a f_i, start = X_t) and the quadratic price a^2 / 4 *
        g_i(X~)^T H~^{-1} g_i(X~) at that outcome (Algorithm 2 run with the other bid).
        Vectorized when the problem has the batched hooks, else one solve per entry."""
        st = self._round_for(reports, state)
        alts, agents = self._menu_inputs(alternatives, agents)
        p = self.problem
        lam, start = st.lam, st.start
        if self._quadratic_menu is not None:
            util, q = self._quadratic_menu.quadratic_menu(lam, agents, alts, start)
            return np.asarray(util, dtype=np.float64), alts**2 / 4.0 * np.asarray(q, dtype=np.float64)
        if isinstance(p, BatchedQuadraticMenu) and p.linear_utilities:
            x = p.menu_outcomes(lam, agents, alts, start)  # (m, K, ...)
            g = np.asarray(p.agent_gradients(agents, x), dtype=np.float64)  # (m, K, d)
            basis = self._basis(x, g.shape[-1])
            h = restricted_hessian(self.quadratic.neg_hessian(lam, x), basis)  # (m, K, r, r)
            q = quadratic_forms(h, (g @ basis)[..., None, :])[..., 0]
            if isinstance(p, AgentUtilities):
                util = np.asarray(p.agent_utilities(agents, x), dtype=np.float64)
            else:
                util = np.stack([np.asarray(p.utilities(x[r]))[:, i] for r, i in enumerate(agents)])
            return util, alts**2 / 4.0 * q
        m, k = alts.shape
        u, c = np.empty((m, k)), np.empty((m, k))
        for r, i in enumerate(agents):
            w = lam.copy()
            for j in range(k):
                w[i] = alts[r, j]
                x = p.argmax(w, start)
                u[r, j] = np.asarray(p.utilities(x))[i]
                c[r, j] = w[i] ** 2 / 4.0 * self.forms(w, x)[i]
        return u, c
