"""GTH stationary distributions (agents/stationary.py) against an independent solver, on
tiles of every fill, and on nearly reducible chains where a subtraction-based solve loses
digits."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.stationary import TILE, gth_tiles, stationary_distribution, to_tiles


def null_space_reference(Q: np.ndarray) -> np.ndarray:
    """The left singular vector of Q - I for its smallest singular value (scipy's SVD),
    normalized: the independent check."""
    v = scipy.linalg.svd(Q.T - np.eye(Q.shape[0]))[2][-1]
    return v / v.sum()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 12), st.sampled_from([1, TILE - 1, TILE, TILE + 1, 2 * TILE + 3]))
def test_gth_matches_svd_null_space_on_positive_chains(seed, k, n):
    rng = np.random.default_rng(seed)
    W = rng.random((n, k, k)) ** 3 + 1e-9  # unnormalized positive rows, a wide spread of scales
    Q = W / W.sum(axis=2, keepdims=True)
    p = np.empty((k, n))
    bad = np.ones(n, dtype=bool)
    gth_tiles(to_tiles(W), p, bad)
    assert not bad.any()
    ref = np.array([null_space_reference(q) for q in Q])
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
