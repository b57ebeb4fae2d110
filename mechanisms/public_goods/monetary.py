"""One-shot monetary mechanisms for a single excludable public good of cost 1.

Onyeze et al. 2025 §2.3 (IR, CC, DWL Definition 2.2) and §3.1 (Proportional, Moulin). Each is a
pure function of reported values; `utilities` are the true values of the agents served
(the good is non-monetary once wrapped by `ArtificialCurrency`), `charges` the payments.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult, check_reports, check_vector, clip_reports
from mechanisms.registry import MECHANISMS, ONYEZE, cite, register_mechanism

#: Cost of the single good (Onyeze et al. 2025 normalizes c = 1).
GOOD_COST = 1.0


def check_batch(bids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, n) bids and values of `run_rounds`, validated as `check_reports` does each row."""
    b, v = np.asarray(bids, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if b.ndim != 2 or v.shape != b.shape:
        raise ValueError(f"bids and values must be (N, n) arrays of one shape, got {b.shape}, {v.shape}")
    check_vector("bids", b.ravel())
    check_vector("values", v.ravel(), nonneg=False)
    return b, v


def moulin_size(sorted_desc: np.ndarray) -> int:
    """Size of the Moulin set: the largest k with the k-th largest report >= 1/k
    (Onyeze et al. 2025 §3.1, [MS01]). The top-k set is then the unique largest feasible set."""
    k = np.arange(1, sorted_desc.shape[0] + 1, dtype=np.float64)
    k *= sorted_desc
    ok = np.flatnonzero(k >= GOOD_COST)
    return int(ok[-1]) + 1 if ok.size else 0


#: Proportional's shares of a total past the float range are taken in units of 2^SCALE_EXP:
#: scaling by a power of two is exact, and n * max float / 2^64 is finite for any n < 2^63.
SCALE_EXP = 64


def proportional_shares(bids: np.ndarray, total: float) -> np.ndarray:
    """p_i = V_i / V_tot (Onyeze et al. §3.1) for V_tot = `total` = bids.sum(). Where the
    sum of finite reports leaves the float range (V_tot = inf, which would charge everyone
    0 for a good that is allocated), the same shares in units of 2^SCALE_EXP: exact
    scaling, so the charges still sum to the cost 1."""
    if np.isfinite(total):
        return bids / total
    scaled = np.ldexp(bids, -SCALE_EXP)
    return scaled / scaled.sum()


def scale_exponent(bids: np.ndarray, alternatives: np.ndarray | None = None) -> int:
    """0, or SCALE_EXP when the reports' total (plus the largest alternative) leaves the
    float range: Proportional then computes in units of 2^SCALE_EXP (exact scaling)."""
    with np.errstate(over="ignore"):
        total = np.asarray(bids, dtype=np.float64).sum()
        if alternatives is not None and np.size(alternatives):
            total = total + np.max(alternatives)
    return 0 if np.isfinite(total) else SCALE_EXP


def others_sums(bids: np.ndarray, total: float | None = None) -> np.ndarray:
    """sum_{j != i} V_j for every i without cancellation: V_tot - V_i loses the others'
    reports when V_i dominates the total (1e20 + 0.6 - 1e20 = 0), so the one report that
    is more than half the total gets its others' sum added up directly (at most one
    report can be; the others' exclusion sums are then at least half the total, within
    a few ulps). Callers scale reports whose total leaves the float range (`scale_exponent`);
    `total`: bids.sum() when the caller has it."""
    bids = np.asarray(bids, dtype=np.float64)
    total = bids.sum() if total is None else total
    others = total - bids
    if bids.size:
        i = int(bids.argmax())  # the only report that can be more than half the total
        if bids[i] > 0.5 * total:
            others[i] = np.delete(bids, i).sum()
    return others


class ReportSums:
    """The reports' total V_tot and, on first use, every agent's others' sum V_{-i} in units
    of 2^e (e = 0, or SCALE_EXP when V_tot leaves the float range: `scale_exponent`): the
    `RoundResult.state` of Proportional, so the round's menus and recorded statistic reuse
    the sums the round computed (as `PostedPrices` does for Moulin and Potential)."""

    def __init__(self, bids: np.ndarray, total: float) -> None:
        self.bids = bids
        self.total = total
        self.exponent = 0 if math.isfinite(total) else SCALE_EXP
        self._others: np.ndarray | None = None

    @property
    def others(self) -> np.ndarray:
        if self._others is None:
            e = self.exponent
            self._others = others_sums(self.bids, self.total) if not e else others_sums(np.ldexp(self.bids, -e))
        return self._others


def report_sums(state: Any, bids: np.ndarray) -> ReportSums:
    """The `ReportSums` of `bids`: the round's `state` when it holds these very reports,
    else computed."""
    if isinstance(state, ReportSums) and state.bids is bids:
        return state
    with np.errstate(over="ignore"):  # a total past the float range: see proportional_shares
        total = float(bids.sum())
    return ReportSums(bids, total)


def proportional_statistic(sums: ReportSums, values: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
    """(m, 3) per agent of `rows`: the others' report sum V_{-i} in units of 2^e, the value
    v_i and e, all a Proportional menu depends on."""
    v = values[rows]
    out = np.empty((v.shape[0], 3))
    out[:, 0] = sums.others[rows]
    out[:, 1] = v
    out[:, 2] = sums.exponent
    return out


def proportional_menu(statistics: np.ndarray, alternatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(utility, cost) of Proportional at the alternative reports a (Onyeze et al. 2025 §3.1)
    from `proportional_statistic` rows (..., m, 3) and alternatives (..., m, K): served iff
    V_{-i} + a >= 1, for v_i, paying a / (V_{-i} + a). An entry is computed in units of
    2^e, its row's e, or 2^SCALE_EXP where V_{-i} + a leaves the float range in units of 1
    (exact scaling: the cost is the share, not a / inf = 0)."""
    others, values, e = statistics[..., 0:1], statistics[..., 1:2], statistics[..., 2:3]
    alts = np.asarray(alternatives, dtype=np.float64)
    if not e.any():
        with np.errstate(over="ignore"):
            total = others + alts
        if np.isfinite(total.max(initial=0.0)):
            served = total >= GOOD_COST
            cost = np.divide(alts, total, out=np.zeros(total.shape), where=served)
            return served * values, cost
    # Some row's reports, or some V_{-i} + a, past the float range: per-entry units.
    shape = np.broadcast_shapes(others.shape, alts.shape)
    e_row = np.broadcast_to(e, shape).astype(np.int64)
    with np.errstate(over="ignore"):
        wide = ~np.isfinite(others + np.ldexp(alts, -e_row))  # in units of the row's 2^e
    ee = np.where(wide, SCALE_EXP, e_row)
    a = np.ldexp(np.broadcast_to(alts, shape), -ee)
    total = np.ldexp(np.broadcast_to(others, shape), e_row - ee) + a
    served = total >= np.ldexp(GOOD_COST, -ee)
    cost = np.divide(a, total, out=np.zeros(shape), where=served)
    return served * values, cost


def proportional_breakpoints(statistics: np.ndarray) -> np.ndarray:
    """(..., m, 2) from `proportional_statistic` rows: 0 and the cheapest served report
    (1 - V_{-i})^+ (in units of 1)."""
    others, e = statistics[..., 0], statistics[..., 2].astype(np.int64)
    out = np.zeros((*others.shape, 2))
    out[..., 1] = np.ldexp(np.maximum(np.ldexp(GOOD_COST, -e) - others, 0.0), e)
    return out


def posted_price_menu(
    tau: np.ndarray, values: np.ndarray, alternatives: np.ndarray, tol: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(utility, cost) of a posted price tau_i at the alternative reports a: served iff
    a >= tau_i - tol, for v_i, paying tau_i (Moulin and Potential menus; `tau` and `values`
    broadcast against `alternatives`: one round's (m, 1), or a block's (s, m, 1)), so
    `menu_all` and `menus_from_statistics` share one formula, float for float."""
    served = alternatives >= (tau - tol if tol else tau)
    return values * served, np.where(served, tau, 0.0)


def posted_price_statistic(tau: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(m, 2): tau_i and v_i, the `MenuStatistic` of a posted-price menu."""
    out = np.empty((tau.shape[0], 2))
    out[:, 0] = tau
    out[:, 1] = values
    return out


def posted_price_breakpoints(tau: np.ndarray) -> np.ndarray:
    """(..., 2): a posted-price menu has two points, 0 and tau_i."""
    out = np.zeros((*tau.shape, 2))
    out[..., 1] = tau
    return out


class PostedPrices:
    """The posted price tau_i each agent faces this round, the others' reports fixed: agent i
    is served iff its report is >= tau_i and then pays tau_i (Moulin and Potential menus are
    such step functions). The `RoundResult.state` of those mechanisms: the menus of the round
    read tau, computed once (on first use, or given by the round that already has it)."""

    def __init__(self, bids: np.ndarray, thresholds: Callable[[np.ndarray], np.ndarray] | np.ndarray) -> None:
        self.bids = bids
        self._thresholds = thresholds

    @property
    def tau(self) -> np.ndarray:
        if callable(self._thresholds):
            self._thresholds = self._thresholds(self.bids)
        return self._thresholds


def posted_prices(state: Any, bids: np.ndarray, thresholds: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """tau of the round `state` refers to (a `PostedPrices`), else thresholds(bids)."""
    return state.tau if isinstance(state, PostedPrices) else thresholds(bids)


def moulin_thresholds(bids: np.ndarray) -> np.ndarray:
    """Posted price each agent faces under Moulin with the others' reports fixed.

    Agent i is served iff its report is >= tau_i = 1/K_i and then pays tau_i, where K_i is
    the largest group i could join: the largest k with the (k-1)-th largest *other*
    report >= 1/k. One sort, then prefix/suffix maxima: O(n log n) for all agents.
    """
    n = bids.shape[0]
    order = np.argsort(-bids, kind="stable")
    s = bids[order]
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    if n == 1:
        return np.full(1, GOOD_COST)
    k = np.arange(2, n + 1)
    # Others' (k-1)-th largest is s[k-2] when i sits at sorted position >= k-1, else s[k-1].
    a = np.where(s[k - 2] * k >= GOOD_COST, k, 1)
    b = np.where(s[k - 1] * k >= GOOD_COST, k, 1)
    prefix_a = np.maximum.accumulate(a)  # best k <= p+1: a-type entries k = 2..p+1
    suffix_b = np.maximum.accumulate(b[::-1])[::-1]  # best k >= p+2: b-type entries
    big_k = np.ones(n, dtype=np.int64)
    has_a = pos >= 1
    big_k[has_a] = prefix_a[pos[has_a] - 1]
    has_b = pos + 2 <= n
    big_k[has_b] = np.maximum(big_k[has_b], suffix_b[pos[has_b]])
    return GOOD_COST / big_k


class PostedPriceMenus:
    """The menus of a mechanism that posts each agent a price tau_i (`_tau`): served iff its
    report is >= tau_i - `menu_tol`, paying tau_i (Moulin and Potential). `menu_all`, the
    breakpoints (0 and tau_i) and the `MenuStatistic` (tau_i, v_i) share `posted_price_menu`,
    so the recorded and the rebuilt menus agree float for float."""

    #: Slack of the served test (Potential's critical reports carry round-off).
    menu_tol: float = 0.0

    def _tau(self, reports: Reports, state: Any) -> np.ndarray:
        raise NotImplementedError

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        rows: slice | np.ndarray = slice(None) if agents is None else agents
        tau = self._tau(reports, state)[rows][:, None]
        return posted_price_menu(tau, reports.values[rows][:, None], alternatives, self.menu_tol)

    def menu_breakpoints(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        """A posted price per agent: the menu has two points, 0 and tau_i."""
        rows: slice | np.ndarray = slice(None) if agents is None else agents
        return posted_price_breakpoints(self._tau(reports, state)[rows])

    def menu_statistic(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        """(m, 2): the posted price tau_i and the value v_i (`MenuStatistic`)."""
        rows: slice | np.ndarray = slice(None) if agents is None else agents
        return posted_price_statistic(self._tau(reports, state)[rows], reports.values[rows])

    def menus_from_statistics(self, statistics: np.ndarray, alternatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return posted_price_menu(statistics[..., 0:1], statistics[..., 1:2], alternatives, self.menu_tol)

    def breakpoints_from_statistics(self, statistics: np.ndarray) -> np.ndarray:
        return posted_price_breakpoints(statistics[..., 0])


@register_mechanism(
    "proportional", family="public_goods", citation=cite(ONYEZE, "§3.1"),
    doc="Proportional: serve everyone if the total report is >= 1, each paying its share of the total.",
)
class Proportional(Mechanism):
    """Proportional mechanism M_prop (Onyeze et al. 2025 §3.1): if the total report V_tot >= 1 serve
    everyone and charge p_i = V_i / V_tot, else serve nobody. IR, CC, DWL 0, not IC."""

    name = "proportional"
    p_max = GOOD_COST

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids, values = check_reports(reports)
        with np.errstate(over="ignore"):  # a total past the float range: see proportional_shares
            total = bids.sum()
        allocated = total >= GOOD_COST
        served = np.full(bids.shape[0], allocated)
        charges = proportional_shares(bids, total) if allocated else np.zeros_like(bids)
        return RoundResult(
            outcome=served,
            utilities=values * served,
            charges=charges,
            allocated=bool(allocated),
            state=ReportSums(bids, float(total)),
        )

    def run_rounds(self, bids: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
        """`run_round` on every row at once (each row's total is the same pairwise sum)."""
        bids, _ = check_batch(bids, values)
        with np.errstate(over="ignore"):  # rows past the float range are redone below
            total = bids.sum(axis=1)
        served = total >= GOOD_COST
        charges = np.where(served[:, None], bids / np.where(served, total, 1.0)[:, None], 0.0)
        for r in np.flatnonzero(~np.isfinite(total)):  # a sum past the float range (see proportional_shares)
            charges[r] = proportional_shares(bids[r], total[r])
        return np.repeat(served[:, None], bids.shape[1], axis=1), charges

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return proportional_menu(self.menu_statistic(reports, agents, state=state), alternatives)

    def menu_breakpoints(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        """The exact menu's only undominated reports: 0 and the cheapest served report
        (1 - others)^+; any larger report is served too but pays more."""
        return proportional_breakpoints(self.menu_statistic(reports, agents, state=state))

    def menu_statistic(
        self, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> np.ndarray:
        """(m, 3): the others' report sum V_{-i} (in units of 2^e), the value v_i and e
        (`proportional_statistic`; the sums from the round's `ReportSums` state when it is
        given), all a Proportional menu depends on (`MenuStatistic`):
        report a is served iff V_{-i} + a >= 1, for v_i, and then pays a / (V_{-i} + a).
        `menu_all` and `menu_breakpoints` are computed from it, so the menus rebuilt from
        recorded statistics are theirs by construction."""
        rows: slice | np.ndarray = slice(None) if agents is None else agents
        return proportional_statistic(report_sums(state, reports.bids), reports.values, rows)

    def menus_from_statistics(self, statistics: np.ndarray, alternatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return proportional_menu(statistics, alternatives)

    def breakpoints_from_statistics(self, statistics: np.ndarray) -> np.ndarray:
        return proportional_breakpoints(statistics)


@register_mechanism(
    "moulin", family="public_goods", citation=cite(ONYEZE, "§3.1"),
    doc="Moulin: serve the largest set S with every report >= 1/|S|, each paying 1/|S| (IC).",
)
class Moulin(PostedPriceMenus, Mechanism):
    """Moulin mechanism M_mou (Onyeze et al. 2025 §3.1, [MS01]): serve the largest S with
    V_i >= 1/|S| for all i in S, each paying 1/|S|. IC, IR, CC; DWL <= H_n - 1."""

    name = "moulin"
    p_max = GOOD_COST
    #: Reports above the cost 1 are played as 1, exactly: a report >= 1 meets 1/|S| for
    #: every S, so which sets are feasible, the served set and every posted price are the
    #: same (and b * |S| cannot overflow).
    report_max = GOOD_COST

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        bids, values = check_reports(reports, report_max=self.report_max)
        size = moulin_size(np.sort(bids)[::-1])
        served = np.zeros(bids.shape[0], dtype=bool)
        if size:
            # Exactly the top-`size` reports qualify (the size-th largest is >= 1/size and the
            # next one is < 1/(size+1) < 1/size), so a threshold test selects them.
            served = bids * size >= GOOD_COST
        charges = np.where(served, GOOD_COST / max(size, 1), 0.0)
        return RoundResult(
            outcome=served,
            utilities=values * served,
            charges=charges,
            allocated=bool(size),
            state=PostedPrices(bids, moulin_thresholds),
        )

    def run_rounds(self, bids: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
        """`run_round` on every row at once: each row's Moulin size from its sorted reports."""
        bids, _ = check_batch(bids, values)
        bids = np.minimum(bids, self.report_max)
        k = np.arange(1, bids.shape[1] + 1, dtype=np.float64)
        ok = np.sort(bids, axis=1)[:, ::-1] * k >= GOOD_COST
        size = np.where(ok.any(axis=1), bids.shape[1] - np.argmax(ok[:, ::-1], axis=1), 0)
        served = (bids * size[:, None] >= GOOD_COST) & (size[:, None] > 0)
        return served, np.where(served, GOOD_COST / np.maximum(size, 1)[:, None], 0.0)

    def _tau(self, reports: Reports, state: Any) -> np.ndarray:
        return posted_prices(state, clip_reports(reports.bids, self.report_max), moulin_thresholds)


def dead_weight_loss(values: np.ndarray, served: np.ndarray, charges: np.ndarray) -> float:
    """DWL(M, V) = (sum_{i not served} V_i + sum_i p_i - 1)^+ (Onyeze et al. 2025 Definition 2.2)."""
    values = check_vector("values", values)
    return float(max(values[~served].sum() + np.sum(charges) - GOOD_COST, 0.0))


#: The `public_goods` family of the mechanism registry, as a read-only mapping name -> class
#: (proportional, moulin, potential and whatever plug-ins add).
MONETARY_MECHANISMS = MECHANISMS.family("public_goods")
