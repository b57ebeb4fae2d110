"""The one-round adapter of (un)linked VCG (Zhu 2021, *Repeated resource allocation*, §4).

The framework's loop plays one round per Mesa step and takes one scalar report per
agent; `LinkedVCG` allocates a whole (N, T, I) report of project vectors. The adapter
runs it date by date: an agent's scalar report lambda_t^n scales his true endowment,
reported mu-hat_t^n = lambda_t^n mu_t^n (1 = truthful), and each `run_round` commits the
next date, allocating by ord-A on the retracted reports [mu]_t (linked; the retraction
is F_t-measurable, §4) or on the raw reports (unlinked). Round utilities are the agent's
true project payoff v(A_t^n, mu_t^n) plus the date's Groves accrual, the others'
reported surplus O_t^n; charges are 0 (the principal pays, at T, in the settlement the
scenario runs on `raw`).

The `linked_vcg` family of the mechanism registry holds the two variants; a factory
takes the mechanism and the true endowments, `(mech: LinkedVCG, truth (N, T, I))`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mechanisms.base import Mechanism, Reports, RoundResult, check_reports, clip_reports
from mechanisms.linked_vcg.groves_milp import others_surplus_batch
from mechanisms.linked_vcg.knapsack import ord_split
from mechanisms.linked_vcg.model import LinkedVCG, retract_rows
from mechanisms.registry import ZHU, cite, register_mechanism


class ResourceAllocationRound(Mechanism):
    """Date-by-date adapter of (un)linked VCG to the one-round interface. Stateful: each
    `run_round` call commits the next date; `menu_all` answers counterfactuals for the
    date just committed (history before it fixed). Reports are scalings of the truth."""

    p_max = np.inf
    #: Report range [0, 1e6]: a report scales the true endowment (1 = truthful, the menus'
    #: grid spans 0..2), and a larger scaling is played as 1e6; with scalings near the float
    #: maximum the reported endowments, and the knapsack's totals, overflow to inf.
    report_max = 1e6

    def __init__(self, mech: LinkedVCG, truth: np.ndarray, linked: bool) -> None:
        self.mech = mech
        self.truth = truth
        self.linked = linked
        self.name = "linked-vcg" if linked else "unlinked-vcg"
        self.t = 0
        self.raw = np.zeros_like(truth)  # raw reported endowments (N, T, I)
        # A date's utility (payoff + accrual) is at most that date's surplus <= v-bar (§5).
        self.payoff_bound = mech.economy.vbar()

    def _effective(self, raw: np.ndarray, t: int) -> np.ndarray:
        """Date-t reports the allocation uses: [mu]_t (linked) or mu_t. Dates after t
        are zero in `raw`, which leaves [mu]_t unchanged (F_t-measurability)."""
        if not self.linked:
            return raw[..., t, :]
        return retract_rows(raw, self.mech.mu_low, self.mech.mu_high)[..., t, :]

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        t = self.t
        if t >= self.mech.horizon:
            raise RuntimeError(f"the horizon T = {self.mech.horizon} is reached")
        bids, _ = check_reports(reports, self.truth.shape[0], self.report_max)
        self.raw[:, t] = bids[:, None] * self.truth[:, t]
        eff = self._effective(self.raw, t)  # (N, I)
        econ = self.mech.economy
        sol = econ.efficient(eff.sum(axis=0)[None])
        invested = ord_split(sol.alpha[0], eff)  # (N + 1, I)
        own = invested[1:].sum(axis=1)
        accrual = sol.value[0] - own
        payoff = econ.value(invested[1:] @ econ.theta, self.truth[:, t])
        best = econ.efficient(self.truth[:, t].sum(axis=0)[None]).value[0]
        self.t += 1
        return RoundResult(
            outcome=invested,
            utilities=payoff + accrual,
            charges=np.zeros(eff.shape[0]),
            allocated=True,
            extras={
                "date": t + 1,
                "payoff": payoff,
                "accrual": accrual,
                "surplus": float(payoff.sum() + invested[0].sum()),
                "efficient_surplus": float(best),
                "prices": sol.prices[0],
            },
        )

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Counterfactual date utility (payoff + accrual) of each alternative scaling for
        the date just committed, the agent's earlier reports and everyone else fixed.

        No structure is shared across alternatives: each scaling changes the retracted
        reports and so the ord-A allocation and the Groves term, one knapsack LP per (agent,
        alternative), several rounds' worth (benchmarks/bench_recording.py); subsampling the
        recorded rounds is the remedy."""
        t = self.t - 1
        if t < 0:
            raise RuntimeError("menu_all needs a committed date (call run_round first)")
        agents = np.arange(self.raw.shape[0]) if agents is None else np.asarray(agents)
        alternatives = clip_reports(np.asarray(alternatives, dtype=np.float64), self.report_max)
        m, n_alt = alternatives.shape
        utility = np.empty((m, n_alt))
        eff_now = self._effective(self.raw, t)
        for r, k in enumerate(agents):
            hist = np.repeat(self.raw[k][None, : t + 1], n_alt, axis=0)  # (K, t+1, I)
            hist[:, t] = alternatives[r][:, None] * self.truth[k, t]
            if self.linked:
                pad = np.zeros((n_alt, self.mech.horizon, hist.shape[2]))
                pad[:, : t + 1] = hist
                cand_t = retract_rows(pad, self.mech.mu_low[k], self.mech.mu_high[k])[:, t]
            else:
                cand_t = hist[:, t]
            others = eff_now.copy()
            surplus, own, _ = others_surplus_batch(one_date(self.mech), others[:, None, :], int(k),
                                                   cand_t[:, None, :])  # fmt: skip
            econ = self.mech.economy
            payoff = econ.value(own[:, 0] @ econ.theta, np.broadcast_to(self.truth[k, t], (n_alt, econ.n_types)))
            utility[r] = payoff + surplus[:, 0]
        return utility, np.zeros((m, n_alt))

    def report_grid(self, k: int) -> np.ndarray:
        """Scalings 0..2 of the true endowment (1 = truthful)."""
        return np.linspace(0.0, 2.0, k)


def one_date(mech: LinkedVCG) -> LinkedVCG:
    """A one-date view of the mechanism (for per-date counterfactuals)."""
    return LinkedVCG(mech.economy, 1, mech.mu_low, mech.mu_high, mech.beta)


# --- the `linked_vcg` family of the mechanism registry: factories (mech, truth) -----------


@register_mechanism(
    "linked", family="linked_vcg", citation=cite(ZHU, "§4, Theorem 1"),
    doc="Linked VCG date by date: ord-A on the reports retracted to the confidence intervals.",
)
def linked_factory(mech: LinkedVCG, truth: np.ndarray) -> ResourceAllocationRound:
    return ResourceAllocationRound(mech, truth, linked=True)


@register_mechanism(
    "unlinked", family="linked_vcg", citation=cite(ZHU, "§4, Proposition 1"),
    doc="Unlinked (per-date) VCG: ord-A on the raw reports of each date.",
)
def unlinked_factory(mech: LinkedVCG, truth: np.ndarray) -> ResourceAllocationRound:
    return ResourceAllocationRound(mech, truth, linked=False)


__all__ = ["ResourceAllocationRound", "linked_factory", "one_date", "unlinked_factory"]
