"""Strong regret at scale: T = 100000 rounds x 64 grid alternatives (+ the played report)
x 100 agents in one vectorized pass (`StrongRegretAccumulator`: menus stream through the
envelope in round chunks, so the 6.5e8-entry menus never sit in memory at once), then
the ratio against the primal LP (scipy HiGHS) on a subsample, with the largest difference.

    .venv/bin/python benchmarks/bench_strong_regret.py [--rounds 100000 --agents 100 --menus both]

Menus: `proportional` = the public-goods scenario's menus (Onyeze et al. M_prop under the report
grid: served iff report >= 1 - others, paying report / (others + report)); `steps` =
VCG-like piecewise-constant menus (Braverman 2021 §2.1.2: up to 4 price/utility jumps at random
grid points). Timing covers the metric only; generating the menus is reported apart.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from abm.metrics.strong_regret import StrongRegretAccumulator

GRID = np.concatenate([[0.0], np.logspace(-3, 0, 63)])  # 64 alternatives: Mechanism.report_grid(64)
CHUNK_ROUNDS = 1000


def proportional_menus(rng: np.random.Generator, t: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    others = rng.random((t, m)) * 1.2
    value = rng.random((t, m))
    played = value / (1.0 + rng.random((t, m)) * 2)
    alts = np.concatenate([np.broadcast_to(GRID, (t, m, GRID.size)), played[:, :, None]], axis=2)
    total = others[:, :, None] + alts
    served = total >= 1.0
    cost = np.where(served, alts / np.where(served, total, 1.0), 0.0)
    return value[:, :, None] * served, cost


def step_menus(rng: np.random.Generator, t: int, m: int, jumps: int = 4) -> tuple[np.ndarray, np.ndarray]:
    k = GRID.size + 1
    thresholds = np.sort(rng.integers(1, k, size=(t, m, jumps)), axis=2)
    level = (np.arange(k)[None, None, None, :] >= thresholds[:, :, :, None]).sum(axis=2)
    u_levels = np.cumsum(rng.random((t, m, jumps + 1)), axis=2)
    c_levels = np.cumsum(rng.random((t, m, jumps + 1)), axis=2)
    u_levels[:, :, 0] = 0.0
    c_levels[:, :, 0] = 0.0
    return np.take_along_axis(u_levels, level, axis=2) / (jumps + 1), np.take_along_axis(c_levels, level, axis=2)


def primal_lp(u: np.ndarray, c: np.ndarray, budget: float) -> float:
    """max sum_t q_t . u_t s.t. sum_t q_t . c_t <= B, q_t in the simplex (the LP of Definition 3)."""
    t, k = u.shape
    a_eq = sparse.kron(sparse.eye(t), np.ones((1, k)), format="csr")
    res = linprog(
        -u.ravel(), A_ub=c.ravel()[None, :], b_ub=[budget], A_eq=a_eq, b_eq=np.ones(t), bounds=(0, None), method="highs"
    )
    if res.status != 0:
        raise RuntimeError(res.message)
    return float(-res.fun)


def run(kind: str, rounds: int, agents: int, seed: int, lp_rounds: int, lp_agents: int) -> None:
    make = proportional_menus if kind == "proportional" else step_menus
    rng = np.random.default_rng(seed)
    acc = StrongRegretAccumulator(agents)
    gen_s = metric_s = 0.0
    sub_u, sub_c = [], []
    for lo in range(0, rounds, CHUNK_ROUNDS):
        t0 = time.perf_counter()
        u, c = make(rng, min(CHUNK_ROUNDS, rounds - lo), agents)
        t1 = time.perf_counter()
        acc.add(u, c)
        metric_s += time.perf_counter() - t1
        gen_s += t1 - t0
        if lo < lp_rounds:
            sub_u.append(u[: lp_rounds - lo, :lp_agents])
            sub_c.append(c[: lp_rounds - lo, :lp_agents])
    budget = np.full(agents, 0.2 * rounds)
    t1 = time.perf_counter()
    acc.solve(budget)
    metric_s += time.perf_counter() - t1
    entries = rounds * agents * (GRID.size + 1)
    print(
        f"[{kind}] T={rounds} x K={GRID.size}+1 x m={agents} ({entries / 1e6:.0f}M menu entries): "
        f"strong-regret benchmark in {metric_s:.2f} s ({entries / metric_s / 1e6:.1f}M entries/s); "
        f"menu generation {gen_s:.2f} s (not counted)"
    )
    su, sc = np.concatenate(sub_u), np.concatenate(sub_c)
    t, k = su.shape[0], su.shape[2]
    b_sub = np.full(lp_agents, 0.2 * t)
    t0 = time.perf_counter()
    small = StrongRegretAccumulator(lp_agents)
    small.add(su, sc)
    ours, _ = small.solve(b_sub)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = np.array([primal_lp(su[:, i], sc[:, i], b_sub[i]) for i in range(lp_agents)])
    lp_s = time.perf_counter() - t0
    print(
        f"[{kind}] subsample T={t} x K={k} x m={lp_agents}: envelope {ours_s * 1e3:.1f} ms vs HiGHS primal LP "
        f"{lp_s:.2f} s -> ratio {lp_s / ours_s:.0f}x; max |OPT - LP| = {np.abs(ours[0] - ref).max():.2e}; "
        f"LP extrapolated linearly to the full size: ~{lp_s * (rounds / t) * (agents / lp_agents) / 60:.0f} min"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=100_000)
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--menus", choices=["proportional", "steps", "both"], default="both")
    ap.add_argument("--lp-rounds", type=int, default=2000)
    ap.add_argument("--lp-agents", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    kinds = ["proportional", "steps"] if a.menus == "both" else [a.menus]
    for kind in kinds:
        run(kind, a.rounds, a.agents, a.seed, a.lp_rounds, a.lp_agents)


if __name__ == "__main__":
    main()
