"""Two-sided matching with cardinal utilities (Braverman 2021 §3.3): APEX over fractional
bipartite matchings, Gale–Shapley deferred acceptance, and the comparison metrics.

m hospitals and m doctors are all players: player h < m is hospital h, player m + d is
doctor d. uh[h, d] is hospital h's utility for doctor d, ud[d, h] doctor d's for hospital
h, each player's row affinely normalized to min 0 / max 1 (the outcome must not depend
on scaling or shifting one player's utilities, §3.3: instance (33) becomes (34)).

The outcome is a doubly stochastic X (X_hd = probability that h and d are matched; by
Birkhoff–von Neumann a lottery over perfect matchings). Player utilities are linear:
f_h(X) = sum_d X_hd uh[h, d], f_d(X) = sum_h X_hd ud[d, h], so F = sum_{h,d} X_hd
(lambda_h uh[h, d] + lambda_d ud[d, h]) + eta H(X) and the heuristic is Sinkhorn.
Token charges are Algorithm 1's, via `mechanisms.apex.algorithm1.Apex`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from mechanisms.assignment.sinkhorn import matrix_entropy, sinkhorn
from mechanisms.base import Mechanism, Reports, RoundResult, check_vector
from mechanisms.registry import BRAVERMAN, cite, register_mechanism
from mechanisms.voting.mechanisms import INDIFFERENCE_TOL

Side = Literal["hospitals", "doctors"]


def check_market(uh: np.ndarray | list, ud: np.ndarray | list) -> tuple[np.ndarray, np.ndarray]:
    """Validate square, finite m x m utility matrices of the two sides (m >= 1)."""
    out = []
    for name, u in (("hospital_utilities", uh), ("doctor_utilities", ud)):
        a = np.asarray(u, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty square m x m array, got shape {a.shape}")
        if not np.isfinite(a).all():
            i, j = np.argwhere(~np.isfinite(a))[0]
            raise ValueError(f"{name}[{i}, {j}] must be finite, got {a[i, j]}")
        out.append(a)
    if out[0].shape != out[1].shape:
        raise ValueError(f"doctor_utilities must have shape {out[0].shape}, got {out[1].shape}")
    return out[0], out[1]


def normalize_rows(u: np.ndarray) -> np.ndarray:
    """Each player's row affinely to min 0 / max 1; an indifferent player's row is all 0."""
    lo = u.min(axis=1, keepdims=True)
    spread = u.max(axis=1, keepdims=True) - lo
    return np.where(spread > INDIFFERENCE_TOL, (u - lo) / np.where(spread > 0, spread, 1.0), 0.0)


def player_coefficients(uh: np.ndarray, ud: np.ndarray) -> np.ndarray:
    """(2m, m, m) E with f_i(X) = <E_i, X>: hospital h's row h is uh[h], doctor d's column
    d is ud[d]."""
    m = uh.shape[0]
    e = np.zeros((2 * m, m, m))
    idx = np.arange(m)
    e[idx, idx, :] = uh
    e[m + idx, :, idx] = ud
    return e


class TwoSidedMatching:
    """APEX problem (Braverman 2021 §3.3): X = doubly stochastic m x m matrices, f_i linear,
    R(X) = eta H(X), H = Sinkhorn (exact up to MARGINAL_TOL)."""

    def __init__(
        self,
        hospital_utilities: np.ndarray | list,
        doctor_utilities: np.ndarray | list,
        eta: float,
        *,
        normalize: bool = True,
    ) -> None:
        uh, ud = check_market(hospital_utilities, doctor_utilities)
        if normalize:
            uh, ud = normalize_rows(uh), normalize_rows(ud)
        if not (np.isfinite(eta) and eta > 0):
            raise ValueError(f"eta must be finite and > 0, got {eta}")
        self.uh, self.ud, self.eta = uh, ud, float(eta)
        self.m = uh.shape[0]
        self.n = 2 * self.m
        self.coef = player_coefficients(uh, ud)

    def utilities(self, x: np.ndarray) -> np.ndarray:
        """(..., 2m) f_i(X) for X (..., m, m)."""
        return np.einsum("ihd,...hd->...i", self.coef, np.asarray(x, dtype=np.float64))

    def base(self, x: np.ndarray) -> np.ndarray | float:
        return self.eta * matrix_entropy(x)

    def initial(self) -> np.ndarray:
        return np.full((self.m, self.m), 1.0 / self.m)

    def scores(self, weights: np.ndarray) -> np.ndarray:
        """S_hd = lambda_h uh[h, d] + lambda_d ud[d, h]."""
        return np.einsum("i,ihd->hd", np.asarray(weights, dtype=np.float64), self.coef)

    def argmax(self, weights: np.ndarray, start: Any = None) -> np.ndarray:
        return sinkhorn(self.scores(weights), self.eta)

    def argmax_without_each(self, weights: np.ndarray, start: Any = None) -> np.ndarray:
        """(2m, m, m): X^{-i} for every player i in one batched Sinkhorn."""
        w = np.asarray(weights, dtype=np.float64)
        return sinkhorn(self.scores(w)[None] - w[:, None, None] * self.coef, self.eta)

    def others_value(self, weights: np.ndarray, agents: np.ndarray, x: np.ndarray) -> np.ndarray:
        """F^{-i}(X) for i = agents[r] and matrices x[r, ...] of shape (M, ..., m, m)."""
        w = np.asarray(weights, dtype=np.float64)
        s_minus = self.scores(w)[None] - w[agents, None, None] * self.coef[agents]
        return self.base(x) + np.einsum("r...hd,rhd->r...", x, s_minus)

    def menu_all(self, weights, start, x_next, alternatives, agents, cache) -> tuple[np.ndarray, np.ndarray]:
        """Exact Algorithm 1 menu (Braverman 2021 §2.1.2), one batched Sinkhorn over (agents, bids).

        No structure is shared across alternatives beyond the others' scores: each
        (agent, bid) is its own entropic assignment (no closed form, unlike the simplex's
        softmax), so a menu of K bids costs K Sinkhorn solves per agent, several rounds'
        worth (benchmarks/bench_recording.py); subsampling the recorded rounds is the remedy."""
        w = np.asarray(weights, dtype=np.float64)
        if "opt_minus" not in cache:
            every = np.arange(self.n)
            cache["opt_minus"] = self.others_value(w, every, self.argmax_without_each(w, start))
        coef = self.coef[agents]  # (M, m, m)
        s_minus = self.scores(w)[None] - w[agents, None, None] * coef
        s = s_minus[:, None] + np.asarray(alternatives)[:, :, None, None] * coef[:, None]
        x = sinkhorn(s, self.eta)  # (M, K, m, m)
        util = np.einsum("rkhd,rhd->rk", x, coef)
        cost = cache["opt_minus"][agents][:, None] - self.others_value(w, agents, x)
        return util, np.maximum(cost, 0.0)

    def as_array(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    @property
    def utility_span(self) -> float:
        return float(max(np.ptp(self.uh, axis=1).max(), np.ptp(self.ud, axis=1).max()))

    #: Slack of H (Apex.enforce_budget): Sinkhorn's marginals are within 1e-8 of 1 (usually
    #: 1e-10), which moves F by at most that times the score range — below 1e-5 for bids
    #: up to 10^2 (the report grid) on utilities in [0, 1].
    tolerance = 1e-5


# --- Gale–Shapley ----------------------------------------------------------------------
def preference_order(u: np.ndarray) -> np.ndarray:
    """(m, m) each row's partners from best to worst; ties broken by lower index."""
    return np.argsort(-u, axis=1, kind="stable")


