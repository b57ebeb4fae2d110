"""Linked VCG (Zhu 2021) speed: exact fast forms against their references, same run.

1. Efficient investment for B dates: Lemma 1's price-basis form (`efficient_by_bases`,
   vectorized numpy) vs the block-diagonal HiGHS LP (`solve_knapsack`), and for R = 1 the
   greedy form vs the LP. Values must agree to 1e-8.
2. The Groves base min_{Omega^n} uW^n for every agent: the disaggregated price-basis MILP
   (`groves_base`) vs an independent KKT/big-M MILP (the reference formulation of
   tests/mechanisms/test_linked_vcg.py, loaded from that file). Values must agree to 1e-6.

Prints times and ratios (reference / fast), PASS/FAIL for agreement, and the load average
(this 2-core machine is shared; ratios are what to read).

    .venv/bin/python benchmarks/bench_linked_vcg.py [--dates 2000] [--agents 5] [--horizon 12]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

from mechanisms.linked_vcg import Economy, LinkedVCG, groves_base
from mechanisms.linked_vcg.knapsack import efficient_by_bases, solve_knapsack, solve_knapsack_greedy


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def load_reference():
    path = Path(__file__).resolve().parents[1] / "tests" / "mechanisms" / "test_linked_vcg.py"
    spec = importlib.util.spec_from_file_location("_linked_vcg_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def instance(seed: int, n_agents: int, horizon: int) -> tuple[LinkedVCG, np.ndarray]:
    """R = 2, I = 5, q_bar = (10, 10); agents' means ~ U[0.5, 2] (last-resort types x 0.3),
    dates scattered +-40%, intervals +-20% around the realized averages."""
    rng = np.random.default_rng(seed)
    theta = np.vstack([np.diag(rng.uniform(3, 6, 2)), rng.uniform(0.2, 1.5, (3, 2))])
    pi = rng.uniform(0.5, 2, (n_agents, 5))
    pi[:, :2] *= 0.3
    mu = pi[:, None, :] * rng.uniform(0.6, 1.4, (n_agents, horizon, 5))
    avg = mu.mean(axis=1)
    return LinkedVCG(Economy(theta, np.full(2, 10.0)), horizon, 0.8 * avg, 1.2 * avg), mu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dates", type=int, default=2000)
    ap.add_argument("--horizon", type=int, default=12)
    ap.add_argument("--agents", type=int, default=5)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()}")
    ok = True
    rng = np.random.default_rng(0)
    for n_res, extra in ((2, 3), (3, 4)):
        theta = np.vstack([np.diag(rng.uniform(2, 5, n_res)), rng.uniform(0.2, 1.5, (extra, n_res))])
        q = rng.uniform(1, 4, (args.dates, n_res))
        mu = rng.uniform(0, 2, (args.dates, n_res + extra))
        mu[:, :n_res] = np.inf
        fast, t_fast = timed(efficient_by_bases, theta, q, mu)
        ref, t_ref = timed(solve_knapsack, theta, q, mu)
        agree = np.allclose(fast.value, ref.value, atol=1e-8)
        ok &= agree
        print(f"knapsack R={n_res} I={n_res + extra} B={args.dates}: bases {t_fast * 1e3:.1f} ms, "
              f"LP {t_ref * 1e3:.1f} ms, ratio {t_ref / t_fast:.1f}x, agree {agree}")  # fmt: skip
    theta = np.vstack([[3.0], rng.uniform(0.2, 1.5, (4, 1))])
    q = rng.uniform(1, 4, (args.dates, 1))
    mu = rng.uniform(0, 2, (args.dates, 5))
    mu[:, 0] = np.inf
    fast, t_fast = timed(solve_knapsack_greedy, theta, q, mu)
    ref, t_ref = timed(solve_knapsack, theta, q, mu)
    agree = np.allclose(fast.value, ref.value, atol=1e-8)
    ok &= agree
    print(f"knapsack R=1 I=5 B={args.dates}: greedy {t_fast * 1e3:.1f} ms, LP {t_ref * 1e3:.1f} ms, "
          f"ratio {t_ref / t_fast:.1f}x, agree {agree}")  # fmt: skip

    reference = load_reference()
    for seed, n_agents, horizon in ((1, 4, 4), (2, args.agents, args.horizon), (4, args.agents, args.horizon)):
        mech, mu = instance(seed, n_agents, horizon)
        ret = mech.retract(mu)
        t_hull = t_kkt = 0.0
        for k in range(mech.n_agents):
            hull, dt = timed(groves_base, mech, ret, k)
            t_hull += dt
            kkt, dt = timed(reference.kkt_groves_base, mech, ret, k)
            t_kkt += dt
            agree = abs(hull.value - kkt) <= 1e-6 * max(1.0, abs(kkt))
            ok &= agree
            if not agree:
                print(f"  seed {seed} agent {k}: base {hull.value:.9f} (basis MILP) vs {kkt:.9f} (KKT MILP)")
        print(f"Groves base, seed {seed} N={n_agents} T={horizon} R=2 I=5: basis MILP {t_hull:.2f} s, "
              f"KKT MILP {t_kkt:.2f} s, ratio {t_kkt / t_hull:.1f}x")  # fmt: skip
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
