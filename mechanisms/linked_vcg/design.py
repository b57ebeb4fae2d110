"""Closed forms and designs of the linked VCG analysis (Zhu 2021, §5-§6).

Lemma 6's closed-form transfer and the dates tau(theta_i) when Properties I and II hold
(§6.2); the eps-ex-post quantities delta(z), c(z), the believable conjecture of
Proposition 2 and condition (2) for reasonable truth-telling (§5); and the small-agents
design of the proof of Theorem 2 with a Hoeffding tail for Assumption 1 (§6.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mechanisms.linked_vcg.knapsack import marginal_player
from mechanisms.linked_vcg.model import Economy, LinkedVCG

# --------------------------------------------------------------------------- Lemma 6 / §6.2


def lemma6_transfer(mech: LinkedVCG, reports: np.ndarray, k: int) -> float:
    """Lemma 6's closed form of lW^n when Properties I and II hold (agent k "takes
    prices as given"): max over Omega^n of sum_t beta^(t-T) p_t . sum_i (mu-hat_ti -
    mu_ti) theta_i 1[n > N(mu_t, i)]. The max puts all of T mu_high_i on a date tau(theta_i)
    maximizing beta^(t-T) p_t . theta_i among the dates enclosing theta_i (§6.2)."""
    coef = _lemma6_coefficients(mech, reports, k)
    truth = np.asarray(reports)[k]
    best = mech.horizon * mech.mu_high[k] * coef.max(axis=0)
    return float(best.sum() - (coef * truth).sum())


def geometric_tau(mech: LinkedVCG, reports: np.ndarray, k: int) -> list[list[int]]:
    """tau(theta_i) of §6.2 (1-based dates) for each type: the enclosing hyperplanes
    H~_t = {x : beta^(t-1) p_t . x = 1} that the ray through theta_i touches first, i.e.
    the dates maximizing beta^(t-1) p_t . theta_i; all dates if none encloses theta_i."""
    coef = _lemma6_coefficients(mech, reports, k)
    out = []
    for i in range(coef.shape[1]):
        col = coef[:, i]
        enclosing = col > 0
        if not enclosing.any():
            out.append(list(range(1, mech.horizon + 1)))
            continue
        top = col.max()
        out.append([int(t) + 1 for t in np.flatnonzero(np.isclose(col, top, rtol=1e-9, atol=0.0))])
    return out


def _lemma6_coefficients(mech: LinkedVCG, reports: np.ndarray, k: int) -> np.ndarray:
    """(T, I): beta^(t-T) p_t . theta_i on dates where agent k is served ahead of the
    marginal player of type i (n > N(mu_t, i)), else 0."""
    alloc = mech.allocate(reports)
    econ = mech.economy
    marg = np.stack([marginal_player(alloc.alpha[t], reports[:, t]) for t in range(mech.horizon)])
    ahead = (k + 1) > marg
    cost = alloc.prices @ econ.theta.T  # (T, I) p_t . theta_i
    return mech.transfer_weights()[:, None] * cost * ahead



# --------------------------------------------------------------------------- §5: eps-ex-post
# vbar below is always `Economy.vbar()` of the economy the mechanism allocates (Zhu 2021 §5:
# v(q_bar, inf 1)), the k-model's when the mechanism is a §6.3 design.


def _scale(eps: float, horizon: int, vbar: float, beta: float) -> float:
    """beta^(1-T) T v-bar / eps, the factor in delta(z) and c(z) (§5)."""
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if not vbar > 0:
        raise ValueError(f"vbar must be > 0, got {vbar}")
    return beta ** (1 - horizon) * horizon * vbar / eps


def delta_of_z(z: float, eps: float, horizon: int, vbar: float, beta: float, n_agents: int) -> float:
    """delta(z) = z (1 - z) eps^2 / ((beta^(1-T) T v-bar)^2 N) ^ 1 (§5, before Proposition 2)."""
    if not 0 < z < 1:
        raise ValueError(f"z must be in (0, 1), got {z}")
    return min(z * (1 - z) / (_scale(eps, horizon, vbar, beta) ** 2 * n_agents), 1.0)


def c_of_z(z: float, eps: float, horizon: int, vbar: float, beta: float) -> float:
    """c(z) = z eps / (beta^(1-T) T v-bar) ^ 1 (§5)."""
    if not 0 < z < 1:
        raise ValueError(f"z must be in (0, 1), got {z}")
    return min(z / _scale(eps, horizon, vbar, beta), 1.0)


def believable_conjecture(delta: float, eps: float, horizon: int, vbar: float, beta: float,
                          n_agents: int) -> tuple[float | None, float]:  # fmt: skip
    """The smallest believable conjecture Proposition 2 certifies when it is common
    knowledge that P(Omega(T, mu_low, mu_high)) >= 1 - delta: the smallest z with
    delta(z) >= delta, and c(z). For N = 1 (§5's last paragraph) delta(c) = c eps /
    (beta^(1-T) T v-bar) ^ 1 gives c directly. Returns (None, 1.0) when only the
    trivial conjecture 1 is certified."""
    if not 0 <= delta <= 1:
        raise ValueError(f"delta must be in [0, 1], got {delta}")
    scale = _scale(eps, horizon, vbar, beta)
    if n_agents == 1:
        c = delta * scale
        return (None, 1.0) if c >= 1 else (None, c)
    k = 1.0 / (scale**2 * n_agents)  # delta(z) = k z (1 - z) below the cap
    if delta == 0:
        return 0.0, 0.0
    if 4 * delta > k:
        return None, 1.0
    z = (1 - math.sqrt(1 - 4 * delta / k)) / 2
    return z, c_of_z(z, eps, horizon, vbar, beta) if z > 0 else 0.0


def reasonable_truthful(prob_outside: np.ndarray, c: float, eps: float, vbar: float, beta: float) -> np.ndarray:
    """Condition (2) of §5 date by date: prob_outside (..., T) holds P^n(mu^n not in
    Omega^n | mu^n|_s) for s = 1..T; a reasonable agent tells the truth at date t iff
    [P + c] beta^(1-s) T v-bar < eps for every s <= t. Returns a bool array (..., T)."""
    prob_outside = np.asarray(prob_outside, dtype=np.float64)
    horizon = prob_outside.shape[-1]
    s = np.arange(1, horizon + 1)
    ok = (prob_outside + c) * beta ** (1 - s) * horizon * vbar < eps
    return np.logical_and.accumulate(ok, axis=-1)


# --------------------------------------------------------------------------- §6.3


def hoeffding_tail(d: float, horizon: int, ranges: np.ndarray) -> float:
    """A uniform f(i(d) T) for Assumption 1 (3) when date endowments are independent and
    type i's lies in [0, ranges_i]: P(||avg - pi||_inf > d) <= sum_i 2 exp(-2 T d^2 /
    ranges_i^2) (Hoeffding plus a union bound over types), capped at 1."""
    ranges = np.asarray(ranges, dtype=np.float64)
    pos = ranges > 0
    return float(min(1.0, np.sum(2.0 * np.exp(-2.0 * horizon * d**2 / ranges[pos] ** 2))))


@dataclass(frozen=True, slots=True)
class SmallAgentsDesign:
    """The linked VCG mechanism (T[k], mu_low(d)[k], mu_high(d)[k]) of the proof of
    Theorem 2 (§6.3) for the k-model, and its believable conjecture c(d)[k]; vbar is the
    k-model's v-bar[k] = v(k q_bar, inf 1) (`Economy.vbar`: the economy the mechanism
    allocates, k times the base economy's)."""

    mechanism: LinkedVCG
    conjecture: float
    d: float
    tail: float
    vbar: float


