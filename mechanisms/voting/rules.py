"""Voting rules as maps from a reported utility profile to a lottery, and the empirical
(epsilon, delta)-truthfulness check of Braverman 2021 §3.1, equation (28).

A rule M takes an (n, k) profile of reported utilities (each row is affinely normalized
first; an all-equal or all-zero row means "does not vote") and returns a lottery p in
Delta_k. Equation (28) asks, for every voter i and misreport u_i',

    u_i . (M(u_-i, u_i') - M(u_-i, u_i)) <= delta * ||u_i||_2 + eps * u_i . (M(u_-i, u_i) - M(u_-i, 0)),

i.e. the benefit from misreporting is small in absolute terms or relative to the benefit
from voting at all. `truthfulness_check` searches misreports (a grid of normalized
reports plus random and local random directions) and reports both benefits.

The token-based rules fix a per-voter spend b per round, the stationary point of the
bang-per-buck strategy (Braverman 2021 Claim 2):
- quadratic voting: the vote lambda d_i (d_i the unit direction) at cost
  lambda^2 / (2 eta) = b, so p = softmax(sqrt(2 b / eta) * sum_i d_i);
- APEX (Algorithm 2's competitive equilibrium): weights lambda_i with quadratic price
  lambda_i^2 / 4 * grad f_i^T H^{-1} grad f_i = b at the outcome they produce. For the
  entropy regularizer that price is lambda_i^2 Var_p(u_i) / (2 eta) (see
  `mechanisms.apex.algorithm2`), so lambda_i = sqrt(2 eta b / Var_p(u_i)) and
  p = softmax(sqrt(2 b / eta) * sum_i u_i / sd_p(u_i)): each vote is the voter's utility
  standardized under the outcome itself — the outcome-dependent normalization §3.1 asks
  for in the u_1 = (12, 11, -23) example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from mechanisms.voting.mechanisms import (
    INDIFFERENCE_TOL,
    check_utilities,
    dictatorship_lottery,
    favorites,
    normalize_utilities,
    plurality_lottery,
    quadratic_directions,
)
from mechanisms.voting.simplex import softmax

Rule = Callable[[np.ndarray], np.ndarray]


@runtime_checkable
class AnchoredRule(Protocol):
    """A rule that fixes its exchange rates on the sincere profile before misreports are
    tried (`ApexRule`: the competitive-equilibrium rates of Algorithm 2), so eq. (28)
    compares reports at the same prices."""

    def __call__(self, profile: np.ndarray) -> np.ndarray: ...

    def anchor(self, profile: np.ndarray) -> None: ...

#: Lottery-space (l1) residual targeted for an equilibrium of Algorithm 2 ...
EQUILIBRIUM_TOL = 1e-11
#: ... and the largest accepted when the damped iteration is slow (boundary equilibria).
EQUILIBRIUM_ACCEPT = 1e-8
#: Continuation starts at kappa / 2^CONTINUATION_STEPS.
CONTINUATION_STEPS = 8
#: Iterations of the damped fallback.
DAMPED_ITERATIONS = 5000


def _voters(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalized profile and the mask of voters who vote (not indifferent)."""
    u = normalize_utilities(profile)
    return u, u.max(axis=1) > INDIFFERENCE_TOL


def plurality_rule(profile: np.ndarray) -> np.ndarray:
    """Plurality on sincere favorites; ties -> uniform over the tied winners."""
    u, voting = _voters(profile)
    return plurality_lottery(voting.astype(float) @ favorites(u))


def dictatorship_rule(profile: np.ndarray) -> np.ndarray:
    """Randomized dictatorship: the favorite-vote shares of the voters."""
    u, voting = _voters(profile)
    return dictatorship_lottery(voting.astype(float) @ favorites(u))


def quadratic_rule(eta: float, budget: float) -> Rule:
    """Quadratic voting on the simplex (`mechanisms.voting.mechanisms.QuadraticVoting`) with every
    voter spending `budget` per round: p = softmax(sqrt(2 budget / eta) * sum_i d_i)."""
    _check_positive(eta=eta, budget=budget)

    def rule(profile: np.ndarray) -> np.ndarray:
        u, _ = _voters(profile)
        return softmax(np.sqrt(2.0 * budget / eta) * quadratic_directions(u).sum(axis=0), 1.0)

    return rule


