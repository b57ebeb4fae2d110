"""Blum–Mansour over Exp3 copies (bandit feedback) against Blum–Mansour over Hedge copies
(full feedback), per round (act + observe) at 10^4 agents, measured in the same run.

Both are `BlumMansourSwap` over the default grid (K = 11): over Hedge copies the
compiled `agents.swap.HedgeSwapPolicy`, over Exp3 copies the compiled
`agents.swap.Exp3SwapPolicy` (with its default adaptive rate every weight exp(eta_j S_ja)
changes each round, so it computes K^2 exponentials per agent, where Hedge multiplies
in K^2 Taylor-polynomial factors). Feedback is synthesized before timing; rounds are
timed in blocks, the two learners' blocks interleaved so a busy machine's load hits both
alike, and the best block of each counts. Target: Exp3 copies within 2x of Hedge copies
(PASS/FAIL; exit code 1 on FAIL).

    .venv/bin/python benchmarks/bench_swap_bandit.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from agents import Feedback, Observation, make_learner

N = 10_000
K = 11  # the default grid
HORIZON = 10_000
TARGET = 2.0  # Exp3 copies' ms/round at most this times Hedge copies'


def stepper(base: str, rounds: int, seed: int = 0) -> Callable[[], None]:
    """One call plays the next `rounds` synthesized rounds of BlumMansourSwap over `base`."""
    rng = np.random.default_rng(seed)
    budgets = np.full(N, 0.25 * HORIZON)
    values, util = rng.random(N), rng.random(N)
    charge = (rng.random(N) < 0.3).astype(float)
    menu_u, menu_c = rng.random((N, K)), (rng.random((N, K)) < 0.3).astype(float)
    lr = make_learner("blum_mansour_swap", N, budgets, HORIZON, np.random.default_rng(seed + 1), {"base": base})
    assert lr.n_actions == K
    t = 0

    def play() -> None:
        nonlocal t
        for _ in range(rounds):
            obs = Observation(t, values, budgets)
            fb = Feedback(t, lr.act(obs), util, charge, budgets - charge)
            if lr.feedback == "full":
                fb = fb.with_menu(lr.alternatives(obs), menu_u, menu_c)
            lr.observe(fb)
            t += 1

    return play


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer blocks (noisier)")
    args = parser.parse_args()
    rounds, blocks = 10, 3 if args.quick else 8
    start = time.perf_counter()
    play = {base: stepper(base, rounds) for base in ("hedge", "exp3")}
    for f in play.values():  # first use: compiled kernels load (or compile)
        f()
    print(f"setup and first use (JIT load/compile): {(time.perf_counter() - start) * 1e3:.0f} ms")
    best = {base: np.inf for base in play}
    for _ in range(blocks):
        for base, f in play.items():
            t0 = time.perf_counter()
            f()
            best[base] = min(best[base], (time.perf_counter() - t0) / rounds)
    for base, sec in best.items():
        print(f"BlumMansourSwap over {base:<5} copies, {N} agents, K = {K}: {sec * 1e3:8.2f} ms/round")
    ratio = best["exp3"] / best["hedge"]
    ok = ratio <= TARGET
    print(f"{'PASS' if ok else 'FAIL'}: Exp3 copies / Hedge copies = {ratio:.2f}x (required <= {TARGET:g}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
