"""Entropy-regularized assignment on the Birkhoff polytope (the APEX heuristic for
two-sided matching, Braverman 2021 §3.3).

max_X <S, X> + eta H(X) over doubly stochastic X, H(X) = -sum X log X, has the unique
solution X_hd = exp((S_hd + a_h + b_d) / eta) for dual potentials a, b, found by
Sinkhorn's alternating row/column scaling. Here in the log domain (stable for small eta)
and batched over leading axes, so the n problems "without player i" of Algorithm 1 are
one call.
"""

from __future__ import annotations

import numpy as np

#: Target: every row and column sum within this of 1.
MARGINAL_TOL = 1e-10
#: Accepted when the target is out of reach of float64 (potentials of size |S| / eta
#: carry absolute round-off ~ |S| / eta * 1e-16 into log X); worse raises RuntimeError.
MARGINAL_ACCEPT = 1e-8


def _lse(z: np.ndarray, axis: int) -> np.ndarray:
    top = z.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return (top + np.log(np.exp(z - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def sinkhorn(
    scores: np.ndarray, eta: float, *, tol: float = MARGINAL_TOL, stage_sweeps: int = 10, max_newton: int = 100
) -> np.ndarray:
    """argmax_X <S, X> + eta H(X) over doubly stochastic m x m matrices, batched over the
    leading axes of `scores` (..., m, m).

    Log-domain Sinkhorn with epsilon-scaling (Schmitzer 2019): the regularization runs
    from half the score range down to eta by factors of 4, `stage_sweeps` sweeps each,
    warm-starting the potentials (kept in score units, f = eta a) — plain Sinkhorn's rate
    degrades like exp(-range / eta), which menus with large bids hit. Then Newton on the
    marginal equations polishes the problems not yet within `tol` (quadratic
    convergence from the warm start). Raises RuntimeError above MARGINAL_ACCEPT."""
    if not (np.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be finite and > 0, got {eta}")
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim < 2 or s.shape[-1] != s.shape[-2]:
        raise ValueError(f"scores must be square (..., m, m), got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    batch, m = s.shape[:-2], s.shape[-1]
    s = s.reshape(-1, m, m)
    spread = s.max(axis=(-2, -1)) - s.min(axis=(-2, -1))
    # Per-problem schedule: eps_j = max(eta, spread_j / 2 / 4^stage) (in score units).
    stages = int(np.ceil(np.log(max(float(spread.max(initial=0.0)) / (2.0 * eta), 1.0)) / np.log(4.0)))
    f = np.zeros(s.shape[:-1])
    g = np.zeros(s.shape[:-1])
    for stage in range(stages + 1):
        eps = np.maximum(eta, spread / 2.0 / 4.0**stage)[:, None]
        f, g = _stage(s, eps, f, g, stage_sweeps)
    k, a, b = s / eta, f / eta, g / eta
    err = _row_error(k, a, b)
    todo = np.flatnonzero(err > tol)
    if todo.size:
        a[todo], b[todo], err[todo] = _newton(k[todo], a[todo], b[todo], tol, max_newton)
    if err.max(initial=0.0) > MARGINAL_ACCEPT:
        raise RuntimeError(
            f"sinkhorn did not converge: marginal error {err.max():.3g} (eta={eta}, score range {spread:.3g})"
        )
    x = np.exp(k + a[:, :, None] + b[:, None, :])
    return x.reshape(*batch, m, m)


def _stage(s: np.ndarray, eps: np.ndarray, f: np.ndarray, g: np.ndarray, sweeps: int) -> tuple[np.ndarray, np.ndarray]:
    """`sweeps` Sinkhorn sweeps at regularization eps (B, 1), potentials f, g in score
    units. Stabilized scaling (Schmitzer 2019): the kernel exp((S + f + g) / eps) has its
    largest entries near 1 once f, g are close to optimal, so the sweeps run as cheap
    matrix-vector scalings u, v and are absorbed into f, g at the end; a stage whose
    scalings leave (0, inf) is redone in the log domain."""
    e3 = eps[:, :, None]
    kernel = np.exp((s + f[:, :, None] + g[:, None, :]) / e3)
    u = np.ones(f.shape)
    v = np.ones(g.shape)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for _ in range(sweeps):
            u = 1.0 / (kernel @ v[:, :, None])[:, :, 0]
            v = 1.0 / (u[:, None, :] @ kernel)[:, 0, :]
        fu, gv = f + eps * np.log(u), g + eps * np.log(v)
    ok = np.isfinite(fu).all(axis=-1) & np.isfinite(gv).all(axis=-1)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        k, a, b = s[bad] / e3[bad], f[bad] / eps[bad], g[bad] / eps[bad]
        for _ in range(sweeps):
            a = -_lse(k + b[:, None, :], axis=-1)
            b = -_lse(k + a[:, :, None], axis=-2)
        fu[bad], gv[bad] = a * eps[bad], b * eps[bad]
    return fu, gv


def _row_error(k: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = np.exp(k + a[:, :, None] + b[:, None, :])
    return np.maximum(np.abs(x.sum(axis=-1) - 1.0).max(axis=-1), np.abs(x.sum(axis=-2) - 1.0).max(axis=-1))


def _newton(
    k: np.ndarray, a: np.ndarray, b: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton's method on the marginal equations r(a, b) = 1, c(a, b) = 1 for a batch
    (B, m, m), X = exp(k + a + b). The Jacobian [[diag(r), X], [X^T, diag(c)]] is the
    Hessian of the convex dual sum X - sum a - sum b; it is singular along (a + t, b - t),
    so the last column potential is held fixed (its step is 0), and a tiny ridge guards
    against entries that underflowed. Steps are halved until the largest marginal error
    drops (a merit on the residual, not on the dual value, whose round-off at large
    potentials would hide the last digits of progress). Returns (a, b, marginal error);
    stops early when no step improves."""
    m = k.shape[-1]
    idx, jdx = np.arange(m), np.arange(m - 1)
    err = _row_error(k, a, b)
    for _ in range(max_iter):
        live = np.flatnonzero(err > tol)
        if live.size == 0:
            break
        kl, al, bl = k[live], a[live], b[live]
        x = np.exp(kl + al[:, :, None] + bl[:, None, :])
        r, c = x.sum(-1), x.sum(-2)
        hess = np.zeros((live.size, 2 * m - 1, 2 * m - 1))
        hess[:, idx, idx] = r
        hess[:, :m, m:] = x[:, :, : m - 1]
        hess[:, m:, :m] = np.swapaxes(x[:, :, : m - 1], -1, -2)
        hess[:, m + jdx, m + jdx] = c[:, : m - 1]
        hess += 1e-13 * np.eye(2 * m - 1)
        grad = np.concatenate([r - 1.0, c[:, : m - 1] - 1.0], axis=-1)
        step = -np.linalg.solve(hess, grad[..., None])[..., 0]
        da = step[:, :m]
        db = np.concatenate([step[:, m:], np.zeros((live.size, 1))], axis=-1)
        t = np.ones(live.size)
        cur = err[live]
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(60):
                trial = _row_error(kl, al + t[:, None] * da, bl + t[:, None] * db)
                bad = ~(trial < cur)
                if not bad.any():
                    break
                t = np.where(bad, t / 2, t)
        trial = np.where(np.isfinite(trial), trial, np.inf)
        ok = trial < cur
        a[live] = np.where(ok[:, None], al + t[:, None] * da, al)
        b[live] = np.where(ok[:, None], bl + t[:, None] * db, bl)
        err[live] = np.where(ok, trial, cur)
        if not ok.any():
            break
    return a, b, err


def matrix_entropy(x: np.ndarray) -> np.ndarray:
    """H(X) = -sum_hd X_hd log X_hd over the last two axes (0 log 0 = 0)."""
    x = np.asarray(x, dtype=np.float64)
    return -(x * np.log(np.maximum(x, 1e-300))).sum(axis=(-2, -1))
