"""Unit-demand VCG: one assignment + exchange-graph shortest paths (`unit_demand_vcg`)
against n + 1 assignment solves (`unit_demand_vcg_naive`), measured in the same run.

Prints one line per n in {25, 50, 100, 200, 400} (best of interleaved repeats, uniform
[0, 1] values) and checks both agree; at n = 200 the fast version must be at least 50x
faster (prints PASS/FAIL, exit code 1 on FAIL)."""

from __future__ import annotations

import sys

import numpy as np
from timing import interleaved_best, verdict

from mechanisms.assignment.vcg import unit_demand_vcg, unit_demand_vcg_naive

SIZES = (25, 50, 100, 200, 400)
REQUIRED_RATIO = 50.0
CHECK_N = 200


def main() -> int:
    rng = np.random.default_rng(0)
    ratios = {}
    print(f"{'n':>5} {'fast ms':>10} {'naive ms':>10} {'ratio':>8}")
    for n in SIZES:
        values = rng.random((n, n))
        fast_res, naive_res = unit_demand_vcg(values), unit_demand_vcg_naive(values)
        if not np.allclose(fast_res.item_prices, naive_res.item_prices, atol=1e-9, rtol=0):
            print(f"n={n}: fast and naive prices differ")
            return 1
        fast, naive = interleaved_best(
            lambda v=values: unit_demand_vcg(v), lambda v=values: unit_demand_vcg_naive(v),
            fast_repeats=max(6, 2000 // n), naive_repeats=3 if n <= 200 else 1,
        )
        ratios[n] = naive / fast
        print(f"{n:>5} {fast * 1e3:>10.3f} {naive * 1e3:>10.1f} {ratios[n]:>7.1f}x")
    return 0 if verdict(ratios[CHECK_N], REQUIRED_RATIO, f"n={CHECK_N}") else 1


if __name__ == "__main__":
    sys.exit(main())
