"""Per-round learner time, LocalBackend vs RayBackend with K = 2 shards, and each learner's
break-even population on this machine.

Learner work only — the backend's act/observe loop on synthetic rounds (values drawn in
advance, charges and menus computed outside the timed calls) — not the whole model. Every
registered built-in learner with its default parameters (and BlumMansourSwap with Exp3
copies, the bandit variant), on a geometric grid of populations n = 10^3, 3*10^3, ...,
10^6, cohorts of min(10^4, n/2) agents so both shards work. A learner's scan stops before
a size whose local round would exceed MAX_LOCAL_ROUND_S (extrapolated linearly in n) and
once Ray has won at two consecutive sizes.

Break-even: the smallest grid n from which on Ray was faster than local at every size
measured, or "none up to N". Ray's one-off costs (starting Ray, starting the two shard
actors) are printed apart: the per-round figures reuse two actors, re-initialized for each
case, through the real RayBackend message path.

PASS/FAIL: every learner's break-even is reported, and for bandit-feedback learners
(O(n) floats travel per round) Ray beats local wherever a shard has more than
WORK_THRESHOLD_S of learner work per round — judged only where the shards got at least
BUSY_SHARE of a core while working (on a busy machine they wait for the cores and the
case is printed as not judged). Full-feedback learners ship O(n K) menus every round,
which costs about as much as their work: printed, no claim. Exit code 1 on FAIL. Run it
when the machine is otherwise quiet; the load average is printed.

    .venv/bin/python benchmarks/bench_backends.py [--rounds 8] [--max-agents 1000000] [--learners a,b]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from abm.backends import Backend, CohortSpec, LocalBackend, RayBackend, ShardWorker, connect_ray, make_cohorts
from agents import LEARNERS
from agents.base import Feedback, Observation
from agents.registry import make_learner

#: Per-shard learner work above which Ray with 2 shards must beat local (bandit feedback).
WORK_THRESHOLD_S = 0.020
#: Below this CPU share per working shard, other processes held the cores: not judged.
BUSY_SHARE = 0.8
#: A learner's scan stops before a size whose local round, extrapolated linearly in n from
#: the last size measured, would take longer than this.
MAX_LOCAL_ROUND_S = 0.3
GRID = (1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
HORIZON = 1000
#: Ray's (lower-case, case-sensitive) setting of its workers' nice value.
RAY_NICENESS_VAR = "RAY_worker_niceness"
#: Built-in learners only: plug-ins registered in this process are not ours to time.
BUILTIN_MODULE = "agents."


@dataclass
class Family:
    learner: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def full_feedback(self) -> bool:
        """Whether the learner wants menus (O(n K) floats to the shards every round)."""
        probe = make_learner(self.learner, 1, np.ones(1), 10, np.random.default_rng(0), self.params)
        return probe.feedback == "full"

    @property
    def name(self) -> str:
        return self.learner + (f"[{self.params['base']}]" if "base" in self.params else "")


def families(only: list[str] | None) -> list[Family]:
    out = [Family(name) for name in sorted(LEARNERS) if LEARNERS[name].__module__.startswith(BUILTIN_MODULE)]
    if "blum_mansour_swap" in LEARNERS:
        out.append(Family("blum_mansour_swap", {"base": "exp3"}))
    return [f for f in out if only is None or f.name in only or f.learner in only]


# ---- Ray: two reusable shard actors --------------------------------------------------------------


class PooledShard(ShardWorker):
    """A ShardWorker whose cohorts are rebuilt in place, so one actor process serves every
    case (an actor start costs 1-5 s here, more than most cases' rounds)."""

    def __init__(self) -> None:  # the cohorts come with reset()
        pass

    def reset(self, specs: list[CohortSpec], budgets: np.ndarray, horizon: int) -> bool:
        ShardWorker.__init__(self, specs, budgets, horizon)
        return True


POOL: list[Any] = []


class PooledRayBackend(RayBackend):
    """RayBackend on the POOL actors: the same messages, calls and results per round; only
    actor start and kill are replaced."""

    def _start_actors(self, specs, budgets, horizon, address, ship_code):  # type: ignore[override]
        import ray

        while len(POOL) < len(specs):
            POOL.append(ray.remote(PooledShard).options(num_cpus=1, max_restarts=0).remote())
        actors = POOL[: len(specs)]
        ref = ray.put(budgets)
        ray.get([a.reset.remote(shard, ref, horizon) for a, shard in zip(actors, specs, strict=True)])
        return actors

    def _kill_actors(self) -> None:
        pass


# ---- timing --------------------------------------------------------------------------------------


def synthetic_rounds(n: int, rounds: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(n) for _ in range(rounds)]


def time_backend(backend: Backend, values: list[np.ndarray], budgets: np.ndarray, warmup: int) -> float:
    """Median seconds per round of act + observe after `warmup` rounds, plus the final
    flush spread over the timed rounds. The median resists other processes' bursts."""
    remaining = budgets.copy()
    per_round: list[float] = []
    for t, v in enumerate(values):
        obs = Observation(t, v, remaining.copy())
        t0 = time.perf_counter()
        reports, alts = backend.act(obs)
        t1 = time.perf_counter()
        # A stand-in mechanism: pay 5% of the report, value minus payment when "won".
        charge = np.minimum(0.05 * reports, remaining)
        remaining = remaining - charge
        utility = np.where(reports > 0.5 * v, v, 0.0)
        menus = [
            None if a is None else (a, np.minimum(a, v[idx, None]), 0.05 * a)
            for a, idx in zip(alts, backend.cohort_indices, strict=True)
        ]
        fb = Feedback(t, reports, utility, charge, remaining.copy())
        t2 = time.perf_counter()
        backend.observe(fb, menus)
        t3 = time.perf_counter()
        if t >= warmup:
            per_round.append((t1 - t0) + (t3 - t2))
    t0 = time.perf_counter()
    if isinstance(backend, RayBackend):
        backend.flush()  # the last feedback is learner work too
    return float(np.median(per_round)) + (time.perf_counter() - t0) / len(per_round)


@dataclass
class Point:
    n: int
    local: float
    ray: float
    share: float  # the shards' CPU / wall seconds inside their step calls

    @property
    def speedup(self) -> float:
        return self.local / self.ray


def measure(fam: Family, n: int, rounds: int, warmup: int, repeats: int) -> Point:
    """Best of `repeats` alternating local / Ray measurements, each on fresh cohorts."""
    budgets = np.full(n, 0.05 * HORIZON)
    values = synthetic_rounds(n, rounds + warmup)
    size = min(10_000, -(-n // 2))
    best = Point(n, np.inf, np.inf, np.nan)
    for _ in range(repeats):
        cohorts = make_cohorts(fam.learner, fam.params, budgets, HORIZON, np.random.SeedSequence(1), size)
        local = LocalBackend(cohorts, n)
        best.local = min(best.local, time_backend(local, values, budgets, warmup))
        del local, cohorts
        gc.collect()
        sharded = PooledRayBackend.single_group(
            fam.learner, fam.params, budgets, HORIZON, np.random.SeedSequence(1), size, shards=2
        )
        try:
            t = time_backend(sharded, values, budgets, warmup)
            if t < best.ray:
                stats = sharded.shard_stats()
                best.ray, best.share = t, sum(x["cpu_s"] for x in stats) / sum(x["busy_s"] for x in stats)
        finally:
            sharded.close()
    return best


def scan(fam: Family, args: argparse.Namespace) -> list[Point]:
    points: list[Point] = []
    for n in (g for g in GRID if g <= args.max_agents):
        predicted = points[-1].local * n / points[-1].n if points else 0.0  # local round at n
        if predicted > MAX_LOCAL_ROUND_S:
            break
        heavy = predicted > 0.1
        rounds, warmup, repeats = (max(3, args.rounds // 2), 1, 1) if heavy else (args.rounds, 2, args.repeats)
        p = measure(fam, n, rounds, warmup, repeats)
        points.append(p)
        print(
            f"{fam.name:26s} n={n:>8d}  local {1e3 * p.local:9.2f} ms/round  ray(K=2) {1e3 * p.ray:9.2f} ms/round  "
            f"speed-up {p.speedup:5.2f}x  (shards got {p.share:4.0%} of a core while working)",
            flush=True,
        )
        if len(points) >= 2 and all(q.speedup > 1 for q in points[-2:]):
            break
    return points


def break_even(points: list[Point], max_agents: int) -> str:
    """The smallest measured n from which on Ray was faster at every measured size."""
    start = None
    for p in reversed(points):
        if p.speedup <= 1:
            break
        start = p.n
    if start is None:
        top = points[-1].n
        why = "" if top >= min(max_agents, GRID[-1]) else f" (larger n: local round > {MAX_LOCAL_ROUND_S} s)"
        return f"none up to n = {top:.0e}{why}"
    return f"n = {start:.0e}" + (" (the smallest size measured)" if start == points[0].n else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8, help="timed rounds per case")
    ap.add_argument("--repeats", type=int, default=2, help="alternating repetitions; the best counts")
    ap.add_argument("--max-agents", type=int, default=GRID[-1])
    ap.add_argument("--learners", default=None, help="comma-separated learner names (default: every built-in)")
    args = ap.parse_args(argv)
    only = args.learners.split(",") if args.learners else None
    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    # Ray starts its workers at nice 15: on a machine shared with other work that starves
    # the actors against the nice-0 local backend. Compare at equal priority.
    niceness = os.environ.setdefault(RAY_NICENESS_VAR, "0")
    print(f"Ray worker niceness: {niceness} (this process: {os.nice(0)})")
    t0 = time.perf_counter()
    connect_ray(None, num_cpus=2)
    t1 = time.perf_counter()
    probe = PooledRayBackend.single_group("truthful", {}, np.ones(2), 10, np.random.SeedSequence(0), 1, shards=2)
    probe.close()
    t2 = time.perf_counter()
    print(f"one-off: Ray start {t1 - t0:.1f} s, two shard actors started {t2 - t1:.1f} s\n", flush=True)
    results: list[tuple[Family, list[Point]]] = []
    for fam in families(only):
        results.append((fam, scan(fam, args)))
    print()
    for fam, points in results:
        print(f"break-even {fam.name}: {break_even(points, args.max_agents)}")
    print()
    failed, judged = False, 0
    for fam, points in results:
        for p in points:
            if p.local / 2 <= WORK_THRESHOLD_S:
                continue
            head = f"{fam.name} n={p.n}: per-shard work {1e3 * p.local / 2:.0f} ms, speed-up {p.speedup:.2f}x"
            if fam.full_feedback:
                print(f"info: {head} (full feedback: its O(n K) menus travel every round; no claim)")
            elif p.share < BUSY_SHARE:
                print(f"not judged: {head}; the shards got only {p.share:.0%} of a core: machine busy")
            else:
                judged += 1
                ok = p.speedup > 1.0
                failed |= not ok
                print(f"{'PASS' if ok else 'FAIL'}: {head} (required > 1x: bandit feedback, > 20 ms per shard)")
    if not judged:
        print("the speed-up claim was not tested: no bandit case with > 20 ms per shard on a quiet machine")
    print(f"{'FAIL' if failed else 'PASS'}: break-even reported for {len(results)} learners; {judged} cases judged")
    print(f"load average after: {os.getloadavg()}  total {time.perf_counter() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