@dataclass(frozen=True, slots=True)
class ApexEquilibrium:
    """Algorithm 2's competitive equilibrium at per-round spend `budget`: the lottery p,
    the weights lambda_i, each voter's quadratic price (= budget unless indifferent), the
    logits z (p = softmax(z), a warm start for nearby profiles) and the fixed-point
    residual |T(p) - p|_1 reached."""

    lottery: np.ndarray
    weights: np.ndarray
    prices: np.ndarray
    logits: np.ndarray
    residual: float


def _push_map(u: np.ndarray, kappa: float) -> Callable[[np.ndarray], np.ndarray]:
    """z -> kappa * sum_i (u_i - mean u_i) / sd_{softmax(z)}(u_i): the equilibrium logits
    are its fixed points (constants in z do not matter)."""
    centered = u - u.mean(axis=1, keepdims=True)

    def push(z: np.ndarray) -> np.ndarray:
        p = softmax(z, 1.0)
        dev = centered - (centered @ p)[:, None]
        sd = np.sqrt(np.maximum((dev**2) @ p, 1e-300))
        return kappa * (centered / sd[:, None]).sum(axis=0)

    return push


def _p_residual(push: Callable[[np.ndarray], np.ndarray], z: np.ndarray) -> float:
    """l1 distance between softmax(z) and softmax(push(z)): the fixed-point residual in
    lottery space, which stays meaningful when the equilibrium lies on the boundary
    (logits diverging while the lottery converges to a face of the simplex)."""
    if not np.isfinite(z).all():
        return np.inf
    return float(np.abs(softmax(push(z), 1.0) - softmax(z, 1.0)).sum())


def _root(push: Callable[[np.ndarray], np.ndarray], z0: np.ndarray) -> tuple[np.ndarray, float]:
    from scipy.optimize import root

    sol = root(lambda z: z - push(z), z0, method="hybr", options={"xtol": 1e-13})
    return sol.x, _p_residual(push, sol.x)


def apex_equilibrium(
    profile: np.ndarray, eta: float, budget: float, start: np.ndarray | None = None
) -> ApexEquilibrium:
    """Solve p = softmax(sum_i lambda_i u_i / eta) with lambda_i^2 Var_p(u_i) / (2 eta) =
    budget for every non-indifferent voter: z = push(z) in the logits, kappa =
    sqrt(2 budget / eta).

    Equilibria need not be unique (Problem 16.2), so the branch is chosen explicitly:
    from `start` (logits of a nearby profile's equilibrium) if given and Powell's hybrid
    method converges there; otherwise by continuation in kappa from kappa / 256, where the
    map is a contraction near the uniform lottery, doubling kappa and re-solving from
    the previous solution. If the branch ends (a fold, or an equilibrium on the boundary
    where logits diverge), damped iteration p <- (p + T(p)) / 2 in lottery space finishes
    from the last point. RuntimeError if the residual stays above EQUILIBRIUM_ACCEPT."""
    _check_positive(eta=eta, budget=budget)
    u, voting = _voters(profile)
    u = u[voting]
    k = np.asarray(profile).shape[1]
    if u.shape[0] == 0:
        p = np.full(k, 1.0 / k)
        return ApexEquilibrium(p, np.zeros(len(voting)), np.zeros(len(voting)), np.zeros(k), 0.0)
    kappa = np.sqrt(2.0 * budget / eta)
    push = _push_map(u, kappa)
    z, res = (np.zeros(k), np.inf) if start is None else _root(push, np.asarray(start, dtype=np.float64))
    if not res < EQUILIBRIUM_TOL:
        z = np.zeros(k)
        for step in range(CONTINUATION_STEPS, -1, -1):
            z_new, res = _root(_push_map(u, kappa / 2.0**step), z)
            if not res < EQUILIBRIUM_TOL:
                break
            z = z_new
    if not res < EQUILIBRIUM_TOL:
        z, res = _damped_fixed_point(push, z)
    p = softmax(z, 1.0)
    var = ((u - (u @ p)[:, None]) ** 2) @ p
    weights = np.zeros(len(voting))
    weights[voting] = np.sqrt(2.0 * eta * budget / np.maximum(var, 1e-300))
    prices = np.zeros(len(voting))
    prices[voting] = weights[voting] ** 2 * var / (2.0 * eta)
    return ApexEquilibrium(p, weights, prices, z, res)


