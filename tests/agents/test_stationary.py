"""GTH stationary distributions (agents/stationary.py) against exact rational solves, on
tiles of every fill, and on nearly reducible chains where a subtraction-based solve loses
digits."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.stationary import TILE, gth_tiles, stationary_distribution, to_tiles


def exact_stationary(Q: np.ndarray) -> np.ndarray:
    """The independent check: the balance equations sum_{i != j} p_i Q_ij = p_j sum_{k != j} Q_jk
    and sum p = 1, solved by Gauss-Jordan elimination in exact rational arithmetic (every
    float is a rational), rounded once at the end. The chain is given by its off-diagonal
    entries: a float row sums to 1 only up to rounding, so Q_jj - 1 is not -sum_{k != j} Q_jk.
    (An SVD null vector of Q^T - I is off by ~1e-12 on nearly reducible chains.)"""
    k = Q.shape[0]
    R = [[Fraction(x) for x in row] for row in Q]
    out = [sum(R[j][m] for m in range(k) if m != j) for j in range(k)]
    A = [[-out[j] if i == j else R[i][j] for i in range(k)] for j in range(k - 1)] + [[Fraction(1)] * k]
    b = [Fraction(0)] * (k - 1) + [Fraction(1)]
    for c in range(k):
        r = next(r for r in range(c, k) if A[r][c] != 0)
        A[c], A[r], b[c], b[r] = A[r], A[c], b[r], b[c]
        for r in range(k):
            if r != c and A[r][c] != 0:
                f = A[r][c] / A[c][c]
                A[r] = [x - f * y for x, y in zip(A[r], A[c], strict=True)]
                b[r] -= f * b[c]
    return np.array([float(b[i] / A[i][i]) for i in range(k)])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 12), st.sampled_from([1, TILE - 1, TILE, TILE + 1, 2 * TILE + 3]))
def test_gth_matches_exact_rational_solve_on_positive_chains(seed, k, n):
    rng = np.random.default_rng(seed)
    W = rng.random((n, k, k)) ** 3 + 1e-9  # unnormalized positive rows, a wide spread of scales
    Q = W / W.sum(axis=2, keepdims=True)
    p = np.empty((k, n))
    bad = np.ones(n, dtype=bool)
    gth_tiles(to_tiles(W), p, bad)
    assert not bad.any()
    ref = np.array([exact_stationary(q) for q in Q])
    assert np.abs(p.T - ref).max() < 1e-12


def test_gth_keeps_digits_where_one_minus_q_kk_cancels():
    """Q = [[1-a, a], [b, 1-b]] with a = 1e-14, b = 3e-14: p = (b, a) / (a + b) = (0.75, 0.25)
    exactly. GTH pivots on the off-diagonal a, b; a solve of (Q^T - I) p = 0 works with
    1 - (1 - a), which in floating point is a only to about 1%."""
    a, b = 1e-14, 3e-14
    Q = np.array([[1.0 - a, a], [b, 1.0 - b]])
    assert stationary_distribution(Q) == pytest.approx([0.75, 0.25], rel=1e-12)
    A = Q.T - np.eye(2)
    A[-1] = 1.0
    assert abs(np.linalg.solve(A, [0.0, 1.0])[0] - 0.75) > 1e-6  # the cancellation is real


def test_gth_flags_reducible_chains_and_the_fallback_still_solves_them():
    Q = np.stack([np.eye(3), np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])])
    p = np.empty((3, 2))
    bad = np.zeros(2, dtype=bool)
    gth_tiles(to_tiles(Q), p, bad)
    assert bad.all()  # two closed classes each: a zero pivot
    out = stationary_distribution(Q)
    assert np.allclose(out.sum(axis=1), 1.0) and np.all(out >= 0)
    assert np.abs(np.einsum("nk,nkj->nj", out, Q) - out).max() < 1e-12


def test_stationary_distribution_rejects_non_square_stacks():
    with pytest.raises(ValueError, match="Q must be"):
        stationary_distribution(np.ones((2, 3, 4)))
