"""Rounds per second of one run with 10^6 agents who all really bid, default recording on.

The large-public-goods scenario (Onyeze et al. 2025 §3.1, Algorithm 1 with a good of cost
c = 0.25 n): Proportional, reports capped at the budget alpha_i T c, 10^6 adaptive-pacing
bidders, the scenario's horizon and the default recording (menus of the first 256
agents at the grid and exact breakpoints, the per-agent trace, the DataCollector series;
per-agent DataCollector series only when n x T is small, which it is not here).

Builds the model (timed on its own: Mesa registers one `BidderAgent` per agent), plays
one round untimed, then times a handful of rounds. Prints construction seconds, rounds/s
(median round and overall), the fraction of agents that bid non-zero in some round and
that paid for a good in some round, and the rounds that allocated the good.
PASS iff >= 5 rounds/s and every agent bid non-zero in some round (exit code 1 otherwise).
`--mechanism moulin` (or potential) measures the other mechanisms of the family for
information; their per-round menus sort all n reports.

    .venv/bin/python benchmarks/bench_large.py [--agents 1000000] [--rounds 10] [--mechanism proportional]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from abm.model import MechanismModel
from abm.resolve import resolve_config

SCENARIO = "large-public-goods"
TARGET_RPS = 5.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=10, help="timed rounds (after one untimed round)")
    ap.add_argument("--mechanism", default=None, help="a public_goods mechanism (default: the scenario's)")
    args = ap.parse_args(argv)
    overrides: dict = {"agents": args.agents}
    if args.mechanism:
        overrides["mechanism"] = args.mechanism
    cfg = resolve_config(SCENARIO, overrides)
    print(f"load average: {os.getloadavg()}  cores: {os.cpu_count()}")
    start = time.perf_counter()
    model = MechanismModel(cfg)
    built = time.perf_counter() - start
    print(
        f"{SCENARIO}: n = {cfg.agents}, T = {cfg.rounds}, {model.mechanism.name}, learner {cfg.groups()[0].learner}, "
        f"cohorts of {cfg.cohort_size}; recording: menus {'on' if model.menus is not None else 'off'} "
        f"({model.menus.agents.shape[0] if model.menus is not None else 0} agents), trace of "
        f"{model.trace.agents.shape[0]} agents (record.agents = {cfg.record.agents!r})"
    )
    print(f"construction: {built:.2f} s")
    n = model.n_agents
    bid = np.zeros(n, dtype=bool)
    paid = np.zeros(n, dtype=bool)
    allocated = 0

    def play() -> float:
        nonlocal allocated
        t0 = time.perf_counter()
        model.step()
        dt = time.perf_counter() - t0
        np.logical_or(bid, model.last_reports > 0, out=bid)
        np.logical_or(paid, model.last_charges > 0, out=paid)
        allocated += int(model.last_allocated)
        return dt

    first = play()
    rounds = min(args.rounds, cfg.rounds - 1)
    times = [play() for _ in range(rounds)]
    median_rps = 1.0 / float(np.median(times))
    overall_rps = rounds / float(np.sum(times))
    frac_bid, frac_paid = float(bid.mean()), float(paid.mean())
    print(f"first round: {1e3 * first:.0f} ms (untimed)")
    print(f"rounds/s: {median_rps:.1f} (median of {rounds} rounds; overall {overall_rps:.1f})")
    print(
        f"agents with a non-zero bid in some round: {frac_bid:.6f}; that paid for a good in some round: "
        f"{frac_paid:.6f}; good allocated in {allocated} of {rounds + 1} rounds"
    )
    ok = median_rps >= TARGET_RPS and frac_bid == 1.0
    print(
        f"{'PASS' if ok else 'FAIL'}: {median_rps:.1f} rounds/s at n = {n} (required >= {TARGET_RPS:g}) and "
        f"{frac_bid:.0%} of agents bid non-zero in some round (required: all)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