def deferred_acceptance(uh: np.ndarray, ud: np.ndarray, proposing: Side = "hospitals") -> np.ndarray:
    """Gale–Shapley deferred acceptance (Gale & Shapley 1962). Returns match (m,), the
    doctor of each hospital. The proposing side gets its best stable matching; ties in a
    utility row are broken by lower index, both in proposing and in holding offers."""
    uh, ud = check_market(uh, ud)
    if proposing == "doctors":
        doctor_of = deferred_acceptance(ud, uh, "hospitals")
        match = np.empty_like(doctor_of)
        match[doctor_of] = np.arange(doctor_of.shape[0])
        return match
    if proposing != "hospitals":
        raise ValueError(f"proposing must be 'hospitals' or 'doctors', got {proposing!r}")
    m = uh.shape[0]
    order = preference_order(uh)
    rank = np.empty((m, m), dtype=np.int64)  # rank[d, h]: position of h in d's list
    rank[np.arange(m)[:, None], preference_order(ud)] = np.arange(m)[None, :]
    nxt = np.zeros(m, dtype=np.int64)
    held = np.full(m, -1, dtype=np.int64)  # hospital held by each doctor
    free = list(range(m))
    while free:
        h = free.pop()
        d = order[h, nxt[h]]
        nxt[h] += 1
        cur = held[d]
        if cur < 0:
            held[d] = h
        elif rank[d, h] < rank[d, cur]:
            held[d] = h
            free.append(cur)
        else:
            free.append(h)
    match = np.empty(m, dtype=np.int64)
    match[held] = np.arange(m)
    return match