def small_agents_design(base: Economy, pi: np.ndarray, d: float, kappa: float, eps: float,
                        tail: Callable[[float, int], float]) -> SmallAgentsDesign:  # fmt: skip
    """§6.3: scale the base economy to k = len(pi) agents (q_bar[k] = k q_bar, beta = 1),
    T[k] = ceil(k^kappa), intervals [max(pi^n - d, 0), pi^n + d], and
    c(d)[k] = (e - sqrt(e^2 - 4 k f)) / 2 with e = eps / (k v-bar), f = tail(d, T[k])
    (= f(i(d) T[k]) of Assumption 1), or 1 when that is not in [0, 1]. The paper's v-bar
    there is the base economy's v(q_bar, inf 1); with mechsim's one definition (`Economy.vbar`,
    the allocated economy's, Zhu 2021 §5) k v-bar_base = v-bar[k], so e = eps / v-bar[k]."""
    pi = np.asarray(pi, dtype=np.float64)
    if pi.ndim != 2 or pi.shape[1] != base.n_types:
        raise ValueError(f"pi must have shape (k, {base.n_types}), got {pi.shape}")
    if not 0 < kappa < 1:
        raise ValueError(f"kappa must be in (0, 1), got {kappa}")
    if not d > 0:
        raise ValueError(f"d must be > 0, got {d}")
    k = pi.shape[0]
    horizon = math.ceil(k**kappa)
    econ = Economy(base.theta, k * base.q_bar, check_general_position=False)
    mech = LinkedVCG(econ, horizon, np.clip(pi - d, 0.0, None), pi + d, beta=1.0)
    f = float(tail(d, horizon))
    vbar = econ.vbar()  # v-bar[k] = k v-bar of the base economy
    e = eps / vbar
    disc = e * e - 4 * k * f
    c = (e - math.sqrt(disc)) / 2 if disc >= 0 else 1.0
    if not 0 <= c <= 1:
        c = 1.0
    return SmallAgentsDesign(mech, c, d, f, vbar)
