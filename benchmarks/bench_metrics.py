"""End-of-run metrics against the rounds they summarize, in CPU time, for every scenario's
default config and for public goods at 256 agents x 1000 rounds.

Each case builds `abm.MechanismModel(resolve_config(name, overrides))` with the default
recording (menus on), plays its rounds, then runs `abm.metrics.end_of_run_metrics(model)`;
`time.process_time` is read around each. A case passes when the metrics take less CPU than
the rounds (ratio rounds / metrics >= 1). Every case is run `--repeats` times and each side
keeps its best, interleaved, so a busy machine slows both alike. A warm-up run of every
scenario (few rounds, metrics included) and a call of the metrics' compiled kernels come first:
one-time costs of a process (importing scipy.optimize, importing numba and loading kernels
from its disk cache) are not per-run work.

    .venv/bin/python benchmarks/bench_metrics.py [--repeats 2] [--only public-goods]

Exit code 1 if any case fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
from timing import verdict

import abm
from abm.metrics import end_of_run_metrics, kernels
from abm.resolve import resolve_config
from abm.scenario import SCENARIOS

#: Cases beyond the scenarios' defaults: (scenario, overrides).
EXTRA_CASES: list[tuple[str, dict[str, Any]]] = [("public-goods", {"agents": 256, "rounds": 1000})]
#: Rounds of the warm-up run of each scenario.
WARMUP_ROUNDS = 30


def timed_run(name: str, overrides: dict[str, Any]) -> tuple[float, float, dict[str, Any]]:
    """(rounds CPU, metrics CPU, metrics summary) of one fresh run."""
    config = resolve_config(name, overrides)
    model = abm.MechanismModel(config)
    start = time.process_time()
    for _ in range(config.rounds):
        model.step()
    rounds = time.process_time() - start
    start = time.process_time()
    metrics = end_of_run_metrics(model)
    return rounds, time.process_time() - start, metrics.summary


def warm_kernels() -> None:
    """Load the metrics' compiled kernels (numba import and disk cache: a one-time cost of the
    process, which the short warm-up runs, below their size threshold, do not pay)."""
    u = np.zeros((2, 2, 7))[..., :3]  # strided, as the metrics read the menus' columns
    kernels.swap_table(u, np.zeros((2, 2), dtype=np.int64), np.zeros((6, 3)))
    kernels.fixed_action_totals(u, u, np.ones(2), np.zeros((2, 3)), np.zeros((2, 3)))
    played = np.zeros((2, 2), dtype=np.int64)
    kernels.grid_chunk_stats(u, u, played, np.ones(2), *(np.zeros((2, 3)) for _ in range(2)),
                             *(np.zeros((6, 3)) for _ in range(2)), np.zeros((2, 3)))
    rows = u.reshape(4, 3)
    buffers = [np.zeros(4, dtype=np.int64), np.zeros(8, dtype=np.int64), np.zeros(8), np.zeros(8), np.zeros(8)]
    kernels.envelope_walk(rows, rows, buffers[0], 1e-300, *buffers[1:], np.array([0.0, np.inf]))


def describe(summary: dict[str, Any]) -> str:
    core = summary.get("core")
    if not core:
        return ""
    text = f"  core {core['method']}: gamma {core['gamma']:.4g}"
    if core["method"] != "exact":
        text += f" <= {core['gamma_upper']:.4g}"
    return text + f" ({core['coalitions_checked']} coalitions, {core['lps']} LPs)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", default=None, help="run only this scenario's cases")
    args = parser.parse_args()
    names = sorted(SCENARIOS.names())
    cases = [(name, {}) for name in names] + EXTRA_CASES
    if args.only:
        cases = [c for c in cases if c[0] == args.only]
    for name in {c[0] for c in cases}:
        timed_run(name, {"rounds": WARMUP_ROUNDS})
    warm_kernels()
    ok = True
    print(f"{'case':<42} {'rounds CPU':>10} {'metrics CPU':>11} {'metrics/rounds':>14}")
    for name, overrides in cases:
        best_rounds, best_metrics, summary = float("inf"), float("inf"), {}
        for _ in range(args.repeats):
            rounds, metrics, summary = timed_run(name, overrides)
            best_rounds, best_metrics = min(best_rounds, rounds), min(best_metrics, metrics)
        label = name + (" " + ",".join(f"{k}={v}" for k, v in overrides.items()) if overrides else " (default)")
        share = best_metrics / best_rounds
        print(f"{label:<42} {best_rounds:>9.3f}s {best_metrics:>10.3f}s {share:>14.2f}{describe(summary)}")
        ok &= verdict(best_rounds / max(best_metrics, 1e-9), 1.0, f"{label}: rounds CPU / metrics CPU")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
