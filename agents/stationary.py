"""Stationary distributions p = p Q of many small Markov chains at once (the Blum–Mansour
fixed point of Braverman 2021 §1.1, eq. 2, played by `agents/swap.py`).

The solver is the Grassmann–Taksar–Heyman algorithm (GTH; Grassmann, Taksar & Heyman,
Operations Research 33(5), 1985): Gaussian elimination of states K-1, ..., 1 in which
each pivot is the sum of the off-diagonal weights to the states still left, never
1 - Q_kk, so there are no subtractions and every irreducible chain is solved to working
precision however close it is to reducible. It takes rows of unnormalized weights W_j
(row j of Q is W_j / t_j, t_j = sum_a W_ja), normalized as a tile is loaded.

Layout: chains come in tiles of `TILE` chains, W as (n_tiles, K_a, K_j, TILE): the
innermost index runs over chains, so each elementary step of the elimination is one SIMD
loop over a tile, and a tile (K^2 TILE doubles) stays in cache. One compiled kernel
(numba) does a whole tile: a batched `np.linalg.solve` costs about 1.3 us per 11x11 chain
in call and copy overhead, the kernel about 0.15 us.
"""

from __future__ import annotations

from typing import Literal, TypedDict

import numpy as np
from numpy.typing import NDArray

from agents.jit import lazy_njit

#: The kernels' array arguments: float64 arrays and boolean masks.
F64Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
I64Array = NDArray[np.int64]

#: Chains per tile: 64 doubles per row keep a K=11 tile's 121 rows (62 KB) in L2.
TILE = 64

#: Residual ||pQ - p||_inf (and negativity) above which a row is re-solved by least squares.
STATIONARY_TOL = 1e-9


class KernelOptions(TypedDict):
    """The `numba.njit` options of the kernels here and in `agents/swap.py`."""

    nogil: bool
    cache: bool
    error_model: Literal["python", "numpy"]
    fastmath: set[str]


# No fastmath "nnan"/"ninf": the non-finite test below is how reducible chains are caught.
KERNEL_OPTIONS: KernelOptions = {"nogil": True, "cache": True, "error_model": "numpy", "fastmath": {"contract", "arcp"}}


@lazy_njit(**KERNEL_OPTIONS)
def gth_block(  # pragma: no cover - compiled
    Q: F64Array, s: F64Array, x: F64Array, p: F64Array, bad: BoolArray, i0: int, L: int
) -> None:
    """GTH on one tile, in place: Q (K_j, K_a, TILE) row-stochastic chains, one per lane;
    s (TILE,) and x (K, TILE) scratch. Writes the first L lanes' distributions to
    p[:, i0 : i0 + L] and bad[i0 : i0 + L] (True: a zero pivot, i.e. a reducible chain)."""
    K, _, B = Q.shape
    for k in range(K - 1, 0, -1):
        s[:] = 0.0
        for c in range(k):
            qk = Q[k, c]
            for l in range(B):
                s[l] += qk[l]
        for l in range(B):
            s[l] = 1.0 / s[l]
        for r in range(k):
            qr = Q[r, k]
            for l in range(B):
                qr[l] *= s[l]
        for r in range(k):
            f = Q[r, k]
            for c in range(k):
                dst = Q[r, c]
                src = Q[k, c]
                for l in range(B):
                    dst[l] += f[l] * src[l]
    x[0, :] = 1.0
    s[:] = 1.0
    for k in range(1, K):
        xk = x[k]
        xk[:] = 0.0
        for r in range(k):
            xr = x[r]
            q = Q[r, k]
            for l in range(B):
                xk[l] += xr[l] * q[l]
        for l in range(B):
            s[l] += xk[l]
    for l in range(L):
        bad[i0 + l] = not (s[l] < np.inf)
        s[l] = 1.0 / s[l]
    for k in range(K):
        xk = x[k]
        pk = p[k, i0 : i0 + L]
        for l in range(L):
            pk[l] = xk[l] * s[l]


@lazy_njit(**KERNEL_OPTIONS)
def load_rows(W: F64Array, b: int, j: int, q: F64Array, t: F64Array) -> None:  # pragma: no cover - compiled
    """q = W[b, :, j] / sum_a W[b, a, j] lane by lane: row j of every chain in tile b,
    normalized into q (K_a, TILE); t (TILE,) scratch. (Rows are indexed one action at a
    time: W[b, a, j] is contiguous, so the lane loops vectorize; W[b, :, j] is not.)"""
    K, B = q.shape
    t[:] = 0.0
    for a in range(K):
        wa = W[b, a, j]
        for l in range(B):
            t[l] += wa[l]
    for l in range(B):
        t[l] = 1.0 / t[l]
    for a in range(K):
        wa = W[b, a, j]
        qa = q[a]
        for l in range(B):
            qa[l] = wa[l] * t[l]


@lazy_njit(**KERNEL_OPTIONS)
def gth_tiles(W: F64Array, p: F64Array, bad: BoolArray) -> None:  # pragma: no cover - compiled
    """GTH stationary distributions of tiled weights W (n_tiles, K_a, K_j, TILE), row j of
    each chain being W[:, :, j] (any positive scale). Writes p (K, n) and bad (n,)."""
    n_tiles, K, _, B = W.shape
    n = p.shape[1]
    Q = np.empty((K, K, B))
    s = np.empty(B)
    x = np.empty((K, B))
    for b in range(n_tiles):
        for j in range(K):
            load_rows(W, b, j, Q[j], s)
        gth_block(Q, s, x, p, bad, b * B, min(B, n - b * B))


def n_tiles(n: int) -> int:
    return -(-n // TILE)


def to_tiles(Q: np.ndarray) -> np.ndarray:
    """(n, K_j, K_a) rows of weights -> tiled (n_tiles, K_a, K_j, TILE), padded with
    uniform chains (solvable, and ignored)."""
    n, k, _ = Q.shape
    padded = np.ones((n_tiles(n) * TILE, k, k))
    padded[:n] = Q
    return np.ascontiguousarray(padded.reshape(-1, TILE, k, k).transpose(0, 3, 2, 1))


def stationary_distribution(Q: np.ndarray) -> np.ndarray:
    """Stationary distributions p = p Q of a stack of row-stochastic matrices Q (n, K, K).

    GTH (exact in one pass, where power iteration may not converge: periodic chains, e.g.
    permutation matrices). Rows where GTH hit a zero pivot or misses the residual
    tolerance (reducible chains: several closed classes, e.g. Q = I) fall back to the
    minimum-norm least-squares solution of [Q^T - I; 1^T] p = e_{K+1}, which is still
    stationary and, the closed classes having disjoint supports, non-negative.
    """
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim == 2:
        return stationary_distribution(Q[None])[0]
    if Q.ndim != 3 or Q.shape[1] != Q.shape[2]:
        raise ValueError(f"Q must be (n, K, K), got shape {Q.shape}")
    n, k, _ = Q.shape
    pt = np.empty((k, n))
    bad = np.empty(n, dtype=np.bool_)
    gth_tiles(to_tiles(Q), pt, bad)
    p = pt.T.copy()
    bad |= _inaccurate(p, Q)
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
