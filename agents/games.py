"""Regret and equilibrium gaps for finite games, and repeated play of a bimatrix game.

Braverman 2021 §1.1 (weak regret eq. 1, swap regret eq. 2) and §1.3 (no-regret dynamics and
correlated equilibria): if every player's external regret is at most eps T, the
empirical joint distribution of play is an eps-coarse correlated equilibrium; swap regret
at most eps T gives an eps-correlated equilibrium (Foster & Vohra 1997; Hart & Mas-Colell 2000).

Conventions: payoffs are gains (higher is better); a joint distribution `pi` over a
bimatrix game is (K1, K2) with pi[a, b] = P(row plays a, column plays b); A[a, b] is the
row player's payoff, B[a, b] the column player's.
"""

from __future__ import annotations

import numpy as np

from agents.experts import GridPolicy, sample_categorical


def _check_game(pi: np.ndarray, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pi = np.asarray(pi, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or A.shape != B.shape:
        raise ValueError(f"A and B must be (K1, K2) of one shape, got {A.shape} and {B.shape}")
    if pi.shape[-2:] != A.shape:
        raise ValueError(f"pi must end in shape {A.shape}, got {pi.shape}")
    if (pi < -1e-12).any() or not np.allclose(pi.sum(axis=(-2, -1)), 1.0, atol=1e-9):
        raise ValueError("pi must be a probability distribution over action profiles")
    return pi, A, B


def deviation_gains(pi: np.ndarray, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """D_row[..., a, a'] = sum_b pi[a, b] (A[a', b] - A[a, b]): the row player's expected gain
    from playing a' whenever told a; D_col[..., b, b'] likewise for the column player."""
    pi, A, B = _check_game(pi, A, B)
    # sum_b pi[a,b] A[a',b] - (sum_b pi[a,b] A[a,b]) for every (a, a').
    row = pi @ A.T - (pi * A).sum(axis=-1)[..., :, None]
    col = np.swapaxes(pi, -1, -2) @ B - (pi * B).sum(axis=-2)[..., :, None]
    return row, col


def ce_gap(pi: np.ndarray, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Largest expected gain any player gets from the best swap function sigma (replace
    each recommended action a by sigma(a)): max over players of sum_a max_a' D[a, a'].
    0 iff pi is a correlated equilibrium; the swap-regret form (Braverman 2021 eq. 2) of the
    eps in "eps-correlated equilibrium", at least the largest single (a -> a') gain."""
    row, col = deviation_gains(pi, A, B)
    return np.maximum(row.max(axis=-1).sum(axis=-1), col.max(axis=-1).sum(axis=-1))


def cce_gap(pi: np.ndarray, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Largest expected gain any player gets from a fixed deviation (ignore the
    recommendation, always play a'): max over players and a' of sum_a D[a, a'], floored
    at 0. 0 iff pi is a coarse correlated equilibrium (external regret, Braverman 2021 eq. 1)."""
    row, col = deviation_gains(pi, A, B)
    r = row.sum(axis=-2).max(axis=-1)
    c = col.sum(axis=-2).max(axis=-1)
    return np.maximum(np.maximum(r, c), 0.0)


def external_regret(probs: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """max_k sum_t g_t(k) - sum_t <p_t, g_t>; probs, gains (T, ..., K) -> (...)."""
    probs = np.asarray(probs, dtype=np.float64)
    gains = np.asarray(gains, dtype=np.float64)
    return gains.sum(axis=0).max(axis=-1) - (probs * gains).sum(axis=(0, -1))


def swap_regret(probs: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """max_sigma sum_t sum_a p_t(a) (g_t(sigma(a)) - g_t(a)) (Braverman 2021 eq. 2, for the played
    distributions); probs, gains (T, ..., K) -> (...)."""
    probs = np.asarray(probs, dtype=np.float64)
    gains = np.asarray(gains, dtype=np.float64)
    # M[..., a, a'] = sum_t p_t(a) g_t(a')
    M = np.einsum("t...a,t...b->...ab", probs, gains)
    own = np.diagonal(M, axis1=-2, axis2=-1)
    return (M.max(axis=-1) - own).sum(axis=-1)


def play_bimatrix(
    row: GridPolicy,
    col: GridPolicy,
    A: np.ndarray,
    B: np.ndarray,
    rounds: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Repeated play of the bimatrix game (A, B) between two cohorts of n policies (pair r
    of the cohorts is one independent repetition). Each round both sample an action;
    full-information policies get the gain of every own action against the opponent's
    realized action, bandit policies only their own realized gain. Payoffs must be in
    [0, 1]. Returns the empirical joint distributions of realized play, (n, K1, K2)."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.min() < 0 or A.max() > 1 or B.min() < 0 or B.max() > 1:
        raise ValueError("payoffs must lie in [0, 1]")
    n, (k1, k2) = row.n, A.shape
    if col.n != n or row.k != k1 or col.k != k2:
        raise ValueError(f"cohorts must be n={n} x ({k1}, {k2}) actions, got {col.n}, {row.k}, {col.k}")
    counts = np.zeros((n, k1 * k2))
    idx = np.arange(n)
    for _ in range(rounds):
        p, q = row.probs(), col.probs()
        a, b = sample_categorical(p, rng), sample_categorical(q, rng)
        np.add.at(counts, (idx, a * k2 + b), 1.0)
        for policy, full, own, prob, gain in (
            (row, A[:, b].T, a, p, A[a, b]),
            (col, B[a, :], b, q, B[a, b]),
        ):
            if policy.full_information:
                policy.update(full)
            else:
                policy.update_bandit(own, gain, prob[idx, own])
    return counts.reshape(n, k1, k2) / rounds
