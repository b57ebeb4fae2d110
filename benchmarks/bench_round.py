"""Rounds per second of the vectorized round (Moulin + adaptive pacing) against a naive
per-agent Python loop doing the same work, measured in the same run.

Prints one line per n in {10, 1000, 100000}; at n = 100000 the vectorized path must be at
least 50x faster (exit code 1 otherwise)."""

from __future__ import annotations

import sys
import time

import numpy as np

import abm
from mechanisms.public_goods.monetary import GOOD_COST


def naive_rounds(n: int, rounds: int, seed: int = 0) -> float:
    """The same round as the model's — values, feasibility rule, Moulin, ledger with
    depletion tracking, pacing update, the per-round series the DataCollector keeps —
    with one Python loop iteration per agent."""
    rng = np.random.default_rng(seed)
    budget = [0.5 * rounds / n] * n
    spent = [0.0] * n
    utility = [0.0] * n
    depleted_at = [-1] * n
    mu = [0.0] * n
    eps = 1.0 / np.sqrt(rounds)
    series = []
    start = time.perf_counter()
    for t in range(rounds):
        values = [float(x) for x in rng.random(n)]
        bids = [values[i] / (1 + mu[i]) if budget[i] >= GOOD_COST else 0.0 for i in range(n)]
        order = sorted(range(n), key=lambda i: -bids[i])
        size = 0
        for k in range(1, n + 1):
            if bids[order[k - 1]] * k >= GOOD_COST:
                size = k
        charges = [GOOD_COST / size if size and bids[i] * size >= GOOD_COST else 0.0 for i in range(n)]
        for i in range(n):
            rho = budget[i] / max(rounds - t, 1)
            budget[i] -= charges[i]
            spent[i] += charges[i]
            if charges[i] > 0:
                utility[i] += values[i]
            if depleted_at[i] < 0 and budget[i] < GOOD_COST:
                depleted_at[i] = t
            if rho > 0:
                mu[i] = min(max(mu[i] - eps * (rho - charges[i]) / rho, -0.9), 10.0)
        series.append(
            (size > 0, sum(charges), sum(bids) / n, sum(budget) / n, sum(d >= 0 for d in depleted_at))
        )
    return rounds / (time.perf_counter() - start)


def vectorized_rounds(n: int, rounds: int, seed: int = 0) -> float:
    cfg = {
        "scenario": "public-goods",
        "agents": n,
        "rounds": rounds,
        "seed": seed,
        "record_menus": False,
        "agent_records": "off",
        "params": {"mechanism": "moulin"},
    }
    model = abm.MechanismModel(cfg)
    start = time.perf_counter()
    for _ in range(rounds):
        model.step()
    return rounds / (time.perf_counter() - start)


def main() -> int:
    ok = True
    print(f"{'n':>8} {'vectorized r/s':>15} {'naive r/s':>12} {'ratio':>8}")
    for n, rounds in ((10, 2000), (1000, 300), (100_000, 200)):
        fast = vectorized_rounds(n, rounds)
        slow = naive_rounds(n, rounds // 20 if n >= 100_000 else rounds)
        ratio = fast / slow
        print(f"{n:>8} {fast:>15.1f} {slow:>12.2f} {ratio:>7.1f}x")
        if n == 100_000 and ratio < 50:
            ok = False
    print("PASS: >= 50x at n=100000" if ok else "FAIL: < 50x at n=100000")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
