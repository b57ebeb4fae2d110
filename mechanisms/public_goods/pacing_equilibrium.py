"""The focal pacing equilibrium of a public-goods instance (Onyeze, Lin, Banerjee, Tardos 2025,
Definition 3.3, Theorems 3.6-3.7, Theorem B.4).

C_i(beta) = E_V[p_i(V_1 / beta_1, ..., V_n / beta_n)] is agent i's expected payment on a round
before anyone depletes (Definition 3.3); a profile beta in (0, inf)^n with C_i(beta) = alpha_i
for all i is the focal pacing equilibrium (Theorem 3.6 under Proportional: in the (0, o(1))-
approximate core; Theorem 3.7 / Corollary 5.4 under an IC mechanism). Theorem B.4 proves one
exists (Kakutani on the best responses: C_i is continuous and non-increasing in beta_i, Lemma
G.4); `pacing_equilibrium` computes one by Monte Carlo on samples of the value distribution,
with common random numbers (every evaluation of C sees the same samples and the same
mechanism random stream), in two phases:

1. a common scale: beta = s beta0 on the free agents, s by bisection in log s so that their
   mean payment matches their mean share. The mean payment is non-increasing in s (every
   report falls). On a discrete distribution the solution set is an interval (on the §6
   harmonic instance under Proportional every beta in (1, H_n - n eps] spends alpha_i
   exactly, and C jumps at both ends); the paper perturbs the values to make C continuous
   (§3.3, step 5), we take the middle of the interval in log s, farthest from both jumps.
   With equal shares and exchangeable values this is the symmetric equilibrium already.
2. per agent: damped fixed-point iteration log beta_i <- log beta_i + eta log(C_i / alpha_i)
   (clipped to a factor e per step: C_i falls in beta_i, so an agent that overspends scales
   down), keeping the best iterate and halving eta when the worst residual does not improve.

Tolerance: agent i's C_i counts as equal to alpha_i within TOLERANCE_SE standard errors of
its sampled mean payment (or `rtol` alpha_i when given): a Monte Carlo estimate is not worth
solving more precisely than its own noise. `PacingEquilibrium` reports the residuals, the
iterations and whether every free agent is within tolerance (`converged`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mechanisms.base import Mechanism

#: Bisection steps in log s (bracket [BETA_MIN, BETA_MAX]: 2^-40 of its log-width, ~1e-11).
BISECTION_STEPS = 40
BETA_MIN, BETA_MAX = 1e-3, 1e3
#: Standard errors of the sampled mean payment within which it counts as equal to the share.
TOLERANCE_SE = 3.0
#: Phase 2: iterations at most, the first damping eta and the smallest before giving up.
MAX_ITERATIONS = 200
DAMPING = 0.7
DAMPING_MIN = 1e-3
#: Largest change of log beta_i in one step (a factor e).
MAX_LOG_STEP = 1.0


@dataclass(frozen=True, slots=True)
class PacingEquilibrium:
    """beta (n,): the value-scaling factors (report V_i / beta_i); costs (n,): C_i(beta) on the
    samples; targets (n,): the per-round budget rates alpha_i c; tolerance (n,): the stopping
    rule's |C_i - target_i| bound per agent; residual (n,): (C_i - target_i) / tolerance_i (0
    for agents not solved for); free (n,): the agents solved for (the others keep beta0);
    converged: every free |residual| <= 1; iterations: phase-2 steps taken; interval: the
    common scales s of phase 1 whose mean payment is within tolerance (beta = s beta0 there);
    scale: the s phase 1 chose; samples: how many draws."""

    beta: np.ndarray
    costs: np.ndarray
    targets: np.ndarray
    tolerance: np.ndarray
    residual: np.ndarray
    free: np.ndarray
    converged: bool
    iterations: int
    interval: tuple[float, float]
    scale: float
    samples: int

    @property
    def max_residual(self) -> float:
        """max_i |C_i - target_i| / tolerance_i over the free agents (<= 1 when converged)."""
        return float(np.abs(self.residual[self.free]).max()) if self.free.any() else 0.0

    def report(self) -> dict[str, object]:
        """The equilibrium as JSON-ready numbers (a run's `scenario_summary.pacing_equilibrium`)."""
        return {
            "beta": self.beta.tolist(),
            "beta_min": float(self.beta[self.free].min()) if self.free.any() else math.nan,
            "beta_max": float(self.beta[self.free].max()) if self.free.any() else math.nan,
            "expected_cost": self.costs.tolist(),
            "target_rate": self.targets.tolist(),
            "tolerance": self.tolerance.tolist(),
            "max_residual": self.max_residual,
            "converged": self.converged,
            "iterations": self.iterations,
            "scale_interval": list(self.interval),
            "samples": self.samples,
            "rule": f"|C_i(beta) - alpha_i| <= {TOLERANCE_SE:g} standard errors of the sampled mean payment "
            "(common random numbers; Onyeze et al. 2025 Definition 3.3, Theorem B.4)",
        }


def _charges(mechanism: Mechanism, x: np.ndarray, reported: np.ndarray, beta: np.ndarray, seed: int) -> np.ndarray:
    """(N, n) per-sample charges when agent i reports reported_i / beta_i; the same mechanism
    stream for every call (common random numbers)."""
    _, charges = mechanism.run_rounds(reported / beta, x, np.random.default_rng(seed))
    return np.asarray(charges, dtype=np.float64).reshape(x.shape)


def expected_costs(mechanism: Mechanism, samples: np.ndarray, beta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """C_i(beta) of Definition 3.3 on samples (N, n) of V: the mean charge of each agent when
    all report V_i / beta_i and nobody is depleted."""
    x = np.asarray(samples, dtype=np.float64)
    b = np.broadcast_to(np.asarray(beta, dtype=np.float64), (x.shape[1],))
    if not (b > 0).all():
        raise ValueError(f"beta must be > 0, got {beta!r}")
    _, charges = mechanism.run_rounds(x / b, x, rng)
    return np.asarray(charges, dtype=np.float64).reshape(x.shape).mean(axis=0)


def _vector(name: str, value: np.ndarray | float | None, n: int, default: float) -> np.ndarray:
    out = np.full(n, default) if value is None else np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
    if not (np.isfinite(out).all() and (out > 0).all()):
        raise ValueError(f"{name} must be finite and > 0 for every agent, got {out.tolist()}")
    return out


def pacing_equilibrium(
    mechanism: Mechanism,
    samples: np.ndarray,
    rates: np.ndarray | float,
    rng: np.random.Generator,
    *,
    beta0: np.ndarray | float | None = None,
    free: np.ndarray | None = None,
    reported: np.ndarray | None = None,
    rtol: float | None = None,
    max_iterations: int = MAX_ITERATIONS,
) -> PacingEquilibrium:
    """beta with C_i(beta) = rates_i for every free agent i (Onyeze et al. 2025 Theorem B.4), on
    samples (N, n) of the value distribution (see the module docstring for the two phases).

    rates: the per-round budgets alpha_i c (a number: the same for all). beta0: the starting
    (and, for agents not free, the fixed) scaling, default 1. free: boolean mask of the agents
    solved for (default all); the others keep beta0 (e.g. truthful or fixed-scaling players, or
    an agent whose deviation is being priced). reported: what agent i scales (N, n), default
    the values themselves; a strategy other than value scaling passes its transform here (a
    free rider's V_i 1[V_i < theta], `mechanisms.public_goods.free_riding`). rtol: stop at
    |C_i - rate_i| <= rtol rate_i instead of TOLERANCE_SE standard errors.

    Raises ValueError when the free agents cannot spend their rates even at s = BETA_MIN (a
    rate above what bidding 1000x the values buys)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"samples must be an (N, n) array with N >= 2, got shape {x.shape}")
    n_samples, n = x.shape
    targets = _vector("rate", rates, n, 1.0)
    base = _vector("beta0", beta0, n, 1.0)
    mask = np.ones(n, dtype=bool) if free is None else np.asarray(free, dtype=bool)
    if mask.shape != (n,) or not mask.any():
        raise ValueError(f"free must be a boolean mask of length {n} with at least one agent, got {free!r}")
    rep = x if reported is None else np.asarray(reported, dtype=np.float64)
    if rep.shape != x.shape:
        raise ValueError(f"reported must have the samples' shape {x.shape}, got {rep.shape}")
    if rtol is not None and not rtol > 0:
        raise ValueError(f"rtol must be > 0, got {rtol}")
    seed = int(rng.integers(2**63))

    def charges_at(beta: np.ndarray) -> np.ndarray:
        return _charges(mechanism, x, rep, beta, seed)

    def at_scale(log_s: float) -> np.ndarray:
        return np.where(mask, base * math.exp(log_s), base)

    # Phase 1: one common scale for the free agents.
    rate = float(targets[mask].mean())

    def per_sample(log_s: float) -> np.ndarray:
        return charges_at(at_scale(log_s))[:, mask].mean(axis=1)

    lo_end, hi_end = math.log(BETA_MIN), math.log(BETA_MAX)
    most = per_sample(lo_end)
    top = float(most.mean())
    # A per-round mean payment in [0, M] with mean `rate` has variance <= rate (M - rate)
    # (Bhatia-Davis); M is the largest seen when bidding the most, so one tolerance serves every s.
    spread = max(float(most.max()) - rate, 0.0)
    tol_mean = TOLERANCE_SE * math.sqrt(rate * spread / n_samples) + 1e-12
    if top < rate - tol_mean:
        raise ValueError(
            f"rate: no beta >= {BETA_MIN} spends {rate:.6g} per round (at most {top:.6g} on these samples)"
        )

    def boundary(spends_enough: bool) -> float:
        # spends_enough: the largest log s with mean cost >= rate - tol; else the smallest with
        # mean cost <= rate + tol. Both predicates are monotone in s.
        lo, hi = lo_end, hi_end
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            c = float(per_sample(mid).mean())
            if spends_enough:
                lo, hi = (mid, hi) if c >= rate - tol_mean else (lo, mid)
            else:
                lo, hi = (lo, mid) if c <= rate + tol_mean else (mid, hi)
        return lo if spends_enough else hi

    upper, lower = boundary(True), boundary(False)
    log_s = 0.5 * (lower + upper) if lower <= upper else upper
    interval = (math.exp(min(lower, upper)), math.exp(upper))

    # Phase 2: per-agent damped fixed point on log beta.
    def assess(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ch = charges_at(beta)
        costs = ch.mean(axis=0)
        tol = TOLERANCE_SE * ch.std(axis=0) / math.sqrt(n_samples) + 1e-12 if rtol is None else rtol * targets
        return costs, tol, np.where(mask, (costs - targets) / tol, 0.0)

    beta = at_scale(log_s)
    costs, tol, res = assess(beta)
    best = (float(np.abs(res).max()), beta, costs, tol, res)
    eta, iterations = DAMPING, 0

    def step_of(c: np.ndarray) -> np.ndarray:
        # C_i falls in beta_i: overspending (C_i > alpha_i) scales up beta_i. Floored so an agent
        # priced out (C_i = 0) moves by the largest step, not by -inf.
        return np.clip(np.log(np.maximum(c, 1e-3 * targets) / targets), -MAX_LOG_STEP, MAX_LOG_STEP)

    while best[0] > 1.0 and iterations < max_iterations and eta >= DAMPING_MIN:
        iterations += 1
        cur = best[1]
        beta = np.where(mask, np.clip(cur * np.exp(eta * step_of(best[2])), BETA_MIN, BETA_MAX), base)
        costs, tol, res = assess(beta)
        worst = float(np.abs(res).max())
        if worst < best[0]:
            best = (worst, beta, costs, tol, res)
        else:
            eta *= 0.5
    worst, beta, costs, tol, res = best
    return PacingEquilibrium(
        beta=beta,
        costs=costs,
        targets=targets,
        tolerance=tol,
        residual=res,
        free=mask,
        converged=bool(worst <= 1.0),
        iterations=iterations,
        interval=interval,
        scale=math.exp(log_s),
        samples=n_samples,
    )
