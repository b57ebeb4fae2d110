"""Cost of recording the counterfactual menus, per scenario: CPU per round with the
default menus (`record_menus = true`, the `MenuRecorder`'s grid plus the played report,
and the exact breakpoints of an `ExactMenu` mechanism) over the same round without them
(issue 13, item 2: "recording costs at most the round itself").

Each scenario runs its default config (learners that really bid, `agent_records = "off"`)
twice, menus on and off, stepping the two models in alternating chunks of rounds so a
busy machine's load hits both alike; the figure is the ratio of their summed CPU time
(`time.process_time`) over the same rounds (at most --rounds of the horizon; the first
round of each, which imports the mechanism's solvers and loads its compiled kernels, is
not timed). A third model, menus on, times the calls into the mechanism's `menu_all` /
`menu_breakpoints` alone, which splits the added cost into the mechanism's menus and the
recorder's own work (the `rest`: building the alternatives, storing the menus, its
capability check).

Targets: <= 1.3 where a menu has exact structure (one round's solve gives every agent's
menu: the public-goods mechanisms' posted prices and proportional shares, unit-demand VCG's
personal prices, bandits with knapsacks' realized draws), <= 2 elsewhere. Two-sided
matching and resource allocation have no such structure (every alternative is its own
Sinkhorn solve / knapsack LP), so their ratio is printed and marked as needing the
recorder's round subsampling rather than failed.

    .venv/bin/python benchmarks/bench_recording.py [--rounds N] [scenario ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from timing import ceiling_verdict

import abm
from abm.resolve import resolve_config

EXACT, GENERAL, SUBSAMPLE = 1.3, 2.0, None
#: scenario -> ceiling of the ratio (None: no structure, needs the recorder's subsampling).
TARGETS: dict[str, float | None] = {
    "public-goods": EXACT,
    "one-sided": EXACT,
    "two-sided": SUBSAMPLE,
    "voting": GENERAL,
    "resource-allocation": SUBSAMPLE,
    "approx-auction": GENERAL,
    "bwk-toy": EXACT,
    "bwk-stochastic": EXACT,
}
#: Rounds per timed chunk of one model before switching to the other.
CHUNK = 25
#: Rounds timed per scenario at most (the default configs' horizons, but bwk-stochastic's
#: 20000 rounds would take most of the benchmark's time budget for no extra precision).
DEFAULT_ROUNDS = 5000


class MenuTimer:
    """CPU time spent inside the mechanism's `menu_all` / `menu_breakpoints` of one model
    (instance attributes wrapping the bound methods, so whoever calls them is timed)."""

    def __init__(self, mechanism: object) -> None:
        self.spent = 0.0
        for name in ("menu_all", "menu_breakpoints"):
            method = getattr(mechanism, name, None)
            if method is not None:
                setattr(mechanism, name, self._timed(method))

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.spent += time.process_time() - start

        return timed


def cpu_per_round(scenario: str, rounds: int | None) -> tuple[float, float, float, int]:
    """(CPU s per round with menus recorded, without, inside the mechanism's menu calls,
    rounds timed) over the same rounds. The menu calls are timed on a third model (menus
    on), so the timers do not weigh on the ratio."""
    models = {}
    for side in ("on", "off", "timed"):
        cfg = resolve_config(scenario, {"record_menus": side != "off", "agent_records": "off"})
        models[side] = abm.MechanismModel(cfg)
    horizon = cfg.rounds if rounds is None else min(rounds, cfg.rounds)
    for model in models.values():
        model.step()  # warm-up: lazy imports of the mechanism's solvers, compiled kernels
    timer = MenuTimer(models["timed"].mechanism)
    spent = dict.fromkeys(models, 0.0)
    done = 1
    while done < horizon:
        chunk = min(CHUNK, horizon - done)
        order = ("on", "off", "timed") if done // CHUNK % 2 == 0 else ("off", "on", "timed")
        for side in order:  # alternate who goes first
            model = models[side]
            start = time.process_time()
            for _ in range(chunk):
                model.step()
            spent[side] += time.process_time() - start
        done += chunk
    timed = horizon - 1
    return spent["on"] / timed, spent["off"] / timed, timer.spent / timed, timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(TARGETS))
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS, help=f"at most this many rounds per scenario ({DEFAULT_ROUNDS})"
    )
    args = parser.parse_args()
    ok = True
    print(f"{'scenario':<20} {'rounds':>6} {'off ms':>8} {'on ms':>8} {'ratio':>6} {'menus ms':>9} {'rest ms':>8}")
    print("(menus: inside the mechanism's menu_all / menu_breakpoints; rest: the recorder's own work)")
    for scenario in args.scenarios:
        on, off, menus, timed = cpu_per_round(scenario, args.rounds)
        ratio = on / off
        rest = on - off - menus
        print(
            f"{scenario:<20} {timed:>6} {off * 1e3:>8.3f} {on * 1e3:>8.3f} {ratio:>6.2f} {menus * 1e3:>9.3f} "
            f"{rest * 1e3:>8.3f}"
        )
        target = TARGETS.get(scenario, GENERAL)
        if target is None:
            print(f"NOTE: {scenario} recording ratio {ratio:.2f}x: needs menu subsampling (lead)")
        else:
            ok &= ceiling_verdict(ratio, target, f"{scenario} recording")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