def permutation_matrix(match: np.ndarray) -> np.ndarray:
    """X with X[h, match[h]] = 1."""
    m = len(match)
    x = np.zeros((m, m))
    x[np.arange(m), match] = 1.0
    return x


# --- metrics ----------------------------------------------------------------------------
def blocking_violations(uh: np.ndarray, ud: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(m, m) stability violation of each pair (h, d) for a fractional matching X:

        max(0, 1 - sum_{d' >=_h d} X_hd' - sum_{h' >=_d h} X_h'd + X_hd),

    the pair's constraint of the stable matching polytope (Vande Vate 1989; Rothblum
    1992), whose vertices are exactly the stable matchings. For a deterministic matching
    it is 1 on the blocking pairs (both strictly prefer each other to their partners) and
    0 elsewhere; for a lottery it needs only the marginals X, not a decomposition."""
    uh, ud = check_market(uh, ud)
    x = np.asarray(x, dtype=np.float64)
    # at_least_h[h, d] = sum of X[h, d'] over d' that h likes at least as much as d.
    at_least_h = ((uh[:, None, :] >= uh[:, :, None]) * x[:, None, :]).sum(axis=2)
    # at_least_d[h, d] = sum of X[h', d] over h' that d likes at least as much as h.
    at_least_d = ((ud[:, None, :] >= ud[:, :, None]) * x.T[:, None, :]).sum(axis=2).T
    return np.maximum(0.0, 1.0 - at_least_h - at_least_d + x)


def blocking_pairs(uh: np.ndarray, ud: np.ndarray, x: np.ndarray, tol: float = 1e-9) -> tuple[int, float]:
    """(count, mass): pairs with a positive stability violation and the total violation
    (both equal the number of blocking pairs for a deterministic matching)."""
    v = blocking_violations(uh, ud, x)
    return int((v > tol).sum()), float(v.sum())


def player_utilities(uh: np.ndarray, ud: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(2m,) hospitals' then doctors' utilities under X."""
    x = np.asarray(x, dtype=np.float64)
    return np.concatenate([(x * uh).sum(axis=1), (x * ud.T).sum(axis=0)])


def externalities(uh: np.ndarray, ud: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(2m,) Braverman 2021 §2.3.4 externality of each player under the (fractional) matching X:
    the utility loss it inflicts on the others,

        Ext_i(X) = max_M sum_{j != i} f_j(M) - sum_{j != i} f_j(X),

    the others' best total (o_A of §2.3.4, unweighted and unregularized) minus what they
    get. The max over perfect matchings is one linear assignment per player (the LP over
    the Birkhoff polytope has integral optima). §3.3: for instance (34) and
    X = (M1 + M2) / 2 every player's externality is 1/2."""
    from scipy.optimize import linear_sum_assignment

    uh, ud = check_market(uh, ud)
    coef = player_coefficients(uh, ud)
    x = np.asarray(x, dtype=np.float64)
    total = coef.sum(axis=0)
    out = np.empty(coef.shape[0])
    for i in range(coef.shape[0]):
        s = total - coef[i]
        rows, cols = linear_sum_assignment(s, maximize=True)
        out[i] = s[rows, cols].sum() - (s * x).sum()
    return out


# --- instances (Braverman 2021 §3.3) ----------------------------------------------------------
def instance_33() -> tuple[np.ndarray, np.ndarray]:
    """Instance (33): hospitals h1 = (9, 10), h2 = (0, 9) over (d1, d2); doctors
    d1 = (9, 0), d2 = (10, 9) over (h1, h2). The d1 row is lost in the text's table; it
    is fixed by the stated totals (M2 = 36 = 9 + u_d1(h1) + 9 + 9, M1 = 20 = 10 + 10 + 0
    + u_d1(h2)) and by normalizing to (34), where d1 = (1, 0)."""
    return np.array([[9.0, 10.0], [0.0, 9.0]]), np.array([[9.0, 0.0], [10.0, 9.0]])


def assortative(m: int) -> tuple[np.ndarray, np.ndarray]:
    """§3.3: every doctor gets utility i from h_i and every hospital utility i from d_i
    (i = 1..m), so all agree on h_1 < ... < h_m and d_1 < ... < d_m."""
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    ranks = np.tile(np.arange(1.0, m + 1), (m, 1))
    return ranks.copy(), ranks.copy()


# --- the ordinal baseline as a mechanism --------------------------------------------------
class DeferredAcceptance(Mechanism):
    """Gale–Shapley as a token-free mechanism on the players' sincere (fixed) preferences:
    the outcome is the proposing side's optimal stable matching whatever the bids;
    charges 0; utilities are the normalized f_i."""

    def __init__(
        self, hospital_utilities: np.ndarray | list, doctor_utilities: np.ndarray | list, proposing: Side = "hospitals"
    ) -> None:
        uh, ud = check_market(hospital_utilities, doctor_utilities)
        self.uh, self.ud = normalize_rows(uh), normalize_rows(ud)
        self.name = f"deferred_acceptance_{proposing}"
        self.match = deferred_acceptance(self.uh, self.ud, proposing)
        self.x = permutation_matrix(self.match)
        self.f = player_utilities(self.uh, self.ud, self.x)
        self.n = self.f.shape[0]

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        check_vector("bids", reports.bids, self.n)
        return RoundResult(self.x, self.f.copy(), np.zeros(self.n), allocated=True)

    def outcome_array(self, outcome: np.ndarray) -> np.ndarray:
        """The matching as an (m, m) permutation matrix (`OutcomeAverage`)."""
        return np.asarray(outcome, dtype=np.float64)

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        agents = np.arange(self.n) if agents is None else np.asarray(agents)
        alts = np.asarray(alternatives, dtype=np.float64)
        return np.broadcast_to(self.f[agents][:, None], alts.shape).copy(), np.zeros_like(alts)


# --- the `matching` family of the mechanism registry: factories (uh (m, m), ud (m, m), eta) ---


@register_mechanism(
    "apex", family="matching", citation=cite(BRAVERMAN, "§3.3"),
    doc="APEX (Algorithm 1) on fractional matchings: entropy-regularized, Sinkhorn, VCG token charges.",
)
def apex_matching(uh: np.ndarray, ud: np.ndarray, eta: float) -> Mechanism:
    from mechanisms.apex.algorithm1 import Apex

    return Apex(TwoSidedMatching(uh, ud, eta), name="apex")


@register_mechanism(
    "da_hospitals", family="matching", citation=cite(BRAVERMAN, "§3.3"),
    doc="Gale-Shapley deferred acceptance, hospitals proposing (ordinal, token-free).",
)
def da_hospitals(uh: np.ndarray, ud: np.ndarray, eta: float) -> Mechanism:
    return DeferredAcceptance(uh, ud, "hospitals")


@register_mechanism(
    "da_doctors", family="matching", citation=cite(BRAVERMAN, "§3.3"),
    doc="Gale-Shapley deferred acceptance, doctors proposing (ordinal, token-free).",
)
def da_doctors(uh: np.ndarray, ud: np.ndarray, eta: float) -> Mechanism:
    return DeferredAcceptance(uh, ud, "doctors")