def _damped_fixed_point(push: Callable[[np.ndarray], np.ndarray], z: np.ndarray) -> tuple[np.ndarray, float]:
    """p <- (p + T(p)) / 2 with T(p) = softmax(push(log p)), from softmax(z); returns the
    logits of the best iterate and its residual. Lottery space keeps boundary equilibria
    (some p_j -> 0) reachable."""

    def t_map(q: np.ndarray) -> np.ndarray:
        return softmax(push(np.log(np.maximum(q, 1e-300))), 1.0)

    p = softmax(z, 1.0)
    best_p, best = p, np.inf
    for _ in range(DAMPED_ITERATIONS):
        tp = t_map(p)
        res = float(np.abs(tp - p).sum())
        if res < best:
            best_p, best = p, res
        if res < EQUILIBRIUM_TOL:
            break
        p = 0.5 * (p + tp)
    if not best < EQUILIBRIUM_ACCEPT:
        raise RuntimeError(f"apex_equilibrium: no fixed point found (lottery residual {best:.3g})")
    return np.log(np.maximum(best_p, 1e-300)), best


class ApexRule:
    """`apex_equilibrium`'s lottery as a voting rule. `anchor(profile)` fixes the branch:
    later calls warm-start from that profile's equilibrium, so M(u_-i, u') is the
    equilibrium continuing the truthful one (as the eq. (28) check needs)."""

    def __init__(self, eta: float, budget: float) -> None:
        _check_positive(eta=eta, budget=budget)
        self.eta, self.budget = float(eta), float(budget)
        self.start: np.ndarray | None = None

    def anchor(self, profile: np.ndarray) -> None:
        self.start = apex_equilibrium(profile, self.eta, self.budget).logits

    def __call__(self, profile: np.ndarray) -> np.ndarray:
        return apex_equilibrium(profile, self.eta, self.budget, self.start).lottery


def apex_rule(eta: float, budget: float) -> ApexRule:
    """APEX (Algorithm 2's competitive equilibrium at per-round spend `budget`) as a rule."""
    return ApexRule(eta, budget)


def _check_positive(**kw: float) -> None:
    for name, v in kw.items():
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0, got {v}")


