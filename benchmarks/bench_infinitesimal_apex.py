"""Algorithm 2 (one optimization + one (k-1) x (k-1) factorization per round) against
Algorithm 1 (n + 1 optimizations) on voting over Delta_k, Braverman 2021 §2.2.

Three timings per n, same problem, same bids, measured in this run:
- alg1_naive: `Apex` calling the heuristic once per player (n + 1 softmax solves);
- alg1_batched: `Apex` with the problem's batched `argmax_without_each` (one (n, k) solve,
  but still n evaluations of F^{-i} at X^{-i});
- alg2: `InfinitesimalApex` (quadratic prices).
Prints the ratios alg1 / alg2 and the mean relative charge gap.

    .venv/bin/python benchmarks/bench_infinitesimal_apex.py [--k 5] [--n 100 1000 3000]
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best_time

from mechanisms.apex.algorithm1 import Apex
from mechanisms.apex.algorithm2 import InfinitesimalApex
from mechanisms.base import Reports
from mechanisms.voting.mechanisms import SimplexVoting


class OneByOne:
    """SimplexVoting without the batched hook: Algorithm 1 as printed, n + 1 calls of H."""

    def __init__(self, prob: SimplexVoting) -> None:
        self.p, self.n = prob, prob.n

    def utilities(self, x):
        return self.p.utilities(x)

    def base(self, x):
        return self.p.base(x)

    def argmax(self, weights, start):
        return self.p.argmax(weights, start)

    def initial(self):
        return self.p.initial()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000, 3000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"k = {args.k}; seconds per round (best of {args.repeat})")
    print(f"{'n':>6} {'alg1_naive':>11} {'alg1_batched':>13} {'alg2':>9} {'naive/alg2':>11} {'batched/alg2':>13} "
          f"{'rel.gap':>9}")
    for n in args.n:
        prob = SimplexVoting(rng.random((n, args.k)), 0.5 * n)
        reports = Reports(rng.uniform(0.5, 1.5, n), np.ones(n))
        t_naive = best_time(lambda p=prob, r=reports: Apex(OneByOne(p)).run_round(r, rng), args.repeat)
        t_batched = best_time(lambda p=prob, r=reports: Apex(p).run_round(r, rng), args.repeat)
        t_alg2 = best_time(lambda p=prob, r=reports: InfinitesimalApex(p).run_round(r, rng), args.repeat)
        c1 = Apex(prob).run_round(reports, rng).charges
        c2 = InfinitesimalApex(prob).run_round(reports, rng).charges
        gap = float(np.mean(np.abs(c1 - c2) / c1))
        print(f"{n:>6} {t_naive:>11.4f} {t_batched:>13.4f} {t_alg2:>9.5f} {t_naive / t_alg2:>11.1f} "
              f"{t_batched / t_alg2:>13.1f} {gap:>9.2e}")


if __name__ == "__main__":
    main()
