"""Single-good auctions with approximate valuations (Chiesa–Micali–Zhu 2012).

Model (Chiesa–Micali–Zhu 2012, "Approximate Types" / "Our Model" slides): player i's true valuation TV_i
is known to him only as K_i = [(1 - delta) x_i, (1 + delta) x_i] with TV_i in K_i. A
mechanism delta-implements eps * MSW when E[SW(TV, M(sigma))] >= eps * max_i TV_i for every
undominated play sigma. Reports are one bid per agent; `Reports.values` carries the true
TV_i. Utilities are quasi-linear, u_i = TV_i [i wins] - p_i (the slides' u_i(TV_i, M(sigma)));
charges are the payments p_i; social welfare counts TV_i [i wins] only (payments are transfers).

Mechanisms and their guarantees (slide "Summary" / "Our Results"):
- `RandomAssignment`: dominant-strategy; 1/n, and Thm 1 says no dominant-strategy mechanism
  guarantees more than 1/n when delta > 0.
- `SecondPrice`: in undominated strategies ((1 - delta)/(1 + delta))^2 (Thm 2), optimal among
  deterministic mechanisms (Thm 3).
- `OptimalApprox` (M_f with f of Definition E.2 / slide "100m view"):
  ((1 - delta)^2 + 4 delta / n) / (1 + delta)^2, optimal among probabilistic mechanisms.

Every guarantee only uses that undominated bids lie in [min K_i, max K_i] (slide "Tool #2",
Distinguishable Monotonicity Lemma), so `worst_case_ratio` searches bids in K_i.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult, check_vector
from mechanisms.registry import CHIESA, MECHANISMS, cite, register_mechanism

#: Relative slack when comparing bids to the n* thresholds of Definition E.2 (float round-off).
THRESHOLD_TOL = 1e-12


def check_delta(delta: float, *, open_zero: bool = False) -> float:
    """delta must be in [0, 1) (in (0, 1) for M_f, whose D_delta is 0 at delta = 0)."""
    d = float(delta)
    lo_ok = d > 0 if open_zero else d >= 0
    if not (np.isfinite(d) and lo_ok and d < 1):
        interval = "(0, 1)" if open_zero else "[0, 1)"
        raise ValueError(f"delta must be in {interval}, got {delta}")
    return d


def check_n(n: int) -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    return int(n)


def knowledge_interval(x: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """K_i = [(1 - delta) x_i, (1 + delta) x_i] (Chiesa–Micali–Zhu 2012, slide "Approximate Types")."""
    delta = check_delta(delta)
    x = check_vector("x", x)
    return (1.0 - delta) * x, (1.0 + delta) * x


def d_delta(delta: float) -> float:
    """D_delta = ((1 + delta)/(1 - delta))^2 - 1 = 4 delta / (1 - delta)^2 (Chiesa–Micali–Zhu 2012, Def. E.2)."""
    delta = check_delta(delta, open_zero=True)
    return 4.0 * delta / (1.0 - delta) ** 2


def random_assignment_guarantee(delta: float, n: int) -> float:
    """1/n: assigning the good uniformly at random (slide "Thm 1 ... can trivially achieve")."""
    check_delta(delta)
    return 1.0 / check_n(n)


def dominant_strategy_bound(delta: float, n: int) -> float:
    """Thm 1: in dominant strategies no (possibly probabilistic) mechanism guarantees more
    than MSW/n when delta > 0; at delta = 0 second price guarantees all of MSW."""
    return 1.0 if check_delta(delta) == 0.0 else 1.0 / check_n(n)


def second_price_guarantee(delta: float, n: int) -> float:
    """Thm 2: ((1 - delta)/(1 + delta))^2, for every n (slide "Implementation in ...")."""
    delta = check_delta(delta)
    check_n(n)
    return ((1.0 - delta) / (1.0 + delta)) ** 2


def optimal_guarantee(delta: float, n: int) -> float:
    """Thm 3/4 (and Claim E.4): ((1 - delta)^2 + 4 delta / n) / (1 + delta)^2."""
    delta = check_delta(delta)
    n = check_n(n)
    return ((1.0 - delta) ** 2 + 4.0 * delta / n) / (1.0 + delta) ** 2


# ---------------------------------------------------------------------------------------
# Winning probabilities, batched over bid profiles (B, n).


def _as_profiles(bids: np.ndarray) -> np.ndarray:
    z = np.asarray(bids, dtype=np.float64)
    if z.ndim not in (1, 2) or z.shape[-1] < 1:
        raise ValueError(f"bids must have shape (n,) or (B, n), got {z.shape}")
    if not np.isfinite(z).all() or (z < 0).any():
        raise ValueError("bids must be finite and >= 0")
    return z


#: Bids whose largest is within 2^+-UNIT_RANGE are computed as they are (`unit_exponents`).
UNIT_RANGE = 256


def unit_exponents(top: np.ndarray) -> np.ndarray:
    """e with top / 2^e in [0.5, 1) where top is outside [2^-UNIT_RANGE, 2^UNIT_RANGE], else
    0: M_f's winning probabilities are homogeneous of degree 0 in the bids and its
    payments of degree 1, so the optimal auction computes in units of 2^e of the largest
    bid. Scaling by a power of two is exact, and in these units neither a subnormal bid's
    S / z nor a sum of bids near the float maximum overflows (Chiesa–Micali–Zhu, Def. E.2
    is scale-free). Bids in the normal range are not rescaled: scaling down would flush
    a much smaller subnormal alternative to 0."""
    exp = np.frexp(top)[1]
    return np.where((top > 0) & (np.abs(exp) > UNIT_RANGE), exp, 0)


def second_price_win_probabilities(bids: np.ndarray) -> np.ndarray:
    """Highest bid wins; ties split uniformly (the random tie-break of `SecondPrice`)."""
    z = _as_profiles(bids)
    top = z == z.max(axis=-1, keepdims=True)
    return top / top.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, slots=True)
class OptimalAllocation:
    """f^(delta)(z) of Definition E.2 for profiles (B, n): `prob` (B, n), the number of
    candidate winners `n_star` (B,) and their bid sum `winners_sum` (B,)."""

    prob: np.ndarray
    n_star: np.ndarray
    winners_sum: np.ndarray


def optimal_allocation(bids: np.ndarray, delta: float) -> OptimalAllocation:
    """The winning-probability function f of the optimal probabilistic mechanism.

    Chiesa, Micali, Zhu 2012, slide "'100m' view" and appendix Definition E.2: sort z_1 >= ... >= z_n; n* is
    the least index with z_i <= (sum_{j<=n*} z_j)/(n* + D_delta) for all i > n* (i.e. for
    i = n* + 1); candidate winners i <= n* get
        f_i = (1/n) (n + D)/(n* + D) (z_i (n* + D) - sum_{j<=n*} z_j) / (z_i D),
    losers 0; the good stays unassigned with probability 1 - sum_i f_i. Ties never split
    the winner set (a loser tied with a winner would violate E.8), so the stable sort is
    harmless.
    """
    D = d_delta(delta)
    z = _as_profiles(bids)
    flat = z.reshape(-1, z.shape[-1])
    unit = unit_exponents(flat.max(axis=1))  # computed in units of 2^unit (see unit_exponents)
    flat = np.ldexp(flat, -unit[:, None])
    b, n = flat.shape
    order = np.argsort(-flat, axis=1, kind="stable")
    s = np.take_along_axis(flat, order, axis=1)
    S = np.cumsum(s, axis=1)
    k = np.arange(1, n + 1)
    nxt = np.concatenate([s[:, 1:], np.full((b, 1), -np.inf)], axis=1)
    # Condition for n* = k, multiplied out: z_{k+1} (k + D) <= S_k (vacuous for k = n).
    cond = nxt * (k + D) <= S * (1.0 + THRESHOLD_TOL)
    n_star = np.argmax(cond, axis=1) + 1
    winners_sum = S[np.arange(b), n_star - 1]
    winner = (k[None, :] <= n_star[:, None]) & (s > 0)
    coef = (n + D) / (n * (n_star + D) * D)
    # S / z_i only for the candidate winners, where it is at most n* + D (E.8); a loser's
    # bid may be 0 or subnormal beside a large S.
    ratio = np.divide(np.broadcast_to(winners_sum[:, None], s.shape), s, out=np.zeros(s.shape), where=winner)
    f_sorted = np.where(winner, coef[:, None] * (n_star[:, None] + D - ratio), 0.0)
    f_sorted = np.clip(f_sorted, 0.0, 1.0)
    prob = np.empty_like(f_sorted)
    np.put_along_axis(prob, order, f_sorted, axis=1)
    winners_sum = np.ldexp(winners_sum, unit)
    return OptimalAllocation(prob.reshape(z.shape), n_star.reshape(z.shape[:-1]), winners_sum.reshape(z.shape[:-1]))


def optimal_win_probabilities(bids: np.ndarray, delta: float) -> np.ndarray:
    """f^(delta)(bids), shape of `bids` (see `optimal_allocation`)."""
    return optimal_allocation(bids, delta).prob


def _segment_integral(
    coef: np.ndarray, a: np.ndarray, s: np.ndarray, winner: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """int_lo^hi coef (a - s/z) dz on winner pieces (0 elsewhere); s = 0 when lo = 0."""
    lin = coef * a * (hi - lo)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = np.log(hi / lo)
        # hi / lo leaves the float range for a subnormal lo: log(hi) - log(lo) is finite.
        far = np.isinf(log_ratio) & (lo > 0) & np.isfinite(hi)
        if far.any():
            log_ratio = np.where(far, np.log(hi) - np.log(np.where(lo > 0, lo, 1.0)), log_ratio)
        log = np.where((s > 0) & (lo > 0), coef * s * log_ratio, 0.0)
    return np.where(winner & (hi > lo), lin - log, 0.0)


def optimal_integrals(others: np.ndarray, x: np.ndarray, delta: float) -> np.ndarray:
    """int_0^x f_i(z, v_{-i}) dz exactly, for m agents at once: others (m, n-1) are the
    other bids of each, x (m, K) the upper limits (Chiesa–Micali–Zhu 2012, Lemma E.5's line sweep).

    As a function of i's bid z, f_i is 0 or coef (a - S'/z) with n* and the other winners'
    sum S' constant between breakpoints: the others' bids (the order changes), the bids
    z = S'_k/(k + D) where i stops losing behind the top k others, and the bids
    z = o_{k+1} (k + 1 + D) - S'_k where the (k+1)-th other drops out of a winner set that
    holds i and the top k others. Each piece is classified at its midpoint."""
    return optimal_menu(others, x, delta)[1]


def optimal_menu(others: np.ndarray, x: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """(f_i(z, v_{-i}), int_0^z f_i(t, v_{-i}) dt), each (m, K), at z = x[r, k] for the m
    agents with other bids others (m, n-1), from one line sweep per agent (see
    `optimal_integrals`): on the piece holding z, f_i(z) = coef (a - S'/z) on a winner piece
    (clipped to [0, 1], as `optimal_allocation`), 0 elsewhere and at z = 0. So the menu of
    K bids needs no allocation of its own (f is continuous, so the piece chosen at a
    breakpoint does not matter)."""
    D = d_delta(delta)
    o = -np.sort(-np.asarray(others, dtype=np.float64), axis=1)
    m, n1 = o.shape
    n = n1 + 1
    x = np.asarray(x, dtype=np.float64)
    # In units of 2^unit per agent (see unit_exponents): f is scale-free, the integral
    # scales back by 2^unit.
    unit = unit_exponents(np.maximum(o.max(axis=1, initial=0.0), x.max(axis=1, initial=0.0)))
    o, x = np.ldexp(o, -unit[:, None]), np.ldexp(x, -unit[:, None])
    Sp = np.concatenate([np.zeros((m, 1)), np.cumsum(o, axis=1)], axis=1)
    k = np.arange(n)
    cands = np.concatenate([o, Sp[:, 1:] / (k[1:] + D), o * (k[:-1] + 1 + D) - Sp[:, :-1]], axis=1)
    # Non-positive candidates become empty pieces at 0; duplicates give empty pieces too.
    cands = np.sort(np.maximum(cands, 0.0), axis=1)
    lo = np.concatenate([np.zeros((m, 1)), cands], axis=1)
    hi = np.concatenate([cands, np.full((m, 1), np.inf)], axis=1)
    probe = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * lo + 1.0)
    npieces = lo.shape[1]
    prof = np.empty((m, npieces, n))
    prof[:, :, 0] = probe
    prof[:, :, 1:] = o[:, None, :]
    alloc = optimal_allocation(prof.reshape(m * npieces, n), delta)
    winner = (alloc.prob[:, 0] > 0).reshape(m, npieces)
    n_star = alloc.n_star.reshape(m, npieces).astype(np.float64)
    coef = (n + D) / (n * (n_star + D) * D)
    a = n_star + D - 1.0
    s = alloc.winners_sum.reshape(m, npieces) - probe
    full = _segment_integral(coef[:, :-1], a[:, :-1], s[:, :-1], winner[:, :-1], lo[:, :-1], hi[:, :-1])
    cum = np.concatenate([np.zeros((m, 1)), np.cumsum(full, axis=1)], axis=1)
    p = (lo[:, None, :] <= x[:, :, None]).sum(axis=2) - 1  # piece holding each x: (m, K)
    rows = np.arange(m)[:, None]
    c_x, a_x, s_x, w_x = coef[rows, p], a[rows, p], s[rows, p], winner[rows, p]
    integral = cum[rows, p] + _segment_integral(c_x, a_x, s_x, w_x, lo[rows, p], x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f = np.where(w_x & (x > 0), np.clip(c_x * (a_x - s_x / x), 0.0, 1.0), 0.0)
    return f, np.ldexp(integral, unit[:, None])


def optimal_expected_payments(
    bids: np.ndarray, agents: np.ndarray, alternatives: np.ndarray, delta: float, win_prob: np.ndarray | None = None
) -> np.ndarray:
    """Myerson's expected payment in M_f (Chiesa–Micali–Zhu 2012, slide "Tool #2"): agent agents[r]
    bidding z = alternatives[r, k] pays z f_i(z, v_{-i}) - int_0^z f_i(t, v_{-i}) dt in
    expectation. Returns (m, K); `win_prob` (m, K) = f_i(z, v_{-i}) if already known."""
    bids = check_vector("bids", bids)
    agents = np.asarray(agents)
    z = np.asarray(alternatives, dtype=np.float64)
    m, K = z.shape
    n = bids.shape[0]
    others = np.stack([np.delete(bids, i) for i in agents]) if n > 1 else np.zeros((m, 0))
    f = win_prob
    if f is None:
        prof = np.repeat(bids[None, None, :], m, axis=0).repeat(K, axis=1)
        prof[np.arange(m), :, agents] = z
        f = optimal_win_probabilities(prof.reshape(m * K, n), delta).reshape(m, K, n)[np.arange(m), :, agents]
    return np.maximum(z * f - optimal_integrals(others, z, delta), 0.0)


def optimal_expected_payment(
    i: int, bids: np.ndarray, delta: float, alternatives: np.ndarray | None = None
) -> np.ndarray:
    """`optimal_expected_payments` for one agent at its bid or at each alternative: (K,)."""
    bids = check_vector("bids", bids)
    z = np.atleast_1d(np.asarray(bids[i] if alternatives is None else alternatives, dtype=np.float64))
    return optimal_expected_payments(bids, np.array([i]), z[None, :], delta)[0]


# ---------------------------------------------------------------------------------------
# Mechanisms.


class ApproxAuction(Mechanism):
    """Common frame of the single-good auctions: bids clipped to `bid_cap` (so a charge, at
    most the bid, never exceeds p_max = bid_cap), a winner drawn from `win_probabilities`,
    quasi-linear utilities TV_i [i wins] - p_i and charges p_i from `payment_if_win`; the
    welfare TV_winner is in extras["welfare"]."""

    #: Guarantee eps(delta, n) of the theorem that covers this mechanism (a function).
    guarantee: ClassVar[staticmethod]

    def __init__(self, bid_cap: float = np.inf) -> None:
        if not (bid_cap > 0):
            raise ValueError(f"bid_cap must be > 0, got {bid_cap}")
        self.bid_cap = float(bid_cap)
        self.p_max = self.bid_cap

    def clip(self, bids: np.ndarray) -> np.ndarray:
        return np.minimum(np.asarray(bids, dtype=np.float64), self.bid_cap)

    @abstractmethod
    def win_probabilities(self, bids: np.ndarray) -> np.ndarray:
        """P(i wins) for profiles (B, n) or (n,), after clipping to bid_cap."""

    @abstractmethod
    def expected_payments(
        self, bids: np.ndarray, agents: np.ndarray, alternatives: np.ndarray, win_prob: np.ndarray
    ) -> np.ndarray:
        """(m, K) expected charge of agent agents[r] bidding alternatives[r, k], others fixed;
        win_prob (m, K) is the matching winning probability."""

    @abstractmethod
    def payment_if_win(self, winner: int, bids: np.ndarray, prob: np.ndarray) -> float:
        """The winner's charge; prob = win_probabilities(bids)."""

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids = self.clip(check_vector("bids", reports.bids))
        tv = check_vector("values", reports.values, bids.shape[0])
        prob = self.win_probabilities(bids)
        # One uniform draw decides the winner; mass 1 - sum(prob) leaves the good unassigned.
        u = rng.random()
        cum = np.cumsum(prob)
        if abs(cum[-1] - 1.0) < 1e-9:
            cum[-1] = 1.0  # a full assignment must not leave round-off mass unassigned
        winner = int(np.searchsorted(cum, u, side="right"))
        won = np.zeros(bids.shape[0], dtype=bool)
        charges = np.zeros(bids.shape[0])
        if winner < bids.shape[0]:
            won[winner] = True
            charges[winner] = self.payment_if_win(winner, bids, prob)
        return RoundResult(
            outcome=won,
            utilities=tv * won - charges,
            charges=charges,
            allocated=bool(won.any()),
            extras={
                "welfare": float(tv @ won),
                "win_prob": prob,
                "expected_welfare": float(prob @ tv),
                "max_welfare": float(tv.max(initial=0.0)),
            },
        )

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Expected quasi-linear utility and expected charge over the mechanism's own
        randomness, exactly: (TV_i f_i - E[p_i], E[p_i])."""
        bids = self.clip(reports.bids)
        agents = np.arange(bids.shape[0]) if agents is None else np.asarray(agents)
        alts = self.clip(alternatives)
        m, k = alts.shape
        prof = np.repeat(bids[None, None, :], m, axis=0).repeat(k, axis=1)
        prof[np.arange(m), :, agents] = alts
        prob = self.win_probabilities(prof.reshape(m * k, -1)).reshape(m, k, -1)
        p_i = prob[np.arange(m), :, agents]
        cost = self.expected_payments(bids, agents, alts, p_i)
        return reports.values[agents][:, None] * p_i - cost, cost

    def report_grid(self, k: int) -> np.ndarray:
        top = self.bid_cap if np.isfinite(self.bid_cap) else 1.0
        # Increasing for any cap: from 1e-3 (or top / 1e3 when the cap is below 1e-3) to top.
        low = min(1e-3, top * 1e-3)
        return np.concatenate([[0.0], np.logspace(np.log10(low), np.log10(top), k - 1)])


class RandomAssignment(ApproxAuction):
    """Give the good to a uniformly random player, charge nothing: every bid is dominant
    and SW >= MSW / n (Chiesa–Micali–Zhu 2012, slide "Thm 1: ... can trivially achieve by assigning good
    at random")."""

    name = "random_assignment"
    guarantee = staticmethod(random_assignment_guarantee)

    def win_probabilities(self, bids: np.ndarray) -> np.ndarray:
        z = _as_profiles(bids)
        return np.full(z.shape, 1.0 / z.shape[-1])

    def expected_payments(
        self, bids: np.ndarray, agents: np.ndarray, alternatives: np.ndarray, win_prob: np.ndarray
    ) -> np.ndarray:
        return np.zeros(alternatives.shape)

    def payment_if_win(self, winner: int, bids: np.ndarray, prob: np.ndarray) -> float:
        return 0.0


class SecondPrice(ApproxAuction):
    """Second-price auction: the highest bid wins (ties uniformly at random) and pays the
    highest other bid. With approximate knowledge it is no longer dominant-strategy, but in
    undominated strategies it guarantees ((1 - delta)/(1 + delta))^2 MSW (Chiesa–Micali–Zhu 2012, Thm 2)."""

    name = "second_price"
    guarantee = staticmethod(second_price_guarantee)

    def win_probabilities(self, bids: np.ndarray) -> np.ndarray:
        return second_price_win_probabilities(self.clip(bids))

    def expected_payments(
        self, bids: np.ndarray, agents: np.ndarray, alternatives: np.ndarray, win_prob: np.ndarray
    ) -> np.ndarray:
        top = np.array([np.delete(bids, i).max(initial=0.0) for i in agents])[:, None]
        n_tied = np.array([np.sum(np.delete(bids, i) == top[r, 0]) for r, i in enumerate(agents)])[:, None]
        win = np.where(alternatives > top, 1.0, np.where(alternatives == top, 1.0 / (n_tied + 1), 0.0))
        return win * top

    def payment_if_win(self, winner: int, bids: np.ndarray, prob: np.ndarray) -> float:
        others = np.delete(bids, winner)
        return float(others.max(initial=0.0))


class OptimalApprox(ApproxAuction):
    """M_f with f = f^(delta) of Definition E.2: random among close bids, second-price-like
    with a clear winner, a smooth interpolation between. A winner i pays
    v_i - (1/f_i(v)) int_0^{v_i} f_i(z, v_{-i}) dz (Chiesa–Micali–Zhu 2012, slide "Tool #2"; expected
    payment = Myerson's). Guarantee ((1 - delta)^2 + 4 delta / n)/(1 + delta)^2 (Thm 3/4),
    optimal among probabilistic mechanisms (Thm 5)."""

    name = "optimal_approx"
    guarantee = staticmethod(optimal_guarantee)

    def __init__(self, delta: float, bid_cap: float = np.inf) -> None:
        super().__init__(bid_cap)
        self.delta = check_delta(delta, open_zero=True)

    def win_probabilities(self, bids: np.ndarray) -> np.ndarray:
        return optimal_win_probabilities(self.clip(bids), self.delta)

    def expected_payments(
        self, bids: np.ndarray, agents: np.ndarray, alternatives: np.ndarray, win_prob: np.ndarray
    ) -> np.ndarray:
        return optimal_expected_payments(bids, agents, alternatives, self.delta, win_prob)

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Expected utility and charge over the mechanism's randomness, exactly: f_i and
        Myerson's payment z f_i - int_0^z f_i from one line sweep per agent over the others'
        bids (`optimal_menu`), shared by all its alternatives."""
        bids = self.clip(check_vector("bids", reports.bids))
        n = bids.shape[0]
        agents = np.arange(n) if agents is None else np.asarray(agents)
        alts = self.clip(alternatives)
        others = bids[np.arange(n - 1)[None, :] + (np.arange(n - 1)[None, :] >= agents[:, None])]
        f, integral = optimal_menu(others, alts, self.delta)
        cost = np.maximum(alts * f - integral, 0.0)
        return reports.values[agents][:, None] * f - cost, cost

    def payment_if_win(self, winner: int, bids: np.ndarray, prob: np.ndarray) -> float:
        expected = optimal_expected_payment(winner, bids, self.delta)[0]
        return float(min(expected / prob[winner], bids[winner]))


# --- the `approx_valuations` family of the mechanism registry: factories (delta, bid_cap) ---


@register_mechanism(
    "second_price", family="approx_valuations", citation=cite(CHIESA, "Thm 2, Thm 3"),
    doc="Second-price auction on the bids: welfare ratio ((1 - delta) / (1 + delta))^2.",
)
def second_price_factory(delta: float, bid_cap: float = np.inf) -> ApproxAuction:
    return SecondPrice(bid_cap)


@register_mechanism(
    "random", family="approx_valuations", citation=cite(CHIESA, "Thm 1"),
    doc="Random assignment: the good to a uniformly random bidder, free (the 1/n baseline).",
)
def random_factory(delta: float, bid_cap: float = np.inf) -> ApproxAuction:
    return RandomAssignment(bid_cap)


@register_mechanism(
    "optimal", family="approx_valuations", citation=cite(CHIESA, "Def. E.2, Thm 3-5"),
    doc="The optimal probabilistic mechanism M_f: ((1 - delta)^2 + 4 delta / n) / (1 + delta)^2.",
)
def optimal_factory(delta: float, bid_cap: float = np.inf) -> ApproxAuction:
    return OptimalApprox(delta, bid_cap)


#: The `approx_valuations` family as a read-only mapping name -> factory (delta, bid_cap).
APPROX_MECHANISMS = MECHANISMS.family("approx_valuations")

#: The guarantee eps(delta, n) of each registered mechanism.
GUARANTEES = {
    "second_price": second_price_guarantee,
    "random": random_assignment_guarantee,
    "optimal": optimal_guarantee,
}


def make_approx_mechanism(name: str, delta: float, bid_cap: float = np.inf) -> ApproxAuction:
    return MECHANISMS.get(name, family="approx_valuations")(delta, bid_cap)


# ---------------------------------------------------------------------------------------
# Worst case over plays with bids in K_i.


def welfare_ratio(mechanism: ApproxAuction, bids: np.ndarray, true_values: np.ndarray) -> np.ndarray:
    """E[SW(TV, M(bids))] / MSW(TV) per profile (rows of (B, n) arrays)."""
    prob = mechanism.win_probabilities(bids)
    tv = np.asarray(true_values, dtype=np.float64)
    return (prob * tv).sum(axis=-1) / tv.max(axis=-1)


@dataclass(frozen=True, slots=True)
class WorstCase:
    """The lowest welfare ratio found, and the instance (x, bids, true values) attaining it."""

    ratio: float
    x: np.ndarray
    bids: np.ndarray
    true_values: np.ndarray


def _instances(x: np.ndarray, sb: np.ndarray, st: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    return x * (1.0 + delta * sb), x * (1.0 + delta * st)


def worst_case_ratio(
    mechanism: ApproxAuction,
    delta: float,
    n: int,
    rng: np.random.Generator,
    samples: int = 20_000,
    refine_steps: int = 200,
) -> WorstCase:
    """Adversarial search for min E[SW]/MSW over x, true values TV_i in K_i and bids in K_i.

    Bids and true values are drawn at the ends of K_i with probability 0.8 (worst cases sit
    there: the high-value player bids low, the others high) and inside otherwise; x_i are
    log-uniform over a ratio range wide enough to separate or merge the intervals. The best
    samples are then refined by a multiplicative random walk on x that keeps improvements.
    Returns an upper bound on the true infimum (the guarantee must lie below it).
    """
    delta = check_delta(delta)
    n = check_n(n)
    spread = ((1.0 + delta) / max(1.0 - delta, 1e-9)) ** 2 * 4.0

    def signs(size: tuple[int, int]) -> np.ndarray:
        ends = rng.choice([-1.0, 1.0], size=size)
        return np.where(rng.random(size) < 0.8, ends, rng.uniform(-1.0, 1.0, size))

    x = np.exp(rng.uniform(-np.log(spread), np.log(spread), (samples, n)))
    x[:, 0] = 1.0
    sb, st = signs((samples, n)), signs((samples, n))
    bids, tv = _instances(x, sb, st, delta)
    ratio = welfare_ratio(mechanism, bids, tv)
    keep = np.argsort(ratio)[: min(32, samples)]
    x, sb, st, ratio = x[keep], sb[keep], st[keep], ratio[keep]
    for step in range(refine_steps):
        scale = 0.2 * (1.0 - step / refine_steps) + 1e-4
        x_new = x * np.exp(rng.normal(0.0, scale, x.shape))
        x_new[:, 0] = 1.0
        b_new, t_new = _instances(x_new, sb, st, delta)
        r_new = welfare_ratio(mechanism, b_new, t_new)
        better = r_new < ratio
        x[better], ratio[better] = x_new[better], r_new[better]
    j = int(np.argmin(ratio))
    bids, tv = _instances(x[j], sb[j], st[j], delta)
    return WorstCase(float(ratio[j]), x[j].copy(), bids, tv)