@dataclass(frozen=True, slots=True)
class TruthfulnessReport:
    """Per sampled voter: the largest benefit from misreporting found, the benefit from
    voting, the misreport attaining it, and eps(delta) = max(0, gain - delta ||u_i||) /
    benefit_voting (inf if voting brings nothing but misreporting does). `unsolved`
    counts candidate reports whose outcome the rule could not compute (an APEX
    equilibrium not found); they are left out, and a voter whose truthful or abstaining
    outcome is unsolved gets NaN."""

    voters: np.ndarray
    benefit_misreport: np.ndarray
    benefit_voting: np.ndarray
    best_misreport: np.ndarray
    norms: np.ndarray
    candidates: int
    unsolved: int = 0

    def epsilon(self, delta: float = 0.0) -> np.ndarray:
        gain = np.maximum(self.benefit_misreport - delta * self.norms, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(gain > 0, gain / np.maximum(self.benefit_voting, 0.0), 0.0)


def misreport_candidates(k: int, rng: np.random.Generator, *, grid: int = 3, random: int = 64) -> np.ndarray:
    """Normalized candidate reports: every vector on the grid {0, 1/grid, ..., 1}^k with
    min 0 and max 1 (by scale/shift invariance the others are redundant), plus `random`
    uniform random directions on [0, 1]^k."""
    if grid < 1 or random < 0:
        raise ValueError(f"grid must be >= 1 and random >= 0, got grid={grid}, random={random}")
    axes = np.meshgrid(*[np.linspace(0.0, 1.0, grid + 1)] * k, indexing="ij")
    pts = np.stack([a.ravel() for a in axes], axis=1)
    pts = pts[(pts.min(axis=1) == 0.0) & (pts.max(axis=1) == 1.0)]
    return np.vstack([pts, rng.random((random, k))])


def truthfulness_check(
    rule: Rule,
    profile: np.ndarray | list,
    voters: np.ndarray | list,
    rng: np.random.Generator,
    *,
    grid: int = 3,
    random: int = 64,
    local: int = 32,
    local_scale: float = 0.1,
    extra: np.ndarray | list | None = None,
) -> TruthfulnessReport:
    """Empirical eq. (28) for the listed voters: M(u_-i, u') over the candidates of
    `misreport_candidates`, `local` Gaussian perturbations of the truthful u_i (scale
    `local_scale`) and any `extra` reports; the truthful report itself is a candidate,
    so the benefit from misreporting is >= 0."""
    prof = check_utilities(profile, "profile")
    u = normalize_utilities(prof)
    n, k = u.shape
    voters = np.asarray(voters, dtype=np.int64)
    if voters.size and (voters.min() < 0 or voters.max() >= n):
        raise ValueError(f"voters must index 0..{n - 1}, got {voters.tolist()}")
    shared = misreport_candidates(k, rng, grid=grid, random=random)
    if extra is not None:
        shared = np.vstack([shared, check_utilities(np.atleast_2d(extra), "extra")])
    gains, benefits, best = np.zeros(len(voters)), np.zeros(len(voters)), np.zeros((len(voters), k))
    if isinstance(rule, AnchoredRule):
        rule.anchor(prof)
    truthful = rule(prof)
    unsolved = 0
    for r, i in enumerate(voters):
        ui = u[i]
        others = prof.copy()
        others[i] = 0.0
        try:
            benefits[r] = ui @ (truthful - rule(others))
        except RuntimeError:
            unsolved += 1
            gains[r] = benefits[r] = np.nan
            best[r] = np.nan
            continue
        cands = np.vstack([ui[None, :], shared, ui + local_scale * rng.standard_normal((local, k))])
        best_gain, best_c = 0.0, ui
        for c in cands:
            others[i] = c
            try:
                g = ui @ (rule(others) - truthful)
            except RuntimeError:
                unsolved += 1
                continue
            if g > best_gain:
                best_gain, best_c = g, c
        gains[r], best[r] = best_gain, best_c
    return TruthfulnessReport(
        voters, gains, benefits, best, np.linalg.norm(u[voters], axis=1), len(shared) + local + 1, unsolved
    )


#: A report whose spread under the round's lottery is below this has no direction to push:
#: at equal spend it moves nothing (an indifferent report abstains).
SPREAD_TOL = 1e-12
#: Gains from misreporting below GAIN_TOL x max(1, |benefit from voting|) are the round-off of
#: the time averages (the truthful report replays X-bar exactly), reported as 0.
GAIN_TOL = 1e-12
#: Candidate reports evaluated together in `realized_truthfulness_check` (a (block, T, k) temporary).
CANDIDATE_BLOCK = 32


def _std_under(p: np.ndarray, v: np.ndarray) -> np.ndarray:
    """sd_{p_t}(v) for lotteries p (T, k) and reports v (..., k): (..., T)."""
    mean = v @ p.T  # (..., T)
    second = (v * v) @ p.T
    return np.sqrt(np.maximum(second - mean * mean, 0.0))


def realized_truthfulness_check(
    outcomes: np.ndarray,
    bids: np.ndarray,
    utilities: np.ndarray,
    voters: np.ndarray | list,
    eta: float,
    rng: np.random.Generator,
    *,
    grid: int = 3,
    random: int = 64,
    local: int = 32,
    local_scale: float = 0.1,
) -> TruthfulnessReport:
    """Eq. (28) of Braverman 2021 §3.1 on the outcome a run's learners reached, not on a
    one-shot rule: M(u_-i, u_i) is the realized time-average lottery X-bar, and M(u_-i, v)
    the time average of the lotteries the APEX outcome map (p = softmax(sum_j lambda_j u_j /
    eta), Algorithms 1 and 2 on the simplex with the entropy regularizer) gives when every
    other voter keeps the bid it played in that round and voter i reports v instead of u_i;
    M(u_-i, 0) the same with voter i abstaining.

    outcomes: (T, k) the lottery of every round; bids: (T, len(voters)) each sampled
    voter's played bid lambda_{i,t}; utilities: (n, k) the (normalized) utilities the
    mechanism scores; eta: its regularizer weight (eta_total). The others' scores are read
    off the round's own lottery, log p_t - lambda_{i,t} u_i / eta (softmax is exact here),
    so only the sampled voters' bids are needed. A deviation keeps voter i's spend: Algorithm
    2's price at the round's lottery is lambda^2 Var_{p_t}(u) / (2 eta), so v is played with
    lambda' = lambda_{i,t} sd_{p_t}(u_i) / sd_{p_t}(v) (priced at the realized p_t, first
    order in one voter's influence, which is O(1/n) with eta_total = eta n; APEX's VCG
    charge has the same quadratic form in that limit). Candidates as `truthfulness_check`;
    the truthful report gives exactly X-bar, so the benefit from misreporting is >= 0."""
    p = check_lottery_path(outcomes)
    t, k = p.shape
    u = np.asarray(utilities, dtype=np.float64)
    voters = np.asarray(voters, dtype=np.int64)
    lam = np.asarray(bids, dtype=np.float64).reshape(t, -1)
    if u.ndim != 2 or u.shape[1] != k:
        raise ValueError(f"utilities must be (n, {k}), got {u.shape}")
    if lam.shape != (t, voters.size):
        raise ValueError(f"bids must be ({t}, {voters.size}) (one column per voter), got {lam.shape}")
    if voters.size and (voters.min() < 0 or voters.max() >= u.shape[0]):
        raise ValueError(f"voters must index 0..{u.shape[0] - 1}, got {voters.tolist()}")
    _check_positive(eta=eta)
    shared = misreport_candidates(k, rng, grid=grid, random=random)
    x_bar = p.mean(axis=0)
    log_p = np.log(np.maximum(p, 1e-300))
    gains, benefits, best = np.zeros(voters.size), np.zeros(voters.size), np.zeros((voters.size, k))
    for r, i in enumerate(voters):
        ui = u[i]
        others = log_p - (lam[:, r, None] * ui[None, :]) / eta  # (T, k) the others' scores / eta
        benefits[r] = ui @ (x_bar - softmax(others, 1.0).mean(axis=0))
        spend_sd = lam[:, r] * _std_under(p, ui)  # lambda_{i,t} sd_{p_t}(u_i): the spend to keep
        cands = np.vstack([ui[None, :], shared, ui + local_scale * rng.standard_normal((local, k))])
        best_gain, best_c = 0.0, ui
        for lo in range(0, cands.shape[0], CANDIDATE_BLOCK):
            block = cands[lo : lo + CANDIDATE_BLOCK]  # (c, k)
            sd = _std_under(p, block)  # (c, T)
            weight = np.divide(spend_sd[None, :], sd, out=np.zeros_like(sd), where=sd > SPREAD_TOL)
            scores = others[None] + weight[:, :, None] * block[:, None, :] / eta  # (c, T, k)
            lotteries = softmax(scores, 1.0).mean(axis=1)  # (c, k): M(u_-i, v)
            g = (lotteries - x_bar) @ ui
            j = int(np.argmax(g))
            if g[j] > best_gain:
                best_gain, best_c = float(g[j]), block[j]
        if best_gain <= GAIN_TOL * max(1.0, abs(benefits[r])):
            best_gain, best_c = 0.0, ui
        gains[r], best[r] = best_gain, best_c
    norms = np.linalg.norm(u[voters], axis=1) if voters.size else np.zeros(0)
    return TruthfulnessReport(voters, gains, benefits, best, norms, len(shared) + local + 1, 0)


def check_lottery_path(outcomes: np.ndarray) -> np.ndarray:
    """(T, k) lotteries, finite, >= 0, rows summing to 1 (to 1e-9)."""
    p = np.asarray(outcomes, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"outcomes must be a non-empty (T, k) array, got shape {p.shape}")
    if not (np.isfinite(p).all() and (p >= 0).all() and np.allclose(p.sum(axis=1), 1.0, atol=1e-9)):
        raise ValueError("outcomes must be lotteries: finite, >= 0, rows summing to 1")
    return p

