"""The auction with knowledge intervals, as the framework's loop plays it (Chiesa, Micali, Zhu 2012).

Agent i sees x_i and knows only TV_i in K_i = [(1 - delta) x_i, (1 + delta) x_i]; the
model passes the observed x as `Reports.values`, while the auctions of
`mechanisms.approx_valuations.auctions` score utilities and welfare with the true TV.
`ApproxKnowledgeAuction` wraps one of them: it runs it on the played bids with the
round's true values, read from a `KnowledgeValues` source (the scenario's value model),
and records per round what the summary compares with the theorems' guarantees.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from mechanisms.approx_valuations.auctions import GUARANTEES, ApproxAuction, make_approx_mechanism
from mechanisms.base import Mechanism, Reports, RoundResult

#: Slack for "a ratio is not below its guarantee" (float round-off only).
RATIO_TOL = 1e-9
#: Mechanisms compared in summaries and sweeps, in display order.
MECHANISM_ORDER = ("random", "second_price", "optimal")


class KnowledgeValues(Protocol):
    """The round's values as the auction needs them: each agent's knowledge x_i (what it
    observes) and its true value TV_i in K_i, both (n,), for the round just drawn."""

    @property
    def knowledge(self) -> np.ndarray: ...

    @property
    def true_values(self) -> np.ndarray: ...


class ApproxKnowledgeAuction(Mechanism):
    """Runs `inner` on the played bids with the round's true values TV (the model passes
    the observed x as `Reports.values`), and records per round the expected and realized
    welfare, MSW, whether every bid lay in K_i, and the expected welfare every registered
    mechanism would have produced on the same bids."""

    def __init__(self, inner: ApproxAuction, values: KnowledgeValues, rounds: int, delta: float) -> None:
        self.inner, self.values, self.delta = inner, values, delta
        self.name, self.p_max = inner.name, inner.p_max
        # M_f needs delta > 0; at delta = 0 it is left out of the comparison.
        self.others = {
            name: inner if name == self._inner_key(inner) else make_approx_mechanism(name, delta)
            for name in MECHANISM_ORDER
            if name != "optimal" or delta > 0
        }
        self.t = 0
        self.expected = np.zeros(rounds)
        self.realized = np.zeros(rounds)
        self.msw = np.zeros(rounds)
        self.in_k = np.zeros(rounds, dtype=bool)
        self.counterfactual = {name: np.zeros(rounds) for name in self.others}

    @staticmethod
    def _inner_key(inner: ApproxAuction) -> str:
        names = {"second_price": "second_price", "random_assignment": "random", "optimal_approx": "optimal"}
        return names.get(inner.name, inner.name)

    def _truth(self, reports: Reports) -> Reports:
        return Reports(reports.bids, self.values.true_values)

    def _ensure_capacity(self, t: int) -> None:
        """Extra calls beyond the configured rounds (direct use, tests) grow the records."""
        if t < self.msw.shape[0]:
            return
        size = 2 * t + 1
        grow = lambda a: np.concatenate([a, np.zeros(size - a.shape[0], dtype=a.dtype)])  # noqa: E731
        self.expected, self.realized = grow(self.expected), grow(self.realized)
        self.msw, self.in_k = grow(self.msw), grow(self.in_k)
        self.counterfactual = {k: grow(v) for k, v in self.counterfactual.items()}

    def run_round(self, reports: Reports, rng: np.random.Generator) -> RoundResult:
        truth = self._truth(reports)
        res = self.inner.run_round(truth, rng)
        t, tv, x = self.t, truth.values, self.values.knowledge
        self._ensure_capacity(t)
        bids = self.inner.clip(reports.bids)
        self.expected[t] = res.extras["expected_welfare"]
        self.realized[t] = res.extras["welfare"]
        self.msw[t] = float(tv.max())
        tol = RATIO_TOL * np.maximum(x, 1.0)
        self.in_k[t] = bool(np.all((bids >= (1 - self.delta) * x - tol) & (bids <= (1 + self.delta) * x + tol)))
        for name, mech in self.others.items():
            prob = res.extras["win_prob"] if mech is self.inner else mech.win_probabilities(bids)
            self.counterfactual[name][t] = float(prob @ tv)
        self.t += 1
        return res

    def menu_all(
        self, alternatives: np.ndarray, reports: Reports, agents: np.ndarray | None = None, *, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.menu_all(alternatives, self._truth(reports), agents)

    def report_grid(self, k: int) -> np.ndarray:
        return self.inner.report_grid(k)

    def summary(self, n: int, worst: dict[str, float]) -> dict[str, Any]:
        """Achieved SW / MSW for the run's mechanism and, on the same bids, for every
        mechanism, against each theorem's guarantee."""
        T = self.t
        msw = self.msw[:T]
        ratio = self.expected[:T] / msw
        in_k = self.in_k[:T]
        key = self._inner_key(self.inner)
        bound = GUARANTEES[key](self.delta, n) if key in GUARANTEES else float("nan")  # plug-ins: no bound
        by_mech = {}
        for name in self.others:
            r = self.counterfactual[name][:T] / msw
            by_mech[name] = {
                "guarantee": GUARANTEES[name](self.delta, n),
                "welfare_ratio_on_played_bids": float(self.counterfactual[name][:T].sum() / msw.sum()),
                "min_round_ratio_bids_in_K": float(r[in_k].min()) if in_k.any() else None,
                "worst_case_found": worst.get(name),
            }
        min_in_k = float(ratio[in_k].min()) if in_k.any() else None
        return {
            "delta": self.delta,
            "guarantee": bound,
            "welfare_ratio": float(self.realized[:T].sum() / msw.sum()),
            "expected_welfare_ratio": float(self.expected[:T].sum() / msw.sum()),
            "min_round_ratio_bids_in_K": min_in_k,
            "bids_in_K_fraction": float(in_k.mean()),
            "guarantee_holds": None if min_in_k is None else bool(min_in_k >= bound - RATIO_TOL),
            "worst_case_found": worst.get(key),
            "by_mechanism": by_mech,
        }


__all__ = ["MECHANISM_ORDER", "RATIO_TOL", "ApproxKnowledgeAuction", "KnowledgeValues"]
