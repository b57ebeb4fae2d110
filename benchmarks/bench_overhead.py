"""Framework overhead: the Mesa model with recording off against the bare loop of the
same calls, per round, measured in the same run (issue "Scale", item 4).

The bare loop is what a round is without the framework: draw the values
(`values.sample`), the learners bid (`backend.act`), the feasibility rule
(`enforce_budget`), the mechanism (`run_round`), the budgets updated (`remaining -
charges`, no checks) and the learners learn (`backend.observe`). Both sides are built
from the same config (same scenario instance, learners and seeds) and play the same
rounds; their blocks of rounds are interleaved so a busy machine's load hits both alike,
and the best block of each counts. The model side is `MechanismModel.step()` with
`record_menus = false` and `[record] agents = 0` (Mesa's DataCollector still collects
the model-level series and the outcome path X-bar is kept: that is the framework).

Target: model / bare <= 1.3 for public goods (`large-public-goods`: every agent bids) at
n = 5 and n = 10^5 and for one-sided at
n = 5 and n = 200 (one-sided allocation is n agents x n items: n = 10^5 would be a
10^10-entry utility matrix). PASS/FAIL per case, exit code 1 on any FAIL.

    .venv/bin/python benchmarks/bench_overhead.py
"""

from __future__ import annotations

import sys
import time

from abm import MechanismModel
from abm.resolve import resolve_config
from agents.base import Feedback, Observation
from mechanisms.base import Reports

TARGET = 1.3
#: (scenario, n, rounds, rounds per timed block). Public goods runs as `large-public-goods`
#: (a good of cost 0.25 n, reports capped at the budget) so every agent bids at every n; its
#: horizon is raised to the rounds played.
CASES = (("large-public-goods", 5, 6000, 300), ("large-public-goods", 100_000, 60, 6), ("one-sided", 5, 3000, 150),
         ("one-sided", 200, 24, 4))


def models(scenario: str, n: int, rounds: int) -> tuple[MechanismModel, MechanismModel]:
    cfg = resolve_config(scenario, {"agents": n, "rounds": rounds, "record_menus": False, "record": {"agents": 0}})
    return MechanismModel(cfg), MechanismModel(cfg)


class Bare:
    """The bare loop over the pieces of a (never stepped) model."""

    def __init__(self, model: MechanismModel) -> None:
        self.m = model
        self.t = 0
        self.remaining = model.ledger.initial.copy()

    def step(self) -> None:
        m, t = self.m, self.t
        values = m.instance.values.sample(t, m.values_rng)
        bids, _ = m.backend.act(Observation(t, values, self.remaining))
        bids = m.mechanism.enforce_budget(bids, self.remaining)
        result = m.mechanism.run_round(Reports(bids, values), m.mechanism_rng)
        self.remaining = self.remaining - result.charges
        no_menus = [None] * len(m.backend.cohort_indices)
        m.backend.observe(Feedback(t, bids, result.utilities, result.charges, self.remaining), no_menus)
        self.t += 1


def timed(fn, k: int) -> float:
    start = time.process_time()
    for _ in range(k):
        fn()
    return (time.process_time() - start) / k


def main() -> int:
    ok = True
    print(f"{'scenario':14} {'n':>7} {'bare us/round':>14} {'model us/round':>15} {'ratio':>7}  (bidding)")
    for scenario, n, rounds, block in CASES:
        model, raw = models(scenario, n, rounds)
        bare = Bare(raw)
        t_model, t_bare = [], []
        while model.steps + block <= rounds:
            t_bare.append(timed(bare.step, block))
            t_model.append(timed(model.step, block))
        fm, fb = min(t_model), min(t_bare)
        ratio = fm / fb
        bidding = float((model.last_reports > 0).mean())  # of the last round
        good = ratio <= TARGET
        ok &= good
        print(f"{scenario:14} {n:>7} {fb * 1e6:>14.1f} {fm * 1e6:>15.1f} {ratio:>6.2f}x  "
              f"({bidding:.0%} bid > 0 in the last round)")
        print(f"{'PASS' if good else 'FAIL'}: {scenario} n={n} model/bare {ratio:.2f}x (required <= {TARGET}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
