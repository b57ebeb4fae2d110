"""Per-round update time (act + observe) of the vectorized learner cohorts against a
per-agent Python loop implementation of the same algorithms, measured in the same run.

For each learner and cohort size n in {10, 1000, 100000}: microseconds per round for the
cohort and for the loop, and their ratio. Feedback (utilities, charges, full menus) is
synthesized before timing, so only the learners are measured; times are CPU times of
this process (`time.process_time`), so other load on the machine distorts them less.
At n = 100000 every learner must be at least 100x faster than its loop: prints PASS/FAIL
per learner and overall (exit code 1 on FAIL).

Each learner first runs once, untimed, at n = 10: compiled kernels load (or compile) on
first use in a process, and that one-off cost is printed on its own line.

Expectation: the loop's cost per agent is mostly interpreter and numpy-call overhead, which
vectorization removes; what remains is the arithmetic itself. For BlumMansourSwap that is
O(K^2) exp-weights work plus a K x K stationary solve per agent and round (one fused
compiled pass, `agents.swap.HedgeSwapPolicy`), so its ratio is the smallest.

    .venv/bin/python benchmarks/bench_learners.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from agents import Feedback, Observation, make_learner

K = 11  # grid points
HORIZON = 10_000
SIZES = (10, 1_000, 100_000)
TARGET = 100.0


# ---- per-agent reference implementations (one Python object per agent) -------------------


class LoopHedge:
    """One agent's Hedge over K reports: scores (K,), softmax, inverse-CDF draw."""

    def __init__(self, rng, full=True):
        self.rng = rng
        self.s = np.zeros(K)
        self.grid = np.linspace(0.0, 2.0, K)
        self.eta = np.sqrt(8 * np.log(K) / HORIZON) if full else np.sqrt(2 * np.log(K) / (HORIZON * K))
        self.a, self.pa = 0, 1.0

    def probs(self):
        z = np.exp(self.eta * (self.s - self.s.max()))
        return z / z.sum()

    def act(self, value, budget):
        p = self.probs()
        self.a = min(int(np.searchsorted(np.cumsum(p), self.rng.random())), K - 1)
        self.pa = p[self.a]
        return value * self.grid[self.a] if budget > 0 else 0.0

    def observe_full(self, menu_u):
        self.s += np.clip(menu_u, 0.0, 1.0)
        self.s -= self.s.max()

    def observe_bandit(self, u):
        self.s[self.a] -= (1.0 - min(max(u, 0.0), 1.0)) / self.pa
        self.s -= self.s.max()


class LoopSwap:
    """One agent's Blum–Mansour over K Hedge copies: K x K matrix, stationary solve."""

    def __init__(self, rng):
        self.rng = rng
        self.s = np.zeros((K, K))
        self.grid = np.linspace(0.0, 2.0, K)
        self.eta = np.sqrt(8 * np.log(K) / HORIZON)
        self.p = np.full(K, 1.0 / K)

    def act(self, value, budget):
        z = np.exp(self.eta * (self.s - self.s.max(axis=1, keepdims=True)))
        Q = z / z.sum(axis=1, keepdims=True)
        A = Q.T - np.eye(K)
        A[-1] = 1.0
        b = np.zeros(K)
        b[-1] = 1.0
        p = np.clip(np.linalg.solve(A, b), 0.0, None)
        self.p = p / p.sum()
        a = min(int(np.searchsorted(np.cumsum(self.p), self.rng.random())), K - 1)
        return value * self.grid[a] if budget > 0 else 0.0

    def observe_full(self, menu_u):
        self.s += self.p[:, None] * np.clip(menu_u, 0.0, 1.0)[None, :]
        self.s -= self.s.max(axis=1, keepdims=True)


class LoopLagrange(LoopHedge):
    """One agent's LagrangeBwK: Exp3 on the normalized Lagrangian, Hedge dual on lambda."""

    def __init__(self, rng, budget):
        super().__init__(rng, full=False)
        self.rho = budget / HORIZON
        self.dual = 0.0
        self.dual_eta = np.sqrt(8 * np.log(2) / HORIZON)

    def observe_lagrange(self, u, c):
        lam = 1.0 / (1.0 + np.exp(-self.dual_eta * self.dual))
        lo = -max(1.0 / self.rho - 1.0, 0.0)
        g = (u + lam * (1.0 - c / self.rho) - lo) / (2.0 - lo)
        self.observe_bandit(g)
        self.dual += c - self.rho


