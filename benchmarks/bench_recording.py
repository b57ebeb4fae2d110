"""Cost of recording, per scenario: CPU per round with the default recording (the menus —
the `MenuRecorder`'s grid plus the played report, and the exact breakpoints of an
`ExactMenu` mechanism — and the per-agent series of `[record] agents`) over the same round
with recording off (`record_menus = false`, `[record] agents = 0`; the model-level series
and the outcome path are the model's own state and stay) (issue 13, item 2: "recording
costs at most the round itself").

Each scenario runs its default config (learners that really bid) twice, recording on and
off, stepping the two models in alternating chunks of rounds so a
busy machine's load hits both alike; the figure is the ratio of their summed CPU time
(`time.process_time`) over the same rounds (at most --rounds of the horizon; the first
round of each, which imports the mechanism's solvers and loads its compiled kernels, is
not timed). A third model, menus on, times the calls into the mechanism's `menu_all` /
`menu_breakpoints` / `menu_statistic` alone, which splits the added cost into the
mechanism's menus and the recorder's own work (the `rest`: building the alternatives,
storing the menus, the per-agent series). A `MenuStatistic` mechanism (the public-goods
ones) records only its per-agent statistic each round; its menus are rebuilt at metrics
time (`benchmarks/bench_metrics.py` times that).

Targets: <= 1.3 where a menu has exact structure (one round's solve gives every agent's
menu: the public-goods mechanisms' posted prices and proportional shares, unit-demand VCG's
personal prices, bandits with knapsacks' realized draws), <= 2 elsewhere. Two-sided
matching, resource allocation and the APEX combinatorial scenarios (course allocation,
facility location) have no such structure (every alternative is its own Sinkhorn solve /
knapsack LP / run of the heuristic H): their default configs record menus on every k-th round
(`[record] menu_every` in their TOMLs; strong regret is then labelled an estimate), and
the <= 2 target applies to that default.

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

EXACT, GENERAL = 1.3, 2.0
#: scenario -> ceiling of the ratio.
TARGETS: dict[str, float] = {
    "public-goods": EXACT,
    "one-sided": EXACT,
    "two-sided": GENERAL,
    "voting": GENERAL,
    "resource-allocation": GENERAL,
    "approx-auction": GENERAL,
    "bwk-toy": EXACT,
    "bwk-stochastic": EXACT,
    "bwk-variants": EXACT,
    "course-allocation": GENERAL,
    "facility-location": GENERAL,
}
#: Rounds per timed chunk of one model before switching to the other.
CHUNK = 25
#: Rounds timed per scenario at most (the default configs' horizons, but bwk-stochastic's
#: 20000 rounds would take most of the benchmark's time budget for no extra precision).
DEFAULT_ROUNDS = 5000


class MenuTimer:
    """CPU time spent inside the mechanism's `menu_all` / `menu_breakpoints` / `menu_statistic` of one model
    (instance attributes wrapping the bound methods, so whoever calls them is timed)."""

    def __init__(self, mechanism: object) -> None:
        self.spent = 0.0
        for name in ("menu_all", "menu_breakpoints", "menu_statistic"):
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
        off = {"record_menus": False, "record": {"agents": 0}}
        cfg = resolve_config(scenario, off if side == "off" else {})
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
    print("(menus: inside the mechanism's menu_all / menu_breakpoints / menu_statistic; rest: the recorders' own work)")
    for scenario in args.scenarios:
        on, off, menus, timed = cpu_per_round(scenario, args.rounds)
        ratio = on / off
        rest = on - off - menus
        print(
            f"{scenario:<20} {timed:>6} {off * 1e3:>8.3f} {on * 1e3:>8.3f} {ratio:>6.2f} {menus * 1e3:>9.3f} "
            f"{rest * 1e3:>8.3f}"
        )
        every = resolve_config(scenario).record.menu_every
        label = f"{scenario} recording" + (f" (menus every {every} rounds)" if every > 1 else "")
        ok &= ceiling_verdict(ratio, TARGETS.get(scenario, GENERAL), label)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
