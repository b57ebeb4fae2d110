"""Seconds per round of the model against a bare vectorized loop and a per-agent loop.

The round is the large-public-goods scenario's at every n (Onyeze et al. 2025 §3.1, Algorithm 1
with a good of cost c = 0.25 n): Proportional, reports capped at the budget, adaptive
pacing, alpha = 1/2, the scenario's horizon T = 100. Every agent can pay its part of the
good, so agents really bid at every n; the fraction that bid non-zero in some round is
printed (it must be 1). Three implementations of the same rounds:

- model: `MechanismModel.step()` with the default recording (menus of 256 agents at the
  grid and the exact breakpoints, the columnar per-agent series of 256 agents, the outcome
  path, the DataCollector's model-level series);
- bare: the round's arithmetic in straight numpy — values, pacing bids, budget cap,
  Proportional allocation and charges, ledger with depletion tracking, pacing update, the
  model-level series — with no model, backend or recording;
- loop: the same arithmetic one agent at a time on numpy scalars (values drawn as one
  vector, as the model does): the lean per-agent implementation of the same model.

Both loops are first checked against the model's bids and charges (same seed, same value
stream). Prints per n the rounds/s of each, the overhead model / bare and the
vectorization gain loop / model. Targets at n = 10^5: gain >= 50x and overhead <= 2x;
exit code 1 otherwise, or if some agent never bid.

Restated: an earlier version claimed the model >= 50x faster than a naive loop at
n = 10^5 and failed it (16-33x). Its naive side was pure-Python lists, its model ran with
recording off, and at n >= 1000 every budget 0.5 T / n was below the good's price 1 from
round 0, so nobody bid. This version measures rounds in which everyone bids, with the
default recording.

    .venv/bin/python benchmarks/bench_round.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.config import RunConfig
from abm.model import MechanismModel
from abm.resolve import resolve_config
from abm.streams import Streams

SCENARIO = "large-public-goods"
SEED = 0
#: (n, timed rounds of the model and the bare loop, timed rounds of the per-agent loop), all
#: within the scenario's horizon (its TOML: T = 100).
SIZES = ((10, 90, 90), (1_000, 90, 10), (100_000, 30, 3))
GAIN_TARGET = 50.0
OVERHEAD_TARGET = 2.0
#: The pacing parameters the scenario gives adaptive_pacing (mu_min = -0.9: beta >= 0.1).
MU_MIN, MU_MAX = -0.9, 10.0
EMPTY_BUDGET = 1e-9  # abm.ledger: depleted when this little is left (p_max infinite under the cap)


@dataclass(frozen=True)
class Setting:
    n: int
    horizon: int
    cost: float
    budget: float
    eps: float


def config(n: int, **overrides: object) -> RunConfig:
    return resolve_config(SCENARIO, {"agents": n, "seed": SEED, **overrides})


def setting(n: int) -> Setting:
    cfg = config(n)
    p, horizon = cfg.params, cfg.rounds
    cost = p["cost_per_agent"] * n
    return Setting(n, horizon, cost, p["alpha"] / n * horizon * cost, 1.0 / np.sqrt(horizon))


def values_rng() -> np.random.Generator:
    return Streams(SEED).generator("values")  # the model's value stream


# ---- bare: one vectorized pass per step ---------------------------------------------------------


class _Round:
    """The state both loops keep: the model's value stream, budgets, spend, utility,
    depletion rounds and the pacing multipliers mu."""

    def __init__(self, s: Setting) -> None:
        self.s, self.rng = s, values_rng()
        self.initial = np.full(s.n, s.budget)
        self.remaining = self.initial.copy()
        self.spent = np.zeros(s.n)
        self.cum_utility = np.zeros(s.n)
        self.depleted_at = np.full(s.n, -1)
        self.mu = np.zeros(s.n)


class Bare(_Round):
    def __init__(self, s: Setting) -> None:
        super().__init__(s)
        self.series: list[tuple] = []
        self.t = 0

    def step(self) -> tuple[np.ndarray, np.ndarray]:
        s, t = self.s, self.t
        values = self.rng.random(s.n)
        bids = values / (1.0 + self.mu)
        bids[self.remaining <= 0] = 0.0
        bids = np.minimum(bids, self.remaining)
        unit = bids / s.cost
        total = unit.sum()
        allocated = total >= 1.0
        charges = unit / total * s.cost if allocated else np.zeros(s.n)
        utilities = values if allocated else np.zeros(s.n)
        before = self.remaining
        self.remaining = np.maximum(before - charges, 0.0)
        self.spent += charges
        self.cum_utility += utilities
        newly = ~(self.remaining > EMPTY_BUDGET * np.maximum(1.0, self.initial)) & (self.depleted_at < 0)
        self.depleted_at[newly] = t
        budget_before = self.remaining + charges
        live = budget_before > 0
        grad = np.where(live, 1.0 - charges * max(s.horizon - t, 1) / np.where(live, budget_before, 1.0), 0.0)
        self.mu = np.clip(self.mu - s.eps * grad, MU_MIN, MU_MAX)
        self.series.append(
            (allocated, charges.sum(), utilities.sum(), bids.mean(), self.remaining.mean(),
             int(np.count_nonzero(self.depleted_at >= 0)))
        )
        self.t += 1
        return bids, charges


# ---- loop: one agent at a time, numpy scalars -----------------------------------------------------


class Loop(_Round):
    def __init__(self, s: Setting) -> None:
        super().__init__(s)
        self.bids = np.zeros(s.n)
        self.charges = np.zeros(s.n)
        self.series: list[tuple] = []
        self.n_depleted = 0
        self.t = 0

    def step(self) -> tuple[np.ndarray, np.ndarray]:
        s, t = self.s, self.t
        values = self.rng.random(s.n)
        mu, remaining, bids, charges = self.mu, self.remaining, self.bids, self.charges
        total = 0.0
        bid_sum = 0.0
        for i in range(s.n):
            r = remaining[i]
            b = values[i] / (1.0 + mu[i]) if r > 0 else 0.0
            if b > r:
                b = r
            bids[i] = b
            total += b / s.cost
            bid_sum += b
        allocated = total >= 1.0
        rounds_left = max(s.horizon - t, 1)
        charged = utility = left = 0.0
        for i in range(s.n):
            c = bids[i] / s.cost / total * s.cost if allocated else 0.0
            charges[i] = c
            r = remaining[i] - c
            if r < 0:
                r = 0.0
            remaining[i] = r
            self.spent[i] += c
            if allocated:
                self.cum_utility[i] += values[i]
                utility += values[i]
            if self.depleted_at[i] < 0 and not r > EMPTY_BUDGET * max(1.0, self.initial[i]):
                self.depleted_at[i] = t
                self.n_depleted += 1
            before = r + c
            g = 1.0 - c * rounds_left / before if before > 0 else 0.0
            mu[i] = min(max(mu[i] - s.eps * g, MU_MIN), MU_MAX)
            charged += c
            left += r
        self.series.append((allocated, charged, utility, bid_sum / s.n, left / s.n, self.n_depleted))
        self.t += 1
        return bids.copy(), charges.copy()


# ---- measurement ---------------------------------------------------------------------------------


def check_same_rounds(n: int, rounds: int) -> float:
    """Play `rounds` rounds on all three; the loops' bids and charges must match the model's.
    Returns the fraction of agents that bid non-zero in some round (in the model)."""
    s = setting(n)
    model, bare, loop = MechanismModel(config(n)), Bare(s), Loop(s)
    bid_any = np.zeros(n, dtype=bool)
    for t in range(rounds):
        model.step()
        for name, (b, c) in (("bare", bare.step()), ("loop", loop.step())):
            for what, mine, theirs in (("bids", b, model.last_reports), ("charges", c, model.last_charges)):
                if not np.allclose(mine, theirs, rtol=1e-9, atol=1e-12):
                    raise AssertionError(f"n={n} round {t}: the {name} loop's {what} differ from the model's")
        np.logical_or(bid_any, model.last_reports > 0, out=bid_any)
    return float(bid_any.mean())


def seconds_per_round(make: Callable[[], Any], rounds: int) -> float:
    """Build (untimed: Mesa registers one agent object per agent), play one round untimed,
    then time `rounds` rounds."""
    sim = make()
    sim.step()
    start = time.perf_counter()
    for _ in range(rounds):
        sim.step()
    return (time.perf_counter() - start) / rounds


def measure(n: int, rounds: int, loop_rounds: int, repeats: int) -> dict[str, float]:
    """Best-of-`repeats` seconds per round of each side, interleaved so a busy machine's
    load hits them alike. `model` has the default recording."""
    s = setting(n)
    sides: dict[str, tuple[Callable[[], Any], int]] = {
        "model": (lambda: MechanismModel(config(n)), rounds),
        "bare": (lambda: Bare(s), rounds),
        "loop": (lambda: Loop(s), loop_rounds),
    }
    best = dict.fromkeys(sides, np.inf)
    for _ in range(repeats):
        for name, (make, r) in sides.items():
            best[name] = min(best[name], seconds_per_round(make, r))
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, fewer rounds")
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else 3
    horizon = setting(SIZES[0][0]).horizon
    print(f"load average: {os.getloadavg()}  cores: {os.cpu_count()}")
    print(f"scenario {SCENARIO} (proportional, cost 0.25 n, budget cap, adaptive pacing), T = {horizon}, seed {SEED}")
    print(
        f"{'n':>7} {'bid>0':>6} {'model r/s':>10} {'bare r/s':>10} {'loop r/s':>10} "
        f"{'overhead':>9} {'gain':>7}"
    )
    ok = True
    gain_at = overhead_at = np.nan
    for n, rounds, loop_rounds in SIZES:
        if args.quick:
            rounds, loop_rounds = max(5, rounds // 5), max(1, loop_rounds // 5)
        frac = check_same_rounds(n, loop_rounds + 1)
        t = measure(n, rounds, loop_rounds, repeats)
        overhead, gain = t["model"] / t["bare"], t["loop"] / t["model"]
        print(
            f"{n:>7} {frac:>6.3f} {1 / t['model']:>10.1f} {1 / t['bare']:>10.1f} "
            f"{1 / t['loop']:>10.2f} {overhead:>8.2f}x {gain:>6.1f}x",
            flush=True,
        )
        ok &= frac == 1.0
        gain_at, overhead_at = gain, overhead
    print(f"{'PASS' if ok else 'FAIL'}: every agent bid non-zero in some round at every n")
    big = SIZES[-1][0]
    gain_ok, over_ok = gain_at >= GAIN_TARGET, overhead_at <= OVERHEAD_TARGET
    print(
        f"{'PASS' if gain_ok else 'FAIL'}: vectorization gain at n={big} {gain_at:.1f}x (required >= {GAIN_TARGET:g}x)"
    )
    print(
        f"{'PASS' if over_ok else 'FAIL'}: model overhead over the bare loop at n={big} {overhead_at:.2f}x "
        f"(required <= {OVERHEAD_TARGET:g}x)"
    )
    return 0 if ok and gain_ok and over_ok else 1


if __name__ == "__main__":
    sys.exit(main())
