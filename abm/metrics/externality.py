"""Pareto check and externalities for finite outcome sets (Braverman 2021 §2.3.4; eq. (12) of §2.1).

Outcome set O given by utilities F (|O|, n), F[o, i] = f_i(o); an outcome distribution
p over O (e.g. the empirical X-bar of a run). Externality of player i (§2.3.4, for two
players Ext_B(y) = o_A - U_A(y); for n players the Clarke form of eq. (12)): how much the
others could gain without having to accommodate i,

    Ext_i(p) = max_o sum_{j != i} f_j(o) - E_p sum_{j != i} f_j.

Pareto efficiency (§2.3.4): no distribution q with F^T q >= F^T p and one strict gain;
checked by the LP max sum_i (F^T q - F^T p)_i s.t. F^T q >= F^T p, q in the simplex.
The approximate version of [ILWM17] (no q raising every utility by a factor 1 + eps) is
the LP max eps s.t. F^T q >= (1 + eps) F^T p.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Improvements below this (utility units) count as none (LP round-off).
PARETO_TOL = 1e-9


def _check(outcome_utilities: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(outcome_utilities, dtype=np.float64)
    if f.ndim != 2 or 0 in f.shape:
        raise ValueError(f"outcome_utilities must be a non-empty (|O|, n) array, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError("outcome_utilities must be finite")
    q = np.asarray(p, dtype=np.float64)
    if q.shape != (f.shape[0],) or (q < -1e-12).any() or abs(q.sum() - 1.0) > 1e-9:
        raise ValueError(f"p must be a probability vector of length {f.shape[0]}, got {p!r}")
    return f, np.clip(q, 0.0, None)


def externalities(outcome_utilities: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(n,) expected externality Ext_i of each player under the outcome distribution p."""
    f, q = _check(outcome_utilities, p)
    others = f.sum(axis=1, keepdims=True) - f  # (|O|, n): sum over j != i
    return others.max(axis=0) - q @ others


@dataclass(frozen=True, slots=True)
class ParetoResult:
    """efficient: no Pareto improvement above PARETO_TOL; improvement: the largest total gain
    of a weak Pareto improvement; ratio_eps: the largest eps with an outcome distribution
    giving every player (1 + eps) times its utility (<= 0: (1+eps)-Pareto efficient for all
    eps > 0; players at utility <= 0 need only not lose; inf if none has positive utility); improving: a maximizer q."""

    efficient: bool
    improvement: float
    ratio_eps: float
    improving: np.ndarray


def pareto_check(outcome_utilities: np.ndarray, p: np.ndarray) -> ParetoResult:
    """Pareto efficiency of p over the finite outcome set (Braverman 2021 §2.3.4), by two LPs."""
    from scipy.optimize import linprog

    f, q = _check(outcome_utilities, p)
    k = f.shape[0]
    cur = q @ f
    bounds = [(0.0, None)] * k
    res = linprog(
        -f.sum(axis=1), A_ub=-f.T, b_ub=-cur, A_eq=np.ones((1, k)), b_eq=[1.0], bounds=bounds, method="highs"
    )
    if res.status != 0:
        raise RuntimeError(f"Pareto LP failed: {res.message}")
    gain = float(-res.fun - cur.sum())
    # max eps: F^T q >= cur + eps cur^+ (players at utility <= 0 only must not lose), variables (q, eps).
    obj = np.zeros(k + 1)
    obj[-1] = -1.0
    a_ub = np.hstack([-f.T, np.maximum(cur, 0.0)[:, None]])
    res2 = linprog(
        obj, A_ub=a_ub, b_ub=-cur, A_eq=np.append(np.ones(k), 0.0)[None, :], b_eq=[1.0],
        bounds=[*bounds, (None, None)], method="highs",
    )  # fmt: skip
    if res2.status == 3:  # unbounded: nobody has positive utility to scale
        ratio = float(np.inf)
    elif res2.status != 0:
        raise RuntimeError(f"approximate-Pareto LP failed: {res2.message}")
    else:
        ratio = float(res2.x[-1])
    return ParetoResult(gain <= PARETO_TOL, max(gain, 0.0), ratio, res.x)


def empirical_distribution(outcome_index: np.ndarray, n_outcomes: int) -> np.ndarray:
    """Frequencies of outcome indices (T,) over range(n_outcomes)."""
    idx = np.asarray(outcome_index, dtype=np.int64)
    if idx.ndim != 1 or ((idx < 0) | (idx >= n_outcomes)).any():
        raise ValueError(f"outcome_index must be a 1-d array of indices in [0, {n_outcomes})")
    return np.bincount(idx, minlength=n_outcomes) / max(idx.shape[0], 1)
