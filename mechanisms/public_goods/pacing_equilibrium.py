"""The focal pacing equilibrium of a symmetric public-goods instance (Onyeze, Lin, Banerjee,
Tardos 2025, Definition 3.3, Theorem 3.6, Theorem B.4).

C_i(beta) = E_V[p_i(V_1 / beta_1, ..., V_n / beta_n)] is agent i's expected payment on a round
before anyone depletes (Definition 3.3); a profile with C_i(beta) = alpha_i for all i is the
focal pacing equilibrium (Theorem 3.6 under Proportional: in the (0, o(1))-approximate core;
Theorem 3.7 / Corollary 5.4 under an IC mechanism). `expected_costs` estimates C on samples of
the value distribution (one vectorized `run_rounds` call), `symmetric_pacing_equilibrium`
solves C(beta 1) = alpha 1 for one common beta when shares are equal and values exchangeable,
where a symmetric solution exists by symmetry (Theorem B.4's fixed point need not be unique).

The mean payment (1/n) sum_i C_i(beta 1) is non-increasing in beta (every report falls, and
each C_i is non-increasing in beta_i, Lemma G.4), so the solution set is an interval, found
by two bisections. On a discrete distribution it is a whole interval: on the §6 harmonic
instance under Proportional every beta in (1, H_n - n eps] spends exactly alpha_i (selfish
rounds no longer bought, every shared round bought), and C jumps at both ends. The paper
perturbs the values to make C continuous (§3.3, step 5); instead we return the middle of the
interval in log beta, the choice farthest from both jumps, so a run's spend does not hinge on
one sample's round-off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mechanisms.base import Mechanism

#: Bisection steps in log beta (bracket [BETA_MIN, BETA_MAX]: 2^-40 of its log-width, ~1e-11).
BISECTION_STEPS = 40
BETA_MIN, BETA_MAX = 1e-3, 1e3
#: Standard errors (bounded, see `symmetric_pacing_equilibrium`) of the sampled mean payment
#: within which it counts as equal to the share.
TOLERANCE_SE = 3.0


@dataclass(frozen=True, slots=True)
class PacingEquilibrium:
    """beta: the common value-scaling factor (report V / beta); interval: the betas whose
    sampled mean payment is within `tolerance` of the share; costs: C_i(beta) per agent on the
    samples; target: the per-round budget rate alpha_i c; samples: how many draws."""

    beta: float
    interval: tuple[float, float]
    costs: np.ndarray
    target: float
    tolerance: float
    samples: int


def expected_costs(mechanism: Mechanism, samples: np.ndarray, beta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """C_i(beta) of Definition 3.3 on samples (N, n) of V: the mean charge of each agent when
    all report V_i / beta_i and nobody is depleted (per-sample charges are returned too by
    `run_rounds`; this averages them)."""
    x = np.asarray(samples, dtype=np.float64)
    b = np.broadcast_to(np.asarray(beta, dtype=np.float64), (x.shape[1],))
    if not (b > 0).all():
        raise ValueError(f"beta must be > 0, got {beta!r}")
    _, charges = mechanism.run_rounds(x / b, x, rng)
    return np.asarray(charges, dtype=np.float64).reshape(x.shape).mean(axis=0)


def symmetric_pacing_equilibrium(
    mechanism: Mechanism, samples: np.ndarray, rate: float, rng: np.random.Generator
) -> PacingEquilibrium:
    """The common beta with (1/n) sum_i C_i(beta 1) = rate (the per-round budget alpha_i c of
    every agent), on samples (N, n). "Equal" means within TOLERANCE_SE standard errors of the
    sampled mean (its standard deviation bounded by Bhatia-Davis, so the tolerance is one number
    for every beta); beta is the geometric middle of that interval. Raises ValueError when no beta
    in [BETA_MIN, BETA_MAX] spends the rate (e.g. a rate above what bidding 1000x the values
    buys)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"samples must be an (N, n) array with N >= 2, got shape {x.shape}")
    if not rate > 0:
        raise ValueError(f"rate must be > 0, got {rate}")

    def per_sample(log_beta: float) -> np.ndarray:
        _, charges = mechanism.run_rounds(x / math.exp(log_beta), x, rng)
        return np.asarray(charges, dtype=np.float64).reshape(x.shape).mean(axis=1)

    def mean_cost(log_beta: float) -> float:
        return float(per_sample(log_beta).mean())

    lo_end, hi_end = math.log(BETA_MIN), math.log(BETA_MAX)
    most = per_sample(lo_end)
    top = float(most.mean())
    # A per-round mean payment in [0, M] with mean `rate` has variance <= rate (M - rate)
    # (Bhatia-Davis); M is the largest seen when bidding the most.
    spread = max(float(most.max()) - rate, 0.0)
    tol = TOLERANCE_SE * math.sqrt(rate * spread / x.shape[0]) + 1e-12
    if top < rate - tol:
        raise ValueError(
            f"rate: no beta >= {BETA_MIN} spends {rate:.6g} per round (at most {top:.6g} on these samples)"
        )

    def boundary(spends_enough: bool) -> float:
        # spends_enough: the largest log beta with mean cost >= rate - tol; else the smallest
        # with mean cost <= rate + tol. Both predicates are monotone in beta.
        lo, hi = lo_end, hi_end
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            c = mean_cost(mid)
            if spends_enough:
                lo, hi = (mid, hi) if c >= rate - tol else (lo, mid)
            else:
                lo, hi = (lo, mid) if c <= rate + tol else (mid, hi)
        return lo if spends_enough else hi

    upper, lower = boundary(True), boundary(False)
    # An interval (lower <= upper) on discrete distributions; one crossing point otherwise.
    log_beta = 0.5 * (lower + upper) if lower <= upper else upper
    beta = math.exp(log_beta)
    return PacingEquilibrium(
        beta=beta,
        interval=(math.exp(min(lower, upper)), math.exp(upper)),
        costs=expected_costs(mechanism, x, np.full(x.shape[1], beta), rng),
        target=float(rate),
        tolerance=tol,
        samples=int(x.shape[0]),
    )
