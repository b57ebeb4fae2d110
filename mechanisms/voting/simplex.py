"""Numerics on the probability simplex Delta_k shared by the voting mechanisms
(Braverman 2021 §3.1, Problem 16): stable softmax, entropy, the tangent-space basis, and
mirror ascent for an entropy-regularized concave objective.

The entropy regularizer R(p) = eta * H(p), H(p) = -sum_j p_j log p_j, goes to a finite
value on the boundary but its gradient diverges there, so every maximizer of a linear
function plus R is interior (the condition of Braverman 2021 §2.2 for Algorithm 2).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

#: Probabilities are floored here before taking logs (0 log 0 = 0 by continuity).
LOG_FLOOR = 1e-300


def softmax(scores: np.ndarray, eta: float) -> np.ndarray:
    """argmax_p s.p + eta H(p) over Delta_k, along the last axis: p_j ∝ exp(s_j / eta)."""
    z = np.asarray(scores, dtype=np.float64) / eta
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def log_sum_exp(scores: np.ndarray, eta: float) -> np.ndarray:
    """max_p s.p + eta H(p) = eta * log sum_j exp(s_j / eta), along the last axis."""
    z = np.asarray(scores, dtype=np.float64) / eta
    top = z.max(axis=-1)
    return eta * (top + np.log(np.exp(z - top[..., None]).sum(axis=-1)))


def entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy H(p) = -sum_j p_j log p_j along the last axis (0 log 0 = 0)."""
    p = np.asarray(p, dtype=np.float64)
    return -(p * np.log(np.maximum(p, LOG_FLOOR))).sum(axis=-1)


@functools.lru_cache(maxsize=64)
def _tangent_basis(k: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.column_stack([np.ones(k), np.eye(k)[:, : k - 1]]))
    basis = q[:, 1:]
    basis.setflags(write=False)
    return basis


def tangent_basis(k: int) -> np.ndarray:
    """(k, k-1) orthonormal basis Q of the simplex's tangent space {x : sum_j x_j = 0}.

    Built from the orthogonal complement of the all-ones vector via a QR factorization
    of [1 | I]; the first column of the Q factor spans 1 and is dropped, so Q^T 1 = 0
    and Q^T Q = I. Restricting a quadratic form A to the tangent space means Q^T A Q."""
    if k < 2:
        raise ValueError(f"k must be >= 2 for a simplex tangent space, got {k}")
    return _tangent_basis(int(k))


def check_lottery(name: str, p: np.ndarray, k: int) -> np.ndarray:
    """Validate a lottery over k alternatives (non-negative, sums to 1)."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.shape != (k,):
        raise ValueError(f"{name} must have shape ({k},), got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < -1e-12).any() or abs(arr.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name} must be a probability vector (>= 0, sum 1), got {arr}")
    return arr


#: Smallest normal float64: the floor of a probability inside a logarithm.
_TINY = float(np.finfo(np.float64).tiny)


def mirror_ascent(
    linear: np.ndarray,
    grad_f0: Callable[[np.ndarray], np.ndarray],
    eta: float,
    smoothness: float,
    start: np.ndarray,
    *,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> np.ndarray:
    """argmax_p  linear.p + f0(p) + eta H(p) over Delta_k for concave f0, from `start`.

    Exponentiated-gradient (mirror) ascent with the entropy mirror map. The objective is
    eta-strongly concave and (L + eta)-smooth relative to negative entropy when f0 is
    L-smooth in the l1 -> l_inf sense (`smoothness`), so the step 1 / (L + eta) converges
    linearly at rate L / (L + eta). One step in closed form:
        p <- p^(1 - tau) * exp(tau * (linear + grad f0(p)) / eta),  tau = eta / (L + eta),
    which is the plain softmax fixed point when L = 0. `linear` may be (..., k) to solve
    a batch of problems at once."""
    tau = eta / (smoothness + eta)
    lin = np.asarray(linear, dtype=np.float64)
    p = np.broadcast_to(np.maximum(np.asarray(start, dtype=np.float64), 1e-300), lin.shape).copy()
    p /= p.sum(axis=-1, keepdims=True)
    for _ in range(max_iter):
        logits = tau * (lin + grad_f0(p)) / eta
        if tau < 1.0:
            # The floor keeps an underflowed coordinate (p_j = 0) at a finite logit: log(0)
            # would pin it at 0 forever. At tau = 1 (f0 with L = 0, e.g. gamma = 0) the
            # term is absent, not 0 * log(0) = NaN.
            logits += (1.0 - tau) * np.log(np.maximum(p, _TINY))
        new = softmax(logits, 1.0)
        if np.abs(new - p).max() <= tol:
            return new
        p = new
    return p
