"""Single-good Potential mechanism: one sort + prefix/suffix maxima for every agent's VCG
payment (`Potential.run_round`, O(n log n)) against the naive VCG that re-solves the
argmax without each served agent (O(n^2) after sorting), measured in the same run.

Prints one line per n (best of interleaved repeats, uniform reports scaled to 4 H_n / n so
that most agents are served) and checks both agree; at n = 2000 the fast version
must be at least 20x faster (prints PASS/FAIL, exit code 1 on FAIL)."""

from __future__ import annotations

import sys

import numpy as np
from timing import interleaved_best, verdict

from mechanisms.base import Reports
from mechanisms.public_goods.potential import Potential, harmonic

SIZES = (100, 500, 2000, 8000)
REQUIRED_RATIO = 20.0
CHECK_N = 2000


def naive_potential(bids: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Textbook VCG on value - P(|S|): best top-k set, then each served agent's payment
    from the best set of the others (a fresh sort per agent)."""
    n = bids.shape[0]
    order = np.argsort(-bids, kind="stable")
    S = np.concatenate([[0.0], np.cumsum(bids[order])])
    obj = S - P
    k_star = int(np.flatnonzero(obj >= obj.max() - 1e-12 * max(1.0, abs(obj.max())))[-1])
    served = np.zeros(n, dtype=bool)
    served[order[:k_star]] = True
    pay = np.zeros(n)
    for i in np.flatnonzero(served):
        others = np.sort(np.delete(bids, i))[::-1]
        best_without = (np.concatenate([[0.0], np.cumsum(others)]) - P[:n]).max()
        pay[i] = best_without - (obj[k_star] - bids[i])  # others' value - P at A*
    return served, pay


def main() -> int:
    rng = np.random.default_rng(0)
    mech = Potential()
    ratios = {}
    print(f"{'n':>6} {'fast ms':>10} {'naive ms':>10} {'ratio':>8}")
    for n in SIZES:
        bids = rng.random(n) * 4.0 * harmonic(n) / n
        P = mech.potential_curve(n)
        res = mech.run_round(Reports(bids, bids), rng)
        served, pay = naive_potential(bids, P)
        if not (np.array_equal(served, res.outcome) and np.allclose(pay, res.charges, atol=1e-9)):
            print(f"n={n}: fast and naive outcomes differ")
            return 1
        fast, naive = interleaved_best(
            lambda b=bids: mech.run_round(Reports(b, b), rng), lambda b=bids, p=P: naive_potential(b, p),
            fast_repeats=15, naive_repeats=3,
        )
        ratios[n] = naive / fast
        print(f"{n:>6} {fast * 1e3:>10.3f} {naive * 1e3:>10.1f} {ratios[n]:>7.1f}x  (served {served.sum()})")
    return 0 if verdict(ratios[CHECK_N], REQUIRED_RATIO, f"n = {CHECK_N}") else 1


if __name__ == "__main__":
    sys.exit(main())
