"""Swap-regret learners: the Blum–Mansour reduction from external to swap regret.

Seed 002 §1.1 ("Swap regret minimization", eq. 2): swap regret compares the realized
loss with the best per-action replacement sigma: A -> A; low swap regret for every player
means the empirical joint play is an approximate correlated equilibrium (seed 002 §1.3).
Blum & Mansour (JMLR 2007): run K copies of an external-regret learner, copy j proposing
the row q_j of a row-stochastic matrix Q; play the stationary distribution p = p Q; feed
copy j the gain vector scaled by p_j. Then swap regret <= sum_j regret_j.
"""

from __future__ import annotations

import numpy as np
from pydantic import field_validator

from agents.experts import BASE_POLICIES, Factory, GridLearner, GridParams, GridPolicy, policy_factory

#: Residual ||pQ - p||_inf (and negativity) above which a direct solve is redone by least squares.
STATIONARY_TOL = 1e-9


def stationary_distribution(Q: np.ndarray) -> np.ndarray:
    """Stationary distributions p = p Q of a stack of row-stochastic matrices Q (n, K, K).

    Solves (Q^T - I) p = 0 with one (redundant) equation replaced by sum(p) = 1: one batched
    LU solve, exact in one step where power iteration may not converge (periodic chains,
    e.g. permutation matrices). Rows where that system is singular or inaccurate (reducible
    chains: several closed classes, e.g. Q = I) fall back to the minimum-norm least-squares
    solution of the augmented system [Q^T - I; 1^T] p = e_{K+1}, which is still stationary
    and, the closed classes having disjoint supports, non-negative.
    """
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim == 2:
        return stationary_distribution(Q[None])[0]
    n, k, k2 = Q.shape
    if k != k2:
        raise ValueError(f"Q must be (n, K, K), got shape {Q.shape}")
    A = np.swapaxes(Q, 1, 2) - np.eye(k)
    A[:, -1, :] = 1.0
    rhs = np.zeros((n, k, 1))
    rhs[:, -1, 0] = 1.0
    try:
        p = np.linalg.solve(A, rhs)[..., 0]
        bad = _inaccurate(p, Q)
    except np.linalg.LinAlgError:
        p = np.full((n, k), 1.0 / k)
        bad = np.ones(n, dtype=bool)
    if bad.any():
        aug = np.concatenate([np.swapaxes(Q[bad], 1, 2) - np.eye(k), np.ones((int(bad.sum()), 1, k))], axis=1)
        e = np.zeros(k + 1)
        e[-1] = 1.0
        p[bad] = np.linalg.pinv(aug) @ e
    p = np.clip(p, 0.0, None)
    return p / p.sum(axis=1, keepdims=True)


def _inaccurate(p: np.ndarray, Q: np.ndarray) -> np.ndarray:
    finite = np.isfinite(p).all(axis=1)
    resid = np.abs(np.einsum("nk,nkj->nj", np.where(finite[:, None], p, 0.0), Q) - p).max(axis=1)
    return ~finite | ~(resid <= STATIONARY_TOL) | (p < -STATIONARY_TOL).any(axis=1)


class SwapPolicy(GridPolicy):
    """Blum–Mansour swap-regret policy over K actions built from any base `Factory`.

    Guarantee (Blum & Mansour 2007, Thm 5): swap regret <= sum_j R_j, where R_j is copy j's
    external regret on the gains p_j * g; with Hedge copies (eta = sqrt(8 ln K / T)) this
    is <= (K + 1) sqrt(T ln K / 8) for any adaptive gain sequence in [0, 1]^K.
    `update*` use the distribution of the latest `probs()` call (the one played).
    """

    def __init__(self, n: int, k: int, horizon: int, rng: np.random.Generator, base: Factory) -> None:
        super().__init__(n, k, horizon, rng)
        self.copies = base(n * k, k, horizon, rng)
        self.full_information = self.copies.full_information
        self.p = np.full((n, k), 1.0 / k)
        self._buf: np.ndarray | None = None

    def matrix(self) -> np.ndarray:
        """Q (n, K, K): row j is copy j's proposed distribution."""
        return self.copies.probs().reshape(self.n, self.k, self.k)

    def probs(self) -> np.ndarray:
        self.p = stationary_distribution(self.matrix())
        return self.p

    def update_t(self, gains_t: np.ndarray) -> None:
        # Copy (i, j) — row i*K + j of `copies` — gets p[i, j] * g[i, :]; built action-major
        # (K, n, K) so the copies add it without a transpose.
        if self._buf is None:
            self._buf = np.empty((self.k, self.n, self.k))
        np.multiply(gains_t[:, :, None], self.p[None, :, :], out=self._buf)
        self.copies.update_t(self._buf.reshape(self.k, self.n * self.k))

    def update_bandit(self, actions, gains, played_prob, weight=None) -> None:
        # Copy j sees the importance-weighted estimate of the gain vector, scaled by p_j.
        w = self.p if weight is None else self.p * weight[:, None]
        k = self.k
        self.copies.update_bandit(
            np.repeat(actions, k), np.repeat(gains, k), np.repeat(played_prob, k), w.reshape(-1)
        )


def swap_factory(base: Factory) -> Factory:
    """A `Factory` of Blum–Mansour policies over `base` (so swap learners compose too)."""

    def build(n: int, k: int, horizon: int, rng: np.random.Generator) -> GridPolicy:
        return SwapPolicy(n, k, horizon, rng, base)

    return build


class SwapParams(GridParams):
    """base: the external-regret learner each of the K copies runs ("hedge": full
    feedback; "exp3": bandit feedback)."""

    base: str = "hedge"

    @field_validator("base")
    @classmethod
    def _known_base(cls, v: str) -> str:
        if v not in BASE_POLICIES:
            raise ValueError(f"unknown base learner {v!r}; available: {', '.join(sorted(BASE_POLICIES))}")
        return v


class BlumMansourSwap(GridLearner):
    """Blum–Mansour swap-regret learner over the report grid (seed 002 §1.1, eq. 2; [BM07]).

    Feedback: that of the base learner (full for Hedge copies, bandit for Exp3 copies).
    Guarantee: swap regret <= sum of the copies' external regrets; O(K sqrt(T log K))
    with Hedge copies, so two such players' empirical joint play converges to the set of
    correlated equilibria (seed 002 §1.3). Python callers may pass any `factory`
    (e.g. `Hedge.factory(eta=...)`); TOML configs name the base with `base`.
    """

    Params = SwapParams
    feedback = "full"  # with the default Hedge copies; per instance it follows the base

    def __init__(self, n_agents, budgets, horizon, rng, params=None, *, factory: Factory | None = None) -> None:
        self._factory = factory
        super().__init__(n_agents, budgets, horizon, rng, params)

    def make_policy(self) -> GridPolicy:
        base = self._factory or policy_factory(self.params.base, eta=self.params.eta)
        return SwapPolicy(self.n_agents, self.n_actions, self.horizon, self.rng, base)