class LoopBangPerBuck:
    """One agent's exchange-rate learner: bid v / r, log r by spend subgradient."""

    def __init__(self, budget):
        self.log_r = 0.0
        self.step = 1.0 / np.sqrt(HORIZON)

    def act(self, value, budget):
        return value / np.exp(self.log_r) if budget > 0 else 0.0

    def observe(self, t, charge, budget_after):
        rho = (budget_after + charge) / max(HORIZON - t, 1)
        if rho > 0:
            self.log_r = min(max(self.log_r - self.step * (rho - charge) / rho, np.log(1e-3)), np.log(1e3))


# ---- timing ------------------------------------------------------------------------------


def synth(n, rounds, rng):
    """Per-round observations and feedback for n agents (values, budgets, utilities, menus)."""
    budgets = np.full(n, 0.25 * HORIZON)
    data = []
    for t in range(rounds):
        values = rng.random(n)
        util = rng.random(n)
        charge = (rng.random(n) < 0.3).astype(float)
        menu_u = rng.random((n, K))
        menu_c = (rng.random((n, K)) < 0.3).astype(float)
        data.append((t, values, budgets, util, charge, menu_u, menu_c))
    return budgets, data


def time_vectorized(name, n, rounds, seed=0):
    rng = np.random.default_rng(seed)
    budgets, data = synth(n, rounds, rng)
    lr = make_learner(name, n, budgets, HORIZON, np.random.default_rng(seed + 1), {"grid_points": K} if name in (
        "hedge", "exp3", "blum_mansour_swap", "lagrange_bwk") else {})
    start = time.process_time()
    for t, values, b, util, charge, menu_u, menu_c in data:
        obs = Observation(t, values, b)
        reports = lr.act(obs)
        fb = Feedback(t, reports, util, charge, b - charge)
        if lr.feedback == "full":
            fb = fb.with_menu(lr.alternatives(obs), menu_u, menu_c)
        lr.observe(fb)
    return (time.process_time() - start) / rounds


def time_loop(name, n, rounds, seed=0):
    rng = np.random.default_rng(seed)
    budgets, data = synth(n, rounds, rng)
    arng = np.random.default_rng(seed + 1)
    if name == "hedge":
        agents = [LoopHedge(arng) for _ in range(n)]
    elif name == "exp3":
        agents = [LoopHedge(arng, full=False) for _ in range(n)]
    elif name == "blum_mansour_swap":
        agents = [LoopSwap(arng) for _ in range(n)]
    elif name == "lagrange_bwk":
        agents = [LoopLagrange(arng, budgets[i]) for i in range(n)]
    else:
        agents = [LoopBangPerBuck(budgets[i]) for i in range(n)]
    start = time.process_time()
    for t, values, b, util, charge, menu_u, _menu_c in data:
        for i, ag in enumerate(agents):
            ag.act(values[i], b[i])
        for i, ag in enumerate(agents):
            if name in ("hedge", "blum_mansour_swap"):
                ag.observe_full(menu_u[i])
            elif name == "exp3":
                ag.observe_bandit(util[i])
            elif name == "lagrange_bwk":
                ag.observe_lagrange(util[i], charge[i])
            else:
                ag.observe(t, charge[i], b[i] - charge[i])
    return (time.process_time() - start) / rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    args = parser.parse_args()
    names = ["hedge", "exp3", "blum_mansour_swap", "lagrange_bwk", "bang_per_buck"]
    ok = True
    print(f"{'learner':<20}{'n':>8}{'cohort us/round':>18}{'loop us/round':>16}{'speedup':>10}")
    for name in names:
        # Compiled kernels (BlumMansourSwap) are built or loaded from numba's disk cache on
        # first use in a process: a one-off cost, reported apart from the per-round times.
        start = time.perf_counter()
        time_vectorized(name, 10, 1)
        print(f"{name:<20}{'first use (JIT load/compile)':>42}{(time.perf_counter() - start) * 1e3:>10.0f} ms")
        for n in SIZES:
            vec_rounds = max(10, min(200, 200_000 // n) // (2 if args.quick else 1))
            loop_rounds = max(1, min(50, 20_000 // n))
            vec = time_vectorized(name, n, vec_rounds)
            loop = time_loop(name, n, loop_rounds)
            ratio = loop / vec
            verdict = ""
            if n == SIZES[-1]:
                verdict = "  PASS" if ratio >= TARGET else "  FAIL"
                ok &= ratio >= TARGET
            print(f"{name:<20}{n:>8}{vec * 1e6:>18.1f}{loop * 1e6:>16.1f}{ratio:>9.1f}x{verdict}", flush=True)
    print(f"{'PASS' if ok else 'FAIL'}: every cohort of {SIZES[-1]} agents >= {TARGET:.0f}x faster than its loop")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
