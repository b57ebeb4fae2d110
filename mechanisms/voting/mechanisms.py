"""Voting with cardinal preferences on the simplex (Braverman 2021 §3.1, Problem 16).

X = Delta_k (lotteries over k alternatives); voter i's utility is linear,
f_i(p) = sum_j u_ij p_j, with each voter's utilities normalized to min 0 / max 1 (the
outcome must not depend on scaling or shifting a voter's report, §3.1). The regularizer
is R(p) = eta * H(p) (entropy), so the APEX heuristic H is the exact maximizer
p = softmax(s / eta) of the linear score s plus entropy, or mirror ascent when the
principal utility f_0 is not linear.

`SimplexVoting` is the APEX problem (outcome space + heuristic) for `mechanisms.apex.algorithm1.Apex`
(Algorithm 1) and `mechanisms.apex.algorithm2.InfinitesimalApex` (Algorithm 2). The
baselines — plurality (majority for k = 2), randomized dictatorship and quadratic voting
on the simplex — are mechanisms of their own, run on the same fixed utilities.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import numpy as np

from mechanisms.apex.hooks import LAMBDA_MAX
from mechanisms.base import Mechanism, Reports, RoundResult, check_vector, clip_reports
from mechanisms.registry import BRAVERMAN, cite, register_mechanism
from mechanisms.voting.simplex import check_lottery, entropy, mirror_ascent, softmax, tangent_basis

#: Probabilities are floored here in the Hessian of the entropy (see `neg_hessian`).
HESSIAN_PROB_FLOOR = 1e-12
#: Utility spreads below this count as an indifferent voter (all alternatives equal).
INDIFFERENCE_TOL = 1e-12


def check_utilities(u: np.ndarray | list, name: str = "utilities") -> np.ndarray:
    """Validate an (n, k) finite utility matrix with n >= 1 voters and k >= 2 alternatives."""
    arr = np.asarray(u, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d (voters x alternatives) array, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 2:
        raise ValueError(f"{name} needs >= 1 voter and >= 2 alternatives, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{i}, {j}] must be finite, got {arr[i, j]}")
    return arr


def normalize_utilities(u: np.ndarray | list) -> np.ndarray:
    """Rescale each voter's row affinely to min 0 / max 1 (Braverman 2021 §3.1: reports are
    directions, invariant to scaling and shifting). Indifferent voters get all zeros."""
    arr = check_utilities(u)
    lo = arr.min(axis=1, keepdims=True)
    spread = arr.max(axis=1, keepdims=True) - lo
    return np.where(spread > INDIFFERENCE_TOL, (arr - lo) / np.where(spread > 0, spread, 1.0), 0.0)


class Principal(Protocol):
    """A concave principal utility f_0 on the simplex, vectorized over leading axes."""

    smoothness: float

    def value(self, p: np.ndarray) -> np.ndarray: ...
    def gradient(self, p: np.ndarray) -> np.ndarray: ...
    def hessian(self, p: np.ndarray) -> np.ndarray: ...


class LinearPrincipal:
    """f_0(p) = c . p (a fixed preference of the principal); 0-smooth, so the heuristic
    stays the exact softmax."""

    smoothness = 0.0

    def __init__(self, c: np.ndarray | list) -> None:
        self.c = check_vector("principal c", c, nonneg=False)

    def value(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(p) @ self.c

    def gradient(self, p: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.c, np.shape(p))

    def hessian(self, p: np.ndarray) -> np.ndarray:
        return np.zeros((self.c.shape[0], self.c.shape[0]))


class QuadraticPrincipal:
    """f_0(p) = -gamma * ||p - target||^2: the principal dislikes straying from a default
    lottery. Its l1 -> l_inf smoothness constant is 2 * gamma (mirror-ascent step)."""

    def __init__(self, target: np.ndarray | list, gamma: float) -> None:
        self.target = np.asarray(target, dtype=np.float64)
        check_lottery("principal target", self.target, self.target.shape[0])
        if not gamma >= 0 or not np.isfinite(gamma):
            raise ValueError(f"principal gamma must be finite and >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.smoothness = 2.0 * self.gamma

    def value(self, p: np.ndarray) -> np.ndarray:
        return -self.gamma * ((np.asarray(p) - self.target) ** 2).sum(axis=-1)

    def gradient(self, p: np.ndarray) -> np.ndarray:
        return -2.0 * self.gamma * (np.asarray(p) - self.target)

    def hessian(self, p: np.ndarray) -> np.ndarray:
        return -2.0 * self.gamma * np.eye(self.target.shape[0])


class SimplexVoting:
    """APEX problem for voting on Delta_k (Braverman 2021 Problem 16.1).

    F(p) = f_0(p) + sum_j w_j u_j . p + eta H(p). With a linear (or absent) f_0 the
    maximizer is p = softmax(s / eta), s = c + w U, exactly; otherwise mirror ascent from
    the previous outcome (the heuristic's start point). Also exposes what Algorithm 2
    needs: gradients of f_i, the Hessian of -F and the tangent-space basis."""

    def __init__(
        self,
        utilities: np.ndarray | list,
        eta: float,
        principal: Principal | None = None,
        *,
        normalize: bool = True,
    ) -> None:
        self.u = normalize_utilities(utilities) if normalize else check_utilities(utilities)
        if not (np.isfinite(eta) and eta > 0):
            raise ValueError(f"eta must be finite and > 0, got {eta}")
        self.eta = float(eta)
        self.n, self.k = self.u.shape
        self.principal = principal
        self._linear_c = (
            np.zeros(self.k)
            if principal is None
            else principal.c
            if isinstance(principal, LinearPrincipal)
            else None
        )
        if self._linear_c is not None and self._linear_c.shape != (self.k,):
            raise ValueError(f"principal c must have length k = {self.k}, got {self._linear_c.shape}")

    # --- the ApexProblem protocol -------------------------------------------------
    def utilities(self, x: np.ndarray) -> np.ndarray:
        """(n,) f_i(p) = u_i . p (or (..., n) for a batch of lotteries (..., k))."""
        return np.asarray(x) @ self.u.T

    def base(self, x: np.ndarray) -> np.ndarray | float:
        """f_0(p) + eta H(p) (vectorized over leading axes)."""
        f0 = 0.0 if self.principal is None else self.principal.value(x)
        return f0 + self.eta * entropy(x)

    def initial(self) -> np.ndarray:
        return np.full(self.k, 1.0 / self.k)

    def scores(self, weights: np.ndarray) -> np.ndarray:
        """The linear part of F: w U (+ c for a linear principal)."""
        s = np.asarray(weights, dtype=np.float64) @ self.u
        return s if self._linear_c is None else s + self._linear_c

    def solve(self, scores: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        """argmax_p scores . p + f_0(p) + eta H(p), batched over leading axes of `scores`."""
        if self._linear_c is not None:
            return softmax(scores, self.eta)
        p0 = self.initial() if start is None else start
        principal = self.principal
        assert principal is not None  # no principal means f_0 = 0, linear: handled above
        return mirror_ascent(scores, principal.gradient, self.eta, principal.smoothness, p0)

    def argmax(self, weights: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        return self.solve(self.scores(weights), start)

    def argmax_without_each(self, weights: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        """(n, k): row i maximizes F^{-i} (voter i's term removed), in one batched solve."""
        w = np.asarray(weights, dtype=np.float64)
        return self.solve(self.scores(w)[None, :] - w[:, None] * self.u, start)

    # --- what Algorithm 2 needs -----------------------------------------------------
    def gradients(self, x: np.ndarray) -> np.ndarray:
        """(n, k) grad f_i(p) = u_i (linear utilities)."""
        return self.u

    def neg_hessian(self, weights: np.ndarray, x: np.ndarray) -> np.ndarray:
        """(..., k, k) Hessian of -F at p (batched over leading axes of p), in ambient
        coordinates: eta diag(1/p) - Hess f_0(p). The f_i are linear, so the weights
        contribute nothing."""
        # Floor: a softmax coordinate that underflowed (p_j < 1e-12) would make the form
        # numerically singular; its true contribution to g^T H^{-1} g is below 1e-12 anyway.
        p = np.maximum(np.asarray(x, dtype=np.float64), HESSIAN_PROB_FLOOR)
        h = self.eta * (1.0 / p)[..., :, None] * np.eye(self.k)
        return h if self.principal is None else h - self.principal.hessian(p)

    #: Utilities are linear in p: gradients and the Hessian of -F do not depend on the bids.
    linear_utilities = True

    def agent_utilities(self, agents: np.ndarray, x: np.ndarray) -> np.ndarray:
        """(m, ...) f_i(x[r]) for i = agents[r] and lotteries x (m, ..., k)."""
        return np.einsum("m...k,mk->m...", x, self.u[np.asarray(agents)])

    def agent_gradients(self, agents: np.ndarray, x: np.ndarray) -> np.ndarray:
        """(m, ..., k) grad f_i at lotteries x (m, ..., k) for i = agents[r]: u_i."""
        g = self.u[np.asarray(agents)]
        return np.broadcast_to(g.reshape(g.shape[0], *([1] * (np.ndim(x) - 2)), self.k), np.shape(x))

    def tangent_basis(self, x: np.ndarray) -> np.ndarray:
        """(k, k-1) orthonormal basis of {x : sum x = 0}, the simplex's tangent space."""
        return tangent_basis(self.k)

    # --- counterfactual menus (Apex hook) ------------------------------------------------
    def menu_outcomes(
        self, weights: np.ndarray, agents: np.ndarray, alternatives: np.ndarray, start: Any = None
    ) -> np.ndarray:
        """(m, K, k) lotteries when agents[r] bids alternatives[r, j], the others as in
        `weights`: one batched solve."""
        w = np.asarray(weights, dtype=np.float64)
        s_minus = self.scores(w)[None, :] - w[agents, None] * self.u[agents]  # (m, k)
        s = s_minus[:, None, :] + np.asarray(alternatives)[:, :, None] * self.u[agents][:, None, :]
        return self.solve(s, start)

    def quadratic_menu(
        self, weights: np.ndarray, agents: np.ndarray, alternatives: np.ndarray, start: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Algorithm 2's menu pieces (Braverman 2021 §2.2, eq. 23), (m, K) each: f_i(X~) and
        g^T H~^{-1} g with g = u_i, at X~ = H(F^{-i} + a f_i) for i = agents[r] bidding
        a = alternatives[r, k]. The Hessian of -F is diag(h) here, h = eta / p (p floored
        as in `neg_hessian`) plus 2 gamma for a quadratic f_0, and on the tangent space
        {sum x = 0} the inverse form of H~ = diag(h) / 2 is a weighted variance:
        g^T H~^{-1} g = sum_j d_j (u_j - ubar)^2, d = 2 / h, ubar = sum d u / sum d
        (y = H~^{-1}(g + c 1) with c making sum y = 0). So no (k, k) matrix is formed;
        another f_0 goes through the restricted Hessian (`algorithm2.quadratic_forms`)."""
        agents = np.asarray(agents)
        alts = np.asarray(alternatives, dtype=np.float64)
        ua = self.u[agents]
        u_t = ua.T[:, :, None]  # (k, m, 1): the lottery's axis first (see `menu_all`)
        if self._linear_c is not None:
            w = np.asarray(weights, dtype=np.float64)
            s_minus = self.scores(w)[None, :] - w[agents, None] * ua
            p = (s_minus.T[:, :, None] + alts[None] * u_t) / self.eta
            p -= p.max(axis=0)
            np.exp(p, out=p)
            p /= p.sum(axis=0)
        else:
            p = np.moveaxis(self.menu_outcomes(weights, agents, alts, start), -1, 0)
        util = (p * u_t).sum(axis=0)
        principal = self.principal
        if principal is None or isinstance(principal, (LinearPrincipal, QuadraticPrincipal)):
            h = self.eta * (1.0 / np.maximum(p, HESSIAN_PROB_FLOOR))
            if isinstance(principal, QuadraticPrincipal):
                h += 2.0 * principal.gamma
            d = 2.0 / h
            ubar = (d * u_t).sum(axis=0) / d.sum(axis=0)
            return util, (d * (u_t - ubar) ** 2).sum(axis=0)
        from mechanisms.apex.algorithm2 import quadratic_forms, restricted_hessian

        x = np.moveaxis(p, 0, -1)
        basis = self.tangent_basis(x)
        h2 = restricted_hessian(self.neg_hessian(weights, x), basis)
        g = np.broadcast_to(ua[:, None, :], x.shape) @ basis
        return util, quadratic_forms(h2, g[..., None, :])[..., 0]

    def others_value(self, weights: np.ndarray, agents: np.ndarray, x: np.ndarray) -> np.ndarray:
        """F^{-i}(x) = base(x) + sum_{j != i} w_j f_j(x) for i = agents[r] and lotteries
        x[r, ...] of shape (m, ..., k)."""
        w = np.asarray(weights, dtype=np.float64)
        wu = (w @ self.u)[None, :] - w[agents, None] * self.u[agents]  # (m, k)
        lin = np.einsum("m...k,mk->m...", x, wu)
        return self.base(x) + lin

    def menu_all(self, weights, start, x_next, alternatives, agents, cache) -> tuple[np.ndarray, np.ndarray]:
        """Exact Algorithm 1 menu (Braverman 2021 §2.1.2), vectorized: X~ = H(F^{-i} + a f_i),
        u = f_i(X~), C = F^{-i}(X^{-i}) - F^{-i}(X~); F^{-i}(X^{-i}) is cached per round.

        The others' part of the scores, s^{-i} = c + sum_{j != i} w_j u_j, is shared by every
        alternative. With the exact softmax H (linear or no f_0) the value needs no entropy:
        F^{-i}(X~) + a f_i(X~) = max_p (s^{-i} + a u_i) . p + eta H(p) = eta log sum exp(s / eta),
        so one exp per entry gives u (the softmax-weighted u_i) and C together. Mirror ascent
        (a curved f_0) evaluates F^{-i} at its outcomes."""
        if "opt_minus" not in cache:
            every = np.arange(self.n)
            cache["opt_minus"] = self.others_value(weights, every, self.argmax_without_each(weights, start))
        if self._linear_c is None:
            x = self.menu_outcomes(weights, agents, alternatives, start)
            util = np.einsum("mak,mk->ma", x, self.u[agents])
            cost = cache["opt_minus"][agents][:, None] - self.others_value(weights, agents, x)
            return util, np.maximum(cost, 0.0)
        w = np.asarray(weights, dtype=np.float64)
        alts = np.asarray(alternatives, dtype=np.float64)
        ua = self.u[agents]  # (m, k)
        s_minus = self.scores(w)[None, :] - w[agents, None] * ua
        # Alternatives of the lottery first, (k, m, K): numpy reduces a short last axis slowly.
        u_t = ua.T[:, :, None]
        z = (s_minus.T[:, :, None] + alts[None] * u_t) / self.eta
        top = z.max(axis=0)
        z -= top
        np.exp(z, out=z)
        total = z.sum(axis=0)
        util = (z * u_t).sum(axis=0) / total
        value = self.eta * (top + np.log(total))  # F^{-i}(X~) + a f_i(X~)
        cost = cache["opt_minus"][agents][:, None] - (value - alts * util)
        return util, np.maximum(cost, 0.0)

    def as_array(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    @functools.cached_property
    def utility_span(self) -> float:
        """max f_i - min f_i over the simplex: 1 for normalized utilities (the utilities are
        fixed at construction, so computed once: Apex reads it every round)."""
        return float((self.u.max(axis=1) - self.u.min(axis=1)).max())

    @property
    def tolerance(self) -> float:
        """How far H may stop short of the maximum of F: 0 for the exact softmax; mirror
        ascent stops at a 1e-12 lottery step (bounded slack, taken generously)."""
        return 0.0 if self._linear_c is not None else 1e-9

    @property
    def quadratic_price_bound(self) -> float:
        """Upper bound on grad f_i^T H_t^{-1} grad f_i (Algorithm 2 price per lambda^2 / 4):
        -Hess F >= eta diag(1/p) on the tangent space (f_0 concave), so the form is at most
        2 Var_p(u_i) / eta <= span^2 / (2 eta)."""
        return self.utility_span**2 / (2.0 * self.eta)


def voting_externalities(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(n,) Braverman 2021 §2.3.4 externality of each voter under the lottery p: the others'
    best total utility (at the best alternative for them) minus their total under p,
    Ext_i = max_j sum_{i' != i} u_i'j - sum_{i' != i} u_i' . p."""
    u = np.asarray(u, dtype=np.float64)
    others = u.sum(axis=0)[None, :] - u
    return others.max(axis=1) - others @ np.asarray(p, dtype=np.float64)


def favorites(u: np.ndarray) -> np.ndarray:
    """(n, k) each voter's favorite alternative as a fractional vote (ties split evenly;
    an indifferent voter's vote is uniform)."""
    top = u >= u.max(axis=1, keepdims=True) - INDIFFERENCE_TOL
    return top / top.sum(axis=1, keepdims=True)


def plurality_lottery(totals: np.ndarray) -> np.ndarray:
    """Uniform lottery over the alternatives with the most votes, along the last axis
    (a uniform lottery over all alternatives when nobody votes)."""
    t = np.asarray(totals, dtype=np.float64)
    win = t >= t.max(axis=-1, keepdims=True) - 1e-9
    return win / win.sum(axis=-1, keepdims=True)


def dictatorship_lottery(totals: np.ndarray) -> np.ndarray:
    """Randomized dictatorship: a uniformly random participant's favorite, i.e. the vote
    shares (uniform when nobody votes), along the last axis."""
    t = np.asarray(totals, dtype=np.float64)
    mass = t.sum(axis=-1, keepdims=True)
    return np.where(mass > 0, t / np.where(mass > 0, mass, 1.0), 1.0 / t.shape[-1])


class _FixedVoteMechanism(Mechanism):
    """A token-free baseline: a voter with report > 0 casts her sincere favorite vote,
    report 0 abstains; charges are 0. Utilities are u_i . p for the lottery p."""

    def __init__(self, utilities: np.ndarray | list) -> None:
        self.u = normalize_utilities(utilities)
        self.n, self.k = self.u.shape
        self.votes = favorites(self.u)

    def lottery(self, totals: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids = check_vector("bids", reports.bids, self.n)
        totals = (bids > 0).astype(float) @ self.votes
        p = self.lottery(totals)
        return RoundResult(p, self.u @ p, np.zeros(self.n), allocated=True, extras={"lottery": p})

    def outcome_array(self, outcome: np.ndarray) -> np.ndarray:
        """The lottery p in Delta_k (`OutcomeAverage`: X-bar is the mean lottery)."""
        return np.asarray(outcome, dtype=np.float64)

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact: only participation matters, so two lotteries per agent (in / out)."""
        agents = np.arange(self.n) if agents is None else np.asarray(agents)
        alts = np.asarray(alternatives, dtype=np.float64)
        totals = (np.asarray(reports.bids) > 0).astype(float) @ self.votes
        own = (np.asarray(reports.bids)[agents] > 0)[:, None] * self.votes[agents]
        t_out = totals[None, :] - own
        lot = self.lottery(np.stack([t_out, t_out + self.votes[agents]], axis=1))  # (m, 2, k)
        util = np.einsum("msk,mk->ms", lot, self.u[agents])
        u = np.where(alts > 0, util[:, 1:2], util[:, 0:1])
        return u, np.zeros_like(u)


class Plurality(_FixedVoteMechanism):
    """Plurality (the majority rule for k = 2, Braverman 2021 eq. 27): the alternative with the
    most favorite-votes wins; ties give a uniform lottery over the tied winners."""

    name = "plurality"

    def lottery(self, totals: np.ndarray) -> np.ndarray:
        return plurality_lottery(totals)


class RandomizedDictatorship(_FixedVoteMechanism):
    """Randomized dictatorship (Braverman 2021 §3.1): a uniformly random voter picks her
    favorite, so the lottery is the vector of favorite-vote shares."""

    name = "randomized_dictatorship"

    def lottery(self, totals: np.ndarray) -> np.ndarray:
        return dictatorship_lottery(totals)


def quadratic_directions(u: np.ndarray) -> np.ndarray:
    """(n, k) unit-l2 vote directions (u_i - mean u_i) / ||u_i - mean u_i||_2 (Braverman
    §3.1: v = u / ||u||_2). Centering first: on the simplex a constant vote moves nothing,
    so an uncentered vote would waste tokens. Indifferent voters get 0."""
    c = u - u.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(c, axis=1, keepdims=True)
    return np.where(norm > INDIFFERENCE_TOL, c / np.where(norm > 0, norm, 1.0), 0.0)


class QuadraticVoting(Mechanism):
    """Quadratic voting on the simplex (Braverman 2021 §3.1): a report lambda_i >= 0 buys the
    vote v_i = lambda_i * d_i along the voter's sincere unit direction d_i, and the lottery
    is argmax_p (sum_i v_i) . p + eta H(p) = softmax(sum_i v_i / eta) — APEX's outcome map.
    The price is the identity quadratic form, C_i = ||v_i||^2 / (2 eta) = lambda_i^2 / (2 eta):
    Algorithm 2's price lambda^2 / 4 * g^T H^{-1} g with H replaced by (eta / 2) I, so both
    mechanisms charge in the same units and differ only in the form (v^T v versus APEX's
    v^T A v, §3.1)."""

    name = "quadratic_voting"
    #: APEX's report range (`mechanisms.apex.hooks.LAMBDA_MAX`): the same outcome map
    #: and price units; lambda^2 overflows from about 1e154.
    report_max = LAMBDA_MAX

    def __init__(self, utilities: np.ndarray | list, eta: float) -> None:
        self.u = normalize_utilities(utilities)
        self.n, self.k = self.u.shape
        if not (np.isfinite(eta) and eta > 0):
            raise ValueError(f"eta must be finite and > 0, got {eta}")
        self.eta = float(eta)
        self.directions = quadratic_directions(self.u)

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids = clip_reports(check_vector("bids", reports.bids, self.n), self.report_max)
        p = softmax(bids @ self.directions, self.eta)
        return RoundResult(
            p, self.u @ p, self.price(bids, np.arange(self.n)), allocated=True, extras={"lottery": p}
        )

    def outcome_array(self, outcome: np.ndarray) -> np.ndarray:
        """The lottery p in Delta_k (`OutcomeAverage`: X-bar is the mean lottery)."""
        return np.asarray(outcome, dtype=np.float64)

    def enforce_budget(self, bids: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        """The price depends on the own bid only, so cap lambda_i at sqrt(2 eta remaining_i)
        (any lambda for an indifferent voter costs nothing)."""
        cap = np.sqrt(2.0 * self.eta * np.maximum(np.asarray(remaining, dtype=np.float64), 0.0))
        return np.where(self.price(np.ones(self.n), np.arange(self.n)) > 0, np.minimum(bids, cap), bids)

    def price(self, bids: np.ndarray, agents: np.ndarray) -> np.ndarray:
        """||lambda d_i||^2 / (2 eta) (0 for an indifferent voter, whose d_i = 0)."""
        norm2 = (self.directions[agents] ** 2).sum(axis=1)
        return np.asarray(bids) ** 2 * (norm2 if np.ndim(bids) == 1 else norm2[:, None]) / (2.0 * self.eta)

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        agents = np.arange(self.n) if agents is None else np.asarray(agents)
        alts = clip_reports(np.asarray(alternatives, dtype=np.float64), self.report_max)
        bids = clip_reports(np.asarray(reports.bids, dtype=np.float64), self.report_max)
        d = self.directions[agents]
        base = (bids @ self.directions)[None, :] - bids[agents, None] * d
        # The others' votes are shared by every alternative; the lottery's axis first,
        # (k, m, K), as numpy reduces a short last axis slowly.
        z = (base.T[:, :, None] + alts[None] * d.T[:, :, None]) / self.eta
        z -= z.max(axis=0)
        np.exp(z, out=z)
        util = (z * self.u[agents].T[:, :, None]).sum(axis=0) / z.sum(axis=0)
        return util, self.price(alts, agents)


# --- the `voting` family of the mechanism registry: factories (utilities (n, k), eta_total) ---


@register_mechanism(
    "apex", family="voting", citation=cite(BRAVERMAN, "§2 Algorithm 1, §3.1"),
    doc="APEX (Algorithm 1) with the entropy regularizer eta_total H(p) and exact VCG token charges.",
)
def apex_voting(utilities: np.ndarray, eta_total: float) -> Mechanism:
    from mechanisms.apex.algorithm1 import Apex

    return Apex(SimplexVoting(utilities, eta_total), name="apex")


@register_mechanism(
    "apex2", family="voting", citation=cite(BRAVERMAN, "§2 Algorithm 2, §3.1"),
    doc="Infinitesimal APEX (Algorithm 2): the APEX lottery with quadratic prices from one solve.",
)
def apex2_voting(utilities: np.ndarray, eta_total: float) -> Mechanism:
    from mechanisms.apex.algorithm2 import InfinitesimalApex

    return InfinitesimalApex(SimplexVoting(utilities, eta_total), name="apex2")


@register_mechanism(
    "plurality", family="voting", citation=cite(BRAVERMAN, "§3.1"),
    doc="Plurality: the alternative with the most bid-weighted favorite votes (token-free).",
)
def plurality_voting(utilities: np.ndarray, eta_total: float) -> Mechanism:
    return Plurality(utilities)


@register_mechanism(
    "dictatorship", family="voting", citation=cite(BRAVERMAN, "§3.1"),
    doc="Randomized dictatorship: a random voter's favorite alternative (token-free).",
)
def dictatorship_voting(utilities: np.ndarray, eta_total: float) -> Mechanism:
    return RandomizedDictatorship(utilities)


@register_mechanism(
    "quadratic", family="voting", citation=cite(BRAVERMAN, "§3.1"),
    doc="Quadratic voting on the simplex: the same outcome map as APEX, identity price form.",
)
def quadratic_voting(utilities: np.ndarray, eta_total: float) -> Mechanism:
    return QuadraticVoting(utilities, eta_total)
